"""What is due each day of this week and the next, for the patients the caller may see.

The fortnight runs from this week's Monday to next week's Sunday (clinic days). Each day lists
the open reminders due that day (overdue, due now or planned), by patient, at most ``per_day`` of
them, with the day's full count. Both come from one statement over the open reminders' index
range: ``ix_reminders_navigator_open`` (navigator, status, due_on) for a navigator,
``ix_reminders_status_due`` for everyone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models.rows import PatientRow, ReminderRow
from models.statuses import OPEN_REMINDER_SQL
from notifications.labels import label
from scheduler.staff.access import Principal

PER_DAY = 50
WEEKS = 2
OPEN_REMINDER = text(f"reminders.{OPEN_REMINDER_SQL}")  # the partial index's predicate, verbatim


def fortnight(today: dt.date) -> tuple[dt.date, dt.date]:
    """This week's Monday and next week's Sunday."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=7 * WEEKS - 1)


def week_view(
    session: Session, principal: Principal, today: dt.date, *, kind: str | None = None, per_day: int = PER_DAY
) -> dict[str, Any]:
    """``{"from", "to", "days": [{"date", "count", "items": [...]}, ...]}``, one entry per day of
    the fortnight (empty days included); items carry the patient's name."""
    first, last = fortnight(today)
    where: list[Any] = [OPEN_REMINDER, ReminderRow.due_on >= first, ReminderRow.due_on <= last]
    if not principal.sees_all:
        where.append(ReminderRow.navigator_id == (principal.navigator_id or ""))
    if kind:
        where.append(ReminderRow.kind == kind)
    ranked = (
        select(
            ReminderRow.id,
            func.row_number()
            .over(partition_by=ReminderRow.due_on, order_by=(ReminderRow.patient_id, ReminderRow.id))
            .label("n"),
            func.count().over(partition_by=ReminderRow.due_on).label("day_count"),
        )
        .where(*where)
        .subquery()
    )
    rows = session.execute(
        select(
            ReminderRow.id,
            ReminderRow.patient_id,
            ReminderRow.key,
            ReminderRow.kind,
            ReminderRow.due_on,
            ReminderRow.window_days,
            ReminderRow.status,
            ReminderRow.overdue_since,
            ranked.c.day_count,
            select(PatientRow.name)
            .where(PatientRow.patient_id == ReminderRow.patient_id)
            .scalar_subquery()
            .label("patient_name"),
        )
        .join(ranked, ranked.c.id == ReminderRow.id)
        .where(ranked.c.n <= per_day)
        .order_by(ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
    ).all()
    days = {first + dt.timedelta(days=n): {"items": [], "count": 0} for n in range(7 * WEEKS)}
    for row in rows:
        day: dict[str, Any] = days[row.due_on]
        day["count"] = int(row.day_count)
        day["items"].append(
            {
                "id": row.id,
                "patient_id": row.patient_id,
                "name": row.patient_name,
                "key": row.key,
                "kind": row.kind,
                "label": label(row.kind).summary,
                "status": row.status,
                "window_ends_on": (row.due_on + dt.timedelta(days=row.window_days)).isoformat(),
                "overdue_since": row.overdue_since.isoformat() if row.overdue_since else None,
            }
        )
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": [
            {"date": day.isoformat(), "is_today": day == today, **content} for day, content in days.items()
        ],
    }
