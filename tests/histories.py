"""Hypothesis strategies for whole patient histories (one patient, ``P1``).

``patient_histories()`` draws a clinically plausible but varied pathway: a diagnosis, then some of
biopsy, resection (with or without rupture and pathology), mutation, drug courses with dose changes
and stops (including same-day switches), progression, scans, labs, visits, MDT reviews and now and
then the end of follow-up. Every event is built as a contract-shaped JSON object and goes through
``parse_event``, so a history is exactly what a valid JSON Lines file could hold.

Dates lie in 2018-01-01..2026-06-30 (``FIRST_DAY``..``LAST_DAY``); event ids are unique; a history
has 5 to 30 events. ``histories_with_as_of()`` pairs a history with an ``as_of`` on or after its
first event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from scheduler.domain.events import Event, parse_event

PATIENT_ID = "P1"
FIRST_DAY = dt.date(2018, 1, 1)
LAST_DAY = dt.date(2026, 6, 30)
MIN_EVENTS = 5
MAX_EVENTS = 30
MAX_SPAN_DAYS = 6 * 365  # a history never spans more than six years, so it always fits the range

SITES = (
    "stomach",
    "duodenum",
    "jejunum_ileum",
    "rectum",
    "colon",
    "esophagus",
    "mesentery",
    "omentum",
    "peritoneum",
    "other",
)
COMMON_SITES = ("stomach", "stomach", "jejunum_ileum", "duodenum", "rectum")
DRUG_DOSES: dict[str, tuple[float, ...]] = {
    "imatinib": (400, 400, 800, 600, 300),
    "sunitinib": (50, 37.5, 25),
    "regorafenib": (160, 120, 80),
    "ripretinib": (150, 300, 100),
    "avapritinib": (300, 200, 100),
    "other": (100, 250),
}
DRUGS = tuple(DRUG_DOSES)
SETTINGS = ("neoadjuvant", "adjuvant", "advanced")
STOP_REASONS = ("completed", "progression", "toxicity", "patient_choice", "other")
MODALITIES = ("ct", "ct", "ct", "mri", "eus", "pet")
IMAGING_RESULTS = ("no_evidence_of_disease", "stable", "response", "progression", "growth", "new_lesion")
CBC_TESTS = ("neutrophils", "platelets", "hemoglobin")
LIVER_TESTS = ("alt", "ast", "bilirubin")

Spec = tuple[int, str, dict[str, Any]]  # (day offset from the start of the history, type, data)


def sizes() -> st.SearchStrategy[float]:
    """Tumour sizes in cm, one decimal, mostly 0.3–12 cm, with the band edges 2.0, 5.0, 10.0 likely."""
    return st.one_of(
        st.sampled_from((1.0, 1.9, 2.0, 2.1, 5.0, 5.1, 10.0, 10.1)),
        st.integers(3, 120).map(lambda n: n / 10),
        st.integers(3, 250).map(lambda n: n / 10),
    )


def mitoses() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from((0, 5, 6, 10, 11)), st.integers(0, 8), st.integers(0, 60))


@st.composite
def _optional(draw: st.DrawFn, data: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    """Add ``key`` to ``data`` half of the time (an optional field is left out, never null)."""
    if draw(st.booleans()):
        data[key] = draw(values)


@st.composite
def _diagnosis(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "site": draw(st.one_of(st.sampled_from(COMMON_SITES), st.sampled_from(SITES))),
        "size_cm": draw(sizes()),
    }
    if draw(st.integers(0, 6)) == 0:
        data["metastatic"] = True
    elif draw(st.booleans()):
        data["metastatic"] = False
    draw(_optional(data, "method", st.sampled_from(("imaging", "eus", "endoscopy", "surgery"))))
    return data


@st.composite
def _pathology(draw: st.DrawFn, site: str) -> dict[str, Any]:
    data: dict[str, Any] = {"size_cm": draw(sizes()), "mitoses_per_5mm2": draw(mitoses())}
    if draw(st.integers(0, 3)) > 0:  # usually the same site as the diagnosis
        data["site"] = site
    elif draw(st.booleans()):
        data["site"] = draw(st.sampled_from(SITES))
    draw(_optional(data, "fixative", st.sampled_from(("formalin", "formalin", "bouin", "other"))))
    draw(_optional(data, "cd117", st.booleans()))
    draw(_optional(data, "dog1", st.booleans()))
    return data


@st.composite
def _mutation(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(("kit11", "kit9", "d842v", "pdgfra", "sdh", "wild", "other")))
    if kind == "kit11":
        return {"gene": "KIT", "exon": 11}
    if kind == "kit9":
        return {"gene": "KIT", "exon": 9}
    if kind == "d842v":
        return {"gene": "PDGFRA", "exon": 18, "variant": "D842V"}
    if kind == "pdgfra":
        return {"gene": "PDGFRA", "exon": draw(st.sampled_from((12, 14, 18)))}
    if kind == "sdh":
        return {"gene": "SDH"}
    if kind == "wild":
        return {"gene": "wild_type"}
    return {"gene": draw(st.sampled_from(("NF1", "BRAF", "NTRK")))}


@st.composite
def _liver_lab(draw: st.DrawFn) -> dict[str, Any]:
    """ALT, AST or bilirubin around the label thresholds (≤ 1, 3, 5, 20 × ULN)."""
    uln = draw(st.sampled_from((40, 35, 1.2, 21)))
    multiple = draw(st.sampled_from((0.5, 1, 2.5, 3, 3.5, 5.5, 8, 25)))
    return {"test": draw(st.sampled_from(LIVER_TESTS)), "value": round(uln * multiple, 2), "uln": uln}


@st.composite
def _lab(draw: st.DrawFn) -> dict[str, Any]:
    test = draw(
        st.sampled_from(
            ("alt", "ast", "bilirubin", "alt", "neutrophils", "platelets", "hemoglobin", "tsh", "lvef")
        )
    )
    if test in LIVER_TESTS:
        return {**draw(_liver_lab()), "test": test}
    value = draw(st.sampled_from((0.5, 1.5, 2.8, 12, 60, 150, 250)))
    data: dict[str, Any] = {"test": test, "value": value}
    draw(_optional(data, "uln", st.sampled_from((4.0, 10.0, 400))))
    return data


@st.composite
def _course(draw: st.DrawFn, start: int, setting: str, drug: str | None = None) -> list[Spec]:
    """One drug course: a start, maybe dose changes, maybe a stop (sometimes a same-day switch)."""
    drug = drug or draw(st.sampled_from(("imatinib", "imatinib", *DRUGS)))
    doses = DRUG_DOSES[drug]
    specs: list[Spec] = [
        (
            start,
            "therapy_started",
            {"drug": drug, "dose_mg": draw(st.sampled_from(doses)), "setting": setting},
        )
    ]
    day = start
    for _ in range(draw(st.integers(0, 2))):
        day += draw(st.integers(1, 200))
        specs.append((day, "dose_changed", {"drug": drug, "dose_mg": draw(st.sampled_from(doses))}))
    if draw(st.integers(0, 2)) > 0:
        day += draw(st.sampled_from((14, 60, 300, 1095, 1100))) + draw(st.integers(0, 30))
        specs.append((day, "therapy_stopped", {"drug": drug, "reason": draw(st.sampled_from(STOP_REASONS))}))
        if draw(st.integers(0, 3)) == 0:  # switch on the same day (or a rechallenge soon after)
            nxt = draw(st.sampled_from(DRUGS))
            gap = draw(st.sampled_from((0, 0, 10, 45)))
            specs.append(
                (
                    day + gap,
                    "therapy_started",
                    {
                        "drug": nxt,
                        "dose_mg": draw(st.sampled_from(DRUG_DOSES[nxt])),
                        "setting": draw(st.sampled_from((setting, setting, "advanced"))),
                    },
                )
            )
    return specs


@st.composite
def _course_checks(draw: st.DrawFn, start: int, drug: str) -> list[Spec]:
    """Monitoring results taken near the days a course asks for them (on time, early or late)."""
    specs: list[Spec] = []
    for _ in range(draw(st.integers(0, 4))):
        day = start + draw(st.sampled_from((0, 7, 14, 28, 42, 56, 90))) + draw(st.integers(-4, 10))
        check = draw(st.sampled_from(("lft", "lft", "cbc", "tsh", "lvef", "visit")))
        if check == "lft":
            specs.append((day, "lab_result", draw(_liver_lab())))
        elif check == "cbc":
            specs.append((day, "lab_result", {"test": draw(st.sampled_from(CBC_TESTS)), "value": 4.2}))
        elif check == "tsh":
            specs.append((day, "lab_result", {"test": "tsh", "value": 2.1}))
        elif check == "lvef":
            specs.append((day, "lab_result", {"test": "lvef", "value": 60}))
        else:
            kind = "skin_exam" if drug == "ripretinib" and draw(st.booleans()) else "clinic_visit"
            specs.append((day, "visit", {"kind": kind}))
    return specs


@st.composite
def _pathway(draw: st.DrawFn) -> list[Spec]:
    """The clinical skeleton: diagnosis, tissue, surgery, molecular result, drugs, progression."""
    specs: list[Spec] = []
    route = draw(st.sampled_from(("resected",) * 11 + ("small",) * 3 + ("unresected",) * 6))
    diag_day = draw(st.integers(0, 90))
    if draw(st.booleans()):
        reg: dict[str, Any] = {}
        draw(_optional(reg, "name", st.sampled_from(("Ana", "Maria Santos"))))
        draw(_optional(reg, "timezone", st.sampled_from(("UTC", "Europe/Lisbon", "America/New_York"))))
        specs.append((draw(st.integers(0, diag_day)), "patient_registered", reg))
    diagnosis = draw(_diagnosis())
    if route == "small":  # a small gastric or duodenal nodule under EUS surveillance
        diagnosis.update(
            site=draw(st.sampled_from(("stomach", "stomach", "duodenum"))),
            size_cm=draw(st.sampled_from((0.8, 1.2, 1.5, 1.9, 2.0))),
        )
        diagnosis.pop("metastatic", None)
    elif route == "resected" and diagnosis.get("metastatic") and draw(st.booleans()):
        diagnosis["metastatic"] = False
    site = diagnosis["site"]
    specs.append((diag_day, "diagnosis", diagnosis))
    day = diag_day
    biopsy_odds = 1 if route == "small" else 2
    if draw(st.integers(0, 3)) < biopsy_odds:
        day += draw(st.integers(0, 60))
        biopsy: dict[str, Any] = {"result": draw(st.sampled_from(("gist", "gist", "not_gist", "inadequate")))}
        draw(_optional(biopsy, "cd117", st.booleans()))
        specs.append((day, "biopsy", biopsy))
    if draw(st.integers(0, 9)) == 0:  # a second, later diagnosis (a regrown or re-measured tumour)
        specs.append((day + draw(st.integers(1, 400)), "diagnosis", draw(_diagnosis())))
    if route == "small":
        for _ in range(draw(st.integers(0, 3))):
            day += draw(st.sampled_from((80, 90, 100, 180, 200, 365, 400)))
            eus: dict[str, Any] = {"modality": "eus"}
            draw(_optional(eus, "result", st.sampled_from(("stable", "stable", "growth", "new_lesion"))))
            specs.append((day, "imaging", eus))
        if draw(st.integers(0, 3)) == 0:
            route = "resected"  # the nodule grew and was removed

    if route == "resected" and draw(st.integers(0, 4)) == 0:  # neoadjuvant imatinib into the surgery
        start = day + draw(st.integers(1, 40))
        specs.append(
            (start, "therapy_started", {"drug": "imatinib", "dose_mg": 400, "setting": "neoadjuvant"})
        )
        specs.extend(draw(_course_checks(start, "imatinib")))
        day += draw(st.integers(120, 300))
    if route == "resected":
        day += draw(st.integers(0, 180))
        resection: dict[str, Any] = {
            "margin": draw(st.sampled_from(("R0", "R0", "R0", "R0", "R0", "R0", "R1", "R1", "R2")))
        }
        draw(_optional(resection, "approach", st.sampled_from(("open", "laparoscopic", "endoscopic"))))
        draw(_optional(resection, "intent", st.sampled_from(("curative", "curative", "cytoreductive"))))
        specs.append((day, "resection", resection))
        rupture_when = draw(st.integers(0, 5))
        if rupture_when <= 1:  # on the day of surgery (intraoperative) or some days before it
            rupture: dict[str, Any] = {}
            draw(
                _optional(
                    rupture, "context", st.sampled_from(("spontaneous", "intraoperative", "perforation"))
                )
            )
            specs.append((day - rupture_when * draw(st.integers(1, 40)), "rupture", rupture))
        if draw(st.integers(0, 6)) > 0:
            specs.append((day + draw(st.integers(0, 30)), "pathology", draw(_pathology(site))))
        if draw(st.integers(0, 8)) == 0:  # a second operation (recurrence, or surgery in advanced disease)
            specs.append(
                (
                    day + draw(st.integers(100, 900)),
                    "resection",
                    {"margin": draw(st.sampled_from(("R0", "R1", "R2")))},
                )
            )
    elif route == "unresected" and draw(st.integers(0, 5)) == 0:  # a rupture never operated on
        specs.append((day + draw(st.integers(0, 60)), "rupture", {"context": "spontaneous"}))

    if draw(st.integers(0, 4)) < 3:
        specs.append((day + draw(st.integers(0, 120)), "mutation", draw(_mutation())))

    settings = {
        "resected": ("adjuvant", "adjuvant", "adjuvant", "adjuvant", "advanced"),
        "small": ("advanced",),
        "unresected": ("advanced", "advanced", "neoadjuvant"),
    }[route]
    for _ in range(draw(st.integers(0, 2 if route != "small" else 0))):
        setting = draw(st.sampled_from(settings))
        start = day + draw(st.integers(0, 200))
        course = draw(_course(start, setting))
        specs.extend(course)
        specs.extend(draw(_course_checks(start, course[0][2]["drug"])))
        day = start

    if draw(st.integers(0, 5)) == 0:
        progression: dict[str, Any] = {}
        draw(_optional(progression, "pattern", st.sampled_from(("focal", "multifocal"))))
        specs.append((day + draw(st.integers(0, 700)), "progression", progression))
    if draw(st.integers(0, 9)) == 0:
        metastasis: dict[str, Any] = {}
        draw(_optional(metastasis, "sites", st.lists(st.sampled_from(("liver", "peritoneum")), max_size=2)))
        specs.append((day + draw(st.integers(0, 700)), "metastasis", metastasis))
    return specs


@st.composite
def _routine(draw: st.DrawFn, span: int) -> list[Spec]:
    """Scans, labs, visits and reviews scattered over the history (some before the diagnosis)."""
    specs: list[Spec] = []
    for _ in range(draw(st.integers(0, 8))):
        imaging: dict[str, Any] = {"modality": draw(st.sampled_from(MODALITIES))}
        if draw(st.integers(0, 2)) > 0:
            imaging["result"] = draw(
                st.sampled_from(("stable", "stable", "no_evidence_of_disease", *IMAGING_RESULTS))
            )
        specs.append((draw(st.integers(0, span)), "imaging", imaging))
    for _ in range(draw(st.integers(0, 8))):
        specs.append((draw(st.integers(0, span)), "lab_result", draw(_lab())))
    for _ in range(draw(st.integers(0, 3))):
        specs.append(
            (
                draw(st.integers(0, span)),
                "visit",
                {"kind": draw(st.sampled_from(("clinic_visit", "skin_exam")))},
            )
        )
    for _ in range(draw(st.integers(0, 3))):
        review: dict[str, Any] = {}
        draw(_optional(review, "decision", st.sampled_from(("resect", "continue imatinib", "observe"))))
        specs.append((draw(st.integers(0, span)), "mdt_review", review))
    return specs


def build_events(
    specs: list[tuple[dt.date, str, dict[str, Any]]], prefix: str = "e", patient_id: str = PATIENT_ID
) -> list[Event]:
    """Contract-shaped JSON objects (ids ``{prefix}001``…) parsed with ``parse_event``."""
    return [
        parse_event(
            {
                "event_id": f"{prefix}{n:03d}",
                "patient_id": patient_id,
                "type": kind,
                "occurred_on": day.isoformat(),
                "data": data,
            }
        )
        for n, (day, kind, data) in enumerate(specs, start=1)
    ]


@st.composite
def patient_histories(draw: st.DrawFn) -> list[Event]:
    """5–30 valid events of patient ``P1`` with unique ids, dated 2018-01-01..2026-06-30."""
    specs = draw(_pathway())
    earliest = min(day for day, _, _ in specs)  # a rupture may precede the diagnosis's offset
    specs = [(day - earliest, kind, data) for day, kind, data in specs if day - earliest <= MAX_SPAN_DAYS]
    span = min(max(day for day, _, _ in specs) + draw(st.integers(90, 900)), MAX_SPAN_DAYS)
    specs += draw(_routine(span))
    if draw(st.integers(0, 9)) == 0:
        specs.append(
            (
                span,
                "follow_up_ended",
                {"reason": draw(st.sampled_from(("deceased", "transferred", "discharged", "declined")))},
            )
        )
    while len(specs) < MIN_EVENTS:
        specs.append((draw(st.integers(0, span)), "imaging", {"modality": "ct"}))
    specs = specs[:MAX_EVENTS]
    latest = max(day for day, _, _ in specs)
    first = draw(st.dates(FIRST_DAY, LAST_DAY - dt.timedelta(days=latest)))
    # Shuffle so the file order says nothing about the clinical order.
    order = draw(st.permutations(range(len(specs))))
    dated = [(first + dt.timedelta(days=specs[i][0]), specs[i][1], specs[i][2]) for i in order]
    return build_events(dated)


@st.composite
def histories_with_as_of(draw: st.DrawFn) -> tuple[list[Event], dt.date]:
    """A history and an ``as_of`` from its first event to a year after its last."""
    events = draw(patient_histories())
    days = sorted(e.occurred_on for e in events)
    as_of = draw(
        st.one_of(
            st.sampled_from(days),
            st.dates(days[0], days[-1] + dt.timedelta(days=365)),
        )
    )
    return events, as_of
