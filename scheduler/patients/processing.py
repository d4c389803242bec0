"""Process a patient: rebuild from every stored event, plan with the core, reconcile — one
transaction, idempotent (style.md "recompute, then reconcile").

The patient row is locked first (``FOR NO KEY UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
serialises writers), so two workers on one patient run one after the other and the second sees
the first's result: no lost update. A burst of events costs one recompute: a task that finds no
unprocessed event of its patient (an earlier task already covered them) does nothing, unless it is
the clock's daily ``force`` recompute that moves statuses with the calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.rows import AlertRow, EventRow, NotificationRow, PatientRow, PatientStateRow, ReminderRow
from models.types import utcnow
from scheduler.config.profiles import profile_hash
from scheduler.domain.events import Event, PatientRegisteredData, parse_event
from scheduler.domain.model import Plan, Reminder
from scheduler.domain.plan import plan_follow_up
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.domain.reconcile import StoredAlert, StoredReminder, reconcile_alerts, reconcile_reminders
from scheduler.notifications import outbox
from scheduler.notifications.outbox import HELD, initial_notice_on


@dataclass(slots=True)
class ProcessResult:
    patient_id: str
    skipped: bool = False
    events: int = 0
    inserted: int = 0
    updated: int = 0
    cancelled: int = 0
    alerts_raised: int = 0
    alerts_resolved: int = 0


def process_patient(
    sessions: sessionmaker[Session],
    patient_id: str,
    today: dt.date,
    profile: Profile = DEFAULT_PROFILE,
    *,
    force: bool = False,
    digest: str | None = None,
) -> ProcessResult:
    """``digest`` is ``profile``'s content hash, recorded with the plan (computed when not given)."""
    digest = digest or profile_hash(profile)
    with sessions.begin() as session:
        patient = session.execute(
            # FOR NO KEY UPDATE: keeps two workers apart without blocking intake's FK checks
            select(PatientRow).where(PatientRow.patient_id == patient_id).with_for_update(key_share=True)
        ).scalar_one_or_none()
        if patient is None:
            return ProcessResult(patient_id, skipped=True)
        pending = session.scalars(
            select(EventRow.id)
            .where(EventRow.patient_id == patient_id, EventRow.processed_at.is_(None))
            .limit(1)
        ).first()
        if pending is None and not force:
            return ProcessResult(patient_id, skipped=True)
        rows = session.execute(
            select(EventRow.id, EventRow.payload).where(EventRow.patient_id == patient_id)
        ).all()
        events = [parse_event(payload) for _, payload in rows]
        result = ProcessResult(patient_id, events=len(events))
        relevant = [e for e in events if e.occurred_on <= today]
        if relevant:
            plan = plan_follow_up(relevant, today, profile)
            store_plan(session, patient, plan, relevant, today, result, profile, digest)
        ids = [row_id for row_id, _ in rows]
        now = utcnow()
        for start in range(0, len(ids), 500):
            session.execute(
                update(EventRow)
                .where(EventRow.id.in_(ids[start : start + 500]), EventRow.processed_at.is_(None))
                .values(processed_at=now)
            )
        return result


def store_plan(
    session: Session,
    patient: PatientRow,
    plan: Plan,
    events: list[Event],
    today: dt.date,
    result: ProcessResult,
    profile: Profile,
    digest: str,
) -> None:
    """Store ``plan`` (made from ``events`` under ``profile``, whose hash is ``digest``) for the
    locked ``patient``: state, reminders reconciled by key (with their notices), alerts; counts
    into ``result``."""
    now = utcnow()
    navigator_before = patient.navigator_id
    _update_contact(patient, events, plan)
    if patient.navigator_id != navigator_before:
        _copy_navigator(session, patient)
    state = session.get(PatientStateRow, patient.patient_id)
    therapy = plan.therapy.to_json() if plan.therapy else None
    if state is None:
        session.add(
            PatientStateRow(
                patient_id=patient.patient_id,
                as_of=today,
                stage=plan.stage,
                risk=plan.risk.to_json(),
                therapy=therapy,
                profile=plan.profile,
                profile_hash=digest,
                events_seen=len(events),
                computed_at=now,
            )
        )
    else:
        state.as_of, state.stage, state.risk, state.therapy = today, plan.stage, plan.risk.to_json(), therapy
        state.profile, state.profile_hash = plan.profile, digest
        state.events_seen, state.computed_at = len(events), now

    rows = {
        r.key: r
        for r in session.scalars(select(ReminderRow).where(ReminderRow.patient_id == patient.patient_id))
    }
    _mend_navigator(rows.values(), patient.navigator_id)
    stored = {key: _stored(r) for key, r in rows.items()}
    changes = reconcile_reminders(stored, plan.reminders)
    if changes.inserts:  # one executemany: a new patient brings dozens of reminders at once
        session.execute(
            insert(ReminderRow),
            [
                {
                    "patient_id": patient.patient_id,
                    "navigator_id": patient.navigator_id,
                    "revision": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                | _fields(reminder)
                | {
                    "notice_on": initial_notice_on(
                        reminder.kind, reminder.due_on, reminder.window_days, reminder.status, profile
                    )
                }
                for reminder in changes.inserts
            ],
        )
    for current, reminder in changes.updates:
        row = rows[current.key]
        before = (row.due_on, row.window_days, row.status)
        for name, value in _fields(reminder).items():
            setattr(row, name, value)
        row.revision += 1
        row.updated_at = now
        outbox.after_update(session, patient, row, before, today, profile)
    for current in changes.cancels:
        row = rows[current.key]
        row.status, row.cancelled_on = "cancelled", today
        row.revision += 1
        row.updated_at = now
        outbox.after_cancel(session, patient, row, today)
    result.inserted, result.updated, result.cancelled = (
        len(changes.inserts),
        len(changes.updates),
        len(changes.cancels),
    )

    active = {
        (a.rule, a.code): a
        for a in session.scalars(
            select(AlertRow).where(AlertRow.patient_id == patient.patient_id, AlertRow.is_active.is_(True))
        )
    }
    _mend_navigator(active.values(), patient.navigator_id)
    alert_changes = reconcile_alerts(
        (StoredAlert(a.rule, a.code, a.severity, a.message) for a in active.values()), plan.alerts
    )
    for alert in alert_changes.raised:
        session.add(
            AlertRow(
                patient_id=patient.patient_id,
                navigator_id=patient.navigator_id,
                code=alert.code,
                rule=alert.rule,
                severity=alert.severity,
                message=alert.message,
                citation=alert.citation,
                is_active=True,
                first_seen_at=now,
                updated_at=now,
            )
        )
    for existing, alert in alert_changes.updated:
        row_a = active[(existing.rule, existing.code)]
        row_a.severity, row_a.message, row_a.citation, row_a.updated_at = (
            alert.severity,
            alert.message,
            alert.citation,
            now,
        )
    for gone in alert_changes.resolved:
        row_a = active[(gone.rule, gone.code)]
        row_a.is_active, row_a.resolved_at, row_a.updated_at = False, now, now
    result.alerts_raised, result.alerts_resolved = len(alert_changes.raised), len(alert_changes.resolved)


def _copy_navigator(session: Session, patient: PatientRow) -> None:
    """The patient moved to another navigator (or got a first one): their reminders and alerts
    carry a copy of ``navigator_id`` (the worklist's index leads with it), rewritten here in the
    same transaction, so no worklist ever shows a patient to the wrong navigator or to none. The
    notices held while the patient had no navigator are released to be sent."""
    for row in (ReminderRow, AlertRow):
        session.execute(
            update(row)
            .where(row.patient_id == patient.patient_id)
            .values(navigator_id=patient.navigator_id)
            .execution_options(synchronize_session=False)
        )
    if patient.navigator_id is not None:
        session.execute(
            update(NotificationRow)
            .where(NotificationRow.patient_id == patient.patient_id, NotificationRow.status == HELD)
            .values(
                status="pending", navigator_id=patient.navigator_id, next_attempt_at=None, updated_at=utcnow()
            )
            .execution_options(synchronize_session=False)
        )


def _mend_navigator(rows: Iterable[ReminderRow | AlertRow], navigator_id: str | None) -> None:
    """A loaded reminder's or active alert's copy that drifted from the patient's (a hand edit, a
    bug) is written back: every recompute, the clock's daily one at the latest, mends it."""
    for row in rows:
        if row.navigator_id != navigator_id:
            row.navigator_id = navigator_id


def _update_contact(patient: PatientRow, events: list[Event], plan: Plan) -> None:
    """Contact details come from the latest registration event (the log is the truth)."""
    registrations = [e for e in events if isinstance(e.data, PatientRegisteredData)]
    if registrations:
        latest = max(registrations, key=lambda e: (e.occurred_on, e.event_id)).data
        assert isinstance(latest, PatientRegisteredData)
        patient.name, patient.email, patient.navigator_id = latest.name, latest.email, latest.navigator_id
        patient.timezone = latest.timezone or "UTC"
    patient.is_active = plan.stage != "ended"


def _stored(row: ReminderRow) -> StoredReminder:
    return StoredReminder(
        row.key,
        row.kind,
        row.due_on,
        row.window_days,
        row.status,
        row.rule,
        row.rationale,
        row.citation,
        row.completed_on,
        row.completed_by,
        row.cancelled_on,
        row.revision,
        row.overdue_since,
        row.missed,
        row.last_done_on,
    )


def _fields(reminder: Reminder) -> dict[str, Any]:
    return {
        "key": reminder.key,
        "kind": reminder.kind,
        "due_on": reminder.due_on,
        "window_days": reminder.window_days,
        "status": reminder.status,
        "rule": reminder.rule,
        "rationale": reminder.rationale,
        "citation": reminder.citation,
        "completed_on": reminder.completed_on,
        "completed_by": reminder.completed_by,
        "cancelled_on": reminder.cancelled_on,
        "overdue_since": reminder.overdue_since,
        "missed": reminder.missed,
        "last_done_on": reminder.last_done_on,
    }
