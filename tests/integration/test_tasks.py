"""The Celery shell without a server: its configuration, the retry and failure policy, and the
embedded transport's claim (several processes draining one queue get every message exactly once).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.db import is_transient, make_engine, make_sessionmaker
from models.migrate import upgrade
from models.rows import PatientRow, ProcessingFailureRow
from models.types import utcnow
from scheduler.config.settings import Settings
from scheduler.patients import queries
from scheduler.patients.failures import record_failure
from tasks.app import make_celery, worker_argv
from tasks.base import NOOP, PROCESS, PROCESS_BATCH, RECOMPUTE_ALL, SEND
from tasks.embedded import Transport, transport_options
from tasks.patients import MAX_BACKOFF_SECONDS, backoff_seconds

pytestmark = pytest.mark.integration


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"env": "test", "data_dir": tmp_path, "database_url": None, "broker_url": None}
    return Settings(**(values | overrides))


# ---- configuration ------------------------------------------------------------------------------


def test_app_is_json_only_acks_late_and_names_its_tasks(tmp_path: Path) -> None:
    app = make_celery(settings_for(tmp_path, task_max_retries=3))
    conf = app.conf
    assert (conf.task_serializer, conf.result_serializer, list(conf.accept_content)) == (
        "json",
        "json",
        ["json"],
    )
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.task_ignore_result
    assert conf.worker_prefetch_multiplier == 1
    assert {PROCESS, RECOMPUTE_ALL, NOOP} <= set(app.tasks)
    process = app.tasks[PROCESS]
    assert (process.max_retries, process.retry_on_worker_lost, process.acks_late) == (3, True, True)
    assert process.default_retry_delay <= 5  # never a long countdown (style.md)
    # A batch whose worker died comes back once (retries = 1), and is then split into one
    # patients.process per patient: the poison, if any, meets the policy above on its own.
    batch = app.tasks[PROCESS_BATCH]
    assert (batch.max_retries, batch.retry_on_worker_lost, batch.acks_late, batch.reject_on_worker_lost) == (
        1, True, True, True,
    )  # fmt: skip
    # Acknowledged on start: a late-acknowledged send is terminated when the worker loses the
    # broker, after the SMTP server may have taken the message (docs/reliability.md, finding 3).
    assert app.tasks[SEND].acks_late is False


def test_a_sender_queues_the_same_message_without_importing_the_task_modules(tmp_path: Path) -> None:
    """``gistsched submit`` and the web service only queue by name: their app has the worker's
    configuration but not the task modules (the notification and processing stack), and a message
    it queues is the one a worker's app would queue."""
    script = f"""
import json, sys
from pathlib import Path
from kombu import Connection
from scheduler.config.settings import Settings
from tasks.app import enqueue_process, make_celery
from tasks.base import QUEUE
settings = Settings(env="test", data_dir=Path({str(tmp_path)!r}), database_url=None, broker_url=None)
enqueue_process("P01", settings, force=True)
loaded = sorted(m for m in ("tasks.notifications", "tasks.patients", "scheduler.notifications.sending")
                if m in sys.modules)
options = make_celery(settings, with_tasks=False).conf.broker_transport_options
with Connection(transport="tasks.embedded:Transport", transport_options=options) as conn:
    message = conn.SimpleQueue(QUEUE).get(timeout=5)
    print(json.dumps({{"loaded": loaded, "task": message.headers["task"], "body": message.decode()}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["loaded"] == []
    assert found["task"] == PROCESS
    assert found["body"][0] == ["P01"]
    assert found["body"][1] == {"force": True}
    sender, worker = (
        make_celery(settings_for(tmp_path), with_tasks=False),
        make_celery(settings_for(tmp_path)),
    )
    assert PROCESS not in sender.tasks
    assert PROCESS in worker.tasks
    keys = ("broker_url", "broker_transport", "task_default_queue", "task_serializer", "accept_content")
    assert {k: sender.conf[k] for k in keys} == {k: worker.conf[k] for k in keys}


def test_embedded_broker_uses_folders_under_the_data_dir(tmp_path: Path) -> None:
    conf = make_celery(settings_for(tmp_path)).conf
    assert conf.broker_transport == "tasks.embedded:Transport"
    folders = conf.broker_transport_options
    for key in ("data_folder_in", "processed_folder", "staging_folder", "control_folder"):
        assert Path(folders[key]).is_dir()
        assert Path(folders[key]).is_relative_to(tmp_path.resolve())
    assert conf.worker_enable_remote_control is False


def test_redis_broker_gets_a_visibility_timeout_longer_than_any_retry(tmp_path: Path) -> None:
    conf = make_celery(settings_for(tmp_path, broker_url="redis://127.0.0.1:6379/9")).conf
    assert conf.broker_url == "redis://127.0.0.1:6379/9"
    assert conf.broker_transport_options["visibility_timeout"] > 10 * MAX_BACKOFF_SECONDS


def test_worker_argv_names_the_node_and_the_pool(tmp_path: Path) -> None:
    argv = worker_argv(settings_for(tmp_path, worker_name="w1", worker_concurrency=3))
    assert argv[0] == "worker"
    assert "--hostname=w1@%h" in argv
    assert "--concurrency=3" in argv
    assert "--pool=prefork" in argv


# ---- retry policy -------------------------------------------------------------------------------


@pytest.mark.parametrize("retries", range(8))
def test_backoff_grows_and_stays_within_thirty_seconds(retries: int) -> None:
    rng = random.Random(retries)
    ceiling = min(MAX_BACKOFF_SECONDS, 2.0 ** (retries + 1))
    for _ in range(50):
        assert ceiling / 2 <= backoff_seconds(retries, rng) <= ceiling <= MAX_BACKOFF_SECONDS


def _operational(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(_operational("database is locked"), True, id="sqlite-locked"),
        pytest.param(_operational("server closed the connection unexpectedly"), True, id="connection-lost"),
        pytest.param(_operational("no such table: events"), False, id="schema-missing"),
        pytest.param(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")), False, id="integrity"),
        pytest.param(ValueError("bad event"), False, id="not-a-database-error"),
    ],
)
def test_transient_errors_are_told_from_permanent_ones(error: BaseException, expected: bool) -> None:
    assert is_transient(error) is expected


def test_postgres_serialization_failures_and_deadlocks_are_transient() -> None:
    import psycopg.errors as pg
    from sqlalchemy.exc import DBAPIError

    for orig in (pg.SerializationFailure("x"), pg.DeadlockDetected("x")):
        wrapped = DBAPIError.instance("UPDATE", {}, orig, pg.Error)
        assert is_transient(wrapped), type(orig)


# ---- failure rows -------------------------------------------------------------------------------


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'tasks.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_repeated_failures_add_up_in_one_open_row_until_resolved(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(PatientRow(patient_id="P1"))
    record_failure(sessions, "P1", PROCESS, "ValueError: boom", 6)
    record_failure(sessions, "P1", PROCESS, "ValueError: boom again", 1)
    with sessions() as session:
        rows = session.scalars(select(ProcessingFailureRow)).all()
    assert [(r.attempts, r.error, r.resolved_at) for r in rows] == [(7, "ValueError: boom again", None)]
    for closed in (1, 0):  # as the next successful run does, in its plan's transaction
        with sessions.begin() as session:
            assert queries.resolve_failures(session, "P1", utcnow()) == closed
    record_failure(sessions, "P1", PROCESS, "ValueError: later", 1)  # a new episode: a new row
    with sessions() as session:
        assert len(session.scalars(select(ProcessingFailureRow)).all()) == 2


# ---- the embedded transport ---------------------------------------------------------------------


def _drain(folder: str, queue: str, out: Any) -> None:
    with _connection(folder) as conn:
        simple = conn.SimpleQueue(queue)
        got: list[int] = []
        misses = 0
        while misses < 20:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                misses += 1
                continue
            misses = 0
            got.append(message.payload["n"])
            message.ack()
        simple.close()
        out.put(got)


def _connection(folder: str) -> Connection:
    options = transport_options(Path(folder)) | {"polling_interval": 0.01}
    return Connection("filesystem://localhost/", transport=Transport, transport_options=options)


def test_competing_consumers_each_message_once(tmp_path: Path) -> None:
    folder, queue, total = str(tmp_path / "broker"), "q", 400
    with _connection(folder) as conn:
        simple = conn.SimpleQueue(queue)
        for n in range(total):
            simple.put({"n": n, "at": dt.date(2026, 11, 27).isoformat()}, serializer="json")
        simple.close()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    consumers = [context.Process(target=_drain, args=(folder, queue, out)) for _ in range(4)]
    for process in consumers:
        process.start()
    results = [out.get(timeout=60) for _ in consumers]
    for process in consumers:
        process.join(timeout=30)
    received = [n for got in results for n in got]
    assert sorted(received) == list(range(total))  # none lost, none twice
    assert sum(1 for got in results if got) >= 2, "the consumers should have competed"
    folders = [tmp_path / "broker" / name for name in ("queue", "claimed", "staging")]
    left = [p.name for folder_path in folders for p in folder_path.iterdir()]
    assert left == []
