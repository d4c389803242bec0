"""The outbox side of processing a patient: keep each reminder's ``notice_on`` right and write the
emails a change itself calls for, in the same transaction as the change (style.md "send after
commit"; the clock queues them once committed).

* a new open reminder starts at its first notice day (it may be in the past: the clock then sends
  only the latest stage reached, :func:`scheduler.domain.notices.due_notice`);
* a reminder whose date moved starts again from the new date's first stage, and a patient who was
  already sent an invitation for it is sent the moved date at once (same UID, higher SEQUENCE),
  rather than keeping the old date in their calendar until the next notice; so is one whose
  booking changed (the invitation moves to the appointment's day);
* a reminder that closes is not looked at again; one that is cancelled after the patient was sent
  an invitation gets a CANCEL, so the calendar entry disappears;
* a patient who gets a navigator has the notices held for want of one released to be sent.

The queries are in :mod:`scheduler.notifications.repository`.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy.orm import Session

from models.rows import PatientRow, ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES, ReminderStatus
from models.types import utcnow
from models.vocabulary import Audience, NotificationKind
from scheduler.domain.notices import first_notice_on
from scheduler.domain.profile import Profile
from scheduler.notifications import repository


def initial_notice_on(
    kind: str, due_on: dt.date, window_days: int, status: str, profile: Profile
) -> dt.date | None:
    return first_notice_on(kind, due_on, window_days, profile) if status in OPEN_REMINDER_STATUSES else None


def dedup_key(reminder_id: int, kind: str, revision: int) -> str:
    return f"reminder:{reminder_id}:{kind}:{revision}"


class Before(NamedTuple):
    """What of a reminder row the outbox compares after a change."""

    due_on: dt.date
    window_days: int
    status: str
    appointment_on: dt.date | None
    appointment_place: str | None
    snoozed_until: dt.date | None

    @classmethod
    def of(cls, row: ReminderRow) -> Before:
        return cls(
            row.due_on, row.window_days, row.status, row.appointment_on, row.appointment_place,
            row.snoozed_until,
        )  # fmt: skip


def after_update(
    session: Session,
    patient: PatientRow,
    row: ReminderRow,
    before: Before,
    today: dt.date,
    profile: Profile,
) -> None:
    """``row`` was just changed (its revision bumped) from ``before``. A patient who holds the item's
    invitation is sent the new day at once when its date moved or its booking changed (the
    invitation sits on the appointment's day); a notice held for a snooze that changed is looked
    at again today."""
    was_open = before.status in OPEN_REMINDER_STATUSES
    if row.status not in OPEN_REMINDER_STATUSES:
        row.notice_on = None
        if row.status == ReminderStatus.CANCELLED and was_open:
            after_cancel(session, patient, row, today)
        return
    moved = (row.due_on, row.window_days) != (before.due_on, before.window_days)
    rebooked = (row.appointment_on, row.appointment_place) != (
        before.appointment_on,
        before.appointment_place,
    )
    if moved or not was_open:
        row.notice_on = first_notice_on(row.kind, row.due_on, row.window_days, profile)
    if row.snoozed_until != before.snoozed_until and row.notice_on is not None:
        row.notice_on = min(row.notice_on, today)
    if (moved or rebooked) and was_open and repository.has_sent_invitation(session, row.id):
        _add(session, patient, row, NotificationKind.MOVED, today)


def after_cancel(session: Session, patient: PatientRow, row: ReminderRow, today: dt.date) -> None:
    row.notice_on = None
    if repository.has_sent_invitation(session, row.id):
        _add(session, patient, row, NotificationKind.CANCEL, today)


def release_held(session: Session, patient: PatientRow) -> None:
    """The patient has a navigator now: the notices held until then are to be sent."""
    if patient.navigator_id is not None:
        repository.release_held(session, patient.patient_id, patient.navigator_id)


def _add(session: Session, patient: PatientRow, row: ReminderRow, kind: str, today: dt.date) -> None:
    key = dedup_key(row.id, kind, row.revision)
    if repository.has_notification(session, key):
        return
    session.add(
        repository.pending_notification(
            key,
            kind,
            Audience.PATIENT,
            today,
            utcnow(),
            reminder_id=row.id,
            patient_id=patient.patient_id,
            navigator_id=patient.navigator_id,
            revision=row.revision,
            due_on=row.due_on,
        )
    )
