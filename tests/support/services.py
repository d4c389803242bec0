"""The real components the integration fixtures start and drive: databases, a private
``redis-server``, ``gistsched worker`` processes, and what one test's commands share (``Pipeline``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import redis as redis_client
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, normalise_url
from models.rows import Base
from scheduler.config.settings import Settings
from tasks.base import QUEUE
from tests.support.common import GISTSCHED, cli_env, gistsched, wait_until

# ---- databases ----------------------------------------------------------------------------------


@dataclass
class Database:
    """One migrated database of one test: its URL, an engine and sessions on it."""

    backend: str  # "sqlite" or "postgresql"
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    def wipe(self) -> None:
        """Empty every table (the schema and its migration mark stay)."""
        tables = [t.name for t in Base.metadata.sorted_tables]
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in reversed(tables):
                    conn.execute(text(f"DELETE FROM {name}"))

    def count(self, row: type[Base], *where: Any) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(row).where(*where)) or 0


class PostgresServer:
    """The server the throwaway databases live on (``postgres`` database as the admin entry)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalise_url(admin_url)
        self.engine = make_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )

    def create_database(self) -> str:
        name = f"gist_test_{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        assert name, url
        assert name.startswith("gist_test_"), name  # never drop anything but our own
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---- redis ----------------------------------------------------------------------------------------

SENTINEL_MASTER = "gistmaster"  # the master's name in the private Sentinel's configuration


class RedisServer:
    """A private ``redis-server`` that keeps nothing on disk (so a restart comes back empty)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_client.Redis:
        return redis_client.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5
        )

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis_client.RedisError:
            return False

    def start(self) -> None:
        assert self.process is None, "already running"
        self._log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "--save", "", "--appendonly", "no", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", str(self.workdir)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            wait_until(
                lambda: self.ping() or self.process is None or self.process.poll() is not None,
                timeout=15,
                message="redis-server to answer PING",
            )
        except AssertionError:
            self.stop()
            raise
        if self.process.poll() is not None:  # port taken meanwhile, or a bad binary
            code = self.process.returncode
            self.stop()
            raise RuntimeError(f"redis-server exited with status {code}: see {self.workdir / 'redis.log'}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart_empty(self) -> None:
        """Stop the server and start a new, empty one on the same port (every message is lost).

        Empty by construction: the server keeps nothing on disk (checked here). Its contents can't
        be checked after the start instead: connected workers, clocks and feeders publish and
        declare bindings again within milliseconds (docs/reliability.md, finding 6)."""
        with self.client() as client:
            config = client.config_get("save") | client.config_get("appendonly")
        assert config == {"save": "", "appendonly": "no"}, config
        self.stop()
        self.start()

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()


class RedisSentinel:
    """A private Redis Sentinel (``redis-server sentinel.conf --sentinel``) watching ``master`` as
    :data:`SENTINEL_MASTER`; its configuration file lives in ``workdir`` (Sentinel rewrites it)."""

    def __init__(self, binary: str, workdir: Path, master: RedisServer) -> None:
        self.binary = binary
        self.workdir = workdir
        self.master = master
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def broker_url(self, *unreachable_first: int) -> str:
        """GIST_BROKER_URL listing this Sentinel, after Sentinels on ``unreachable_first`` ports."""
        ports = [*unreachable_first, self.port]
        return ";".join(f"sentinel://127.0.0.1:{port}/0" for port in ports)

    def master_address(self) -> tuple[str, int] | None:
        try:
            with redis_client.Redis(host="127.0.0.1", port=self.port, socket_timeout=5) as client:
                answer = client.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
        except redis_client.RedisError:
            return None
        if not answer:
            return None
        host = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        return host, int(answer[1])

    def start(self) -> None:
        assert self.process is None, "already running"
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} 60000\n"
        )
        self._log = (self.workdir / "sentinel.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, str(config), "--sentinel"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        expected = ("127.0.0.1", self.master.port)
        try:
            wait_until(
                lambda: (
                    self.master_address() == expected
                    or self.process is None
                    or self.process.poll() is not None
                ),
                timeout=15,
                message="redis sentinel to name its master",
            )
        except AssertionError:
            self.stop()
            raise
        if self.process.poll() is not None:
            code = self.process.returncode
            self.stop()
            raise RuntimeError(
                f"redis sentinel exited with status {code}: see {self.workdir / 'sentinel.log'}"
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


# ---- processes ------------------------------------------------------------------------------------


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM the leader (a Celery worker then stops its pool itself), SIGKILL the whole group
    after ``timeout``, and SIGKILL the group in any case: no child outlives the test."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
    with contextlib.suppress(ProcessLookupError):  # pool children of a leader that is gone
        os.killpg(process.pid, signal.SIGKILL)


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL the process and everything in its group (it was started with a session of its own,
    so its pid is its group id), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@dataclass
class Pipeline:
    """What one test's commands and workers share: the database, the broker and a data folder."""

    db: Database
    redis: RedisServer
    data_dir: Path
    stalled_after_seconds: float = 2.0

    def env(self, **overrides: str) -> dict[str, str]:
        return cli_env(
            self.db.url,
            self.data_dir,
            GIST_BROKER_URL=self.redis.url,
            GIST_STALLED_AFTER_SECONDS=f"{self.stalled_after_seconds:g}",
            GIST_CLOCK_INTERVAL_SECONDS="1",
            **overrides,
        )

    def gistsched(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return gistsched(*args, env=self.env(**env), timeout=timeout)

    def settings(self) -> Settings:
        """The settings the test process itself uses (the clock tick, queueing from intake)."""
        return Settings(
            env="test",
            database_url=self.db.url,
            broker_url=self.redis.url,
            data_dir=self.data_dir,
            stalled_after_seconds=self.stalled_after_seconds,
            clock_interval_seconds=1,
        )

    def queued(self) -> int:
        """Messages waiting in the broker's queue."""
        with self.redis.client() as client:
            return int(client.llen(QUEUE))


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(lambda: not self.is_running() or " ready." in self.log(), timeout=timeout,
                   message=f"worker {self.name} to be ready")  # fmt: skip
        if not self.is_running():
            raise AssertionError(
                f"worker {self.name} exited with {self.process.returncode}:\n{self.log()[-4000:]}"
            )

    def pool_pids(self) -> list[int]:
        """The worker's pool processes (the children of its main process)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if int(fields[1]) == self.process.pid:  # fields: state, ppid, …
                children.append(int(stat.parent.name))
        return children

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crashed machine would."""
        kill_group(self.process)

    def stop(self, timeout: float = 15) -> None:
        stop_process_group(self.process, timeout)
        self._log.close()


class Workers:
    """Starts ``gistsched worker`` processes; every one is stopped at the test's teardown."""

    def __init__(self, pipeline: Pipeline, folder: Path) -> None:
        self.pipeline = pipeline
        self.folder = folder
        self.started: list[WorkerProcess] = []

    def start(self, count: int = 1, concurrency: int = 1, **env: str) -> list[WorkerProcess]:
        """Start ``count`` workers (``concurrency`` pool processes each) and wait until all are ready."""
        new = [self._spawn(concurrency, env) for _ in range(count)]
        for worker in new:
            worker.wait_ready()
        return new

    def _spawn(self, concurrency: int, env: dict[str, str]) -> WorkerProcess:
        name = f"w{len(self.started) + 1}"
        log_path = self.folder / f"worker-{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [str(GISTSCHED), "worker", "--concurrency", str(concurrency), "--loglevel", "INFO"],
            env=self.pipeline.env(GIST_WORKER_NAME=name, **env),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        worker = WorkerProcess(name, process, log_path, log)
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:  # all at once: a warm shutdown takes seconds
            if worker.is_running():
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGTERM)
        for worker in self.started:
            worker.stop()
