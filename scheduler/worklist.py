"""The navigator's worklist (issue 5; event-contract.md ``GET /api/worklist``): what needs doing,
for the patients the caller may see. Shared by the JSON API and the dashboard.

* ``overdue`` — open reminders past their window, oldest first;
* ``due_soon`` — reminders due now (window open, whatever their ``due_on``) and planned ones due
  by ``today + days``;
* ``alerts`` — active alerts, critical first, then warning, then info (unacknowledged first);
* ``failed_notifications`` — emails that finally failed (a bad address, no navigator email, a
  5xx), newest first: someone has to tell the patient another way.

Statuses are as the workers last stored them (the clock recomputes every patient daily).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from models.rows import AlertRow, NotificationRow, ReminderRow
from notifications.labels import label
from scheduler.access import Principal, visible_patients

DEFAULT_DAYS = 7
MAX_ITEMS = 500  # per section; the counts are exact


def worklist(
    session: Session,
    principal: Principal,
    today: dt.date,
    *,
    kind: str | None = None,
    severity: str | None = None,
    days: int = DEFAULT_DAYS,
    limit: int = MAX_ITEMS,
) -> dict[str, Any]:
    patients = visible_patients(principal).scalar_subquery()
    reminders = select(ReminderRow).where(ReminderRow.patient_id.in_(patients))
    if kind:
        reminders = reminders.where(ReminderRow.kind == kind)
    overdue_q = reminders.where(ReminderRow.status == "overdue")
    soon_q = reminders.where(  # every item due now (its window open), and planned ones coming up
        or_(
            ReminderRow.status == "due",
            and_(
                ReminderRow.status == "planned",
                ReminderRow.due_on <= today + dt.timedelta(days=days),
            ),
        )
    )
    rank = case({"critical": 0, "warning": 1}, value=AlertRow.severity, else_=2)
    alerts_q = select(AlertRow).where(AlertRow.patient_id.in_(patients), AlertRow.is_active.is_(True))
    if severity:
        alerts_q = alerts_q.where(AlertRow.severity == severity)
    failed_q = select(NotificationRow).where(NotificationRow.status == "failed")
    if not principal.sees_all:  # this navigator's patients, and their own digests (no patient on them)
        failed_q = failed_q.where(
            or_(
                NotificationRow.patient_id.in_(patients),
                NotificationRow.navigator_id == principal.navigator_id,
            )
        )

    def count(query: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    overdue = session.scalars(
        overdue_q.order_by(ReminderRow.due_on, ReminderRow.patient_id).limit(limit)
    ).all()
    soon = session.scalars(soon_q.order_by(ReminderRow.due_on, ReminderRow.patient_id).limit(limit)).all()
    alerts = session.scalars(
        alerts_q.order_by(rank, AlertRow.acknowledged_at.is_not(None), AlertRow.first_seen_at.desc()).limit(
            limit
        )
    ).all()
    failed = session.scalars(failed_q.order_by(NotificationRow.updated_at.desc()).limit(limit)).all()
    return {
        "as_of": today.isoformat(),
        "counts": {
            "overdue": count(overdue_q),
            "due_soon": count(soon_q),
            "alerts": count(alerts_q),
            "critical": count(alerts_q.where(AlertRow.severity == "critical")),
            "failed_notifications": count(failed_q),
        },
        "overdue": [reminder_json(r, today) for r in overdue],
        "due_soon": [reminder_json(r, today) for r in soon],
        "alerts": [alert_json(a) for a in alerts],
        "failed_notifications": [failure_json(n) for n in failed],
    }


def reminder_json(r: ReminderRow, today: dt.date) -> dict[str, Any]:
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "key": r.key,
        "kind": r.kind,
        "label": label(r.kind).summary,
        "due_on": r.due_on.isoformat(),
        "window_days": r.window_days,
        "days_overdue": max(0, (today - (r.due_on + dt.timedelta(days=r.window_days))).days),
        "status": r.status,
        "rule": r.rule,
        "rationale": r.rationale,
        "citation": r.citation,
    }


def alert_json(a: AlertRow) -> dict[str, Any]:
    return {
        "id": a.id,
        "patient_id": a.patient_id,
        "code": a.code,
        "severity": a.severity,
        "message": a.message,
        "rule": a.rule,
        "citation": a.citation,
        "first_seen_at": a.first_seen_at.isoformat(),
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
        "acknowledgement_note": a.acknowledgement_note,
    }


def failure_json(n: NotificationRow) -> dict[str, Any]:
    return {
        "id": n.id,
        "patient_id": n.patient_id,
        "kind": n.kind,
        "audience": n.audience,
        "due_on": n.due_on.isoformat() if n.due_on else None,
        "attempts": n.attempts,
        "error": n.last_error,
        "failed_at": n.updated_at.isoformat(),
    }
