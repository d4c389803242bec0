"""The ``gistsched`` command line (event-contract.md §3), run as a real subprocess.

Errors must be one line on stderr naming the field (and the line for files), exit status 2, no
traceback and nothing on stdout. Expected risk values are written out from clinical-rules.md §2.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from scheduler.domain.events import read_jsonl
from scheduler.domain.plan import plan_patients
from tests.support.guard import unavailable

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "gistsched"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "scheduler.app.cli"]
CONTRACT_CHECK = ROOT.parent / "shared" / "tools" / "contract-check"
COHORT = ROOT / "examples" / "cohort.jsonl"
PLAN_KEYS = {"patient_id", "as_of", "risk", "stage", "therapy", "alerts", "reminders"}
RISK_KEYS = {"nih_modified", "afip_group", "afip_progression_pct", "ruptured"}


def gistsched(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def assert_usage_error(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 2, nothing on stdout, no traceback; return stderr (every name must appear in it)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "an error must say what is wrong"
    for name in names:
        assert name in result.stderr, f"{name!r} not named in {result.stderr!r}"
    return result.stderr


def event(event_id: str, patient_id: str, kind: str, day: str, **data: Any) -> dict[str, Any]:
    return {"event_id": event_id, "patient_id": patient_id, "type": kind, "occurred_on": day, "data": data}


def write_lines(path: Path, lines: Sequence[dict[str, Any] | str]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def plan_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [json.loads(line) for line in result.stdout.splitlines()]


# ---- risk ---------------------------------------------------------------------------------------

RISK_CASES = [
    # size, mitoses, site, ruptured → NIH tier (row of §2), AFIP group, AFIP %
    ("3", "2", "stomach", False, "low", "2", 1.9),
    ("3", "2", "stomach", True, "high", "2", 1.9),  # rupture changes the tier, not the AFIP group
    ("6", "3", "stomach", False, "intermediate", "3a", 3.6),  # row 9
    ("4", "7", "stomach", False, "intermediate", "5", 16),  # row 7
    ("4", "7", "duodenum", False, "high", "5", 50),  # row 5
    ("7", "3", "rectum", False, "high", "3a", None),  # row 6; no AFIP data for the cell
    ("1.5", "8", "colon", False, "intermediate", "4", None),  # row 8; colon has no AFIP column
    ("2.0", "5", "jejunum_ileum", False, "very_low", "1", 0),  # 2.0 and 5 fall in the lower bands
    ("10.1", "0", "jejunum_ileum", False, "high", "3b", 52),  # row 2
]


@pytest.mark.parametrize(("size", "mitoses", "site", "ruptured", "tier", "group", "pct"), RISK_CASES)
def test_risk_prints_the_risk_object(
    size: str, mitoses: str, site: str, ruptured: bool, tier: str, group: str, pct: float | None
) -> None:
    args = ["risk", "--size-cm", size, "--mitoses", mitoses, "--site", site]
    result = gistsched(*args, *(["--ruptured"] if ruptured else []))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    risk = json.loads(result.stdout)
    assert set(risk) >= RISK_KEYS
    assert (risk["nih_modified"], risk["afip_group"], risk["afip_progression_pct"], risk["ruptured"]) == (
        tier,
        group,
        pct,
        ruptured,
    )
    assert risk["ruptured"] is ruptured


BASE_RISK = {"--size-cm": "3", "--mitoses": "2", "--site": "stomach"}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--size-cm", "0"),
        ("--size-cm", "101"),
        ("--size-cm", "-2"),
        ("--size-cm", "three"),
        ("--size-cm", "nan"),
        ("--mitoses", "-1"),
        ("--mitoses", "2.5"),
        ("--mitoses", "1001"),
        ("--site", "pancreas"),
        ("--site", None),  # missing
        ("--size-cm", None),
    ],
)
def test_risk_refuses_bad_input_naming_the_option(option: str, value: str | None) -> None:
    options = {**BASE_RISK, option: value}
    args = [part for name, given in options.items() if given is not None for part in (name, given)]
    stderr = assert_usage_error(gistsched("risk", *args), option)
    assert len(stderr.strip().splitlines()) == 1, stderr


# ---- plan ---------------------------------------------------------------------------------------

B_EVENTS = [
    event("b1", "B", "diagnosis", "2024-01-15", site="jejunum_ileum", size_cm=6.5),
    event("b2", "B", "resection", "2024-02-01", margin="R0"),
    event("b3", "B", "pathology", "2024-02-10", size_cm=6.5, mitoses_per_5mm2=8, site="jejunum_ileum"),
]
A_EVENTS = [
    event("a1", "A", "diagnosis", "2024-03-01", site="stomach", size_cm=8.0, metastatic=True),
    event("a2", "A", "biopsy", "2024-03-08", result="gist"),
    event("a3", "A", "therapy_started", "2024-04-01", drug="imatinib", dose_mg=400, setting="advanced"),
    event("a4", "A", "lab_result", "2024-04-01", test="alt", value=20, uln=40),
]
A_LATER = [  # after the as_of used below: must change nothing
    event("a5", "A", "progression", "2024-07-01", pattern="multifocal"),
    event("a6", "A", "therapy_stopped", "2024-07-02", drug="imatinib", reason="progression"),
    event("a7", "A", "follow_up_ended", "2024-08-01", reason="deceased"),
]
C_LATER = [event("c1", "C", "diagnosis", "2024-09-01", site="rectum", size_cm=1.0)]
AS_OF = "2024-06-30"


def test_plan_prints_one_plan_per_patient_sorted_and_ignores_later_events(tmp_path: Path) -> None:
    everything = write_lines(tmp_path / "all.jsonl", [*C_LATER, *A_LATER, *B_EVENTS, "", *A_EVENTS])
    known = write_lines(tmp_path / "known.jsonl", [*A_EVENTS, *B_EVENTS])
    plans = plan_lines(gistsched("plan", str(everything), "--as-of", AS_OF))
    assert [p["patient_id"] for p in plans] == ["A", "B"]  # sorted; C has no event on or before as_of
    for plan in plans:
        assert set(plan) >= PLAN_KEYS
        assert plan["as_of"] == AS_OF
    assert plans[0]["stage"] == "advanced"  # the progression and the end of follow-up come later
    assert plans[0]["therapy"]["drug"] == "imatinib"
    assert plans == plan_lines(gistsched("plan", str(known), "--as-of", AS_OF))
    # the command prints what the pure core computes
    with known.open(encoding="utf-8") as f:
        core = [p.to_json() for p in plan_patients(read_jsonl(f).events, dt.date.fromisoformat(AS_OF))]
    assert plans == core


def test_plan_is_empty_when_no_event_is_on_or_before_as_of(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "later.jsonl", C_LATER)
    result = gistsched("plan", str(path), "--as-of", AS_OF)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_plan_accepts_identical_duplicates(tmp_path: Path) -> None:
    plain = write_lines(tmp_path / "plain.jsonl", [*A_EVENTS, *B_EVENTS])
    # the same line again, and the same event written differently (key order, 400 as 400.0)
    a3 = A_EVENTS[2]
    rewritten = json.dumps(
        {"data": {**a3["data"], "dose_mg": 400.0}, **{k: v for k, v in a3.items() if k != "data"}}
    )
    doubled = write_lines(
        tmp_path / "doubled.jsonl", [*A_EVENTS, *B_EVENTS, B_EVENTS[1], A_EVENTS[0], rewritten]
    )
    expected = plan_lines(gistsched("plan", str(plain), "--as-of", AS_OF))
    assert plan_lines(gistsched("plan", str(doubled), "--as-of", AS_OF)) == expected


BAD_LINES: list[tuple[str, dict[str, Any] | str, str]] = [
    ("unknown type", event("x1", "A", "surgery", "2024-03-02"), "type"),
    ("negative size", event("x2", "A", "pathology", "2024-03-02", size_cm=-1, mitoses_per_5mm2=2), "size_cm"),
    ("unknown data key", event("x3", "A", "resection", "2024-03-02", margin="R0", surgeon="Dr X"), "surgeon"),
    ("unknown top-level key", {**event("x4", "A", "mdt_review", "2024-03-02"), "note": "x"}, "note"),
    ("bad date", event("x5", "A", "mdt_review", "2024-02-30"), "occurred_on"),
    (
        "conflicting duplicate",
        event("a1", "A", "diagnosis", "2024-03-01", site="stomach", size_cm=9.0),
        "event_id",
    ),
    (
        "missing required field",
        event("x7", "A", "therapy_started", "2024-03-02", drug="imatinib", dose_mg=400),
        "setting",
    ),
    ("not JSON", '{"event_id": "x8", ', "JSON"),
]


@pytest.mark.parametrize(
    ("bad", "field"), [(bad, field) for _, bad, field in BAD_LINES], ids=[name for name, _, _ in BAD_LINES]
)
def test_plan_refuses_an_invalid_line_naming_line_and_field(
    tmp_path: Path, bad: dict[str, Any] | str, field: str
) -> None:
    path = write_lines(tmp_path / "events.jsonl", [*A_EVENTS, bad, *B_EVENTS])
    stderr = assert_usage_error(gistsched("plan", str(path), "--as-of", AS_OF))
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"line {len(A_EVENTS) + 1}" in lines[0]
    assert field in lines[0]


def test_plan_reports_every_invalid_line(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [*A_EVENTS]
    expected: list[tuple[int, str]] = []
    for _, bad, field in BAD_LINES:
        lines.append(bad)
        expected.append((len(lines), field))
        lines.append(event(f"ok-{len(lines)}", "B", "mdt_review", "2024-03-05"))  # a valid line between
    result = gistsched("plan", str(write_lines(tmp_path / "events.jsonl", lines)), "--as-of", AS_OF)
    errors = assert_usage_error(result).strip().splitlines()
    assert len(errors) == len(expected), errors
    for message, (number, field) in zip(errors, expected, strict=True):
        assert f"line {number}" in message, (message, number)
        assert field in message, (message, field)


def test_plan_refuses_a_missing_file(tmp_path: Path) -> None:
    stderr = assert_usage_error(gistsched("plan", str(tmp_path / "nowhere.jsonl"), "--as-of", AS_OF))
    assert "nowhere.jsonl" in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("as_of", ["2024-13-01", "2024-02-30", "yesterday", "2024-6-30", ""])
def test_plan_refuses_a_bad_as_of(tmp_path: Path, as_of: str) -> None:
    path = write_lines(tmp_path / "events.jsonl", A_EVENTS)
    stderr = assert_usage_error(gistsched("plan", str(path), "--as-of", as_of), "--as-of")
    assert len(stderr.strip().splitlines()) == 1


def test_plan_refuses_the_last_representable_as_of(tmp_path: Path) -> None:
    """9999-12-31 leaves no room for the plan's dates: a usage error naming --as-of (exit 2), not a
    crash."""
    path = write_lines(tmp_path / "events.jsonl", A_EVENTS)
    result = gistsched("plan", str(path), "--as-of", "9999-12-31")
    assert "Traceback" not in result.stderr
    assert_usage_error(result, "--as-of")


def test_plan_requires_as_of(tmp_path: Path) -> None:
    assert_usage_error(gistsched("plan", str(write_lines(tmp_path / "e.jsonl", A_EVENTS))), "--as-of")


# ---- plan --profile ---------------------------------------------------------------------------

OPEN_ENDED = ("advanced.imaging", "monitoring.imatinib")  # advanced disease and a running drug (§0)


def last_open_ended_due(plan: dict[str, Any]) -> dt.date:
    return max(dt.date.fromisoformat(r["due_on"]) for r in plan["reminders"] if r["rule"] in OPEN_ENDED)


def test_profile_file_overrides_the_horizon(tmp_path: Path) -> None:
    events = write_lines(tmp_path / "events.jsonl", A_EVENTS)
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"horizon_months": 24}), encoding="utf-8")
    as_of = dt.date.fromisoformat(AS_OF)
    (default,) = plan_lines(gistsched("plan", str(events), "--as-of", AS_OF))
    (longer,) = plan_lines(gistsched("plan", str(events), "--as-of", AS_OF, "--profile", str(profile)))
    assert last_open_ended_due(default) <= dt.date(2025, 6, 30) < last_open_ended_due(longer)
    assert last_open_ended_due(longer) <= dt.date(2026, 6, 30)
    assert last_open_ended_due(longer) > as_of + dt.timedelta(days=600)  # listed well into the second year
    assert len(longer["reminders"]) > len(default["reminders"])


def test_profile_file_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    events = write_lines(tmp_path / "events.jsonl", A_EVENTS)
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"horizon_monthz": 24}), encoding="utf-8")
    stderr = assert_usage_error(
        gistsched("plan", str(events), "--as-of", AS_OF, "--profile", str(profile)), "horizon_monthz"
    )
    assert len(stderr.strip().splitlines()) == 1


RESECTED = [  # resected, pathology awaited: needs the profile's surveillance table
    event("r1", "R", "diagnosis", "2024-01-10", site="stomach", size_cm=6.0),
    event("r2", "R", "resection", "2024-02-01", margin="R0"),
]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"horizon_months": "twelve"}, "horizon_months"),
        ({"horizon_months": 1.5}, "horizon_months"),
        ({"horizon_months": None}, "horizon_months"),
        ({"horizon_months": 100000}, "horizon_months"),  # past year 9999
        ({"oneoff_due_days": "14"}, "oneoff_due_days"),
        ({"surveillance": {}}, "surveillance"),  # a table replaced by an empty one
    ],
    ids=["text", "fraction", "null", "huge", "text-days", "empty-table"],
)
def test_profile_file_with_a_bad_value_is_refused(
    tmp_path: Path, overrides: dict[str, Any], field: str
) -> None:
    events = write_lines(tmp_path / "events.jsonl", [*A_EVENTS, *RESECTED])
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(overrides), encoding="utf-8")
    assert_usage_error(gistsched("plan", str(events), "--as-of", AS_OF, "--profile", str(profile)), field)


def test_missing_profile_file_is_refused(tmp_path: Path) -> None:
    events = write_lines(tmp_path / "events.jsonl", A_EVENTS)
    assert_usage_error(
        gistsched("plan", str(events), "--as-of", AS_OF, "--profile", str(tmp_path / "no.json")), "--profile"
    )


# ---- demo and the shared contract check -------------------------------------------------------


def test_demo_plans_every_patient_of_the_example_cohort() -> None:
    result = gistsched("demo", "--as-of", "2026-11-27")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    patients = {
        json.loads(line)["patient_id"]
        for line in COHORT.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    assert patients
    missing = [pid for pid in sorted(patients) if pid not in result.stdout]
    assert not missing, f"demo left out {missing}"


def test_shared_contract_check_passes() -> None:
    """The shared checker runs the console script against event-contract.md. Without the checker
    (a checkout without ../shared) or the script, skipped with the reason — failed under CI=true."""
    if not CONTRACT_CHECK.exists():
        unavailable(f"{CONTRACT_CHECK} not found (the shared contract checker)", what="the contract check")
    if not SCRIPT.exists():
        unavailable("the checker needs the gistsched console script (make venv)", what="the contract check")
    result = subprocess.run(
        [str(CONTRACT_CHECK), str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
