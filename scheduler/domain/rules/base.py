"""The shapes of a rule declaration: what a clinical lead reads to check a rule.

A **reminder rule** (``SeriesRule``) names, in this order: its id and the reminder kinds it makes;
its *triggers* (the events that can change what it wants); its *condition* (a function of the case
and the day evaluated, returning the series it wants: kind, anchor — none for "since the condition
began to hold" — and detail); its *schedule* (from the profile); its *end*
(one-offs: what ends an open item; held series end when the condition stops holding); its
*message* (a template rendered with the profile's values); its *citation*.

An **alert rule** (``AlertRule``) names its id and code, its condition at ``as_of`` (returning a
``Finding``: severity, message variant, facts), its message templates and its citation; a
condition with a time threshold also names the next day its finding can change (``changes_on``).

The engine (``scheduler/domain/engine.py``) evaluates a reminder rule on the days one of its
triggers happens, and alerts once, at ``as_of``; no rule decides when it is looked at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler.domain.case import Case
from scheduler.domain.events import EVENT_TYPES, Event
from scheduler.domain.model import Severity
from scheduler.domain.profile import Profile, Schedule
from scheduler.domain.series import Fulfils, Series

# ---- citations (clinical-rules.md §13) ------------------------------------------------------------

ESMO = "Casali PG et al., ESMO–EURACAN–GENTURIS GIST guideline, Ann Oncol 2022;33:20"
NCCN = "NCCN Guidelines: Soft Tissue Sarcoma / GIST"
SEED_SUMMARY = "Seed guideline summary 'Treatment for Gastrointestinal Stromal Tumor (GIST)' (2025)"
SEED = SEED_SUMMARY + "; no primary source found for this schedule"
FOLLOW_UP = "Joensuu H et al., Eur J Cancer 2015 (follow-up after GIST surgery); " + ESMO
OSLO = "Nishida T et al., Ann Surg Oncol 2019 (Oslo rupture criteria)"
SSG_XVIII = "Joensuu H et al., JAMA 2012 (SSG XVIII: 3 vs 1 year adjuvant imatinib)"
BFR14 = "Blay JY et al., J Clin Oncol 2007 (BFR14: interruption of imatinib)"
GLEEVEC = "Gleevec (imatinib) US prescribing information"
SUTENT = "Sutent (sunitinib) US prescribing information"
STIVARGA = "Stivarga (regorafenib) US prescribing information, boxed warning and §5.1 hepatotoxicity"
QINLOCK = "Qinlock (ripretinib) US prescribing information"
AYVAKIT = "Ayvakit (avapritinib) US prescribing information"
DEMETRI_2006 = "Demetri GD et al., Lancet 2006 (sunitinib after imatinib failure)"
GRID = "Demetri GD et al., Lancet 2013 (GRID)"
INVICTUS = "Blay JY et al., Lancet Oncol 2020 (INVICTUS)"
ZALCBERG_2021 = "Zalcberg JR et al., Oncologist 2021 (INVICTUS intra-patient dose escalation)"
JOENSUU_2008 = "Joensuu H, Hum Pathol 2008;39:1411"
MIETTINEN_2006 = "Miettinen M, Lasota J, Semin Diagn Pathol 2006;23:70"


def cite(*sources: str) -> str:
    return "; ".join(sources)


# ---- triggers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trigger:
    """An event type, optionally narrowed to events whose data field ``field`` is one of ``values``."""

    event_type: str
    field: str | None = None
    values: frozenset[Any] = frozenset()

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type in a trigger: {self.event_type}")

    def matches(self, event: Event) -> bool:
        if event.type != self.event_type:
            return False
        return self.field is None or getattr(event.data, self.field) in self.values


def on(*event_types: str) -> tuple[Trigger, ...]:
    return tuple(Trigger(t) for t in event_types)


def on_field(event_type: str, field_name: str, *values: Any) -> Trigger:
    return Trigger(event_type, field_name, frozenset(values))


# Trigger groups, named by the facts they change (a rule lists every group its condition reads):
# what makes the disease advanced (§1 "Advanced since")
ADVANCED_ONSET = (
    on_field("diagnosis", "metastatic", True),
    *on("metastasis", "progression"),
    on_field("resection", "margin", "R2"),
    on_field("therapy_started", "setting", "advanced"),
)
# what the tumour is and whether tissue confirmed it (size, site, biopsy, pathology)
TUMOUR_FACTS = on("diagnosis", "biopsy", "metastasis", "resection", "pathology")
# resection, its pathology (the risk tier) and rupture
RESECTION_FACTS = on("resection", "pathology", "rupture")
# courses starting and stopping (a dose change changes no reminder rule's condition)
STARTS_AND_STOPS = on("therapy_started", "therapy_stopped")


def starts_and_stops_of(drug: str) -> tuple[Trigger, ...]:
    """A course of ``drug`` starting or stopping."""
    return (on_field("therapy_started", "drug", drug), on_field("therapy_stopped", "drug", drug))


PROGRESSIVE_SCAN = on_field("imaging", "result", "progression", "growth", "new_lesion")

# ---- reminder rules -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opening:
    """A series a rule's condition wants: its kind, anchor and the detail added to its message.
    ``anchor`` None means "the first day of the condition's current run" (an episode)."""

    kind: str
    anchor: dt.date | None
    detail: str
    dose_on: Callable[[dt.date], float] | None = None  # cycle schedules follow the course's dose
    fulfils: Fulfils | None = None  # which events fulfil its items (None: any result of the kind)
    counted_from: dt.date | None = None  # a one-off's due date counts from here, not the anchor


Condition = Callable[[Case, Profile, dt.date], Iterable[Opening]]
ScheduleOf = Callable[[Profile, Opening], Schedule]
EndTest = Callable[[Case, Profile, Series], bool]


def never(case: Case, profile: Profile, series: Series) -> bool:
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesRule:
    id: str
    kinds: tuple[str, ...]
    triggers: tuple[Trigger, ...]
    condition: Condition
    schedule: ScheduleOf
    ends: EndTest = never
    message: str
    citation: str
    # a review that another open mdt_review item due no later covers (clinical-rules v4 readings)
    covered_by_open_review: bool = False
    # (rule id, kind) of a series whose items this one replaces while it is open
    replaces: tuple[str, str] | None = None

    def rationale(self, profile: Profile, detail: str) -> str:
        text = render(self.message, profile)
        return f"{text} ({detail})" if detail else text


# ---- alert rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """What an alert rule found at ``as_of``: its severity, which message, the facts it names."""

    severity: Severity
    variant: str = "default"
    facts: Mapping[str, Any] = field(default_factory=dict)
    citation: str | None = None  # per recommendation, where the rule's sources differ by option


AlertCondition = Callable[[Case, Profile, dt.date], Finding | None]
ChangeDay = Callable[[Case, Profile, dt.date], dt.date | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    id: str
    code: str
    rationale: str  # one line: why the rule exists
    condition: AlertCondition
    messages: Mapping[str, str]
    citation: str
    # a condition that reads ``as_of`` (a time threshold) names the first day after ``as_of`` on
    # which its finding can change with no new event
    changes_on: ChangeDay | None = None

    def message(self, finding: Finding, profile: Profile) -> str:
        return render(self.messages[finding.variant], profile, finding.facts)


# ---- messages -------------------------------------------------------------------------------------


class _Values(dict[str, Any]):
    """Facts first, then the profile's fields, for ``str.format_map``."""

    def __init__(self, profile: Profile, facts: Mapping[str, Any]) -> None:
        super().__init__(facts)
        self.profile = profile

    def __missing__(self, name: str) -> Any:
        return getattr(self.profile, name)


def render(template: str, profile: Profile, facts: Mapping[str, Any] | None = None) -> str:
    """``template`` with ``{name}`` replaced by a fact or a profile value (``{x:g}`` formats)."""
    return template.format_map(_Values(profile, facts or {}))
