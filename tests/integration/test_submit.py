"""``gistsched submit FILE [--wait S]`` (event-contract.md §3) with a real database and broker: the
JSON it prints, its exit codes, what it stores and what it queues. No worker runs here."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.rows import EventRow
from tasks.base import PROCESS_BATCH_SIZE
from tests.support.common import by_patient, read_cohort, utc_today, write_jsonl
from tests.support.services import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def event(event_id: str, kind: str, day: str, patient_id: str = "Q1", **data: Any) -> dict[str, Any]:
    return {"event_id": event_id, "patient_id": patient_id, "type": kind, "occurred_on": day, "data": data}


def submit(
    pipeline: Pipeline, path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = pipeline.gistsched("submit", str(path), *args)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # exactly one JSON object on stdout
    return result, json.loads(lines[0])


def stored_ids(pipeline: Pipeline) -> set[str]:
    with pipeline.db.sessions() as session:
        return set(session.scalars(select(EventRow.event_id)))


def batches(events: list[dict[str, Any]]) -> int:
    """The messages a submit of ``events`` queues: its patients in batches of at most
    ``PROCESS_BATCH_SIZE`` (one patient: a ``patients.process`` of its own)."""
    return math.ceil(len(by_patient(events)) / PROCESS_BATCH_SIZE)


def test_resubmission_is_all_duplicates_and_queues_nothing_new(pipeline: Pipeline, tmp_path: Path) -> None:
    cohort = read_cohort()
    path = write_jsonl(tmp_path / "cohort.jsonl", cohort)

    first, output = submit(pipeline, path)
    assert first.returncode == 0, first.stderr
    assert output == {"accepted": len(cohort), "duplicates": 0, "rejected": []}
    assert stored_ids(pipeline) == {e["event_id"] for e in cohort}
    assert pipeline.queued() == batches(cohort)  # each patient once, in batches; not one per event

    again, output = submit(pipeline, path)
    assert again.returncode == 0, again.stderr
    assert output == {"accepted": 0, "duplicates": len(cohort), "rejected": []}
    assert pipeline.db.count(EventRow) == len(cohort)
    assert pipeline.queued() == batches(cohort)  # duplicates change nothing: nothing to queue


def test_a_conflicting_event_id_is_rejected_with_its_line(pipeline: Pipeline, tmp_path: Path) -> None:
    original = event("c-1", "diagnosis", "2026-01-05", site="stomach", size_cm=3.0)
    submit(pipeline, write_jsonl(tmp_path / "first.jsonl", [original]))

    changed = {**original, "data": {"site": "stomach", "size_cm": 4.0}}
    new = event("c-2", "imaging", "2026-02-01", modality="ct")
    result, output = submit(pipeline, write_jsonl(tmp_path / "second.jsonl", [new, original, changed]))
    assert result.returncode == 2
    assert (output["accepted"], output["duplicates"]) == (1, 1)
    assert [r["line"] for r in output["rejected"]] == [3]
    assert "c-1" in output["rejected"][0]["error"]
    assert "conflict" in output["rejected"][0]["error"]
    assert result.stderr.splitlines() == [f"{tmp_path / 'second.jsonl'}: {output['rejected'][0]['error']}"]

    result, output = submit(pipeline, write_jsonl(tmp_path / "third.jsonl", [changed]))
    assert result.returncode == 2
    assert output == {"accepted": 0, "duplicates": 0, "rejected": [output["rejected"][0]]}
    assert output["rejected"][0]["line"] == 1
    assert "conflicts with the stored event" in output["rejected"][0]["error"]
    with pipeline.db.sessions() as session:
        payload = session.scalars(select(EventRow.payload).where(EventRow.event_id == "c-1")).one()
    assert payload == original  # the stored event is never overwritten
    assert stored_ids(pipeline) == {"c-1", "c-2"}


def test_good_and_bad_lines_exit_2_storing_the_good_and_reporting_the_bad(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    tomorrow = (utc_today() + dt.timedelta(days=2)).isoformat()
    registered = event("g-1", "patient_registered", "2026-01-02", name="Ana", navigator_id="nav-ana")
    diagnosis = event("g-4", "diagnosis", "2026-01-05", site="stomach", size_cm=3.0)
    lines: list[dict[str, Any] | str] = [
        registered,  # 1 good
        '{"event_id": "b-2", "patient_id": "Q1",',  # 2 not JSON
        "",  # 3 blank: ignored, but it still counts as a line
        diagnosis,  # 4 good
        event("b-5", "telepathy", "2026-01-06"),  # 5 unknown type
        event("b-6", "imaging", tomorrow, modality="ct"),  # 6 after the day it was received
        event("b-7", "diagnosis", "2026-01-07", site="stomach"),  # 7 size_cm missing
        registered,  # 8 an identical repeat in the file: a duplicate
        {**diagnosis, "data": {"site": "rectum", "size_cm": 3.0}},  # 9 conflicts with line 4
        event("b-10", "imaging", "2026-01-08", patient_id="has space", modality="ct"),  # 10 bad id
        event("g-11", "imaging", "2026-01-09", modality="ct"),  # 11 good
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    result, output = submit(pipeline, path)

    assert result.returncode == 2
    assert (output["accepted"], output["duplicates"]) == (3, 1)
    rejected = {r["line"]: r["error"] for r in output["rejected"]}
    assert list(rejected) == [2, 5, 6, 7, 9, 10]  # in line order
    for line, field in ((2, "JSON"), (5, "type"), (6, "occurred_on"), (7, "size_cm"), (9, "event_id"),
                        (10, "patient_id")):  # fmt: skip
        assert f"line {line}" in rejected[line]
        assert field in rejected[line], (line, rejected[line])
    assert stored_ids(pipeline) == {"g-1", "g-4", "g-11"}
    errors = result.stderr.splitlines()
    assert errors == [f"{path}: {rejected[line]}" for line in rejected]
    assert pipeline.queued() == 1  # one patient, queued once, after the commit


def test_wait_times_out_with_exit_1_when_no_worker_runs(pipeline: Pipeline, tmp_path: Path) -> None:
    events = by_patient(read_cohort())["P03"]
    result, output = submit(pipeline, write_jsonl(tmp_path / "p03.jsonl", events), "--wait", "1")
    assert result.returncode == 1
    assert output == {"accepted": len(events), "duplicates": 0, "rejected": []}
    assert f"{len(events)} event(s) still unprocessed" in result.stderr
