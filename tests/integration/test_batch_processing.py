"""Processing several patients in one transaction (``process_patients``, the
``patients.process_batch`` task intake queues for a submit of several patients) and the bulk row
writes under it (``insert_rows``: COPY on PostgreSQL), on both backends and with real workers.
"""

from __future__ import annotations

import base64
import json
import math

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models.db import insert_rows
from models.rows import EventRow, PatientStateRow, ProcessingFailureRow, ReminderRow
from models.types import utcnow
from scheduler.app.wiring import queue_processing
from scheduler.domain.events import EventError
from scheduler.patients.processing import process_patient, process_patients
from scheduler.patients.stored import stored_plan
from tasks.base import PROCESS, PROCESS_BATCH, PROCESS_BATCH_SIZE, QUEUE
from tests.support.common import (
    assert_matches_pure,
    histories_until_today,
    intake,
    pure_plan,
    unprocessed_count,
    utc_today,
    wait_until,
)
from tests.support.services import Database, Pipeline, Workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def poison(db: Database, patient_id: str) -> None:
    """Make one stored event of the patient unreadable: processing it raises, every time."""
    with db.sessions.begin() as session:
        first = session.scalars(select(EventRow.id).where(EventRow.patient_id == patient_id).limit(1)).one()
        session.execute(update(EventRow).where(EventRow.id == first).values(payload={"event_id": "broken"}))


def test_a_batch_stores_what_each_patient_alone_would(db: Database) -> None:
    patients = histories_until_today(6, seed=31)
    intake(db.sessions, [o for objs in patients.values() for o in objs], utc_today())

    results = process_patients(db.sessions, list(reversed(patients)), utc_today())

    assert [r.patient_id for r in results] == sorted(patients)  # locked in sorted order
    assert all(not r.skipped and r.inserted > 0 for r in results)
    with db.sessions() as session:
        for pid, objs in patients.items():
            assert_matches_pure(stored_plan(session, pid), pure_plan(objs, utc_today()))
    assert unprocessed_count(db.sessions) == 0
    again = process_patients(db.sessions, list(patients), utc_today())
    assert all(r.skipped for r in again)  # nothing left to process: nothing written


def test_a_failing_patient_rolls_the_whole_batch_back(db: Database) -> None:
    patients = histories_until_today(3, seed=32)
    intake(db.sessions, [o for objs in patients.values() for o in objs], utc_today())
    bad = sorted(patients)[-1]  # the last one locked: the others were already stored in the batch
    poison(db, bad)

    with pytest.raises(EventError):
        process_patients(db.sessions, list(patients), utc_today())

    assert db.count(PatientStateRow) == 0
    assert db.count(ReminderRow) == 0
    assert unprocessed_count(db.sessions) == sum(len(objs) for objs in patients.values())
    for pid in sorted(patients)[:-1]:  # one by one, the others go through
        assert not process_patient(db.sessions, pid, utc_today()).skipped


def test_insert_rows_stores_none_as_null_and_raises_integrity_errors(db: Database) -> None:
    patients = histories_until_today(1, seed=33)
    intake(db.sessions, next(iter(patients.values())), utc_today())
    pid = next(iter(patients))
    process_patient(db.sessions, pid, utc_today())
    with db.sessions() as session:
        stored = session.scalars(select(ReminderRow).where(ReminderRow.patient_id == pid)).all()
        assert stored
        assert all(r.waiver is None for r in stored)
        assert session.scalar(select(ReminderRow.id).where(ReminderRow.waiver.is_(None)).limit(1)) is not None
        assert all(r.created_at.tzinfo is not None for r in stored)
        event = session.scalars(select(EventRow).where(EventRow.patient_id == pid).limit(1)).one()
        row = {
            "event_id": event.event_id,  # already stored: the unique constraint refuses it
            "patient_id": pid,
            "type": event.type,
            "occurred_on": event.occurred_on,
            "payload": event.payload,
            "fingerprint": event.fingerprint,
            "received_at": utcnow(),
        }
    with pytest.raises(IntegrityError), db.sessions.begin() as session:
        insert_rows(session, EventRow, [row])
    if db.backend == "postgresql":  # COPY would leave a client-side default unapplied: refused
        with pytest.raises(ValueError, match="received_at"), db.sessions.begin() as session:
            insert_rows(session, EventRow, [{k: v for k, v in row.items() if k != "received_at"}])


def queued_batches(pipeline: Pipeline) -> list[list[str]]:
    """The patients of each processing message waiting in the queue (one for ``patients.process``)."""
    with pipeline.redis.client() as client:
        raw = client.lrange(QUEUE, 0, -1)
    batches = []
    for message in map(json.loads, raw):
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        task = message["headers"]["task"]
        if task in (PROCESS, PROCESS_BATCH):
            batches.append(args[0] if task == PROCESS_BATCH else [args[0]])
    return batches


def test_intake_queues_even_batches_and_coalesces_them(pipeline: Pipeline) -> None:
    patients = histories_until_today(PROCESS_BATCH_SIZE + 5, seed=34)
    enqueue = queue_processing(pipeline.settings())
    intake(pipeline.db.sessions, [o for objs in patients.values() for o in objs], utc_today(), enqueue)
    batches = queued_batches(pipeline)
    assert len(batches) == math.ceil(len(patients) / PROCESS_BATCH_SIZE) == 2
    assert sorted(map(len, batches)) == [len(patients) // 2, len(patients) - len(patients) // 2]
    assert sorted(pid for batch in batches for pid in batch) == sorted(patients)
    later = [o | {"event_id": o["event_id"] + "-again"} for o in next(iter(patients.values()))[:1]]
    intake(pipeline.db.sessions, later, utc_today(), enqueue)
    assert len(queued_batches(pipeline)) == 2  # its batch still waits: nothing more queued
    (alone,) = histories_until_today(1, seed=36, prefix="ALONE-").items()
    intake(pipeline.db.sessions, alone[1], utc_today(), enqueue)
    assert [alone[0]] in queued_batches(pipeline)  # one patient: a patients.process of its own


def test_a_poisoned_patient_does_not_hold_back_its_batch(pipeline: Pipeline, workers: Workers) -> None:
    """The batch fails, the task queues each patient on its own: the others are processed, the
    poisoned one ends as a failure row for the worklist (the task's failure policy)."""
    patients = histories_until_today(PROCESS_BATCH_SIZE, seed=35)
    intake(pipeline.db.sessions, [o for objs in patients.values() for o in objs], utc_today())
    bad = sorted(patients)[len(patients) // 2]
    poison(pipeline.db, bad)
    queue_processing(pipeline.settings())(sorted(patients))
    assert pipeline.queued() == 1

    (worker,) = workers.start(count=1)

    def settled() -> bool:
        with pipeline.db.sessions() as session:
            left = set(session.scalars(select(EventRow.patient_id).where(EventRow.processed_at.is_(None))))
        return left == {bad} and pipeline.db.count(ProcessingFailureRow) == 1

    wait_until(settled, timeout=90, message="the others processed, the poisoned one failed")
    with pipeline.db.sessions() as session:
        for pid, objs in patients.items():
            if pid != bad:
                assert_matches_pure(stored_plan(session, pid), pure_plan(objs, utc_today()))
        failure = session.scalars(select(ProcessingFailureRow)).one()
    assert failure.patient_id == bad
    assert stored_plan_missing(pipeline, bad)
    assert f"{PROCESS_BATCH} of {len(patients)} patient(s)" in worker.log()


def stored_plan_missing(pipeline: Pipeline, patient_id: str) -> bool:
    with pipeline.db.sessions() as session:
        return session.get(PatientStateRow, patient_id) is None


def test_the_clock_queues_its_daily_run_in_forced_batches(pipeline: Pipeline, workers: Workers) -> None:
    """``tasks.clock`` queues the day's recomputes as ``patients.process_batch`` messages with
    ``force``: patients with nothing unprocessed are recomputed all the same."""
    from tasks.clock import tick_once

    patients = histories_until_today(5, seed=37)
    intake(pipeline.db.sessions, [o for objs in patients.values() for o in objs], utc_today())
    process_patients(pipeline.db.sessions, list(patients), utc_today())
    settings = pipeline.settings().model_copy(update={"daily_recompute": "all"})
    result = tick_once(settings)
    assert result.recomputed == tuple(sorted(patients))
    assert queued_batches(pipeline) == [sorted(patients)]

    (worker,) = workers.start(count=1)
    wait_until(
        lambda: pipeline.queued() == 0 and "5 processed" in worker.log(), timeout=60, message="the run"
    )
    assert f"{PROCESS_BATCH}: 5 patient(s), 5 processed" in worker.log()
