"""Reminder rules (clinical-rules §4–§8): what series each rule wants on an event day.

``update_series`` runs once per event day, after the day's events have updated the case (step one
of §0 "a day in two steps"); the book then applies the day's fulfilment (step two). Each block
below is one rule id of clinical-rules.md; ids, rationales and citations come from
rules/catalogue.py, intervals and thresholds from the profile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import get_args

from scheduler.domain import events as ev
from scheduler.domain.book import Book
from scheduler.domain.case import TKIS, Case, Course
from scheduler.domain.dates import add_days, add_months, add_years, iso
from scheduler.domain.model import Stage
from scheduler.domain.profile import ChainedSchedule, FixedSchedule, Profile
from scheduler.domain.rules.catalogue import RULES
from scheduler.domain.series import Chained, Fixed, Fulfils, OneOff, Series, fixed_dues, fixed_spaced_from

_WORKUP_RULES = ("workup.rectal", "workup.small_gastric", "workup.tissue", "workup.rupture_unresected")
_LAB_KINDS = frozenset({"lab_lft", "lab_cbc", "lab_tsh"})
_LFT = frozenset({"alt", "ast", "bilirubin"})
_CBC = frozenset({"neutrophils", "platelets", "hemoglobin"})
_THERAPY_EVENTS = (ev.TherapyStartedData, ev.TherapyStoppedData, ev.DoseChangedData)
# rule ids by schedule name and by drug, made once: an f-string per event day also made the book
# hash a new string for every series it looked up
_SURVEILLANCE_RULE_IDS = {r.removeprefix("surveillance."): r for r in RULES if r.startswith("surveillance.")}
_MONITORING_RULE_IDS = {drug: f"monitoring.{drug}" for drug in TKIS}
_NO_SCHEDULES: dict[str, FixedSchedule] = {}


_IMAGING_KINDS: dict[str, tuple[str, ...]] = {"ct": ("ct",), "mri": ("ct", "mri"), "eus": ("eus",), "pet": ()}
_LAB_KIND: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(_LFT, ("lab_lft",)),
    **dict.fromkeys(_CBC, ("lab_cbc",)),
    "tsh": ("lab_tsh",),
    "lvef": ("echo",),
}
_VISIT_KINDS: dict[str, tuple[str, ...]] = {kind: (kind,) for kind in get_args(ev.VisitKind)}
_FIXED_KINDS: dict[str, tuple[str, ...]] = {
    "mdt_review": ("mdt_review", "therapy_review"),
    "mutation": ("mutation_test",),
    "therapy_started": ("therapy_review",),
    "therapy_stopped": ("therapy_review",),
    "dose_changed": ("therapy_review",),
}


def kinds_fulfilled_by(event_type: str, d: ev.EventData) -> tuple[str, ...]:
    """§9 "what fulfils what": the reminder kinds an event can fulfil (an MRI also fulfils a CT).

    Called for every event, so it tests the event type (a string comparison) in order of how
    often each comes (scans, labs, visits), and reads the one field it needs from the data's
    ``__dict__`` (each event type has exactly one data class)."""
    if event_type == "imaging":
        return _IMAGING_KINDS[d.__dict__["modality"]]
    if event_type == "lab_result":
        return _LAB_KIND[d.__dict__["test"]]
    if event_type == "visit":
        return _VISIT_KINDS[d.__dict__["kind"]]
    if event_type == "biopsy":
        return ("biopsy",) if d.__dict__["result"] in ("gist", "not_gist") else ()
    return _FIXED_KINDS.get(event_type, ())


def _fulfils_review_of(drug: str) -> Fulfils:
    def fulfils(e: ev.Event) -> bool:
        d = e.data
        if isinstance(d, ev.MdtReviewData):
            return True
        return isinstance(d, _THERAPY_EVENTS) and d.drug == drug

    return fulfils


def _fulfils_resume_review(e: ev.Event) -> bool:
    return isinstance(e.data, ev.MdtReviewData | ev.TherapyStartedData)


class Planner:
    """Applies the reminder rules to a book; one per patient replay."""

    __slots__ = ("book", "case", "prev_stage", "profile")

    def __init__(self, case: Case, book: Book, profile: Profile) -> None:
        self.case = case
        self.book = book
        self.profile = profile
        self.prev_stage: Stage | None = None

    # ---- helpers -------------------------------------------------------------------------------

    def _oneoff(
        self,
        rule_id: str,
        kind: str,
        anchor: dt.date,
        day: dt.date,
        detail: str,
        due: dt.date | None = None,
        window: int | None = None,
        fulfils: Fulfils | None = None,
    ) -> None:
        if self._opened(rule_id, kind, anchor):  # the common case on later days
            return
        p = self.profile
        # factories are partials, not closures: a function defining a closure makes a cell for each
        # variable it captures on every call, even when it returns before the closure is needed
        make = partial(
            OneOff,
            RULES[rule_id],
            kind,
            anchor,
            day,
            detail,
            due if due is not None else add_days(anchor, p.oneoff_due_days),
            window if window is not None else p.oneoff_window_days,
            fulfils,
        )
        self.book.trigger((rule_id, kind, anchor), make)

    def _opened(self, rule_id: str, kind: str, anchor: dt.date) -> bool:
        """A one-off opens at most once: callers that build costly arguments ask this first."""
        return (rule_id, kind, anchor) in self.book.oneoffs

    def _episode_oneoffs(self, rule_id: str, kinds: Iterable[str], day: dt.date, detail: str) -> None:
        """A one-off per kind, anchored on the first day of the condition's current run; called only
        on days the condition holds (see Book.episode)."""
        for kind in kinds:
            self._oneoff(rule_id, kind, self.book.episode(rule_id, kind, day), day, detail)

    def _chained(
        self,
        rule_id: str,
        kind: str,
        anchor: dt.date,
        day: dt.date,
        detail: str,
        schedule: ChainedSchedule,
        last_done: dt.date | None,
    ) -> None:
        """Want the chained series (rule_id, kind, anchor) today, opening it if it is not open."""
        if self.book.keep((rule_id, kind, anchor)):  # open already: the common case
            return
        make = partial(Chained, RULES[rule_id], kind, anchor, day, detail, schedule, last_done)
        self.book.want((rule_id, kind, anchor), make)

    # ---- the day -------------------------------------------------------------------------------

    def update(self, day: dt.date, stage: Stage) -> None:
        c, book = self.case, self.book
        if c.is_ended:
            book.close_everything(day)
            return
        if c.resection_on == day:  # "a resection closes every work-up series"
            book.end(day, _WORKUP_RULES)
        if c.is_advanced:  # advanced disease closes the adjuvant reviews
            book.end(day, ("adjuvant.duration",))
        self._workup(day, stage)
        self._surveillance(day)
        self._adjuvant(day)
        self._advanced(day)
        self._monitoring(day)
        book.end_of_rules(day)
        self.prev_stage = stage

    # §4 work-up ---------------------------------------------------------------------------------

    def _workup(self, day: dt.date, stage: Stage) -> None:
        c = self.case
        if not c.is_resected:  # rectal, small-tumour, tissue and rupture work-up end at resection
            self._unresected_workup(day, stage)
        self._mutation(day)

    def _unresected_workup(self, day: dt.date, stage: Stage) -> None:
        c, p = self.case, self.profile
        unresected_no_tissue = c.has_tumour and not c.has_tissue and not c.is_resected
        is_rectal = c.tumour_site() == "rectum"
        if c.needs_rectal_tissue():  # (episodes are recorded only while their condition holds)
            rectal_kinds = ("eus", "mri", "biopsy")
            self._episode_oneoffs("workup.rectal", rectal_kinds, day, "rectal tumour without tissue")

        small = stage == "small_tumour_surveillance"
        grew = (
            c.eus_growth_on is not None and c.diagnosis_on is not None and c.eus_growth_on >= c.diagnosis_on
        )
        if small and not grew:
            self._chained(
                "workup.small_gastric",
                "eus",
                self.book.episode("workup.small_gastric", "eus", day),
                day,
                "small gastric/duodenal nodule under EUS surveillance",
                p.small_gastric_eus,
                c.last_eus,
            )
        was_small = small or self.prev_stage == "small_tumour_surveillance"
        if was_small and day in (c.eus_growth_on, c.gist_biopsy_on):
            why = "EUS shows growth" if c.eus_growth_on == day else "biopsy shows GIST"
            self._oneoff("workup.small_gastric", "mdt_review", day, day, f"{why}: resection is the default")

        tissue = unresected_no_tissue and not small and not (is_rectal and not c.is_advanced)
        if tissue:
            kinds = ("biopsy",) if c.is_advanced else ("biopsy", "mdt_review")
            self._episode_oneoffs("workup.tissue", kinds, day, "tumour without tissue diagnosis")

        if (
            c.ruptures
            and c.ruptures[-1] == day
            and (c.first_resection_on is None or c.first_resection_on > day)
        ):
            self._oneoff(
                "workup.rupture_unresected",
                "mdt_review",
                day,
                day,
                "tumour ruptured before surgery",
                due=add_days(day, p.rupture_review_due_days),
            )

    def _mutation(self, day: dt.date) -> None:
        c, p = self.case, self.profile
        if c.lacks_mutation_analysis() and not c.mutation_test_optional(p.small_tumour_cm):
            self._episode_oneoffs(
                "workup.mutation", ("mutation_test",), day, "GIST confirmed, no KIT/PDGFRA result"
            )

    # §6 surveillance imaging after resection ----------------------------------------------------------

    def _surveillance(self, day: dt.date) -> None:
        c = self.case
        if not c.is_resected or c.is_advanced or c.resection_on is None:
            return
        resection = c.resection_on
        if c.is_ruptured:
            name, anchor, detail = "ruptured", resection, "ruptured GIST, resected"
        elif c.pathology is None:
            name, anchor, detail = "awaiting_pathology", resection, "resected, pathology awaited"
        else:
            tier = c.risk().nih_modified
            if tier in (None, "very_low"):
                return
            if tier != "high":
                name, anchor, detail = str(tier), resection, f"{tier} risk, resected"
            else:
                adjuvant = next((x for x in c.courses if x.is_running and x.adjuvant_from is not None), None)
                if adjuvant is not None and adjuvant.adjuvant_from is not None:
                    name, anchor = "high_adjuvant", max(adjuvant.adjuvant_from, resection)
                    detail = f"high risk on adjuvant {adjuvant.drug}"
                else:
                    stops = []  # a loop, not a comprehension: that would make ``resection`` a cell
                    for x in c.courses:
                        if x.adjuvant_from is not None and x.stop is not None and x.stop >= resection:
                            stops.append(x.stop)
                    anchor = max(stops) if stops else resection
                    name = "high"
                    detail = "high risk, adjuvant therapy stopped" if stops else "high risk, resected"
        schedule = self.profile.surveillance[name]
        self._chained(_SURVEILLANCE_RULE_IDS[name], "ct", anchor, day, detail, schedule, c.last_ct_or_mri)

    # §5 adjuvant reviews ----------------------------------------------------------------------------

    def _adjuvant(self, day: dt.date) -> None:
        c, p = self.case, self.profile
        if not c.is_resected or c.is_advanced:
            return
        for course in c.courses:
            if (
                course.drug == "imatinib"
                and course.adjuvant_from is not None
                and course.stop is None  # course.is_running
                # opened already (the common case): skip building its detail, due date and test
                and not self._opened("adjuvant.duration", "therapy_review", course.start)
            ):
                self._oneoff(
                    "adjuvant.duration",
                    "therapy_review",
                    course.start,
                    day,
                    f"adjuvant imatinib started {iso(course.start)}"
                    + ("; after rupture: discuss continuing" if c.is_ruptured else ""),
                    due=add_years(course.start, p.adjuvant_years),
                    fulfils=_fulfils_review_of("imatinib"),
                )
        self.book.end(day, ("adjuvant.duration",), partial(_course_stopped, c, "imatinib"))

    # §7 advanced disease ------------------------------------------------------------------------------

    def _advanced(self, day: dt.date) -> None:
        c, p = self.case, self.profile
        since = c.advanced_since
        if since is None:
            return
        anchor = since  # the latest start of a line since then, if any
        for x in c.courses:
            if x.opened_line and x.start > anchor:
                anchor = x.start
        self._chained(
            "advanced.imaging", "ct", anchor, day, "advanced disease", p.advanced_imaging, c.last_ct_or_mri
        )

        latest = c.latest_progression()
        if latest is not None and latest.day == day and latest.pattern == "focal":
            self._oneoff(
                "advanced.next_line",
                "mdt_review",
                day,
                day,
                "focal progression: consider local treatment of the growing lesion",
            )

        imatinib = c.responding_imatinib()
        if imatinib is None:
            self.book.end(day, ("advanced.cytoreduction",))
        elif not self._opened("advanced.cytoreduction", "mdt_review", max(imatinib.start, since)):
            # (opened already is the common case: its due date is not computed again)
            self._oneoff(
                "advanced.cytoreduction",
                "mdt_review",
                max(imatinib.start, since),
                day,
                "responding to imatinib: consider surgery of residual disease",
                due=max(add_months(imatinib.start, p.cytoreduction_from_months), since),
            )

        if (
            c.resection_on == day
            and day > since
            and c.tki_ran_before(day, p.resume_lookback_days)
            and not c.started_on_or_after(day)
        ):
            self._oneoff(
                "advanced.resume_after_surgery",
                "therapy_review",
                day,
                day,
                "surgery in advanced disease: resume the TKI",
                due=add_days(day, p.resume_review_due_days),
                fulfils=_fulfils_resume_review,
            )

    # §8 drug monitoring ------------------------------------------------------------------------------

    def _monitoring(self, day: dt.date) -> None:
        c, p = self.case, self.profile
        windows = (p.short_lab_window_days, p.long_window_days, p.short_lab_max_gap_days)
        book = self.book
        for course in c.courses:
            if course.stop is not None or course.drug not in TKIS:  # not course.is_running
                continue
            drug, start = course.drug, course.start
            rule_id = _MONITORING_RULE_IDS[drug]
            for kind, schedule in p.monitoring.get(drug, _NO_SCHEDULES).items():
                if not book.keep((rule_id, kind, start)):
                    book.want(
                        (rule_id, kind, start),
                        _fixed_factory(rule_id, kind, start, day, _started(drug, start), schedule, windows),
                    )
            if drug == "sunitinib":
                for kind in ("lab_lft", "lab_cbc"):
                    if not book.keep((rule_id, kind, start)):
                        book.want(
                            (rule_id, kind, start),
                            _cycle_factory(rule_id, kind, course, day, _started(drug, start), p, windows),
                        )
            elif drug == "ripretinib":
                if not book.keep((rule_id, "skin_exam", start)):
                    book.want((rule_id, "skin_exam", start), _skin_factory(start, day, p))
            elif drug == "regorafenib":
                self._regorafenib_liver(day, course, windows)

    def _regorafenib_liver(self, day: dt.date, course: Course, windows: tuple[int, int, int]) -> None:
        c, p = self.case, self.profile
        high = False  # ALT or AST since the start above the threshold (loops: no cells per call)
        for test in ("alt", "ast"):
            value = c.lab_since(test, course.start)
            ratio = value.ratio if value is not None else None
            if ratio is not None and ratio > p.regorafenib_liver_weekly_above_uln:
                high = True
                break
        start = self.book.episode("monitoring.regorafenib_liver", "lab_lft", day) if high else None
        regular = self.book.held_series("monitoring.regorafenib", "lab_lft")
        if start is None:
            if isinstance(regular, Fixed):
                regular.resume(day)
            return
        if isinstance(regular, Fixed) and not (regular.suspensions and regular.suspensions[-1][1] is None):
            regular.suspend(start)
        if self.book.keep(("monitoring.regorafenib_liver", "lab_lft", start)):
            return
        weekly = FixedSchedule(days=(p.weekly_liver_days,), then_every_days=p.weekly_liver_days)
        self.book.want(
            ("monitoring.regorafenib_liver", "lab_lft", start),
            _fixed_factory(
                "monitoring.regorafenib_liver",
                "lab_lft",
                start,
                day,
                f"ALT/AST above {p.regorafenib_liver_weekly_above_uln:g}× ULN on "
                f"regorafenib since {iso(start)}",
                weekly,
                windows,
            ),
        )


def _started(drug: str, start: dt.date) -> str:
    """A monitoring series' detail; built only when a series opens (most days it is already open)."""
    return f"{drug} started {iso(start)}"


def _skin_factory(start: dt.date, day: dt.date, p: Profile) -> Callable[[], Series]:
    def make() -> Chained:
        return Chained(
            RULES["monitoring.ripretinib"],
            "skin_exam",
            start,
            day,
            _started("ripretinib", start),
            p.ripretinib_skin,
            None,
        )

    return make


def _fixed_factory(
    rule_id: str,
    kind: str,
    start: dt.date,
    day: dt.date,
    detail: str,
    schedule: FixedSchedule,
    windows: tuple[int, int, int],
) -> Callable[[], Series]:
    def make() -> Fixed:
        dues = fixed_dues(start, schedule)
        spaced_from = fixed_spaced_from(schedule, windows[2])
        return Fixed(
            RULES[rule_id],
            kind,
            start,
            day,
            detail,
            dues,
            kind in _LAB_KINDS,
            windows,
            spaced_from=spaced_from,
        )

    return make


def _cycle_factory(
    rule_id: str,
    kind: str,
    course: Course,
    day: dt.date,
    detail: str,
    p: Profile,
    windows: tuple[int, int, int],
) -> Callable[[], Series]:
    """Sunitinib labs at the start of each cycle: 6 weeks for 4/2 dosing, 4 weeks at ≤ 37.5 mg."""

    def cycle_starts() -> Iterator[dt.date]:
        # lazy: each start is computed when the series needs it, from the dose known by then
        start = course.start
        while True:
            yield start
            continuous = course.dose_on(start) <= p.sunitinib_continuous_max_dose_mg
            cycle_days = p.sunitinib_continuous_cycle_days if continuous else p.sunitinib_cycle_days
            start = add_days(start, cycle_days)

    def make() -> Fixed:
        return Fixed(
            RULES[rule_id], kind, course.start, day, detail, cycle_starts(), kind in _LAB_KINDS, windows
        )

    return make


def _running_from(c: Case, drug: str, start: dt.date) -> bool:
    return any(x.drug == drug and x.start == start and x.is_running for x in c.courses)


def _course_stopped(c: Case, drug: str, series: OneOff) -> bool:
    """No course of ``drug`` started on the one-off's anchor is running any more."""
    return not _running_from(c, drug, series.anchor)
