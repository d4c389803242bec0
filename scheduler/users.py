"""Dashboard and API users (event-contract.md ``gistsched user add``).

Roles: ``navigator`` (sees the patients assigned to their ``navigator_id``, gets the escalations
and the daily digest at ``email``), ``clinician`` and ``admin`` (see every patient). The password
is stored as a salted scrypt hash; the API token, shown once, as its SHA-256 digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.rows import UserRow
from models.types import utcnow
from notifications.mail import is_valid_address
from scheduler.tokens import hash_password, new_token, token_digest

ROLES = ("navigator", "clinician", "admin")
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


def create_user(
    sessions: sessionmaker[Session],
    username: str,
    role: str,
    password: str,
    navigator_id: str | None = None,
    email: str | None = None,
) -> CreatedUser:
    if not USERNAME.match(username):
        raise UserError("USERNAME", "1–64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError("--role", f"must be one of {', '.join(ROLES)} (got {role!r})")
    if role == "navigator" and not navigator_id:
        raise UserError("--navigator-id", "a navigator needs the navigator_id their patients are assigned to")
    if navigator_id is not None and not 1 <= len(navigator_id) <= 128:
        raise UserError("--navigator-id", "1–128 characters")
    if email is not None and not is_valid_address(email):
        raise UserError("--email", f"not a valid email address: {email!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError("password", f"at least {MIN_PASSWORD_CHARS} characters, read from standard input")
    token = new_token()
    with sessions.begin() as session:
        if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
            raise UserError("USERNAME", f"{username!r} already exists")
        session.add(
            UserRow(
                username=username,
                role=role,
                navigator_id=navigator_id,
                email=email,
                password_hash=hash_password(password),
                token_hash=token_digest(token),
                is_active=True,
                created_at=utcnow(),
            )
        )
    return CreatedUser(username, token)
