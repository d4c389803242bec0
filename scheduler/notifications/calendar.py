"""The calendar entry of a reminder, the same in feeds and invitations (one UID per reminder, the
revision as SEQUENCE). An open one with missed items before it says so in its summary and
description."""

from __future__ import annotations

from models.rows import ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES, ReminderStatus
from notifications.ical import CalendarItem, item_uid
from notifications.labels import label, missed_text
from scheduler.domain.notices import lead_days
from scheduler.domain.profile import Profile


def calendar_item(
    patient_id: str, reminder: ReminderRow, profile: Profile, summary: str | None = None
) -> CalendarItem:
    summary = summary or label(reminder.kind).calendar
    description = ""
    if reminder.status in OPEN_REMINDER_STATUSES and reminder.overdue_since is not None:
        summary = f"{summary} (overdue since {reminder.overdue_since.isoformat()})"
        description = missed_text(reminder.overdue_since, reminder.missed, reminder.last_done_on) + "."
    return CalendarItem(
        uid=item_uid(patient_id, reminder.key),
        summary=summary,
        description=description,
        due_on=reminder.due_on,
        sequence=reminder.revision,
        stamp=reminder.updated_at,
        is_cancelled=reminder.status == ReminderStatus.CANCELLED,
        alarm_days_before=lead_days(profile, reminder.kind),
    )
