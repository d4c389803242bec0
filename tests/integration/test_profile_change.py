"""A change of ``GIST_PROFILE`` recomputes every active patient through the normal pipeline: real
worker processes on Redis, SQLite and PostgreSQL. The workers are restarted with a profile file
that lengthens the horizon; one clock tick under the same profile queues every active patient
whose stored plan was made under the old one, once; the stored plans then equal the pure plans
under the new profile and record its name and hash (``gistsched patient`` prints them)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from models.rows import PatientRow, PatientStateRow
from scheduler.config.profiles import load_profile, profile_hash
from scheduler.config.settings import Settings
from scheduler.domain.events import parse_event
from scheduler.domain.plan import plan_follow_up
from scheduler.operations.clock_jobs import ClockState, tick
from scheduler.patients.stored import stored_plan
from tasks.base import GistCelery, send_process
from tests.support.common import assert_matches_pure, by_patient, read_cohort, wait_until, write_jsonl
from tests.support.services import Pipeline, Workers
from tests.support.staff import AS_OF

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def states(pipeline: Pipeline) -> dict[str, tuple[str, str | None]]:
    with pipeline.db.sessions() as session:
        return {
            pid: (name, digest)
            for pid, name, digest in session.execute(
                select(PatientStateRow.patient_id, PatientStateRow.profile, PatientStateRow.profile_hash)
            )
        }


def test_a_new_profile_recomputes_every_active_patient_after_a_restart(
    pipeline: Pipeline, workers: Workers, celery_app: GistCelery, tmp_path: Path
) -> None:
    cohort = read_cohort()
    workers.start(count=1, GIST_AS_OF=AS_OF.isoformat())
    submitted = pipeline.gistsched(
        "submit",
        str(write_jsonl(tmp_path / "cohort.jsonl", cohort)),
        "--wait",
        "90",
        GIST_AS_OF=AS_OF.isoformat(),
    )
    assert submitted.returncode == 0, submitted.stderr
    old = load_profile("esmo2022-seed")
    assert set(states(pipeline).values()) == {(old.name, old.digest)}

    profile_file = tmp_path / "site-b.json"
    profile_file.write_text(json.dumps({"name": "site-b", "horizon_months": 24}), encoding="utf-8")
    new = load_profile(str(profile_file))
    assert new.digest != old.digest
    workers.stop_all()
    workers.start(count=1, GIST_AS_OF=AS_OF.isoformat(), GIST_PROFILE=str(profile_file))

    settings = Settings(
        env="test", database_url=pipeline.db.url, broker_url=pipeline.redis.url, data_dir=pipeline.data_dir,
        stalled_after_seconds=60, clock_interval_seconds=1, as_of=AS_OF, profile=str(profile_file),
    )  # fmt: skip
    with pipeline.db.sessions() as session:
        active = set(session.scalars(select(PatientRow.patient_id).where(PatientRow.is_active.is_(True))))
    assert active
    state = ClockState(has_started=True)  # the daily recompute is not what is tested here
    state.profile_settled_at = None
    queued: list[str] = []

    def enqueue(patient_id: str, force: bool) -> bool:
        assert force
        queued.append(patient_id)
        return send_process(celery_app, patient_id, force=True)

    now = dt.datetime.now(dt.UTC).replace(hour=1)  # before daily_recompute_at: only the profile pass
    first = tick(pipeline.db.sessions, settings, enqueue, state, now=now, queue_length=lambda: None)
    assert set(first.profile_recomputed) == active
    again = tick(pipeline.db.sessions, settings, enqueue, state, now=now, queue_length=lambda: None)
    assert again.profile_recomputed == ()  # queued once, not once a tick
    assert sorted(queued) == sorted(active)

    wait_until(
        lambda: all(states(pipeline)[pid] == (new.name, new.digest) for pid in active),
        timeout=90, message="every active patient recomputed under the new profile",
    )  # fmt: skip
    with pipeline.db.sessions() as session:
        for pid, objs in sorted(by_patient(cohort).items()):
            if pid not in active:
                continue
            pure = plan_follow_up([parse_event(o) for o in objs], AS_OF, new.profile).to_json()
            stored = stored_plan(session, pid)
            assert_matches_pure(stored, pure)
            assert stored is not None
            assert (stored["profile"], stored["profile_hash"]) == ("site-b", new.digest)
    printed = pipeline.gistsched("patient", "P07")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["profile_hash"] == new.digest
    longer = [r for r in json.loads(printed.stdout)["reminders"] if r["due_on"] > "2027-12-31"]
    assert longer  # the 24-month horizon lists items the default's 12 months did not

    fresh = ClockState(has_started=True)  # a restarted clock: nothing is left under another profile
    later = now + dt.timedelta(minutes=2)
    assert tick(pipeline.db.sessions, settings, enqueue, fresh, now=later).profile_recomputed == ()
    assert profile_hash(new.profile) == new.digest
