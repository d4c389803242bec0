"""``gistsched db upgrade``, ``submit`` and ``patient``: the command-line shell of the event log."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: `gistsched risk` and `plan` must start fast without them
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlalchemy.orm import Session, sessionmaker

    from scheduler.config.settings import Settings


class StoreError(Exception):
    """A problem with the database or broker the user can act on: one line, exit 2."""


def _sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database; a missing SQLite file is not created behind the
    user's back (that would hide a wrong GIST_DATA_DIR): run `gistsched db upgrade` first."""
    from sqlalchemy.engine import make_url

    from models.db import make_engine, make_sessionmaker

    url = make_url(settings.resolved_database_url)
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not Path(database).exists():
        raise StoreError(
            f"GIST_DATABASE_URL: no database at {url.database}; run `gistsched db upgrade` first"
        )
    return make_sessionmaker(make_engine(settings.resolved_database_url))


def cmd_db(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from models.migrate import upgrade
    from scheduler.config.settings import load_settings

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.resolved_database_url)
    except OperationalError as exc:
        raise StoreError(f"GIST_DATABASE_URL: cannot reach the database ({exc.orig})") from None
    print(json.dumps({"database": _safe(settings.resolved_database_url), "schema": "head"}))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.app.wiring import queue_processing
    from scheduler.config.settings import load_settings
    from scheduler.patients.intake import parse_lines, record_events
    from scheduler.patients.repository import unprocessed
    from scheduler.staff import audit

    settings = load_settings()
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"FILE: cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StoreError(f"FILE: {args.file} is not UTF-8 text") from None
    sessions = _sessions(settings)

    def audited(session: Session, patient_ids: list[str]) -> None:  # in the transaction that stores
        for patient_id in patient_ids:
            audit.record(
                session, audit.Actor(None, "cli"), "submit_events", patient_id, detail="gistsched submit"
            )

    try:
        result = record_events(
            sessions,
            parse_lines(text.split("\n")),  # JSON Lines: only \n ends a line (not U+2028 inside a string)
            settings.today(),
            queue_processing(settings),
            audit=audited,
        )
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    print(json.dumps(result.to_json()))
    for rejection in result.rejected:
        print(f"{args.file}: {rejection.error}", file=sys.stderr)
    if args.wait is not None and result.event_ids:
        deadline = time.monotonic() + args.wait
        while True:
            with sessions() as session:
                left = unprocessed(session, result.event_ids)
            if left == 0:
                break
            if time.monotonic() >= deadline:
                print(f"--wait: {left} event(s) still unprocessed after {args.wait:g} s", file=sys.stderr)
                return 1
            time.sleep(0.1)
    return 2 if result.rejected else 0


def cmd_patient(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.config.settings import load_settings
    from scheduler.patients.stored import patient_exists, pending_events, stored_plan

    settings = load_settings()
    sessions = _sessions(settings)
    try:
        with sessions() as session:
            plan = stored_plan(session, args.patient_id)
            if plan is None:
                if not patient_exists(session, args.patient_id):
                    raise StoreError(f"PATIENT_ID: no patient {args.patient_id!r} is stored")
                waiting = pending_events(session, args.patient_id)
                raise StoreError(
                    f"PATIENT_ID: {args.patient_id!r} has no stored plan yet "
                    f"({waiting} event(s) waiting for a worker)"
                )
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    print(json.dumps(plan, ensure_ascii=False))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The service's figures as JSON (the same as ``GET /metrics``)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.config.settings import load_settings
    from scheduler.operations.broker_status import broker_queue_length
    from scheduler.operations.status import read_status

    settings = load_settings()
    try:
        with _sessions(settings)() as session:
            status = read_status(session, broker_queue_length(settings), today=settings.today())
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    print(json.dumps(status.to_json(), indent=2 if args.pretty else None))
    return 0


def not_ready(exc: OperationalError | ProgrammingError) -> StoreError:
    return StoreError(
        f"GIST_DATABASE_URL: the database is not ready ({type(exc.orig).__name__}); "
        "run `gistsched db upgrade` first"
    )


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    upgrade = db_sub.add_parser("upgrade", help="create or migrate the schema (Alembic, to head)")
    upgrade.set_defaults(func=cmd_db)

    submit = sub.add_parser("submit", help="store and queue the events of FILE (JSON Lines)")
    submit.add_argument("file", metavar="FILE")
    submit.add_argument("--wait", type=float, metavar="SECONDS", help="return once every event is processed")
    submit.set_defaults(func=cmd_submit)

    status = sub.add_parser("status", help="queue lag, events, reminders, alerts and emails, as JSON")
    status.add_argument("--pretty", action="store_true", help="indented")
    status.set_defaults(func=cmd_status)

    patient = sub.add_parser("patient", help="the stored plan of one patient, as JSON")
    patient.add_argument("patient_id", metavar="PATIENT_ID")
    patient.set_defaults(func=cmd_patient)
