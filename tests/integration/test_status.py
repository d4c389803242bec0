"""``gistsched status`` and ``GET /metrics`` read the same figures from the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.patients.processing import process_patient
from tests.support.common import by_patient, cli_env, gistsched, intake, read_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration


def test_status_and_metrics_agree(db: Database, tmp_path: Path) -> None:
    events = read_cohort()
    intake(db.sessions, events, AS_OF)
    patients = sorted(by_patient(events))
    for patient_id in patients[:-1]:  # the last one stays unprocessed: queue lag
        process_patient(db.sessions, patient_id, AS_OF)
    result = gistsched("status", env=cli_env(db.url, tmp_path))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["patients"] == len(patients)
    assert status["events"] == len(events)
    assert status["events_unprocessed"] == len(by_patient(events)[patients[-1]])
    assert status["oldest_unprocessed_age_seconds"] >= 0
    assert status["reminders"]["overdue"] >= 1
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    # /metrics answers the loopback address by default (GIST_METRICS_ALLOW; tests/unit/test_metrics_access.py)
    with TestClient(create_web_app(settings, db.sessions), client=("127.0.0.1", 50000)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("gist_events", ())] == len(events)
    assert samples[("gist_events_unprocessed", ())] == status["events_unprocessed"]
    assert samples[("gist_reminders", (("status", "overdue"),))] == status["reminders"]["overdue"]
    assert samples[("gist_queue_lag_seconds", ())] >= 0
    assert "P0" not in response.text  # counts only: no patient ids
    assert samples[("gist_plans_behind", ())] == 0  # every plan was just computed as of AS_OF


def test_plans_behind_counts_active_patients_whose_recompute_day_passed(db: Database) -> None:
    import datetime as dt

    from scheduler.operations.status import read_status

    events = read_cohort()
    intake(db.sessions, events, AS_OF)
    for patient_id in by_patient(events):
        process_patient(db.sessions, patient_id, AS_OF)
    with db.sessions() as session:
        assert read_status(session).plans_behind is None  # no clinic day given: not read
        assert read_status(session, today=AS_OF).plans_behind == 0
        active = read_status(session).active_patients
        assert read_status(session, today=AS_OF + dt.timedelta(days=91)).plans_behind == active
