"""Synthetic but realistic patient histories for benchmarks (never for clinical tests).

``synthetic_histories(n, seed)`` gives contract-shaped JSON objects (``event_id``, ``patient_id``,
``type``, ``occurred_on``, ``data``); ``synthetic_cohort(n, seed)`` parses them with
``scheduler.domain.events.parse_event``, so every event is valid by construction or the call fails.

Each patient follows one pathway, drawn with roughly clinic-like weights: small gastric nodule
under EUS surveillance, rectal or other work-up, resected low / intermediate / high risk (high with
adjuvant imatinib, sometimes stopped early, sometimes KIT exon 9), ruptured, and advanced disease
through several lines with drug-monitoring labs. Imaging comes every few months, labs and visits
follow the drug schedules, dates fall between 2016 and 2026-11-26, and each history has 10–40
events (routine labs, visits and scans are thinned when a long story would exceed 40; missed tests
are realistic). Patient ``i`` depends only on ``(seed, i)``, not on ``n``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from scheduler.domain.events import Event, parse_event

FIRST_DAY = dt.date(2016, 1, 4)
LAST_DAY = dt.date(2026, 11, 26)  # the day before the benchmark's as_of
MIN_EVENTS, MAX_EVENTS = 10, 40

SAME_DAY_ORDER = (
    "patient_registered", "diagnosis", "biopsy", "metastasis", "rupture", "resection", "pathology",
    "mutation", "progression", "imaging", "lab_result", "visit", "therapy_stopped", "therapy_started",
    "dose_changed", "mdt_review", "follow_up_ended",
)  # fmt: skip
_RANK = {t: i for i, t in enumerate(SAME_DAY_ORDER)}
ROUTINE = frozenset({"lab_result", "visit", "imaging"})
TIMEZONES = ("UTC", "Europe/London", "Europe/Madrid", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
NAVIGATORS = ("nav-ana", "nav-ben", "nav-cy")
ULN = {"alt": 40.0, "ast": 40.0, "bilirubin": 1.2}

Obj = dict[str, Any]


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


class _History:
    """Collects one patient's events; ``essential`` ones survive thinning."""

    def __init__(self, patient_id: str, rng: random.Random) -> None:
        self.patient_id = patient_id
        self.rng = rng
        self.items: list[tuple[dt.date, str, Obj, bool]] = []

    def add(self, day: dt.date, type_: str, essential: bool = True, **data: Any) -> None:
        if day <= LAST_DAY:
            self.items.append((day, type_, data, essential))

    def ct(
        self,
        day: dt.date,
        result: str | None = "no_evidence_of_disease",
        modality: str = "ct",
        essential: bool = False,
    ) -> None:
        data: Obj = {"modality": modality}
        if result is not None:
            data["result"] = result
        self.add(day, "imaging", essential, **data)

    def lab(self, day: dt.date, test: str, value: float) -> None:
        data: Obj = {"test": test, "value": round(value, 1)}
        if test in ULN:
            data["uln"] = ULN[test]
        self.add(day, "lab_result", False, **data)

    def liver(self, day: dt.date, times_uln: float = 0.6) -> None:
        self.lab(day, "alt", ULN["alt"] * times_uln * self.rng.uniform(0.7, 1.3))

    def blood_count(self, day: dt.date) -> None:
        self.lab(day, "neutrophils", self.rng.uniform(1.6, 5.5))

    def visit(self, day: dt.date, kind: str = "clinic_visit") -> None:
        self.add(day, "visit", False, kind=kind)

    def finish(self) -> list[Obj]:
        items = sorted(self.items, key=lambda it: (it[0], _RANK[it[1]]))
        routine = [i for i, it in enumerate(items) if not it[3]]
        excess = len(items) - MAX_EVENTS
        if excess > 0:
            drop = set(self.rng.sample(routine, min(excess, len(routine))))
            items = [it for i, it in enumerate(items) if i not in drop][:MAX_EVENTS]
        day = items[-1][0] if items else FIRST_DAY
        while len(items) < MIN_EVENTS:  # short stories get follow-up visits
            day = day + dt.timedelta(days=self.rng.randint(60, 120))
            day = min(day, LAST_DAY)
            items.append((day, "visit", {"kind": "clinic_visit"}, False))
        items.sort(key=lambda it: (it[0], _RANK[it[1]]))
        return [
            {
                "event_id": f"{self.patient_id}-{n:03d}",
                "patient_id": self.patient_id,
                "type": type_,
                "occurred_on": day.isoformat(),
                "data": data,
            }
            for n, (day, type_, data, _) in enumerate(items, start=1)
        ]


def _start(rng: random.Random, latest: dt.date) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=rng.randint(0, (latest - FIRST_DAY).days))


def _register(h: _History, day: dt.date, index: int) -> None:
    h.add(
        day,
        "patient_registered",
        name=f"Synthetic Patient {index}",
        email=f"patient{index}@example.org",
        navigator_id=h.rng.choice(NAVIGATORS),
        timezone=h.rng.choice(TIMEZONES),
    )


def _mutation(rng: random.Random) -> Obj:
    roll = rng.random()
    if roll < 0.70:
        return {"gene": "KIT", "exon": 11, "variant": rng.choice(["p.W557_K558del", "p.V560D", "p.V559D"])}
    if roll < 0.80:
        return {"gene": "KIT", "exon": 9, "variant": "p.A502_Y503dup"}
    if roll < 0.86:
        return {"gene": "PDGFRA", "exon": 18, "variant": "D842V"}
    if roll < 0.90:
        return {"gene": "PDGFRA", "exon": 12}
    return {"gene": rng.choice(["SDH", "NF1", "wild_type"])}


def _surveillance(h: _History, start: dt.date, every: tuple[int, int], years: int) -> None:
    day, end = start, add_months(start, 12 * years)
    while True:
        day = add_months(day, h.rng.randint(*every)) + dt.timedelta(days=h.rng.randint(-7, 14))
        if day >= end or day > LAST_DAY:
            return
        h.ct(day, "no_evidence_of_disease" if h.rng.random() < 0.9 else "stable")
        h.visit(day)


def _imatinib_labs(h: _History, start: dt.date, stop: dt.date) -> None:
    h.liver(start)
    h.blood_count(start)
    for d in (14, 28, 56):
        h.blood_count(start + dt.timedelta(days=d))
    day = start
    while True:
        day = add_months(day, 3)
        if day >= stop:
            return
        h.liver(day)
        h.blood_count(day)


# --- pathways ------------------------------------------------------------------------------------


def _small_gastric(h: _History, index: int) -> None:
    day = _start(h.rng, dt.date(2025, 6, 1))
    _register(h, day, index)
    h.add(
        day,
        "diagnosis",
        site=h.rng.choice(["stomach", "stomach", "duodenum"]),
        size_cm=round(h.rng.uniform(0.6, 1.9), 1),
        method="eus",
    )
    eus = add_months(day, 3)
    while eus <= LAST_DAY:
        grew = h.rng.random() < 0.04
        h.ct(eus, "growth" if grew else "stable", modality="eus")
        if grew:
            h.add(eus + dt.timedelta(days=14), "mdt_review", decision="Growth on EUS: resection advised.")
            return
        eus = add_months(eus, h.rng.choice([6, 9, 12]))


def _workup(h: _History, index: int) -> None:
    day = _start(h.rng, dt.date(2026, 10, 1))
    _register(h, day, index)
    rectal = h.rng.random() < 0.4
    site = "rectum" if rectal else h.rng.choice(["stomach", "jejunum_ileum", "duodenum", "colon"])
    size = round(h.rng.uniform(0.8, 3.0) if rectal else h.rng.uniform(2.5, 9.0), 1)
    h.add(day, "diagnosis", site=site, size_cm=size, method="endoscopy" if rectal else "imaging")
    h.ct(day, None, modality="mri" if rectal else "ct")
    h.visit(day + dt.timedelta(days=7))
    if h.rng.random() < 0.5:
        h.add(day + dt.timedelta(days=12), "biopsy", result=h.rng.choice(["gist", "inadequate"]), cd117=True)
    h.add(day + dt.timedelta(days=16), "mdt_review", decision="Work-up discussed; tissue diagnosis first.")


_TIER_FACTS: dict[str, Callable[[random.Random], tuple[str, float, int]]] = {
    "low": lambda r: ("stomach", round(r.uniform(2.1, 5.0), 1), r.randint(0, 5)),
    "intermediate": lambda r: ("stomach", round(r.uniform(5.1, 10.0), 1), r.randint(0, 5)),
    "high": lambda r: (
        r.choice(["jejunum_ileum", "stomach", "duodenum", "rectum"]),
        round(r.uniform(5.5, 15.0), 1),
        r.randint(6, 30),
    ),
}


def _resected(h: _History, index: int, tier: str, ruptured: bool = False) -> dt.date:
    """Diagnosis to pathology; returns the resection day."""
    day = _start(h.rng, dt.date(2025, 12, 1))
    _register(h, day, index)
    site, size, mitoses = _TIER_FACTS[tier](h.rng)
    h.add(day, "diagnosis", site=site, size_cm=size, method="imaging")
    h.ct(day, None)
    if h.rng.random() < 0.5:
        h.add(day + dt.timedelta(days=10), "biopsy", result="gist", cd117=True, dog1=True)
    h.add(day + dt.timedelta(days=18), "mdt_review", decision="Primary resection.")
    surgery = day + dt.timedelta(days=h.rng.randint(21, 60))
    if ruptured:
        context = h.rng.choice(["intraoperative", "intraoperative", "spontaneous", "perforation"])
        rupture_day = (
            surgery if context == "intraoperative" else surgery - dt.timedelta(days=h.rng.randint(1, 5))
        )
        h.add(rupture_day, "rupture", context=context)
    h.add(
        surgery,
        "resection",
        margin="R0" if h.rng.random() < 0.9 else "R1",
        approach=h.rng.choice(["open", "laparoscopic"]),
        intent="curative",
    )
    fixative = "bouin" if h.rng.random() < 0.03 else "formalin"
    h.add(
        surgery + dt.timedelta(days=7),
        "pathology",
        size_cm=size,
        mitoses_per_5mm2=mitoses,
        site=site,
        fixative=fixative,
        cd117=True,
        dog1=h.rng.random() < 0.9,
    )
    if h.rng.random() < 0.9:
        h.add(surgery + dt.timedelta(days=28), "mutation", **_mutation(h.rng))
    return surgery


def _resected_low(h: _History, index: int) -> None:
    surgery = _resected(h, index, "low")
    _surveillance(h, surgery, (6, 12), 5)


def _resected_intermediate(h: _History, index: int) -> None:
    surgery = _resected(h, index, "intermediate")
    _surveillance(h, surgery, (3, 6), 5)
    _surveillance(h, add_months(surgery, 60), (12, 12), 5)


def _adjuvant(h: _History, surgery: dt.date) -> dt.date:
    """Adjuvant imatinib, usually 3 years; returns the day it stopped (or LAST_DAY while running)."""
    start = surgery + dt.timedelta(days=h.rng.randint(28, 70))
    exon9 = any(it[1] == "mutation" and it[2].get("exon") == 9 for it in h.items)
    dose = 800 if exon9 and h.rng.random() < 0.5 else 400
    h.add(start, "therapy_started", drug="imatinib", dose_mg=dose, setting="adjuvant")
    roll = h.rng.random()
    if roll < 0.75:
        stop, reason = add_months(start, 36), "completed"
    else:
        stop = start + dt.timedelta(days=h.rng.randint(120, 900))
        reason = h.rng.choice(["toxicity", "patient_choice"])
    _imatinib_labs(h, start, min(stop, LAST_DAY))
    h.add(stop, "therapy_stopped", drug="imatinib", reason=reason)
    day = start
    while (day := add_months(day, h.rng.randint(3, 6))) < min(stop, LAST_DAY):
        h.ct(day)
        h.visit(day)
    return min(stop, LAST_DAY)


def _resected_high(h: _History, index: int, ruptured: bool = False) -> None:
    surgery = _resected(h, index, "high", ruptured=ruptured)
    stopped = _adjuvant(h, surgery) if h.rng.random() < 0.9 else surgery
    _surveillance(h, stopped, (3, 4) if ruptured else (3, 6), 5)
    if h.rng.random() < 0.02:
        h.add(add_months(surgery, 120), "follow_up_ended", reason="discharged")


def _ruptured(h: _History, index: int) -> None:
    _resected_high(h, index, ruptured=True)


_NEXT_DRUG = {
    "imatinib": ("sunitinib", 50),
    "sunitinib": ("regorafenib", 160),
    "regorafenib": ("ripretinib", 150),
}


def _line_start(h: _History, drug: str, dose: int, start: dt.date) -> None:
    """A course begun in advanced disease, with the baseline tests its label asks for."""
    h.add(start, "therapy_started", drug=drug, dose_mg=dose, setting="advanced")
    h.liver(start)
    h.blood_count(start)
    if drug == "sunitinib":
        h.lab(start, "tsh", h.rng.uniform(0.5, 4.0))
        h.lab(start, "lvef", h.rng.uniform(55, 68))
    elif drug == "ripretinib":
        h.visit(start, "skin_exam")
    elif drug == "regorafenib":
        h.liver(start + dt.timedelta(days=14))
        h.liver(start + dt.timedelta(days=28), times_uln=h.rng.choice([0.6, 0.8, 3.5]))


def _on_treatment(h: _History, start: dt.date, months: int, results: tuple[str, ...]) -> dt.date:
    """Scans, labs and visits every 3 months, then a progression; returns its day."""
    scan = start
    for _ in range((months - 1) // 3):  # scans strictly before the progression
        scan = add_months(scan, 3)
        h.ct(scan, h.rng.choice(results))
        h.liver(scan)
        h.blood_count(scan)
        h.visit(scan)
    progression = add_months(start, months)
    h.ct(progression, "progression", essential=True)
    h.add(progression, "progression", pattern="focal" if h.rng.random() < 0.2 else "multifocal")
    return progression


def _advanced(h: _History, index: int) -> None:
    day = _start(h.rng, dt.date(2026, 3, 1))
    _register(h, day, index)
    site = h.rng.choice(["stomach", "jejunum_ileum", "duodenum", "peritoneum"])
    size = round(h.rng.uniform(5.0, 20.0), 1)
    h.add(day, "diagnosis", site=site, size_cm=size, metastatic=True, method="imaging")
    sites = h.rng.sample(["liver", "peritoneum", "omentum", "lung"], k=h.rng.randint(1, 2))
    h.add(day, "metastasis", sites=sites)
    h.ct(day, None)
    h.add(day + dt.timedelta(days=10), "biopsy", result="gist", cd117=True, dog1=True)
    mutation = _mutation(h.rng)
    h.add(day + dt.timedelta(days=24), "mutation", **mutation)
    start = day + dt.timedelta(days=h.rng.randint(28, 40))
    if mutation.get("variant") == "D842V" and h.rng.random() < 0.8:
        drug, dose = "avapritinib", 300
    else:
        drug, dose = "imatinib", 800 if mutation.get("exon") == 9 else 400
    while start <= LAST_DAY:
        _line_start(h, drug, dose, start)
        progression = _on_treatment(h, start, h.rng.randint(6, 40), ("response", "stable", "stable"))
        if drug == "imatinib" and dose < 800 and h.rng.random() < 0.6:
            dose = 800
            escalated = progression + dt.timedelta(days=7)
            h.add(escalated, "dose_changed", drug=drug, dose_mg=dose)
            progression = _on_treatment(h, escalated, h.rng.randint(4, 12), ("stable",))
        h.add(progression + dt.timedelta(days=7), "therapy_stopped", drug=drug, reason="progression")
        h.add(progression + dt.timedelta(days=10), "mdt_review", decision="Progression: next line discussed.")
        following = _NEXT_DRUG.get(drug)
        if following is None:
            if h.rng.random() < 0.5:
                h.add(progression + dt.timedelta(days=60), "follow_up_ended", reason="deceased")
            return
        drug, dose = following
        start = progression + dt.timedelta(days=14)


PATHWAYS: tuple[tuple[Callable[[_History, int], None], float], ...] = (
    (_small_gastric, 0.10),
    (_workup, 0.08),
    (_resected_low, 0.15),
    (_resected_intermediate, 0.12),
    (_resected_high, 0.20),
    (_ruptured, 0.07),
    (_advanced, 0.28),
)


def synthetic_history(index: int, seed: int = 1) -> list[Obj]:
    """One patient's events as contract JSON objects, sorted by date."""
    rng = random.Random(f"gist-synthetic:{seed}:{index}")
    pathway = rng.choices([p for p, _ in PATHWAYS], weights=[w for _, w in PATHWAYS])[0]
    history = _History(f"S{index:06d}", rng)
    pathway(history, index)
    return history.finish()


def synthetic_histories(n_patients: int, seed: int = 1) -> list[list[Obj]]:
    return [synthetic_history(i, seed) for i in range(n_patients)]


def synthetic_cohort(n_patients: int, seed: int = 1) -> list[list[Event]]:
    """``n_patients`` valid event histories (10–40 events each), parsed by the contract's parser."""
    return [[parse_event(obj) for obj in history] for history in synthetic_histories(n_patients, seed)]
