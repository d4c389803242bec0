"""Real faults: a worker SIGKILLed mid-batch, and Redis restarted empty with messages queued. The
clock's stalled-event sweep (``GIST_STALLED_AFTER_SECONDS``) brings every patient back; the stored
plans still equal the pure ones and no reminder is stored twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from models.rows import EventRow, ProcessingFailureRow, ReminderRow
from scheduler.app.wiring import queue_processing
from scheduler.operations.clock_jobs import ClockState, TickResult, tick
from scheduler.operations.repository import claim_day, stalled_patient_ids
from tasks.base import PROCESS_BATCH_SIZE, GistCelery, send_process
from tests.support.common import (
    assert_all_converged,
    by_patient,
    intake,
    pure_plan,
    read_cohort,
    stored_as_of,
    synthetic_events,
    utc_today,
    wait_until,
    write_jsonl,
)
from tests.support.services import Database, Pipeline, WorkerProcess, Workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


class Clock:
    """The clock's tick, driven by the test. The day's recompute is marked done up front, so
    whatever converges here was brought back by the stalled-event sweep alone."""

    def __init__(self, pipeline: Pipeline, app: GistCelery) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings()
        self.app = app
        self.state = ClockState()
        claim_day(pipeline.db.sessions, self.settings.today())
        self.results: list[TickResult] = []

    def tick(self) -> TickResult:
        result = tick(self.pipeline.db.sessions, self.settings, self._enqueue, self.state)
        assert result.has_lease
        assert result.recomputed is None
        self.results.append(result)
        return result

    def _enqueue(self, patient_id: str, force: bool) -> None:
        assert send_process(self.app, patient_id, force=force), "the broker refused the message"

    def run_until_processed(self, timeout: float) -> None:
        def done() -> bool:
            if unprocessed(self.pipeline) == 0:
                return True
            self.tick()
            return False

        wait_until(done, timeout=timeout, interval=0.5, message="every event to be processed")

    @property
    def requeued(self) -> set[str]:
        return {pid for result in self.results for pid in result.requeued}


def unprocessed(pipeline: Pipeline) -> int:
    return pipeline.db.count(EventRow, EventRow.processed_at.is_(None))


def reminder_rows(pipeline: Pipeline) -> tuple[int, int]:
    """(rows, distinct (patient, key) pairs)."""
    with pipeline.db.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(ReminderRow)) or 0
        pairs = select(ReminderRow.patient_id, ReminderRow.key).distinct().subquery()
        distinct = session.scalar(select(func.count()).select_from(pairs)) or 0
    return rows, distinct


def assert_converged_without_duplicates(
    pipeline: Pipeline, events: list[dict[str, Any]], days: set[dt.date]
) -> None:
    assert unprocessed(pipeline) == 0
    assert_all_converged(pipeline.db.sessions, events, days)
    rows, distinct = reminder_rows(pipeline)
    assert rows == distinct
    # Every patient's events were stored in one batch, so no intermediate plan ever existed: the
    # stored reminders are exactly the pure ones, row for row.
    expected = sum(
        len(pure_plan(objs, stored_as_of(pipeline.db.sessions, pid))["reminders"])
        for pid, objs in by_patient(events).items()
    )
    assert rows == expected


SPLIT = "a worker was lost running the batch; queueing each on its own"


def stuck(db: Database, *workers: WorkerProcess) -> bool:
    """Each worker is inside a task that cannot finish while :func:`processing_blocked` holds:
    its log shows a task received and not finished, and — on PostgreSQL, where it is visible — as
    many backends wait on the test's locks as there are workers. (On SQLite a task in flight is
    inside its first write or before it, which the held write lock keeps it from passing.)"""
    if not all(in_flight(w.log()) for w in workers):
        return False
    if db.backend == "sqlite":
        return True
    with db.engine.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return (conn.scalar(query) or 0) >= len(workers)


def in_flight(log: str) -> bool:
    """The worker's log shows a task received and not yet finished (prefetch 1, concurrency 1)."""
    return log.count("] received") > log.count("] succeeded") + log.count("] retry") + log.count("] raised")


def test_workers_killed_mid_batch_still_converge(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, tmp_path: Path
) -> None:
    """Two deaths in the middle of a cohort, each while a task is surely running: half the cohort
    is submitted and processed; the other half is stored, then queued while the test holds what
    every task needs first (the database's write lock, or the patients table against row locks),
    so both workers are stuck inside a ``patients.process_batch``. Worker A loses its pool
    process (SIGKILL; A's main process sees it and delivers the batch again, which then queues
    each patient on its own), worker B is SIGKILLed whole, main process and all, taking its
    unacknowledged message with it. A new worker starts; the clock's sweep re-queues what B held."""
    pipeline.stalled_after_seconds = 1
    first_day = utc_today()
    worker_a, worker_b = workers.start(count=2)
    events = synthetic_events(4 * PROCESS_BATCH_SIZE, seed=11)
    patients = sorted(by_patient(events))
    first = set(patients[: len(patients) // 2])
    early = [o for o in events if o["patient_id"] in first]
    late = [o for o in events if o["patient_id"] not in first]
    result = pipeline.gistsched("submit", str(write_jsonl(tmp_path / "first.jsonl", early)))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == len(early)
    wait_until(lambda: unprocessed(pipeline) == 0, timeout=60, message="the first half processed")
    assert intake(pipeline.db.sessions, late, first_day).accepted == len(late)  # stored, not queued

    with processing_blocked(pipeline.db):
        queued = queue_processing(pipeline.settings())(sorted({o["patient_id"] for o in late}))
        assert queued == len(patients) - len(first)  # in two batches: one for each worker
        wait_until(
            lambda: stuck(pipeline.db, worker_a, worker_b), timeout=30, message="both workers stuck in a task"
        )
        (pool_process,) = worker_a.pool_pids()
        os.kill(pool_process, signal.SIGKILL)
        worker_b.kill()
    assert unprocessed(pipeline) > 0
    (worker_c,) = workers.start(count=1)

    def settled() -> bool:  # A's batch came back, was split and processed; B's is gone with B
        split = any(SPLIT in w.log() for w in (worker_a, worker_c))
        return split and pipeline.queued() == 0 and idle(worker_a, worker_c)

    wait_until(settled, timeout=90, message="A's batch split and processed")
    wait_until(  # the last of the split messages may still be on their way
        lambda: len(unprocessed_patients(pipeline)) == PROCESS_BATCH_SIZE and idle(worker_a, worker_c),
        timeout=30,
        message="exactly B's batch left unprocessed",
    )
    lost = unprocessed_patients(pipeline)  # B was stuck before its one transaction
    clock = Clock(pipeline, celery_app)
    clock.run_until_processed(timeout=90)
    assert lost <= clock.requeued  # what the dead worker held came back through the sweep
    assert_converged_without_duplicates(pipeline, events, {first_day, utc_today()})
    assert "WorkerLostError" in worker_a.log()  # A's main process saw its pool process die…
    assert worker_a.is_running()  # …and carried on
    assert pipeline.db.count(ProcessingFailureRow, ProcessingFailureRow.resolved_at.is_(None)) == 0


@contextlib.contextmanager
def processing_blocked(db: Database) -> Iterator[None]:
    """Hold what every ``process_patient`` needs first: the patients table against row locks
    (PostgreSQL: ``EXCLUSIVE`` mode, which waits for the tasks in flight and then queues every
    ``FOR NO KEY UPDATE`` behind it; locking the rows one by one could wait behind batch after
    batch), or the write lock (SQLite, ``BEGIN IMMEDIATE``). Workers that take a task meanwhile
    wait inside it."""
    with db.engine.connect() as conn, conn.begin():
        if db.backend == "postgresql":
            conn.execute(text("LOCK TABLE patients IN EXCLUSIVE MODE"))
        yield


def idle(*workers: WorkerProcess) -> bool:
    """Every worker has finished each task its log shows received (nothing left in flight)."""
    return not any(in_flight(w.log()) for w in workers)


def unprocessed_patients(pipeline: Pipeline) -> set[str]:
    with pipeline.db.sessions() as session:
        query = select(EventRow.patient_id).where(EventRow.processed_at.is_(None)).distinct()
        return set(session.scalars(query))


def test_redis_restarted_empty_while_messages_are_queued(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, tmp_path: Path
) -> None:
    pipeline.stalled_after_seconds = 1
    first_day = utc_today()
    events = read_cohort()
    patients = set(by_patient(events))
    result = pipeline.gistsched("submit", str(write_jsonl(tmp_path / "cohort.jsonl", events)))
    assert result.returncode == 0, result.stderr
    assert pipeline.queued() == math.ceil(len(patients) / PROCESS_BATCH_SIZE)  # in batches

    pipeline.redis.restart_empty()  # every queued message is gone; the events are safe in the database
    assert pipeline.queued() == 0
    (worker,) = workers.start(count=1)  # ready: consuming the (empty) queue
    stall = dt.timedelta(seconds=pipeline.stalled_after_seconds)
    wait_until(  # every event is now older than GIST_STALLED_AFTER_SECONDS, so the sweep takes them
        lambda: set(stalled_patient_ids(pipeline.db.sessions, dt.datetime.now(dt.UTC) - stall)) == patients,
        timeout=30,
        message="the events to be stalled",
    )
    assert idle(worker)  # it received nothing: the messages died with Redis
    assert unprocessed(pipeline) == len(events)

    clock = Clock(pipeline, celery_app)
    assert set(clock.tick().requeued) == patients
    clock.run_until_processed(timeout=90)
    assert_converged_without_duplicates(pipeline, events, {first_day, utc_today()})
