"""Neoadjuvant and adjuvant therapy rules (clinical-rules §5, §5a).

Adjuvant rules apply only while the tumour is resected and the disease not advanced (advanced
disease closes the adjuvant reviews); ``kit_exon9`` applies to imatinib in any setting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from scheduler.domain import events as ev
from scheduler.domain.case import Case, Course
from scheduler.domain.dates import add_days, add_years
from scheduler.domain.profile import OneOffSchedule, Profile
from scheduler.domain.rules.base import (
    ADVANCED_ONSET,
    ESMO,
    OSLO,
    RESECTION_FACTS,
    SEED,
    SSG_XVIII,
    STARTS_AND_STOPS,
    AlertRule,
    Finding,
    Opening,
    SeriesRule,
    cite,
    on,
    starts_and_stops_of,
)
from scheduler.domain.series import Series

# ---- §5a neoadjuvant ------------------------------------------------------------------------------


def _neoadjuvant_running(case: Case) -> Course | None:
    """A neoadjuvant course running, not resected since its start, the disease not advanced."""
    return case.running_neoadjuvant() if not case.is_advanced else None


def _response_ct(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    course = _neoadjuvant_running(case)
    if course is not None:
        yield Opening("ct", course.start, f"neoadjuvant {course.drug} started {course.start.isoformat()}")


NEOADJUVANT_RESPONSE = SeriesRule(
    id="neoadjuvant.response",
    kinds=("ct",),
    triggers=(*STARTS_AND_STOPS, *ADVANCED_ONSET, *on("resection")),
    condition=_response_ct,
    schedule=lambda p, o: p.neoadjuvant_response_ct,
    message="Neoadjuvant therapy: CT every 3 months to assess response early (a tumour not "
    "responding must not delay surgery).",
    citation=ESMO,
)


def _surgery_timing(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    course = _neoadjuvant_running(case)
    if course is not None:
        yield Opening(
            "mdt_review", course.start, f"neoadjuvant {course.drug} started {course.start.isoformat()}"
        )


def _resected_or_advanced_since_anchor(case: Case, p: Profile, series: Series) -> bool:
    resection = case.resection_on
    return case.is_advanced or (resection is not None and resection >= series.anchor)


NEOADJUVANT_SURGERY_TIMING = SeriesRule(
    id="neoadjuvant.surgery_timing",
    kinds=("mdt_review",),
    triggers=(*STARTS_AND_STOPS, *ADVANCED_ONSET, *on("resection")),
    condition=_surgery_timing,
    schedule=lambda p, o: OneOffSchedule(
        due_days=0,
        due_months=p.neoadjuvant_surgery_review_months,
        window_months=p.neoadjuvant_surgery_review_window_months,
    ),
    ends=_resected_or_advanced_since_anchor,
    message="Neoadjuvant imatinib: surgery usually follows {neoadjuvant_surgery_review_months}–12 months "
    "of treatment, at maximal response; the MDT times it.",
    citation=ESMO,
)

# ---- adjuvant.duration ----------------------------------------------------------------------------


def _adjuvant_imatinib(case: Case) -> Course | None:
    if not case.is_resected or case.is_advanced:
        return None
    return next((c for c in case.courses if c.drug == "imatinib" and c.is_adjuvant and c.is_running), None)


def _fulfils_imatinib_review(event: ev.Event) -> bool:
    data = event.data
    if isinstance(data, ev.MdtReviewData):
        return True
    return isinstance(data, ev.TherapyStartedData | ev.TherapyStoppedData | ev.DoseChangedData) and (
        data.drug == "imatinib"
    )


def _duration_review(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    course = _adjuvant_imatinib(case)
    if course is not None:
        detail = f"adjuvant imatinib started {course.start.isoformat()}"
        if case.is_ruptured:
            detail += "; after rupture: discuss continuing"
        yield Opening("therapy_review", course.start, detail, fulfils=_fulfils_imatinib_review)


def _course_stopped_or_advanced(case: Case, p: Profile, series: Series) -> bool:
    running = any(c.drug == "imatinib" and c.start == series.anchor and c.is_running for c in case.courses)
    return case.is_advanced or not running


DURATION = SeriesRule(
    id="adjuvant.duration",
    kinds=("therapy_review",),
    triggers=(*starts_and_stops_of("imatinib"), *ADVANCED_ONSET, *RESECTION_FACTS),
    condition=_duration_review,
    schedule=lambda p, o: p.oneoff_after_months(12 * p.adjuvant_years),
    ends=_course_stopped_or_advanced,
    message="Adjuvant imatinib is given for {adjuvant_years} years; review then whether to stop (after "
    "rupture, whether to continue).",
    citation=cite(SSG_XVIII, ESMO),
)


def _stopped_early(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if not case.is_resected or case.is_advanced or case.running_adjuvant() is not None:
        return None
    stopped = [c for c in case.courses if c.drug == "imatinib" and c.is_adjuvant and c.stop is not None]
    if not stopped:
        return None
    last = max(stopped, key=lambda c: c.stop or c.start)
    assert last.stop is not None
    if last.stop_reason == "completed" or last.stop >= add_years(last.start, p.adjuvant_years):
        return None
    return Finding("warning", facts={"stop": last.stop.isoformat(), "reason": last.stop_reason})


STOPPED_EARLY_ALERT = AlertRule(
    id="adjuvant.duration",
    code="adjuvant_stopped_early",
    rationale="Adjuvant imatinib is given for 3 years.",
    condition=_stopped_early,
    messages={
        "default": "Adjuvant imatinib stopped on {stop} ({reason}) before {adjuvant_years} years: 3 years "
        "improve overall survival over 1 year; discuss resuming.",
    },
    citation=cite(SSG_XVIII, ESMO),
)

# ---- adjuvant.indicated, adjuvant.rupture, adjuvant.intermediate ---------------------------------


def _resected_not_advanced(case: Case) -> bool:
    return case.is_resected and not case.is_advanced


def _ever_adjuvant_imatinib(case: Case) -> bool:
    return any(c.drug == "imatinib" and c.is_adjuvant for c in case.courses)


def rupture_alert_raised(case: Case) -> bool:
    """adjuvant.rupture: ruptured and resected, no imatinib running, none stopped ``completed``."""
    imatinib = [c for c in case.courses if c.drug == "imatinib"]
    return (
        _resected_not_advanced(case)
        and case.is_ruptured
        and not any(c.is_running for c in imatinib)
        and not any(c.stop_reason == "completed" for c in imatinib)
    )


def _indicated(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if not _resected_not_advanced(case) or case.risk().nih_modified != "high":
        return None
    if _ever_adjuvant_imatinib(case) or case.is_unlikely_to_benefit_from_imatinib():
        return None
    if rupture_alert_raised(case):
        return None  # the rupture alert says it (one alert, not two)
    dose = p.kit_exon9_dose_mg if case.has_kit_exon9() else p.adjuvant_dose_mg
    return Finding("warning", facts={"dose": f"{dose:g}"})


INDICATED_ALERT = AlertRule(
    id="adjuvant.indicated",
    code="adjuvant_indicated",
    rationale="High-risk resected GIST: 3 years of adjuvant imatinib 400 mg/day.",
    condition=_indicated,
    messages={
        "default": "High-risk resected GIST with no adjuvant imatinib: recommend {adjuvant_years} years of "
        "imatinib {dose} mg/day.",
    },
    citation=cite(SSG_XVIII, ESMO),
)


def _unlikely_to_benefit(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    """High risk with an imatinib-insensitive genotype (info); with PDGFRA D842V and neoadjuvant or
    adjuvant imatinib running, a warning: it gives no benefit here."""
    if case.is_advanced:
        return None
    imatinib = case.running_course("imatinib")
    if case.has_pdgfra_d842v() and imatinib is not None and imatinib.setting in ("neoadjuvant", "adjuvant"):
        return Finding("warning", "d842v_running", {"setting": imatinib.setting})
    if (
        case.is_resected
        and case.risk().nih_modified == "high"
        and not _ever_adjuvant_imatinib(case)
        and case.is_unlikely_to_benefit_from_imatinib()
    ):
        return Finding("info")
    return None


UNLIKELY_TO_BENEFIT_ALERT = AlertRule(
    id="adjuvant.indicated",
    code="adjuvant_unlikely_to_benefit",
    rationale="PDGFRA D842V, SDH-deficient, NF1-related and wild-type GIST do not benefit from imatinib.",
    condition=_unlikely_to_benefit,
    messages={
        "default": "High risk, but the genotype (PDGFRA D842V, SDH, NF1 or wild-type) is unlikely to "
        "benefit from adjuvant imatinib: discuss at the MDT.",
        "d842v_running": "PDGFRA D842V on {setting} imatinib: imatinib gives no benefit against this "
        "mutation; discuss stopping it at the MDT (avapritinib has no adjuvant role).",
    },
    citation=ESMO,
)


def _rupture_critical_on(case: Case, p: Profile) -> tuple[dt.date, dt.date] | None:
    """(since, the day the alert becomes critical) while the rupture alert is raised."""
    if not rupture_alert_raised(case):
        return None
    resection = case.resection_on
    assert resection is not None
    since = max(resection, case.ruptures[-1])
    return since, add_days(since, p.rupture_critical_after_days)


def _rupture(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    raised = _rupture_critical_on(case, p)
    if raised is None:
        return None
    since, critical_on = raised
    if as_of >= critical_on:
        return Finding("critical", "late", {"since": since.isoformat()})
    return Finding("warning")


def _rupture_changes_on(case: Case, p: Profile, as_of: dt.date) -> dt.date | None:
    raised = _rupture_critical_on(case, p)
    return raised[1] if raised is not None else None


RUPTURE_ALERT = AlertRule(
    id="adjuvant.rupture",
    code="rupture_adjuvant_mandatory",
    rationale="After tumour rupture adjuvant imatinib is mandatory; lifelong treatment may be considered.",
    condition=_rupture,
    messages={
        "default": "Ruptured GIST without imatinib: adjuvant imatinib is mandatory (consider lifelong "
        "treatment).",
        "late": "Ruptured GIST without imatinib: adjuvant imatinib is mandatory (consider lifelong "
        "treatment); more than {rupture_critical_after_days} days since {since}.",
    },
    citation=cite(ESMO, OSLO, SEED.replace("this schedule", '"mandatory, consider lifelong"')),
    changes_on=_rupture_changes_on,
)


def _debated(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if _resected_not_advanced(case) and case.risk().nih_modified == "intermediate":
        return None if case.running_adjuvant() is not None else Finding("info")
    return None


DEBATED_ALERT = AlertRule(
    id="adjuvant.intermediate",
    code="adjuvant_debated",
    rationale="Intermediate risk: adjuvant imatinib is debated; decide at the MDT.",
    condition=_debated,
    messages={
        "default": "Intermediate risk: the benefit of adjuvant imatinib is debated; record the MDT decision.",
    },
    citation=ESMO,
)

# ---- kit_exon9 (any setting) ---------------------------------------------------------------------


def _kit_exon9(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    imatinib = case.running_course("imatinib")
    if imatinib is None or not case.has_kit_exon9() or imatinib.dose_mg >= p.kit_exon9_dose_mg:
        return None
    return Finding(
        "warning", "advanced" if case.is_advanced else "default", {"dose": f"{imatinib.dose_mg:g}"}
    )


def _kit_exon9_rule(rule_id: str, advanced: bool) -> AlertRule:
    def condition(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
        return _kit_exon9(case, p, as_of) if case.is_advanced == advanced else None

    return AlertRule(
        id=rule_id,
        code="kit_exon9_dose",
        rationale="KIT exon 9: imatinib 800 mg/day (evidence from advanced disease).",
        condition=condition,
        messages={
            "default": "KIT exon 9 mutation on imatinib {dose} mg/day: consider {kit_exon9_dose_mg:g} mg/day "
            "(extrapolated from advanced disease).",
            "advanced": "KIT exon 9 mutation on imatinib {dose} mg/day: recommend {kit_exon9_dose_mg:g} "
            "mg/day (better progression-free survival in advanced disease).",
        },
        citation=ESMO,
    )


KIT_EXON9_ADJUVANT_ALERT = _kit_exon9_rule("adjuvant.kit_exon9", advanced=False)
KIT_EXON9_ADVANCED_ALERT = _kit_exon9_rule("advanced.kit_exon9", advanced=True)

SERIES_RULES = (NEOADJUVANT_RESPONSE, NEOADJUVANT_SURGERY_TIMING, DURATION)
ALERT_RULES = (
    INDICATED_ALERT,
    UNLIKELY_TO_BENEFIT_ALERT,
    RUPTURE_ALERT,
    DEBATED_ALERT,
    STOPPED_EARLY_ALERT,
    KIT_EXON9_ADJUVANT_ALERT,
    KIT_EXON9_ADVANCED_ALERT,
)
