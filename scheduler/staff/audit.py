"""The audit trail: every read of a patient's record and every write, every sign-in and every
change to an account or token, with who, when, what, which patient or which account (``subject``).
Rows are written in the same transaction as the write they record, so a
write is never without its line; ``detail`` names no clinical content (ids and counts only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from models.rows import AuditRow
from models.types import utcnow
from scheduler.staff import repository

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "read_patient",
    "read_worklist",
    "submit_events",
    "acknowledge_alert",
    "feed_create",
    "feed_revoke",
    "note_add",
    "export_worklist",
    "user_add",
    "user_disable",
    "user_enable",
    "user_unlock",
    "password_reset",
    "password_change",
    "token_create",
    "token_revoke",
    "token_rotate",
)
THROTTLED = "throttled"  # the detail of a sign-in refused before any password was checked
UNLOCKING = ("user_unlock", "password_reset")  # start a user's failed sign-in count again


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    username: str | None
    client: str | None = None


def record(
    session: Session,
    actor: Actor,
    action: str,
    patient_id: str | None = None,
    detail: str | None = None,
    *,
    subject: str | None = None,
) -> None:
    assert action in ACTIONS, action
    repository.add_audit_line(
        session,
        AuditRow(
            at=utcnow(),
            user_id=actor.user_id,
            username=actor.username,
            action=action,
            patient_id=patient_id,
            detail=(detail or None) and detail[:500],
            client=(actor.client or None) and actor.client[:64],
            subject=subject,
        ),
    )


def trail(session: Session, patient_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    return [
        {
            "at": row.at.isoformat(),
            "user": row.username,
            "action": row.action,
            "patient_id": row.patient_id,
            "detail": row.detail,
            "client": row.client,
            "subject": row.subject,
        }
        for row in repository.audit_lines(session, patient_id, limit)
    ]
