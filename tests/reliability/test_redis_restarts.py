"""Redis killed and restarted empty again and again while events arrive.

Every restart loses every message: the ``patients.process`` tasks queued by the intake, those the
workers held unacknowledged, and the ``notifications.send`` tasks the clock queued. Nothing of it
was the truth — the events and the outbox rows are in the database — so the clock's stalled-event
sweep (``GIST_STALLED_AFTER_SECONDS``) queues the patients again and the outbox's stale claim
(``GIST_NOTIFY_STALE_SECONDS``) the emails. The workers, the clock and the intake's own Celery app
must each reconnect by themselves.

The last test reproduces, deterministically, the duplicate email a restart can cause (finding 3 in
docs/reliability.md): a worker terminates the send it is running when its broker connection drops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from models.rows import NotificationRow
from notifications.smtp import sender_for
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications import dispatch
from scheduler.notifications.sending import send_notification
from tasks.base import GistCelery, send_notification_task
from tests.reliability.harness import (
    AS_OF,
    Clocks,
    FaultLog,
    Feeder,
    TimedCollector,
    arrival_batches,
    assert_no_loss_no_duplicate,
    check,
    events_for,
    inject_while_feeding,
    plan_cohort,
    register_navigators,
    report,
    service_env,
    wait_converged,
)
from tests.support.common import wait_until
from tests.support.services import Pipeline, Workers
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(420)]

PATIENTS = 80
SEED = 62


def test_redis_restarted_empty_several_times(
    pipeline: Pipeline, workers: Workers, clocks: Clocks, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    started = time.monotonic()
    pipeline.stalled_after_seconds = 5
    events = events_for(PATIENTS, SEED)
    register_navigators(pipeline.db.sessions)
    env = service_env(smtp)
    workers.start(count=2, **env)
    clocks.start(**env)

    def restart_redis(log: FaultLog) -> None:
        with log.fault(f"{pipeline.queued()} queued"):
            pipeline.redis.restart_empty()

    feeder = Feeder(pipeline.db.sessions, celery_app, arrival_batches(events, 60, SEED), pause=1.0)
    log = inject_while_feeding(feeder, restart_redis, gap=(5.0, 9.0), at_least=6, seed=SEED)
    converged_at = wait_converged(pipeline, len(events), timeout=240)
    outcome = check(pipeline, events, smtp, log)
    detail = f"messages lost per restart: {', '.join(log.notes)}"
    report("Redis killed, restarted empty", log, events, outcome, converged_at, started, clocks, detail)
    assert all(w.is_running() for w in workers.started), "a worker died with the broker"
    assert_no_loss_no_duplicate(outcome)


class SlowQuit(TimedCollector):
    """Accepts every message at once (250 after DATA), then takes ``delay`` seconds to answer QUIT:
    the worker's send is still in flight, after the acceptance, for that long."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 5.0

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay)
        return "221 Bye"


def test_a_broker_blip_during_a_send_does_not_send_twice(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery
) -> None:
    """Deterministic: one email queued to a real worker; the SMTP server has accepted it and the
    worker waits for the QUIT reply when Redis restarts (empty, in well under a second)."""
    handler = SlowQuit()
    server = SmtpServer()
    server.handler = handler
    with server:
        sessions = pipeline.db.sessions
        plan_cohort(sessions)
        workers.start(count=1, **service_env(server))
        now = dt.datetime.now(dt.UTC)
        dispatch.create_due_notices(sessions, AS_OF, DEFAULT_PROFILE)
        (first,) = dispatch.claim_sendable(sessions, now, dt.timedelta(minutes=10), limit=1)
        assert send_notification_task(celery_app, first)
        wait_until(lambda: server.messages, timeout=60, message="the SMTP server to accept the email")
        pipeline.redis.stop()
        pipeline.redis.start()
        handler.delay = 0
        deadline = time.monotonic() + 10  # the send finishes within 5 s of the blip, unless it was killed
        while status_of(pipeline, first) in ("queued", "sending") and time.monotonic() < deadline:
            time.sleep(0.2)
        # The clock's next pass, once the row is stale (what it finds "sending" it queues again).
        settings = pipeline.settings().model_copy(update={"as_of": AS_OF, "smtp_url": server.url()})
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        for notification_id in dispatch.claim_sendable(sessions, later, dt.timedelta(seconds=20)):
            if notification_id == first:
                send_notification(
                    sessions, notification_id, sender_for(server.url(), Path()), settings, now=later
                )
        copies = Counter(str(m.message["Message-ID"]) for m in server.messages)
        assert copies.most_common(1)[0][1] == 1, f"row {status_of(pipeline, first)}, received {copies}"


def status_of(pipeline: Pipeline, notification_id: int) -> str:
    with pipeline.db.sessions() as session:
        return session.get_one(NotificationRow, notification_id).status
