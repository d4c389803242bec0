"""Rule profiles: every interval, window and threshold a clinical lead may want to change.

The rule *logic* lives in code (scheduler/domain/reminders.py, alerts.py); the numbers it uses live
here, so a site can publish its own profile (e.g. ``Profile.from_mapping`` of a reviewed JSON file,
loaded by the shell) without touching code. Every stored assessment records ``profile.name``.
The default, ``esmo2022-seed``, encodes clinical-rules.md exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Step:
    """One chained interval: due ``months`` after its base. The window runs to ``window_to_months``
    after the base (an "a–b months" interval), or for ``window_months`` after the due date
    ("every 3 months (window 3 months)"), or else ``window_days`` (a single interval: 14 days)."""

    months: int
    window_to_months: int | None = None
    window_days: int = 14
    window_months: int | None = None


@dataclass(frozen=True, slots=True)
class Phase:
    """A step in force while the base date lies in [anchor + start_months, anchor + end_months)."""

    start_months: int
    end_months: int | None
    step: Step


@dataclass(frozen=True, slots=True)
class ChainedSchedule:
    """A chained series: phases relative to the anchor, an optional fixed end, an optional
    special first step (small-gastric EUS: 3 months, then 6–12) and an optional day-0 item."""

    phases: tuple[Phase, ...]
    end_months: int | None = None
    first_step: Step | None = None
    starts_on_day_zero: bool = False

    def __post_init__(self) -> None:
        # phases in order and not overlapping: a chained series reuses the phase of its last
        # step while it holds the next base (series.Chained._following)
        for earlier, later in zip(self.phases, self.phases[1:], strict=False):
            if earlier.end_months is None or earlier.end_months > later.start_months:
                raise ValueError(f"ChainedSchedule phases overlap or are out of order: {self.phases}")


@dataclass(frozen=True, slots=True)
class FixedSchedule:
    """A fixed series: items on ``days`` after the start, then every ``then_every_months`` months
    or ``then_every_days`` days counted from the last listed day (or from day 0 when ``days`` is empty)."""

    days: tuple[int, ...]
    then_every_months: int | None = None
    then_every_days: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str = "esmo2022-seed"
    horizon_months: int = 12
    oneoff_due_days: int = 14
    oneoff_window_days: int = 14
    rupture_review_due_days: int = 7
    short_lab_window_days: int = 3  # weekly and two-weekly labs
    long_window_days: int = 7  # every other monitoring item
    short_lab_max_gap_days: int = 14
    small_tumour_cm: float = 2.0  # management threshold "< 2 cm" (not the ≤ 2.0 risk band)
    surveillance: Mapping[str, ChainedSchedule] = field(default_factory=lambda: dict(_SURVEILLANCE))
    small_gastric_eus: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(6, window_to_months=12)),),
        first_step=Step(3, window_days=14),
    )
    advanced_imaging: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(3, window_months=3)),),
    )
    monitoring: Mapping[str, Mapping[str, FixedSchedule]] = field(
        default_factory=lambda: {k: dict(v) for k, v in _MONITORING.items()}
    )
    ripretinib_skin: ChainedSchedule = ChainedSchedule(
        phases=(Phase(0, None, Step(3, window_days=7)),), starts_on_day_zero=True
    )
    sunitinib_cycle_days: int = 42  # 4 weeks on / 2 off
    sunitinib_continuous_cycle_days: int = 28
    sunitinib_continuous_max_dose_mg: float = 37.5
    weekly_liver_days: int = 7
    regorafenib_liver_weekly_above_uln: float = 3.0
    regorafenib_liver_interrupt_above_uln: float = 5.0
    regorafenib_liver_discontinue_above_uln: float = 20.0
    regorafenib_bilirubin_with_3x_above_uln: float = 2.0
    imatinib_bilirubin_withhold_above_uln: float = 3.0
    imatinib_transaminase_withhold_above_uln: float = 5.0
    adjuvant_years: int = 3
    rupture_critical_after_days: int = 42  # 6 weeks
    line_continuation_days: int = 30
    kit_exon9_dose_mg: float = 800.0
    cytoreduction_from_months: int = 6
    cytoreduction_until_months: int = 24
    resume_review_due_days: int = 14
    # Notices (scheduler/domain/notices.py): how many days before the due date people are told.
    notice_lead_days_imaging: int = 14
    notice_lead_days_blood: int = 2
    notice_lead_days_review: int = 7
    resume_critical_after_days: int = 28
    resume_lookback_days: int = 30

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

_MONITORING: dict[str, dict[str, FixedSchedule]] = {
    # clinical-rules §8; sunitinib's cycle-based labs are computed from the dose (see reminders.py)
    "imatinib": {
        "lab_cbc": FixedSchedule(days=(7, 14, 21, 28, 42, 56), then_every_months=3),
        "lab_lft": FixedSchedule(days=(0,), then_every_months=1),
    },
    "sunitinib": {
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
