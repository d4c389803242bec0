"""The FHIR import adapter: twins give the event file's plan, codes beat displays, bad input refused whole."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler.domain.events import Event, read_jsonl
from scheduler.domain.plan import plan_follow_up
from scheduler.fhir import MAX_ENTRIES, FhirError, import_fhir, load_json
from scheduler.fhir.terminology import ICD10CM, ICDO3, RXNORM, SNOMED
from tests.mcode import mcode_examples

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
TWINS = {
    "high-risk-adjuvant": "2024-06-01",
    "small-bowel-rupture": "2024-06-01",
    "pdgfra-d842v": "2024-02-05",
    "regorafenib-alt": "2026-03-12",
}


def bundle(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def comparable(events: list[Event], as_of: str) -> dict[str, Any]:
    """The plan's JSON with each ``completed_by`` id replaced by that event's (type, day)."""
    by_id = {e.event_id: f"{e.type}@{e.occurred_on}" for e in events}
    plan = plan_follow_up(events, dt.date.fromisoformat(as_of)).to_json()
    for reminder in plan["reminders"]:
        if reminder["completed_by"]:
            reminder["completed_by"] = by_id[reminder["completed_by"]]
    plan.pop("patient_id")
    return plan


@pytest.mark.parametrize(("name", "as_of"), TWINS.items())
def test_twin_bundle_plans_like_its_event_file(name: str, as_of: str) -> None:
    result = import_fhir(bundle(name))
    assert result.review == []
    twin = read_jsonl((FIXTURES / f"{name}.jsonl").read_text().splitlines())
    assert twin.errors == []
    assert sorted((e.type, e.occurred_on, e.data) for e in result.events) == sorted(
        (e.type, e.occurred_on, e.data) for e in twin.events
    )
    assert comparable(result.events, as_of) == comparable(twin.events, as_of)


def test_the_twins_reach_the_alerts_they_stand_for() -> None:
    d842v = plan_follow_up(import_fhir(bundle("pdgfra-d842v")).events, dt.date(2024, 2, 5))
    assert "pdgfra_d842v_imatinib_resistant" in {a.code for a in d842v.alerts}
    rego = plan_follow_up(import_fhir(bundle("regorafenib-alt")).events, dt.date(2026, 3, 12))
    assert any(a.severity == "critical" and "interrupt" in a.message for a in rego.alerts)


def test_event_ids_are_stable_and_a_new_version_is_a_new_event() -> None:
    first = import_fhir(bundle("high-risk-adjuvant")).events
    assert [e.event_id for e in first] == [
        e.event_id for e in import_fhir(bundle("high-risk-adjuvant")).events
    ]
    changed = bundle("high-risk-adjuvant")
    for entry in changed["entry"]:
        if entry["resource"]["id"] == "gha-alt-1":
            entry["resource"]["meta"]["versionId"] = "2"
    ids = {e.event_id for e in import_fhir(changed).events}
    assert "fhir:Observation/gha-alt-1/_history/2#lab_result" in ids
    assert "fhir:Observation/gha-alt-1/_history/1#lab_result" not in ids


def test_codes_beat_displays() -> None:
    [mutation] = [e for e in import_fhir(bundle("high-risk-adjuvant")).events if e.type == "mutation"]
    assert mutation.data.to_json() == {"gene": "KIT", "exon": 11}  # HGNC:6342 displayed as "NRAS"


def _edit(name: str, resource_id: str, **changes: Any) -> dict[str, Any]:
    edited = copy.deepcopy(bundle(name))
    for entry in edited["entry"]:
        if entry["resource"]["id"] == resource_id:
            entry["resource"].update(changes)
    return edited


def reasons(obj: dict[str, Any]) -> list[str]:
    return [item.reason for item in import_fhir(obj).review]


def test_unresolvable_site_is_held_for_review_not_guessed() -> None:
    edited = _edit("high-risk-adjuvant", "gha-gist", code={"coding": [
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C49.A3"}]})  # fmt: skip
    edited["entry"][1]["resource"].pop("bodySite")
    result = import_fhir(edited)
    assert "diagnosis" not in {e.type for e in result.events}
    assert any("site cannot be resolved" in r.reason and r.source == "Condition/gha-gist/_history/1"
               for r in result.review)  # fmt: skip


def test_mitoses_per_10_hpf_and_alt_without_uln_and_unknown_drug_need_review() -> None:
    per_10 = _edit("high-risk-adjuvant", "gist-high-adjuvant-mitoses", valueQuantity={
        "value": 8, "system": "http://unitsofmeasure.org", "code": "/10.HPF"})  # fmt: skip
    assert any("per 5 mm²" in r for r in reasons(per_10))
    no_uln = _edit("high-risk-adjuvant", "gha-alt-1", referenceRange=[])
    assert any("would be a lab_result event" in r and "uln" in r for r in reasons(no_uln))
    unknown = {"system": RXNORM, "code": "9999", "display": "imatinib"}
    other_drug = _edit("high-risk-adjuvant", "gha-imatinib", medicationCodeableConcept={"coding": [unknown]})
    assert any("drug not recognised by code" in r for r in reasons(other_drug))


def _diagnosis(edited: dict[str, Any]) -> dict[str, Any]:
    [diagnosis] = [e.data.to_json() for e in import_fhir(edited).events if e.type == "diagnosis"]
    return diagnosis


@pytest.mark.parametrize(
    ("icd10", "body_site", "site"),
    [
        pytest.param("C49.A2", [(ICDO3, "C17.0")], "duodenum", id="icd-o-3-body-site-over-icd-10"),
        pytest.param("C49.A2", [(SNOMED, "38848004")], "duodenum", id="snomed-body-site-over-icd-10"),
        pytest.param("C49.A3", [(SNOMED, "21306003")], "jejunum_ileum", id="body-site-resolves-c49-a3"),
        pytest.param("C49.A2", [], "stomach", id="icd-10-when-no-body-site"),
        pytest.param("C49.A2", [(SNOMED, "999999")], "stomach", id="unknown-body-site-then-icd-10"),
    ],
)  # fmt: skip
def test_the_body_site_comes_before_the_icd_10_code(
    icd10: str, body_site: list[tuple[str, str]], site: str
) -> None:
    edited = _edit("high-risk-adjuvant", "gha-gist", code={"coding": [
        {"system": SNOMED, "code": "420120006"}, {"system": ICD10CM, "code": icd10}]},
        bodySite=[{"coding": [{"system": s, "code": c}]} for s, c in body_site])  # fmt: skip
    if not body_site:
        edited["entry"][1]["resource"].pop("bodySite")
    assert _diagnosis(edited)["site"] == site


@pytest.mark.parametrize(
    ("value", "unit", "size_cm"),
    [pytest.param(70, "mm", 7.0, id="mm"), pytest.param(7.2, "cm", 7.2, id="cm"),
     pytest.param(72.5, "mm", 7.25, id="mm-fraction")],
)  # fmt: skip
def test_tumour_size_is_converted_to_cm(value: float, unit: str, size_cm: float) -> None:
    edited = copy.deepcopy(bundle("high-risk-adjuvant"))
    quantity = edited["entry"][2]["resource"]["component"][0]["valueQuantity"]
    quantity.update(value=value, unit=unit, code=unit)
    assert _diagnosis(edited)["size_cm"] == size_cm
    quantity.update(unit="[in_i]", code="[in_i]")
    assert any("tumour size: unit '[in_i]' is not cm or mm" in r for r in reasons(edited))


def _lab(loinc: str, value: tuple[float, str], high: tuple[float, str] | None) -> dict[str, Any]:
    """The twin with its ALT result replaced by this LOINC result, value and upper limit."""

    def quantity(amount: float, unit: str) -> dict[str, Any]:
        return {"value": amount, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}

    code = {"coding": [{"system": "http://loinc.org", "code": loinc}]}
    ranges = [{"high": quantity(*high)}] if high else []
    return _edit(
        "high-risk-adjuvant", "gha-alt-1", code=code, valueQuantity=quantity(*value), referenceRange=ranges
    )


@pytest.mark.parametrize(
    ("loinc", "value", "high", "expected"),
    [
        pytest.param("1975-2", (34.2, "umol/L"), (20.52, "umol/L"),
                     {"test": "bilirubin", "value": 2.0, "uln": 1.2}, id="bilirubin-umol-to-mg-dl"),
        pytest.param("1975-2", (34.2, "umol/L"), (1.2, "mg/dL"),
                     {"test": "bilirubin", "value": 2.0, "uln": 1.2}, id="uln-in-the-other-unit"),
        pytest.param("718-7", (125, "g/L"), None, {"test": "hemoglobin", "value": 12.5}, id="hemoglobin"),
        pytest.param("751-8", (1500, "/uL"), None, {"test": "neutrophils", "value": 1.5}, id="neutrophils"),
        pytest.param("26499-4", (1.5, "10*3/uL"), None, {"test": "neutrophils", "value": 1.5},
                     id="neutrophils-other-loinc"),
        pytest.param("1742-6", (120, "[IU]/L"), (40, "U/L"), {"test": "alt", "value": 120, "uln": 40},
                     id="alt-iu"),
    ],
)  # fmt: skip
def test_lab_values_and_their_uln_are_converted_to_one_unit(
    loinc: str, value: tuple[float, str], high: tuple[float, str] | None, expected: dict[str, Any]
) -> None:
    [lab] = [e.data.to_json() for e in import_fhir(_lab(loinc, value, high)).events if e.type == "lab_result"]
    assert lab == expected


@pytest.mark.parametrize(
    ("loinc", "value", "high", "needle"),
    [
        pytest.param("1975-2", (2, "mmol/L"), None, "bilirubin result: unit 'mmol/L'", id="unknown-unit"),
        pytest.param("1975-2", (2, "mg/dL"), (1.2, "g/L"), "bilirubin upper limit of normal: unit 'g/L'",
                     id="uln-unit-unknown"),
        pytest.param("751-8", (3000, "10*3/uL"), None, "implausible", id="implausible-value"),
    ],
)  # fmt: skip
def test_a_lab_unit_that_cannot_be_converted_is_reviewed(
    loinc: str, value: tuple[float, str], high: tuple[float, str] | None, needle: str
) -> None:
    edited = _lab(loinc, value, high)
    assert "lab_result" not in {e.type for e in import_fhir(edited).events}
    assert any(needle in r for r in reasons(edited))


def test_dose_is_converted_to_mg_per_day() -> None:
    [start] = [e for e in import_fhir(bundle("regorafenib-alt")).events if e.type == "therapy_started"]
    assert start.data.to_json()["dose_mg"] == 160  # 40 mg four times a day


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param(
            '{"resourceType": "Bundle", "type": "collection", "entry": [', "not valid JSON", id="malformed"
        ),
        pytest.param('[{"resourceType": "Patient"}]', "must be a FHIR resource or Bundle", id="a-list"),
        pytest.param('{"patient": "P1"}', "must be a FHIR resource or Bundle", id="no-resourceType"),
        pytest.param(
            '{"resourceType": "Bundle", "type": "document"}', "'document' cannot be imported", id="document"
        ),
        pytest.param('{"resourceType": "Nonsense"}', "is not an R4 resource type", id="unknown-type"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(text: str, needle: str) -> None:
    with pytest.raises(FhirError, match=needle):
        import_fhir(load_json(text))


def test_an_unknown_element_is_refused_naming_the_entry() -> None:
    edited = _edit("high-risk-adjuvant", "gha-alt-1", valueQuantiti={"value": 1})
    with pytest.raises(FhirError) as raised:
        import_fhir(edited)
    assert str(raised.value) == "entry[9] Observation/gha-alt-1: valueQuantiti: unknown element"


def test_a_bundle_of_10000_entries_is_refused_whole() -> None:
    entry = bundle("high-risk-adjuvant")["entry"][9]
    huge = {"resourceType": "Bundle", "type": "collection", "entry": [entry] * 10_000}
    with pytest.raises(FhirError, match=f"at most {MAX_ENTRIES} entries per Bundle"):
        import_fhir(huge)


def test_all_mcode_examples_parse_and_the_patient_bundle_lands_in_review() -> None:
    examples = mcode_examples()
    files = sorted(examples.glob("*.json"))
    assert len(files) == 179
    for path in files:
        import_fhir(load_json(path.read_text(encoding="utf-8")))  # validates and maps; must not crash
    jenny = import_fhir(load_json((examples / "Bundle-mcode-patient-bundle-jenny-m.json").read_text()))
    assert jenny.events == []
    review = {item.source.split("/")[1]: item.reason for item in jenny.review}
    assert "not a GIST" in review["primary-cancer-condition-jenny-m"]
    assert "drug not recognised" in review["cancer-related-medication-request-anastrozole-jenny-m"]
    assert "implausible" in review["us-core-observation-lab-neutrophils-jenny-m"]
    assert all(item.patient_id == "cancer-patient-jenny-m" for item in jenny.review)


def test_mcode_pertinent_negative_with_swapped_displays_is_not_called_wild_type() -> None:
    path = mcode_examples() / "Observation-gx-genomic-variant-pertinent-negative-nras-kit-braf.json"
    result = import_fhir(load_json(path.read_text()), enrolled={"gx-cancer-patient-adam-anyperson"})
    assert result.events == []
    assert "wild type needs KIT and PDGFRA" in result.review[0].reason
