"""Drug monitoring (clinical-rules §8): fixed series from each course's start, and the liver rules.

The profile's ``monitoring`` table gives, per drug, each reminder kind's schedule from day 0; each
drug's series close when its course stops. The liver rules raise weekly liver tests and the
``hepatotoxicity`` alert from the latest ALT, AST and bilirubin taken on or after the course's
start day, and keep them after the drug is held for hepatotoxicity until the values recover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from scheduler.domain.case import Case, Course
from scheduler.domain.profile import Profile, Schedule
from scheduler.domain.rules.base import (
    AYVAKIT,
    GLEEVEC,
    QINLOCK,
    STIVARGA,
    SUTENT,
    AlertRule,
    Finding,
    Opening,
    SeriesRule,
    on_field,
    starts_and_stops_of,
)

LIVER_RESULT = on_field("lab_result", "test", "alt", "ast", "bilirubin")

# ---- the regular monitoring series, one rule per drug ----------------------------------------------


def _monitoring_rule(drug: str, kinds: tuple[str, ...], message: str, citation: str) -> SeriesRule:
    def condition(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
        course = case.running_course(drug)
        if course is None:
            return
        detail = f"{drug} started {course.start.isoformat()}"
        for kind in p.monitoring.get(drug, {}):
            yield Opening(kind, course.start, detail, dose_on=course.dose_on)
        if drug == "ripretinib":
            yield Opening("skin_exam", course.start, detail)

    def schedule(p: Profile, opening: Opening) -> Schedule:
        if opening.kind == "skin_exam":
            return p.ripretinib_skin
        return p.monitoring[drug][opening.kind]

    return SeriesRule(
        id=f"monitoring.{drug}",
        kinds=kinds,
        triggers=starts_and_stops_of(drug),
        condition=condition,
        schedule=schedule,
        message=message,
        citation=citation,
    )


IMATINIB = _monitoring_rule(
    "imatinib",
    ("lab_cbc", "lab_lft"),
    "Imatinib: blood counts weekly for the first month, then every 2 weeks, then every 3 months; "
    "liver tests monthly.",
    GLEEVEC,
)
SUNITINIB = _monitoring_rule(
    "sunitinib",
    ("lab_lft", "lab_cbc", "lab_tsh", "echo"),
    "Sunitinib: blood counts and liver tests each cycle, thyroid function (every 3 months: local "
    "policy), baseline LVEF.",
    SUTENT,
)
REGORAFENIB = _monitoring_rule(
    "regorafenib",
    ("lab_lft", "clinic_visit"),
    "Regorafenib: liver tests before starting, every 2 weeks for 2 months, then monthly; a visit each cycle.",
    STIVARGA,
)
RIPRETINIB = _monitoring_rule(
    "ripretinib",
    ("skin_exam", "echo"),
    "Ripretinib: skin examination at start and during treatment (every 3 months: local policy), "
    "baseline LVEF.",
    QINLOCK,
)
AVAPRITINIB = _monitoring_rule(
    "avapritinib",
    ("clinic_visit",),
    "Avapritinib: visits for intracranial bleeding and cognitive effects (monthly, then every 3 months: "
    "local policy).",
    AYVAKIT,
)

# ---- monitoring.regorafenib_liver ----------------------------------------------------------------


def _regorafenib_liver_high(case: Case, p: Profile) -> Course | None:
    """The latest regorafenib course whose latest ALT or AST since its start is above the weekly
    threshold: while it runs, or after a stop made with a value above it (held: monitor until
    recovery)."""
    course = case.latest_course("regorafenib")
    if course is None or case.transaminases_since(course.start) <= p.regorafenib_liver_weekly_above_uln:
        return None
    if course.is_running:
        return course
    at_stop = max(
        (
            v.ratio or 0.0
            for t, v in course.labs_at_stop.items()
            if t in ("alt", "ast") and v.day >= course.start
        ),
        default=0.0,
    )
    return course if at_stop > p.regorafenib_liver_weekly_above_uln else None


def _regorafenib_weekly(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    course = _regorafenib_liver_high(case, p)
    if course is not None:
        state = "on" if course.is_running else "after stopping"
        yield Opening(
            "lab_lft",
            None,
            f"ALT/AST above {p.regorafenib_liver_weekly_above_uln:g}× ULN {state} regorafenib",
        )


REGORAFENIB_LIVER = SeriesRule(
    id="monitoring.regorafenib_liver",
    kinds=("lab_lft",),
    triggers=(*starts_and_stops_of("regorafenib"), LIVER_RESULT),
    condition=_regorafenib_weekly,
    schedule=lambda p, o: p.liver_weekly,
    message="Regorafenib with ALT or AST > {regorafenib_liver_weekly_above_uln:g}× ULN: liver tests "
    "weekly from that result until both are at or below it, also after the drug is held.",
    citation=STIVARGA,
    replaces=("monitoring.regorafenib", "lab_lft"),
)


def _regorafenib_hepatotoxicity(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    course = _regorafenib_liver_high(case, p) or case.running_course("regorafenib")
    if course is None:
        return None
    transaminases, bilirubin = case.transaminases_since(course.start), case.bilirubin_since(course.start)
    facts = {
        "transaminases": f"{transaminases:.1f}",
        "bilirubin": f"{bilirubin:.1f}",
        "state": "On regorafenib" if course.is_running else f"Regorafenib stopped on {course.stop}",
    }
    if transaminases > p.regorafenib_liver_discontinue_above_uln or (
        transaminases > p.regorafenib_liver_weekly_above_uln
        and bilirubin > p.regorafenib_bilirubin_with_3x_above_uln
    ):
        return Finding("critical", "discontinue", facts)
    if transaminases > p.regorafenib_liver_interrupt_above_uln:
        return Finding("critical", "interrupt", facts)
    if transaminases > p.regorafenib_liver_weekly_above_uln:
        return Finding("warning", "weekly", facts)
    return None


REGORAFENIB_HEPATOTOXICITY = AlertRule(
    id="monitoring.regorafenib_liver",
    code="hepatotoxicity",
    rationale="Regorafenib hepatotoxicity: weekly liver tests, interruption or discontinuation by grade.",
    condition=_regorafenib_hepatotoxicity,
    messages={
        "weekly": "{state}: ALT/AST {transaminases}× ULN, bilirubin {bilirubin}× ULN. Liver tests weekly "
        "until at or below {regorafenib_liver_weekly_above_uln:g}× ULN.",
        "interrupt": "{state}: ALT/AST {transaminases}× ULN, bilirubin {bilirubin}× ULN (grade 3 or worse). "
        "Recommend interrupting regorafenib; resume at 120 mg only if the benefit outweighs the risk. "
        "Liver tests weekly until at or below {regorafenib_liver_weekly_above_uln:g}× ULN.",
        "discontinue": "{state}: ALT/AST {transaminases}× ULN, bilirubin {bilirubin}× ULN. Recommend "
        "discontinuing regorafenib permanently. Liver tests weekly until at or below "
        "{regorafenib_liver_weekly_above_uln:g}× ULN.",
    },
    citation=STIVARGA,
)

# ---- monitoring.imatinib_liver -------------------------------------------------------------------


def _imatinib_withhold(case: Case, p: Profile, course: Course) -> bool:
    """Bilirubin > 3× or ALT/AST > 5× ULN, from the latest results since the course's start."""
    return (
        case.bilirubin_since(course.start) > p.imatinib_bilirubin_withhold_above_uln
        or case.transaminases_since(course.start) > p.imatinib_transaminase_withhold_above_uln
    )


def _imatinib_recovered(case: Case, p: Profile, course: Course) -> bool:
    return (
        case.bilirubin_since(course.start) < p.imatinib_bilirubin_recovered_below_uln
        and case.transaminases_since(course.start) < p.imatinib_transaminase_recovered_below_uln
    )


def _imatinib_held(case: Case, p: Profile) -> Course | None:
    """The latest imatinib course, stopped with values above the withholding thresholds, not
    restarted and not yet recovered."""
    course = case.latest_course("imatinib")
    if course is None or course.is_running or course.stop is None:
        return None
    at_stop = course.labs_at_stop

    def ratio(test: str) -> float:
        value = at_stop.get(test)
        return (value.ratio or 0.0) if value is not None and value.day >= course.start else 0.0

    withheld = (
        ratio("bilirubin") > p.imatinib_bilirubin_withhold_above_uln
        or max(ratio("alt"), ratio("ast")) > p.imatinib_transaminase_withhold_above_uln
    )
    return course if withheld and not _imatinib_recovered(case, p, course) else None


def _imatinib_weekly(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    course = _imatinib_held(case, p)
    if course is not None and course.stop is not None:
        yield Opening(
            "lab_lft", course.stop, f"imatinib held for hepatotoxicity on {course.stop.isoformat()}"
        )


IMATINIB_LIVER = SeriesRule(
    id="monitoring.imatinib_liver",
    kinds=("lab_lft",),
    triggers=(*starts_and_stops_of("imatinib"), LIVER_RESULT),
    condition=_imatinib_weekly,
    schedule=lambda p, o: p.liver_weekly,
    message="Imatinib held for hepatotoxicity: liver tests weekly until bilirubin < "
    "{imatinib_bilirubin_recovered_below_uln:g}× and transaminases < "
    "{imatinib_transaminase_recovered_below_uln:g}× ULN, then resume at a reduced dose.",
    citation=GLEEVEC,
)


def _imatinib_hepatotoxicity(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    running = case.running_course("imatinib")
    held = _imatinib_held(case, p)
    course = running or held
    if course is None:
        return None
    facts = {
        "bilirubin": f"{case.bilirubin_since(course.start):.1f}",
        "transaminases": f"{case.transaminases_since(course.start):.1f}",
        "stop": course.stop.isoformat() if course.stop else "",
    }
    if running is not None:
        return Finding("critical", "running", facts) if _imatinib_withhold(case, p, running) else None
    return Finding("critical" if _imatinib_withhold(case, p, course) else "warning", "held", facts)


IMATINIB_HEPATOTOXICITY = AlertRule(
    id="monitoring.imatinib_liver",
    code="hepatotoxicity",
    rationale="Imatinib with bilirubin > 3× or transaminases > 5× ULN: withhold, resume at a reduced dose.",
    condition=_imatinib_hepatotoxicity,
    messages={
        "running": "On imatinib: bilirubin {bilirubin}× and ALT/AST {transaminases}× ULN. Recommend "
        "withholding imatinib until bilirubin < {imatinib_bilirubin_recovered_below_uln:g}× and "
        "transaminases < {imatinib_transaminase_recovered_below_uln:g}× ULN, then resuming at a reduced "
        "dose.",
        "held": "Imatinib held since {stop}: bilirubin {bilirubin}× and ALT/AST {transaminases}× ULN. Liver "
        "tests weekly until bilirubin < {imatinib_bilirubin_recovered_below_uln:g}× and transaminases < "
        "{imatinib_transaminase_recovered_below_uln:g}× ULN, then resume at a reduced dose.",
    },
    citation=GLEEVEC,
)

SERIES_RULES = (IMATINIB, SUNITINIB, REGORAFENIB, RIPRETINIB, AVAPRITINIB, REGORAFENIB_LIVER, IMATINIB_LIVER)
ALERT_RULES = (REGORAFENIB_HEPATOTOXICITY, IMATINIB_HEPATOTOXICITY)
