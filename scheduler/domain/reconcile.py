"""Reconcile stored reminders and alerts with a freshly computed plan (style.md "recompute, then
reconcile"): pure, so redelivered and out-of-order work converges by construction.

* reminders by stable key: new → insert; changed → update (revision + 1, the calendar SEQUENCE);
  gone from the plan → cancel, never delete (a completed item can only be gone when a late event
  rewrote history — its scan now completes another key — so it is cancelled too, keeping its
  ``completed_on``/``completed_by`` as a record); already cancelled and gone → keep;
* alerts by (rule, code): new → raise; changed severity or message → update; gone → resolve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scheduler.domain.model import Alert, Reminder, Waiver

# The fields a stored reminder mirrors from the plan; a change in any is a new revision (a booking,
# a snooze and a waiver too: calendars and feed ETags follow them).
REMINDER_FIELDS = (
    "kind",
    "due_on",
    "window_days",
    "status",
    "rule",
    "rationale",
    "citation",
    "completed_on",
    "completed_by",
    "cancelled_on",
    "overdue_since",
    "missed",
    "last_done_on",
    "appointment_on",
    "appointment_place",
    "snoozed_until",
    "waiver",
)


@dataclass(frozen=True, slots=True)
class StoredReminder:
    key: str
    kind: str
    due_on: dt.date
    window_days: int
    status: str
    rule: str
    rationale: str
    citation: str
    completed_on: dt.date | None
    completed_by: str | None
    cancelled_on: dt.date | None
    revision: int
    overdue_since: dt.date | None = None
    missed: int = 0
    last_done_on: dt.date | None = None
    appointment_on: dt.date | None = None  # the navigator's booking, snooze and waiver as stored
    appointment_place: str | None = None
    snoozed_until: dt.date | None = None
    waiver: Waiver | None = None


@dataclass(slots=True)
class ReminderChanges:
    inserts: list[Reminder] = field(default_factory=list)
    updates: list[tuple[StoredReminder, Reminder]] = field(default_factory=list)
    cancels: list[StoredReminder] = field(default_factory=list)


def reconcile_reminders(stored: Mapping[str, StoredReminder], desired: Sequence[Reminder]) -> ReminderChanges:
    changes = ReminderChanges()
    wanted: set[str] = set()
    for reminder in desired:
        wanted.add(reminder.key)
        current = stored.get(reminder.key)
        if current is None:
            changes.inserts.append(reminder)
        elif any(getattr(current, f) != getattr(reminder, f) for f in REMINDER_FIELDS):
            changes.updates.append((current, reminder))
    for key, current in stored.items():
        if key not in wanted and current.status != "cancelled":
            changes.cancels.append(current)
    return changes


@dataclass(frozen=True, slots=True)
class StoredAlert:
    rule: str
    code: str
    severity: str
    message: str


@dataclass(slots=True)
class AlertChanges:
    raised: list[Alert] = field(default_factory=list)
    updated: list[tuple[StoredAlert, Alert]] = field(default_factory=list)
    resolved: list[StoredAlert] = field(default_factory=list)


def reconcile_alerts(active: Iterable[StoredAlert], desired: Sequence[Alert]) -> AlertChanges:
    changes = AlertChanges()
    current = {(a.rule, a.code): a for a in active}
    wanted = {(a.rule, a.code): a for a in desired}
    for key, alert in wanted.items():
        existing = current.get(key)
        if existing is None:
            changes.raised.append(alert)
        elif (existing.severity, existing.message) != (alert.severity, alert.message):
            changes.updated.append((existing, alert))
    changes.resolved.extend(a for key, a in current.items() if key not in wanted)
    return changes
