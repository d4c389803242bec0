"""Value objects the core returns: risk, therapy, alerts, reminders and the plan.

They are frozen dataclasses and named tuples with ``to_json`` methods that give
the exact shapes fixed by event-contract.md §2; extra keys beyond the contract are allowed there and
are documented in the README.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Tier = Literal["very_low", "low", "intermediate", "high"]
Severity = Literal["info", "warning", "critical"]
Status = Literal["planned", "due", "overdue", "completed", "cancelled"]
Stage = Literal[
    "workup",
    "small_tumour_surveillance",
    "neoadjuvant",
    "adjuvant",
    "post_treatment_surveillance",
    "advanced",
    "ended",
]
ReminderKind = Literal[
    "ct",
    "mri",
    "eus",
    "lab_lft",
    "lab_cbc",
    "lab_tsh",
    "echo",
    "skin_exam",
    "biopsy",
    "mutation_test",
    "mdt_review",
    "therapy_review",
    "clinic_visit",
]

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """Both risk schemes for one set of tumour facts, with the table rows that applied."""

    nih_modified: Tier | None
    afip_group: str | None
    afip_progression_pct: float | None
    ruptured: bool
    nih_row: str | None = None  # e.g. "nih.5" — which published row matched (None when tier is None)
    afip_column: str | None = None  # "stomach", "jejunum_ileum", "duodenum", "rectum" or None (no AFIP data)
    size_cm: float | None = None
    mitoses_per_5mm2: int | None = None
    site: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "nih_modified": self.nih_modified,
            "afip_group": self.afip_group,
            "afip_progression_pct": self.afip_progression_pct,
            "ruptured": self.ruptured,
            "nih_row": self.nih_row,
            "afip_column": self.afip_column,
            "size_cm": self.size_cm,
            "mitoses_per_5mm2": self.mitoses_per_5mm2,
            "site": self.site,
        }


@dataclass(frozen=True, slots=True)
class Therapy:
    drug: str
    dose_mg: float
    setting: str
    started_on: dt.date
    line: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "drug": self.drug,
            "dose_mg": _num(self.dose_mg),
            "setting": self.setting,
            "started_on": self.started_on.isoformat(),
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    code: str
    severity: Severity
    message: str
    rule: str
    citation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "rule": self.rule,
            "citation": self.citation,
        }


@dataclass(frozen=True, slots=True)
class Booking:
    """A navigator booked an item: the appointment day and, optionally, where (reminder_booked)."""

    appointment_on: dt.date
    place: str | None
    booked_on: dt.date

    def to_json(self) -> dict[str, Any]:
        return {"appointment_on": self.appointment_on.isoformat(), "place": self.place}


@dataclass(frozen=True, slots=True)
class Waiver:
    """A navigator waived an item (reminder_waived): it is cancelled on ``waived_on`` with its reason."""

    waived_on: dt.date
    reason: str  # not_applicable, done_elsewhere or declined
    done_on: dt.date | None = None  # done elsewhere on this day
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "waived_on": self.waived_on.isoformat(),
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "note": self.note,
        }


class Reminder(NamedTuple):
    """One item of a plan, with its status at ``as_of`` (event-contract.md §2)."""

    key: str
    kind: ReminderKind
    due_on: dt.date
    window_days: int
    status: Status
    rule: str
    rationale: str
    citation: str
    completed_on: dt.date | None = None
    completed_by: str | None = None  # event_id of the event that fulfilled it
    cancelled_on: dt.date | None = None
    # On open items only (event-contract.md §2): the due date of the first of the unbroken run of
    # missed (superseded) items just before this one in its series, and how many there were.
    overdue_since: dt.date | None = None
    missed: int = 0
    last_done_on: dt.date | None = None  # the latest fulfilment of this kind in the plan, if any
    # navigator actions (reminder_booked / _snoozed on open items, reminder_waived on cancelled ones)
    booking: Booking | None = None
    snoozed_until: dt.date | None = None
    waiver: Waiver | None = None

    @property
    def is_open(self) -> bool:
        return self.status in ("planned", "due", "overdue")

    @property
    def appointment_on(self) -> dt.date | None:
        """The booked appointment's day, if the item is booked."""
        return self.booking.appointment_on if self.booking is not None else None

    @property
    def appointment_place(self) -> str | None:
        return self.booking.place if self.booking is not None else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "kind": self.kind,
            "due_on": self.due_on.isoformat(),
            "window_days": self.window_days,
            "status": self.status,
            "rule": self.rule,
            "rationale": self.rationale,
            "citation": self.citation,
            "completed_on": self.completed_on.isoformat() if self.completed_on else None,
            "completed_by": self.completed_by,
            "cancelled_on": self.cancelled_on.isoformat() if self.cancelled_on else None,
        }
        if self.is_open:
            out["overdue_since"] = self.overdue_since.isoformat() if self.overdue_since else None
            out["missed"] = self.missed
            out["last_done_on"] = self.last_done_on.isoformat() if self.last_done_on else None
            if self.booking is not None:
                out["booking"] = self.booking.to_json()
            if self.snoozed_until is not None:
                out["snoozed_until"] = self.snoozed_until.isoformat()
        if self.waiver is not None:
            out["waiver"] = self.waiver.to_json()
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    patient_id: str
    as_of: dt.date
    risk: RiskAssessment
    stage: Stage
    therapy: Therapy | None
    alerts: tuple[Alert, ...]
    reminders: tuple[Reminder, ...]
    profile: str = "esmo2022-seed"
    # The first day after ``as_of`` on which the plan's content (all but the statuses planned, due
    # and overdue, which only the date moves) can change with no new event; None: only an event can
    # change it. Not part of the contract's plan object: the service schedules recomputes by it.
    changes_on: dt.date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "as_of": self.as_of.isoformat(),
            "profile": self.profile,
            "risk": self.risk.to_json(),
            "stage": self.stage,
            "therapy": self.therapy.to_json() if self.therapy else None,
            "alerts": [a.to_json() for a in self.alerts],
            "reminders": [r.to_json() for r in self.reminders],
        }


def _num(x: float) -> float | int:
    """Render whole numbers as JSON integers (400, not 400.0)."""
    return int(x) if float(x).is_integer() else x
