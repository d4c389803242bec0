"""Read the stored plan of a patient in the contract's plan shape (``gistsched patient``, HTTP).

It is what the workers last reconciled: the pure plan's keys, plus the reminders reconciliation
cancelled (so calendars can remove them), each with its ``revision``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.rows import AlertRow, EventRow, PatientRow, PatientStateRow, ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES
from scheduler.domain.model import SEVERITY_RANK


def stored_plan(session: Session, patient_id: str) -> dict[str, Any] | None:
    """The stored plan, or None when the patient has no processed plan yet."""
    state = session.get(PatientStateRow, patient_id)
    if state is None:
        return None
    patient = session.get(PatientRow, patient_id)
    reminders = session.scalars(
        select(ReminderRow)
        .where(ReminderRow.patient_id == patient_id)
        .order_by(ReminderRow.due_on, ReminderRow.rule, ReminderRow.key)
    ).all()
    alerts = sorted(
        session.scalars(
            select(AlertRow).where(AlertRow.patient_id == patient_id, AlertRow.is_active.is_(True))
        ),
        key=lambda a: (-SEVERITY_RANK.get(a.severity, 0), a.rule, a.code),
    )
    return {
        "patient_id": patient_id,
        "as_of": state.as_of.isoformat(),
        "profile": state.profile,
        "profile_hash": state.profile_hash,
        "risk": state.risk,
        "stage": state.stage,
        "therapy": state.therapy,
        "alerts": [
            {
                "code": a.code,
                "severity": a.severity,
                "message": a.message,
                "rule": a.rule,
                "citation": a.citation,
            }
            for a in alerts
        ],
        "reminders": [stored_reminder_json(r) for r in reminders],
        "navigator_id": patient.navigator_id if patient else None,
        "computed_at": state.computed_at.isoformat(),
    }


def stored_reminder_json(r: ReminderRow) -> dict[str, Any]:
    """A stored reminder in the contract's shape (``overdue_since``, ``missed`` and
    ``last_done_on`` on open items only; ``booking`` and ``snoozed_until`` on open items and
    ``waiver`` on waived ones when set, as the plan gives them), with its ``revision``."""
    out: dict[str, Any] = {
        "key": r.key,
        "kind": r.kind,
        "due_on": r.due_on.isoformat(),
        "window_days": r.window_days,
        "status": r.status,
        "rule": r.rule,
        "rationale": r.rationale,
        "citation": r.citation,
        "completed_on": r.completed_on.isoformat() if r.completed_on else None,
        "completed_by": r.completed_by,
        "cancelled_on": r.cancelled_on.isoformat() if r.cancelled_on else None,
    }
    if r.status in OPEN_REMINDER_STATUSES:
        out["overdue_since"] = r.overdue_since.isoformat() if r.overdue_since else None
        out["missed"] = r.missed or 0
        out["last_done_on"] = r.last_done_on.isoformat() if r.last_done_on else None
        if r.appointment_on is not None:
            out["booking"] = {"appointment_on": r.appointment_on.isoformat(), "place": r.appointment_place}
        if r.snoozed_until is not None:
            out["snoozed_until"] = r.snoozed_until.isoformat()
    if r.waiver is not None:
        out["waiver"] = r.waiver
    out["revision"] = r.revision
    return out


def pending_events(session: Session, patient_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(EventRow)
            .where(EventRow.patient_id == patient_id, EventRow.processed_at.is_(None))
        )
        or 0
    )


def patient_exists(session: Session, patient_id: str) -> bool:
    return session.get(PatientRow, patient_id) is not None
