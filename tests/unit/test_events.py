"""The event contract (event-contract.md §1), row by row: what is accepted, what is refused and how
the refusal reads, identity of duplicates, and JSON Lines reading."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scheduler.domain.events import (
    DATA_MODELS,
    EVENT_TYPES,
    TYPE_ORDER,
    DiagnosisData,
    Event,
    EventError,
    LineError,
    VisitData,
    collapse_duplicates,
    fingerprint,
    parse_event,
    read_jsonl,
)
from tests.strategies import st_event, st_event_of_each_type, st_events

DAY = "2025-01-05"


def raw(event_type: str, data: Any, /, **top: Any) -> dict[str, Any]:
    """A contract event as parsed JSON; ``top`` overrides or adds top-level keys."""
    return {
        "event_id": "e-1",
        "patient_id": "P001",
        "type": event_type,
        "occurred_on": DAY,
        "data": data,
        **top,
    }


def refusal(obj: object, **kwargs: Any) -> EventError:
    with pytest.raises(EventError) as caught:
        parse_event(obj, **kwargs)
    return caught.value


# --- every type, minimal and full ------------------------------------------------------------

MINIMAL: dict[str, dict[str, Any]] = {
    "patient_registered": {},
    "diagnosis": {"site": "stomach", "size_cm": 4.5},
    "biopsy": {"result": "gist"},
    "metastasis": {},
    "rupture": {},
    "resection": {"margin": "R0"},
    "pathology": {"size_cm": 6, "mitoses_per_5mm2": 7},
    "mutation": {"gene": "KIT"},
    "progression": {},
    "imaging": {"modality": "ct"},
    "lab_result": {"test": "tsh", "value": 2.1},
    "visit": {"kind": "clinic_visit"},
    "therapy_stopped": {"drug": "imatinib", "reason": "completed"},
    "therapy_started": {"drug": "imatinib", "dose_mg": 400, "setting": "adjuvant"},
    "dose_changed": {"drug": "imatinib", "dose_mg": 800},
    "mdt_review": {},
    "follow_up_ended": {"reason": "discharged"},
    "reminder_booked": {"reminder_key": "surveillance.high:ct:2024-03-01:2", "appointment_on": "2025-01-09"},
    "reminder_snoozed": {"reminder_key": "surveillance.high:ct:2024-03-01:2", "until": "2099-01-01"},
    "reminder_waived": {"reminder_key": "surveillance.high:ct:2024-03-01:2", "reason": "declined"},
}

FULL: dict[str, dict[str, Any]] = {
    "patient_registered": {
        "name": "Ada Example",
        "email": "ada@example.org",
        "navigator_id": "nav-7",
        "timezone": "Europe/Paris",
    },
    "diagnosis": {"site": "rectum", "size_cm": 1.5, "metastatic": True, "method": "eus"},
    "biopsy": {"result": "gist", "cd117": True, "dog1": False},
    "metastasis": {"sites": ["liver", "peritoneum"]},
    "rupture": {"context": "intraoperative"},
    "resection": {"margin": "R1", "approach": "laparoscopic", "intent": "curative"},
    "pathology": {
        "size_cm": 6.2,
        "mitoses_per_5mm2": 7,
        "site": "stomach",
        "fixative": "formalin",
        "cd117": True,
        "dog1": True,
    },
    "mutation": {"gene": "PDGFRA", "exon": 18, "variant": "D842V"},
    "progression": {"pattern": "focal"},
    "imaging": {"modality": "mri", "result": "no_evidence_of_disease"},
    "lab_result": {"test": "alt", "value": 81, "uln": 40},
    "visit": {"kind": "skin_exam"},
    "therapy_stopped": {"drug": "sunitinib", "reason": "toxicity"},
    "therapy_started": {"drug": "regorafenib", "dose_mg": 160, "setting": "advanced"},
    "dose_changed": {"drug": "imatinib", "dose_mg": 600},
    "mdt_review": {"decision": "Adjuvant imatinib for 3 years."},
    "follow_up_ended": {"reason": "transferred"},
    "reminder_booked": {
        "reminder_key": "monitoring.regorafenib_liver:lab_lft:2026-08-28:12",
        "appointment_on": "2026-12-09",
        "place": "Day unit, room 4",
    },
    "reminder_snoozed": {"reminder_key": "advanced.imaging:ct:2026-08-28:2", "until": "2099-12-31"},
    "reminder_waived": {
        "reminder_key": "advanced.imaging:ct:2026-08-28:2",
        "reason": "done_elsewhere",
        "done_on": "1999-12-31",
        "note": "CT at the regional hospital; report requested",
    },
}


def test_event_types_are_the_contract_types_in_replay_order() -> None:
    contract = (
        "patient_registered", "diagnosis", "biopsy", "metastasis", "rupture", "resection", "pathology",
        "mutation", "progression", "imaging", "lab_result", "visit", "therapy_stopped", "therapy_started",
        "dose_changed", "mdt_review", "follow_up_ended",
    )  # fmt: skip
    # the navigator's actions extend the contract: after the day's results and reviews, before an end
    actions = ("reminder_booked", "reminder_snoozed", "reminder_waived")
    assert (*contract[:-1], *actions, contract[-1]) == EVENT_TYPES
    assert dict(zip(EVENT_TYPES, range(len(EVENT_TYPES)), strict=True)) == TYPE_ORDER
    assert set(DATA_MODELS) == set(EVENT_TYPES) == set(MINIMAL) == set(FULL)


@pytest.mark.parametrize("table", [MINIMAL, FULL], ids=["minimal", "full"])
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_is_accepted_and_written_back(event_type: str, table: dict[str, dict[str, Any]]) -> None:
    obj = raw(event_type, table[event_type])
    event = parse_event(obj)
    assert event.type == event_type
    assert isinstance(event.data, DATA_MODELS[event_type])
    assert event.occurred_on == dt.date(2025, 1, 5)
    assert event.to_json() == obj  # numbers by value: 400 == 400.0
    assert parse_event(event.to_json()) == event
    assert event.fingerprint() == fingerprint(obj)


def test_defaults_and_stored_forms() -> None:
    diagnosis = parse_event(raw("diagnosis", MINIMAL["diagnosis"])).data
    assert isinstance(diagnosis, DiagnosisData)
    assert (diagnosis.metastatic, diagnosis.method) == (False, None)
    registered = parse_event(raw("patient_registered", {})).data
    assert registered.timezone == "UTC"  # type: ignore[union-attr]
    metastasis = parse_event(raw("metastasis", {"sites": ["liver"]}))
    assert metastasis.data.sites == ("liver",)  # type: ignore[union-attr]
    assert metastasis.to_json()["data"] == {"sites": ["liver"]}
    assert parse_event(raw("metastasis", {})).data.sites == ()  # type: ignore[union-attr]


def test_optional_fields_are_left_out_never_null() -> None:
    written = parse_event(raw("diagnosis", MINIMAL["diagnosis"])).to_json()
    assert written["data"] == {"site": "stomach", "size_cm": 4.5}
    built = Event(
        event_id="b-1",
        patient_id="P1",
        type="diagnosis",
        occurred_on=dt.date(2025, 1, 5),
        data=DiagnosisData(site="stomach", size_cm=2, method=None),
    )
    assert "method" not in built.to_json()["data"]


# --- required fields ---------------------------------------------------------------------------

REQUIRED = [
    ("diagnosis", "site"),
    ("diagnosis", "size_cm"),
    ("biopsy", "result"),
    ("pathology", "size_cm"),
    ("pathology", "mitoses_per_5mm2"),
    ("mutation", "gene"),
    ("resection", "margin"),
    ("therapy_started", "drug"),
    ("therapy_started", "dose_mg"),
    ("therapy_started", "setting"),
    ("therapy_stopped", "drug"),
    ("therapy_stopped", "reason"),
    ("dose_changed", "drug"),
    ("dose_changed", "dose_mg"),
    ("imaging", "modality"),
    ("lab_result", "test"),
    ("lab_result", "value"),
    ("visit", "kind"),
    ("follow_up_ended", "reason"),
    ("reminder_booked", "reminder_key"),
    ("reminder_booked", "appointment_on"),
    ("reminder_snoozed", "reminder_key"),
    ("reminder_snoozed", "until"),
    ("reminder_waived", "reminder_key"),
    ("reminder_waived", "reason"),
]


def test_required_table_matches_the_models() -> None:
    in_models = {
        (event_type, name)
        for event_type, model in DATA_MODELS.items()
        for name, info in model.model_fields.items()
        if info.is_required()
    }
    assert in_models == set(REQUIRED)


@pytest.mark.parametrize(("event_type", "field"), REQUIRED, ids=[f"{t}.{f}" for t, f in REQUIRED])
def test_each_required_field_missing(event_type: str, field: str) -> None:
    data = {key: value for key, value in FULL[event_type].items() if key != field}
    err = refusal(raw(event_type, data))
    assert err.field == f"data.{field}"
    assert err.problem.startswith("required for a")
    assert event_type in err.problem


@pytest.mark.parametrize("event_type", sorted({event_type for event_type, _ in REQUIRED}))
def test_empty_data_names_a_required_field(event_type: str) -> None:
    assert refusal(raw(event_type, {})).field.startswith("data.")


# --- enumerations ------------------------------------------------------------------------------

SITES = ("stomach", "duodenum", "jejunum_ileum", "rectum", "colon", "esophagus", "mesentery", "omentum",
         "peritoneum", "other")  # fmt: skip
DRUGS = ("imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib", "other")
LAB_TESTS = ("alt", "ast", "bilirubin", "neutrophils", "platelets", "hemoglobin", "tsh", "lvef")
IMAGING_RESULTS = ("no_evidence_of_disease", "stable", "response", "progression", "growth", "new_lesion")

# (type, field, every value the contract allows)
ENUMS: list[tuple[str, str, tuple[str, ...]]] = [
    ("diagnosis", "site", SITES),
    ("pathology", "site", SITES),
    ("diagnosis", "method", ("imaging", "eus", "endoscopy", "surgery")),
    ("biopsy", "result", ("gist", "not_gist", "inadequate")),
    ("pathology", "fixative", ("formalin", "bouin", "other")),
    ("mutation", "gene", ("KIT", "PDGFRA", "SDH", "NF1", "BRAF", "NTRK", "wild_type")),
    ("resection", "margin", ("R0", "R1", "R2")),
    ("resection", "approach", ("open", "laparoscopic", "endoscopic")),
    ("resection", "intent", ("curative", "cytoreductive")),
    ("rupture", "context", ("spontaneous", "intraoperative", "perforation")),
    ("therapy_started", "drug", DRUGS),
    ("therapy_stopped", "drug", DRUGS),
    ("dose_changed", "drug", DRUGS),
    ("therapy_started", "setting", ("neoadjuvant", "adjuvant", "advanced")),
    ("therapy_stopped", "reason", ("completed", "progression", "toxicity", "patient_choice", "other")),
    ("imaging", "modality", ("ct", "mri", "eus", "pet")),
    ("imaging", "result", IMAGING_RESULTS),
    ("progression", "pattern", ("focal", "multifocal")),
    ("lab_result", "test", LAB_TESTS),
    ("visit", "kind", ("clinic_visit", "skin_exam")),
    ("follow_up_ended", "reason", ("deceased", "transferred", "discharged", "declined")),
    ("reminder_waived", "reason", ("not_applicable", "done_elsewhere", "declined")),
]

ENUM_IDS = [f"{t}.{f}" for t, f, _ in ENUMS]


@pytest.mark.parametrize(("event_type", "field", "allowed"), ENUMS, ids=ENUM_IDS)
def test_each_enumeration_value_is_accepted(event_type: str, field: str, allowed: tuple[str, ...]) -> None:
    for value in allowed:
        data = {**FULL[event_type], field: value}
        if event_type == "reminder_waived" and value != "done_elsewhere":
            del data["done_on"]  # a date done elsewhere goes only with that reason
        event = parse_event(raw(event_type, data))
        assert getattr(event.data, field) == value


@pytest.mark.parametrize(("event_type", "field", "allowed"), ENUMS, ids=ENUM_IDS)
@pytest.mark.parametrize(
    "wrong", ["bogus", "UPPER", "", 1, True], ids=["unknown", "wrong-case", "empty", "number", "bool"]
)
def test_each_enumeration_refuses_other_values(
    event_type: str, field: str, allowed: tuple[str, ...], wrong: Any
) -> None:
    if wrong == "UPPER":
        wrong = allowed[0].swapcase()
    err = refusal(raw(event_type, {**FULL[event_type], field: wrong}))
    assert err.field == f"data.{field}"
    assert "is not one of" in err.problem
    assert repr(allowed[0]) in err.problem


# --- numeric bounds and JSON types -------------------------------------------------------------

PATHOLOGY = {"size_cm": 5, "mitoses_per_5mm2": 3}
LIVER = {"test": "alt", "value": 30, "uln": 40}

# (id, type, data, refused field or None, words in the problem)
BOUNDS: list[tuple[str, str, dict[str, Any], str | None, str]] = [
    (
        "size-0",
        "diagnosis",
        {"site": "stomach", "size_cm": 0},
        "data.size_cm",
        "must be greater than 0 (got 0)",
    ),
    (
        "size-negative",
        "diagnosis",
        {"site": "stomach", "size_cm": -1},
        "data.size_cm",
        "must be greater than 0 (got -1)",
    ),
    ("size-0.01", "diagnosis", {"site": "stomach", "size_cm": 0.01}, None, ""),
    ("size-100", "diagnosis", {"site": "stomach", "size_cm": 100}, None, ""),
    (
        "size-100.1",
        "diagnosis",
        {"site": "stomach", "size_cm": 100.1},
        "data.size_cm",
        "must be at most 100 (got 100.1)",
    ),
    (
        "size-string",
        "diagnosis",
        {"site": "stomach", "size_cm": "5"},
        "data.size_cm",
        "must be a number (got '5')",
    ),
    (
        "size-bool",
        "diagnosis",
        {"site": "stomach", "size_cm": True},
        "data.size_cm",
        "must be a number (got true)",
    ),
    ("size-infinite", "diagnosis", {"site": "stomach", "size_cm": float("inf")}, "data.size_cm", "finite"),
    ("size-nan", "diagnosis", {"site": "stomach", "size_cm": float("nan")}, "data.size_cm", "finite"),
    ("pathology-size-0", "pathology", {**PATHOLOGY, "size_cm": 0}, "data.size_cm", "greater than 0"),
    ("pathology-size-100.1", "pathology", {**PATHOLOGY, "size_cm": 100.1}, "data.size_cm", "at most 100"),
    (
        "mitoses--1",
        "pathology",
        {**PATHOLOGY, "mitoses_per_5mm2": -1},
        "data.mitoses_per_5mm2",
        "must be at least 0 (got -1)",
    ),
    ("mitoses-0", "pathology", {**PATHOLOGY, "mitoses_per_5mm2": 0}, None, ""),
    ("mitoses-1000", "pathology", {**PATHOLOGY, "mitoses_per_5mm2": 1000}, None, ""),
    (
        "mitoses-1001",
        "pathology",
        {**PATHOLOGY, "mitoses_per_5mm2": 1001},
        "data.mitoses_per_5mm2",
        "must be at most 1000 (got 1001)",
    ),
    (
        "mitoses-5.5",
        "pathology",
        {**PATHOLOGY, "mitoses_per_5mm2": 5.5},
        "data.mitoses_per_5mm2",
        "must be a whole number (got 5.5)",
    ),
    ("mitoses-5.0", "pathology", {**PATHOLOGY, "mitoses_per_5mm2": 5.0}, None, ""),
    (
        "mitoses-true",
        "pathology",
        {**PATHOLOGY, "mitoses_per_5mm2": True},
        "data.mitoses_per_5mm2",
        "must be a whole number (got true)",
    ),
    (
        "mitoses-string",
        "pathology",
        {**PATHOLOGY, "mitoses_per_5mm2": "5"},
        "data.mitoses_per_5mm2",
        "must be a whole number (got '5')",
    ),
    (
        "dose-0",
        "dose_changed",
        {"drug": "imatinib", "dose_mg": 0},
        "data.dose_mg",
        "must be greater than 0 (got 0)",
    ),
    ("dose-0.5", "dose_changed", {"drug": "imatinib", "dose_mg": 0.5}, None, ""),
    ("dose-2000", "dose_changed", {"drug": "imatinib", "dose_mg": 2000}, None, ""),
    (
        "dose-2000.5",
        "dose_changed",
        {"drug": "imatinib", "dose_mg": 2000.5},
        "data.dose_mg",
        "must be at most 2000",
    ),
    (
        "dose-bool",
        "dose_changed",
        {"drug": "imatinib", "dose_mg": False},
        "data.dose_mg",
        "must be a number (got false)",
    ),
    (
        "start-dose-2001",
        "therapy_started",
        {"drug": "imatinib", "dose_mg": 2001, "setting": "adjuvant"},
        "data.dose_mg",
        "at most 2000",
    ),
    (
        "start-dose-negative",
        "therapy_started",
        {"drug": "imatinib", "dose_mg": -400, "setting": "adjuvant"},
        "data.dose_mg",
        "greater than 0",
    ),
    ("exon-0", "mutation", {"gene": "KIT", "exon": 0}, "data.exon", "must be at least 1 (got 0)"),
    ("exon-1", "mutation", {"gene": "KIT", "exon": 1}, None, ""),
    ("exon-30", "mutation", {"gene": "KIT", "exon": 30}, None, ""),
    ("exon-31", "mutation", {"gene": "KIT", "exon": 31}, "data.exon", "must be at most 30 (got 31)"),
    ("exon-11.5", "mutation", {"gene": "KIT", "exon": 11.5}, "data.exon", "whole number"),
    ("exon-string", "mutation", {"gene": "KIT", "exon": "11"}, "data.exon", "whole number"),
    ("lab-value-0", "lab_result", {"test": "tsh", "value": 0}, None, ""),
    (
        "lab-value-negative",
        "lab_result",
        {"test": "tsh", "value": -0.1},
        "data.value",
        "must be at least 0 (got -0.1)",
    ),
    ("lab-value-bool", "lab_result", {"test": "tsh", "value": True}, "data.value", "must be a number"),
    ("uln-0", "lab_result", {**LIVER, "uln": 0}, "data.uln", "must be greater than 0 (got 0)"),
    ("uln-string", "lab_result", {**LIVER, "uln": "40"}, "data.uln", "must be a number"),
    ("uln-missing-alt", "lab_result", {"test": "alt", "value": 30}, "data.uln", "required for an alt result"),
    ("uln-missing-ast", "lab_result", {"test": "ast", "value": 30}, "data.uln", "required for an ast result"),
    (
        "uln-missing-bilirubin",
        "lab_result",
        {"test": "bilirubin", "value": 1},
        "data.uln",
        "required for a bilirubin result",
    ),
    ("uln-optional-tsh", "lab_result", {"test": "tsh", "value": 3}, None, ""),
    ("uln-optional-platelets", "lab_result", {"test": "platelets", "value": 150}, None, ""),
    ("uln-given-tsh", "lab_result", {"test": "tsh", "value": 3, "uln": 4.5}, None, ""),
    (
        "bool-as-number",
        "biopsy",
        {"result": "gist", "cd117": 1},
        "data.cd117",
        "must be true or false (got 1)",
    ),
    (
        "bool-as-string",
        "biopsy",
        {"result": "gist", "dog1": "true"},
        "data.dog1",
        "must be true or false (got 'true')",
    ),
    (
        "metastatic-0",
        "diagnosis",
        {"site": "stomach", "size_cm": 1, "metastatic": 0},
        "data.metastatic",
        "true or false",
    ),
    ("text-as-number", "mutation", {"gene": "KIT", "variant": 842}, "data.variant", "must be text (got 842)"),
    ("decision-500", "mdt_review", {"decision": "x" * 500}, None, ""),
    (
        "decision-501",
        "mdt_review",
        {"decision": "x" * 501},
        "data.decision",
        "must be at most 500 characters (got 501)",
    ),
    ("sites-not-list", "metastasis", {"sites": "liver"}, "data.sites", "must be a list"),
    ("sites-number-item", "metastasis", {"sites": ["liver", 3]}, "data.sites[1]", "must be text (got 3)"),
    ("timezone-iana", "patient_registered", {"timezone": "America/Argentina/Buenos_Aires"}, None, ""),
    (
        "timezone-unknown",
        "patient_registered",
        {"timezone": "Mars/Olympus_Mons"},
        "data.timezone",
        "not an IANA time zone",
    ),
    (
        "timezone-localtime",
        "patient_registered",
        {"timezone": "localtime"},
        "data.timezone",
        "not an IANA time zone",
    ),
    ("timezone-number", "patient_registered", {"timezone": 1}, "data.timezone", "must be text"),
    (
        "null-optional",
        "diagnosis",
        {"site": "stomach", "size_cm": 1, "method": None},
        "data.method",
        "never null",
    ),
    (
        "null-required",
        "diagnosis",
        {"site": "stomach", "size_cm": None},
        "data.size_cm",
        "must be a number (got null)",
    ),
]


@pytest.mark.parametrize(
    ("event_type", "data", "field", "words"), [row[1:] for row in BOUNDS], ids=[row[0] for row in BOUNDS]
)
def test_values_and_bounds(event_type: str, data: dict[str, Any], field: str | None, words: str) -> None:
    if field is None:
        event = parse_event(raw(event_type, data))
        assert event.to_json()["data"] == data
        return
    err = refusal(raw(event_type, data))
    assert err.field == field
    assert words in err.problem
    assert str(err) == f"{err.field}: {err.problem}"


def test_whole_float_mitoses_is_stored_as_an_integer() -> None:
    data = parse_event(raw("pathology", {**PATHOLOGY, "mitoses_per_5mm2": 5.0})).data
    assert data.mitoses_per_5mm2 == 5  # type: ignore[union-attr]
    assert type(data.mitoses_per_5mm2) is int  # type: ignore[union-attr]


# --- unknown keys and the top level ------------------------------------------------------------


def test_unknown_data_key_is_named() -> None:
    err = refusal(raw("diagnosis", {"site": "stomach", "size_cm": 3, "colour": "red"}))
    assert str(err).startswith("data.colour: unknown field for a diagnosis event")


def test_misspelt_key_is_reported_before_the_missing_field() -> None:
    err = refusal(raw("diagnosis", {"site": "stomach", "size": 3}))
    assert err.field == "data.size"
    assert "size_cm" in err.problem  # the message lists the real fields


def test_unknown_top_level_key_is_named() -> None:
    err = refusal(raw("visit", {"kind": "clinic_visit"}, source="fax"))
    assert (
        str(err)
        == "source: unknown field (an event has exactly event_id, patient_id, type, occurred_on, data)"
    )


# (id, top-level overrides or None to delete, refused field, words)
TOP_LEVEL: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("event_id-empty", {"event_id": ""}, "event_id", "must not be empty"),
    ("event_id-1", {"event_id": "x"}, None, ""),
    ("event_id-128", {"event_id": "x" * 128}, None, ""),
    ("event_id-129", {"event_id": "x" * 129}, "event_id", "must be at most 128 characters (got 129)"),
    ("event_id-number", {"event_id": 17}, "event_id", "must be text (got 17)"),
    ("event_id-unicode", {"event_id": "événement 1/2"}, None, ""),
    ("patient_id-1", {"patient_id": "P"}, None, ""),
    ("patient_id-64", {"patient_id": "P" * 64}, None, ""),
    ("patient_id-65", {"patient_id": "P" * 65}, "patient_id", "must be at most 64 characters (got 65)"),
    ("patient_id-empty", {"patient_id": ""}, "patient_id", "must not be empty"),
    ("patient_id-charset-ok", {"patient_id": "Az09._-"}, None, ""),
    ("patient_id-space", {"patient_id": "P 1"}, "patient_id", "may contain only"),
    ("patient_id-slash", {"patient_id": "P/1"}, "patient_id", "may contain only"),
    ("patient_id-accent", {"patient_id": "Pé"}, "patient_id", "may contain only"),
    ("patient_id-newline", {"patient_id": "P1\n"}, "patient_id", "may contain only"),
    ("patient_id-number", {"patient_id": 1}, "patient_id", "must be text"),
    (
        "type-unknown",
        {"type": "teleport"},
        "type",
        "'teleport' is not an event type (expected one of patient_registered",
    ),
    ("type-case", {"type": "Visit"}, "type", "is not an event type"),
    ("type-number", {"type": 3}, "type", "3 is not an event type"),
    (
        "date-not-real",
        {"occurred_on": "2025-02-30"},
        "occurred_on",
        "'2025-02-30' is not a real date (YYYY-MM-DD)",
    ),
    ("date-leap-day", {"occurred_on": "2024-02-29"}, None, ""),
    ("date-1899", {"occurred_on": "1899-12-31"}, "occurred_on", "1899-12-31 is before 1900-01-01"),
    ("date-1900", {"occurred_on": "1900-01-01"}, None, ""),
    (
        "date-unpadded",
        {"occurred_on": "2025-1-5"},
        "occurred_on",
        "must be a date written YYYY-MM-DD (got '2025-1-5')",
    ),
    (
        "date-number",
        {"occurred_on": 20250105},
        "occurred_on",
        "must be a date written YYYY-MM-DD (got 20250105)",
    ),
    ("date-basic-format", {"occurred_on": "20250105"}, "occurred_on", "YYYY-MM-DD"),
    ("date-with-time", {"occurred_on": "2025-01-05T10:00"}, "occurred_on", "YYYY-MM-DD"),
    ("date-padded", {"occurred_on": " 2025-01-05"}, "occurred_on", "YYYY-MM-DD"),
    ("date-fullwidth-digits", {"occurred_on": "２０２５-01-05"}, "occurred_on", "YYYY-MM-DD"),
    ("date-month-13", {"occurred_on": "2025-13-01"}, "occurred_on", "not a real date"),
    ("data-list", {"data": []}, "data", "must be a JSON object (got a list)"),
    ("data-null", {"data": None}, "data", "must be a JSON object (got null)"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "words"), [row[1:] for row in TOP_LEVEL], ids=[row[0] for row in TOP_LEVEL]
)
def test_top_level_fields(overrides: dict[str, Any], field: str | None, words: str) -> None:
    obj = raw("visit", {"kind": "clinic_visit"}, **overrides)
    if field is None:
        event = parse_event(obj)
        assert event.to_json() == obj
        return
    err = refusal(obj)
    assert err.field == field
    assert words in err.problem


@pytest.mark.parametrize("key", ["event_id", "patient_id", "type", "occurred_on", "data"])
def test_each_top_level_key_is_required(key: str) -> None:
    obj = raw("visit", {"kind": "clinic_visit"})
    del obj[key]
    err = refusal(obj)
    assert err.field == key
    assert err.problem.startswith("required")


@pytest.mark.parametrize(
    "value", [[], "event", 3, None, True], ids=["list", "string", "number", "null", "bool"]
)
def test_an_event_must_be_an_object(value: object) -> None:
    err = refusal(value)
    assert err.field == "event"
    assert "must be a JSON object" in err.problem


def test_first_problem_is_reported_in_a_fixed_order() -> None:
    obj = raw("teleport", [], event_id="", occurred_on="never")
    assert refusal(obj).field == "event_id"
    obj = raw("teleport", [], occurred_on="never")
    assert refusal(obj).field == "type"


@pytest.mark.parametrize(
    ("received_on", "refused"),
    [(dt.date(2025, 1, 5), False), (dt.date(2025, 1, 6), False), (dt.date(2025, 1, 4), True)],
    ids=["same-day", "day-after", "day-before"],
)
def test_a_date_after_the_day_received_is_refused(received_on: dt.date, refused: bool) -> None:
    obj = raw("visit", {"kind": "clinic_visit"})
    if not refused:
        assert parse_event(obj, received_on=received_on).occurred_on == dt.date(2025, 1, 5)
        return
    assert str(refusal(obj, received_on=received_on)) == (
        "occurred_on: 2025-01-05 is after the day it was received (2025-01-04)"
    )


def test_event_error_is_a_value_error_that_survives_pickling() -> None:
    err = EventError("data.size_cm", "must be greater than 0 (got -1)")
    assert isinstance(err, ValueError)
    assert str(err) == "data.size_cm: must be greater than 0 (got -1)"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.field, copy.problem, str(copy)) == (err.field, err.problem, str(err))


# --- direct construction -----------------------------------------------------------------------


def build(**overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "event_id": "d-1",
        "patient_id": "P1",
        "type": "diagnosis",
        "occurred_on": dt.date(2025, 1, 5),
        "data": {"site": "colon", "size_cm": 3},
    }
    return Event(**{**fields, **overrides})


def test_direct_construction_validates_mapping_data_against_its_type() -> None:
    assert build().data == DiagnosisData(site="colon", size_cm=3)
    assert build(type="visit", data=VisitData(kind="skin_exam")).data == VisitData(kind="skin_exam")


@pytest.mark.parametrize(
    "overrides",
    [
        {"type": "visit"},
        {"type": "visit", "data": DiagnosisData(site="colon", size_cm=3)},
        {"type": "teleport"},
        {"occurred_on": dt.datetime(2025, 1, 5, tzinfo=dt.UTC)},
        {"occurred_on": "2025-01-05"},
        {"occurred_on": dt.date(1899, 12, 31)},
        {"patient_id": "P 1"},
        {"event_id": ""},
        {"data": {"site": "colon", "size_cm": 300}},
        {"source": "fax"},
    ],
    ids=[
        "data-of-other-type",
        "model-of-other-type",
        "unknown-type",
        "datetime",
        "date-string",
        "before-1900",
        "patient-id-charset",
        "empty-event-id",
        "size-out-of-range",
        "unknown-key",
    ],
)
def test_direct_construction_refuses_what_parse_event_refuses(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        build(**overrides)


def test_events_are_immutable_and_hashable() -> None:
    event = parse_event(raw("metastasis", {"sites": ["liver"]}))
    with pytest.raises(ValidationError):
        event.type = "visit"  # type: ignore[misc]
    assert len({event, parse_event(raw("metastasis", {"sites": ["liver"]}))}) == 1


# --- identity ----------------------------------------------------------------------------------

# Pairs of JSON texts compared after parsing: (id, a, b, identical?)
IDENTITY = [
    ("trailing-zero", '{"x": 1.5}', '{"x": 1.50}', True),
    ("int-vs-float", '{"x": 2}', '{"x": 2.0}', True),
    ("exponent", '{"x": 100}', '{"x": 1e2}', True),
    ("negative-zero", '{"x": 0}', '{"x": -0.0}', True),
    ("key-order", '{"a": 1, "b": {"c": 1, "d": 2}}', '{"b": {"d": 2, "c": 1}, "a": 1}', True),
    ("unicode-escape", '{"x": "\\u00e9"}', '{"x": "é"}', True),
    ("whitespace", '{"x":[1,2]}', '{ "x" : [ 1 , 2 ] }', True),
    ("true-vs-1", '{"x": true}', '{"x": 1}', False),
    ("false-vs-0", '{"x": false}', '{"x": 0}', False),
    ("string-vs-number", '{"x": "1"}', '{"x": 1}', False),
    ("different-number", '{"x": 1.5}', '{"x": 1.51}', False),
    ("null-vs-missing", '{"x": null}', "{}", False),
    ("list-order", '{"x": [1, 2]}', '{"x": [2, 1]}', False),
    ("big-int-vs-float", '{"x": 9007199254740993}', '{"x": 9007199254740992.0}', False),
]


@pytest.mark.parametrize(
    ("a", "b", "identical"), [row[1:] for row in IDENTITY], ids=[row[0] for row in IDENTITY]
)
def test_fingerprint_equality_rules(a: str, b: str, identical: bool) -> None:
    assert (fingerprint(json.loads(a)) == fingerprint(json.loads(b))) is identical


def test_fingerprint_is_sha256_hex() -> None:
    value = fingerprint({"x": 1})
    assert len(value) == 64
    assert set(value) <= set("0123456789abcdef")


def test_parsed_and_raw_fingerprints_agree() -> None:
    line = raw("therapy_started", {"drug": "imatinib", "dose_mg": 400, "setting": "adjuvant"})
    event = parse_event(line)
    assert event.data.dose_mg == 400.0  # type: ignore[union-attr]
    assert event.fingerprint() == fingerprint(line) == fingerprint(event.to_json())


def test_an_explicit_default_is_content() -> None:
    """The contract compares JSON, so a stated "metastatic": false differs from an omitted one."""
    stated = raw("diagnosis", {"site": "stomach", "size_cm": 3, "metastatic": False})
    omitted = raw("diagnosis", {"site": "stomach", "size_cm": 3})
    assert parse_event(stated).to_json() == stated
    assert parse_event(stated).fingerprint() != parse_event(omitted).fingerprint()


# --- JSON Lines --------------------------------------------------------------------------------


def line(event_id: str = "A1-1", kind: str = "clinic_visit", **top: Any) -> str:
    return json.dumps(raw("visit", {"kind": kind}, event_id=event_id, **top))


def test_read_jsonl_counts_lines_from_one_and_skips_blank_lines() -> None:
    result = read_jsonl(["", line("a"), "   ", "\n", line("b") + "\n", ""])
    assert [event.event_id for event in result.events] == ["a", "b"]
    assert (result.errors, result.duplicates) == ([], 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1, 2]", "line 2: event: must be a JSON object (got a list)"),
        ('"visit"', "line 2: event: must be a JSON object (got 'visit')"),
        ("42", "line 2: event: must be a JSON object (got 42)"),
        ("null", "line 2: event: must be a JSON object (got null)"),
        ("{not json", "line 2: not valid JSON"),
        ('{"event_id": "x"', "line 2: not valid JSON"),
        ('{"x": NaN}', "line 2: not valid JSON (NaN is not a JSON number)"),
        ('{"x": Infinity}', "line 2: not valid JSON"),
        ("[" * 100_000, "line 2: not valid JSON"),
        (line(source="fax"), "line 2: source: unknown field"),
        (line(occurred_on="2025-02-30"), "line 2: occurred_on: '2025-02-30' is not a real date"),
    ],
    ids=[
        "list",
        "string",
        "number",
        "null",
        "broken",
        "truncated",
        "nan",
        "infinity",
        "deep",
        "unknown-key",
        "bad-date",
    ],
)
def test_read_jsonl_reports_bad_lines(text: str, words: str) -> None:
    result = read_jsonl(["", text, line("ok")])
    assert [event.event_id for event in result.events] == ["ok"]
    assert len(result.errors) == 1
    assert result.errors[0].line == 2
    assert result.errors[0].message.startswith(words)


def test_read_jsonl_message_names_line_and_field() -> None:
    result = read_jsonl([line("a"), json.dumps(raw("diagnosis", {"site": "stomach", "size_cm": -1}))])
    assert result.errors == [LineError(2, "line 2: data.size_cm: must be greater than 0 (got -1)")]


def test_read_jsonl_collapses_identical_duplicates() -> None:
    reordered = json.dumps(
        {
            "data": {"kind": "clinic_visit"},
            "type": "visit",
            "occurred_on": DAY,
            "patient_id": "P001",
            "event_id": "A1-1",
        }
    )
    result = read_jsonl([line(), line("A1-2"), line(), reordered])
    assert [event.event_id for event in result.events] == ["A1-1", "A1-2"]
    assert result.duplicates == 2
    assert result.errors == []


def test_read_jsonl_number_forms_are_identical() -> None:
    first = json.dumps(raw("dose_changed", {"drug": "imatinib", "dose_mg": 400}))
    again = first.replace("400", "400.0")
    result = read_jsonl([first, again])
    assert (len(result.events), result.duplicates, result.errors) == (1, 1, [])


def test_read_jsonl_reports_conflicts_with_the_earlier_line() -> None:
    lines = [line(), "", line("A1-2"), line(kind="skin_exam"), line(), line(occurred_on="2025-01-06")]
    result = read_jsonl(lines)
    assert [(event.event_id, event.data) for event in result.events] == [
        ("A1-1", VisitData(kind="clinic_visit")),
        ("A1-2", VisitData(kind="clinic_visit")),
    ]
    assert result.duplicates == 1
    assert result.errors == [
        LineError(4, "line 4: event_id 'A1-1' conflicts with line 1 (same event_id, different content)"),
        LineError(6, "line 6: event_id 'A1-1' conflicts with line 1 (same event_id, different content)"),
    ]


def test_read_jsonl_invalid_first_occurrence_does_not_claim_the_id() -> None:
    result = read_jsonl([line(kind="x-ray"), line()])
    assert [event.event_id for event in result.events] == ["A1-1"]
    assert [error.line for error in result.errors] == [1]


def test_read_jsonl_passes_received_on() -> None:
    result = read_jsonl([line(), line("A1-2", occurred_on="2025-01-06")], received_on=dt.date(2025, 1, 5))
    assert [event.event_id for event in result.events] == ["A1-1"]
    assert result.errors == [
        LineError(2, "line 2: occurred_on: 2025-01-06 is after the day it was received (2025-01-05)")
    ]


def test_read_jsonl_ignores_a_byte_order_mark_on_the_first_line() -> None:
    assert len(read_jsonl(["\ufeff" + line()]).events) == 1


def test_collapse_duplicates_keeps_the_first_and_refuses_conflicts() -> None:
    a, b = parse_event(json.loads(line("a"))), parse_event(json.loads(line("b")))
    assert collapse_duplicates([a, b, a, b]) == [a, b]
    other = parse_event(json.loads(line("a", kind="skin_exam")))
    with pytest.raises(EventError) as caught:
        collapse_duplicates([a, b, other])
    assert caught.value.field == "event_id"
    assert "'a'" in caught.value.problem


# --- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_each_type_round_trips_through_json_text(event_type: str, data: st.DataObject) -> None:
    event = data.draw(st_event(event_type, patient_id=None))
    text = json.dumps(event.to_json())
    again = parse_event(json.loads(text))
    assert again == event
    assert again.fingerprint() == event.fingerprint() == fingerprint(json.loads(text))


@settings(max_examples=60, deadline=None)
@given(events=st_event_of_each_type(patient_id=None))
def test_every_type_round_trips(events: list[Event]) -> None:
    assert [event.type for event in events] == list(EVENT_TYPES)
    for event in events:
        written = event.to_json()
        assert None not in written["data"].values()
        parsed_json = json.loads(json.dumps(written))
        again = parse_event(parsed_json)
        assert again == event
        assert again.to_json() == written
        assert again.fingerprint() == event.fingerprint() == fingerprint(parsed_json)


@settings(max_examples=40, deadline=None)
@given(events=st_events(max_size=10))
def test_reading_every_line_twice_collapses_to_the_first(events: list[Event]) -> None:
    lines = [json.dumps(event.to_json()) for event in events]
    result = read_jsonl(lines + lines)
    assert result.events == events
    assert result.duplicates == len(events)
    assert result.errors == []
    assert collapse_duplicates(events + events) == events
