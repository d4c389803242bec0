"""Rule profiles: every interval, window and threshold the clinical rules use.

The rules (``scheduler/domain/rules/``) name what they need from here, and their messages are
rendered from these same values, so a site can publish its own profile without touching code: the
shell loads a reviewed JSON file of scalar overrides (``Profile.with_overrides``) and records the
profile's name and content hash with every stored plan. The default, ``esmo2022-seed``, encodes
clinical-rules.md v4.

Schedules are values too: a ``OneOffSchedule`` (a single item), a ``ChainedSchedule`` (each next
item one interval after the previous one was done) or a ``FixedSchedule``/``CycleSchedule`` (items
on fixed days from the series start).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler.domain.dates import add_days, add_months


@dataclass(frozen=True, slots=True)
class OneOffSchedule:
    """A single item due ``due_months`` + ``due_days`` after its anchor. Its window is
    ``window_days``, or runs to ``window_months`` after the due date when that is given."""

    due_days: int = 14
    due_months: int = 0
    window_days: int = 14
    window_months: int | None = None

    def due(self, anchor: dt.date) -> dt.date:
        return add_days(add_months(anchor, self.due_months), self.due_days)

    def window(self, due: dt.date) -> int:
        if self.window_months is not None:
            return (add_months(due, self.window_months) - due).days
        return self.window_days


@dataclass(frozen=True, slots=True)
class Step:
    """One chained interval: due ``months`` after its base. The window runs to ``window_to_months``
    after the base (an "a–b months" interval), or for ``window_months`` after the due date
    ("every 3 months (window 3 months)"), or else ``window_days`` (a single interval: 14 days)."""

    months: int
    window_to_months: int | None = None
    window_days: int = 14
    window_months: int | None = None

    def window(self, base: dt.date, due: dt.date) -> int:
        if self.window_to_months is not None:
            return (add_months(base, self.window_to_months) - due).days
        if self.window_months is not None:
            return (add_months(due, self.window_months) - due).days
        return self.window_days


@dataclass(frozen=True, slots=True)
class Phase:
    """A step in force while the base date lies in [anchor + start_months, anchor + end_months)."""

    start_months: int
    end_months: int | None
    step: Step


@dataclass(frozen=True, slots=True)
class ChainedSchedule:
    """A chained series: phases relative to the anchor (in order, not overlapping), an optional
    fixed end, an optional special first step (small-gastric EUS: 3 months, then 6–12) and an
    optional day-0 item."""

    phases: tuple[Phase, ...]
    end_months: int | None = None
    first_step: Step | None = None
    starts_on_day_zero: bool = False

    def __post_init__(self) -> None:
        for earlier, later in zip(self.phases, self.phases[1:], strict=False):
            if earlier.end_months is None or earlier.end_months > later.start_months:
                raise ValueError(f"ChainedSchedule phases overlap or are out of order: {self.phases}")


@dataclass(frozen=True, slots=True)
class FixedSchedule:
    """Items on ``days`` after the start, then every ``then_every_months`` months or
    ``then_every_days`` days counted from the last listed day (or from day 0 when ``days`` is empty)."""

    days: tuple[int, ...]
    then_every_months: int | None = None
    then_every_days: int | None = None

    def dues(self, start: dt.date, dose_on: Any = None) -> Iterator[dt.date]:
        listed = [add_days(start, offset) for offset in self.days]
        yield from listed
        base = listed[-1] if listed else start
        if self.then_every_months is not None:
            n = 1
            while True:  # each counted from the base, so month-end clamping never drifts
                yield add_months(base, self.then_every_months * n)
                n += 1
        elif self.then_every_days is not None:
            due = base
            while True:
                due = add_days(due, self.then_every_days)
                yield due


@dataclass(frozen=True, slots=True)
class CycleSchedule:
    """An item at the start of each treatment cycle: ``cycle_days`` long, or ``continuous_cycle_days``
    when the dose on the cycle's first day is at most ``continuous_max_dose_mg`` (sunitinib 4/2
    dosing against 37.5 mg continuous dosing)."""

    cycle_days: int
    continuous_cycle_days: int
    continuous_max_dose_mg: float

    def dues(self, start: dt.date, dose_on: Any = None) -> Iterator[dt.date]:
        due = start
        while True:
            yield due
            continuous = dose_on is not None and dose_on(due) <= self.continuous_max_dose_mg
            due = add_days(due, self.continuous_cycle_days if continuous else self.cycle_days)


Schedule = OneOffSchedule | ChainedSchedule | FixedSchedule | CycleSchedule


@dataclass(frozen=True, slots=True)
class Profile:
    name: str = "esmo2022-seed"
    horizon_months: int = 12
    # one-offs (§4): due 14 days after their trigger, with a 14-day window, unless stated otherwise
    oneoff_due_days: int = 14
    oneoff_window_days: int = 14
    rupture_review_due_days: int = 7
    small_tumour_cm: float = 2.0  # management threshold "< 2 cm" (not the ≤ 2.0 risk band)
    # monitoring windows (§8)
    short_lab_window_days: int = 3  # weekly and two-weekly labs
    long_window_days: int = 7  # every other monitoring item
    short_lab_max_gap_days: int = 14
    # imaging schedules (§4, §5a, §6, §7)
    surveillance: Mapping[str, ChainedSchedule] = field(default_factory=lambda: dict(_SURVEILLANCE))
    small_gastric_eus: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(6, window_to_months=12)),),
        first_step=Step(3, window_days=14),
    )
    neoadjuvant_response_ct: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(3, window_days=14)),),
    )
    neoadjuvant_surgery_review_months: int = 6
    neoadjuvant_surgery_review_window_months: int = 3
    advanced_imaging: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(3, window_months=3)),),
    )
    # drug monitoring (§8): per drug, per reminder kind
    monitoring: Mapping[str, Mapping[str, FixedSchedule | CycleSchedule]] = field(
        default_factory=lambda: {drug: dict(kinds) for drug, kinds in _MONITORING.items()}
    )
    ripretinib_skin: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(3, window_days=7)),), starts_on_day_zero=True
    )
    liver_weekly: FixedSchedule = FixedSchedule(days=(7,), then_every_days=7)
    # hepatotoxicity thresholds, as multiples of the upper limit of normal (§8)
    regorafenib_liver_weekly_above_uln: float = 3.0
    regorafenib_liver_interrupt_above_uln: float = 5.0
    regorafenib_liver_discontinue_above_uln: float = 20.0
    regorafenib_bilirubin_with_3x_above_uln: float = 2.0
    imatinib_bilirubin_withhold_above_uln: float = 3.0
    imatinib_transaminase_withhold_above_uln: float = 5.0
    imatinib_bilirubin_recovered_below_uln: float = 1.5
    imatinib_transaminase_recovered_below_uln: float = 2.5
    # adjuvant therapy (§5)
    adjuvant_years: int = 3
    adjuvant_dose_mg: float = 400.0
    rupture_critical_after_days: int = 42  # 6 weeks
    kit_exon9_dose_mg: float = 800.0
    # advanced disease (§7)
    line_continuation_days: int = 30
    first_line_dose_mg: float = 400.0
    avapritinib_dose_mg: float = 300.0
    ripretinib_escalate_from_dose_mg: float = 150.0  # at or below: 150 mg twice daily is the next step
    cytoreduction_from_months: int = 6
    cytoreduction_until_months: int = 24
    resume_review_due_days: int = 14
    resume_critical_after_days: int = 28
    resume_lookback_days: int = 30
    # notices (scheduler/domain/notices.py): how many days before the due date people are told
    notice_lead_days_imaging: int = 14
    notice_lead_days_blood: int = 2
    notice_lead_days_review: int = 7

    # ---- one-off schedules, built from the scalar values above --------------------------------

    @property
    def oneoff(self) -> OneOffSchedule:
        return OneOffSchedule(self.oneoff_due_days, 0, self.oneoff_window_days)

    def oneoff_after_days(self, days: int) -> OneOffSchedule:
        return OneOffSchedule(days, 0, self.oneoff_window_days)

    def oneoff_after_months(self, months: int) -> OneOffSchedule:
        return OneOffSchedule(0, months, self.oneoff_window_days)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        """A copy with scalar fields replaced (the shell loads ``overrides`` from a reviewed file).

        Every value is checked against its field's type and a sane range, so a typo in a site's
        profile is refused with the field's name instead of producing a wrong schedule.
        """
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = set(overrides) - set(fields)
        if unknown:
            raise ValueError(f"unknown profile field(s): {', '.join(sorted(unknown))}")
        for name, value in overrides.items():
            _check_override(name, getattr(self, name), value)
        return dataclasses.replace(self, **dict(overrides))


_INT_LIMITS: dict[str, tuple[int, int]] = {"horizon_months": (1, 120)}
_DEFAULT_INT_LIMITS = (0, 3650)  # days, months and years of a follow-up schedule


def _check_override(name: str, current: object, value: object) -> None:
    """Only scalar fields may be overridden from a file; schedules change in code, with review."""
    if isinstance(current, bool) or not isinstance(current, str | int | float):
        raise ValueError(f"{name}: schedules cannot be overridden from a profile file (change them in code)")
    if isinstance(current, str):
        if not isinstance(value, str) or not 1 <= len(value) <= 64:
            raise ValueError(f"{name}: must be a text of 1–64 characters (got {value!r})")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a number (got {value!r})")
    if isinstance(current, int):
        low, high = _INT_LIMITS.get(name, _DEFAULT_INT_LIMITS)
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name}: must be a whole number from {low} to {high} (got {value!r})")
    elif not 0 < value <= 10_000:
        raise ValueError(f"{name}: must be a number greater than 0 and at most 10000 (got {value!r})")


_SURVEILLANCE: dict[str, ChainedSchedule] = {
    # clinical-rules §6; months relative to the series anchor; phases are half-open
    "low": ChainedSchedule(phases=(Phase(0, 60, Step(6, window_to_months=12)),), end_months=60),
    "intermediate": ChainedSchedule(
        phases=(Phase(0, 60, Step(3, window_to_months=6)), Phase(60, 120, Step(12))),
        end_months=120,
    ),
    "awaiting_pathology": ChainedSchedule(phases=(Phase(0, None, Step(3)),)),
    "high": ChainedSchedule(
        phases=(Phase(0, 24, Step(3)), Phase(24, 60, Step(6)), Phase(60, 120, Step(12))),
        end_months=120,
    ),
    "high_adjuvant": ChainedSchedule(phases=(Phase(0, None, Step(3, window_to_months=6)),)),
    "ruptured": ChainedSchedule(
        phases=(
            Phase(0, 36, Step(3, window_to_months=4)),
            Phase(36, 60, Step(6)),
            Phase(60, 120, Step(12)),
        ),
        end_months=120,
    ),
}

_MONITORING: dict[str, dict[str, FixedSchedule | CycleSchedule]] = {
    # clinical-rules §8, from the course start (day 0)
    "imatinib": {
        "lab_cbc": FixedSchedule(days=(7, 14, 21, 28, 42, 56), then_every_months=3),
        "lab_lft": FixedSchedule(days=(0,), then_every_months=1),
    },
    "sunitinib": {
        "lab_lft": CycleSchedule(cycle_days=42, continuous_cycle_days=28, continuous_max_dose_mg=37.5),
        "lab_cbc": CycleSchedule(cycle_days=42, continuous_cycle_days=28, continuous_max_dose_mg=37.5),
        "lab_tsh": FixedSchedule(days=(0,), then_every_months=3),
        "echo": FixedSchedule(days=(0,)),
    },
    "regorafenib": {
        "lab_lft": FixedSchedule(days=(0, 14, 28, 42, 56), then_every_days=28),
        "clinic_visit": FixedSchedule(days=(0,), then_every_days=28),
    },
    "ripretinib": {
        "echo": FixedSchedule(days=(0,)),
    },
    "avapritinib": {
        "clinic_visit": FixedSchedule(days=(28, 56, 84), then_every_months=3),
    },
}

DEFAULT_PROFILE = Profile()
