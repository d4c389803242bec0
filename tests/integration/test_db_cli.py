"""``gistsched db upgrade`` and ``gistsched patient`` against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from models.db import make_engine, make_sessionmaker
from models.migrate import alembic_config
from models.rows import Base, EventRow, ReminderRow
from scheduler.patients.processing import process_patient
from scheduler.patients.stored import stored_plan
from tests.support.common import (
    assert_cli_error,
    assert_matches_pure,
    by_patient,
    cli_env,
    gistsched,
    intake,
    pure_plan,
    read_cohort,
)
from tests.support.services import Database
from tests.support.staff import AS_OF

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TODAY = AS_OF  # the service-level "today": after every event of the example cohort


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


def test_db_upgrade_creates_the_schema_and_is_idempotent(empty_database: str, tmp_path: Path) -> None:
    env = cli_env(empty_database, tmp_path / "data")
    first = gistsched("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["schema"] == "head"
    assert "Traceback" not in first.stderr

    engine = make_engine(empty_database)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) | {"alembic_version"} <= tables
        head = ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]

        sessions = make_sessionmaker(engine)
        events = by_patient(read_cohort())["P03"]
        assert intake(sessions, events, TODAY).accepted == len(events)
        process_patient(sessions, "P03", TODAY)

        second = gistsched("db", "upgrade", env=env)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout) == json.loads(first.stdout)
        assert set(inspect(engine).get_table_names()) == tables
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
            assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == len(events)
        with sessions() as session:
            assert_matches_pure(stored_plan(session, "P03"), pure_plan(events, TODAY))
    finally:
        engine.dispose()


def test_patient_unknown_exits_2_naming_it(db: Database, tmp_path: Path) -> None:
    result = gistsched("patient", "NOBODY-42", env=cli_env(db.url, tmp_path / "data"))
    line = assert_cli_error(result, "PATIENT_ID", "NOBODY-42")
    assert "no patient" in line


def test_patient_waiting_for_a_worker_exits_2_saying_so(db: Database, tmp_path: Path) -> None:
    events = by_patient(read_cohort())["P02"]
    intake(db.sessions, events, TODAY)
    result = gistsched("patient", "P02", env=cli_env(db.url, tmp_path / "data"))
    line = assert_cli_error(result, "PATIENT_ID", "P02")
    assert f"{len(events)} event(s) waiting" in line


def test_patient_prints_the_stored_plan_in_the_plan_shape(db: Database, tmp_path: Path) -> None:
    cohort = by_patient(read_cohort())
    for pid in ("P01", "P04"):
        intake(db.sessions, cohort[pid], TODAY)
        process_patient(db.sessions, pid, TODAY)
    result = gistsched("patient", "P04", env=cli_env(db.url, tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = json.loads(result.stdout)
    with db.sessions() as session:
        assert printed == stored_plan(session, "P04")
    assert_matches_pure(printed, pure_plan(cohort["P04"], TODAY))
    assert {"patient_id", "as_of", "risk", "stage", "therapy", "alerts", "reminders"} <= printed.keys()
    assert all(r["revision"] == 1 for r in printed["reminders"])
    assert db.count(ReminderRow, ReminderRow.patient_id == "P01") > 0
    assert db.count(EventRow, EventRow.processed_at.is_(None)) == 0
