"""What processing a patient writes (SQLite and PostgreSQL): a first plan is only inserted, with the
patient row written once; a later recompute that moves the patient to another navigator still
rewrites every copy; an unchanged plan sends no write; a run closes the patient's open failures in
its own transaction, a skipped one leaves them open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from models.rows import AlertRow, PatientRow, ProcessingFailureRow, ReminderRow
from scheduler.patients.failures import record_failure
from scheduler.patients.processing import process_patient
from scheduler.patients.stored import stored_plan
from tasks.base import PROCESS
from tests.support.common import assert_matches_pure, by_patient, intake, pure_plan, read_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

PATIENT = "P06"  # registered to nav-ben, with reminders and two alerts as of AS_OF


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The statements sent to the database inside the block, ``BEGIN`` left out."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() != "BEGIN":
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def copies(db: Database) -> set[str | None]:
    """The navigator ids copied onto the patient's reminders and alerts."""
    with db.sessions() as session:
        return set(
            session.scalars(select(ReminderRow.navigator_id).where(ReminderRow.patient_id == PATIENT))
        ) | set(session.scalars(select(AlertRow.navigator_id).where(AlertRow.patient_id == PATIENT)))


def test_a_first_plan_is_inserted_and_the_patient_row_written_once(db: Database) -> None:
    history = by_patient(read_cohort())[PATIENT]
    intake(db.sessions, history, AS_OF)
    with statements(db) as seen:
        result = process_patient(db.sessions, PATIENT, AS_OF)
    assert result.inserted > 0
    assert result.alerts_raised > 0
    updated = [s.split()[1] for s in seen if s.startswith("UPDATE")]
    assert updated == ["patients", "events"], seen
    reads = [s for s in seen if s.startswith("SELECT")]
    assert not [s for s in reads if any(f"FROM {t} " in s + " " for t in ("reminders", "alerts"))], reads
    with db.sessions() as session:
        assert_matches_pure(stored_plan(session, PATIENT), pure_plan(history, AS_OF))
        patient = session.get(PatientRow, PATIENT)
        assert patient is not None
        assert patient.navigator_id == "nav-ben"
        assert (patient.feed_revision or 0) > 0
    assert copies(db) == {"nav-ben"}


def test_a_move_to_another_navigator_after_the_first_plan_rewrites_every_copy(db: Database) -> None:
    history = by_patient(read_cohort())[PATIENT]
    intake(db.sessions, history, AS_OF)
    process_patient(db.sessions, PATIENT, AS_OF)
    with db.sessions() as session:
        before = session.get(PatientRow, PATIENT)
        assert before is not None
        revision = before.feed_revision or 0
    registration = max(
        (e for e in history if e["type"] == "patient_registered"), key=lambda e: e["occurred_on"]
    )
    moved = registration | {
        "event_id": f"{PATIENT}-moved",
        "occurred_on": AS_OF.isoformat(),
        "data": registration["data"] | {"navigator_id": "nav-ana"},
    }
    intake(db.sessions, [moved], AS_OF)
    process_patient(db.sessions, PATIENT, AS_OF)
    assert copies(db) == {"nav-ana"}
    with db.sessions() as session:
        after = session.get(PatientRow, PATIENT)
        assert after is not None
        assert after.navigator_id == "nav-ana"
        assert (after.feed_revision or 0) > revision
        assert_matches_pure(stored_plan(session, PATIENT), pure_plan([*history, moved], AS_OF))


def writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}]


def test_an_unchanged_plan_sends_no_write(db: Database) -> None:
    history = by_patient(read_cohort())[PATIENT]
    intake(db.sessions, history, AS_OF)
    process_patient(db.sessions, PATIENT, AS_OF)
    with statements(db) as seen:
        result = process_patient(db.sessions, PATIENT, AS_OF, force=True)
    assert not result.skipped
    assert writes(seen) == [], seen


def open_failures(db: Database) -> int:
    return db.count(ProcessingFailureRow, ProcessingFailureRow.resolved_at.is_(None))


def test_a_run_closes_the_open_failures_and_a_skipped_one_does_not(db: Database) -> None:
    history = by_patient(read_cohort())[PATIENT]
    intake(db.sessions, history, AS_OF)
    record_failure(db.sessions, PATIENT, PROCESS, "OperationalError: gone", 3)
    process_patient(db.sessions, PATIENT, AS_OF)
    assert open_failures(db) == 0
    record_failure(db.sessions, PATIENT, PROCESS, "OperationalError: gone again", 1)
    assert process_patient(db.sessions, PATIENT, AS_OF).skipped  # nothing new: no run
    assert open_failures(db) == 1
    with statements(db) as seen:
        process_patient(db.sessions, PATIENT, AS_OF, force=True)  # the plan itself is unchanged
    assert open_failures(db) == 0
    assert [s.split()[1] for s in writes(seen)] == ["processing_failures"], seen
