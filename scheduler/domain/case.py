"""Rebuild a patient's clinical case by replaying events (clinical-rules §0–§1).

``Case`` is the mutable accumulator the planner drives one event at a time in replay order; it
holds only facts (what happened, when), never reminders. Derived questions (stage, risk, which
course is running) are methods, so the rules in reminders.py and alerts.py read like the spec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from scheduler.domain import events as ev
from scheduler.domain.model import RiskAssessment
from scheduler.domain.risk import assess_risk

TKIS = frozenset({"imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"})
_PROGRESSIVE_IMAGING = frozenset({"progression", "growth", "new_lesion"})
_UNLIKELY_BENEFIT_GENES = frozenset({"SDH", "NF1", "wild_type"})


@dataclass(slots=True)
class Course:
    """One drug course: from a start to the stop of the same drug (§1 "Drug course")."""

    drug: str
    start: dt.date
    setting: str
    dose_mg: float
    doses: list[tuple[dt.date, float]] = field(default_factory=list)
    stop: dt.date | None = None
    stop_reason: str | None = None
    line: int | None = None
    adjuvant_from: dt.date | None = None  # when it became adjuvant (start, or the resection)
    opened_line: bool = False  # True when this course started a new line (advanced.imaging anchors)

    @property
    def is_running(self) -> bool:
        return self.stop is None

    @property
    def is_adjuvant(self) -> bool:
        return self.adjuvant_from is not None

    def dose_on(self, day: dt.date) -> float:
        """The dose in force on ``day`` (the latest dose set on or before it)."""
        dose = self.doses[0][1]
        for when, mg in self.doses:
            if when > day:
                break
            dose = mg
        return dose


class LabValue(NamedTuple):
    """The latest result of one test. A NamedTuple, not a frozen dataclass: a frozen dataclass's
    __init__ sets each field through object.__setattr__ (5,600 instructions against 1,700 for
    tuple.__new__), and a plan stores one per lab result."""

    day: dt.date
    value: float
    uln: float | None

    @property
    def ratio(self) -> float | None:
        return self.value / self.uln if self.uln else None


_new_lab_value = tuple.__new__


class Progression(NamedTuple):  # a NamedTuple for the reason LabValue is
    day: dt.date
    pattern: str | None
    drug: str | None  # the course running when it happened (None if none)
    dose_mg: float | None


@dataclass(slots=True)
class Case:
    patient_id: str
    diagnosis_on: dt.date | None = None
    diagnosis_site: str | None = None
    diagnosis_size_cm: float | None = None
    has_tumour: bool = False
    has_tissue: bool = False
    is_gist_confirmed: bool = False
    gist_biopsy_on: dt.date | None = None
    pathology: ev.PathologyData | None = None
    has_bouin: bool = False
    mutations: list[ev.MutationData] = field(default_factory=list)
    first_resection_on: dt.date | None = None
    resection_on: dt.date | None = None
    ruptures: list[dt.date] = field(default_factory=list)
    advanced_since: dt.date | None = None
    progressions: list[Progression] = field(default_factory=list)
    progressive_imaging: list[dt.date] = field(default_factory=list)
    last_ct_or_mri: dt.date | None = None
    last_eus: dt.date | None = None
    eus_growth_on: dt.date | None = None
    labs: dict[str, LabValue] = field(default_factory=dict)
    courses: list[Course] = field(default_factory=list)
    lines_opened: int = 0
    ended_on: dt.date | None = None
    line_continuation_days: int = 30  # profile.line_continuation_days, set by the planner
    _risk_cache: RiskAssessment | None = None
    # Flags the rules read many times per event day, kept beside the facts they summarise and set
    # only by the handlers below (a slot read costs a tenth of a property's call).
    is_resected: bool = False  # resection_on is not None
    is_ruptured: bool = False  # ruptures is not empty
    is_advanced: bool = False  # advanced_since is not None
    is_ended: bool = False  # ended_on is not None

    # ---- replay -------------------------------------------------------------------------------

    def apply(self, e: ev.Event) -> bool:
        """Fold one event into the case (events arrive sorted, clinical-rules §0).

        Returns False for routine results that cannot change any rule's condition (registration,
        visits, MDT reviews, unremarkable scans, labs other than ALT/AST on regorafenib), so the
        planner can skip re-evaluating its rules on days made only of those.
        """
        return _HANDLERS[e.type](self, e.occurred_on, e.data)

    def apply_day(self, rows: list[ev.Replayed]) -> bool:
        """Fold one day's events, in order; True if any of them could change a rule's condition."""
        changed = False
        for day, _, _, event_type, data, _ in rows:
            if _HANDLERS[event_type](self, day, data):  # apply(), inlined: one call per event
                changed = True
        return changed

    def _on_routine(self, day: dt.date, d: ev.EventData) -> bool:
        return False

    def _on_diagnosis(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.DiagnosisData)
        self.has_tumour = True
        self.diagnosis_on, self.diagnosis_site, self.diagnosis_size_cm = day, d.site, d.size_cm
        if d.metastatic:
            self._become_advanced(day)
        return True

    def _on_biopsy(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.BiopsyData)
        if d.result in ("gist", "not_gist"):
            self.has_tissue = True
        if d.result == "gist":
            self.is_gist_confirmed = True
            self.gist_biopsy_on = day
        return True

    def _on_metastasis(self, day: dt.date, d: ev.EventData) -> bool:
        self.has_tumour = True
        self._become_advanced(day)
        return True

    def _on_rupture(self, day: dt.date, d: ev.EventData) -> bool:
        self.ruptures.append(day)
        self.is_ruptured = True
        self._risk_cache = None
        return True

    def _on_resection(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.ResectionData)
        self._resect(day, d.margin)
        return True

    def _on_pathology(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.PathologyData)
        self.has_tumour = self.has_tissue = self.is_gist_confirmed = True
        self.pathology = d
        self.has_bouin = self.has_bouin or d.fixative == "bouin"
        self._risk_cache = None
        return True

    def _on_mutation(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.MutationData)
        self.mutations.append(d)
        return True

    def _on_progression(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.ProgressionData)
        running = self.current_course()
        self.progressions.append(
            Progression(
                day, d.pattern, running.drug if running else None, running.dose_on(day) if running else None
            )
        )
        self._become_advanced(day)
        return True

    def _on_imaging(self, day: dt.date, d: ev.EventData) -> bool:
        # an ImagingData (each event type has one data class); its fields read from __dict__, in
        # one read instead of one hook call per field, so no isinstance is needed to narrow it
        fields = d.__dict__
        modality, result = fields["modality"], fields["result"]
        if modality in ("ct", "mri"):
            self.last_ct_or_mri = day
        elif modality == "eus":
            self.last_eus = day
            if result in ("growth", "new_lesion"):
                self.eus_growth_on = day
        if result in _PROGRESSIVE_IMAGING:
            self.progressive_imaging.append(day)
            return True
        return False

    def _on_lab(self, day: dt.date, d: ev.EventData) -> bool:
        fields = d.__dict__  # a LabResultData's fields, read as in _on_imaging
        test = fields["test"]
        self.labs[test] = _new_lab_value(LabValue, (day, fields["value"], fields["uln"]))
        return test in ("alt", "ast") and self.running_course("regorafenib") is not None

    def _on_stopped(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.TherapyStoppedData)
        course = self.running_course(d.drug)
        if course is not None:
            course.stop, course.stop_reason = day, d.reason
        return True

    def _on_started(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.TherapyStartedData)
        self._start(day, d)
        return True

    def _on_dose(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.DoseChangedData)
        course = self.running_course(d.drug)
        if course is not None:
            course.dose_mg = d.dose_mg
            course.doses.append((day, d.dose_mg))
        return True

    def _on_ended(self, day: dt.date, d: ev.EventData) -> bool:
        assert isinstance(d, ev.FollowUpEndedData)
        if self.ended_on is None:
            self.ended_on = day
            self.is_ended = True
        return True

    def _become_advanced(self, day: dt.date) -> None:
        if self.advanced_since is not None:
            return
        self.advanced_since = day
        self.is_advanced = True
        for course in self.courses:  # "a course running when the disease became advanced is line 1"
            if course.is_running and course.line is None:
                course.line = 1
                self.lines_opened = 1

    def _resect(self, day: dt.date, margin: str) -> None:
        if self.first_resection_on is None:
            self.first_resection_on = day
        self.resection_on = day
        self.is_resected = True
        for course in self.courses:  # a neoadjuvant course running at resection becomes adjuvant
            if course.is_running and course.setting == "neoadjuvant":
                course.setting = "adjuvant"
                course.adjuvant_from = day
        if margin == "R2":
            self._become_advanced(day)

    def _start(self, day: dt.date, d: ev.TherapyStartedData) -> None:
        if d.setting == "advanced":
            self._become_advanced(day)
        course = self.running_course(d.drug)
        if course is not None:  # a start of a running drug continues its course
            course.setting = d.setting
            course.dose_mg = d.dose_mg
            course.doses.append((day, d.dose_mg))
            if d.setting == "adjuvant" and course.adjuvant_from is None:
                course.adjuvant_from = day
            return
        course = Course(d.drug, day, d.setting, d.dose_mg, [(day, d.dose_mg)])
        if d.setting == "adjuvant":
            course.adjuvant_from = day
        if self.advanced_since is not None:
            course.line = self._line_for(course)
        self.courses.append(course)

    def _line_for(self, course: Course) -> int:
        """§7 advanced.lines: a restart of the same drug within 30 days continues its line."""
        previous = next(
            (c for c in reversed(self.courses) if c.drug == course.drug and c.stop is not None), None
        )
        if (
            previous is not None
            and previous.stop is not None
            and previous.line is not None
            and (course.start - previous.stop).days <= self.line_continuation_days
        ):
            return previous.line
        self.lines_opened += 1
        course.opened_line = True
        return self.lines_opened

    # ---- questions the rules ask --------------------------------------------------------------

    def running_course(self, drug: str) -> Course | None:
        for course in reversed(self.courses):
            if course.drug == drug and course.stop is None:
                return course
        return None

    def current_course(self) -> Course | None:
        """The running course that started last (the plan's ``therapy``)."""
        running = [c for c in self.courses if c.stop is None]
        if not running:
            return None
        return max(running, key=lambda c: (c.start, c.drug))

    def risk(self) -> RiskAssessment:
        """Risk from the latest pathology (§1 tumour facts); cached until pathology/rupture changes."""
        if self._risk_cache is None:
            p = self.pathology
            if p is None:
                self._risk_cache = assess_risk(None, None, self.diagnosis_site, self.is_ruptured)
            else:
                site = p.site or self.diagnosis_site
                self._risk_cache = assess_risk(p.size_cm, p.mitoses_per_5mm2, site, self.is_ruptured)
        return self._risk_cache

    def tumour_site(self) -> str | None:
        if self.pathology is not None and self.pathology.site is not None:
            return self.pathology.site
        return self.diagnosis_site

    def tumour_size_cm(self) -> float | None:
        return self.pathology.size_cm if self.pathology is not None else self.diagnosis_size_cm

    @property
    def has_mutation(self) -> bool:
        return bool(self.mutations)

    def has_kit_exon9(self) -> bool:
        return any(m.gene == "KIT" and m.exon == 9 for m in self.mutations)

    def has_pdgfra_d842v(self) -> bool:
        return any(
            m.gene == "PDGFRA" and m.variant is not None and "D842V" in m.variant.upper()
            for m in self.mutations
        )

    def has_pdgfra_exon18(self) -> bool:
        return any(m.gene == "PDGFRA" and m.exon == 18 for m in self.mutations) or self.has_pdgfra_d842v()

    def is_unlikely_to_benefit_from_imatinib(self) -> bool:
        """PDGFRA D842V, SDH-deficient, NF1-related or wild-type GIST (§5 adjuvant.indicated)."""
        return self.has_pdgfra_d842v() or any(m.gene in _UNLIKELY_BENEFIT_GENES for m in self.mutations)

    def progressed_after(self, day: dt.date) -> bool:
        """A progression event or a progressive scan on a day later than ``day``.

        Loops, not any() of generators: those would make ``day`` a cell on every call."""
        for p in self.progressions:
            if p.day > day:
                return True
        for d in self.progressive_imaging:  # noqa: SIM110 (any() of a generator: a cell per call)
            if d > day:
                return True
        return False

    def latest_progression(self) -> Progression | None:
        return self.progressions[-1] if self.progressions else None

    def is_progression_answered(self, progression: Progression) -> bool:
        """Answered = a course started or a dose changed on or after it (§7 advanced.next_line)."""
        for course in self.courses:
            if course.start >= progression.day:
                return True
            if any(when >= progression.day for when, _ in course.doses[1:]):
                return True
        return False

    def lab_since(self, test: str, day: dt.date) -> LabValue | None:
        """The latest result of ``test`` if it was taken on or after ``day``."""
        value = self.labs.get(test)
        return value if value is not None and value.day >= day else None

    # ---- rule conditions shared by a reminder rule and its alert (one definition each) --------

    def needs_rectal_tissue(self) -> bool:
        """§4 workup.rectal: a rectal tumour without tissue or resection, not advanced."""
        return (
            self.has_tumour
            and self.tumour_site() == "rectum"
            and not self.has_tissue
            and not self.is_resected
            and not self.is_advanced
        )

    def lacks_mutation_analysis(self) -> bool:
        """§4 workup.mutation: GIST confirmed and no mutation result."""
        return self.is_gist_confirmed and not self.has_mutation

    def mutation_test_optional(self, threshold_cm: float) -> bool:
        """§4 workup.mutation's exception: a tumour < 2 cm outside the rectum (info, no reminder)."""
        return self.small_tumour(threshold_cm) and self.tumour_site() != "rectum"

    def responding_imatinib(self) -> Course | None:
        """§7 advanced.cytoreduction: the running imatinib course, if nothing progressed since it began."""
        imatinib = self.running_course("imatinib")
        return imatinib if imatinib is not None and not self.progressed_after(imatinib.start) else None

    def tki_ran_before(self, day: dt.date, lookback_days: int) -> bool:
        """§7 advanced.resume_after_surgery: a TKI running at some time in the days before ``day``."""
        since = day - dt.timedelta(days=lookback_days)
        return any(
            x.drug in TKIS and x.start < day and (x.stop is None or x.stop >= since) for x in self.courses
        )

    def started_on_or_after(self, day: dt.date) -> bool:
        return any(x.start >= day for x in self.courses)

    def small_tumour(self, threshold_cm: float) -> bool:
        """The management threshold "< 2 cm" (not the ≤ 2.0 cm risk band, §1)."""
        size = self.tumour_size_cm()
        return size is not None and size < threshold_cm


_HANDLERS: dict[str, Callable[[Case, dt.date, ev.EventData], bool]] = {
    "patient_registered": Case._on_routine,
    "diagnosis": Case._on_diagnosis,
    "biopsy": Case._on_biopsy,
    "metastasis": Case._on_metastasis,
    "rupture": Case._on_rupture,
    "resection": Case._on_resection,
    "pathology": Case._on_pathology,
    "mutation": Case._on_mutation,
    "progression": Case._on_progression,
    "imaging": Case._on_imaging,
    "lab_result": Case._on_lab,
    "visit": Case._on_routine,  # visits and MDT reviews only fulfil reminders (§9)
    "therapy_stopped": Case._on_stopped,
    "therapy_started": Case._on_started,
    "dose_changed": Case._on_dose,
    "mdt_review": Case._on_routine,
    "follow_up_ended": Case._on_ended,
}
