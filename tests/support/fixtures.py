"""The real services as pytest fixtures (style.md "never mock what you can start"), loaded for the
whole test tree by ``tests/conftest.py``; a fixture only starts its service when a test asks for it.

* ``postgres_server`` / ``postgres_url`` — a throwaway PostgreSQL database for the test session
  (``gist_test_<random>`` on 127.0.0.1:5432 as ``postgres``, or on the server of
  ``GIST_TEST_POSTGRES_URL``), migrated to head and dropped at the end;
* ``redis_server`` / ``redis`` — a private ``redis-server`` on a free port for the whole session
  (nothing on disk), emptied before each test, which ``restart_empty()`` can stop and start again
  empty;
* ``redis_sentinel`` — a private ``redis-server`` and a Redis Sentinel (``redis-server --sentinel``)
  watching it as ``gistmaster``, both on free ports, for one test;
* ``workers`` — starts real ``gistsched worker`` processes in their own process groups and kills
  every one of them at teardown (SIGTERM, then SIGKILL);
* ``pipeline`` — the environment (``GIST_*``) a command or worker of one test runs with, on the
  ``db`` fixture of the test's suite (both backends in tests/integration, PostgreSQL in
  tests/reliability);
* ``celery_app`` — a Celery app of the test process on the private redis-server.

A missing ``redis-server`` or PostgreSQL skips the tests that need it, with the reason — except when
``CI=true``, where it fails them (:func:`tests.support.guard.unavailable`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from models.migrate import upgrade
from tasks.app import make_celery
from tasks.base import GistCelery
from tests.support.common import free_port
from tests.support.guard import unavailable
from tests.support.services import Database, Pipeline, PostgresServer, RedisSentinel, RedisServer, Workers

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


# ---- databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    admin_url = os.environ.get("GIST_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    server = PostgresServer(admin_url)
    try:
        with server.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        server.engine.dispose()
        shown = make_url(server.admin_url).render_as_string(hide_password=True)
        unavailable(f"PostgreSQL is not reachable at {shown} (set GIST_TEST_POSTGRES_URL): {exc.orig}")
    yield server
    server.engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A throwaway database for the whole session, migrated to head, dropped at the end."""
    url = postgres_server.create_database()
    try:
        upgrade(url)
        yield url
    finally:
        postgres_server.drop_database(url)


# ---- redis ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    for attempt in range(3):  # a free port can be taken between the probe and the bind
        server.port = free_port()
        try:
            server.start()
            break
        except (RuntimeError, AssertionError):
            if attempt == 2:
                raise
    yield server
    server.stop()


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    """The session's redis-server, running and empty at the start of the test."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.stop()
        redis_server.start()
    redis_server.flush()
    return redis_server


@pytest.fixture
def redis_sentinel(tmp_path: Path) -> Iterator[RedisSentinel]:
    """A private redis-server and a Redis Sentinel watching it, on free ports, for one test."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
    with contextlib.ExitStack() as stack:
        master = RedisServer(binary, tmp_path)
        sentinel = RedisSentinel(binary, tmp_path, master)
        for server in (master, sentinel):
            for attempt in range(3):  # a free port can be taken between the probe and the bind
                server.port = free_port()
                try:
                    server.start()
                    stack.callback(server.stop)
                    break
                except (RuntimeError, AssertionError):
                    if attempt == 2:
                        raise
        yield sentinel


# ---- processes ------------------------------------------------------------------------------------


@pytest.fixture
def pipeline(db: Database, redis: RedisServer, tmp_path: Path) -> Pipeline:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Pipeline(db, redis, data_dir)


@pytest.fixture
def celery_app(pipeline: Pipeline) -> Iterator[GistCelery]:
    """A Celery app of the test process on the private redis-server (to queue tasks), closed after."""
    app = make_celery(pipeline.settings())
    yield app
    app.close()


@pytest.fixture
def workers(pipeline: Pipeline, tmp_path: Path) -> Iterator[Workers]:
    factory = Workers(pipeline, tmp_path)
    yield factory
    factory.stop_all()
