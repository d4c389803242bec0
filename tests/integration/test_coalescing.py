"""Coalescing (tasks/pending.py), on a real Redis and real workers: a burst of separate submissions
for a patient queues one ``patients.process``, and no event is left behind when submissions race
the worker that clears the mark.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from scheduler.app.wiring import queue_processing
from scheduler.config.settings import Settings
from tasks.pending import PendingMarks
from tests.support.common import (
    assert_matches_pure,
    histories_until_today,
    intake,
    pure_plan,
    unprocessed_count,
    utc_today,
    wait_until,
)
from tests.support.services import Pipeline, Workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def assert_converged(pipeline: Pipeline, patients: dict[str, list[dict[str, Any]]]) -> None:
    from scheduler.patients.stored import stored_plan

    with pipeline.db.sessions() as session:
        for pid, objs in patients.items():
            stored = stored_plan(session, pid)
            assert stored is not None, pid
            assert_matches_pure(stored, pure_plan(objs, dt.date.fromisoformat(stored["as_of"])))


def test_a_burst_of_submissions_queues_one_message_per_patient(pipeline: Pipeline, workers: Workers) -> None:
    patients = histories_until_today(3, seed=21, prefix="A")
    enqueue = queue_processing(pipeline.settings())
    for objs in patients.values():  # one submission per event, every patient's events in a row
        for obj in objs:
            intake(pipeline.db.sessions, [obj], utc_today(), enqueue)
    assert pipeline.queued() == len(patients)

    workers.start(count=2)
    wait_until(lambda: unprocessed_count(pipeline.db.sessions) == 0, timeout=60, message="burst processed")
    assert_converged(pipeline, patients)

    late = histories_until_today(3, seed=22, prefix="B")
    for objs in late.values():  # the marks were cleared: a later submission is queued again
        intake(pipeline.db.sessions, objs, utc_today(), enqueue)
    wait_until(lambda: unprocessed_count(pipeline.db.sessions) == 0, timeout=60, message="second burst")
    assert_converged(pipeline, late)


def test_submissions_racing_the_workers_leave_no_event_behind(pipeline: Pipeline, workers: Workers) -> None:
    """Two submitters post one patient's events one by one while two workers process it: whatever
    the interleaving of marks, clears and reads, every event ends processed without the clock."""
    workers.start(count=2)
    patients = histories_until_today(4, seed=23, prefix="C")
    enqueue = queue_processing(pipeline.settings())
    streams = [[o for i, objs in enumerate(patients.values()) if i % 2 == k for o in objs] for k in (0, 1)]

    def submit(objs: list[dict[str, Any]]) -> None:
        for obj in objs:
            intake(pipeline.db.sessions, [obj], utc_today(), enqueue)

    threads = [threading.Thread(target=submit, args=(stream,)) for stream in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: unprocessed_count(pipeline.db.sessions) == 0, timeout=60, message="all processed")
    assert_converged(pipeline, patients)


def test_without_a_redis_broker_every_submission_sends(tmp_path: Any) -> None:
    marks = PendingMarks(Settings(env="test", data_dir=tmp_path, broker_url=None))
    assert marks.mark_many(["P1"]) == ["P1"]
    assert marks.mark_many(["P1"]) == ["P1"]
    marks.clear_many(["P1"])


def test_an_unreachable_redis_sends_rather_than_holds(tmp_path: Any) -> None:
    marks = PendingMarks(Settings(env="test", data_dir=tmp_path, broker_url="redis://127.0.0.1:9/0"))
    assert marks.mark_many(["P1"]) == ["P1"]
    assert marks.mark_many(["P1"]) == ["P1"]
    marks.clear_many(["P1"])
