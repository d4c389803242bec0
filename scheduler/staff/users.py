"""Dashboard and API users and their tokens (``gistsched user …``, ``gistsched token …``).

Roles: ``navigator`` (sees the patients assigned to their ``navigator_id``, gets the escalations
and the daily digest at ``email``), ``clinician`` and ``admin`` (see every patient), and
``integration`` (a hospital system's account: sees and writes every patient, may register
patients; see :mod:`scheduler.staff.access`). The password is stored as an Argon2id hash; each API
token, shown once, as its SHA-256 digest, with an optional expiry.

Every change is written to the audit trail in its own transaction, with the account it is about
as the line's ``subject``: a user is disabled (their sessions end and their tokens stop answering
at once), enabled, unlocked (their failed sign-ins are forgotten), given a one-time password that
must be changed at the next sign-in; a token is created, revoked or rotated (revoked and replaced
by a new one with the same expiry period).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.rows import ApiTokenRow, UserRow
from models.types import utcnow
from models.vocabulary import Role
from notifications.mail import is_valid_address
from scheduler.staff import audit, repository
from scheduler.staff.tokens import hash_password, new_token, token_digest

ROLES = tuple(Role)
MAX_TOKEN_DAYS = 3650
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_CHARS = 8


class UserError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True, slots=True)
class CreatedUser:
    username: str
    token: str
    token_id: int = 0


def create_user(
    sessions: sessionmaker[Session],
    username: str,
    role: str,
    password: str,
    navigator_id: str | None = None,
    email: str | None = None,
    *,
    actor: audit.Actor | None = None,
    token_days: int | None = None,
) -> CreatedUser:
    if not USERNAME.match(username):
        raise UserError("USERNAME", "1–64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError("--role", f"must be one of {', '.join(ROLES)} (got {role!r})")
    if role == Role.NAVIGATOR and not navigator_id:
        raise UserError("--navigator-id", "a navigator needs the navigator_id their patients are assigned to")
    if navigator_id is not None and not 1 <= len(navigator_id) <= 128:
        raise UserError("--navigator-id", "1–128 characters")
    if email is not None and not is_valid_address(email):
        raise UserError("--email", f"not a valid email address: {email!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError("password", f"at least {MIN_PASSWORD_CHARS} characters, read from standard input")
    _check_days(token_days)
    token = new_token()
    with sessions.begin() as session:
        if repository.has_user(session, username):
            raise UserError("USERNAME", f"{username!r} already exists")
        user = UserRow(
            username=username,
            role=role,
            navigator_id=navigator_id,
            email=email,
            password_hash=hash_password(password),
            must_change_password=False,
            token_hash=token_digest(new_token()),  # unused column: tokens are api_tokens rows
            is_active=True,
            created_at=utcnow(),
        )
        repository.add_user(session, user)
        row = _add_token(session, user.id, token, token_days)
        audit.record(session, actor or CLI, "user_add", detail=f"role {role}", subject=username)
        return CreatedUser(username, token, row.id)


CLI = audit.Actor(None, "cli")  # the audit trail's name for the operator at the command line


def check_password(password: str, field: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(field, f"at least {MIN_PASSWORD_CHARS} characters")
    if "\x00" in password:
        raise UserError(field, "must not contain a NUL character")


def _check_days(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise UserError("--expires-days", f"a whole number of days from 1 to {MAX_TOKEN_DAYS} (got {days})")


def _add_token(session: Session, user_id: int, token: str, days: int | None) -> ApiTokenRow:
    now = utcnow()
    expires_at = now + dt.timedelta(days=days) if days is not None else None
    return repository.add_token(session, user_id, token_digest(token), now, expires_at)


def _user(session: Session, username: str) -> UserRow:
    user = repository.user_named(session, username)
    if user is None:
        raise UserError("USERNAME", f"no user {username!r}")
    return user


# ---- accounts -----------------------------------------------------------------------------------


def list_users(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Every user with role, navigator, whether active or waiting for a password change, and
    how many live API tokens they hold (no secrets)."""
    with sessions() as session:
        live = repository.live_token_counts(session, utcnow())
        return [
            {
                "username": user.username,
                "role": user.role,
                "navigator_id": user.navigator_id,
                "email": user.email,
                "is_active": user.is_active,
                "must_change_password": user.must_change_password,
                "live_tokens": live.get(user.id, 0),
                "created_at": user.created_at.isoformat(),
            }
            for user in repository.users_by_name(session)
        ]


def set_active(
    sessions: sessionmaker[Session], username: str, is_active: bool, actor: audit.Actor = CLI
) -> None:
    """Disable (sessions end, tokens stop answering) or enable a user."""
    with sessions.begin() as session:
        user = _user(session, username)
        user.is_active = is_active
        if not is_active:
            repository.end_sessions(session, user.id, utcnow())
        audit.record(session, actor, "user_enable" if is_active else "user_disable", subject=username)


def unlock(sessions: sessionmaker[Session], username: str, actor: audit.Actor = CLI) -> None:
    """Forget the user's failed sign-ins: the throttle counts from this line of the trail."""
    with sessions.begin() as session:
        _user(session, username)
        audit.record(session, actor, "user_unlock", subject=username)


def reset_password(sessions: sessionmaker[Session], username: str, actor: audit.Actor = CLI) -> str:
    """A one-time password for ``username`` (returned, shown once), which must be changed at the
    next sign-in; the user's sessions end and their failed sign-ins are forgotten."""
    password = secrets.token_urlsafe(12)
    with sessions.begin() as session:
        user = _user(session, username)
        user.password_hash = hash_password(password)
        user.must_change_password = True
        repository.end_sessions(session, user.id, utcnow())
        audit.record(session, actor, "password_reset", subject=username)
    return password


def change_password(
    sessions: sessionmaker[Session], user_id: int, new_password: str, actor: audit.Actor
) -> None:
    """The user's own new password (after a reset, or by choice); clears the forced change."""
    check_password(new_password, "new_password")
    with sessions.begin() as session:
        user = repository.user_by_id(session, user_id)
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        audit.record(session, actor, "password_change", subject=user.username)


# ---- tokens -------------------------------------------------------------------------------------


def create_token(
    sessions: sessionmaker[Session], username: str, days: int | None, actor: audit.Actor = CLI
) -> tuple[int, str, dt.datetime | None]:
    """A new API token for ``username``: (id, the token — shown once —, expiry)."""
    _check_days(days)
    token = new_token()
    with sessions.begin() as session:
        user = _user(session, username)
        row = _add_token(session, user.id, token, days)
        audit.record(session, actor, "token_create", detail=f"token {row.id}", subject=username)
        return row.id, token, row.expires_at


def list_tokens(sessions: sessionmaker[Session], username: str | None = None) -> list[dict[str, Any]]:
    now = utcnow()
    with sessions() as session:
        return [
            {
                "id": row.id,
                "username": name,
                "created_at": row.created_at.isoformat(),
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                "status": _token_status(row, now),
            }
            for row, name in repository.tokens_with_owner(session, username)
        ]


def _token_status(row: ApiTokenRow, now: dt.datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "live"


def _token(session: Session, token_id: int) -> tuple[ApiTokenRow, str]:
    found = repository.token_with_owner(session, token_id)
    if found is None:
        raise UserError("ID", f"no token {token_id}")
    return found


def revoke_token(sessions: sessionmaker[Session], token_id: int, actor: audit.Actor = CLI) -> None:
    with sessions.begin() as session:
        row, username = _token(session, token_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        audit.record(session, actor, "token_revoke", detail=f"token {token_id}", subject=username)


def rotate_token(
    sessions: sessionmaker[Session], token_id: int, actor: audit.Actor = CLI
) -> tuple[int, str, dt.datetime | None]:
    """Revoke token ``token_id`` and create its replacement for the same user, valid as long as the
    old one was from its creation (no expiry stays no expiry)."""
    token = new_token()
    with sessions.begin() as session:
        row, username = _token(session, token_id)
        if row.revoked_at is not None:
            raise UserError("ID", f"token {token_id} is revoked; create a new one with `token create`")
        now = utcnow()
        row.revoked_at = now
        days = None
        if row.expires_at is not None:
            days = max(1, round((row.expires_at - row.created_at) / dt.timedelta(days=1)))
        new = _add_token(session, row.user_id, token, days)
        audit.record(
            session, actor, "token_rotate", detail=f"token {token_id} -> token {new.id}", subject=username
        )
        return new.id, token, new.expires_at
