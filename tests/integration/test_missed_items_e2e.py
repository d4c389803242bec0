"""Missed weekly liver tests on regorafenib never go silent (clinical-rules.md v4 §9): a history
submitted through the real pipeline (``gistsched submit`` → Redis → a worker process), and the
worklist shows one overdue liver test, overdue since the first missed weekly test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from scheduler.staff.access import Principal
from scheduler.staff.worklist import worklist
from tests.support.common import write_jsonl
from tests.support.services import Pipeline, Workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

AS_OF = dt.date(2026, 4, 10)
CLINICIAN = Principal(2, "cleo", "clinician", None)


def event(n: int, kind: str, day: str, **data: Any) -> dict[str, Any]:
    return {"event_id": f"R1-{n}", "patient_id": "R1", "type": kind, "occurred_on": day, "data": data}


HISTORY = [
    event(1, "diagnosis", "2026-01-02", site="stomach", size_cm=8.0, metastatic=True),
    event(2, "biopsy", "2026-01-03", result="gist"),
    event(3, "therapy_started", "2026-01-05", drug="regorafenib", dose_mg=160, setting="advanced"),
    event(4, "lab_result", "2026-02-02", test="alt", value=160, uln=40),  # 4× ULN: weekly tests
]


def test_missed_weekly_liver_tests_show_as_one_overdue_item(
    pipeline: Pipeline, workers: Workers, tmp_path: Path
) -> None:
    workers.start(count=1, GIST_AS_OF=AS_OF.isoformat())
    submitted = pipeline.gistsched(
        "submit",
        str(write_jsonl(tmp_path / "r1.jsonl", HISTORY)),
        "--wait",
        "90",
        GIST_AS_OF=AS_OF.isoformat(),
    )
    assert submitted.returncode == 0, submitted.stderr
    with pipeline.db.sessions() as session:
        found = worklist(session, CLINICIAN, AS_OF, kind="lab_lft")
    liver = [item for item in found["overdue"] if item["rule"] == "monitoring.regorafenib_liver"]
    assert len(liver) == 1, found["overdue"]
    assert liver[0]["overdue_since"] == "2026-02-09"
    assert liver[0]["missed"] >= 8
    assert "overdue since 2026-02-09" in liver[0]["missed_text"]
