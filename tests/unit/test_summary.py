"""render_summary: the terminal summary of one plan, on plans built by hand."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from scheduler.domain.model import Alert, Plan, Reminder, RiskAssessment, Status, Therapy
from scheduler.domain.risk import assess_risk, explain
from scheduler.patients.summary import MAX_REMINDERS, render_summary
from tests.support.staff import AS_OF

CITE = "Stivarga (regorafenib) US prescribing information §5.1"


def reminder(n: int, status: Status, due_on: dt.date, kind: str = "lab_lft") -> Reminder:
    return Reminder(
        key=f"monitoring.regorafenib:{kind}:2026-08-28:{n}",
        kind=kind,  # type: ignore[arg-type]
        due_on=due_on,
        window_days=3,
        status=status,
        rule="monitoring.regorafenib",
        rationale=f"liver tests on regorafenib, item {n}",
        citation=CITE,
    )


def regorafenib_plan(reminders: tuple[Reminder, ...] = ()) -> Plan:
    risk = assess_risk(11.0, 12, "stomach", ruptured=False)
    return Plan(
        patient_id="P07",
        as_of=AS_OF,
        risk=risk,
        stage="advanced",
        therapy=Therapy("regorafenib", 160.0, "advanced", dt.date(2026, 8, 28), line=3),
        alerts=(
            Alert(
                "cytoreductive_surgery_window", "info", "Consider surgery.", "advanced.cytoreduction", CITE
            ),
            Alert(
                "hepatotoxicity",
                "warning",
                "ALT 4× ULN on regorafenib: weekly liver tests until ≤ 3× ULN.",
                "monitoring.regorafenib_liver",
                CITE,
            ),
            Alert(
                "pdgfra_d842v_imatinib_resistant", "critical", "Imatinib is inactive.", "advanced.d842v", CITE
            ),
        ),
        reminders=reminders,
    )


def test_header_stage_and_therapy() -> None:
    text = render_summary(regorafenib_plan())
    first, underline = text.splitlines()[:2]
    assert "P07" in first
    assert "2026-11-27" in first
    assert "esmo2022-seed" in first
    assert set(underline) == {"="}
    assert len(underline) == len(first)
    assert re.search(r"^Stage\s+advanced$", text, re.MULTILINE)
    assert re.search(
        r"^Therapy\s+regorafenib 160 mg/day, advanced, line 3, since 2026-08-28$", text, re.MULTILINE
    )
    assert text.endswith("\n")


def test_risk_names_the_rows_and_uses_explain() -> None:
    plan = regorafenib_plan()
    text = render_summary(plan)
    assert "NIH high (nih.2) · AFIP 6b (86 %)" in text
    assert "11 cm, 12 mitoses/5 mm², stomach, not ruptured" in text
    flat = " ".join(text.split())
    assert " ".join(explain(plan.risk).split()) in flat


def test_risk_not_assessable_without_pathology() -> None:
    plan = regorafenib_plan()
    plan = Plan(
        patient_id="P02",
        as_of=AS_OF,
        risk=RiskAssessment(None, None, None, ruptured=False),
        stage="workup",
        therapy=None,
        alerts=(),
        reminders=(),
    )
    text = render_summary(plan)
    assert re.search(r"^Risk\s+NIH not assessable \(no row\) · AFIP — · not ruptured$", text, re.MULTILINE)
    assert re.search(r"^Therapy\s+none running$", text, re.MULTILINE)
    assert re.search(r"^Alerts\s+none$", text, re.MULTILINE)
    assert "none open · 0 completed, 0 cancelled" in text


def test_alerts_are_ordered_critical_first_with_code_rule_and_message() -> None:
    text = render_summary(regorafenib_plan())
    critical = text.index("CRITICAL  pdgfra_d842v_imatinib_resistant")
    warning = text.index("WARNING   hepatotoxicity")
    info = text.index("INFO      cytoreductive_surgery_window")
    assert critical < warning < info
    assert "[monitoring.regorafenib_liver]" in text
    assert "ALT 4× ULN on regorafenib" in text
    assert "Alerts (3)" in text


def test_reminders_due_first_at_most_eight_with_counts() -> None:
    day = dt.date(2026, 10, 1)
    rs = (
        reminder(1, "completed", day),
        reminder(2, "cancelled", day + dt.timedelta(days=7)),
        *(reminder(10 + i, "planned", day + dt.timedelta(days=30 + i)) for i in range(9)),
        reminder(3, "overdue", day + dt.timedelta(days=14)),
        reminder(4, "due", AS_OF, kind="clinic_visit"),
    )
    text = render_summary(regorafenib_plan(rs))
    assert f"Next reminders ({MAX_REMINDERS} of 11 open)" in text
    assert "… and 3 more open" in text
    assert "1 completed, 1 cancelled" in text
    table = [line for line in text.splitlines() if re.match(r"^  \d{4}-\d{2}-\d{2}", line)]
    assert len(table) == MAX_REMINDERS
    assert table[0].split()[:4] == ["2026-10-15", "3", "d", "lab_lft"]
    assert "overdue" in table[0]
    assert "clinic_visit" in table[1]
    assert "due" in table[1].split()
    assert all("planned" in line for line in table[2:])
    assert all("monitoring.regorafenib" in line for line in table)
    assert "liver tests on regorafenib, item 3" in text
    # planned rows in date order
    dates = [line.split()[0] for line in table[2:]]
    assert dates == sorted(dates)


def test_columns_are_aligned() -> None:
    rs = (
        reminder(1, "due", AS_OF, kind="ct"),
        reminder(2, "planned", AS_OF + dt.timedelta(days=30), kind="therapy_review"),
    )
    lines = render_summary(regorafenib_plan(rs)).splitlines()
    header = next(line for line in lines if line.lstrip().startswith("DUE ON"))
    rows = [line for line in lines if re.match(r"^  \d{4}-", line)]
    for column in ("WINDOW", "KIND", "STATUS", "RULE"):
        at = header.index(column)
        assert all(row[at - 1] == " " and row[at] != " " for row in rows), column


def test_no_colour_codes_and_nothing_wider_than_a_terminal() -> None:
    long_message = "word " * 80
    plan = regorafenib_plan((reminder(1, "due", AS_OF),))
    plan = Plan(
        patient_id=plan.patient_id,
        as_of=plan.as_of,
        risk=plan.risk,
        stage=plan.stage,
        therapy=plan.therapy,
        alerts=(Alert("next_line_due", "warning", long_message, "advanced.next_line", CITE),),
        reminders=plan.reminders,
    )
    text = render_summary(plan)
    assert "\x1b" not in text
    assert max(len(line) for line in text.splitlines()) <= 110


@pytest.mark.parametrize(
    ("dose", "shown"),
    [(400.0, "400 mg/day"), (37.5, "37.5 mg/day")],
    ids=["whole dose", "fractional dose"],
)
def test_dose_rendering(dose: float, shown: str) -> None:
    plan = regorafenib_plan()
    plan = Plan(
        patient_id="X",
        as_of=AS_OF,
        risk=plan.risk,
        stage="adjuvant",
        therapy=Therapy("imatinib", dose, "adjuvant", dt.date(2026, 1, 5), line=None),
        alerts=(),
        reminders=(),
    )
    text = render_summary(plan)
    assert f"imatinib {shown}, adjuvant, since 2026-01-05" in text
    assert "line" not in text.split("Therapy", 1)[1].splitlines()[0]
