"""Fixtures of the fault-injection suite: the real components of
:mod:`tests.support.fixtures` on PostgreSQL only (this ``db`` replaces the integration suite's),
plus an SMTP server, real clock processes and, for the database restarts, a private PostgreSQL
cluster of the test's own.

Run: ``.venv/bin/pytest tests/reliability -m reliability -s`` — each test prints its row of the
table in docs/reliability.md, and the session's summary repeats them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.db import make_engine, make_sessionmaker
from tests.reliability.harness import RESULTS, Clocks, Figures, timed_smtp_server
from tests.support.services import Database, Pipeline
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    """The session's throwaway PostgreSQL database, emptied (SQLite serialises every writer: the
    concurrency these faults stress is PostgreSQL's)."""
    engine = make_engine(postgres_url)
    database = Database("postgresql", postgres_url, engine, make_sessionmaker(engine))
    database.wipe()
    yield database
    engine.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) that notes when each message arrived."""
    with timed_smtp_server() as server:
        yield server


@pytest.fixture
def clocks(pipeline: Pipeline, tmp_path: Path) -> Iterator[Clocks]:
    factory = Clocks(pipeline, tmp_path)
    yield factory
    factory.stop_all()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("reliability figures (docs/reliability.md)")
        terminalreporter.write_line(Figures.HEADER)
        for figures in RESULTS:
            terminalreporter.write_line(figures.row())
