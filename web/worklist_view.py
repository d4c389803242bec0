"""The worklist as the dashboard shows and exports it: the items of :func:`scheduler.worklist.worklist`
with what matters at a glance added (the latest relevant result, the age of each alert), sorted by
the column the user chose, and written as CSV with the same filters and order.

Sorting orders the items listed (the first 50 of a section by urgency, or up to 500 with "show
more"): the worklist's statements stay the ordered index scans they are (docs/performance.md §4).
A sort is ``column`` (ascending) or ``-column`` (descending) in ``sort_<section>``; a value the
page does not offer is ignored, like the filters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from scheduler.patients.results import ALERT_RESULT_KINDS, result_days, results_on

Item = dict[str, Any]
SortKey = Callable[[Item], Any]


def _text(name: str) -> SortKey:
    return lambda item: (item.get(name) is None, str(item.get(name) or "").casefold())


def _number(name: str) -> SortKey:
    return lambda item: (item.get(name) is None, item.get(name) or 0)


SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
# section → column → (heading, key); the first column listed is not the default order: with no
# sort the section keeps the worklist's own (most urgent first).
COLUMNS: dict[str, dict[str, tuple[str, SortKey]]] = {
    "overdue": {
        "patient": ("Patient", _text("patient_id")),
        "what": ("What", _text("label")),
        "since": ("Overdue since", _text("since_on")),
        "days": ("Days overdue", _number("days_overdue")),
        "done": ("Last done on", _text("last_done_on")),
    },
    "due": {
        "patient": ("Patient", _text("patient_id")),
        "what": ("What", _text("label")),
        "due": ("Due", _text("due_on")),
        "done": ("Last done on", _text("last_done_on")),
        "status": ("Status", _text("status")),
    },
    "alerts": {
        "patient": ("Patient", _text("patient_id")),
        "severity": ("Severity", lambda a: SEVERITY_RANK.get(a["severity"], 9)),
        "age": ("Age", _number("age_days")),
        "alert": ("Alert", _text("message")),
    },
}
SECTION_ITEMS = {"overdue": "overdue", "due": "due_soon", "alerts": "alerts"}


@dataclass(frozen=True, slots=True)
class Sort:
    """The order a section is shown in: ``column`` ("" = the worklist's own), descending or not."""

    column: str = ""
    descending: bool = False

    @property
    def param(self) -> str:
        return f"-{self.column}" if self.descending else self.column

    def aria(self, column: str) -> str | None:
        if column != self.column:
            return None
        return "descending" if self.descending else "ascending"

    def next_param(self, column: str) -> str:
        """The sort a click on ``column``'s heading asks for: ascending, then descending."""
        return f"-{column}" if column == self.column and not self.descending else column


def parse_sort(section: str, value: str) -> Sort:
    column = value.removeprefix("-")
    if column not in COLUMNS[section]:
        return Sort()
    return Sort(column, value.startswith("-"))


def sort_items(items: list[Item], section: str, sort: Sort) -> list[Item]:
    if not sort.column:
        return items
    key = COLUMNS[section][sort.column][1]
    return sorted(items, key=key, reverse=sort.descending)  # stable: ties keep the urgency order


def add_glance(session: Session, found: dict[str, Any], today: dt.date) -> None:
    """Add to ``found``'s items: ``since_on`` (overdue since: the first missed item's due date,
    else its own), ``latest_result`` (the result of the item's kind on ``last_done_on``); to its
    alerts ``age_days``, ``raised_on`` and, for an alert a kind of result explains, that kind's
    latest result."""
    items = [*found["overdue"], *found["due_soon"]]
    for item in items:
        item["since_on"] = item["overdue_since"] or item["due_on"]
    alerts = found["alerts"]
    for alert in alerts:
        raised = dt.date.fromisoformat(alert["first_seen_at"][:10])
        alert["raised_on"] = raised.isoformat()
        alert["age_days"] = max(0, (today - raised).days)
    explained = {
        (a["patient_id"], ALERT_RESULT_KINDS[a["code"]]) for a in alerts if a["code"] in ALERT_RESULT_KINDS
    }
    alert_days = result_days(session, explained)
    wanted = [
        (i["patient_id"], i["kind"], dt.date.fromisoformat(i["last_done_on"]))
        for i in items
        if i["last_done_on"]
    ]
    wanted += [(pid, kind, day) for (pid, kind), day in alert_days.items()]
    results = results_on(session, wanted)
    for item in items:
        item["latest_result"] = results.get((item["patient_id"], item["kind"]))
    for alert in alerts:
        kind = ALERT_RESULT_KINDS.get(alert["code"])
        alert["latest_result"] = results.get((alert["patient_id"], kind)) if kind else None


CSV_COLUMNS = (
    "section", "patient_id", "patient_name", "item", "kind", "status", "due_on", "overdue_since",
    "days_overdue", "missed", "last_done_on", "latest_result", "latest_result_on", "severity", "alert",
    "raised_on", "alert_age_days", "acknowledged_by", "rule", "appointment_on", "appointment_place",
    "snoozed_until",
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP "CSV injection")."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def worklist_csv(sections: Mapping[str, Iterable[Item]], names: Mapping[str, str | None]) -> str:
    """The sections (``overdue``, ``due_soon``, ``alerts``, ``failed_notifications``, ``snoozed``) as
    CSV, one row per item in the order given, with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for section, items in sections.items():
        for item in items:
            row = _csv_row(section, item, names.get(item.get("patient_id") or "") or "")
            writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _csv_row(section: str, item: Item, name: str) -> dict[str, Any]:
    result = item.get("latest_result") or {}
    common = {
        "section": section,
        "patient_id": item.get("patient_id") or "",
        "patient_name": name,
        "latest_result": result.get("text"),
        "latest_result_on": result.get("on"),
    }
    if section == "alerts":
        return common | {
            "severity": item["severity"],
            "alert": item["message"],
            "raised_on": item["raised_on"],
            "alert_age_days": item["age_days"],
            "acknowledged_by": item["acknowledged_by"],
            "rule": item["rule"],
        }
    if section == "failed_notifications":
        return common | {
            "item": f"{item['kind']} email to the {item['audience']} failed: {item['error'] or ''}",
            "status": "failed",
            "due_on": item["due_on"],
        }
    return common | {
        "item": item["label"],
        "kind": item["kind"],
        "status": "overdue" if section == "overdue" else item["status"],
        "due_on": item["due_on"],
        "overdue_since": item.get("since_on") if section == "overdue" else item["overdue_since"],
        "days_overdue": item["days_overdue"] if section in ("overdue", "snoozed") else "",
        "missed": item["missed"],
        "last_done_on": item["last_done_on"],
        "rule": item["rule"],
        "appointment_on": (item.get("booking") or {}).get("appointment_on"),
        "appointment_place": (item.get("booking") or {}).get("place"),
        "snoozed_until": item.get("snoozed_until") if section == "snoozed" else None,
    }
