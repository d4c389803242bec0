"""Tiny helpers to write scenario tests as clinical stories (one patient, ``P1``).

``History`` hands out event ids in the order events are written, so a test reads like a timeline::

    h = History()
    h.add("diagnosis", "2024-01-10", site="stomach", size_cm=1.5)
    p = plan(h, "2024-06-01")
    [eus] = reminders(p, rule="workup.small_gastric", kind="eus", status="planned")

Every event goes through ``parse_event`` exactly as a JSON line would, so a builder cannot produce
an event the contract refuses. Dates are ISO strings in tests and ``datetime.date`` in plans;
``d("2024-01-10")`` converts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from scheduler.domain.events import Event, parse_event
from scheduler.domain.model import Alert, Plan, Reminder
from scheduler.domain.plan import plan_follow_up

PATIENT_ID = "P1"
OPEN = ("planned", "due", "overdue")


def d(day: str | dt.date) -> dt.date:
    return day if isinstance(day, dt.date) else dt.date.fromisoformat(day)


def ev(event_id: str, type_: str, day: str | dt.date, **data: Any) -> Event:
    """One contract event of patient P1, validated like a JSON line."""
    return parse_event(
        {
            "event_id": event_id,
            "patient_id": PATIENT_ID,
            "type": type_,
            "occurred_on": d(day).isoformat(),
            "data": data,
        }
    )


class History:
    """An append-only list of events with automatic, zero-padded ids (e-001, e-002, …)."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events: list[Event] = list(events)

    def add(self, type_: str, day: str | dt.date, **data: Any) -> History:
        self.events.append(ev(f"e-{len(self.events) + 1:03d}", type_, day, **data))
        return self

    def copy(self) -> History:
        return History(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)


def plan(events: Iterable[Event], as_of: str | dt.date) -> Plan:
    return plan_follow_up(list(events), d(as_of))


def reminders(
    p: Plan,
    *,
    rule: str | None = None,
    kind: str | None = None,
    status: str | tuple[str, ...] | None = None,
    key: str | None = None,
) -> list[Reminder]:
    """The plan's reminders matching every filter given, in plan order."""
    statuses = (status,) if isinstance(status, str) else status
    return [
        r
        for r in p.reminders
        if (rule is None or r.rule == rule)
        and (kind is None or r.kind == kind)
        and (statuses is None or r.status in statuses)
        and (key is None or r.key == key)
    ]


def open_reminders(p: Plan, *, rule: str | None = None, kind: str | None = None) -> list[Reminder]:
    return reminders(p, rule=rule, kind=kind, status=OPEN)


def reminder(p: Plan, key: str) -> Reminder:
    """The one reminder with this key (fails the test when absent or repeated)."""
    found = reminders(p, key=key)
    assert len(found) == 1, f"expected one reminder {key}, found {len(found)}: {keys(p)}"
    return found[0]


def keys(p: Plan, **filters: Any) -> list[str]:
    return [r.key for r in reminders(p, **filters)]


def dues(rs: Iterable[Reminder]) -> list[tuple[str, int]]:
    """(due_on, window_days) pairs, easy to compare with a literal table."""
    return [(r.due_on.isoformat(), r.window_days) for r in rs]


def is_cancelled_or_omitted(p: Plan, key: str) -> bool:
    """§0: the pure plan may omit cancelled items; if listed, the item must be cancelled."""
    return all(r.status == "cancelled" for r in reminders(p, key=key))


def alert(p: Plan, code: str) -> Alert | None:
    """The alert with this code, or None; fails the test if the code appears twice."""
    found = [a for a in p.alerts if a.code == code]
    assert len(found) <= 1, f"alert {code} appears {len(found)} times"
    return found[0] if found else None


def alert_codes(p: Plan) -> set[str]:
    return {a.code for a in p.alerts}


def imatinib_in_advanced_disease() -> History:
    """Metastatic gastric GIST, KIT exon 11, on imatinib 400 mg/day from 2024-02-01 (line 1)."""
    h = History()
    h.add("diagnosis", "2024-01-10", site="stomach", size_cm=8.0, metastatic=True)
    h.add("biopsy", "2024-01-15", result="gist")
    h.add("mutation", "2024-01-25", gene="KIT", exon=11)
    h.add("therapy_started", "2024-02-01", drug="imatinib", dose_mg=400, setting="advanced")
    return h
