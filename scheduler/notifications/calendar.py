"""The calendar entry of a reminder, the same in feeds and invitations (one UID per reminder, the
revision as SEQUENCE). An open one with missed items before it says so in its summary and
description; an open one a navigator booked is placed on the appointment's day, its description
saying "Booked for <day> at <place>; due <due date>."."""

from __future__ import annotations

from models.rows import ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES, ReminderStatus
from notifications.ical import CalendarItem, item_uid
from notifications.labels import booking_text, label, missed_text
from scheduler.domain.notices import lead_days
from scheduler.domain.profile import Profile


def calendar_item(
    patient_id: str, reminder: ReminderRow, profile: Profile, summary: str | None = None
) -> CalendarItem:
    summary = summary or label(reminder.kind).calendar
    is_open = reminder.status in OPEN_REMINDER_STATUSES
    sentences = []
    if is_open and reminder.overdue_since is not None:
        summary = f"{summary} (overdue since {reminder.overdue_since.isoformat()})"
        sentences.append(missed_text(reminder.overdue_since, reminder.missed, reminder.last_done_on) + ".")
    booked_on = reminder.appointment_on if is_open else None
    if booked_on is not None:
        sentences.insert(0, booking_text(booked_on, reminder.appointment_place, reminder.due_on) + ".")
    return CalendarItem(
        uid=item_uid(patient_id, reminder.key),
        summary=summary,
        description=" ".join(sentences),
        due_on=booked_on or reminder.due_on,
        sequence=reminder.revision,
        stamp=reminder.updated_at,
        is_cancelled=reminder.status == ReminderStatus.CANCELLED,
        alarm_days_before=lead_days(profile, reminder.kind),
    )
