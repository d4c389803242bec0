"""How fast the event pipeline is: events from ``gistsched submit`` to stored reminders.

    .venv/bin/python benchmarks/pipeline_bench.py [--events 2000] [--backends sqlite,postgresql]
                                                  [--workers 2] [--patients N] [--seed 1]
                                                  [--shape cut|full|burst]

For each backend (a temporary SQLite file; a throwaway PostgreSQL database on 127.0.0.1:5432 as
``postgres``, or on ``--postgres-url``), in one run and on one private ``redis-server`` (its own
free port, nothing on disk, started and stopped here):

1. ``gistsched db upgrade``, then ``--workers`` real ``gistsched worker --concurrency 1`` processes;
2. the baseline: ``--events`` ``ops.noop`` tasks sent from this process (``tasks.app.enqueue_noop``)
   to the same Redis and the same workers, timed from the first send until the queue is empty and
   no message is left unacknowledged;
3. the pipeline: ``--events`` events (``--shape cut``: synthetic histories of about 300 patients,
   each cut to a prefix so the total is exact; ``full``: whole histories until at least
   ``--events``; every event dated on or before the pinned ``GIST_AS_OF``) written to a JSON Lines
   file and submitted by a ``gistsched submit FILE`` subprocess — the real intake (validation, one
   commit, one ``patients.process`` per patient queued after it). ``--shape burst``: the whole
   histories of ``full``, every event submitted on its own from this process through the service's
   intake and queueing (one transaction each; intake coalesces a patient's messages while one
   waits, :mod:`tasks.pending`). Timed from the
   start of that subprocess until the last event's ``processed_at`` (set in the transaction that
   stores the patient's reminders), read from the database; per-event latency is
   ``processed_at - received_at``.

Every process and database is removed at the end, also on an error or Ctrl-C. Exit status: 0 when
every backend ran and every event was processed without a failure, 1 otherwise, 130 on Ctrl-C.
The figures are not judged against the ≥ 1.0 target here (the table shows it); docs/performance.md
quotes the output.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import redis as redis_client
from plan_bench import cpu_model
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from synthetic import synthetic_histories

from models.db import make_engine, make_sessionmaker, normalise_url
from models.rows import EventRow, PatientStateRow, ProcessingFailureRow, ReminderRow
from scheduler.app.wiring import queue_processing
from scheduler.config.settings import Settings
from scheduler.patients.intake import record_events
from tasks.app import enqueue_noop, get_app, sender_app
from tasks.base import NOOP, PROCESS, PROCESS_BATCH, QUEUE

AS_OF = dt.date(2026, 11, 27)  # the synthetic histories end the day before (as in plan_bench.py)
BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_PREFIX = "gist_bench_"
EVENTS_PER_PATIENT = 2000 / 300  # the target's shape: 2,000 events for about 300 patients
TARGET_RATIO = 1.0
SHAPES = ("cut", "full", "burst")
GISTSCHED = Path(sys.executable).parent / "gistsched"
UNACKED_KEY = "unacked"  # kombu's Redis transport keeps delivered, unacknowledged messages here


class BenchError(Exception):
    """Something failed: reported on one line (plus a log excerpt), exit 1."""


# ---- the cohort -----------------------------------------------------------------------------------


def cut_histories(histories: Sequence[Sequence[dict[str, Any]]], total: int) -> list[dict[str, Any]]:
    """Exactly ``total`` events: each history cut to a prefix (its earliest events, so each patient
    looks as it did at some point of its story), the prefixes grown one event at a time in turn."""
    taken = [0] * len(histories)
    count = 0
    while count < total:
        grew = False
        for i, history in enumerate(histories):
            if count == total:
                break
            if taken[i] < len(history):
                taken[i] += 1
                count += 1
                grew = True
        if not grew:
            raise BenchError(f"--events {total:,}: the cohort has only {count:,} events; add --patients")
    return [obj for history, n in zip(histories, taken, strict=True) for obj in history[:n]]


def build_events(
    total: int, patients: int, seed: int, as_of: dt.date, shape: str = "cut"
) -> list[dict[str, Any]]:
    """``cut``: exactly ``total`` events, every history cut to a prefix; ``full`` and ``burst``:
    whole histories, in order, until at least ``total`` events."""
    histories = [
        [obj for obj in history if dt.date.fromisoformat(obj["occurred_on"]) <= as_of]
        for history in synthetic_histories(patients, seed)
    ]
    if shape == "cut":
        return cut_histories(histories, total)
    events: list[dict[str, Any]] = []
    for history in histories:
        if len(events) >= total:
            break
        events.extend(history)
    if len(events) < total:
        raise BenchError(f"--events {total:,}: the cohort has only {len(events):,} events; add --patients")
    return events


# ---- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def spawn(
    argv: Sequence[str], env: dict[str, str], log_path: Path
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """A child in a session (and process group) of its own: Ctrl-C reaches only this script, which
    then stops the whole group itself."""
    log = log_path.open("wb")
    try:
        process = subprocess.Popen(
            list(argv), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    except BaseException:
        log.close()
        raise
    return process, log


def stop_group(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM the leader, SIGKILL the whole group after ``timeout`` — and in any case, so no pool
    child outlives it."""
    try:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def tail(path: Path, lines: int = 25) -> str:
    try:
        text_ = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(f"    | {line}" for line in text_.splitlines()[-lines:])


@dataclass
class RedisServer:
    binary: str
    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _poller: redis_client.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_client.Redis:
        return redis_client.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5
        )

    def _ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis_client.RedisError:
            return False

    def _answers_or_exited(self) -> bool:
        return self.process is None or self.process.poll() is not None or self._ping()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            self.process, self._log = spawn(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.folder)],
                os.environ.copy(), self.folder / "redis.log",
            )  # fmt: skip
            wait_for(self._answers_or_exited, 15, "redis-server to answer PING")
            if self.process is not None and self.process.poll() is None:
                return
            self.stop()
            if attempt == 2:
                raise BenchError(f"redis-server did not start:\n{tail(self.folder / 'redis.log')}")

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        process, self.process = self.process, None
        if process is not None:
            stop_group(process, timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def idle(self) -> bool:
        """Nothing waiting in our queue and nothing delivered but unacknowledged (``acks_late``:
        a message is acknowledged once its task has run)."""
        if self._poller is None:  # one connection for the many polls of a run
            self._poller = self.client()
        pipe = self._poller.pipeline(transaction=False)
        pipe.llen(QUEUE)
        pipe.hlen(UNACKED_KEY)
        waiting, unacked = pipe.execute()
        return int(waiting) == 0 and int(unacked) == 0

    def version(self) -> str:
        with self.client() as client:
            return str(client.info("server").get("redis_version", "?"))


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: self.process.poll() is not None or " ready." in self.log(), timeout,
                 f"worker {self.name} to be ready")  # fmt: skip
        if self.process.poll() is not None:
            raise BenchError(
                f"worker {self.name} exited with status {self.process.returncode}:\n{tail(self.log_path)}"
            )

    def succeeded(self, task: str) -> int:
        return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", self.log()))

    def retries(self) -> int:
        return len(re.findall(rf"{re.escape(PROCESS)} \S+: .*; retry \d+ in", self.log()))

    def stop(self) -> None:
        try:
            stop_group(self.process, timeout=15)
        finally:
            self._log.close()


def check_alive(workers: Sequence[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is not None:
            raise BenchError(f"worker {worker.name} exited with status {worker.process.returncode}")


def stop_workers(workers: Sequence[Worker]) -> None:
    for worker in workers:  # SIGTERM all first: each warm shutdown takes a moment
        if worker.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.stop()


def start_workers(
    workers: list[Worker], count: int, folder: Path, label: str, env_of: Callable[[str], dict[str, str]]
) -> None:
    """``count`` real ``gistsched worker --concurrency 1`` processes named ``<label>-w<n>``, each
    with the environment ``env_of(name)`` and its log in ``folder``, appended to ``workers`` as they
    start (so the caller stops them whatever happens), then waited for until ready."""
    for i in range(1, count + 1):
        name = f"{label}-w{i}"
        log_path = folder / f"worker-{name}.log"
        process, log = spawn(
            [str(GISTSCHED), "worker", "--concurrency", "1", "--loglevel", "INFO"], env_of(name), log_path
        )
        workers.append(Worker(name, process, log_path, log))
    for worker in workers:
        worker.wait_ready()


def run_gistsched(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """A one-shot command in its own process group, killed with its group on timeout or Ctrl-C."""
    process = subprocess.Popen(
        [str(GISTSCHED), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"gistsched {' '.join(args)} took more than {timeout:g} s") from None
    finally:
        if process.poll() is None:
            stop_group(process, timeout=2)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while cleaning up, so a second Ctrl-C cannot leave a worker or a
    database behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def close_quietly(stack: contextlib.ExitStack) -> None:
    with signals_held():
        stack.close()


# ---- databases ------------------------------------------------------------------------------------


class PostgresServer:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalise_url(admin_url)
        self.engine = make_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )

    def create_database(self) -> str:
        name = f"{DB_PREFIX}{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        if not name or not name.startswith(DB_PREFIX):  # never drop anything but our own
            raise BenchError(f"refusing to drop database {name!r}")
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def version(self) -> str:
        with self.engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]


def reader_engine(url: str) -> Engine:
    """An engine for this script's reads. On SQLite not the project's ``make_engine``: its
    ``BEGIN IMMEDIATE`` would take the write lock on every poll and slow the workers down."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return make_engine(url)


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# ---- one backend ----------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    events: int = 0
    patients: int = 0
    submit_s: float = 0.0
    wall_s: float = 0.0
    noop_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    states: int = 0
    reminders: int = 0
    process_tasks: list[int] = field(default_factory=list)
    noop_tasks: list[int] = field(default_factory=list)
    retries: int = 0

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s

    @property
    def noop_per_s(self) -> float:
        return self.events / self.noop_s

    @property
    def ratio(self) -> float:
        return self.events_per_s / self.noop_per_s


@dataclass
class Bench:
    args: argparse.Namespace
    events: list[dict[str, Any]]
    folder: Path
    redis: RedisServer
    postgres: PostgresServer | None = None

    def env(self, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
        env.update(
            GIST_ENV="development",
            GIST_DATABASE_URL=database_url,
            GIST_BROKER_URL=self.redis.url,
            GIST_DATA_DIR=str(data_dir),
            GIST_AS_OF=self.args.as_of.isoformat(),
            GIST_WORKER_CONCURRENCY="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def run(self, backend: str) -> Result:
        stack = contextlib.ExitStack()
        try:
            return self._run(backend, stack)
        finally:
            close_quietly(stack)

    def _run(self, backend: str, stack: contextlib.ExitStack) -> Result:
        folder = self.folder / backend
        data_dir = folder / "data"
        data_dir.mkdir(parents=True)
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'gist.sqlite3'}"
        else:
            assert self.postgres is not None
            url = self.postgres.create_database()
            stack.callback(self.postgres.drop_database, url)
        env = self.env(url, data_dir)

        done = run_gistsched("db", "upgrade", env=env, timeout=120)
        if done.returncode != 0:
            raise BenchError(
                f"{backend}: gistsched db upgrade exited {done.returncode}: {done.stderr.strip()}"
            )
        self.redis.flush()

        workers: list[Worker] = []
        stack.callback(stop_workers, workers)
        start_workers(
            workers, self.args.workers, folder, backend,
            lambda name: self.env(url, data_dir, GIST_WORKER_NAME=name),
        )  # fmt: skip

        result = Result(backend, events=len(self.events))
        try:
            self._noop(result, url, data_dir, workers)
            self._pipeline(result, url, env, folder, workers)
        except BenchError as exc:
            logs = "\n".join(f"  {w.name} (last lines):\n{tail(w.log_path)}" for w in workers)
            raise BenchError(f"{backend}: {exc}\n{logs}") from None
        result.process_tasks = [w.succeeded(PROCESS) + w.succeeded(PROCESS_BATCH) for w in workers]
        result.noop_tasks = [w.succeeded(NOOP) for w in workers]
        result.retries = sum(w.retries() for w in workers)
        if sum(result.noop_tasks) != len(self.events):
            raise BenchError(
                f"{backend}: the workers logged {sum(result.noop_tasks)} {NOOP} runs, not {len(self.events)}"
            )
        return result

    def _noop(self, result: Result, url: str, data_dir: Path, workers: list[Worker]) -> None:
        """The baseline: the same number of no-op tasks through the same broker and workers."""
        settings = Settings(env="development", database_url=url, broker_url=self.redis.url, data_dir=data_dir)
        app = get_app(settings)
        start = time.perf_counter()
        for _ in range(len(self.events)):
            enqueue_noop(settings)

        def drained() -> bool:
            check_alive(workers)
            return self.redis.idle()

        wait_for(drained, self.args.timeout, f"{len(self.events):,} {NOOP} tasks to run", interval=0.005)
        result.noop_s = time.perf_counter() - start
        app.close()

    def _submit_one_by_one(self, url: str, data_dir: Path) -> None:
        """The burst shape: every event its own submission (the service's intake, one transaction
        and one queueing step each, as a lab system posting each result on its own), in history
        order; a patient's events thus arrive in a burst while its first message may wait."""
        settings = Settings(
            env="development", database_url=url, broker_url=self.redis.url, data_dir=data_dir,
            as_of=self.args.as_of,
        )  # fmt: skip
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        enqueue = queue_processing(settings)
        try:
            for line, obj in enumerate(self.events, start=1):
                stored = record_events(sessions, [(line, obj)], self.args.as_of, enqueue)
                if stored.accepted != 1:
                    raise BenchError(f"event {line} not accepted: {stored.rejected}")
        finally:
            engine.dispose()
            sender_app(settings).close()

    def _pipeline(
        self, result: Result, url: str, env: dict[str, str], folder: Path, workers: list[Worker]
    ) -> None:
        path = folder / "events.jsonl"
        path.write_text("".join(json.dumps(obj) + "\n" for obj in self.events), encoding="utf-8")
        engine = reader_engine(url)
        try:
            started_at = dt.datetime.now(dt.UTC)
            start = time.perf_counter()
            if self.args.shape == "burst":
                self._submit_one_by_one(url, Path(env["GIST_DATA_DIR"]))
            else:
                done = run_gistsched("submit", str(path), env=env, timeout=self.args.timeout)
                if done.returncode != 0:
                    raise BenchError(
                        f"gistsched submit exited {done.returncode}: {done.stderr.strip()[:2000]}"
                    )
                summary = json.loads(done.stdout)
                if summary != {"accepted": len(self.events), "duplicates": 0, "rejected": []}:
                    raise BenchError(
                        f"gistsched submit did not accept every event: {done.stdout.strip()[:2000]}"
                    )
            result.submit_s = time.perf_counter() - start

            def finished() -> bool:
                check_alive(workers)
                with engine.connect() as conn:
                    failed = conn.scalar(select(func.count()).select_from(ProcessingFailureRow))
                    if failed:
                        error = conn.scalar(select(ProcessingFailureRow.error).limit(1))
                        raise BenchError(f"{failed} processing failure(s), e.g. {error}")
                    left = conn.scalar(
                        select(func.count()).select_from(EventRow).where(EventRow.processed_at.is_(None))
                    )
                return left == 0

            wait_for(finished, self.args.timeout, "every event to be processed", interval=0.1)
            with engine.connect() as conn:
                times = conn.execute(select(EventRow.received_at, EventRow.processed_at)).all()
                result.patients = conn.scalar(select(func.count(func.distinct(EventRow.patient_id)))) or 0
                result.states = conn.scalar(select(func.count()).select_from(PatientStateRow)) or 0
                result.reminders = conn.scalar(select(func.count()).select_from(ReminderRow)) or 0
        finally:
            engine.dispose()
        if len(times) != len(self.events):
            raise BenchError(f"{len(times)} events stored, {len(self.events)} submitted")
        if result.states != result.patients:
            raise BenchError(f"{result.states} stored plans for {result.patients} patients")
        pairs = [(received, processed) for received, processed in times if processed is not None]
        if len(pairs) != len(times):
            raise BenchError(f"{len(times) - len(pairs)} events lost their processed_at")
        result.wall_s = (max(processed for _, processed in pairs) - started_at).total_seconds()
        result.latencies = sorted((processed - received).total_seconds() for received, processed in pairs)


# ---- output ---------------------------------------------------------------------------------------


def pct(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_table(results: Sequence[Result]) -> None:
    header = (
        "backend", "events", "patients", "submit s", "wall s", "events/s", "no-op/s", "ratio",
        "target", "p50 lat s", "p95 lat s", "reminders", "process tasks/worker", "retries",
    )  # fmt: skip
    rows = [
        (
            r.backend,
            f"{r.events:,}",
            f"{r.patients:,}",
            f"{r.submit_s:.2f}",
            f"{r.wall_s:.2f}",
            f"{r.events_per_s:,.0f}",
            f"{r.noop_per_s:,.0f}",
            f"{r.ratio:.2f}",
            "met" if r.ratio >= TARGET_RATIO else "missed",
            f"{pct(r.latencies, 0.5):.2f}",
            f"{pct(r.latencies, 0.95):.2f}",
            f"{r.reminders:,}",
            " / ".join(map(str, r.process_tasks)),
            str(r.retries),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=2000, help="events submitted, and no-op tasks sent (2,000)")
    ap.add_argument("--patients", type=int, help="synthetic patients (default events × 300 / 2,000)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgresql")
    ap.add_argument(
        "--workers", type=int, default=2, help="gistsched worker processes, concurrency 1 each (2)"
    )
    ap.add_argument(
        "--shape",
        choices=SHAPES,
        default="cut",
        help="cut: histories cut to their first events, one submit; full: whole histories, one submit; "
        "burst: whole histories, every event submitted on its own (cut)",
    )
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic cohort (1)")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF, help="GIST_AS_OF (2026-11-27)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per stage (120)")
    ap.add_argument(
        "--postgres-url",
        default=os.environ.get("GIST_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server for the throwaway database (GIST_BENCH_POSTGRES_URL; default %(default)s)",
    )
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in BACKENDS for b in backends) or len(set(backends)) != len(backends):
        ap.error(f"--backends: a comma-separated list of {', '.join(BACKENDS)} (got {args.backends!r})")
    if args.events < 1 or args.workers < 1 or args.timeout <= 0:
        ap.error("--events, --workers and --timeout must be positive")
    args.patients = args.patients or max(1, round(args.events / EVENTS_PER_PATIENT))
    if args.patients < 1:
        ap.error("--patients must be at least 1")

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    cleanup = contextlib.ExitStack()
    try:
        return run(args, backends, cleanup)
    except BenchError as exc:
        print(f"pipeline_bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pipeline_bench: interrupted; stopping workers and redis, dropping databases", file=sys.stderr)
        return 130
    finally:
        close_quietly(cleanup)


def run(args: argparse.Namespace, backends: list[str], cleanup: contextlib.ExitStack) -> int:
    if not GISTSCHED.exists():
        raise BenchError(f"{GISTSCHED} not found: run with the project's interpreter (make venv)")
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed (Debian: apt-get install redis-server)")
    events = build_events(args.events, args.patients, args.seed, args.as_of, args.shape)

    folder = Path(tempfile.mkdtemp(prefix="gist-pipeline-bench-"))
    cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
    postgres = None
    pg_version = ""
    if "postgresql" in backends:
        postgres = PostgresServer(args.postgres_url)
        cleanup.callback(postgres.engine.dispose)
        try:
            pg_version = postgres.version()
        except SQLAlchemyError as exc:
            raise BenchError(
                f"PostgreSQL is not reachable at {safe_url(postgres.admin_url)} "
                f"(--postgres-url, or --backends sqlite): {getattr(exc, 'orig', exc)}"
            ) from None
    redis = RedisServer(binary, folder / "redis")
    cleanup.callback(redis.stop)
    redis.start()

    bench = Bench(args, events, folder, redis, postgres)
    patients = len({e["patient_id"] for e in events})
    print(
        f"gist-scheduler pipeline benchmark ({args.shape}): {len(events):,} events for {patients:,} patients "
        f"(seed {args.seed}, as of {args.as_of}),\n  {args.workers} × `gistsched worker --concurrency 1` "
        f"on a private redis-server {redis.version()} (port {redis.port})",
        flush=True,
    )
    results = []
    for backend in backends:
        print(f"  running {backend} …", flush=True)
        results.append(bench.run(backend))

    print()
    print_table(results)
    print()
    for line in (
        "Measured: wall s = from the start of the `gistsched submit FILE` subprocess (process start-up,",
        "validation, one commit, its patients queued in batches after it) to the last",
        "events.processed_at, written in the transaction that stores that patient's reminders;",
        "events/s = events / wall s; submit s = the submit subprocess alone. no-op/s = as many",
        f"{NOOP} tasks sent from this process to the same redis and workers, from the first send until",
        "the queue is empty and nothing is unacknowledged; ratio = events/s / no-op/s",
        f"(target ≥ {TARGET_RATIO}). Latency = processed_at − received_at of every event (p50/p95),",
        "read from the database.",
    ):
        print(f"  {line}")
    print(
        f"  Machine: {cpu_model()} ({os.cpu_count()} logical CPUs), Python {platform.python_version()}"
        + (f", PostgreSQL {pg_version}" if pg_version else "")
        + f", SQLite {sqlite3.sqlite_version}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
