"""Who is asking, and what they may see (issue 5; event-contract.md §4).

* API calls carry ``Authorization: Bearer TOKEN``: the token's SHA-256 digest is looked up among
  active users (:func:`principal_for_token`).
* The dashboard signs in with a username and password (Argon2id): a session row holds the digest
  of a random cookie value, a CSRF token for the forms and an expiry (:func:`sign_in`,
  :func:`principal_for_session`). Sign-out revokes the row.
* Failed sign-ins are rate-limited per username from the audit trail itself
  (:data:`MAX_FAILURES` in :data:`FAILURE_WINDOW`), so the limit holds across web processes.
* Scope: a navigator sees the patients whose ``navigator_id`` is theirs; clinicians and admins see
  all. A patient outside the caller's scope is reported as not found (no existence oracle).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.rows import PatientRow, UserRow, WebSessionRow
from models.types import utcnow
from scheduler import audit
from scheduler.tokens import hash_password, needs_rehash, new_token, token_digest, verify_password

SESSION_LIFETIME = dt.timedelta(hours=12)
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES = 5
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # verify against it for unknown users: same time


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: str  # navigator, clinician, admin
    navigator_id: str | None

    @property
    def sees_all(self) -> bool:
        return self.role in ("clinician", "admin")

    def actor(self, client: str | None = None) -> audit.Actor:
        return audit.Actor(self.user_id, self.username, client)


def _principal(user: UserRow) -> Principal:
    return Principal(user.id, user.username, user.role, user.navigator_id)


def principal_for_token(session: Session, token: str) -> Principal | None:
    user = session.scalar(select(UserRow).where(UserRow.token_hash == token_digest(token), UserRow.is_active))
    return _principal(user) if user is not None else None


@dataclass(frozen=True, slots=True)
class WebSession:
    principal: Principal
    csrf_token: str


def principal_for_session(session: Session, cookie: str, now: dt.datetime | None = None) -> WebSession | None:
    now = now or utcnow()
    row = session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, UserRow.id == WebSessionRow.user_id)
        .where(
            WebSessionRow.token_hash == token_digest(cookie),
            WebSessionRow.revoked_at.is_(None),
            WebSessionRow.expires_at > now,
            UserRow.is_active,
        )
    ).first()
    if row is None:
        return None
    web_session, user = row
    return WebSession(_principal(user), web_session.csrf_token)


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
    if audit.recent_failures(session, username, now - FAILURE_WINDOW) >= MAX_FAILURES:
        audit.record(session, anonymous, "sign_in_failed", detail="rate limited")
        return SignInError(
            "Too many failed sign-ins: try again in 15 minutes, or ask an admin.", is_rate_limited=True
        )
    user = session.scalar(select(UserRow).where(UserRow.username == username, UserRow.is_active))
    stored = user.password_hash if user is not None else _DUMMY_HASH
    is_valid = verify_password(password, stored) and bool(password)  # verified anyway: the same time
    if user is None or not is_valid:
        audit.record(session, anonymous, "sign_in_failed")
        return SignInError("Wrong username or password.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    cookie, csrf = new_token(), secrets.token_urlsafe(32)
    session.add(
        WebSessionRow(
            token_hash=token_digest(cookie),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    principal = _principal(user)
    audit.record(session, principal.actor(client), "sign_in")
    return SignedIn(principal, cookie, csrf)


def sign_out(sessions: sessionmaker[Session], cookie: str, client: str | None) -> None:
    with sessions.begin() as session:
        found = principal_for_session(session, cookie)
        session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.token_hash == token_digest(cookie), WebSessionRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
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
    patient = session.get(PatientRow, patient_id)
    if patient is None:
        return False
    return principal.sees_all or (
        principal.navigator_id is not None and patient.navigator_id == principal.navigator_id
    )


def write_gate(principal: Principal) -> Callable[[Session, str], str | None]:
    """For intake: a navigator may write events of their own patients and of new patients."""

    def gate(session: Session, patient_id: str) -> str | None:
        if principal.sees_all:
            return None
        patient = session.get(PatientRow, patient_id)
        if patient is None or patient.navigator_id is None or patient.navigator_id == principal.navigator_id:
            return None
        return "no such patient"

    return gate
