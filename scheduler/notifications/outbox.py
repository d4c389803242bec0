"""The outbox side of processing a patient: keep each reminder's ``notice_on`` right and write the
emails a change itself calls for, in the same transaction as the change (style.md "send after
commit"; the clock queues them once committed).

* a new open reminder starts at its first notice day (it may be in the past: the clock then sends
  only the latest stage reached, :func:`scheduler.domain.notices.due_notice`);
* a reminder whose date moved starts again from the new date's first stage, and a patient who was
  already sent an invitation for it is sent the moved date at once (same UID, higher SEQUENCE),
  rather than keeping the old date in their calendar until the next notice;
* a reminder that closes is not looked at again; one that is cancelled after the patient was sent
  an invitation gets a CANCEL, so the calendar entry disappears.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.rows import NotificationRow, PatientRow, ReminderRow
from models.types import utcnow
from scheduler.domain.notices import first_notice_on
from scheduler.domain.profile import Profile

OPEN = frozenset({"planned", "due", "overdue"})
HELD = "held"  # an outbox row of a patient without a navigator: pending again once one is assigned
INVITING_KINDS = ("advance", "due", "moved")  # patient emails that carry a REQUEST invitation


def initial_notice_on(
    kind: str, due_on: dt.date, window_days: int, status: str, profile: Profile
) -> dt.date | None:
    return first_notice_on(kind, due_on, window_days, profile) if status in OPEN else None


def dedup_key(reminder_id: int, kind: str, revision: int) -> str:
    return f"reminder:{reminder_id}:{kind}:{revision}"


def was_invited(session: Session, reminder_id: int) -> bool:
    """Whether the patient was sent a calendar invitation for this reminder."""
    return (
        session.scalar(
            select(NotificationRow.id)
            .where(
                NotificationRow.reminder_id == reminder_id,
                NotificationRow.audience == "patient",
                NotificationRow.kind.in_(INVITING_KINDS),
                NotificationRow.status == "sent",
            )
            .limit(1)
        )
        is not None
    )


def after_update(
    session: Session,
    patient: PatientRow,
    row: ReminderRow,
    before: tuple[dt.date, int, str],
    today: dt.date,
    profile: Profile,
) -> None:
    """``row`` was just changed (its revision bumped) from ``before`` = (due_on, window_days, status)."""
    due_on, window_days, status = before
    if row.status not in OPEN:
        row.notice_on = None
        if row.status == "cancelled" and status in OPEN:
            after_cancel(session, patient, row, today)
        return
    moved = (row.due_on, row.window_days) != (due_on, window_days)
    if moved or status not in OPEN:
        row.notice_on = first_notice_on(row.kind, row.due_on, row.window_days, profile)
    if moved and status in OPEN and was_invited(session, row.id):
        _add(session, patient, row, "moved", today)


def after_cancel(session: Session, patient: PatientRow, row: ReminderRow, today: dt.date) -> None:
    row.notice_on = None
    if was_invited(session, row.id):
        _add(session, patient, row, "cancel", today)


def _add(session: Session, patient: PatientRow, row: ReminderRow, kind: str, today: dt.date) -> None:
    key = dedup_key(row.id, kind, row.revision)
    if session.scalar(select(NotificationRow.id).where(NotificationRow.dedup_key == key)) is not None:
        return
    now = utcnow()
    session.add(
        NotificationRow(
            dedup_key=key,
            kind=kind,
            audience="patient",
            reminder_id=row.id,
            patient_id=patient.patient_id,
            navigator_id=patient.navigator_id,
            revision=row.revision,
            due_on=row.due_on,
            day=today,
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
