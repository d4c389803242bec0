"""The integration suite's ``db``: every integration test runs twice, on a migrated SQLite file of
its own and on the session's throwaway PostgreSQL database (its tables truncated before each test).

The services themselves (PostgreSQL, redis-server, worker processes, the pipeline's environment)
are fixtures of :mod:`tests.support.fixtures`, shared with the reliability suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from tests.support.services import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gist.sqlite3'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    database = Database(request.param, url, engine, make_sessionmaker(engine))
    if database.backend == "postgresql":
        database.wipe()  # what an earlier test (or a killed worker) left
    yield database
    engine.dispose()
