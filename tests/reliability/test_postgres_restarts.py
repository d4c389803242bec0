"""PostgreSQL stopped and started again, several times, while events arrive.

On a private cluster of the test's own (``cluster.py``; the machine's shared server is never
touched), alternately a fast shutdown (clients disconnected) and an immediate one (every server
process killed, as in a crash: the next start replays the WAL), each down for a few seconds. The
intake is refused meanwhile and the feeder submits the batch again (what had committed comes back as
duplicates); the workers' tasks fail on the dead connections and retry with backoff; the clock's
ticks fail and it carries on; an email may be composed, sent or recorded across the outage.

The last test reproduces, deterministically, the duplicate email an outage can cause (finding 1 in
docs/reliability.md): the database down between the SMTP server's acceptance and the ``sent`` record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from notifications.smtp import Sender, sender_for
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications import dispatch
from scheduler.notifications.sending import send_notification
from tasks.base import GistCelery
from tests.reliability.cluster import ClusterUnavailableError, PrivateCluster
from tests.reliability.harness import (
    AS_OF,
    Clocks,
    FaultLog,
    Feeder,
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
from tests.support.guard import unavailable
from tests.support.services import Database, Pipeline, PostgresServer, Workers
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(480)]

PATIENTS = 80
SEED = 63


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    try:
        cluster = PrivateCluster()
    except ClusterUnavailableError as exc:
        unavailable(f"cannot start a private PostgreSQL cluster: {exc}")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def db(cluster: PrivateCluster) -> Iterator[Database]:
    """A migrated database on the private cluster (overrides the suite's ``db`` in this module)."""
    server = PostgresServer(cluster.admin_url)
    url = server.create_database()
    server.engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    yield Database("postgresql", url, engine, make_sessionmaker(engine))
    engine.dispose()


def test_postgres_restarted_several_times(
    cluster: PrivateCluster,
    pipeline: Pipeline,
    workers: Workers,
    clocks: Clocks,
    celery_app: GistCelery,
    smtp: SmtpServer,
) -> None:
    started = time.monotonic()
    pipeline.stalled_after_seconds = 5
    events = events_for(PATIENTS, SEED)
    register_navigators(pipeline.db.sessions)
    env = service_env(smtp)
    workers.start(count=2, **env)
    clocks.start(**env)
    rng = random.Random(SEED)

    def restart_postgres(log: FaultLog) -> None:
        mode = "immediate" if log.injected % 2 else "fast"
        with log.fault(mode):
            cluster.stop(mode)
            time.sleep(rng.uniform(2.0, 5.0))
            cluster.start()

    feeder = Feeder(pipeline.db.sessions, celery_app, arrival_batches(events, 60, SEED), pause=1.0)
    log = inject_while_feeding(feeder, restart_postgres, gap=(5.0, 8.0), at_least=5, seed=SEED)
    converged_at = wait_converged(pipeline, len(events), timeout=240)
    outcome = check(pipeline, events, smtp, log)
    detail = (f"stops: {', '.join(log.notes)}; intake refused {feeder.refused} time(s), "
              f"{feeder.duplicates} duplicate(s) on resubmission")  # fmt: skip
    report("PostgreSQL stopped (fast or immediate) 2–5 s, started", log, events, outcome, converged_at,
           started, clocks, detail)  # fmt: skip
    assert all(w.is_running() for w in workers.started), "a worker died with the database"
    assert all(c.is_running() for c in clocks.started), "the clock died with the database"
    assert_no_loss_no_duplicate(outcome)


class OutageAfterSending:
    """A sender that sends for real, then stops the database for a second: the outage falls between
    the SMTP server's acceptance and the ``sent`` commit, as a restart can at any moment."""

    def __init__(self, inner: Sender, cluster: PrivateCluster) -> None:
        self.inner = inner
        self.cluster = cluster
        self.description = f"{inner.description}, then a database outage"
        self.restart: threading.Thread | None = None

    def send(self, message: EmailMessage) -> None:
        self.inner.send(message)
        if self.restart is None:
            self.cluster.stop("fast")
            self.restart = threading.Thread(target=self._start_after_a_second)
            self.restart.start()

    def _start_after_a_second(self) -> None:
        time.sleep(1.0)
        self.cluster.start()


def test_an_outage_between_acceptance_and_the_sent_record_sends_once(
    cluster: PrivateCluster, db: Database, smtp: SmtpServer
) -> None:
    """The deterministic reproduction of finding 1, without workers or a broker: one email, the
    database down for a second right after the SMTP server said 250, then the clock's next claims."""
    sessions = db.sessions
    plan_cohort(sessions)
    settings = Settings(
        env="test", database_url=db.url, as_of=AS_OF, smtp_url=smtp.url(), notify_stale_seconds=1
    )
    now = dt.datetime.now(dt.UTC)
    dispatch.create_due_notices(sessions, AS_OF, DEFAULT_PROFILE)
    first = dispatch.claim_sendable(sessions, now, dt.timedelta(seconds=1), limit=1)
    assert first, "nothing to send"
    sender = OutageAfterSending(sender_for(smtp.url(), Path()), cluster)
    with contextlib.suppress(DBAPIError):  # the task fails; Celery would log it and ack the message
        send_notification(sessions, first[0], sender, settings, now=now)
    assert sender.restart is not None
    sender.restart.join(timeout=60)
    assert len(smtp.messages) == 1
    for tick in range(1, 4):  # the clock's next passes, a few seconds later: stale rows are queued again
        later = now + dt.timedelta(seconds=5 * tick)
        for notification_id in dispatch.claim_sendable(sessions, later, dt.timedelta(seconds=1), limit=1000):
            if notification_id == first[0]:
                send_notification(sessions, notification_id, sender.inner, settings, now=later)
    copies = Counter(str(m.message["Message-ID"]) for m in smtp.messages)
    assert copies.most_common(1)[0][1] == 1, f"sent {copies.most_common(1)[0][1]} times: {copies}"
