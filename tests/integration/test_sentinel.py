"""Redis behind Sentinel, for real: a private redis-server and a Sentinel watching it (the
``redis_sentinel`` fixture). GIST_BROKER_URL lists an unreachable Sentinel first, so each client
has to move on to the next one the list names; the broker's queue length (status, metrics), the
health checks (``/healthz``, the worker container's ping) and one ``patients.process`` task run by a
real ``gistsched worker`` all go through it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.rows import EventRow, ReminderRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.operations.broker_status import broker_queue_length
from tasks.app import make_celery
from tasks.base import QUEUE, send_process
from tests.support.common import GISTSCHED, by_patient, cli_env, free_port, intake, read_cohort, wait_until
from tests.support.services import SENTINEL_MASTER, Database, RedisSentinel, WorkerProcess
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

HEALTHCHECK = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"


def sentinel_settings(db: Database, sentinel: RedisSentinel, data_dir: Path) -> Settings:
    return Settings(
        env="test",
        database_url=db.url,
        data_dir=data_dir,
        broker_url=sentinel.broker_url(free_port()),
        redis_sentinel_master=SENTINEL_MASTER,
        as_of=AS_OF,
    )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_status_and_health_find_the_master_through_the_sentinels(
    db: Database, redis_sentinel: RedisSentinel, tmp_path: Path
) -> None:
    settings = sentinel_settings(db, redis_sentinel, tmp_path)
    with redis_sentinel.master.client() as master:
        master.rpush(QUEUE, "a", "b", "c")
    assert broker_queue_length(settings) == 3
    with TestClient(create_web_app(settings, db.sessions)) as client:
        health = client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["broker"] == "ok"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_task_goes_through_the_sentinel_broker_to_a_real_worker(
    db: Database, redis_sentinel: RedisSentinel, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = sentinel_settings(db, redis_sentinel, data_dir)
    patient = "P01"
    intake(db.sessions, by_patient(read_cohort())[patient], AS_OF)
    assert settings.broker_url is not None
    env = cli_env(
        db.url,
        data_dir,
        GIST_BROKER_URL=settings.broker_url,
        GIST_REDIS_SENTINEL_MASTER=SENTINEL_MASTER,
        GIST_AS_OF=AS_OF.isoformat(),
        GIST_WORKER_NAME="sentinel-worker",
    )
    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(GISTSCHED), "worker", "--concurrency", "1", "--loglevel", "INFO"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    worker = WorkerProcess("sentinel-worker", process, log_path, log)
    app = make_celery(settings)
    try:
        worker.wait_ready()
        assert send_process(app, patient)
        wait_until(
            lambda: db.count(EventRow, EventRow.patient_id == patient, EventRow.processed_at.is_(None)) == 0,
            timeout=60,
            message="the worker to process the patient queued through Sentinel",
        )
        answered = subprocess.run(  # the container healthcheck: a ping over the broker's fan-out
            [sys.executable, str(HEALTHCHECK), "worker"], env=env, capture_output=True, text=True,
            timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert answered.returncode == 0, (answered.stdout, answered.stderr)
        assert f"sentinel-worker@{socket.gethostname()}: pong" in answered.stdout
    finally:
        app.close()
        worker.stop()
    assert db.count(ReminderRow, ReminderRow.patient_id == patient) > 0
    with redis_sentinel.master.client() as master:
        assert master.llen(QUEUE) == 0  # the message went through the master and was consumed
