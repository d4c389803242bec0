"""Advanced disease (clinical-rules §7): imaging, lines of treatment, reviews and safety alerts.

"Progression" is a ``progression`` event or an imaging result ``progression``, ``growth`` or
``new_lesion``; lines are assigned as the case replays (``Case._assign_line``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from scheduler.domain import events as ev
from scheduler.domain.case import TKIS, Case, Course
from scheduler.domain.dates import add_days, add_months
from scheduler.domain.profile import Profile
from scheduler.domain.rules.base import (
    ADVANCED_ONSET,
    AYVAKIT,
    BFR14,
    DEMETRI_2006,
    ESMO,
    GRID,
    INVICTUS,
    PROGRESSIVE_SCAN,
    QINLOCK,
    SEED_SUMMARY,
    STARTS_AND_STOPS,
    STIVARGA,
    SUTENT,
    ZALCBERG_2021,
    AlertRule,
    Finding,
    Opening,
    SeriesRule,
    cite,
    on,
)
from scheduler.domain.series import Series

# ---- advanced.imaging -----------------------------------------------------------------------------


def _imaging(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    since = case.advanced_since
    if since is None:
        return
    line_starts = [c.start for c in case.courses if c.opened_line and c.start > since]
    yield Opening("ct", max([since, *line_starts]), "advanced disease")


IMAGING = SeriesRule(
    id="advanced.imaging",
    kinds=("ct",),
    triggers=(*ADVANCED_ONSET, *STARTS_AND_STOPS),
    condition=_imaging,
    schedule=lambda p, o: p.advanced_imaging,
    message="Advanced disease on treatment: CT every 3 months to detect progression early.",
    citation=ESMO,
)

# ---- advanced.mdt ---------------------------------------------------------------------------------


def _became_advanced(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if case.advanced_since == day:
        yield Opening("mdt_review", day, "the disease became advanced")


MDT = SeriesRule(
    id="advanced.mdt",
    kinds=("mdt_review",),
    triggers=ADVANCED_ONSET,
    condition=_became_advanced,
    schedule=lambda p, o: p.oneoff,
    message="Advanced GIST is managed by a multidisciplinary team.",
    citation=cite(ESMO, SEED_SUMMARY),
    covered_by_open_review=True,
)

# ---- advanced.next_line: focal progression --------------------------------------------------------


def _focal_progression(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    latest = case.latest_progression()
    if latest is not None and latest.day == day and latest.pattern == "focal":
        yield Opening("mdt_review", day, "focal progression: consider local treatment of the growing lesion")


FOCAL_PROGRESSION = SeriesRule(
    id="advanced.next_line",
    kinds=("mdt_review",),
    triggers=on("progression"),
    condition=_focal_progression,
    schedule=lambda p, o: p.oneoff,
    message="Progression: escalate or move to the next line; focal progression may be treated locally.",
    citation=ESMO,
)

# ---- advanced.cytoreduction -----------------------------------------------------------------------


def responding_imatinib(case: Case) -> Course | None:
    """Imatinib running in advanced disease, nothing progressed since it began, and no resection
    since the disease became advanced (the surgery was done)."""
    since, resection = case.advanced_since, case.resection_on
    if since is None or (resection is not None and resection > since):
        return None
    imatinib = case.running_course("imatinib")
    return imatinib if imatinib is not None and not case.progressed_after(imatinib.start) else None


def _cytoreduction(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    imatinib, since = responding_imatinib(case), case.advanced_since
    if imatinib is not None and since is not None:
        detail = "responding to imatinib: consider surgery of residual disease"
        yield Opening("mdt_review", max(imatinib.start, since), detail, counted_from=imatinib.start)


def _no_longer_responding(case: Case, p: Profile, series: Series) -> bool:
    return responding_imatinib(case) is None


CYTOREDUCTION = SeriesRule(
    id="advanced.cytoreduction",
    kinds=("mdt_review",),
    triggers=(*ADVANCED_ONSET, *STARTS_AND_STOPS, PROGRESSIVE_SCAN, *on("resection")),
    condition=_cytoreduction,
    schedule=lambda p, o: p.oneoff_after_months(p.cytoreduction_from_months),
    ends=_no_longer_responding,
    message="Responding advanced disease: surgery of residual disease may be considered between "
    "{cytoreduction_from_months} months and {cytoreduction_until_months} months of imatinib.",
    citation=ESMO,
)


def _cytoreduction_dates(case: Case, p: Profile) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the window for surgery of residual disease, while responding."""
    imatinib = responding_imatinib(case)
    if imatinib is None:
        return None
    opens = add_months(imatinib.start, p.cytoreduction_from_months)
    return opens, add_months(imatinib.start, p.cytoreduction_until_months)


def _cytoreduction_window(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    window = _cytoreduction_dates(case, p)
    return Finding("info") if window is not None and window[0] <= as_of <= window[1] else None


def _cytoreduction_changes_on(case: Case, p: Profile, as_of: dt.date) -> dt.date | None:
    window = _cytoreduction_dates(case, p)
    if window is None:
        return None
    opens, closes = window
    return opens if as_of < opens else add_days(closes, 1)


CYTOREDUCTION_ALERT = AlertRule(
    id="advanced.cytoreduction",
    code="cytoreductive_surgery_window",
    rationale="Responding advanced disease: surgery of residual disease may be considered.",
    condition=_cytoreduction_window,
    messages={
        "default": "Responding to imatinib between {cytoreduction_from_months} months and "
        "{cytoreduction_until_months} months: the MDT may consider surgery of residual disease.",
    },
    citation=ESMO,
    changes_on=_cytoreduction_changes_on,
)

# ---- advanced.resume_after_surgery ----------------------------------------------------------------


def _resume_needed(case: Case, p: Profile) -> dt.date | None:
    """The surgery day, if it came after the disease became advanced, a TKI ran in the days before
    it and no course started on or after it."""
    since, surgery = case.advanced_since, case.resection_on
    if since is None or surgery is None or surgery <= since:
        return None
    if not case.tki_ran_before(surgery, p.resume_lookback_days) or case.started_on_or_after(surgery):
        return None
    return surgery


def _fulfils_resume_review(event: ev.Event) -> bool:
    return isinstance(event.data, ev.MdtReviewData | ev.TherapyStartedData)


def _resume_review(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if _resume_needed(case, p) == day:
        yield Opening("therapy_review", day, "surgery in advanced disease: resume the TKI",
                      fulfils=_fulfils_resume_review)  # fmt: skip


RESUME_AFTER_SURGERY = SeriesRule(
    id="advanced.resume_after_surgery",
    kinds=("therapy_review",),
    triggers=on("resection"),
    condition=_resume_review,
    schedule=lambda p, o: p.oneoff_after_days(p.resume_review_due_days),
    message="After surgery for advanced disease the TKI must be resumed.",
    citation=ESMO,
)


def _resume_late_on(surgery: dt.date, p: Profile) -> dt.date:
    return add_days(surgery, p.resume_critical_after_days)


def _resume_changes_on(case: Case, p: Profile, as_of: dt.date) -> dt.date | None:
    surgery = _resume_needed(case, p)
    return _resume_late_on(surgery, p) if surgery is not None else None


def _resume_alert(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    surgery = _resume_needed(case, p)
    if surgery is None:
        return None
    recorded_running = any(c.drug in TKIS and c.is_running for c in case.courses)
    late = as_of >= _resume_late_on(surgery, p)
    variant = ("confirm" if recorded_running else "resume") + ("_late" if late else "")
    return Finding("critical" if late else "warning", variant, {"surgery": surgery.isoformat()})


RESUME_ALERT = AlertRule(
    id="advanced.resume_after_surgery",
    code="resume_tki_after_surgery",
    rationale="After surgery for advanced disease the TKI must be resumed.",
    condition=_resume_alert,
    messages={
        "resume": "Surgery on {surgery} in advanced disease and no TKI restart recorded since: recommend "
        "resuming it.",
        "resume_late": "Surgery on {surgery} in advanced disease and no TKI restart recorded since: "
        "recommend resuming it (more than {resume_critical_after_days} days after surgery).",
        "confirm": "Surgery on {surgery} in advanced disease and no TKI restart recorded since: the record "
        "still shows the TKI running; confirm it was resumed and record it.",
        "confirm_late": "Surgery on {surgery} in advanced disease and no TKI restart recorded since: the "
        "record still shows the TKI running; confirm it was resumed and record it (more than "
        "{resume_critical_after_days} days after surgery).",
    },
    citation=ESMO,
    changes_on=_resume_changes_on,
)

# ---- next_line_due: first line, next line, no successor ------------------------------------------


def first_line_option(case: Case, p: Profile) -> tuple[str, str]:
    """(option, citation) of first-line treatment for advanced GIST."""
    if case.has_pdgfra_exon18():
        return f"avapritinib {p.avapritinib_dose_mg:g} mg/day (PDGFRA exon 18, imatinib-resistant)", cite(
            ESMO, AYVAKIT
        )
    if case.has_kit_exon9():
        return f"imatinib {p.kit_exon9_dose_mg:g} mg/day (KIT exon 9)", ESMO
    return f"imatinib {p.first_line_dose_mg:g} mg/day", ESMO


def option_after(case: Case, p: Profile, drug: str, dose: float | None) -> tuple[str, str]:
    """(option, citation) of the treatment after ``drug`` at ``dose`` (§7 advanced.next_line)."""
    sunitinib = "sunitinib 50 mg/day 4 weeks on / 2 weeks off, or 37.5 mg/day continuously"
    if drug == "imatinib":
        preferred = case.has_secondary_kit_exon13_or_14()
        if dose is not None and dose < p.kit_exon9_dose_mg and not preferred:
            return f"escalate imatinib to {p.kit_exon9_dose_mg:g} mg/day or switch to sunitinib", cite(
                ESMO, SUTENT, DEMETRI_2006
            )
        if preferred:
            return f"{sunitinib} (preferred for a secondary KIT exon 13/14 mutation)", cite(
                SUTENT, DEMETRI_2006, ESMO
            )
        return sunitinib, cite(SUTENT, DEMETRI_2006)
    if drug == "sunitinib":
        return "regorafenib 160 mg/day on days 1–21 of each 28-day cycle", cite(GRID, STIVARGA)
    if drug == "regorafenib":
        return "ripretinib 150 mg/day", cite(INVICTUS, QINLOCK)
    if drug == "ripretinib" and dose is not None and dose <= p.ripretinib_escalate_from_dose_mg:
        return "ripretinib 150 mg twice daily, or a clinical trial", ZALCBERG_2021
    return "MDT review or a clinical trial", ESMO


def _is_recurrence_after_adjuvant(case: Case, day: dt.date) -> bool:
    """No course before ``day``, or the latest one is imatinib stopped ``completed``."""
    before = [c for c in case.courses if c.start < day]
    if not before:
        return True
    latest = max(before, key=lambda c: (c.stop or dt.date.max, c.start))
    return latest.drug == "imatinib" and latest.stop_reason == "completed"


def _next_line(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    progression = case.unanswered_progression() if case.is_advanced else None
    if progression is None:
        return None
    drug, dose = progression.drug, progression.dose_mg
    if drug is None:
        lines = [c for c in case.courses if c.line is not None and c.start < progression.day]
        if lines:
            last = max(lines, key=lambda c: (c.line or 0, c.start))
            drug, dose = last.drug, last.doses[-1][1]
    if drug is None and _is_recurrence_after_adjuvant(case, progression.day):
        option, citation = first_line_option(case, p)
        option = f"first-line {option} (recurrence after adjuvant therapy)"
    elif drug is None:
        option, citation = "MDT review or a clinical trial", ESMO
    else:
        option, citation = option_after(case, p, drug, dose)
    return Finding("warning", facts={"day": progression.day.isoformat(), "option": option}, citation=citation)


NEXT_LINE_ALERT = AlertRule(
    id="advanced.next_line",
    code="next_line_due",
    rationale="Progression: escalate or move to the next line.",
    condition=_next_line,
    messages={"default": "Progression on {day} not yet answered: recommend {option}."},
    citation=ESMO,
)


def _first_line(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if not case.is_advanced or case.unanswered_progression() is not None:
        return None
    if any(c.line is not None for c in case.courses):
        return None
    option, citation = first_line_option(case, p)
    variant = "default" if case.is_gist_confirmed else "unconfirmed"
    return Finding("warning", variant, {"option": option}, citation=citation)


FIRST_LINE_ALERT = AlertRule(
    id="advanced.first_line",
    code="next_line_due",
    rationale="Advanced GIST: start first-line treatment.",
    condition=_first_line,
    messages={
        "default": "Advanced GIST without treatment: recommend first-line {option}.",
        "unconfirmed": "Advanced GIST without treatment: recommend first-line {option} once tissue "
        "confirms GIST.",
    },
    citation=ESMO,
)

_CRITICAL_STOP_REASONS = frozenset({"completed", "patient_choice", "other"})


def _imatinib_stopped_since_advanced(case: Case) -> Course | None:
    """The latest imatinib course stopped in advanced disease, with no TKI started since."""
    since = case.advanced_since
    if since is None:
        return None
    stops = [c for c in case.courses if c.drug == "imatinib" and c.stop is not None and c.stop >= since]
    if not stops:
        return None
    last = max(stops, key=lambda c: c.stop or c.start)
    assert last.stop is not None
    if any(c.drug in TKIS and c.start >= last.stop and c is not last for c in case.courses):
        return None
    return last


def _never_stop(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    last = _imatinib_stopped_since_advanced(case)
    if last is None or last.stop is None:
        return None
    facts = {"stop": last.stop.isoformat(), "reason": last.stop_reason}
    if last.stop_reason in _CRITICAL_STOP_REASONS:
        return Finding("critical", facts=facts)
    if last.stop_reason == "toxicity":
        return Finding("warning", "toxicity", facts)
    return None


NEVER_STOP_ALERT = AlertRule(
    id="advanced.never_stop",
    code="imatinib_stopped_in_advanced_disease",
    rationale="Stopping imatinib in advanced disease is followed by rapid progression.",
    condition=_never_stop,
    messages={
        "default": "Imatinib stopped on {stop} ({reason}) in advanced disease: interruption is followed by "
        "rapid progression. Recommend resuming.",
        "toxicity": "Imatinib stopped on {stop} for toxicity in advanced disease: recommend dose reduction "
        "or a switch rather than stopping.",
    },
    citation=cite(BFR14, ESMO),
)

_NO_SUCCESSOR_REASONS = frozenset({"toxicity", "patient_choice", "other"})


def _no_successor(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    since = case.advanced_since
    if since is None or case.unanswered_progression() is not None:
        return None
    tkis = [c for c in case.courses if c.drug in TKIS]
    if not tkis or any(c.is_running for c in tkis):
        return None
    latest = max(tkis, key=lambda c: (c.stop or dt.date.max, c.start))
    if latest.stop is None or latest.stop < since or latest.stop_reason not in _NO_SUCCESSOR_REASONS:
        return None
    if any(c.start > latest.stop and c.drug in TKIS for c in case.courses):
        return None
    never_stop = _never_stop(case, p, as_of)
    if never_stop is not None and never_stop.severity == "critical":
        return None  # advanced.never_stop has said it, critically
    option, citation = option_after(case, p, latest.drug, latest.dose_mg)
    if latest.drug == "imatinib":
        option, citation = "sunitinib (sunitinib after imatinib intolerance)", cite(SUTENT, DEMETRI_2006)
    facts = {
        "drug": latest.drug,
        "stop": latest.stop.isoformat(),
        "reason": latest.stop_reason,
        "option": option,
    }
    return Finding("warning", facts=facts, citation=citation)


NO_SUCCESSOR_ALERT = AlertRule(
    id="advanced.no_successor",
    code="next_line_due",
    rationale="A TKI stopped in advanced disease without a successor: resume or move on.",
    condition=_no_successor,
    messages={
        "default": "{drug} stopped on {stop} ({reason}) in advanced disease with no TKI since: resume it at "
        "a reduced dose or move to the next line ({option}).",
    },
    citation=ESMO,
)


def _d842v(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if case.is_advanced and case.has_pdgfra_d842v() and case.running_course("imatinib") is not None:
        return Finding("critical")
    return None


D842V_ALERT = AlertRule(
    id="advanced.d842v",
    code="pdgfra_d842v_imatinib_resistant",
    rationale="PDGFRA D842V is resistant to imatinib; avapritinib is the option.",
    condition=_d842v,
    messages={
        "default": "PDGFRA D842V is resistant to imatinib: recommend avapritinib {avapritinib_dose_mg:g} "
        "mg/day instead.",
    },
    citation=cite(ESMO, AYVAKIT),
)

SERIES_RULES = (IMAGING, MDT, FOCAL_PROGRESSION, CYTOREDUCTION, RESUME_AFTER_SURGERY)
ALERT_RULES = (
    FIRST_LINE_ALERT,
    NEXT_LINE_ALERT,
    NO_SUCCESSOR_ALERT,
    NEVER_STOP_ALERT,
    CYTOREDUCTION_ALERT,
    RESUME_ALERT,
    D842V_ALERT,
)
