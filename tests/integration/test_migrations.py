"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL, and
fill what they add."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from models.db import make_engine
from models.migrate import alembic_config, upgrade
from models.rows import Base
from tests.support.services import Database, PostgresServer

pytestmark = pytest.mark.integration


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gist.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


def test_0005_copies_each_patients_navigator_onto_their_reminders_and_alerts(empty_url: str) -> None:
    """Rows stored before 0005 get their patient's navigator_id (the worklist reads only the copy);
    downgrading and upgrading again gives the same."""
    upgrade(empty_url, "0004")
    engine = make_engine(empty_url)
    stamp = "2026-11-27 10:00:00"
    with engine.begin() as conn:
        for pid, nav in (("P1", "nav-a"), ("P2", None)):
            conn.execute(
                text("INSERT INTO patients (patient_id, navigator_id, timezone, is_active, created_at) "
                     "VALUES (:p, :n, 'UTC', true, :t)"),
                {"p": pid, "n": nav, "t": stamp},
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO reminders (patient_id, key, kind, due_on, window_days, status, rule, "
                     "rationale, citation, revision, created_at, updated_at) VALUES (:p, 'k', 'ct', "
                     "'2026-12-01', 14, 'planned', 'R', 'why', 'src', 1, :t, :t)"),
                {"p": pid, "t": stamp},
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO alerts (patient_id, code, rule, severity, message, citation, is_active, "
                     "first_seen_at, updated_at) VALUES (:p, 'c', 'R', 'warning', 'm', 'src', true, :t, :t)"),
                {"p": pid, "t": stamp},
            )  # fmt: skip
    try:
        for step in ("head", "0004", "head"):
            if step == "head":
                upgrade(empty_url)
            else:
                command.downgrade(alembic_config(empty_url), step)
        with engine.connect() as conn:
            for table in ("reminders", "alerts"):
                copies = conn.execute(
                    text(f"SELECT patient_id, navigator_id FROM {table} ORDER BY patient_id")
                )
                assert [tuple(row) for row in copies] == [("P1", "nav-a"), ("P2", None)], table
    finally:
        engine.dispose()
