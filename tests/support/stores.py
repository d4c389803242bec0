"""A database of a test module's own (not the session's shared one) with the example cohort stored
and planned as of :data:`~tests.support.staff.AS_OF`, and signed-up users: the bad-input and
security suites each keep one per backend for the whole module."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from scheduler.patients.processing import process_patient
from tests.support.common import by_patient, intake, read_cohort
from tests.support.services import Database, PostgresServer
from tests.support.staff import AS_OF, create_staff


def open_store(
    backend: str, folder: Path, postgres: PostgresServer | None, users: Mapping[str, tuple[str, str | None]]
) -> tuple[Database, str, dict[str, str]]:
    """A fresh database of ``backend`` (its own PostgreSQL database, not the session's shared one),
    the cohort stored and planned, and ``users`` (name: (role, navigator_id)) with their tokens."""
    url = f"sqlite:///{folder / 'gist.sqlite3'}" if postgres is None else postgres.create_database()
    upgrade(url)
    engine = make_engine(url)
    db = Database(backend, url, engine, make_sessionmaker(engine))
    events = read_cohort()
    intake(db.sessions, events, AS_OF)
    for patient_id in by_patient(events):
        process_patient(db.sessions, patient_id, AS_OF)
    return db, url, create_staff(db.sessions, users)


def close_store(db: Database, url: str, postgres: PostgresServer | None) -> None:
    db.engine.dispose()
    if postgres is not None:
        postgres.drop_database(url)
