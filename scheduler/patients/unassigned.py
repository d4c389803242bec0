"""The unassigned queue: patients whose events arrived before a registration gave them a navigator.

Their events are stored and their plan is computed like anyone's, but no navigator sees them on a
worklist and no email goes out for them (the clock writes no notice for a patient without a
navigator, and one written earlier is held: scheduler/notifications/dispatch.py,
scheduler/notifications/sending.py) until an admin or an integration account registers them.
Admins see this queue (``GET /api/unassigned``, the dashboard's "Unassigned" page).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scheduler.patients import queries


def unassigned_patients(session: Session, limit: int) -> dict[str, Any]:
    """``{"count": n, "patients": [...]}``: the oldest first, each with its number of events, when
    the first arrived, its open reminders (overdue among them) and active alerts."""
    count = queries.count_unassigned(session)
    rows = queries.unassigned_events(session, limit)
    ids = [row.patient_id for row in rows]
    reminders = queries.open_reminder_counts(session, ids)
    alerts = queries.active_alert_counts(session, ids)
    return {
        "count": count,
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
    return sorted(navigator_id for navigator_id in queries.navigator_ids(session) if navigator_id)
