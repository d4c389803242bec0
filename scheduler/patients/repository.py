"""The queries of the patient use cases: the event log, the patient rows, the stored plan (state,
reminders, active alerts). Every function works in the caller's session (the caller owns the
transaction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, literal, or_, select, text, update
from sqlalchemy.orm import Session

from models.db import insert_rows
from models.rows import AlertRow, EventRow, PatientRow, PatientStateRow, ProcessingFailureRow, ReminderRow
from models.statuses import DUE_REMINDER_SQL, ReminderStatus
from scheduler.domain.model import Plan

CHUNK = 500  # ids per IN list
STATUS_BATCH = 5_000  # planned reminders moved a statement by the daily status update
DUE_REMINDER = text(f"reminders.{DUE_REMINDER_SQL}")


class NewEvent(NamedTuple):
    event_id: str
    patient_id: str
    type: str
    occurred_on: dt.date
    payload: dict[str, Any]  # the event exactly as received
    fingerprint: str


# ---- the event log -------------------------------------------------------------------------------


def active_patient_ids(session: Session) -> list[str]:
    """Patients whose follow-up is running (stored, not ended), by id."""
    active = select(PatientRow.patient_id).where(PatientRow.is_active.is_(True))
    return list(session.scalars(active.order_by(PatientRow.patient_id)))


def due_patient_ids(session: Session, day: dt.date) -> list[str]:
    """Active patients whose plan can change by ``day`` with no new event: their stored
    ``recompute_on`` has come, is unknown, or no plan is stored yet (only future-dated events)."""
    due = (
        select(PatientRow.patient_id)
        .outerjoin(PatientStateRow, PatientStateRow.patient_id == PatientRow.patient_id)
        .where(
            PatientRow.is_active.is_(True),
            or_(PatientStateRow.recompute_on.is_(None), PatientStateRow.recompute_on <= day),
        )
    )
    return list(session.scalars(due.order_by(PatientRow.patient_id)))


def event_fingerprints(session: Session, event_ids: Sequence[str]) -> dict[str, str]:
    """The stored fingerprint of each of ``event_ids`` that is stored."""
    stored: dict[str, str] = {}
    for start in range(0, len(event_ids), CHUNK):
        chunk = event_ids[start : start + CHUNK]
        query = select(EventRow.event_id, EventRow.fingerprint).where(EventRow.event_id.in_(chunk))
        stored.update((event_id, fp) for event_id, fp in session.execute(query))
    return stored


def enrol(session: Session, patient_ids: Sequence[str]) -> None:
    """A patient row for each of ``patient_ids`` not stored yet (flushed: events refer to them)."""
    if not patient_ids:
        return
    known_patients = set(
        session.scalars(select(PatientRow.patient_id).where(PatientRow.patient_id.in_(patient_ids)))
    )
    session.add_all(PatientRow(patient_id=p) for p in patient_ids if p not in known_patients)
    session.flush()


def add_events(session: Session, events: Iterable[NewEvent], received_at: dt.datetime) -> None:
    """One stream of rows (:func:`insert_rows`): a submit or import brings thousands at once."""
    insert_rows(session, EventRow, [event._asdict() | {"received_at": received_at} for event in events])


def unprocessed(session: Session, event_ids: Sequence[str]) -> int:
    """How many of ``event_ids`` are stored but not yet folded into a plan."""
    total = 0
    for start in range(0, len(event_ids), CHUNK):
        chunk = event_ids[start : start + CHUNK]
        total += len(
            session.scalars(
                select(EventRow.id).where(EventRow.event_id.in_(chunk), EventRow.processed_at.is_(None))
            ).all()
        )
    return total


def patients_with_unprocessed_events(session: Session, patient_ids: Sequence[str]) -> set[str]:
    """Those of ``patient_ids`` with a stored event not yet folded into a plan."""
    found: set[str] = set()
    for start in range(0, len(patient_ids), CHUNK):
        query = select(EventRow.patient_id).where(
            EventRow.patient_id.in_(patient_ids[start : start + CHUNK]), EventRow.processed_at.is_(None)
        )
        found.update(session.scalars(query.distinct()))
    return found


EventLog = list[tuple[int, bool, dict[str, Any]]]  # (row id, whether processed, payload), in id order


def event_logs(session: Session, patient_ids: Sequence[str]) -> dict[str, EventLog]:
    """Every stored event of each of ``patient_ids`` (a patient without one is left out)."""
    logs: dict[str, EventLog] = {}
    for start in range(0, len(patient_ids), CHUNK):
        query = (
            select(EventRow.patient_id, EventRow.id, EventRow.processed_at, EventRow.payload)
            .where(EventRow.patient_id.in_(patient_ids[start : start + CHUNK]))
            .order_by(EventRow.id)
        )
        for patient_id, row_id, processed_at, payload in session.execute(query):
            logs.setdefault(patient_id, []).append((row_id, processed_at is not None, payload))
    return logs


def mark_processed(session: Session, row_ids: Sequence[int], now: dt.datetime) -> None:
    """Stamp those of ``row_ids`` not processed yet as processed at ``now`` (none: no statement)."""
    for start in range(0, len(row_ids), CHUNK):
        session.execute(
            update(EventRow)
            .where(EventRow.id.in_(row_ids[start : start + CHUNK]), EventRow.processed_at.is_(None))
            .values(processed_at=now)
        )


# ---- the patient and the stored plan -------------------------------------------------------------


class LockedPatient(NamedTuple):
    row: PatientRow
    failing: bool  # the patient has processing failures not yet resolved


def lock_patients(session: Session, patient_ids: Sequence[str]) -> dict[str, LockedPatient]:
    """The stored ones of ``patient_ids``, their rows locked for this transaction in patient id
    order (``FOR NO KEY UPDATE`` on PostgreSQL: keeps two workers apart without blocking intake's
    foreign-key checks; sorted, so two transactions that share patients never deadlock), each with
    whether the patient has open processing failures, read in the same statement, so that a run
    which stores a plan closes them and a run with none to close writes nothing for them."""
    failing = (
        select(ProcessingFailureRow.id)
        .where(
            ProcessingFailureRow.patient_id == PatientRow.patient_id,
            ProcessingFailureRow.resolved_at.is_(None),
        )
        .exists()
    )
    ordered = sorted(set(patient_ids))
    locked: dict[str, LockedPatient] = {}
    for start in range(0, len(ordered), CHUNK):
        query = (
            select(PatientRow, failing)
            .where(PatientRow.patient_id.in_(ordered[start : start + CHUNK]))
            .order_by(PatientRow.patient_id)
            .with_for_update(key_share=True, of=PatientRow)
        )
        for row, is_failing in session.execute(query):
            locked[row.patient_id] = LockedPatient(row, bool(is_failing))
    return locked


def stored_state(session: Session, patient_id: str) -> PatientStateRow | None:
    """The patient's computed state; None for a patient never planned. Only a stored plan writes
    reminders and alerts, always with its state, and no state is ever deleted: a patient without one
    has no reminder, alert or notice yet."""
    return session.get(PatientStateRow, patient_id)


def stored_states(session: Session, patient_ids: Sequence[str]) -> dict[str, PatientStateRow]:
    """:func:`stored_state` of each of ``patient_ids`` that has one."""
    states: dict[str, PatientStateRow] = {}
    for start in range(0, len(patient_ids), CHUNK):
        query = select(PatientStateRow).where(
            PatientStateRow.patient_id.in_(patient_ids[start : start + CHUNK])
        )
        states.update((state.patient_id, state) for state in session.scalars(query))
    return states


def save_state(
    session: Session,
    patient_id: str,
    plan: Plan,
    state: PatientStateRow | None,
    *,
    digest: str,
    planner: str,
    recompute_on: dt.date | None,
    events_seen: int,
    now: dt.datetime,
) -> None:
    """Insert or update the patient's computed state (``state``, the stored one, from
    :func:`stored_state`): the day it was computed, risk, stage, therapy, the profile and planner
    that made it and the day to recompute it. A state equal to the stored one is not written (a
    recompute the same day that changed nothing writes nothing)."""
    values: dict[str, Any] = {
        "as_of": plan.as_of,
        "stage": plan.stage,
        "risk": plan.risk.to_json(),
        "therapy": plan.therapy.to_json() if plan.therapy else None,
        "profile": plan.profile,
        "profile_hash": digest,
        "planner_hash": planner,
        "recompute_on": recompute_on,
        "events_seen": events_seen,
    }
    if state is None:
        session.add(PatientStateRow(patient_id=patient_id, computed_at=now, **values))
    elif any(getattr(state, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(state, name, value)
        state.computed_at = now


def reminders_by_key(session: Session, patient_id: str) -> dict[str, ReminderRow]:
    return {
        r.key: r for r in session.scalars(select(ReminderRow).where(ReminderRow.patient_id == patient_id))
    }


def insert_reminders(session: Session, values: list[dict[str, Any]]) -> None:
    """New reminder rows, every one with the same keys (a None sent as NULL): a new patient, or a
    batch of them, brings dozens to hundreds at once, so they go in one stream (:func:`insert_rows`)."""
    insert_rows(session, ReminderRow, values)


def active_alerts(session: Session, patient_id: str) -> dict[tuple[str, str], AlertRow]:
    """The patient's active alerts by (rule, code)."""
    return {
        (a.rule, a.code): a
        for a in session.scalars(
            select(AlertRow).where(AlertRow.patient_id == patient_id, AlertRow.is_active.is_(True))
        )
    }


def fresh_feed_revision(current: int, now: dt.datetime) -> int:
    """A feed revision above ``current`` and, clocks agreeing, above every one given out before
    ``now`` (microseconds since the epoch): a navigator feed's ETag (count, sum and maximum over its
    patients) then changes with any change of any of them, a patient moving in or out included."""
    return max(current + 1, _microseconds(now))


def advance_statuses(session: Session, today: dt.date, now: dt.datetime) -> int:
    """Move the open reminders that the date alone moves on ``today`` (planned → due → overdue), as a
    recompute would (``scheduler.domain.plan._status``), with a new revision; raise their patients'
    feed revisions. Returns how many reminders moved.

    The work grows with what moves, not with the cohort: planned reminders due by today are taken
    in batches of :data:`STATUS_BATCH` in ``due_on`` order from ``ix_reminders_status_due``, due
    ones past their window from the partial ``ix_reminders_due_overdue_from``, each in a statement
    of its own. PostgreSQL estimates ``status = 'planned' AND due_on <= today`` as if the two were
    independent (a large share of the table, while almost no planned item is due by today), and
    for that estimate a sequential scan of every reminder looks cheaper than the index; under
    ``ORDER BY due_on LIMIT`` the index range is the cheap plan whatever the estimate."""
    _fill_overdue_from(session)
    moved: list[str] = []
    while True:
        batch = _move(
            session,
            ReminderRow.id.in_(
                select(ReminderRow.id)
                .where(ReminderRow.status == ReminderStatus.PLANNED, ReminderRow.due_on <= today)
                .order_by(ReminderRow.due_on)
                .limit(STATUS_BATCH)
                .scalar_subquery()
            ),
            today,
            now,
        )
        moved += batch
        if len(batch) < STATUS_BATCH:
            break
    # The partial index's predicate verbatim, so both databases can match it to the index.
    moved += _move(session, and_(DUE_REMINDER, ReminderRow.overdue_from <= today), today, now)
    _raise_feed_revisions(session, sorted(set(moved)), now)
    return len(moved)


def _move(session: Session, which: ColumnElement[bool], today: dt.date, now: dt.datetime) -> list[str]:
    """Set the status of the reminders ``which`` selects from their ``overdue_from`` (overdue from
    that day, due before it); the patients of the rows moved."""
    return list(
        session.execute(
            update(ReminderRow)
            .where(which)
            .values(
                status=case(
                    (ReminderRow.overdue_from <= today, literal(ReminderStatus.OVERDUE.value)),
                    else_=literal(ReminderStatus.DUE.value),
                ),
                revision=ReminderRow.revision + 1,
                updated_at=now,
            )
            .returning(ReminderRow.patient_id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )


def _raise_feed_revisions(session: Session, patients: list[str], now: dt.datetime) -> None:
    stamp = _microseconds(now)
    for start in range(0, len(patients), CHUNK):
        session.execute(
            update(PatientRow)
            .where(PatientRow.patient_id.in_(patients[start : start + CHUNK]))
            .values(
                feed_revision=case(
                    (PatientRow.feed_revision >= stamp, PatientRow.feed_revision + 1), else_=literal(stamp)
                )
            )
            .execution_options(synchronize_session=False)
        )


def _fill_overdue_from(session: Session) -> None:
    """Fill in ``overdue_from`` where a row lacks it (one written by an older release's worker)."""
    missing = session.execute(
        select(ReminderRow.id, ReminderRow.due_on, ReminderRow.window_days).where(
            ReminderRow.overdue_from.is_(None)
        )
    ).all()
    if missing:
        session.execute(
            update(ReminderRow),
            [
                {"id": row_id, "overdue_from": due_on + dt.timedelta(days=window + 1)}
                for row_id, due_on, window in missing
            ],
        )


def _microseconds(now: dt.datetime) -> int:
    return int(now.timestamp() * 1_000_000)


def copy_navigator(session: Session, patient_id: str, navigator_id: str | None) -> None:
    """Rewrite the copy of the patient's ``navigator_id`` on all their reminders and alerts."""
    for row in (ReminderRow, AlertRow):
        session.execute(
            update(row)
            .where(row.patient_id == patient_id)
            .values(navigator_id=navigator_id)
            .execution_options(synchronize_session=False)
        )
