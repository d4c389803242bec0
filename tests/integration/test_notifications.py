"""Notifications end to end: the outbox, real ``gistsched worker`` processes on a private
redis-server, a real SMTP server (aiosmtpd), SQLite and PostgreSQL.

Each test plans the example cohort as of 2026-11-27 (processing in the test process), registers a
navigator user per navigator, and lets the clock's notification pass queue ``notifications.send``
tasks that the workers send to the SMTP server. "Exactly once" is checked on what the SMTP server
received: one message per sent outbox row, no Message-ID twice.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.rows import NotificationRow, PatientRow
from scheduler.config.settings import Settings
from scheduler.operations.clock_jobs import run_notifications
from scheduler.patients.processing import process_patient
from scheduler.staff.users import create_user
from tasks.base import GistCelery, send_notification_task
from tests.support.common import GISTSCHED, by_patient, intake, read_cohort, wait_until
from tests.support.services import Pipeline, Workers, stop_process_group
from tests.support.smtp_server import SmtpServer
from tests.support.staff import AS_OF, PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FINAL = ("sent", "failed", "superseded", "skipped")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def settings_for(pipeline: Pipeline, smtp: SmtpServer) -> Settings:
    return pipeline.settings().model_copy(
        update={"as_of": AS_OF, "smtp_url": smtp.url(), "notify_retry_first_seconds": 0.2}
    )


def worker_env(smtp: SmtpServer) -> dict[str, str]:
    return {
        "GIST_AS_OF": AS_OF.isoformat(),
        "GIST_SMTP_URL": smtp.url(),
        "GIST_NOTIFY_RETRY_FIRST_SECONDS": "0.2",
    }


def plan_cohort(pipeline: Pipeline) -> None:
    sessions = pipeline.db.sessions
    events = read_cohort()
    intake(sessions, events, AS_OF)
    for patient_id in by_patient(events):
        process_patient(sessions, patient_id, AS_OF)
    with sessions() as session:
        navigators = sorted({n for n in session.scalars(select(PatientRow.navigator_id)) if n})
    for navigator_id in navigators:
        create_user(
            sessions,
            navigator_id,
            "navigator",
            PASSWORD,
            navigator_id,
            f"{navigator_id}@clinic.example",
        )


def outbox(pipeline: Pipeline) -> Counter[str]:
    with pipeline.db.sessions() as session:
        return Counter(
            dict(
                session.execute(
                    select(NotificationRow.status, func.count()).group_by(NotificationRow.status)
                ).all()
            )
        )


def notify_pass(pipeline: Pipeline, settings: Settings, app: GistCelery) -> int:
    """One clock notification pass (no lease: the tests below race it on purpose)."""
    return run_notifications(
        pipeline.db.sessions, settings, lambda i: send_notification_task(app, i), dt.datetime.now(dt.UTC)
    )[2]


def drain(pipeline: Pipeline, settings: Settings, app: GistCelery, timeout: float = 60) -> Counter[str]:
    """Clock passes until every outbox row is final."""

    def settled() -> Counter[str] | None:
        notify_pass(pipeline, settings, app)
        counts = outbox(pipeline)
        return counts if counts and all(status in FINAL for status in counts) else None

    return wait_until(settled, timeout=timeout, interval=0.3, message="every outbox row to be final")


def assert_each_sent_once(pipeline: Pipeline, smtp: SmtpServer) -> None:
    with pipeline.db.sessions() as session:
        sent = (
            session.execute(select(NotificationRow.message_id).where(NotificationRow.status == "sent"))
            .scalars()
            .all()
        )
    ids = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert sent, "nothing was sent"
    assert sorted(ids) == sorted(sent)
    assert all(n == 1 for n in ids.values()), [m for m, n in ids.items() if n > 1]


def test_each_email_arrives_once(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    plan_cohort(pipeline)
    settings = settings_for(pipeline, smtp)
    workers.start(count=2, concurrency=2, **worker_env(smtp))
    counts = drain(pipeline, settings, celery_app)
    assert counts["sent"] >= 10, counts
    assert counts["failed"] == 0, counts
    assert_each_sent_once(pipeline, smtp)
    before = len(smtp.messages)
    for _ in range(3):  # later ticks find nothing new to send
        assert notify_pass(pipeline, settings, celery_app) == 0
    assert len(smtp.messages) == before
    subjects = [m.message["Subject"] for m in smtp.messages]
    assert any(s.startswith("Overdue:") for s in subjects)


def test_a_redelivered_send_does_not_send_twice(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    plan_cohort(pipeline)
    settings = settings_for(pipeline, smtp)
    run_notifications(
        pipeline.db.sessions, settings, lambda _i: True, dt.datetime.now(dt.UTC)
    )  # claimed, not queued
    with pipeline.db.sessions() as session:
        ids = session.scalars(select(NotificationRow.id)).all()
    for _ in range(3):  # every message three times, as a redelivery after a lost ack would
        for notification_id in ids:
            assert send_notification_task(celery_app, notification_id)
    workers.start(count=2, concurrency=2, **worker_env(smtp))
    wait_until(lambda: all(s in FINAL for s in outbox(pipeline)), timeout=60, message="all sent")
    assert_each_sent_once(pipeline, smtp)
    for notification_id in ids:  # and once more after they were all sent
        send_notification_task(celery_app, notification_id)
    wait_until(lambda: pipeline.queued() == 0, timeout=30, message="the redeliveries to be consumed")
    assert_each_sent_once(pipeline, smtp)


def test_emails_arrive_once_after_the_smtp_server_comes_back(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    plan_cohort(pipeline)
    settings = settings_for(pipeline, smtp)
    smtp.stop()
    workers.start(count=1, concurrency=2, **worker_env(smtp))
    notify_pass(pipeline, settings, celery_app)

    def retried() -> bool:
        with pipeline.db.sessions() as session:
            return (session.scalar(select(func.min(NotificationRow.attempts))) or 0) >= 2

    wait_until(
        lambda: (notify_pass(pipeline, settings, celery_app), retried())[1],
        timeout=60,
        interval=0.3,
        message="retries",
    )
    assert outbox(pipeline)["sent"] == 0
    with pipeline.db.sessions() as session:
        errors = session.scalars(
            select(NotificationRow.last_error).where(NotificationRow.last_error.is_not(None))
        ).all()
    assert errors
    assert all("password" not in e.lower() for e in errors)
    smtp.start()
    counts = drain(pipeline, settings, celery_app)
    assert counts["failed"] == 0, counts
    assert_each_sent_once(pipeline, smtp)


def test_a_permanent_failure_is_recorded_and_not_retried(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, smtp: SmtpServer
) -> None:
    plan_cohort(pipeline)
    settings = settings_for(pipeline, smtp)
    smtp.fail_rcpt("550 5.1.1 No such user")
    workers.start(count=1, concurrency=2, **worker_env(smtp))
    counts = drain(pipeline, settings, celery_app)
    assert counts["sent"] == 0, counts
    assert counts["failed"] >= 10, counts
    with pipeline.db.sessions() as session:
        rows = session.scalars(select(NotificationRow).where(NotificationRow.status == "failed")).all()
    assert all(r.attempts == 1 and "550" in (r.last_error or "") for r in rows)
    for _ in range(3):
        assert notify_pass(pipeline, settings, celery_app) == 0
    with pipeline.db.sessions() as session:
        assert session.scalar(select(func.max(NotificationRow.attempts))) == 1
    assert smtp.messages == []


def test_racing_claimers_queue_each_row_once(pipeline: Pipeline, smtp: SmtpServer) -> None:
    """Two claimers at once (the lease is bypassed here): every row is queued by exactly one."""
    plan_cohort(pipeline)
    settings = settings_for(pipeline, smtp)
    queued: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def claimer() -> None:
        def note(notification_id: int) -> bool:
            with lock:
                queued.append(notification_id)
            return True

        barrier.wait()
        for _ in range(3):
            run_notifications(pipeline.db.sessions, settings, note, dt.datetime.now(dt.UTC))

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert queued
    assert len(queued) == len(set(queued)), Counter(queued).most_common(3)
    with pipeline.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(NotificationRow)) == len(queued)


def test_two_clock_processes_send_each_email_once(
    pipeline: Pipeline, workers: Workers, smtp: SmtpServer, tmp_path: Path
) -> None:
    plan_cohort(pipeline)
    workers.start(count=1, concurrency=2, **worker_env(smtp))
    clocks = []
    logs = []
    for name in ("c1", "c2"):
        log = (tmp_path / f"clock-{name}.log").open("wb")
        logs.append(log)
        clocks.append(
            subprocess.Popen(
                [str(GISTSCHED), "clock", "--loglevel", "INFO"],
                env=pipeline.env(**worker_env(smtp)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    try:
        wait_until(
            lambda: (c := outbox(pipeline)) and all(s in FINAL for s in c), timeout=90, interval=0.5,
            message="the clocks to send everything",
        )  # fmt: skip
        counts = outbox(pipeline)
        assert counts["sent"] >= 10, counts
        assert counts["failed"] == 0, counts
        assert_each_sent_once(pipeline, smtp)
    finally:
        for clock in clocks:
            stop_process_group(clock)
        for log in logs:
            log.close()
