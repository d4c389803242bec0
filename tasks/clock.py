"""``gistsched clock``: one APScheduler 3 ``BlockingScheduler`` that runs
:func:`scheduler.operations.clock_jobs.tick` every ``GIST_CLOCK_INTERVAL_SECONDS``: stalled events, due
notifications and digests, the daily recompute.

The job store is in memory and holds only that one interval job: the schedule itself (what is
stalled, what day was recomputed) lives in the database, and the database lease in ``tick`` is what
stops a second clock from doing the work twice (APScheduler's FAQ: schedulers cannot share a job
store). SIGINT/SIGTERM stop the scheduler, wait for a running tick and release the lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from collections.abc import Sequence
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from models.store import dispose_all, sessions_for
from scheduler.config.settings import Settings
from scheduler.operations.clock_jobs import ClockState, TickResult, tick
from scheduler.operations.repository import release_lease
from tasks.app import get_app
from tasks.base import send_batches, send_notification_task, send_process

log = logging.getLogger(__name__)


def tick_once(settings: Settings) -> TickResult:
    """One clock tick now, queueing through Celery (tests, operators): claims the lease, re-queues
    stalled events, runs the daily recompute if today's has not run, releases the lease. It does
    nothing while a running clock holds the lease."""
    app = get_app(settings)
    return tick(
        sessions_for(settings),
        settings,
        lambda patient_id, force: send_process(app, patient_id, force=force),
        notify=lambda notification_id: send_notification_task(app, notification_id),
        enqueue_many=lambda patient_ids, force: send_batches(app, patient_ids, force=force),
    )


class _Stop(Exception):  # noqa: N818 — a request, not an error
    """Raised by the signal handler to unwind ``scheduler.start()``, like KeyboardInterrupt: the
    handler itself takes no lock (setting an Event there can deadlock the thread it interrupts)."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def run_clock(settings: Settings) -> int:
    sessions = sessions_for(settings)
    app = get_app(settings)
    state = ClockState()

    def enqueue(patient_id: str, force: bool) -> bool:
        return send_process(app, patient_id, force=force)

    def enqueue_many(patient_ids: Sequence[str], force: bool) -> list[str]:
        return send_batches(app, patient_ids, force=force)

    def notify(notification_id: int) -> bool:
        return send_notification_task(app, notification_id)

    has_lease: list[bool | None] = [None]  # logged when it changes, not every tick

    def run_tick() -> None:
        try:
            result = tick(sessions, settings, enqueue, state, notify=notify, enqueue_many=enqueue_many)
        except Exception:  # a database or broker outage must not kill the clock: next tick retries
            log.exception("clock tick failed")
            return
        if result.has_lease != has_lease[0]:
            has_lease[0] = result.has_lease
            log.info(
                "holding the clock lease"
                if result.has_lease
                else "another clock holds the lease; standing by"
            )

    interval = settings.clock_interval_seconds
    scheduler = BlockingScheduler(timezone=dt.UTC)
    scheduler.add_job(
        run_tick,
        IntervalTrigger(seconds=interval),
        id="tick",
        next_run_time=dt.datetime.now(dt.UTC),  # first tick at once (it catches up a missed daily run)
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(interval)),
    )
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    log.info("clock %s: a tick every %g s", state.holder, interval)
    try:
        scheduler.start()
    except _Stop as stop:
        log.info("clock: %s received, stopping", stop)
    finally:
        for signum in previous:  # a second signal must not interrupt the clean-up below
            signal.signal(signum, signal.SIG_IGN)
        if scheduler.running:
            scheduler.shutdown(wait=True)  # lets a running tick finish
        try:
            release_lease(sessions, state.holder)
        except Exception:
            log.exception("clock: could not release the lease (it expires by itself)")
        dispose_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("clock stopped")
    return 0
