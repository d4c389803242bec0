"""Alerts (clinical-rules §4–§8, §12): what is true of the patient at ``as_of`` that needs action.

Each alert names its rule, whose rationale and citation come from rules/catalogue.py. Alerts are a
function of the replayed case and ``as_of`` only; after ``follow_up_ended`` there are none.
"""

from __future__ import annotations

import datetime as dt

from scheduler.domain.case import TKIS, Case, Course
from scheduler.domain.dates import add_days, add_months, add_years
from scheduler.domain.model import SEVERITY_RANK, Alert, Severity, Stage
from scheduler.domain.profile import Profile
from scheduler.domain.rules.catalogue import RULES

_STOP_IS_CRITICAL = frozenset({"completed", "patient_choice", "other"})


def _alert(code: str, severity: Severity, rule_id: str, message: str) -> Alert:
    return Alert(code, severity, message, rule_id, RULES[rule_id].citation)


def assess_alerts(case: Case, stage: Stage, as_of: dt.date, profile: Profile) -> tuple[Alert, ...]:
    if stage == "ended":
        return ()
    out: list[Alert] = []
    _workup(case, out, profile)
    if case.is_resected and not case.is_advanced:
        _adjuvant(case, out, as_of, profile)
    _kit_exon9(case, stage, out, profile)
    if case.is_advanced:
        _advanced(case, out, as_of, profile)
    _d842v(case, out)
    _liver(case, out, profile)
    out.sort(key=lambda a: (-SEVERITY_RANK[a.severity], a.rule, a.code))
    return tuple(out)


def _workup(c: Case, out: list[Alert], p: Profile) -> None:
    if c.needs_rectal_tissue():
        out.append(
            _alert(
                "rectal_tumour_needs_tissue",
                "warning",
                "workup.rectal",
                "Rectal tumour without tissue diagnosis: surveillance is inappropriate. Recommend endorectal "
                "ultrasound and pelvic MRI, then biopsy or excision, whatever the size.",
            )
        )
    if c.lacks_mutation_analysis():
        if c.mutation_test_optional(p.small_tumour_cm):
            out.append(
                _alert(
                    "mutation_analysis_missing",
                    "info",
                    "workup.mutation",
                    "No KIT/PDGFRA result; for a GIST under 2 cm outside the rectum mutational analysis is "
                    "optional, as medical treatment is unlikely to be needed.",
                )
            )
        else:
            out.append(
                _alert(
                    "mutation_analysis_missing",
                    "warning",
                    "workup.mutation",
                    "GIST confirmed but no KIT/PDGFRA mutational analysis on record: request it (it guides "
                    "adjuvant therapy, drug choice and dose).",
                )
            )
    if c.has_bouin and not c.has_mutation:
        out.append(
            _alert(
                "bouin_fixative",
                "warning",
                "workup.bouin",
                "Specimen fixed in Bouin's solution: molecular analysis may fail. Ask pathology for "
                "formalin-fixed material.",
            )
        )


def _adjuvant(c: Case, out: list[Alert], as_of: dt.date, p: Profile) -> None:
    risk = c.risk()
    imatinib_courses = [x for x in c.courses if x.drug == "imatinib"]
    adjuvant_imatinib = [x for x in imatinib_courses if x.adjuvant_from is not None]
    adjuvant_running = any(x.is_running and x.adjuvant_from is not None for x in c.courses)
    if risk.nih_modified == "high" and not adjuvant_imatinib:
        if c.is_unlikely_to_benefit_from_imatinib():
            out.append(
                _alert(
                    "adjuvant_unlikely_to_benefit",
                    "info",
                    "adjuvant.indicated",
                    "High risk, but the genotype (PDGFRA D842V, SDH, NF1 or wild-type) is unlikely to "
                    "benefit from adjuvant imatinib: discuss at the MDT.",
                )
            )
        else:
            dose = "800" if c.has_kit_exon9() else "400"
            out.append(
                _alert(
                    "adjuvant_indicated",
                    "warning",
                    "adjuvant.indicated",
                    f"High-risk resected GIST with no adjuvant imatinib: recommend 3 years of imatinib "
                    f"{dose} mg/day.",
                )
            )
    if risk.nih_modified == "intermediate" and not adjuvant_running:
        out.append(
            _alert(
                "adjuvant_debated",
                "info",
                "adjuvant.intermediate",
                "Intermediate risk: the benefit of adjuvant imatinib is debated; record the MDT decision.",
            )
        )
    if c.is_ruptured and c.resection_on is not None:
        running = any(x.is_running for x in imatinib_courses)
        completed = any(x.stop_reason == "completed" for x in imatinib_courses)
        if not running and not completed:
            since = max(c.resection_on, c.ruptures[-1])
            critical = as_of >= add_days(since, p.rupture_critical_after_days)
            out.append(
                _alert(
                    "rupture_adjuvant_mandatory",
                    "critical" if critical else "warning",
                    "adjuvant.rupture",
                    "Ruptured GIST without imatinib: adjuvant imatinib is mandatory (consider lifelong "
                    "treatment)" + (f"; more than 6 weeks since {since.isoformat()}." if critical else "."),
                )
            )
    stopped = [x for x in adjuvant_imatinib if x.stop is not None]
    if stopped and not adjuvant_running:
        last = max(stopped, key=lambda x: x.stop or x.start)
        assert last.stop is not None
        if last.stop_reason != "completed" and last.stop < add_years(last.start, p.adjuvant_years):
            out.append(
                _alert(
                    "adjuvant_stopped_early",
                    "warning",
                    "adjuvant.duration",
                    f"Adjuvant imatinib stopped on {last.stop.isoformat()} ({last.stop_reason}) before 3 "
                    "years: 3 years improve overall survival over 1 year; discuss resuming.",
                )
            )
    if risk.nih_modified == "very_low":
        out.append(
            _alert(
                "no_routine_imaging",
                "info",
                "surveillance.very_low",
                "Very low risk: routine follow-up imaging is not recommended.",
            )
        )


def _kit_exon9(c: Case, stage: Stage, out: list[Alert], p: Profile) -> None:
    imatinib = c.running_course("imatinib")
    if imatinib is None or not c.has_kit_exon9() or imatinib.dose_mg >= p.kit_exon9_dose_mg:
        return
    rule = "advanced.kit_exon9" if stage == "advanced" else "adjuvant.kit_exon9"
    out.append(
        _alert(
            "kit_exon9_dose",
            "warning",
            rule,
            f"KIT exon 9 mutation on imatinib {imatinib.dose_mg:g} mg/day: recommend 800 mg/day"
            + ("." if stage == "advanced" else " (evidence from advanced disease)."),
        )
    )


def _next_option(c: Case) -> str:
    """The option after the course running at the progression, else after the last line (§7)."""
    progression = c.latest_progression()
    drug = progression.drug if progression is not None else None
    dose = progression.dose_mg if progression is not None else None
    if drug is None:
        lines = [x for x in c.courses if x.line is not None]
        if lines:
            last = max(lines, key=lambda x: (x.line or 0, x.start))
            drug, dose = last.drug, last.doses[-1][1]
    if drug is None:
        return _first_line_option(c)
    if drug == "imatinib":
        if dose is not None and dose < 800:
            return "escalate imatinib to 800 mg/day or switch to sunitinib"
        return "sunitinib 50 mg/day 4 weeks on / 2 weeks off, or 37.5 mg/day continuously"
    if drug == "sunitinib":
        return "regorafenib 160 mg/day on days 1–21 of each 28-day cycle"
    if drug == "regorafenib":
        return "ripretinib 150 mg/day"
    if drug == "ripretinib" and dose is not None and dose <= 150:
        return "ripretinib 150 mg twice daily, or a clinical trial"
    return "MDT review or a clinical trial"


def _first_line_option(c: Case) -> str:
    if c.has_pdgfra_exon18():
        return "avapritinib 300 mg/day (PDGFRA exon 18, imatinib-resistant)"
    if c.has_kit_exon9():
        return "imatinib 800 mg/day (KIT exon 9)"
    return "imatinib 400 mg/day"


def _advanced(c: Case, out: list[Alert], as_of: dt.date, p: Profile) -> None:
    progression = c.latest_progression()
    unanswered = progression is not None and not c.is_progression_answered(progression)
    has_line = any(x.line is not None for x in c.courses)
    if unanswered and progression is not None:
        out.append(
            _alert(
                "next_line_due",
                "warning",
                "advanced.next_line",
                f"Progression on {progression.day.isoformat()} not yet answered: "
                f"recommend {_next_option(c)}.",
            )
        )
    elif not has_line:
        confirm = "" if c.is_gist_confirmed else " once tissue confirms GIST"
        out.append(
            _alert(
                "next_line_due",
                "warning",
                "advanced.first_line",
                f"Advanced GIST without treatment: recommend first-line {_first_line_option(c)}{confirm}.",
            )
        )
    _never_stop(c, out)
    _cytoreduction(c, out, as_of, p)
    _resume_after_surgery(c, out, as_of, p)


def _never_stop(c: Case, out: list[Alert]) -> None:
    since = c.advanced_since
    assert since is not None
    stops = [x for x in c.courses if x.drug == "imatinib" and x.stop is not None and x.stop >= since]
    if not stops:
        return
    last = max(stops, key=lambda x: x.stop or x.start)
    assert last.stop is not None
    stop_day = last.stop
    if any(x.drug in TKIS and x.start >= stop_day and x is not last for x in c.courses):
        return
    if last.stop_reason in _STOP_IS_CRITICAL:
        out.append(
            _alert(
                "imatinib_stopped_in_advanced_disease",
                "critical",
                "advanced.never_stop",
                f"Imatinib stopped on {stop_day.isoformat()} ({last.stop_reason}) in advanced disease: "
                "interruption is followed by rapid progression. Recommend resuming.",
            )
        )
    elif last.stop_reason == "toxicity":
        out.append(
            _alert(
                "imatinib_stopped_in_advanced_disease",
                "warning",
                "advanced.never_stop",
                f"Imatinib stopped on {stop_day.isoformat()} for toxicity in advanced disease: recommend "
                "dose reduction or a switch rather than stopping.",
            )
        )


def _cytoreduction(c: Case, out: list[Alert], as_of: dt.date, p: Profile) -> None:
    imatinib = c.responding_imatinib()
    if imatinib is None:
        return
    if (
        add_months(imatinib.start, p.cytoreduction_from_months)
        <= as_of
        <= add_months(imatinib.start, p.cytoreduction_until_months)
    ):
        out.append(
            _alert(
                "cytoreductive_surgery_window",
                "info",
                "advanced.cytoreduction",
                "Responding to imatinib between 6 months and 2 years: the MDT may consider surgery of "
                "residual disease.",
            )
        )


def _resume_after_surgery(c: Case, out: list[Alert], as_of: dt.date, p: Profile) -> None:
    since, surgery = c.advanced_since, c.resection_on
    if since is None or surgery is None or surgery <= since:
        return
    if not c.tki_ran_before(surgery, p.resume_lookback_days) or c.started_on_or_after(surgery):
        return
    recorded_running = any(x.drug in TKIS and x.is_running for x in c.courses)
    critical = as_of >= add_days(surgery, p.resume_critical_after_days)
    out.append(
        _alert(
            "resume_tki_after_surgery",
            "critical" if critical else "warning",
            "advanced.resume_after_surgery",
            f"Surgery on {surgery.isoformat()} in advanced disease and no TKI restart recorded since: "
            + (
                "the record still shows the TKI running; confirm it was resumed and record it"
                if recorded_running
                else "recommend resuming it"
            )
            + (" (more than 4 weeks after surgery)." if critical else "."),
        )
    )


def _d842v(c: Case, out: list[Alert]) -> None:
    if c.has_pdgfra_d842v() and c.running_course("imatinib") is not None:
        out.append(
            _alert(
                "pdgfra_d842v_imatinib_resistant",
                "critical",
                "advanced.d842v",
                "PDGFRA D842V is resistant to imatinib: recommend avapritinib 300 mg/day instead.",
            )
        )


def _liver(c: Case, out: list[Alert], p: Profile) -> None:
    rego = c.running_course("regorafenib")
    if rego is not None:
        _regorafenib_liver(c, rego, out, p)
    imatinib = c.running_course("imatinib")
    if imatinib is not None:
        bili = _ratio(c, "bilirubin", imatinib)
        transaminase = max(_ratio(c, "alt", imatinib), _ratio(c, "ast", imatinib))
        if (
            bili > p.imatinib_bilirubin_withhold_above_uln
            or transaminase > p.imatinib_transaminase_withhold_above_uln
        ):
            out.append(
                _alert(
                    "hepatotoxicity",
                    "critical",
                    "monitoring.imatinib_liver",
                    f"On imatinib: bilirubin {bili:.1f}× and ALT/AST {transaminase:.1f}× ULN. Recommend "
                    "withholding imatinib until bilirubin < 1.5× and transaminases < 2.5× ULN, then resuming "
                    "at a reduced dose.",
                )
            )


def _regorafenib_liver(c: Case, course: Course, out: list[Alert], p: Profile) -> None:
    transaminase = max(_ratio(c, "alt", course), _ratio(c, "ast", course))
    bili = _ratio(c, "bilirubin", course)
    rule = "monitoring.regorafenib_liver"
    values = f"ALT/AST {transaminase:.1f}× ULN, bilirubin {bili:.1f}× ULN"
    if transaminase > p.regorafenib_liver_discontinue_above_uln or (
        transaminase > p.regorafenib_liver_weekly_above_uln
        and bili > p.regorafenib_bilirubin_with_3x_above_uln
    ):
        out.append(
            _alert(
                "hepatotoxicity",
                "critical",
                rule,
                f"On regorafenib: {values}. Recommend discontinuing regorafenib permanently.",
            )
        )
    elif transaminase > p.regorafenib_liver_interrupt_above_uln:
        out.append(
            _alert(
                "hepatotoxicity",
                "critical",
                rule,
                f"On regorafenib: {values} (grade 3 or worse). Recommend interrupting regorafenib; "
                "resume at 120 mg only if the benefit outweighs the risk.",
            )
        )
    elif transaminase > p.regorafenib_liver_weekly_above_uln:
        out.append(
            _alert(
                "hepatotoxicity",
                "warning",
                rule,
                f"On regorafenib: {values}. Liver tests weekly until below 3× ULN.",
            )
        )


def _ratio(c: Case, test: str, course: Course) -> float:
    value = c.lab_since(test, course.start)
    ratio = value.ratio if value is not None else None
    return ratio if ratio is not None else 0.0
