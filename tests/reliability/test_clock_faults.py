"""The clock SIGKILLed and started again; two clocks at once, the lease holder killed again and again.
Real ``gistsched clock`` processes, a tick a second.

The clock is what finds events nobody queued and what sends emails, so here every third batch is
stored without queueing anything (as if the broker had lost the messages): those events are
processed only if a clock's stalled-event sweep finds them. A clock killed mid-tick may leave
outbox rows claimed (``queued``) but never handed to the broker; they must be queued again once
stale, and sent once. A killed clock keeps its lease until it expires (three intervals), so the
next clock (or the standby) takes over within seconds; a second clock must never double the work.
"""

from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import select

from models.rows import ClockLeaseRow
from tasks.base import GistCelery
from tests.reliability.harness import (
    ClockProcess,
    Clocks,
    FaultLog,
    Feeder,
    arrival_batches,
    assert_no_loss_no_duplicate,
    check,
    events_for,
    inject_while_feeding,
    register_navigators,
    report,
    service_env,
    wait_converged,
)
from tests.support.services import Pipeline, Workers
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(420)]

PATIENTS = 70


def test_clock_killed_and_restarted(
    pipeline: Pipeline, workers: Workers, clocks: Clocks, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    started = time.monotonic()
    seed = 65
    pipeline.stalled_after_seconds = 4
    events = events_for(PATIENTS, seed)
    register_navigators(pipeline.db.sessions)
    env = service_env(smtp)
    workers.start(count=2, **env)
    clock = [clocks.start(**env)]
    rng = random.Random(seed)

    def kill_clock(log: FaultLog) -> None:
        with log.fault():
            clock[0].kill()
            time.sleep(rng.uniform(0.5, 3.0))  # down a moment, as a supervisor's restart delay
            clock[0] = clocks.start(**env)

    feeder = Feeder(
        pipeline.db.sessions, celery_app, arrival_batches(events, 60, seed), pause=1.0, unqueued_every=3
    )
    log = inject_while_feeding(feeder, kill_clock, gap=(2.0, 5.0), at_least=8, seed=seed)
    converged_at = wait_converged(pipeline, len(events), timeout=240)
    outcome = check(pipeline, events, smtp, log)
    detail = f"{feeder.unqueued} event(s) stored without a message"
    report("clock SIGKILLed, restarted 0.5–3 s later", log, events, outcome, converged_at, started, clocks,
           detail)  # fmt: skip
    assert_no_loss_no_duplicate(outcome)


def lease_holder(pipeline: Pipeline, running: list[ClockProcess]) -> ClockProcess | None:
    """The running clock whose pid is in the lease's holder (``host:pid:random``)."""
    with pipeline.db.sessions() as session:
        holder = session.scalar(select(ClockLeaseRow.holder).where(ClockLeaseRow.name == "clock"))
    pid = holder.split(":")[1] if holder else None
    return next((c for c in running if str(c.process.pid) == pid), None)


def test_two_clocks_at_once_the_holder_killed(
    pipeline: Pipeline, workers: Workers, clocks: Clocks, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    started = time.monotonic()
    seed = 66
    pipeline.stalled_after_seconds = 4
    events = events_for(PATIENTS, seed)
    register_navigators(pipeline.db.sessions)
    env = service_env(smtp)
    workers.start(count=2, **env)
    clocks.start(**env)
    clocks.start(**env)
    rng = random.Random(seed)
    holders_killed = [0]

    def kill_a_clock(log: FaultLog) -> None:
        running = clocks.running
        holder = lease_holder(pipeline, running)
        victim = holder or rng.choice(running)  # no holder: the lease is between two clocks
        holders_killed[0] += holder is not None
        with log.fault():
            victim.kill()
            clocks.start(**env)  # at once: two clocks again, the standby takes the lease meanwhile

    feeder = Feeder(
        pipeline.db.sessions, celery_app, arrival_batches(events, 60, seed), pause=1.0, unqueued_every=3
    )
    log = inject_while_feeding(feeder, kill_a_clock, gap=(3.0, 6.0), at_least=8, seed=seed)
    converged_at = wait_converged(pipeline, len(events), timeout=240)
    outcome = check(pipeline, events, smtp, log)
    detail = f"{holders_killed[0]} of {log.injected} kills hit the lease holder; {feeder.unqueued} unqueued"
    report("two clocks at once, the lease holder SIGKILLed and replaced", log, events, outcome,
           converged_at, started, clocks, detail)  # fmt: skip
    assert len(clocks.running) == 2
    assert_no_loss_no_duplicate(outcome)
