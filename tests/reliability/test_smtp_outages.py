"""The SMTP server down for a while, then back, several times while events arrive and the emails they
bring are being sent.

Three kinds of outage in turn: the server stopped (connection refused), and the server up but
answering every message with a temporary failure, at the end of DATA (``451``) or at RCPT (``421``).
Each is a transient failure for the outbox: the row goes back to ``pending`` with a backoff
(compressed here to 0.5 s doubling to 4 s) and the clock queues it again. Each email must arrive
exactly once, none may end ``failed``.

The last test reproduces, deterministically, a duplicate email a closing server causes (finding 2
in docs/reliability.md): the message accepted, then QUIT answered with 421.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest

from notifications.smtp import sender_for
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications import dispatch
from scheduler.notifications.sending import send_notification
from tasks.base import GistCelery
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
    sent_after_retry,
    service_env,
    wait_converged,
)
from tests.support.services import Database, Pipeline, Workers
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(420)]

PATIENTS = 80
SEED = 64


def test_smtp_down_for_a_while_then_back(
    pipeline: Pipeline, workers: Workers, clocks: Clocks, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    started = time.monotonic()
    events = events_for(PATIENTS, SEED)
    register_navigators(pipeline.db.sessions)
    env = service_env(smtp)
    workers.start(count=2, **env)
    clocks.start(**env)
    rng = random.Random(SEED)
    kinds = cycle(("stopped", "451 at DATA", "421 at RCPT"))

    def outage(log: FaultLog) -> None:
        kind = next(kinds)
        with log.fault(kind):
            if kind == "stopped":
                smtp.stop()
            elif kind == "451 at DATA":
                smtp.fail_data("451 4.3.0 Try again later")
            else:
                smtp.fail_rcpt("421 4.7.0 Try again later")
            time.sleep(rng.uniform(4.0, 8.0))
            smtp.accept_all()
            smtp.start()

    feeder = Feeder(pipeline.db.sessions, celery_app, arrival_batches(events, 60, SEED), pause=1.0)
    log = inject_while_feeding(feeder, outage, gap=(3.0, 6.0), at_least=6, seed=SEED)
    converged_at = wait_converged(pipeline, len(events), timeout=240)
    outcome = check(pipeline, events, smtp, log)
    retried = sent_after_retry(pipeline.db.sessions)
    detail = f"outages: {', '.join(log.notes)}; {retried} email(s) sent after a retry"
    report("SMTP down 4–8 s (refused, 451, 421), back", log, events, outcome, converged_at, started, clocks,
           detail)  # fmt: skip
    assert retried, "no email met an outage: the test injected nothing"
    assert_no_loss_no_duplicate(outcome)


class RefusesQuit(TimedCollector):
    """Accepts every message, then answers QUIT with ``quit_reply`` (RFC 5321 §4.2.2: a server that
    must shut down may answer any command with 421) until it is set to None."""

    def __init__(self) -> None:
        super().__init__()
        self.quit_reply: str | None = "421 4.3.0 Service shutting down"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return self.quit_reply or "221 Bye"


def test_a_421_to_quit_after_the_message_was_accepted_sends_once(db: Database) -> None:
    """Deterministic: one email, the server takes it (250 after DATA) and answers QUIT with 421;
    then the server is healthy again and the clock's next passes run."""
    handler = RefusesQuit()
    server = SmtpServer()
    server.handler = handler
    with server:
        plan_cohort(db.sessions)
        settings = Settings(
            env="test", database_url=db.url, as_of=AS_OF, smtp_url=server.url(), notify_retry_first_seconds=1
        )
        now = dt.datetime.now(dt.UTC)
        dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
        first = dispatch.claim_sendable(db.sessions, now, dt.timedelta(minutes=10), limit=1)
        assert first, "nothing to send"
        sender = sender_for(server.url(), Path())
        status = send_notification(db.sessions, first[0], sender, settings, now=now)
        assert len(server.messages) == 1  # the server has it
        handler.quit_reply = None
        for tick in range(1, 4):
            later = now + dt.timedelta(seconds=5 * tick)
            for notification_id in dispatch.claim_sendable(db.sessions, later, dt.timedelta(minutes=10)):
                if notification_id == first[0]:
                    send_notification(db.sessions, notification_id, sender, settings, now=later)
        copies = Counter(str(m.message["Message-ID"]) for m in server.messages)
        assert copies.most_common(1)[0][1] == 1, f"first attempt {status!r}, then sent again: {copies}"
