"""The latest results that matter next to a reminder or an alert: "ALT 95 (2.4× ULN)" on the day
it was measured, "CT: stable", for the worklist and the patient page.

What counts as a result of a reminder kind is the core's own answer
(:func:`scheduler.domain.case.kinds_done_by`, clinical-rules §9: an ALT, AST or bilirubin for
liver tests, an MRI for a CT …). An open reminder already carries the day of the latest such
result (``last_done_on``), so the worklist reads only the events of those patients on those days
(``ix_events_patient``), a few rows per item shown; an alert that a kind of result explains
(:data:`ALERT_RESULT_KINDS`) takes the day from the patient's open reminder of that kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.rows import EventRow, ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES
from scheduler.domain.case import kinds_done_by
from scheduler.domain.events import EventError, parse_event

# An alert code → the kind of result that explains it (its latest values are shown beside it).
ALERT_RESULT_KINDS: dict[str, str] = {"hepatotoxicity": "lab_lft"}
LAB_NAMES = {
    "alt": "ALT", "ast": "AST", "bilirubin": "Bilirubin", "neutrophils": "Neutrophils",
    "platelets": "Platelets", "hemoglobin": "Haemoglobin", "tsh": "TSH", "lvef": "LVEF",
}  # fmt: skip
MODALITY_NAMES = {"ct": "CT", "mri": "MRI", "eus": "EUS", "pet": "PET"}
Wanted = tuple[str, str, dt.date]  # (patient_id, reminder kind, day of its latest result)


def _number(value: float) -> str:
    return f"{value:g}"


def describe(event_type: str, data: Mapping[str, Any]) -> str:
    """One result in a few words: "ALT 95 (2.4× ULN)", "CT: stable", "Clinic visit"."""
    if event_type == "lab_result":
        test = str(data.get("test", ""))
        text = f"{LAB_NAMES.get(test, test)} {_number(float(data.get('value', 0)))}"
        uln = data.get("uln")
        if uln:
            text += f" ({float(data.get('value', 0)) / float(uln):.1f}× ULN)"
        return text
    if event_type == "imaging":
        modality = str(data.get("modality", ""))
        name = MODALITY_NAMES.get(modality, modality)
        result = data.get("result")
        return f"{name}: {str(result).replace('_', ' ')}" if result else f"{name} (no result recorded)"
    if event_type == "visit":
        return str(data.get("kind", "visit")).replace("_", " ").capitalize()
    if event_type == "biopsy":
        return f"Biopsy: {str(data.get('result', '')).replace('_', ' ')}"
    if event_type == "mutation":
        exon = f" exon {data['exon']}" if data.get("exon") else ""
        return f"Mutation test: {data.get('gene', '')}{exon}"
    if event_type == "mdt_review":
        outcome = data.get("outcome")
        return f"MDT review: {str(outcome).replace('_', ' ')}" if outcome else "MDT review"
    return event_type.replace("_", " ").capitalize()


def is_above_uln(data: Mapping[str, Any]) -> bool:
    uln = data.get("uln")
    return uln is not None and uln > 0 and float(data.get("value", 0)) > float(uln)


def latest_results(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The latest result of each lab test and imaging modality among a record's ``events``
    (dicts with ``type``, ``occurred_on`` and ``data``), newest first: ``what``, ``on``,
    ``text`` and ``is_above_uln``."""
    latest: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
    for event in events:
        data = event["data"]
        if event["type"] == "lab_result":
            what = str(data.get("test"))
        elif event["type"] == "imaging":
            what = str(data.get("modality"))
        else:
            continue
        day = str(event["occurred_on"])
        if what not in latest or latest[what][0] <= day:
            latest[what] = (day, event["type"], data)
    shown = [
        {"what": what, "on": day, "text": describe(kind, data), "is_above_uln": is_above_uln(data)}
        for what, (day, kind, data) in latest.items()
    ]
    return sorted(shown, key=lambda r: (r["on"], r["what"]), reverse=True)


def results_on(session: Session, wanted: Iterable[Wanted]) -> dict[tuple[str, str], dict[str, Any]]:
    """For each (patient, kind, day) the results of that kind the patient had that day:
    ``{"on": day, "text": "ALT 95 (2.4× ULN) · AST 60 (1.5× ULN)", "is_above_uln": …, "parts":
    [{"text", "is_above_uln"}, …]}`` by (patient, kind). One statement over ``ix_events_patient``."""
    wanted = set(wanted)
    if not wanted:
        return {}
    patients = sorted({pid for pid, _, _ in wanted})
    days = sorted({day for _, _, day in wanted})
    rows = session.execute(
        select(EventRow.patient_id, EventRow.occurred_on, EventRow.type, EventRow.event_id, EventRow.payload)
        .where(EventRow.patient_id.in_(patients), EventRow.occurred_on.in_(days))
        .order_by(EventRow.patient_id, EventRow.occurred_on, EventRow.event_id)
    ).all()
    found: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    days_of: dict[tuple[str, str], dt.date] = {}
    kinds_wanted: dict[tuple[str, dt.date], set[str]] = {}
    for pid, kind, day in wanted:
        kinds_wanted.setdefault((pid, day), set()).add(kind)
    for row in rows:
        kinds = kinds_wanted.get((row.patient_id, row.occurred_on))
        if not kinds:
            continue
        try:
            event = parse_event(row.payload)
        except EventError:  # stored under an older contract: not shown rather than guessed
            continue
        data = row.payload.get("data", {})
        for kind in kinds.intersection(kinds_done_by(event)):
            found.setdefault((row.patient_id, kind), []).append(
                (describe(row.type, data), is_above_uln(data))
            )
            days_of[(row.patient_id, kind)] = row.occurred_on
    return {
        key: {
            "on": days_of[key].isoformat(),
            "text": " · ".join(text for text, _ in parts),
            "is_above_uln": any(above for _, above in parts),
            "parts": [{"text": text, "is_above_uln": above} for text, above in parts],
        }
        for key, parts in found.items()
    }


def result_days(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dt.date]:
    """The day of the latest result of each (patient, kind), from the patient's open reminders of
    that kind (``last_done_on``); pairs with no such reminder or no result are left out."""
    pairs = set(pairs)
    if not pairs:
        return {}
    rows = session.execute(
        select(ReminderRow.patient_id, ReminderRow.kind, func.max(ReminderRow.last_done_on))
        .where(
            ReminderRow.patient_id.in_(sorted({pid for pid, _ in pairs})),
            ReminderRow.kind.in_(sorted({kind for _, kind in pairs})),
            ReminderRow.last_done_on.is_not(None),
            ReminderRow.status.in_(OPEN_REMINDER_STATUSES),
        )
        .group_by(ReminderRow.patient_id, ReminderRow.kind)
    ).all()
    return {(pid, kind): day for pid, kind, day in rows if (pid, kind) in pairs and day is not None}
