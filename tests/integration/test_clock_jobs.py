"""The clock's decisions (scheduler/operations/clock_jobs.py) on a real SQLite file, with explicit times.

Lease: two holders, renewal, expiry, release. Daily mark: claimed once per day, given back on
failure. Stalled sweep: only events both unprocessed and older than the stall period, one entry
per patient. Tick: a clock without the lease does nothing; the daily run happens at start-up or
after ``daily_recompute_at``, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.rows import EventRow, PatientRow
from scheduler.config.settings import Settings
from scheduler.operations.clock_jobs import REQUEUE_MAX_WAIT, ClockState, requeue_wait, tick
from scheduler.operations.repository import (
    claim_day,
    claim_lease,
    last_run_on,
    release_lease,
    stalled_patient_ids,
    unclaim_day,
)
from scheduler.patients.repository import active_patient_ids
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=180)
DAY = AS_OF


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'clock.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'clock.sqlite3'}",
        "broker_url": None,
        "clock_interval_seconds": 60,
        "stalled_after_seconds": 300,
        "clinic_timezone": "UTC",
        "daily_recompute_at": dt.time(2, 0),
        "as_of": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def add_event(
    sessions: sessionmaker[Session],
    event_id: str,
    patient_id: str,
    received_at: dt.datetime,
    processed_at: dt.datetime | None = None,
    *,
    is_active: bool = True,
) -> None:
    with sessions.begin() as session:
        if session.get(PatientRow, patient_id) is None:
            session.add(PatientRow(patient_id=patient_id, is_active=is_active))
            session.flush()
        session.add(
            EventRow(
                event_id=event_id,
                patient_id=patient_id,
                type="visit",
                occurred_on=DAY,
                payload={"event_id": event_id},
                fingerprint=event_id,
                received_at=received_at,
                processed_at=processed_at,
            )
        )


# ---- lease --------------------------------------------------------------------------------------


def test_lease_is_held_by_one_holder_renewed_and_taken_over_only_after_expiry(
    sessions: sessionmaker[Session],
) -> None:
    assert claim_lease(sessions, "a", TTL, T0)  # first claim: INSERT
    assert not claim_lease(sessions, "b", TTL, T0 + dt.timedelta(seconds=1))
    renewed_at = T0 + dt.timedelta(seconds=60)
    assert claim_lease(sessions, "a", TTL, renewed_at)  # renewal moves the expiry
    assert not claim_lease(sessions, "b", TTL, T0 + TTL + dt.timedelta(seconds=1))  # original expiry passed
    assert not claim_lease(sessions, "b", TTL, renewed_at + TTL - dt.timedelta(seconds=1))
    assert claim_lease(sessions, "b", TTL, renewed_at + TTL)  # expired: b takes over
    assert not claim_lease(sessions, "a", TTL, renewed_at + TTL + dt.timedelta(seconds=1))


def test_released_lease_is_free_at_once_and_only_its_holder_can_release_it(
    sessions: sessionmaker[Session],
) -> None:
    assert claim_lease(sessions, "a", TTL, T0)
    assert not release_lease(sessions, "b")
    assert not claim_lease(sessions, "b", TTL, T0)
    assert release_lease(sessions, "a")
    assert claim_lease(sessions, "b", TTL, T0 + dt.timedelta(seconds=1))


# ---- daily mark ---------------------------------------------------------------------------------


def test_daily_mark_is_claimed_once_per_day_and_never_backwards(sessions: sessionmaker[Session]) -> None:
    assert last_run_on(sessions) is None
    assert claim_day(sessions, DAY)  # first ever: INSERT
    assert not claim_day(sessions, DAY)  # a second clock, or a restart, the same day
    assert not claim_day(sessions, DAY - dt.timedelta(days=1))
    assert claim_day(sessions, DAY + dt.timedelta(days=1))
    assert last_run_on(sessions) == DAY + dt.timedelta(days=1)


def test_unclaimed_day_can_be_claimed_again(sessions: sessionmaker[Session]) -> None:
    assert claim_day(sessions, DAY)
    unclaim_day(sessions, DAY)
    assert last_run_on(sessions) == DAY - dt.timedelta(days=1)
    assert claim_day(sessions, DAY)


# ---- stalled sweep ------------------------------------------------------------------------------


def test_stalled_sweep_lists_each_patient_with_an_old_unprocessed_event_once(
    sessions: sessionmaker[Session],
) -> None:
    old = T0 - dt.timedelta(minutes=10)
    recent = T0 - dt.timedelta(minutes=1)
    add_event(sessions, "s1", "STALE", old)
    add_event(sessions, "s2", "STALE", old)  # two stale events, one entry
    add_event(sessions, "d1", "DONE", old, processed_at=old + dt.timedelta(seconds=1))
    add_event(sessions, "n1", "NEW", recent)  # unprocessed but not yet stalled
    add_event(sessions, "m1", "MIXED", old, processed_at=old)
    add_event(sessions, "m2", "MIXED", old)
    cutoff = T0 - dt.timedelta(minutes=5)
    assert stalled_patient_ids(sessions, cutoff) == ["MIXED", "STALE"]


# ---- tick ---------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.batches: list[tuple[list[str], bool]] = []

    def __call__(self, patient_id: str, force: bool) -> None:
        self.calls.append((patient_id, force))

    def many(self, patient_ids: Sequence[str], force: bool) -> list[str]:
        """``enqueue_many``: every one sent; each call's patients kept together in ``batches``."""
        self.batches.append((list(patient_ids), force))
        self.calls += [(patient_id, force) for patient_id in patient_ids]
        return []


def test_second_clock_does_nothing_while_the_first_holds_the_lease(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    add_event(sessions, "s1", "P1", T0 - dt.timedelta(minutes=10))
    first, second = ClockState(holder="first"), ClockState(holder="second")
    first_calls, second_calls = Recorder(), Recorder()

    result = tick(sessions, settings, first_calls, first, now=T0)
    assert result.has_lease
    assert result.requeued == ("P1",)
    assert result.recomputed == ("P1",)  # start-up: today's daily run had not happened
    assert first_calls.calls == [("P1", False), ("P1", True)]

    result = tick(sessions, settings, second_calls, second, now=T0 + dt.timedelta(seconds=1))
    assert not result.has_lease
    assert second_calls.calls == []


def test_a_stalled_patient_is_requeued_once_per_stall_period(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    add_event(sessions, "s1", "P1", T0 - dt.timedelta(minutes=10))
    state, calls = ClockState(holder="c"), Recorder()
    for seconds in (0, 60, 120, 240):
        tick(sessions, settings, calls, state, now=T0 + dt.timedelta(seconds=seconds))
    tick(sessions, settings, calls, state, now=T0 + dt.timedelta(seconds=300))
    assert [c for c in calls.calls if not c[1]] == [("P1", False), ("P1", False)]


def test_a_patient_stalled_behind_a_long_queue_is_requeued_with_a_doubling_wait(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Its earlier messages still wait in the queue: one more every period would flood it."""
    settings = settings_for(tmp_path)  # stall period 300 s
    add_event(sessions, "s1", "P1", T0 - dt.timedelta(minutes=10))
    state, calls = ClockState(holder="c"), Recorder()
    queue_waits = lambda: 40  # noqa: E731
    requeued_at = []
    for seconds in range(0, 9000, 30):
        result = tick(
            sessions, settings, calls, state, T0 + dt.timedelta(seconds=seconds), queue_length=queue_waits
        )
        requeued_at += [seconds] * len(result.requeued)
    assert requeued_at == [0, 300, 900, 2100, 4500, 8100]  # waits 300, 600, 1200, 2400, then 1 h at most
    assert requeue_wait(dt.timedelta(seconds=300), 1) == dt.timedelta(seconds=300)
    assert requeue_wait(dt.timedelta(seconds=300), 4) == dt.timedelta(seconds=2400)
    assert requeue_wait(dt.timedelta(seconds=300), 50) == REQUEUE_MAX_WAIT


def test_an_empty_queue_means_nothing_waits_so_stalled_patients_go_again_each_period(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A broker restarted empty lost every message: no doubling then."""
    settings = settings_for(tmp_path)
    add_event(sessions, "s1", "P1", T0 - dt.timedelta(minutes=10))
    state, calls = ClockState(holder="c"), Recorder()
    for seconds in (0, 300, 600, 900, 1200):
        tick(sessions, settings, calls, state, now=T0 + dt.timedelta(seconds=seconds), queue_length=lambda: 0)
    assert len([c for c in calls.calls if not c[1]]) == 5


def test_the_doubling_starts_again_once_the_patient_was_processed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    add_event(sessions, "s1", "P1", T0 - dt.timedelta(minutes=10))
    state = ClockState(holder="c")
    for seconds in (0, 300, 900):
        tick(
            sessions,
            settings,
            Recorder(),
            state,
            now=T0 + dt.timedelta(seconds=seconds),
            queue_length=lambda: 9,
        )
    assert state.requeued["P1"][1] == 3
    with sessions.begin() as session:
        session.execute(update(EventRow).values(processed_at=T0))
    tick(sessions, settings, Recorder(), state, now=T0 + dt.timedelta(seconds=1000), queue_length=lambda: 9)
    assert state.requeued == {}


def test_daily_recompute_runs_at_its_time_once_and_only_for_active_patients(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    processed = T0 - dt.timedelta(days=1)
    add_event(sessions, "a1", "ACTIVE", processed, processed)
    add_event(sessions, "e1", "ENDED", processed, processed, is_active=False)
    with sessions() as session:
        assert active_patient_ids(session) == ["ACTIVE"]
    state, calls = ClockState(holder="c"), Recorder()
    night = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC)

    tick(sessions, settings, calls, state, now=T0)  # start-up on the 27th: runs
    assert tick(sessions, settings, calls, state, now=night).recomputed is None  # 28th, before 02:00
    assert tick(sessions, settings, calls, state, now=night + dt.timedelta(hours=1)).recomputed == ("ACTIVE",)
    assert tick(sessions, settings, calls, state, now=night + dt.timedelta(hours=2)).recomputed is None
    restarted = ClockState(holder="c2")  # a restart the same day does not run it again
    release_lease(sessions, "c")
    assert tick(sessions, settings, calls, restarted, now=night + dt.timedelta(hours=3)).recomputed is None
    assert calls.calls == [("ACTIVE", True), ("ACTIVE", True)]


def test_failed_queueing_gives_the_day_back(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    add_event(sessions, "a1", "P1", T0, T0)

    def broken(_patient_id: str, _force: bool) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        tick(sessions, settings, broken, ClockState(holder="c"), now=T0)
    assert last_run_on(sessions) == DAY - dt.timedelta(days=1)
    calls = Recorder()
    assert tick(sessions, settings, calls, ClockState(holder="c"), now=T0).recomputed == ("P1",)


def test_one_shot_tick_releases_the_lease(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert tick(sessions, settings, Recorder(), now=T0).has_lease
    assert claim_lease(sessions, "someone-else", TTL, T0)


def test_pinned_date_is_the_day_claimed(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    settings = settings_for(tmp_path, as_of=dt.date(2026, 1, 15))
    tick(sessions, settings, Recorder(), now=T0)
    assert last_run_on(sessions) == dt.date(2026, 1, 15)


def test_unsent_messages_are_tried_again_next_tick(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    add_event(sessions, "s1", "P1", T0 - dt.timedelta(minutes=10))
    state = ClockState(holder="c")
    down = tick(sessions, settings, lambda _pid, _force: False, state, now=T0)  # broker down
    assert down.recomputed is None
    assert last_run_on(sessions) == DAY - dt.timedelta(days=1)
    calls = Recorder()
    up = tick(sessions, settings, calls, state, now=T0 + dt.timedelta(seconds=60))
    assert up.requeued == ("P1",)
    assert up.recomputed == ("P1",)


def test_with_enqueue_many_each_step_queues_its_patients_at_once(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The Celery clock queues a step's patients together (``patients.process_batch`` messages);
    the patients it could not send are tried again next tick, as one by one."""
    settings = settings_for(tmp_path)
    for patient_id in ("P1", "P2", "P3"):
        add_event(sessions, f"{patient_id}-1", patient_id, T0 - dt.timedelta(minutes=10))
    state, calls = ClockState(holder="c"), Recorder()
    result = tick(sessions, settings, calls, state, now=T0, enqueue_many=calls.many)
    assert calls.batches == [(["P1", "P2", "P3"], False), (["P1", "P2", "P3"], True)]  # stalled, daily
    assert result.requeued == result.recomputed == ("P1", "P2", "P3")

    later = T0 + dt.timedelta(seconds=settings.stalled_after_seconds + 1)
    refused = tick(sessions, settings, calls, state, now=later, enqueue_many=lambda ids, _force: ids[1:])
    assert refused.requeued == ("P1", "P2", "P3")
    again = tick(
        sessions, settings, calls, state, now=later + dt.timedelta(seconds=1), enqueue_many=calls.many
    )
    assert again.requeued == ("P2", "P3")  # P1 was sent a second ago; P2 and P3 were not


def _stored_state(
    sessions: sessionmaker[Session], patient_id: str, recompute_on: dt.date | None, planner: str | None
) -> None:
    from models.rows import PatientStateRow
    from scheduler.config.profiles import profile_hash
    from scheduler.domain.profile import DEFAULT_PROFILE

    with sessions.begin() as session:
        session.add(
            PatientStateRow(
                patient_id=patient_id, as_of=DAY - dt.timedelta(days=3), stage="surveillance", risk={},
                therapy=None, profile=DEFAULT_PROFILE.name, profile_hash=profile_hash(DEFAULT_PROFILE),
                planner_hash=planner, recompute_on=recompute_on, events_seen=1,
            )
        )  # fmt: skip


@pytest.mark.parametrize(("mode", "expected"), [("due", ("NEW", "TODAY", "UNKNOWN")), ("all", None)])
def test_the_daily_run_recomputes_the_patients_whose_day_has_come(
    sessions: sessionmaker[Session], tmp_path: Path, mode: str, expected: tuple[str, ...] | None
) -> None:
    """Due: today's or an earlier change day, an unknown one, or no plan yet; not a later one.
    ``all`` (GIST_DAILY_RECOMPUTE): every active patient."""
    from scheduler.config.planner_version import planner_hash

    processed = T0 - dt.timedelta(days=1)
    for patient_id, day in (("LATER", DAY + dt.timedelta(days=1)), ("TODAY", DAY), ("UNKNOWN", None)):
        add_event(sessions, f"{patient_id}-1", patient_id, processed, processed)
        _stored_state(sessions, patient_id, day, planner_hash())
    add_event(sessions, "NEW-1", "NEW", processed, processed)
    calls = Recorder()
    result = tick(
        sessions, settings_for(tmp_path, daily_recompute=mode), calls, ClockState(holder="c"), now=T0
    )
    assert result.recomputed == (expected or ("LATER", "NEW", "TODAY", "UNKNOWN"))


def test_a_plan_made_by_another_planner_release_is_recomputed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from scheduler.config.planner_version import planner_hash
    from scheduler.operations.clock_jobs import run_profile_recompute

    processed = T0 - dt.timedelta(days=1)
    for patient_id, planner in (("CURRENT", planner_hash()), ("OLD", "0123456789abcdef"), ("NONE", None)):
        add_event(sessions, f"{patient_id}-1", patient_id, processed, processed)
        _stored_state(sessions, patient_id, DAY + dt.timedelta(days=30), planner)
    calls = Recorder()
    queued = run_profile_recompute(sessions, settings_for(tmp_path), calls.many, ClockState(holder="c"), T0)
    assert queued == ("NONE", "OLD")
    assert len(planner_hash()) == 16


def test_a_change_driven_daily_run_does_not_delay_the_planner_check(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The daily run queues only the due patients, so the same tick still queues those planned by
    another release (with ``all`` it queued everyone, and the check rests)."""
    processed = T0 - dt.timedelta(days=1)
    add_event(sessions, "OLD-1", "OLD", processed, processed)
    _stored_state(sessions, "OLD", DAY + dt.timedelta(days=30), "0123456789abcdef")
    result = tick(sessions, settings_for(tmp_path), Recorder(), ClockState(holder="c"), now=T0)
    assert result.recomputed == ()
    assert result.profile_recomputed == ("OLD",)
