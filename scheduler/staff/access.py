"""Who is asking, and what they may see and write (docs/security.md; event-contract.md §4).

* API calls carry ``Authorization: Bearer TOKEN``: the token's SHA-256 digest is looked up among
  the live tokens (not revoked, not expired) of active users (:func:`principal_for_token`).
* The dashboard signs in with a username and password (Argon2id): a session row holds the digest
  of a random cookie value, a CSRF token for the forms, an absolute expiry and the time of its last
  request; a session idle for ``session_idle_minutes`` is over (:func:`sign_in`,
  :func:`principal_for_session`). Sign-out revokes the row.
* Failed sign-ins are throttled per (username, client address) from the audit trail itself, so the
  limit holds across web processes and nobody can lock a user out from another address: after
  :data:`MAX_FAILURES` failures each further attempt waits :func:`backoff` (doubling). A sign-in or
  an admin's unlock starts the count again (:func:`throttled_for`).
* Scope: a navigator sees the patients whose ``navigator_id`` is theirs; clinicians, admins and
  integration accounts see all. A patient outside the caller's scope is reported as not found
  (no existence oracle).
* Writes (:func:`write_gate`): a navigator writes clinical events of their own patients only;
  registering a patient — which sets its navigator and contact details — is for admins and
  integration accounts (:data:`REGISTRARS`); anyone else is refused with 403.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from models.rows import PatientRow, UserRow, WebSessionRow
from models.types import utcnow
from models.vocabulary import Role
from scheduler.staff import audit, repository
from scheduler.staff.tokens import hash_password, needs_rehash, new_token, token_digest, verify_password

SESSION_LIFETIME = dt.timedelta(hours=12)
SESSION_TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often
FAILURE_WINDOW = dt.timedelta(hours=24)  # failures older than this are forgotten
MAX_FAILURES = 5  # failures from one address before the backoff starts
BACKOFF_FIRST = dt.timedelta(seconds=30)  # after the MAX_FAILURES-th failure; doubling after each next
BACKOFF_MAX = dt.timedelta(minutes=15)
SEES_ALL = (Role.CLINICIAN, Role.ADMIN, Role.INTEGRATION)
REGISTRARS = (Role.ADMIN, Role.INTEGRATION)  # may register patients: set their navigator and contact details
REGISTRATION = "patient_registered"


@cache
def _dummy_hash() -> str:
    """A password hash to verify unknown users against, so they take as long as known ones (made on
    first use: hashing is slow by design, and commands that never sign anyone in should not pay)."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: str  # a Role value: navigator, clinician, admin, integration
    navigator_id: str | None

    @property
    def sees_all(self) -> bool:
        return self.role in SEES_ALL

    @property
    def may_register(self) -> bool:
        return self.role in REGISTRARS

    def actor(self, client: str | None = None) -> audit.Actor:
        return audit.Actor(self.user_id, self.username, client)


def _principal(user: UserRow) -> Principal:
    return Principal(user.id, user.username, user.role, user.navigator_id)


def principal_for_token(session: Session, token: str, now: dt.datetime | None = None) -> Principal | None:
    user = repository.user_for_token(session, token_digest(token), now or utcnow())
    return _principal(user) if user is not None else None


@dataclass(frozen=True, slots=True)
class WebSession:
    principal: Principal
    csrf_token: str
    must_change_password: bool = False
    session_id: int = 0
    last_seen_at: dt.datetime | None = None


def principal_for_session(
    session: Session,
    cookie: str,
    now: dt.datetime | None = None,
    idle: dt.timedelta = dt.timedelta(minutes=30),
) -> WebSession | None:
    """The live session of ``cookie``: not revoked, before its absolute expiry, and used within
    ``idle``. One indexed lookup whatever is wrong with the cookie."""
    found = repository.live_session(session, token_digest(cookie), now or utcnow(), idle)
    if found is None:
        return None
    web_session, user = found
    return WebSession(
        _principal(user),
        web_session.csrf_token,
        user.must_change_password,
        web_session.id,
        web_session.last_seen_at or web_session.created_at,
    )


def touch_session(session: Session, found: WebSession, now: dt.datetime | None = None) -> None:
    """Note a request on the session (for the idle timeout), at most once a minute."""
    now = now or utcnow()
    if found.last_seen_at is None or now - found.last_seen_at >= SESSION_TOUCH_EVERY:
        repository.mark_seen(session, found.session_id, now)


class SignInError(Exception):
    """Wrong credentials (one message for a wrong user or password) or too many attempts."""

    def __init__(self, message: str, *, is_rate_limited: bool = False) -> None:
        super().__init__(message)
        self.is_rate_limited = is_rate_limited


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    cookie: str  # shown once: set as the session cookie
    csrf_token: str
    must_change_password: bool = False


def sign_in(sessions: sessionmaker[Session], username: str, password: str, client: str | None) -> SignedIn:
    """A new dashboard session, or :class:`SignInError`. A failure is recorded in the audit trail
    and committed before it is raised: the rate limit counts those rows."""
    if "\x00" in username or "\x00" in password:  # never valid, and NUL is not storable text
        username, password = username.replace("\x00", "\ufffd"), ""
    username = username.strip()[:64]
    with sessions.begin() as session:
        outcome = _attempt(session, username, password, client, utcnow())
    if isinstance(outcome, SignInError):
        raise outcome
    return outcome


def _attempt(
    session: Session, username: str, password: str, client: str | None, now: dt.datetime
) -> SignedIn | SignInError:
    anonymous = audit.Actor(None, username, client)
    wait = throttled_for(session, username, client, now)
    if wait is not None:
        audit.record(session, anonymous, "sign_in_failed", detail=audit.THROTTLED)
        return SignInError(
            f"Too many failed sign-ins: try again in {_in_words(wait)}, or ask an admin to unlock "
            "your account.",
            is_rate_limited=True,
        )
    user = repository.user_named(session, username, only_active=True)
    stored = user.password_hash if user is not None else _dummy_hash()
    is_valid = verify_password(password, stored) and bool(password)  # verified anyway: the same time
    if user is None or not is_valid:
        audit.record(session, anonymous, "sign_in_failed")
        return SignInError("Wrong username or password.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    cookie, csrf = new_token(), secrets.token_urlsafe(32)
    repository.add_web_session(
        session,
        WebSessionRow(
            token_hash=token_digest(cookie),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            last_seen_at=now,
        ),
    )
    principal = _principal(user)
    audit.record(session, principal.actor(client), "sign_in")
    return SignedIn(principal, cookie, csrf, user.must_change_password)


def backoff(failures: int) -> dt.timedelta:
    """How long after the last failure the next attempt waits: nothing for the first
    :data:`MAX_FAILURES - 1`, then 30 s, 1 min, 2 min … up to 15 min."""
    if failures < MAX_FAILURES:
        return dt.timedelta(0)
    return min(BACKOFF_MAX, BACKOFF_FIRST * (1 << min(failures - MAX_FAILURES, 16)))


def throttled_for(
    session: Session, username: str, client: str | None, now: dt.datetime
) -> dt.timedelta | None:
    """How long (username, client) must still wait before its next attempt, or None. Counts the
    failed attempts of that pair in :data:`FAILURE_WINDOW` since its last sign-in and since the
    account's last unlock or password reset; the same statements whether or not the user exists."""
    since = now - FAILURE_WINDOW
    reset = repository.last_reset(session, username, client, since, audit.UNLOCKING)
    failures = repository.failed_sign_ins(
        session, username, client, max(since, reset) if reset is not None else since
    )
    if not failures:
        return None
    left = failures[0] + backoff(len(failures)) - now
    return left if left > dt.timedelta(0) else None


def _in_words(wait: dt.timedelta) -> str:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


def sign_out(sessions: sessionmaker[Session], cookie: str, client: str | None) -> None:
    with sessions.begin() as session:
        found = principal_for_session(session, cookie)
        repository.revoke_session(session, token_digest(cookie), utcnow())
        if found is not None:
            audit.record(session, found.principal.actor(client), "sign_out")


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


# ---- scope ----------------------------------------------------------------------------------------


def visible_patients(principal: Principal) -> Select[str]:
    """The ids of the patients ``principal`` may see, as a subquery-able SELECT."""
    query = select(PatientRow.patient_id)
    if principal.sees_all:
        return query
    return query.where(PatientRow.navigator_id == principal.navigator_id)


def may_see(session: Session, principal: Principal, patient_id: str) -> bool:
    patient = repository.patient(session, patient_id)
    if patient is None:
        return False
    return principal.sees_all or (
        principal.navigator_id is not None and patient.navigator_id == principal.navigator_id
    )


def registration_refused(principal: Principal, objs: Iterable[object]) -> str | None:
    """Why ``principal`` may not submit these events (a registration by someone not in
    :data:`REGISTRARS`), or None. Checked before anything is parsed or stored."""
    if principal.may_register:
        return None
    if any(isinstance(obj, dict) and obj.get("type") == REGISTRATION for obj in objs):
        return (
            f"type: only an admin or an integration account may submit {REGISTRATION} "
            f"(it sets a patient's navigator and contact details); {principal.username!r} is a "
            f"{principal.role}"
        )
    return None


def write_gate(principal: Principal) -> Callable[[Session, str], str | None]:
    """For intake: admins, integration accounts and clinicians may write events of any patient
    (registration is checked apart, :func:`registration_refused`); a navigator only of a patient
    assigned to them — not of an unknown or unassigned one."""

    def gate(session: Session, patient_id: str) -> str | None:
        if principal.sees_all:
            return None
        patient = repository.patient(session, patient_id)
        if (
            patient is not None
            and principal.navigator_id is not None
            and (patient.navigator_id == principal.navigator_id)
        ):
            return None
        return "no such patient"

    return gate
