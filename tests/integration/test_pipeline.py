"""The whole pipeline: ``gistsched submit --wait`` → Redis → two ``gistsched worker`` processes →
stored plans, each equal to the pure plan of its events at today's date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.rows import ReminderRow
from tests.support.common import (
    assert_all_converged,
    assert_matches_pure,
    by_patient,
    pure_plan,
    read_cohort,
    synthetic_events,
    utc_today,
    write_jsonl,
)
from tests.support.services import Pipeline, Workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def duplicate_reminder_keys(pipeline: Pipeline) -> list[tuple[str, str]]:
    with pipeline.db.sessions() as session:
        query = (
            select(ReminderRow.patient_id, ReminderRow.key)
            .group_by(ReminderRow.patient_id, ReminderRow.key)
            .having(func.count() > 1)
        )
        return [(pid, key) for pid, key in session.execute(query)]


def test_a_submitted_cohort_converges_to_the_pure_plans(
    pipeline: Pipeline, workers: Workers, tmp_path: Path
) -> None:
    first_day = utc_today()
    workers.start(count=2)
    cohort, synthetic = read_cohort(), synthetic_events(40)
    for name, events in (("cohort", cohort), ("synthetic", synthetic)):
        result = pipeline.gistsched(
            "submit", str(write_jsonl(tmp_path / f"{name}.jsonl", events)), "--wait", "90"
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"accepted": len(events), "duplicates": 0, "rejected": []}

    days = {first_day, utc_today()}
    assert_all_converged(pipeline.db.sessions, cohort + synthetic, days)
    assert duplicate_reminder_keys(pipeline) == []
    assert pipeline.queued() == 0

    printed = pipeline.gistsched("patient", "P07")  # the command prints that same stored plan
    assert printed.returncode == 0, printed.stderr
    plan = json.loads(printed.stdout)
    assert_matches_pure(plan, pure_plan(by_patient(cohort)["P07"], dt.date.fromisoformat(plan["as_of"])))
