"""The change-driven daily run: statuses moved by one UPDATE, only the patients whose plan can change
recomputed — and every stored plan, every day, equal to a fresh pure plan of that day.

The simulation replays months of clinic days on a synthetic cohort, on SQLite and PostgreSQL:
each day the clock's daily run (``advance_statuses`` and a forced recompute of the patients
``due_patient_ids`` names), then the day's new events with the recompute they cause. Half the
patients receive each event on its date; the other half a week late (a backdated event changes
what the plan said in between). After every day the
stored plan of every patient equals ``plan_follow_up`` of that day — statuses included, ``as_of``
aside (the stored one is the day of the last recompute).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from models.rows import PatientRow, PatientStateRow, ReminderRow
from scheduler.patients import repository
from scheduler.patients.processing import RESWEEP_DAYS, process_patient, recompute_on
from scheduler.patients.repository import advance_statuses, due_patient_ids, fresh_feed_revision
from scheduler.patients.stored import stored_plan
from tests.support.common import assert_matches_pure, by_patient, intake, pure_plan, synthetic_events
from tests.support.services import Database

pytestmark = pytest.mark.integration

START = dt.date(2025, 3, 1)
LATE = dt.timedelta(days=7)
DAYS = 120
CHECK_EVERY = 3  # days between full comparisons (statuses move on the other days too)


def clock_time(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)


def occurred(obj: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(obj["occurred_on"])


def receive(db: Database, objs: list[dict[str, Any]], day: dt.date) -> None:
    """Intake of ``objs`` on ``day``, then the recompute of each patient it queued."""
    queued: list[str] = []
    intake(db.sessions, objs, day, queued.extend)
    for patient_id in sorted(set(queued)):
        process_patient(db.sessions, patient_id, day)


def daily_run(db: Database, day: dt.date) -> list[str]:
    """What the clock does once a day; returns the patients it recomputed."""
    with db.sessions.begin() as session:
        advance_statuses(session, day, clock_time(day))
    with db.sessions() as session:
        due = due_patient_ids(session, day)
    for patient_id in due:
        process_patient(db.sessions, patient_id, day, force=True)
    return due


def assert_stored_equal_pure(
    db: Database,
    histories: dict[str, list[dict[str, Any]]],
    day: dt.date,
    received: Callable[[dict[str, Any]], dt.date],
) -> None:
    """Every patient's stored plan is the pure plan of ``day`` from the events received by then."""
    with db.sessions() as session:
        for patient_id, objs in sorted(histories.items()):
            known = [o for o in objs if received(o) <= day]
            if not known:
                continue
            stored = stored_plan(session, patient_id)
            assert stored is not None, f"{patient_id}: no stored plan on {day}"
            pure = pure_plan(known, day) | {"as_of": stored["as_of"]}
            try:
                assert_matches_pure(stored, pure)
            except AssertionError as exc:
                raise AssertionError(f"on {day}: {exc}") from None


def test_a_season_of_days_converges_with_few_recomputes(db: Database) -> None:
    histories = by_patient(synthetic_events(24, seed=11))
    late = {pid for i, pid in enumerate(sorted(histories)) if i % 2 == 0}

    def received(obj: dict[str, Any]) -> dt.date:
        return max(START, occurred(obj) + (LATE if obj["patient_id"] in late else dt.timedelta()))

    def deliver(day: dt.date) -> None:
        arriving = [o for objs in histories.values() for o in objs if received(o) == day]
        if arriving:
            receive(db, arriving, day)

    for obj in (o for objs in histories.values() for o in objs):  # received on a simulated day
        assert received(obj) <= START + dt.timedelta(days=DAYS) or received(obj) > START
    deliver(START)
    assert_stored_equal_pure(db, histories, START, received)

    recomputed = 0
    patient_days = 0
    for offset in range(1, DAYS + 1):
        day = START + dt.timedelta(days=offset)
        recomputed += len(daily_run(db, day))
        deliver(day)
        with db.sessions() as session:
            patient_days += session.query(PatientRow).filter(PatientRow.is_active.is_(True)).count()
        if offset % CHECK_EVERY == 0 or offset == DAYS:
            assert_stored_equal_pure(db, histories, day, received)
    # Deterministic for this cohort: about one patient in 25 a day, against every one before.
    assert recomputed < patient_days / 10, (recomputed, patient_days)


def test_due_patients_are_those_whose_day_has_come_or_is_unknown(db: Database) -> None:
    objs = [o for o in synthetic_events(6, seed=3) if occurred(o) <= START]
    receive(db, objs, START)
    with db.sessions() as session:
        days = dict(session.execute(select(PatientStateRow.patient_id, PatientStateRow.recompute_on)).all())
        stored = set(days)
        assert all(
            day is not None and START < day <= START + dt.timedelta(days=RESWEEP_DAYS)
            for day in days.values()
        )
        first_day = min(d for d in days.values() if d is not None)
        assert due_patient_ids(session, first_day - dt.timedelta(days=1)) == sorted(
            pid for pid in {o["patient_id"] for o in objs} if pid not in stored
        )
        assert set(due_patient_ids(session, first_day)) >= {pid for pid, d in days.items() if d == first_day}
    with db.sessions.begin() as session:  # unknown (a row stored before the column existed): due
        session.execute(update(PatientStateRow).values(recompute_on=None))
    with db.sessions() as session:
        active = set(session.scalars(select(PatientRow.patient_id).where(PatientRow.is_active.is_(True))))
        assert active
        assert set(due_patient_ids(session, START)) == active


@pytest.mark.parametrize("batch", [repository.STATUS_BATCH, 3], ids=["one-batch", "batches-of-3"])
def test_the_status_update_moves_exactly_what_the_date_moves(
    db: Database, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "STATUS_BATCH", batch)
    objs = [o for o in synthetic_events(20, seed=5) if occurred(o) <= START]
    receive(db, objs, START)
    with db.sessions() as session:
        before = {(r.patient_id, r.key): (r.status, r.revision) for r in session.scalars(select(ReminderRow))}
        revisions = dict(session.execute(select(PatientRow.patient_id, PatientRow.feed_revision)).all())
    later = START + dt.timedelta(days=120)
    with db.sessions.begin() as session:
        moved = advance_statuses(session, later, clock_time(later))
    with db.sessions.begin() as session:
        assert advance_statuses(session, later, clock_time(later)) == 0  # idempotent
    by_pid = by_patient(objs)
    changed_patients: set[str] = set()
    count = 0
    with db.sessions() as session:
        for row in session.scalars(select(ReminderRow)):
            status, revision = before[(row.patient_id, row.key)]
            if row.status != status:
                count += 1
                changed_patients.add(row.patient_id)
                assert row.revision == revision + 1
                assert (status, row.status) in {
                    ("planned", "due"),
                    ("planned", "overdue"),
                    ("due", "overdue"),
                }
            else:
                assert row.revision == revision
        for patient_id, revision in session.execute(select(PatientRow.patient_id, PatientRow.feed_revision)):
            assert (revision > revisions[patient_id]) == (patient_id in changed_patients)
    assert moved == count > 0
    if batch == 3:
        assert count > 3 * batch  # several statements
    for patient_id in by_pid:  # what the date moved is what a recompute would show (content unchanged)
        with db.sessions() as session:
            stored = stored_plan(session, patient_id)
        pure = pure_plan(by_pid[patient_id], later)
        open_pure = {
            r["key"]: r["status"] for r in pure["reminders"] if r["status"] in {"planned", "due", "overdue"}
        }
        assert stored is not None
        for reminder in stored["reminders"]:
            if reminder["key"] in open_pure and reminder["status"] in {"planned", "due", "overdue"}:
                assert reminder["status"] == open_pure[reminder["key"]], (patient_id, reminder["key"])


def test_recompute_day_is_the_change_day_bounded_by_the_resweep() -> None:
    from scheduler.domain.events import parse_event
    from scheduler.domain.plan import plan_follow_up

    objs = synthetic_events(30, seed=2)
    for events in by_patient(objs).values():
        plan = plan_follow_up([parse_event(o) for o in events], dt.date(2026, 6, 1))
        day = recompute_on(plan)
        assert plan.as_of < day <= plan.as_of + dt.timedelta(days=RESWEEP_DAYS)
        if plan.changes_on is not None:
            assert day <= plan.changes_on


@pytest.mark.parametrize(
    ("current", "now_us", "expected"),
    [(0, 1_000, 1_000), (999, 1_000, 1_000), (1_000, 1_000, 1_001), (5_000, 1_000, 5_001)],
)
def test_fresh_feed_revisions_only_grow(current: int, now_us: int, expected: int) -> None:
    now = dt.datetime.fromtimestamp(now_us / 1_000_000, tz=dt.UTC)
    assert fresh_feed_revision(current, now) == expected


def test_rows_without_overdue_from_are_filled_in_before_statuses_move(db: Database) -> None:
    """A row an older release's worker wrote during the upgrade lacks ``overdue_from``: the daily
    run computes it first, so the row moves like any other."""
    objs = [o for o in synthetic_events(6, seed=7) if occurred(o) <= START]
    receive(db, objs, START)
    with db.sessions.begin() as session:
        session.execute(update(ReminderRow).values(overdue_from=None))
    later = START + dt.timedelta(days=200)
    with db.sessions.begin() as session:
        assert advance_statuses(session, later, clock_time(later)) > 0
    with db.sessions() as session:
        for row in session.scalars(select(ReminderRow)):
            assert row.overdue_from == row.due_on + dt.timedelta(days=row.window_days + 1)
            if row.status in {"planned", "due", "overdue"}:
                expected = (
                    "planned" if later < row.due_on else "due" if later < row.overdue_from else "overdue"
                )
                assert row.status == expected, row.key
