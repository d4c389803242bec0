"""Events of one patient processed by two workers at once: no lost update.

First with the interleaving forced (a processing transaction held open at the worst moment, just
after it read the events, while new events arrive and a second worker starts on the patient), then
with two real worker processes racing on one patient's events arriving one by one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import event, text

from models.rows import EventRow
from scheduler.patients.processing import ProcessResult, process_patient
from scheduler.patients.stored import stored_plan
from tasks.base import GistCelery, send_process
from tests.support.common import (
    assert_matches_pure,
    intake,
    pure_plan,
    stored_as_of,
    synthetic_events,
    utc_today,
    wait_until,
)
from tests.support.services import Database, Pipeline, Workers
from tests.support.staff import AS_OF

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TODAY = AS_OF  # after every synthetic event (they end on 2026-11-26)


def long_history(min_events: int = 30) -> list[dict[str, Any]]:
    """One synthetic patient with many events, in date order."""
    events = synthetic_events(12, seed=3)
    patients: dict[str, list[dict[str, Any]]] = {}
    for obj in events:
        patients.setdefault(obj["patient_id"], []).append(obj)
    history = max(patients.values(), key=len)
    assert len(history) >= min_events
    return sorted(history, key=lambda e: e["occurred_on"])


class Threads:
    """Threads whose exceptions are re-raised when joined."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, name: str, target: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float = 30) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} is still running"
        if self.errors:
            raise self.errors[0]


def test_events_arriving_while_a_patient_is_processed_are_not_lost(db: Database) -> None:
    history = long_history()
    pid = history[0]["patient_id"]
    n = len(history)
    first, second, late = history[: n // 2], history[n // 2 : 3 * n // 4], history[3 * n // 4 :]
    intake(db.sessions, first, TODAY)
    process_patient(db.sessions, pid, TODAY)
    intake(db.sessions, second, TODAY)

    paused, release = threading.Event(), threading.Event()

    def hold_worker_a(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        """Worker A stops right after reading the patient's events, its transaction still open."""
        if threading.current_thread().name == "worker-a" and "events.payload" in statement:
            paused.set()
            release.wait(30)

    results: dict[str, ProcessResult] = {}
    threads = Threads()

    def worker(name: str) -> Callable[[], None]:
        def run() -> None:
            results[name] = process_patient(db.sessions, pid, TODAY)

        return run

    running: dict[str, str] = {}  # thread name → the statement it is executing now

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        running[threading.current_thread().name] = statement

    def after(_conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        running.pop(threading.current_thread().name, None)

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    event.listen(db.engine, "after_cursor_execute", hold_worker_a)
    try:
        threads.start("worker-a", worker("a"))
        assert paused.wait(10), "worker A never read the events"

        # New events arrive now; their intake queues worker B, which must wait for A's lock.
        def queue_worker_b(_patient_ids: Sequence[str]) -> None:
            threads.start("worker-b", worker("b"))

        threads.start("intake", lambda: intake(db.sessions, late, TODAY, queue_worker_b))
        # The signal that the others now wait on A: the intake or worker B is inside a statement
        # that cannot return while A holds the patient (SQLite: its BEGIN IMMEDIATE; PostgreSQL:
        # a backend waiting on a lock).
        wait_until(lambda: blocked_on_a(db, running), timeout=30, message="the intake or B to wait on A")
        assert "b" not in results, "worker B ran while worker A held the patient"
        release.set()
        threads.join()
    finally:
        release.set()
        event.remove(db.engine, "after_cursor_execute", hold_worker_a)
        event.remove(db.engine, "after_cursor_execute", after)
        event.remove(db.engine, "before_cursor_execute", before)

    assert results["a"].events == len(first) + len(second)  # A planned without the late events…
    assert not results["b"].skipped
    assert results["b"].events == n  # …and B, after A, saw all of them
    assert db.count(EventRow, EventRow.processed_at.is_(None)) == 0
    with db.sessions() as session:
        assert_matches_pure(stored_plan(session, pid), pure_plan(history, TODAY))


def blocked_on_a(db: Database, running: dict[str, str]) -> bool:
    """The intake or worker B is inside a statement that waits for worker A's lock."""
    waiting = [running.get(name, "") for name in ("intake", "worker-b")]
    if db.backend == "sqlite":
        return any(statement.startswith("BEGIN IMMEDIATE") for statement in waiting)
    if not any(waiting):
        return False
    with db.engine.connect() as conn:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(conn.scalar(query))


def test_two_workers_racing_on_one_patient_lose_no_update(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery
) -> None:
    history = long_history()
    pid = history[0]["patient_id"]
    first_day = utc_today()
    w1, w2 = workers.start(count=2)

    def queue(patient_ids: Sequence[str]) -> None:
        for patient_id in patient_ids:
            assert send_process(celery_app, patient_id)

    for obj in history:  # one event at a time, each queueing the patient: tasks overlap on both workers
        intake(pipeline.db.sessions, [obj], first_day, queue)

    def drained() -> bool:
        return pipeline.db.count(EventRow, EventRow.processed_at.is_(None)) == 0 and pipeline.queued() == 0

    wait_until(drained, timeout=60, interval=0.1, message="every event to be processed")
    for worker in (w1, w2):
        assert "] received" in worker.log(), f"{worker.name} took no task: the race did not happen"
    as_of = stored_as_of(pipeline.db.sessions, pid)
    assert as_of in {first_day, utc_today()}
    with pipeline.db.sessions() as session:
        assert_matches_pure(stored_plan(session, pid), pure_plan(history, as_of))
