"""The queries of the notification use cases: outbox rows, the reminders they tell about, the
users they go to, and whether a feed's navigator is known. Every function works in the caller's
session (the caller owns the transaction).

The clock's claim repeats ix_notifications_sendable's predicate literally (:data:`SENDABLE`):
SQLite uses a partial index only when the query's WHERE contains the index's condition with the
same constants, not bound parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from models.db import rowcount
from models.rows import NotificationRow, PatientRow, ReminderRow, UserRow
from models.statuses import (
    CLAIMABLE_NOTIFICATION_STATUSES,
    LIVE_NOTIFICATION_STATUSES,
    SENDABLE_NOTIFICATION_SQL,
    NotificationStatus,
)
from models.types import utcnow
from models.vocabulary import INVITING_KINDS, Audience, NotificationKind, Role

SENDABLE = text(f"notifications.{SENDABLE_NOTIFICATION_SQL}")
Told = set[tuple[object, ...]]  # dedup keys as (key,), and (reminder_id, stage, due_on) of live notices


class DueReminder(NamedTuple):
    """A reminder whose notice day has come, with what the clock needs of its patient."""

    id: int
    kind: str
    due_on: dt.date
    window_days: int
    status: str
    revision: int
    notice_on: dt.date | None
    patient_id: str
    navigator_id: str | None
    email: str | None
    is_active: bool
    snoozed_until: dt.date | None = None  # a navigator's snooze of the item


def notification_values(
    dedup_key: str, kind: str, audience: str, day: dt.date, now: dt.datetime, **about: Any
) -> dict[str, Any]:
    """The columns of a new outbox row, to be queued by the clock; ``about`` names its reminder,
    patient, navigator, user, revision, due date and reason."""
    return {
        "dedup_key": dedup_key,
        "kind": kind,
        "audience": audience,
        "day": day,
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        **about,
    }


def pending_notification(
    dedup_key: str, kind: str, audience: str, day: dt.date, now: dt.datetime, **about: Any
) -> NotificationRow:
    """A new outbox row (see :func:`notification_values`), for the caller to add to its session."""
    return NotificationRow(**notification_values(dedup_key, kind, audience, day, now, **about))


# ---- written with a patient's plan ---------------------------------------------------------------


def has_sent_invitation(session: Session, reminder_id: int) -> bool:
    """Whether the patient was sent a calendar invitation for this reminder."""
    return (
        session.scalar(
            select(NotificationRow.id)
            .where(
                NotificationRow.reminder_id == reminder_id,
                NotificationRow.audience == Audience.PATIENT,
                NotificationRow.kind.in_(INVITING_KINDS),
                NotificationRow.status == NotificationStatus.SENT,
            )
            .limit(1)
        )
        is not None
    )


def has_notification(session: Session, dedup_key: str) -> bool:
    return (
        session.scalar(select(NotificationRow.id).where(NotificationRow.dedup_key == dedup_key)) is not None
    )


def release_held(session: Session, patient_id: str, navigator_id: str) -> None:
    """The patient's notices held for want of a navigator go back to be sent, to ``navigator_id``."""
    session.execute(
        update(NotificationRow)
        .where(NotificationRow.patient_id == patient_id, NotificationRow.status == NotificationStatus.HELD)
        .values(
            status=NotificationStatus.PENDING,
            navigator_id=navigator_id,
            next_attempt_at=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


# ---- what the clock writes and claims ------------------------------------------------------------


def lock_due_reminders(session: Session, today: dt.date, limit: int) -> list[DueReminder]:
    """Up to ``limit`` reminders whose notice day has come, with their patients, locked (``FOR
    UPDATE SKIP LOCKED`` on PostgreSQL), by notice day. A patient without a navigator is left out:
    their registration (recipient, navigator) has not arrived yet, and the notice waits for it."""
    rows = session.execute(
        select(
            ReminderRow.id,
            ReminderRow.kind,
            ReminderRow.due_on,
            ReminderRow.window_days,
            ReminderRow.status,
            ReminderRow.revision,
            ReminderRow.notice_on,
            PatientRow.patient_id,
            PatientRow.navigator_id,
            PatientRow.email,
            PatientRow.is_active,
            ReminderRow.snoozed_until,
        )
        .join(PatientRow, PatientRow.patient_id == ReminderRow.patient_id)
        .where(ReminderRow.notice_on <= today, PatientRow.navigator_id.is_not(None))
        .order_by(ReminderRow.notice_on, ReminderRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=ReminderRow)
    )
    return [DueReminder(*row) for row in rows]


def told(session: Session, reminder_ids: list[int]) -> Told:
    """What was already told about these reminders: their dedup keys, and (reminder, stage, date)
    of every live notice — a revision bumped by a status change alone does not tell again."""
    if not reminder_ids:
        return set()
    found: Told = set()
    for key, reminder_id, kind, due_on, status in session.execute(
        select(
            NotificationRow.dedup_key,
            NotificationRow.reminder_id,
            NotificationRow.kind,
            NotificationRow.due_on,
            NotificationRow.status,
        ).where(NotificationRow.reminder_id.in_(reminder_ids))
    ):
        found.add((key,))
        if status in LIVE_NOTIFICATION_STATUSES:
            found.add((reminder_id, kind, due_on))
    return found


def insert_notifications(session: Session, rows: list[dict[str, Any]]) -> None:
    """New outbox rows (:func:`notification_values`, all with the same keys), as one executemany."""
    if rows:
        session.execute(insert(NotificationRow), rows)


def set_notice_days(session: Session, days: list[tuple[int, dt.date | None]]) -> None:
    """Each (reminder id, next notice day), as one executemany UPDATE by primary key."""
    if days:
        session.execute(update(ReminderRow), [{"id": rid, "notice_on": day} for rid, day in days])


def navigators_with_email(session: Session) -> Sequence[UserRow]:
    """Active navigator users with a navigator id and an email address (the digest's readers)."""
    return session.scalars(
        select(UserRow).where(
            UserRow.role == Role.NAVIGATOR,
            UserRow.is_active.is_(True),
            UserRow.email.is_not(None),
            UserRow.navigator_id.is_not(None),
        )
    ).all()


def digest_keys(session: Session, day: dt.date) -> set[str]:
    return set(
        session.scalars(
            select(NotificationRow.dedup_key).where(
                NotificationRow.kind == NotificationKind.DIGEST, NotificationRow.day == day
            )
        )
    )


def claim_sendable(session: Session, now: dt.datetime, stale_after: dt.timedelta, limit: int) -> list[int]:
    """Move up to ``limit`` sendable rows to ``queued`` (locked, by id): ``pending`` ones past
    ``next_attempt_at``, and ``queued`` or ``sending`` ones claimed longer than ``stale_after`` ago."""
    ids = list(
        session.scalars(
            select(NotificationRow.id)
            .where(
                SENDABLE,  # literally ix_notifications_sendable's predicate (SQLite needs it so)
                or_(
                    and_(
                        NotificationRow.status == NotificationStatus.PENDING,
                        or_(
                            NotificationRow.next_attempt_at.is_(None),
                            NotificationRow.next_attempt_at <= now,
                        ),
                    ),
                    and_(
                        NotificationRow.status.in_((NotificationStatus.QUEUED, NotificationStatus.SENDING)),
                        NotificationRow.claimed_at < now - stale_after,
                    ),
                ),
            )
            .order_by(NotificationRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        rowcount(
            session,
            update(NotificationRow)
            .where(NotificationRow.id.in_(ids))
            .values(status=NotificationStatus.QUEUED, claimed_at=now, updated_at=now),
        )
    return ids


def release(session: Session, ids: list[int]) -> None:
    """Rows claimed but not queued go back to ``pending``."""
    rowcount(
        session,
        update(NotificationRow)
        .where(NotificationRow.id.in_(ids), NotificationRow.status == NotificationStatus.QUEUED)
        .values(status=NotificationStatus.PENDING, claimed_at=None, updated_at=utcnow()),
    )


# ---- sending one row -----------------------------------------------------------------------------


def claim_for_sending(session: Session, notification_id: int, now: dt.datetime) -> bool:
    """``pending``/``queued`` → ``sending`` with ``claimed_at = now``, counting the attempt; False
    when another caller has it (or it is done)."""
    return (
        rowcount(
            session,
            update(NotificationRow)
            .where(
                NotificationRow.id == notification_id,
                NotificationRow.status.in_(CLAIMABLE_NOTIFICATION_STATUSES),
            )
            .values(
                status=NotificationStatus.SENDING,
                claimed_at=now,
                attempts=NotificationRow.attempts + 1,
                updated_at=now,
            ),
        )
        == 1
    )


def record_outcome(
    session: Session, notification_id: int, claimed_at: dt.datetime, values: dict[str, object]
) -> int:
    """Write ``values`` if the row is still ours (``sending`` with our ``claimed_at``: not re-queued
    as stale since); how many rows that matched."""
    return rowcount(
        session,
        update(NotificationRow)
        .where(
            NotificationRow.id == notification_id,
            NotificationRow.status == NotificationStatus.SENDING,
            NotificationRow.claimed_at == claimed_at,
        )
        .values(**values),
    )


def attempts(session: Session, notification_id: int) -> int:
    return int(
        session.scalar(select(NotificationRow.attempts).where(NotificationRow.id == notification_id)) or 0
    )


def navigator_emails(session: Session, navigator_id: str) -> list[str]:
    """The email addresses of the active navigator users of ``navigator_id``, by user id."""
    emails = session.scalars(
        select(UserRow.email)
        .where(
            UserRow.navigator_id == navigator_id,
            UserRow.role == Role.NAVIGATOR,
            UserRow.is_active.is_(True),
            UserRow.email.is_not(None),
        )
        .order_by(UserRow.id)
    )
    return [email for email in emails if email]


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status."""
    return dict(
        session.execute(select(NotificationRow.status, func.count()).group_by(NotificationRow.status)).all()
    )


def is_known_navigator(session: Session, navigator_id: str) -> bool:
    """Whether a user or a patient has ``navigator_id`` (a navigator's feed must name one)."""
    known = session.scalar(
        select(UserRow.id).where(UserRow.navigator_id == navigator_id).limit(1)
    ) or session.scalar(select(PatientRow.patient_id).where(PatientRow.navigator_id == navigator_id).limit(1))
    return known is not None
