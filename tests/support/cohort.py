"""The example cohort, stored and processed as of 2026-11-27, fast: built once per test session and
backend, then restored from a snapshot for every test that needs it (the web suites would
otherwise replay the cohort through intake and processing hundreds of times).

* SQLite: the first build is copied with SQLite's online backup API; later tests get that copy
  written over their own (empty, migrated) file, through the same API.
* PostgreSQL: the first build is copied table by table into a ``snapshot`` schema of the session's
  database (``Database.wipe`` empties only the application's tables); later tests truncate theirs
  and insert the snapshot back, then move each id sequence past the restored ids.

The result is the same rows as :func:`build`: the application's own code made them.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from models.rows import Base
from scheduler.patients.processing import process_patient
from tests.support.common import by_patient, intake, read_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF

SCHEMA = "snapshot"
_snapshots: dict[str, str] = {}  # backend (and URL) → where its snapshot is


def build(db: Database, as_of: dt.date = AS_OF) -> None:
    events = read_cohort()
    intake(db.sessions, events, as_of)
    for patient_id in by_patient(events):
        process_patient(db.sessions, patient_id, as_of)


def store_cohort(db: Database) -> Database:
    """``db`` (migrated, empty) holding the example cohort planned as of :data:`AS_OF`."""
    if db.backend == "sqlite":
        _sqlite(db)
    else:
        _postgresql(db)
    return db


def _sqlite_file(db: Database) -> str:
    database = make_url(db.url).database
    assert database
    return database


def _copy(source: str, target: str) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _sqlite(db: Database) -> None:
    snapshot = _snapshots.get("sqlite")
    db.engine.dispose()
    if snapshot is None:
        build(db)
        db.engine.dispose()
        snapshot = str(Path(tempfile.mkdtemp(prefix="gist-cohort-")) / "cohort.sqlite3")
        _copy(_sqlite_file(db), snapshot)
        _snapshots["sqlite"] = snapshot
        return
    _copy(snapshot, _sqlite_file(db))


def _postgresql(db: Database) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    key = f"postgresql:{db.url}"
    if key not in _snapshots:
        build(db)
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
            for name in tables:
                conn.execute(text(f"CREATE TABLE {SCHEMA}.{name} AS TABLE public.{name}"))
        _snapshots[key] = SCHEMA
        return
    db.wipe()
    with db.engine.begin() as conn:
        for name in tables:  # parents first
            conn.execute(text(f"INSERT INTO public.{name} SELECT * FROM {SCHEMA}.{name}"))
        for table in Base.metadata.sorted_tables:
            if "id" in table.c and table.c.id.autoincrement is True:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('public.{table.name}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM public.{table.name}), 0) + 1, false)"
                    )
                )
