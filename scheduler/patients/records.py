"""A patient's record for staff: the stored plan, the event timeline, contact details, notes,
and the writes a navigator makes from it (acknowledge an alert). Each read and write is audited
in its own transaction; callers check scope first (:func:`scheduler.staff.access.may_see`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.rows import AlertRow, EventRow, PatientRow
from models.types import utcnow
from scheduler.patients.fhir_intake import open_review_items
from scheduler.patients.notes import notes_of
from scheduler.patients.stored import pending_events, stored_plan
from scheduler.staff import audit
from scheduler.staff.access import Principal, may_see

MAX_NOTE_CHARS = 2000


def patient_record(session: Session, patient_id: str) -> dict[str, Any] | None:
    patient = session.get(PatientRow, patient_id)
    if patient is None:
        return None
    events = session.scalars(
        select(EventRow).where(EventRow.patient_id == patient_id).order_by(EventRow.occurred_on, EventRow.id)
    ).all()
    alerts = session.scalars(
        select(AlertRow).where(AlertRow.patient_id == patient_id).order_by(AlertRow.first_seen_at.desc())
    ).all()
    return {
        "patient_id": patient_id,
        "name": patient.name,
        "email": patient.email,
        "phone": patient.phone,
        "navigator_id": patient.navigator_id,
        "timezone": patient.timezone,
        "is_active": patient.is_active,
        "plan": stored_plan(session, patient_id),
        "pending_events": pending_events(session, patient_id),
        "events": [
            {
                "event_id": e.event_id,
                "type": e.type,
                "occurred_on": e.occurred_on.isoformat(),
                "data": e.payload.get("data", {}),
                "processed": e.processed_at is not None,
            }
            for e in events
        ],
        "alerts": [
            {
                "id": a.id,
                "code": a.code,
                "severity": a.severity,
                "message": a.message,
                "rule": a.rule,
                "citation": a.citation,
                "is_active": a.is_active,
                "first_seen_at": a.first_seen_at.isoformat(),
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
                "acknowledged_by": a.acknowledged_by,
                "acknowledgement_note": a.acknowledgement_note,
            }
            for a in alerts
        ],
        "fhir_review": open_review_items(session, patient_id),
        "notes": notes_of(session, patient_id),
    }


def read_record(
    sessions: sessionmaker[Session], principal: Principal, patient_id: str, client: str | None
) -> dict[str, Any] | None:
    """The record if the caller may see it (None otherwise: "not found"), audited."""
    with sessions.begin() as session:
        if not may_see(session, principal, patient_id):
            return None
        record = patient_record(session, patient_id)
        audit.record(session, principal.actor(client), "read_patient", patient_id)
        return record


def read_plan(
    sessions: sessionmaker[Session], principal: Principal, patient_id: str, client: str | None
) -> dict[str, Any] | None:
    """The stored plan (``GET /api/patients/{id}``) if the caller may see it, audited."""
    with sessions.begin() as session:
        if not may_see(session, principal, patient_id):
            return None
        plan = stored_plan(session, patient_id)
        audit.record(session, principal.actor(client), "read_patient", patient_id, detail="plan")
        return plan


class AcknowledgeError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def acknowledge_alert(
    sessions: sessionmaker[Session],
    principal: Principal,
    alert_id: int,
    note: str,
    client: str | None,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """Record that the caller saw alert ``alert_id`` and what was done; None if not visible."""
    note = note.strip()
    if not note:
        raise AcknowledgeError("note", "say what was done (e.g. 'patient called, labs booked')")
    if "\x00" in note:
        raise AcknowledgeError("note", "contains a NUL character")
    if len(note) > MAX_NOTE_CHARS:
        raise AcknowledgeError("note", f"at most {MAX_NOTE_CHARS} characters")
    with sessions.begin() as session:
        alert = session.get(AlertRow, alert_id)
        if alert is None or not may_see(session, principal, alert.patient_id):
            return None
        alert.acknowledged_at = now or utcnow()
        alert.acknowledged_by = principal.username
        alert.acknowledgement_note = note
        audit.record(
            session,
            principal.actor(client),
            "acknowledge_alert",
            alert.patient_id,
            detail=f"alert {alert.id}",
        )
        return {"id": alert.id, "patient_id": alert.patient_id, "acknowledged_by": principal.username}
