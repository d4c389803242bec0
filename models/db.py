"""Engine and sessions: one place that knows the SQLite and PostgreSQL differences.

SQLite runs in WAL mode with a busy timeout so several worker processes can share the file
(writers are serialised; ``BEGIN IMMEDIATE`` takes the write lock up front so two workers never
deadlock upgrading read locks). PostgreSQL uses psycopg 3 and row locks (``FOR UPDATE``).
:func:`is_transient` tells which errors of either are worth retrying; :func:`rowcount` runs the
conditional writes that claims and fences decide by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Engine, Table, Update, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

_SCHEMA_ERRORS = ("no such table", "no such column")  # SQLite says these as OperationalError


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # JIT off: every statement here is short, and PostgreSQL's JIT compiles a statement whose
    # *estimated* cost passes jit_above_cost — the worklist's ranked join estimates 16,000 rows
    # for the 200 it reads, and spent 37 ms compiling to save nothing (docs/performance.md §4).
    connect_args = {"options": "-c jit=off"} | kwargs.pop("connect_args", {})
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def rowcount(session: Session, statement: Update | Delete) -> int:
    """Run a bulk UPDATE/DELETE (no ORM session synchronisation) and return the rows it matched:
    conditional writes (a claim, a lease, a fenced record) decide by this count."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(cast(CursorResult[Any], result).rowcount)


def insert_rows(session: Session, entity: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys) of the mapped class ``entity`` in the session's
    transaction, the cheapest way the backend offers: PostgreSQL's ``COPY … FROM STDIN`` (a new
    patient's dozens of reminders in one stream: about a third of the client time of an
    executemany, which sends an INSERT per row), an ORM bulk executemany elsewhere. Every value
    passes through its column type's bind processing (UTC datetimes, JSON) as in any INSERT, but
    COPY sends a None as SQL NULL: a JSON column that may hold None is declared ``none_as_null``,
    so that both paths store NULL. A column left out takes the database's default, so one with a
    client-side default must be given."""
    if not rows:
        return
    names = list(rows[0])
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(entity).execution_options(render_nulls=True), list(rows))
        return
    table = cast(Table, entity.__table__)
    missing = [c.name for c in table.columns if c.default is not None and c.name not in names]
    if missing:
        raise ValueError(f"insert_rows into {table.name}: no value for {', '.join(missing)}")
    processors = [table.columns[name].type._cached_bind_processor(connection.dialect) for name in names]
    columns = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names)
    statement = f"COPY {table.name} ({columns}) FROM STDIN"
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                values = zip(processors, (row[name] for name in names), strict=True)
                copy.write_row([v if v is None or process is None else process(v) for process, v in values])
    except dbapi_error as exc:  # the same exception classes as any statement's (IntegrityError …)
        raise DBAPIError.instance(statement, None, exc, dbapi_error) from exc


def is_transient(exc: BaseException) -> bool:
    """A database error that may well not recur: a lock or busy timeout ("database is locked"), a
    serialization failure or deadlock, a dropped connection. A missing table will recur."""
    if isinstance(exc, OperationalError):
        return not any(text in str(exc.orig) for text in _SCHEMA_ERRORS)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        import psycopg.errors as pg

        return isinstance(exc.orig, (pg.SerializationFailure, pg.DeadlockDetected, pg.LockNotAvailable))
    return False
