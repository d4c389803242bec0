"""A patient's clinical case, rebuilt by replaying events (clinical-rules §0–§1).

``Case`` holds only facts (what happened, when), never reminders. The planner folds one event at a
time into it, in replay order; the rules (``scheduler/domain/rules/``) then ask it questions whose
names follow clinical-rules.md (``is_advanced``, ``running_course``, ``progressed_after`` …).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scheduler.domain import events as ev
from scheduler.domain.dates import add_days
from scheduler.domain.model import Booking, RiskAssessment
from scheduler.domain.risk import assess_risk

T = TypeVar("T")
TKIS = frozenset({"imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"})
PROGRESSIVE_IMAGING = frozenset({"progression", "growth", "new_lesion"})
GROWTH_ON_EUS = frozenset({"growth", "new_lesion"})
_UNLIKELY_BENEFIT_GENES = frozenset({"SDH", "NF1", "wild_type"})
TISSUE_RESULTS = frozenset({"gist", "not_gist"})

# §9 "what fulfils what": the reminder kinds an event is a result of (an MRI also fulfils a CT).
_IMAGING_KINDS = {"ct": ("ct",), "mri": ("ct", "mri"), "eus": ("eus",), "pet": ()}
_LAB_KINDS = {
    "alt": ("lab_lft",), "ast": ("lab_lft",), "bilirubin": ("lab_lft",),
    "neutrophils": ("lab_cbc",), "platelets": ("lab_cbc",), "hemoglobin": ("lab_cbc",),
    "tsh": ("lab_tsh",), "lvef": ("echo",),
}  # fmt: skip


_THERAPY_REVIEW = ("therapy_review",)
_KINDS_DONE_BY: dict[type[ev.EventData], Callable[[Any], tuple[str, ...]]] = {
    ev.ImagingData: lambda data: _IMAGING_KINDS[data.modality],
    ev.LabResultData: lambda data: _LAB_KINDS[data.test],
    ev.VisitData: lambda data: (data.kind,),
    ev.BiopsyData: lambda data: ("biopsy",) if data.result in TISSUE_RESULTS else (),
    ev.MdtReviewData: lambda data: ("mdt_review", "therapy_review"),
    ev.MutationData: lambda data: ("mutation_test",),
    ev.TherapyStartedData: lambda data: _THERAPY_REVIEW,
    ev.TherapyStoppedData: lambda data: _THERAPY_REVIEW,
    ev.DoseChangedData: lambda data: _THERAPY_REVIEW,
}


def kinds_done_by(event: ev.Event) -> tuple[str, ...]:
    """The reminder kinds ``event`` is a result of (clinical-rules §9); other events: none."""
    kinds_of = _KINDS_DONE_BY.get(type(event.data))
    return kinds_of(event.data) if kinds_of is not None else ()


@dataclass(frozen=True, slots=True)
class LabValue:
    """One lab result, as a multiple of its upper limit of normal where one is given."""

    day: dt.date
    value: float
    uln: float | None

    @property
    def ratio(self) -> float | None:
        return self.value / self.uln if self.uln else None


@dataclass(frozen=True, slots=True)
class Progression:
    day: dt.date
    pattern: str | None
    drug: str | None  # the course running when it happened (None if none)
    dose_mg: float | None


@dataclass(slots=True)
class Course:
    """One drug course: from a start to the stop of the same drug (§1 "Drug course")."""

    drug: str
    start: dt.date
    setting: str  # the current setting (a neoadjuvant course becomes adjuvant at resection)
    dose_mg: float
    started_as: str  # the setting it was started in
    doses: list[tuple[dt.date, float]] = field(default_factory=list)
    stop: dt.date | None = None
    stop_reason: str | None = None
    line: int | None = None
    opened_line: bool = False  # it started a new line (advanced.imaging is anchored again there)
    adjuvant_from: dt.date | None = None  # when it became adjuvant (its start, or the resection)
    labs_at_stop: dict[str, LabValue] = field(default_factory=dict)  # the latest results then

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


@dataclass(slots=True)
class Case:
    patient_id: str
    line_continuation_days: int = 30
    diagnoses: list[tuple[dt.date, ev.DiagnosisData]] = field(default_factory=list)
    biopsies: list[tuple[dt.date, ev.BiopsyData]] = field(default_factory=list)
    pathology: ev.PathologyData | None = None
    has_bouin: bool = False
    mutations: list[tuple[dt.date, ev.MutationData]] = field(default_factory=list)
    resections: list[dt.date] = field(default_factory=list)
    ruptures: list[dt.date] = field(default_factory=list)
    metastasis_on: dt.date | None = None
    advanced_since: dt.date | None = None
    progressions: list[Progression] = field(default_factory=list)
    progressive_imaging: list[dt.date] = field(default_factory=list)
    eus_growth_on: dt.date | None = None
    last_done: dict[str, dt.date] = field(default_factory=dict)  # reminder kind → latest result
    labs: dict[str, LabValue] = field(default_factory=dict)  # test → latest result
    courses: list[Course] = field(default_factory=list)
    lines_opened: int = 0
    mdt_reviews: list[tuple[dt.date, str | None]] = field(default_factory=list)  # (day, outcome)
    bookings: dict[str, Booking] = field(default_factory=dict)  # reminder key → latest booking
    snoozes: dict[str, dt.date] = field(default_factory=dict)  # reminder key → off the worklist until
    ended_on: dt.date | None = None
    _derived: dict[object, object] = field(default_factory=dict)  # see remember()

    def remember(self, key: object, compute: Callable[[], T]) -> T:
        """A derived fact (risk, stage, …), computed once per state of the case: rules ask the
        same questions many times a day, and the state changes only in ``apply``."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]  # type: ignore[return-value]

    # ---- replay -------------------------------------------------------------------------------

    def apply(self, event: ev.Event) -> None:
        """Fold one event into the case (events arrive in replay order, clinical-rules §0)."""
        day, data = event.occurred_on, event.data
        self._derived.clear()
        for kind in kinds_done_by(event):
            self.last_done[kind] = day
        if isinstance(data, ev.TherapyStartedData | ev.TherapyStoppedData | ev.DoseChangedData):
            self._apply_therapy(day, data)
        else:
            self._apply_finding(day, data)

    def _apply_finding(self, day: dt.date, data: ev.EventData) -> None:
        """What was found or done to the tumour, and the results that follow it."""
        if isinstance(data, ev.DiagnosisData):
            self.diagnoses.append((day, data))
            if data.metastatic:
                self._become_advanced(day)
        elif isinstance(data, ev.BiopsyData):
            self.biopsies.append((day, data))
        elif isinstance(data, ev.MetastasisData):
            self.metastasis_on = self.metastasis_on or day
            self._become_advanced(day)
        elif isinstance(data, ev.RuptureData):
            self.ruptures.append(day)
        elif isinstance(data, ev.ResectionData):
            self._resect(day, data.margin)
        elif isinstance(data, ev.PathologyData):
            self.pathology = data
            self.has_bouin = self.has_bouin or data.fixative == "bouin"
        elif isinstance(data, ev.MutationData):
            self.mutations.append((day, data))
        elif isinstance(data, ev.ProgressionData):
            running = self.current_course()
            drug = running.drug if running else None
            dose = running.dose_on(day) if running else None
            self.progressions.append(Progression(day, data.pattern, drug, dose))
            self._become_advanced(day)
        elif isinstance(data, ev.ImagingData):
            if data.result in PROGRESSIVE_IMAGING:
                self.progressive_imaging.append(day)
            if data.modality == "eus" and data.result in GROWTH_ON_EUS:
                self.eus_growth_on = day
        elif isinstance(data, ev.LabResultData):
            self.labs[data.test] = LabValue(day, data.value, data.uln)
        elif isinstance(data, ev.MdtReviewData):
            self.mdt_reviews.append((day, data.outcome))
        elif isinstance(data, ev.FollowUpEndedData):
            self.ended_on = self.ended_on or day
        elif isinstance(data, ev.ReminderBookedData):
            self.bookings[data.reminder_key] = Booking(data.appointment_on, data.place, day)
        elif isinstance(data, ev.ReminderSnoozedData):
            self.snoozes[data.reminder_key] = data.until

    def _apply_therapy(
        self, day: dt.date, data: ev.TherapyStartedData | ev.TherapyStoppedData | ev.DoseChangedData
    ) -> None:
        if isinstance(data, ev.TherapyStartedData):
            self._start(day, data)
            return
        course = self.running_course(data.drug)
        if course is None:
            return  # a stop or dose change with no running course of the drug is ignored (§1)
        if isinstance(data, ev.TherapyStoppedData):
            course.stop, course.stop_reason = day, data.reason
            course.labs_at_stop = dict(self.labs)
        else:
            course.dose_mg = data.dose_mg
            course.doses.append((day, data.dose_mg))

    def _become_advanced(self, day: dt.date) -> None:
        if self.advanced_since is not None:
            return
        self.advanced_since = day
        for course in self.courses:  # "a course running when the disease became advanced is line 1"
            if course.is_running and course.line is None:
                course.line = 1
                self.lines_opened = 1

    def _resect(self, day: dt.date, margin: str) -> None:
        self.resections.append(day)
        for course in self.courses:  # a neoadjuvant course running at resection becomes adjuvant
            if course.is_running and course.setting == "neoadjuvant":
                course.setting = "adjuvant"
                course.adjuvant_from = day
        if margin == "R2":
            self._become_advanced(day)

    def _start(self, day: dt.date, data: ev.TherapyStartedData) -> None:
        if data.setting == "advanced":
            self._become_advanced(day)  # running courses become line 1 before this one's line
        course = self.running_course(data.drug)
        if course is not None:  # a start of a running drug continues its course
            course.setting, course.dose_mg = data.setting, data.dose_mg
            course.doses.append((day, data.dose_mg))
            if data.setting == "adjuvant" and course.adjuvant_from is None:
                course.adjuvant_from = day
            return
        course = Course(data.drug, day, data.setting, data.dose_mg, data.setting, [(day, data.dose_mg)])
        if data.setting == "adjuvant":
            course.adjuvant_from = day
        if self.advanced_since is not None:
            self._assign_line(course)
        self.courses.append(course)

    def _assign_line(self, course: Course) -> None:
        """§7 advanced.lines: a restart of the same drug continues the line of its last course when
        nothing progressed since that stop (whatever the gap) or it came within the continuation
        days; a stop for progression, or another line started since the stop, makes it a
        rechallenge: a new line."""
        previous = self.last_stopped_course(course.drug)
        if previous is not None and previous.line is not None and previous.stop is not None:
            stop = previous.stop
            rechallenge = previous.stop_reason == "progression" or any(
                other.opened_line and other.start > stop and other.drug != course.drug
                for other in self.courses
            )
            soon = (course.start - stop).days <= self.line_continuation_days
            if not rechallenge and (soon or not self.progressed_between(stop, course.start)):
                course.line = previous.line
                return
        self.lines_opened += 1
        course.line = self.lines_opened
        course.opened_line = True

    # ---- tumour facts -------------------------------------------------------------------------

    @property
    def diagnosis(self) -> tuple[dt.date, ev.DiagnosisData] | None:
        return self.diagnoses[-1] if self.diagnoses else None

    @property
    def has_tumour(self) -> bool:
        return bool(self.diagnoses) or self.metastasis_on is not None or self.pathology is not None

    @property
    def has_tissue(self) -> bool:
        """A biopsy with result gist or not_gist, or any pathology (§1 "Tissue")."""
        return self.pathology is not None or any(b.result in TISSUE_RESULTS for _, b in self.biopsies)

    @property
    def is_gist_confirmed(self) -> bool:
        return self.pathology is not None or any(b.result == "gist" for _, b in self.biopsies)

    @property
    def is_resected(self) -> bool:
        return bool(self.resections)

    @property
    def resection_on(self) -> dt.date | None:
        return self.resections[-1] if self.resections else None

    @property
    def first_resection_on(self) -> dt.date | None:
        return self.resections[0] if self.resections else None

    @property
    def is_ruptured(self) -> bool:
        return bool(self.ruptures)

    @property
    def is_advanced(self) -> bool:
        return self.advanced_since is not None

    @property
    def is_ended(self) -> bool:
        return self.ended_on is not None

    def tumour_site(self) -> str | None:
        if self.pathology is not None and self.pathology.site is not None:
            return self.pathology.site
        diagnosis = self.diagnosis
        return diagnosis[1].site if diagnosis else None

    def tumour_size_cm(self) -> float | None:
        if self.pathology is not None:
            return self.pathology.size_cm
        diagnosis = self.diagnosis
        return diagnosis[1].size_cm if diagnosis else None

    def small_tumour(self, threshold_cm: float) -> bool:
        """The management threshold "< 2 cm" (not the ≤ 2.0 cm risk band, §1)."""
        size = self.tumour_size_cm()
        return size is not None and size < threshold_cm

    def neoadjuvant_before_resection(self) -> Course | None:
        """§1: the first neoadjuvant course started before the latest resection and after any
        earlier one (even if stopped before surgery)."""
        resection = self.resection_on
        if resection is None:
            return None
        earlier = [day for day in self.resections if day < resection]
        after = earlier[-1] if earlier else dt.date.min
        for course in self.courses:
            if course.started_as == "neoadjuvant" and after < course.start < resection:
                return course
        return None

    def pretreatment_size_and_mitoses(self, start: dt.date) -> tuple[float | None, int | None]:
        """The latest diagnosis's size and the latest biopsy count on or before ``start``."""
        size = next((d.size_cm for day, d in reversed(self.diagnoses) if day <= start), None)
        mitoses = next(
            (b.mitoses_per_5mm2 for day, b in reversed(self.biopsies)
             if day <= start and b.mitoses_per_5mm2 is not None),
            None,
        )  # fmt: skip
        return size, mitoses

    def risk(self) -> RiskAssessment:
        """Risk from the latest pathology (§1 tumour facts), from pre-treatment facts where a
        neoadjuvant course preceded the resection (rule risk.after_neoadjuvant)."""
        return self.remember("risk", self._assess_risk)

    def _assess_risk(self) -> RiskAssessment:
        p = self.pathology
        if p is None:
            return assess_risk(None, None, self.tumour_site(), self.is_ruptured)
        size, mitoses = p.size_cm, p.mitoses_per_5mm2
        course = self.neoadjuvant_before_resection()
        if course is not None:
            before_size, before_mitoses = self.pretreatment_size_and_mitoses(course.start)
            size = max(size, before_size) if before_size is not None else size
            mitoses = max(mitoses, before_mitoses) if before_mitoses is not None else mitoses
        return assess_risk(size, mitoses, self.tumour_site(), self.is_ruptured)

    # ---- mutations ----------------------------------------------------------------------------

    @property
    def has_mutation(self) -> bool:
        return bool(self.mutations)

    def has_kit_exon9(self) -> bool:
        return any(m.gene == "KIT" and m.exon == 9 for _, m in self.mutations)

    def has_pdgfra_d842v(self) -> bool:
        return any(
            m.gene == "PDGFRA" and m.variant is not None and "D842V" in m.variant.upper()
            for _, m in self.mutations
        )

    def has_pdgfra_exon18(self) -> bool:
        return any(m.gene == "PDGFRA" and m.exon == 18 for _, m in self.mutations) or self.has_pdgfra_d842v()

    def is_unlikely_to_benefit_from_imatinib(self) -> bool:
        """PDGFRA D842V, SDH-deficient, NF1-related or wild-type GIST (§5 adjuvant.indicated)."""
        return self.has_pdgfra_d842v() or any(m.gene in _UNLIKELY_BENEFIT_GENES for _, m in self.mutations)

    def has_secondary_kit_exon13_or_14(self) -> bool:
        """A KIT exon 13 or 14 mutation reported after imatinib started (§7 advanced.next_line)."""
        first_imatinib = next((c.start for c in self.courses if c.drug == "imatinib"), None)
        return first_imatinib is not None and any(
            m.gene == "KIT" and m.exon in (13, 14) and day > first_imatinib for day, m in self.mutations
        )

    # ---- courses ------------------------------------------------------------------------------

    def running_course(self, drug: str) -> Course | None:
        for course in reversed(self.courses):
            if course.drug == drug and course.is_running:
                return course
        return None

    def latest_course(self, drug: str) -> Course | None:
        for course in reversed(self.courses):
            if course.drug == drug:
                return course
        return None

    def last_stopped_course(self, drug: str) -> Course | None:
        for course in reversed(self.courses):
            if course.drug == drug and course.stop is not None:
                return course
        return None

    def current_course(self) -> Course | None:
        """The running course that started last (the plan's ``therapy``)."""
        running = [c for c in self.courses if c.is_running]
        return max(running, key=lambda c: (c.start, c.drug)) if running else None

    def running_adjuvant(self) -> Course | None:
        return next((c for c in self.courses if c.is_running and c.is_adjuvant), None)

    def running_neoadjuvant(self) -> Course | None:
        return next((c for c in self.courses if c.is_running and c.setting == "neoadjuvant"), None)

    def started_on_or_after(self, day: dt.date) -> bool:
        return any(c.start >= day for c in self.courses)

    def tki_started_on_or_after(self, day: dt.date) -> bool:
        return any(c.drug in TKIS and c.start >= day for c in self.courses)

    def tki_ran_before(self, day: dt.date, lookback_days: int) -> bool:
        """§7 advanced.resume_after_surgery: a TKI running at some time in the days before ``day``."""
        since = add_days(day, -lookback_days)
        return any(
            c.drug in TKIS and c.start < day and (c.stop is None or c.stop >= since) for c in self.courses
        )

    # ---- progression --------------------------------------------------------------------------

    def progression_days(self) -> list[dt.date]:
        """Days of progression: a progression event or a progressive scan (§7)."""
        return sorted([p.day for p in self.progressions] + self.progressive_imaging)

    def progressed_after(self, day: dt.date) -> bool:
        return any(d > day for d in self.progression_days())

    def progressed_between(self, after: dt.date, until: dt.date) -> bool:
        """A progression on a day later than ``after`` and no later than ``until``."""
        return any(after < d <= until for d in self.progression_days())

    def latest_progression(self) -> Progression | None:
        return self.progressions[-1] if self.progressions else None

    def is_answered(self, progression: Progression) -> bool:
        """Answered = a course started or a dose changed on or after it (§7 advanced.next_line)."""
        for course in self.courses:
            if course.start >= progression.day:
                return True
            if any(when >= progression.day for when, _ in course.doses[1:]):
                return True
        return False

    def unanswered_progression(self) -> Progression | None:
        latest = self.latest_progression()
        return latest if latest is not None and not self.is_answered(latest) else None

    # ---- labs ---------------------------------------------------------------------------------

    def lab_ratio_since(self, test: str, day: dt.date) -> float | None:
        """The latest ``test`` result as a multiple of its ULN, if taken on or after ``day``."""
        value = self.labs.get(test)
        return value.ratio if value is not None and value.day >= day else None

    def transaminases_since(self, day: dt.date) -> float:
        """The higher of the latest ALT and the latest AST (× ULN) taken on or after ``day``; 0 if none."""
        ratios = [r for t in ("alt", "ast") if (r := self.lab_ratio_since(t, day)) is not None]
        return max(ratios, default=0.0)

    def bilirubin_since(self, day: dt.date) -> float:
        return self.lab_ratio_since("bilirubin", day) or 0.0
