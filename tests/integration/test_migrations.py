"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL, fill
what they add, and every downgrade gives back exactly the schema its revision had when built up
from empty (head → base → head, compared table by table through SQLAlchemy's inspector)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Inspector

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


# ---- every downgrade undoes its upgrade --------------------------------------------------------------

Schema = dict[str, Any]


def words(value: object) -> str:
    """SQL text with its whitespace normalised (reflection keeps the migration's line breaks)."""
    return " ".join(str(getattr(value, "text", value)).split())


def table_schema(inspector: Inspector, table: str) -> Schema:
    columns = inspector.get_columns(table)
    foreign_keys = inspector.get_foreign_keys(table)
    uniques = inspector.get_unique_constraints(table)
    checks = inspector.get_check_constraints(table)
    indexes = inspector.get_indexes(table)
    return {
        "columns": sorted(
            (c["name"], str(c["type"]), c["nullable"], words(c.get("default"))) for c in columns
        ),
        "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
        "foreign_keys": sorted(
            (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
             words(sorted(f.get("options", {}).items())))
            for f in foreign_keys
        ),
        "unique": sorted((str(u["name"]), tuple(u["column_names"])) for u in uniques),
        "checks": sorted((str(c["name"]), words(c["sqltext"])) for c in checks),
        "indexes": sorted(
            (i["name"], tuple(str(c) for c in i["column_names"]), bool(i["unique"]),
             tuple(sorted((k, words(v)) for k, v in i.get("dialect_options", {}).items())))
            for i in indexes
        ),
    }  # fmt: skip


def schema_of(url: str) -> Schema:
    """The schema as the database reports it (SQLAlchemy's inspector): every table but Alembic's own,
    with its columns (type, nullability, server default), primary key, foreign keys, unique and
    check constraints and indexes (with their partial-index conditions), in a stable order; on
    PostgreSQL also the sequences."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        tables = sorted(set(inspector.get_table_names()) - {"alembic_version"})
        sequences = sorted(inspector.get_sequence_names()) if engine.dialect.name == "postgresql" else []
        return {"tables": {t: table_schema(inspector, t) for t in tables}, "sequences": sequences}
    finally:
        engine.dispose()


def revisions() -> list[str]:
    """Every revision id from the first to head, in order."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def test_head_to_base_to_head_gives_back_each_schema(empty_url: str) -> None:
    """Up from empty one revision at a time, noting each schema; then down one at a time to base,
    where each step must give back exactly the schema noted for that revision on the way up (so a
    downgrade that forgets a column, an index or a constraint fails here); at base nothing is
    left; up to head again gives the head schema once more."""
    config = alembic_config(empty_url)
    steps = revisions()
    assert len(steps) >= 5
    empty = schema_of(empty_url)
    assert empty == {"tables": {}, "sequences": []}
    noted: dict[str, Schema] = {}
    for revision in steps:
        upgrade(empty_url, revision)
        noted[revision] = schema_of(empty_url)
        assert noted[revision]["tables"], revision
    for revision, below in reversed(list(zip(["base", *steps], steps, strict=False))):
        command.downgrade(config, revision if revision != "base" else "base")
        assert schema_of(empty_url) == (empty if revision == "base" else noted[revision]), (
            f"downgrading {below} → {revision}"
        )
    upgrade(empty_url)
    assert schema_of(empty_url) == noted[steps[-1]]
