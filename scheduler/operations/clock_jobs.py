"""What the clock does, as plain functions over a sessionmaker (no APScheduler, no Celery).

One tick (:func:`tick`), every ``GIST_CLOCK_INTERVAL_SECONDS``:

1. **Lease.** Claim or renew the ``clock`` lease: a conditional UPDATE (held by us, or expired) or,
   when no row exists yet, an INSERT that only one clock can win. A clock without the lease does
   nothing this tick, so a second clock started by mistake never doubles the work; it takes over
   within ``3 × interval`` of the first one's death.
2. **Stalled events.** Every patient with an event stored but unprocessed for more than
   ``GIST_STALLED_AFTER_SECONDS`` (a broker that lost its messages, a worker killed mid-task) gets
   one ``patients.process`` again — one per patient, not per event, and at most once per stall
   period per patient.
3. **Notifications** (with a ``notify`` callback; :mod:`scheduler.notifications.dispatch`): outbox
   rows for the reminders whose notice day has come, the navigators' daily digests once
   ``digest_at`` has passed (claimed per day like the recompute), then every sendable outbox row is
   claimed and one ``notifications.send`` queued per row; rows that could not be queued are given
   back.
4. **Daily run.** Once per clinic day (at ``daily_recompute_at`` clinic time, or at the clock's
   first tick if the day's run has not happened), the calendar moves the plans on:
   * one UPDATE moves the open reminders that the date alone moves (planned → due → overdue,
     :func:`scheduler.patients.repository.advance_statuses`), as a recompute would;
   * the patients whose plan can change that day with no new event (``patient_states.recompute_on``,
     from the planner's ``Plan.changes_on``: an item entering the horizon, an item superseded, an
     alert's time threshold; or never computed) are recomputed (``force``). With
     ``GIST_DAILY_RECOMPUTE=all`` every active patient is.
   Patients with new events are recomputed when those arrive, not here. The day is claimed by a
   conditional UPDATE of the ``daily_recompute`` mark before anything is done, so a second clock
   or a restart does not run it twice; if queueing fails the claim is given back (running the
   status UPDATE again that day moves nothing more).
5. **Profile or planner change.** Active patients whose stored plan was made under another rule
   profile (``patient_states.profile_hash`` is not the running ``GIST_PROFILE``'s) or by another
   release's planner (``planner_hash``, :mod:`scheduler.config.planner_version`), or either unknown,
   are queued like the daily recompute (``force``), at most ``PROFILE_BATCH`` a tick, each at most
   once per stall period while its plan is not yet recomputed. It runs from the clock's first tick,
   so a restart with another profile or release recomputes every active patient through the normal
   pipeline; once a pass finds none, the check is repeated every ``PROFILE_RECHECK`` (a worker
   started with another profile than the clock's shows as patients queued again and again: logged).

``enqueue(patient_id, force)`` is called only after the transaction that decided it committed; it
may return ``False`` to say the message was not sent (the clock then tries again next tick). With
``enqueue_many(patient_ids, force)`` (the Celery clock: ``patients.process_batch`` messages) a
step's patients are queued at once and it returns those not sent. The
lease, the daily marks and the queries of what to queue are in
:mod:`scheduler.operations.repository`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from models.types import utcnow
from scheduler.config.planner_version import planner_hash
from scheduler.config.settings import Settings
from scheduler.notifications import dispatch
from scheduler.operations import repository
from scheduler.operations.broker_status import broker_queue_length
from scheduler.patients import repository as patients_repository

LEASE_INTERVALS = 3  # a lease outlives two missed renewals
REQUEUE_MAX_WAIT = dt.timedelta(hours=1)  # the doubling wait between re-queues of a stalled patient
PROFILE_BATCH = 500  # patients queued per tick after a profile change
PROFILE_RECHECK = dt.timedelta(hours=1)  # once no plan of another profile is left, look again after this

QueueLength = Callable[[], int | None]  # messages waiting in the broker's queue; None: unknown
Enqueue = Callable[[str, bool], object]  # (patient_id, force); False: not sent, anything else: sent
# (patient_ids, force) → those not sent: queues many patients at once (in batches), when given
EnqueueMany = Callable[[Sequence[str], bool], Sequence[str]]
Notify = Callable[[int], object]  # (notification_id); False: not sent
log = logging.getLogger(__name__)


def new_holder() -> str:
    """``host:pid:random`` — unique per clock process, readable in the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class ClockState:
    """What one clock process remembers between ticks."""

    holder: str = field(default_factory=new_holder)
    has_started: bool = False  # until today's run is known done, every tick checks it (start-up catch-up)
    # Stalled patients re-queued: when last, and how many times in a row while they stayed stalled.
    requeued: dict[str, tuple[dt.datetime, int]] = field(default_factory=dict)
    # Patients queued because their plan was made under another profile, and when.
    profile_queued: dict[str, dt.datetime] = field(default_factory=dict)
    profile_settled_at: dt.datetime | None = None  # the last pass that found none left


@dataclass(frozen=True)
class TickResult:
    has_lease: bool
    requeued: tuple[str, ...] = ()
    recomputed: tuple[str, ...] | None = None  # None: the daily recompute did not run this tick
    notices: int = 0  # outbox rows written for reminders this tick
    digests: int = 0
    queued: int = 0  # notifications.send tasks queued
    profile_recomputed: tuple[str, ...] = ()  # queued this tick: planned under another profile


def tick(
    sessions: sessionmaker[Session],
    settings: Settings,
    enqueue: Enqueue,
    state: ClockState | None = None,
    now: dt.datetime | None = None,
    notify: Notify | None = None,
    queue_length: QueueLength | None = None,
    enqueue_many: EnqueueMany | None = None,
) -> TickResult:
    """One pass of the clock. Without ``state`` it is a one-shot (a fresh clock's first tick that
    releases the lease at the end), handy for tests and cron-style use. ``enqueue_many`` queues the
    patients of a step at once (in batches) instead of calling ``enqueue`` for each."""
    send = _sender(enqueue, enqueue_many)
    one_shot = state is None
    state = state or ClockState()
    now = now or utcnow()
    ttl = dt.timedelta(seconds=settings.clock_interval_seconds * LEASE_INTERVALS)
    if not repository.claim_lease(sessions, state.holder, ttl, now):
        log.debug("clock lease held by another clock; idle this tick")
        return TickResult(has_lease=False)
    notices = digests = queued = 0
    try:
        if queue_length is None:
            queue_length = partial(broker_queue_length, settings)
        requeued = requeue_stalled(sessions, settings, send, state, now, queue_length)
        if notify is not None:
            notices, digests, queued = run_notifications(sessions, settings, notify, now)
        recomputed = run_daily_recompute(sessions, settings, send, state, now)
        if recomputed is not None and settings.daily_recompute == "all":
            state.profile_settled_at = now  # every active patient was just queued: none again for the profile
        profile_recomputed = run_profile_recompute(sessions, settings, send, state, now)
    finally:
        if one_shot:
            repository.release_lease(sessions, state.holder)
    return TickResult(True, requeued, recomputed, notices, digests, queued, profile_recomputed)


def _sender(enqueue: Enqueue, enqueue_many: EnqueueMany | None) -> EnqueueMany:
    """Queue many patients: ``enqueue_many`` when given, else ``enqueue`` for each."""
    if enqueue_many is not None:
        return enqueue_many

    def each(patient_ids: Sequence[str], force: bool) -> list[str]:
        return [patient_id for patient_id in patient_ids if enqueue(patient_id, force) is False]

    return each


def run_notifications(
    sessions: sessionmaker[Session], settings: Settings, notify: Notify, now: dt.datetime
) -> tuple[int, int, int]:
    """Write due notices and digests to the outbox, then queue every sendable row."""
    today = settings.today(now)
    notices = dispatch.create_due_notices(sessions, today, settings.active_profile.profile)
    digests = 0
    is_digest_time = settings.local_time(now) >= settings.digest_at
    if is_digest_time and repository.claim_day(sessions, today, repository.DAILY_DIGEST):
        try:
            digests = dispatch.create_digests(sessions, today)
        except Exception:
            repository.unclaim_day(sessions, today, repository.DAILY_DIGEST)
            raise
    ids = dispatch.claim_sendable(sessions, now, dt.timedelta(seconds=settings.notify_stale_seconds))
    unsent = [notification_id for notification_id in ids if notify(notification_id) is False]
    dispatch.release(sessions, unsent)
    if ids:
        log.info("notifications: %d queued, %d given back (broker down)", len(ids) - len(unsent), len(unsent))
    return notices, digests, len(ids) - len(unsent)


def requeue_stalled(
    sessions: sessionmaker[Session],
    settings: Settings,
    send: EnqueueMany,
    state: ClockState,
    now: dt.datetime,
    queue_length: QueueLength = lambda: None,
) -> tuple[str, ...]:
    """Queue again the patients whose events have waited longer than the stall period.

    A patient still stalled after being re-queued is re-queued again with a doubling wait (the
    stall period, then 2×, 4× … up to ``REQUEUE_MAX_WAIT``): when the workers are merely behind,
    its earlier message still waits in the queue, and re-queueing every period would grow the
    queue by (stalled patients) / (period) (docs/reliability.md, finding 5). When the broker's
    queue is seen empty, nothing of ours waits there (a broker restarted empty, say), so every
    stalled patient is re-queued after one stall period, without the doubling."""
    stall = dt.timedelta(seconds=settings.stalled_after_seconds)
    stalled = repository.stalled_patient_ids(sessions, now - stall)
    still = set(stalled)
    state.requeued = {pid: last for pid, last in state.requeued.items() if pid in still}
    is_queue_empty: bool | None = None
    due: list[str] = []
    for patient_id in stalled:
        if patient_id in state.requeued:
            at, times = state.requeued[patient_id]
            since = now - at
            if since < stall:
                continue
            if since < requeue_wait(stall, times):
                if is_queue_empty is None:
                    is_queue_empty = queue_length() == 0
                if not is_queue_empty:
                    continue
        due.append(patient_id)
    unsent = set(send(due, False))  # not sent: try again next tick
    sent = 0
    for patient_id in due:
        if patient_id not in unsent:
            times = state.requeued.get(patient_id, (now, 0))[1]
            state.requeued[patient_id] = (now, times + 1)
            sent += 1
    if due:
        log.info("re-queued %d patient(s) with events unprocessed for over %g s", sent, stall.total_seconds())
    return tuple(due)


def requeue_wait(stall: dt.timedelta, times_requeued: int) -> dt.timedelta:
    """How long after its last re-queue a still-stalled patient is re-queued again."""
    doubled = stall * (1 << min(30, max(0, times_requeued - 1)))
    return max(stall, min(doubled, REQUEUE_MAX_WAIT))


def run_daily_recompute(
    sessions: sessionmaker[Session],
    settings: Settings,
    send: EnqueueMany,
    state: ClockState,
    now: dt.datetime,
) -> tuple[str, ...] | None:
    if state.has_started and settings.local_time(now) < settings.daily_recompute_at:
        return None
    day = settings.today(now)
    if not repository.claim_day(sessions, day):
        state.has_started = True  # today's run is done (by us, another clock or before a restart)
        return None
    try:
        with sessions.begin() as session:
            moved = patients_repository.advance_statuses(session, day, now)
        with sessions() as session:
            if settings.daily_recompute == "all":
                patients = patients_repository.active_patient_ids(session)
            else:
                patients = patients_repository.due_patient_ids(session, day)
        unsent = send(patients, True)
    except Exception:
        repository.unclaim_day(sessions, day)
        raise
    if unsent:  # the broker is down: give the day back, the next tick runs it again
        repository.unclaim_day(sessions, day)
        log.warning("daily recompute for %s: %d patient(s) not queued; will retry", day, len(unsent))
        return None
    state.has_started = True
    log.info(
        "daily run for %s: %d reminder status(es) moved by date; queued %d patient(s) to recompute (%s)",
        day.isoformat(), moved, len(patients), settings.daily_recompute,
    )  # fmt: skip
    return tuple(patients)


def run_profile_recompute(
    sessions: sessionmaker[Session],
    settings: Settings,
    send: EnqueueMany,
    state: ClockState,
    now: dt.datetime,
    batch: int = PROFILE_BATCH,
) -> tuple[str, ...]:
    """Queue a forced recompute of up to ``batch`` active patients planned under another profile
    than the running one; a patient queued less than a stall period ago is not queued again."""
    if state.profile_settled_at is not None and now - state.profile_settled_at < PROFILE_RECHECK:
        return ()
    active = settings.active_profile
    wait = dt.timedelta(seconds=settings.stalled_after_seconds)
    state.profile_queued = {pid: at for pid, at in state.profile_queued.items() if now - at < wait}
    found = repository.outdated_plan_patient_ids(
        sessions, active.digest, planner_hash(), batch + len(state.profile_queued)
    )
    if not found:
        state.profile_settled_at = now
        return ()
    state.profile_settled_at = None
    due = [patient_id for patient_id in found if patient_id not in state.profile_queued][:batch]
    unsent = set(send(due, True))
    sent = [patient_id for patient_id in due if patient_id not in unsent]
    state.profile_queued.update(dict.fromkeys(sent, now))
    if due:
        log.info(
            "profile %s (%s): queued %d patient(s) planned under another profile",
            active.name, active.digest, len(sent),
        )  # fmt: skip
    return tuple(sent)
