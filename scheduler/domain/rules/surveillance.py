"""Surveillance imaging after resection (clinical-rules §6): one rule per row of the table.

Imaging is a ``ct`` reminder (an MRI fulfils it too). Exactly one row applies to a resected patient
whose disease is not advanced; the profile's ``surveillance`` table gives each row's schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import NamedTuple

from scheduler.domain.case import Case
from scheduler.domain.profile import Profile
from scheduler.domain.rules.base import (
    ADVANCED_ONSET,
    FOLLOW_UP,
    RESECTION_FACTS,
    SEED,
    STARTS_AND_STOPS,
    TUMOUR_FACTS,
    AlertRule,
    Finding,
    Opening,
    SeriesRule,
    cite,
)


class Row(NamedTuple):
    name: str  # the row of the surveillance table (the rule id's suffix)
    anchor: dt.date
    detail: str


def surveillance_row(case: Case) -> Row | None:
    """Which row of §6 applies: rupture first, then pathology awaited, then the NIH tier."""
    return case.remember("surveillance row", lambda: _row(case))


def _row(case: Case) -> Row | None:
    resection = case.resection_on
    if resection is None or case.is_advanced:
        return None
    if case.is_ruptured:
        return Row("ruptured", resection, "ruptured GIST, resected")
    if case.pathology is None:
        return Row("awaiting_pathology", resection, "resected, pathology awaited")
    tier = case.risk().nih_modified
    if tier in (None, "very_low"):
        return None
    if tier != "high":
        return Row(tier, resection, f"{tier} risk, resected")
    adjuvant = case.running_adjuvant()
    if adjuvant is not None and adjuvant.adjuvant_from is not None:
        return Row(
            "high_adjuvant", max(adjuvant.adjuvant_from, resection), f"high risk on adjuvant {adjuvant.drug}"
        )
    stops = [c.stop for c in case.courses if c.is_adjuvant and c.stop is not None and c.stop >= resection]
    if stops:
        return Row("high", max(stops), "high risk, adjuvant therapy stopped")
    return Row("high", resection, "high risk, resected")


def _row_rule(name: str, message: str, citation: str = FOLLOW_UP) -> SeriesRule:
    def condition(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
        row = surveillance_row(case)
        if row is not None and row.name == name:
            yield Opening("ct", row.anchor, row.detail)

    return SeriesRule(
        id=f"surveillance.{name}",
        kinds=("ct",),
        # the row reads the risk tier, which reads the diagnosis (site; size before a neoadjuvant
        # course), the biopsy count and the neoadjuvant course besides the specimen
        triggers=(*TUMOUR_FACTS, *RESECTION_FACTS, *ADVANCED_ONSET, *STARTS_AND_STOPS),
        condition=condition,
        schedule=lambda p, o: p.surveillance[name],
        message=message,
        citation=citation,
    )


LOW = _row_rule("low", "Low risk: CT every 6–12 months for 5 years.")
INTERMEDIATE = _row_rule(
    "intermediate", "Intermediate risk: CT every 3–6 months for 5 years, then yearly to 10 years."
)
AWAITING_PATHOLOGY = _row_rule(
    "awaiting_pathology",
    "Resected but the pathology report is not in: CT every 3 months until risk is known.",
)
HIGH = _row_rule(
    "high",
    "High risk off adjuvant therapy: CT every 3 months for 2 years, every 6 months to 5 years, then "
    "yearly to 10 years.",
)
HIGH_ADJUVANT = _row_rule("high_adjuvant", "High risk on adjuvant imatinib: CT every 3–6 months.")
RUPTURED = _row_rule(
    "ruptured",
    "Ruptured GIST: CT every 3–4 months for 3 years, every 6 months to 5 years, then yearly to 10 years.",
    citation=SEED,
)


def _very_low(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if case.is_resected and not case.is_advanced and case.risk().nih_modified == "very_low":
        return Finding("info")
    return None


VERY_LOW_ALERT = AlertRule(
    id="surveillance.very_low",
    code="no_routine_imaging",
    rationale="Very low risk: routine follow-up imaging is not needed.",
    condition=_very_low,
    messages={"default": "Very low risk: routine follow-up imaging is not recommended."},
    citation=cite(FOLLOW_UP),
)

SERIES_RULES = (LOW, INTERMEDIATE, AWAITING_PATHOLOGY, HIGH, HIGH_ADJUVANT, RUPTURED)
ALERT_RULES = (VERY_LOW_ALERT,)
