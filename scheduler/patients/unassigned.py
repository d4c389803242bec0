"""The unassigned queue: patients whose events arrived before a registration gave them a navigator.

Their events are stored and their plan is computed like anyone's, but no navigator sees them on a
worklist and no email goes out for them (the clock writes no notice for a patient without a
navigator, and one written earlier is held: scheduler/notifications/dispatch.py,
scheduler/notifications/sending.py) until an admin or an integration account registers them.
Admins see this queue (``GET /api/unassigned``, the dashboard's "Unassigned" page).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.rows import AlertRow, EventRow, PatientRow, ReminderRow, UserRow
from models.statuses import OPEN_REMINDER_STATUSES, ReminderStatus


def unassigned_patients(session: Session, limit: int) -> dict[str, Any]:
    """``{"count": n, "patients": [...]}``: the oldest first, each with its number of events, when
    the first arrived, its open reminders (overdue among them) and active alerts."""
    count = session.scalar(
        select(func.count()).select_from(PatientRow).where(PatientRow.navigator_id.is_(None))
    )
    events = (
        select(
            EventRow.patient_id,
            func.count().label("events"),
            func.min(EventRow.received_at).label("first_received_at"),
        )
        .join(PatientRow, PatientRow.patient_id == EventRow.patient_id)
        .where(PatientRow.navigator_id.is_(None))
        .group_by(EventRow.patient_id)
        .order_by(func.min(EventRow.received_at), EventRow.patient_id)
        .limit(limit)
    )
    rows = session.execute(events).all()
    ids = [row.patient_id for row in rows]
    reminders: dict[str, tuple[int, int]] = {}
    for patient_id, status, n in session.execute(
        select(ReminderRow.patient_id, ReminderRow.status, func.count())
        .where(ReminderRow.patient_id.in_(ids), ReminderRow.status.in_(OPEN_REMINDER_STATUSES))
        .group_by(ReminderRow.patient_id, ReminderRow.status)
    ):
        open_, overdue = reminders.get(patient_id, (0, 0))
        reminders[patient_id] = (open_ + n, overdue + (n if status == ReminderStatus.OVERDUE else 0))
    alerts = dict(
        session.execute(
            select(AlertRow.patient_id, func.count())
            .where(AlertRow.patient_id.in_(ids), AlertRow.is_active.is_(True))
            .group_by(AlertRow.patient_id)
        ).all()
    )
    return {
        "count": int(count or 0),
        "patients": [
            {
                "patient_id": row.patient_id,
                "events": int(row.events),
                "first_received_at": row.first_received_at.isoformat() if row.first_received_at else None,
                "open_reminders": reminders.get(row.patient_id, (0, 0))[0],
                "overdue": reminders.get(row.patient_id, (0, 0))[1],
                "active_alerts": int(alerts.get(row.patient_id, 0)),
            }
            for row in rows
        ],
    }


def navigator_ids(session: Session) -> list[str]:
    """The navigator ids of the active navigator accounts: whom a patient can be assigned to."""
    found = session.scalars(
        select(UserRow.navigator_id)
        .where(UserRow.role == "navigator", UserRow.is_active, UserRow.navigator_id.is_not(None))
        .distinct()
    )
    return sorted(navigator_id for navigator_id in found if navigator_id)
