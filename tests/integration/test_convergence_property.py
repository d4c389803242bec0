"""Property (service level, no broker): whatever the interleaving and repetition of intake and
processing, the stored plan converges to the pure plan of all the events; processing again then
changes nothing (style.md "recompute, then reconcile")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.rows import EventRow, ReminderRow
from scheduler.domain.events import Event
from scheduler.patients.processing import process_patient
from scheduler.patients.stored import stored_plan
from tests.histories import PATIENT_ID, patient_histories
from tests.support.common import assert_matches_pure, intake, pure_plan
from tests.support.services import Database

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

# Histories end by 2026-06-30; processing days run from then to FINAL_DAY, never backwards.
FIRST_PROCESSING_DAY = dt.date(2026, 6, 30)
FINAL_DAY = dt.date(2026, 11, 27)

Schedule = tuple[list[Event], list[list[int]], list[tuple[Any, ...]]]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """A history, a random split of it into chunks, and a sequence of operations: ("intake", chunk)
    (again and again, in any order) and ("process", day offset, forced) — the worker's task, or
    the clock's daily recompute when forced."""
    events = draw(patient_histories())
    n_chunks = draw(st.integers(1, 4))
    owner = draw(st.lists(st.integers(0, n_chunks - 1), min_size=len(events), max_size=len(events)))
    chunks = [[i for i, o in enumerate(owner) if o == c] for c in range(n_chunks)]
    span = (FINAL_DAY - FIRST_PROCESSING_DAY).days
    ops = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("intake"), st.integers(0, n_chunks - 1)),
                st.tuples(st.just("process"), st.integers(0, span), st.booleans()),
            ),
            max_size=10,
        )
    )
    return events, chunks, ops


def revisions(db: Database) -> dict[str, tuple[int, str]]:
    with db.sessions() as session:
        rows = session.execute(select(ReminderRow.key, ReminderRow.revision, ReminderRow.status)).all()
    return {key: (revision, status) for key, revision, status in rows}


@given(schedule=schedules())
@settings(
    max_examples=25,
    # No shrinking: each example drives a real database, and shrinking one failure took minutes.
    # The report shows the failing schedule as drawn (a history of at most 30 events).
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
def test_any_interleaving_of_intake_and_processing_converges(db: Database, schedule: Schedule) -> None:
    db.wipe()  # one example's database is never the next one's
    events, chunks, ops = schedule
    raw = [e.to_json() for e in events]
    submitted: set[int] = set()
    last_day = FIRST_PROCESSING_DAY

    for op, arg, *forced in ops:
        if op == "intake":
            result = intake(db.sessions, [raw[i] for i in chunks[arg]], FINAL_DAY)
            new = len(set(chunks[arg]) - submitted)
            assert (result.accepted, result.duplicates, result.rejected) == (new, len(chunks[arg]) - new, [])
            submitted |= set(chunks[arg])
        else:
            last_day = max(last_day, FIRST_PROCESSING_DAY + dt.timedelta(days=arg))  # the calendar moves on
            process_patient(db.sessions, PATIENT_ID, last_day, force=forced[0])

    for chunk in chunks:  # everything arrives in the end (repeats are harmless duplicates)
        intake(db.sessions, [raw[i] for i in chunk], FINAL_DAY)
    if process_patient(db.sessions, PATIENT_ID, FINAL_DAY).skipped:  # the task: nothing was new…
        process_patient(db.sessions, PATIENT_ID, FINAL_DAY, force=True)  # …so the clock's daily recompute
    with db.sessions() as session:
        assert session.scalars(select(EventRow.id).where(EventRow.processed_at.is_(None))).all() == []
        assert_matches_pure(stored_plan(session, PATIENT_ID), pure_plan(raw, FINAL_DAY))

    before = revisions(db)
    again = process_patient(db.sessions, PATIENT_ID, FINAL_DAY, force=True)
    assert (again.inserted, again.updated, again.cancelled) == (0, 0, 0)
    assert (again.alerts_raised, again.alerts_resolved) == (0, 0)
    assert revisions(db) == before
    assert process_patient(db.sessions, PATIENT_ID, FINAL_DAY).skipped  # nothing new: no recompute


def test_a_late_pathology_report_leaves_no_stale_completed_reminder(db: Database) -> None:
    """Found by the property above: a scan recorded while the pathology report is still missing
    completes a reminder of the provisional schedule; once the report arrives that schedule never
    existed in the pure plan, so the stored plan must not keep it as a completed item."""
    first = [
        event("e1", "diagnosis", "2022-03-01", site="stomach", size_cm=5.1),
        event("e2", "resection", "2023-05-29", margin="R0"),
        event("e3", "imaging", "2023-08-23", modality="ct"),
    ]
    late = [event("e4", "pathology", "2023-06-12", size_cm=10.0, mitoses_per_5mm2=16)]
    intake(db.sessions, first, FINAL_DAY)
    process_patient(db.sessions, PATIENT_ID, FINAL_DAY)
    intake(db.sessions, late, FINAL_DAY)
    process_patient(db.sessions, PATIENT_ID, FINAL_DAY)
    with db.sessions() as session:
        assert_matches_pure(stored_plan(session, PATIENT_ID), pure_plan(first + late, FINAL_DAY))


def event(event_id: str, kind: str, day: str, **data: Any) -> dict[str, Any]:
    return {"event_id": event_id, "patient_id": PATIENT_ID, "type": kind, "occurred_on": day, "data": data}
