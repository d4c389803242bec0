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

from sqlalchemy.orm import Session

from notifications.labels import label
from scheduler.staff import repository
from scheduler.staff.access import Principal

PER_DAY = 50
WEEKS = 2


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
    rows = repository.open_reminders_by_day(
        session,
        first,
        last,
        navigator_id=None if principal.sees_all else (principal.navigator_id or ""),
        kind=kind,
        per_day=per_day,
    )
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
