"""A plain-text summary of one plan for a terminal: what a navigator reads first.

Pure: ``render_summary(plan)`` returns a string (no colour codes, no I/O). Sections, in order:
header, stage, therapy, risk (with the published rows that applied), alerts by severity, the next
open reminders (due/overdue first, then planned; at most ``MAX_REMINDERS``), and counts of the
completed and cancelled ones.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from scheduler.domain.model import SEVERITY_RANK, Alert, Plan, Reminder, RiskAssessment, Therapy
from scheduler.domain.risk import explain

MAX_REMINDERS = 8
WIDTH = 100
LABEL_WIDTH = 10
INDENT = " " * (LABEL_WIDTH + 1)
_STATUS_ORDER = {"overdue": 0, "due": 0, "planned": 1}


def render_summary(plan: Plan) -> str:
    """The plan as aligned plain text, ending with a newline."""
    title = f"Patient {plan.patient_id} — plan as of {plan.as_of.isoformat()} (profile {plan.profile})"
    lines = [title, "=" * len(title)]
    lines.append(_field("Stage", plan.stage.replace("_", " ")))
    lines.append(_field("Therapy", _therapy(plan.therapy)))
    lines.extend(_risk(plan.risk, explain(plan.risk)))
    lines.append("")
    lines.extend(_alerts(plan.alerts))
    lines.append("")
    lines.extend(_reminders(plan.reminders))
    return "\n".join(lines) + "\n"


def _field(label: str, value: str) -> str:
    return f"{label:<{LABEL_WIDTH}} {value}"


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, width=WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    ) or [indent.rstrip()]


def _number(x: float) -> str:
    return f"{x:g}"


def _therapy(therapy: Therapy | None) -> str:
    if therapy is None:
        return "none running"
    text = f"{therapy.drug} {_number(therapy.dose_mg)} mg/day, {therapy.setting}"
    if therapy.line is not None:
        text += f", line {therapy.line}"
    return f"{text}, since {therapy.started_on.isoformat()}"


def _risk(risk: RiskAssessment, explanation: str) -> list[str]:
    tier = (risk.nih_modified or "not assessable").replace("_", " ")
    facts = []
    if risk.size_cm is not None:
        facts.append(f"{_number(risk.size_cm)} cm")
    if risk.mitoses_per_5mm2 is not None:
        facts.append(f"{risk.mitoses_per_5mm2} mitoses/5 mm²")
    if risk.site is not None:
        facts.append(risk.site.replace("_", "/"))
    facts.append("ruptured" if risk.ruptured else "not ruptured")
    afip = f"AFIP {risk.afip_group or '—'}"
    if risk.afip_progression_pct is not None:
        afip += f" ({_number(risk.afip_progression_pct)} %)"
    head = f"NIH {tier} ({risk.nih_row or 'no row'}) · {afip} · {', '.join(facts)}"
    lines = _wrap(head, INDENT)
    lines[0] = _field("Risk", lines[0].lstrip())
    lines.extend(_wrap(explanation, INDENT))
    return lines


def _alerts(alerts: Iterable[Alert]) -> list[str]:
    ordered = sorted(alerts, key=lambda a: -SEVERITY_RANK[a.severity])  # stable: plan order within
    if not ordered:
        return [_field("Alerts", "none")]
    lines = [f"Alerts ({len(ordered)})"]
    code_width = max(len(a.code) for a in ordered)
    for a in ordered:
        lines.append(f"  {a.severity.upper():<8}  {a.code:<{code_width}}  [{a.rule}]")
        lines.extend(_wrap(a.message, " " * 12))
    return lines


def _reminders(reminders: Iterable[Reminder]) -> list[str]:
    every = list(reminders)
    open_ = sorted(
        (r for r in every if r.is_open),
        key=lambda r: (_STATUS_ORDER[r.status], r.due_on, r.rule, r.key),
    )
    shown = open_[:MAX_REMINDERS]
    completed = sum(r.status == "completed" for r in every)
    cancelled = sum(r.status == "cancelled" for r in every)
    counts = f"{completed} completed, {cancelled} cancelled"
    if not shown:
        return [_field("Reminders", f"none open · {counts}")]

    header = ("DUE ON", "WINDOW", "KIND", "STATUS", "RULE")
    rows = [(r.due_on.isoformat(), f"{r.window_days} d", r.kind, r.status, r.rule) for r in shown]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [f"Next reminders ({len(shown)} of {len(open_)} open)", fmt(header)]
    rationale_indent = " " * (2 + widths[0] + 2)
    for reminder, row in zip(shown, rows, strict=True):
        lines.append(fmt(row))
        lines.extend(_wrap(reminder.rationale, rationale_indent))
    if len(open_) > len(shown):
        lines.append(f"  … and {len(open_) - len(shown)} more open")
    lines.append(f"  {counts}")
    return lines
