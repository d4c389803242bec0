"""Process a patient: rebuild from every stored event, plan with the core, reconcile — one
transaction, idempotent (style.md "recompute, then reconcile").

The patient row is locked first (``FOR NO KEY UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
serialises writers), so two workers on one patient run one after the other and the second sees
the first's result: no lost update. A burst of events costs one recompute: a task that finds no
unprocessed event of its patient (an earlier task already covered them) does nothing, unless it is
a ``force`` recompute (the clock's, on the day the plan can change: ``recompute_on``). A run that
is not skipped closes the patient's open processing failures (known from the locking read) in the
same transaction, so the worklist never shows a failure for a plan that is stored, nor hides one
for a plan that is not; an unchanged plan writes nothing.

Storing a plan (:func:`store_plan`) is four steps: the contact details from the latest
registration (and the navigator's copy on the patient's rows when it changed), the computed state,
the reminders reconciled by key with their notices, the alerts reconciled by rule and code. A
patient never planned (no stored state) has no reminder, alert or notice to read, copy or release:
their first plan is only inserted. The patient row is written once, contact details and feed
revision together. The queries are in :mod:`scheduler.patients.repository`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.rows import AlertRow, PatientRow, PatientStateRow, ReminderRow
from models.statuses import ReminderStatus
from models.types import utcnow
from scheduler.config.planner_version import planner_hash
from scheduler.config.profiles import profile_hash
from scheduler.domain.events import Event, PatientRegisteredData, parse_event
from scheduler.domain.model import Plan, Reminder, Waiver
from scheduler.domain.plan import plan_follow_up
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.domain.reconcile import StoredAlert, StoredReminder, reconcile_alerts, reconcile_reminders
from scheduler.notifications import outbox
from scheduler.patients import queries, repository

RESWEEP_DAYS = 90


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
        (result,) = _process(session, [patient_id], today, profile, force=force, digest=digest)
        return result


def process_patients(
    sessions: sessionmaker[Session],
    patient_ids: Sequence[str],
    today: dt.date,
    profile: Profile = DEFAULT_PROFILE,
    *,
    force: bool = False,
    digest: str | None = None,
) -> list[ProcessResult]:
    """Process several patients in one transaction, each exactly as :func:`process_patient` would
    (``force``: recompute each even with nothing unprocessed, as the clock's daily run asks); the
    results in patient id order.

    The whole batch costs one transaction and a handful of statements (the locks, the logs, the
    stored states, the new reminders, the processed stamps); only a patient with a stored plan adds
    reads and writes of its own (its reminders and alerts, what changed). The patients are locked
    in sorted order, so two batches that share patients wait for each other instead of
    deadlocking. All or nothing: any error rolls the whole batch back and propagates; the caller
    then processes the patients one by one, so one patient's failure never holds back the others'
    plans (``tasks.patients.process_batch``).
    """
    digest = digest or profile_hash(profile)
    with sessions.begin() as session:
        return _process(session, patient_ids, today, profile, force=force, digest=digest)


def _process(
    session: Session,
    patient_ids: Sequence[str],
    today: dt.date,
    profile: Profile,
    *,
    force: bool,
    digest: str,
) -> list[ProcessResult]:
    """Inside the caller's transaction: lock the patients, keep those with something to process
    (all of them when ``force``), read their logs and stored states, plan and store each, then
    insert the new reminders and stamp the events read as processed, each in one statement."""
    ids = sorted(set(patient_ids))
    locked = repository.lock_patients(session, ids)
    todo = [pid for pid in ids if pid in locked]
    if not force:
        waiting = repository.patients_with_unprocessed_events(session, todo)
        todo = [pid for pid in todo if pid in waiting]
    logs = repository.event_logs(session, todo)
    states = repository.stored_states(session, todo)
    results = {pid: ProcessResult(pid, skipped=True) for pid in ids}
    new_reminders: list[dict[str, Any]] = []
    read: list[int] = []
    for pid in todo:
        rows = logs.get(pid, [])
        events = [parse_event(payload) for _, _, payload in rows]
        result = results[pid] = ProcessResult(pid, events=len(events))
        relevant = [e for e in events if e.occurred_on <= today]
        if relevant:
            # Every event, the later-dated ones too: the first of those bounds Plan.changes_on.
            plan = plan_follow_up(events, today, profile)
            new_reminders += store_plan(
                session, locked[pid].row, states.get(pid), plan, relevant, today, result, profile, digest
            )
        read += [row_id for row_id, done, _ in rows if not done]
    repository.insert_reminders(session, new_reminders)
    now = utcnow()
    repository.mark_processed(session, read, now)
    for pid in todo:
        if locked[pid].failing:
            queries.resolve_failures(session, pid, now)
    return [results[pid] for pid in ids]


def store_plan(
    session: Session,
    patient: PatientRow,
    state: PatientStateRow | None,
    plan: Plan,
    events: list[Event],
    today: dt.date,
    result: ProcessResult,
    profile: Profile,
    digest: str,
) -> list[dict[str, Any]]:
    """Store ``plan`` (made from ``events`` under ``profile``, whose hash is ``digest``) for the
    locked ``patient`` whose stored state is ``state`` (None: never planned): state (with the day to
    recompute it), reminders reconciled by key (with their notices), alerts; counts into
    ``result``. What is unchanged is not written. Returns the new reminder rows' values, for the
    caller to insert (a batch's in one statement: :func:`repository.insert_reminders`)."""
    now = utcnow()
    has_plan = state is not None
    navigator_before = patient.navigator_id
    _update_contact(session, patient, events, plan, has_plan=has_plan)
    repository.save_state(
        session,
        patient.patient_id,
        plan,
        state,
        digest=digest,
        planner=planner_hash(),
        recompute_on=recompute_on(plan),
        events_seen=len(events),
        now=now,
    )
    navigator_moved = patient.navigator_id != navigator_before
    inserts = _store_reminders(session, patient, plan, today, result, profile, now, has_plan, navigator_moved)
    _store_alerts(session, patient, plan, result, now, has_plan=has_plan)
    return inserts


def recompute_on(plan: Plan) -> dt.date:
    """The day the clock recomputes the patient with no new event: the plan's change day, and at
    the latest :data:`RESWEEP_DAYS` after ``as_of`` (a bound on how long a plan can stand
    unexamined, whatever the change day says)."""
    latest = plan.as_of + dt.timedelta(days=RESWEEP_DAYS)
    return latest if plan.changes_on is None else min(plan.changes_on, latest)


def _update_contact(
    session: Session, patient: PatientRow, events: list[Event], plan: Plan, *, has_plan: bool
) -> None:
    """Contact details come from the latest registration event (the log is the truth). A patient
    who moved to another navigator (or got a first one) has the copies of ``navigator_id`` on
    their reminders and alerts rewritten (the worklist's index leads with it), in the same
    transaction, so no worklist ever shows a patient to the wrong navigator or to none; the
    notices held while they had no navigator are released to be sent. A patient without a stored
    plan (``has_plan`` false) has neither copies nor notices."""
    navigator_before = patient.navigator_id
    registrations = [e for e in events if isinstance(e.data, PatientRegisteredData)]
    if registrations:
        latest = max(registrations, key=lambda e: (e.occurred_on, e.event_id)).data
        assert isinstance(latest, PatientRegisteredData)
        patient.name, patient.email, patient.navigator_id = latest.name, latest.email, latest.navigator_id
        patient.phone = latest.phone
        patient.timezone = latest.timezone or "UTC"
    patient.is_active = plan.stage != "ended"
    if has_plan and patient.navigator_id != navigator_before:
        repository.copy_navigator(session, patient.patient_id, patient.navigator_id)
        outbox.release_held(session, patient)


def _store_reminders(
    session: Session,
    patient: PatientRow,
    plan: Plan,
    today: dt.date,
    result: ProcessResult,
    profile: Profile,
    now: dt.datetime,
    has_plan: bool,
    navigator_moved: bool,
) -> list[dict[str, Any]]:
    """Reconcile the stored reminders (none without a stored plan: not read) with the plan's by
    key: insert the new, update the moved (revision + 1), cancel the gone (never delete); keep the
    outbox in step with each change. When any row changes or the patient moved to another
    navigator, the patient's feed revision is raised first, so the patient row goes out in one
    UPDATE with the contact details at the next flush. Returns the new rows' values, to insert."""
    rows = repository.reminders_by_key(session, patient.patient_id) if has_plan else {}
    mended = _mend_navigator(rows.values(), patient.navigator_id)
    changes = reconcile_reminders({key: _stored(r) for key, r in rows.items()}, plan.reminders)
    if mended or navigator_moved or changes.inserts or changes.updates or changes.cancels:
        patient.feed_revision = repository.fresh_feed_revision(patient.feed_revision or 0, now)
    for current, reminder in changes.updates:
        row = rows[current.key]
        before = outbox.Before.of(row)
        for name, value in _fields(reminder).items():
            setattr(row, name, value)
        row.revision += 1
        row.updated_at = now
        outbox.after_update(session, patient, row, before, today, profile)
    for current in changes.cancels:
        row = rows[current.key]
        row.status, row.cancelled_on = ReminderStatus.CANCELLED, today
        row.revision += 1
        row.updated_at = now
        outbox.after_cancel(session, patient, row, today)
    result.inserted, result.updated, result.cancelled = (
        len(changes.inserts),
        len(changes.updates),
        len(changes.cancels),
    )
    return [_new_reminder(patient, reminder, profile, now) for reminder in changes.inserts]


def _store_alerts(
    session: Session,
    patient: PatientRow,
    plan: Plan,
    result: ProcessResult,
    now: dt.datetime,
    *,
    has_plan: bool,
) -> None:
    """Reconcile the active alerts (none without a stored plan: not read) with the plan's by
    (rule, code): raise the new, update the changed, resolve the gone."""
    active = repository.active_alerts(session, patient.patient_id) if has_plan else {}
    _mend_navigator(active.values(), patient.navigator_id)
    changes = reconcile_alerts(
        (StoredAlert(a.rule, a.code, a.severity, a.message) for a in active.values()), plan.alerts
    )
    for alert in changes.raised:
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
    for existing, alert in changes.updated:
        row = active[(existing.rule, existing.code)]
        row.severity, row.message, row.citation, row.updated_at = (
            alert.severity,
            alert.message,
            alert.citation,
            now,
        )
    for gone in changes.resolved:
        row = active[(gone.rule, gone.code)]
        row.is_active, row.resolved_at, row.updated_at = False, now, now
    result.alerts_raised, result.alerts_resolved = len(changes.raised), len(changes.resolved)


def _mend_navigator(rows: Iterable[ReminderRow | AlertRow], navigator_id: str | None) -> bool:
    """A loaded reminder's or active alert's copy that drifted from the patient's (a hand edit, a
    bug) is written back: every recompute mends it. True when one was."""
    mended = False
    for row in rows:
        if row.navigator_id != navigator_id:
            row.navigator_id, mended = navigator_id, True
    return mended


def _new_reminder(
    patient: PatientRow, reminder: Reminder, profile: Profile, now: dt.datetime
) -> dict[str, Any]:
    """The values of a new reminder row: the plan's fields, revision 1 and its first notice day."""
    return (
        {
            "patient_id": patient.patient_id,
            "navigator_id": patient.navigator_id,
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        | _fields(reminder)
        | {
            "notice_on": outbox.initial_notice_on(
                reminder.kind, reminder.due_on, reminder.window_days, reminder.status, profile
            )
        }
    )


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
        row.appointment_on,
        row.appointment_place,
        row.snoozed_until,
        _waiver(row.waiver),
    )


def _waiver(stored: dict[str, Any] | None) -> Waiver | None:
    """A stored waiver (``Waiver.to_json``'s shape) as the plan's value, to compare them."""
    if stored is None:
        return None
    done_on = stored.get("done_on")
    return Waiver(
        dt.date.fromisoformat(stored["waived_on"]),
        stored["reason"],
        dt.date.fromisoformat(done_on) if done_on else None,
        stored.get("note"),
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
        "overdue_from": reminder.due_on + dt.timedelta(days=reminder.window_days + 1),
        "appointment_on": reminder.appointment_on,
        "appointment_place": reminder.appointment_place,
        "snoozed_until": reminder.snoozed_until,
        "waiver": reminder.waiver.to_json() if reminder.waiver is not None else None,
    }
