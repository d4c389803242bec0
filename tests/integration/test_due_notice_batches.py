"""Writing the due notices in batches (SQLite and PostgreSQL): a constant number of statements per
batch whatever its size, nothing lost or doubled when a batch fails before its commit, and two
writers at once never telling a reminder twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select

from models.rows import NotificationRow, PatientRow, ReminderRow
from models.types import utcnow
from scheduler.domain.notices import first_notice_on
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications import dispatch, repository
from tests.support.services import Database
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

BATCH = 50
KINDS = ("ct", "lab_lft", "clinic_visit", "mdt_review")  # imaging, blood, review, staff-only
STATEMENTS_PER_BATCH = 4  # lock, what was told, INSERT executemany, UPDATE executemany


def seed(db: Database, due: int, later: int = 10) -> None:
    """``due`` open reminders whose advance notice is due (every other patient without an email:
    the navigator is told instead) and ``later`` whose notice day is still to come."""
    now = utcnow()
    patients = [
        {"patient_id": f"B{i:03d}", "navigator_id": "nav-b", "email": f"b{i}@example.org" if i % 2 else None,
         "timezone": "UTC", "is_active": True, "created_at": now}
        for i in range(max(1, (due + later) // 5))
    ]  # fmt: skip
    reminders: list[dict[str, Any]] = []
    for i in range(due + later):
        kind = KINDS[i % len(KINDS)]
        due_on = AS_OF + dt.timedelta(days=1 + i % 2 if i < due else 400 + i)  # advance stage
        reminders.append(
            {"patient_id": patients[i % len(patients)]["patient_id"], "navigator_id": "nav-b",
             "key": f"{kind}:bench:{i}", "kind": kind, "due_on": due_on, "window_days": 14,
             "status": "planned", "rule": "bench", "rationale": "r", "citation": "c", "revision": 1,
             "notice_on": first_notice_on(kind, due_on, 14, DEFAULT_PROFILE), "created_at": now,
             "updated_at": now}
        )  # fmt: skip
    with db.sessions.begin() as session:
        session.execute(insert(PatientRow), patients)
        session.execute(insert(ReminderRow), reminders)
    assert db.count(ReminderRow, ReminderRow.notice_on <= AS_OF) == due


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The statements sent to the database, ``BEGIN`` left out (SQLite's is explicit)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() != "BEGIN":
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def outbox_keys(db: Database) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(NotificationRow.dedup_key).order_by(NotificationRow.dedup_key)))


def assert_each_told_once(db: Database, due: int) -> None:
    keys = outbox_keys(db)
    assert len(keys) == due
    assert len(set(keys)) == due
    assert db.count(ReminderRow, ReminderRow.notice_on <= AS_OF) == 0


@pytest.mark.parametrize("due", [1, 7, BATCH - 1])
def test_one_batch_costs_the_same_statements_whatever_its_size(db: Database, due: int) -> None:
    seed(db, due)
    with statements(db.engine) as seen:
        assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE, batch=BATCH) == due
    assert len(seen) == STATEMENTS_PER_BATCH, seen
    assert_each_told_once(db, due)


@pytest.mark.parametrize(("due", "batches"), [(BATCH, 2), (3 * BATCH + 1, 4)])
def test_statements_grow_with_batches_not_reminders(db: Database, due: int, batches: int) -> None:
    """Full batches cost the same; a last empty batch costs its lock alone."""
    seed(db, due)
    with statements(db.engine) as seen:
        assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE, batch=BATCH) == due
    assert len(seen) <= STATEMENTS_PER_BATCH * batches, seen
    assert sum(s.lstrip().upper().startswith("INSERT") for s in seen) == -(-due // BATCH)
    assert_each_told_once(db, due)


def test_a_batch_that_fails_before_its_commit_is_written_once_later(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second batch fails after its outbox rows were sent (before its notice days and commit):
    its rows and days go together; the next run writes each missing notice once."""
    due = 2 * BATCH + 5
    seed(db, due)
    calls = 0
    real = repository.set_notice_days

    def failing(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the database went away mid-batch")
        real(*args)

    monkeypatch.setattr(repository, "set_notice_days", failing)
    with pytest.raises(ConnectionError):
        dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE, batch=BATCH)
    assert len(outbox_keys(db)) == BATCH
    assert db.count(ReminderRow, ReminderRow.notice_on <= AS_OF) == due - BATCH
    assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE, batch=BATCH) == due - BATCH
    assert_each_told_once(db, due)
    assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE, batch=BATCH) == 0


def test_two_writers_at_once_tell_each_reminder_once(db: Database) -> None:
    """As if two clocks ran at once (the lease keeps them apart): locked reminders are skipped on
    PostgreSQL and writers serialised on SQLite, so together they write every notice once."""
    due = 6 * BATCH
    seed(db, due)
    written: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer() -> None:
        try:
            start.wait()
            written.append(dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE, batch=BATCH))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(written) == due
    assert_each_told_once(db, due)
    with db.sessions() as session:
        audiences = dict(
            session.execute(
                select(NotificationRow.audience, func.count()).group_by(NotificationRow.audience)
            ).all()
        )
    assert set(audiences) == {"patient", "navigator"}
