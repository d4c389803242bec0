"""Encounters, MDT reviews, the end of follow-up, imaging reports and administrations → events or review."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler.domain.plan import plan_follow_up
from scheduler.fhir import ImportResult, import_fhir
from scheduler.fhir.terminology import BASE, DICOM, LOCAL, LOINC, SNOMED

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
PATIENT = {"reference": "Patient/gist-high-adjuvant"}
RAD = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}


def with_resources(*resources: dict[str, Any]) -> ImportResult:
    """The high-risk adjuvant twin (a GIST patient) plus ``resources``."""
    bundle = json.loads((FIXTURES / "high-risk-adjuvant.json").read_text())
    for resource in resources:
        bundle["entry"].append(
            {"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource}
        )
    return import_fhir(bundle)


def new(result: ImportResult, *types: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.type, e.occurred_on.isoformat(), e.data.to_json()) for e in result.events if e.type in types]


def reasons(result: ImportResult, source: str) -> list[str]:
    return [item.reason for item in result.review if item.source.startswith(source)]


def local(code: str) -> dict[str, Any]:
    return {"coding": [{"system": LOCAL, "code": code}]}


def encounter(
    rid: str, *kinds: str, status: str = "finished", start: str | None = "2024-05-02"
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Encounter", "id": rid, "status": status,
                                "class": {"code": "AMB"}, "subject": PATIENT,
                                "type": [local(kind) for kind in kinds]}  # fmt: skip
    if start:
        resource["period"] = {"start": start}
    return resource


@pytest.mark.parametrize(
    ("resource", "events", "review"),
    [
        pytest.param(encounter("e1", "clinic_visit"), [("visit", "2024-05-02", {"kind": "clinic_visit"})],
                     None, id="clinic-visit"),
        pytest.param(encounter("e1", "skin_exam"), [("visit", "2024-05-02", {"kind": "skin_exam"})], None,
                     id="skin-exam"),
        pytest.param(encounter("e1", "clinic_visit", status="planned"), [], None, id="planned-not-held"),
        pytest.param(encounter("e1"), [], None, id="no-type-of-ours"),
        pytest.param(encounter("e1", "clinic_visit", start=None), [], "without period.start", id="no-day"),
        pytest.param(encounter("e1", "clinic_visit", "skin_exam"), [], "one Encounter per kind",
                     id="two-kinds"),
        pytest.param(encounter("e1", "clinic_visit", status="entered-in-error"), [], "earlier version",
                     id="in-error"),
    ],
)  # fmt: skip
def test_encounters_become_visits(resource: dict[str, Any], events: list[Any], review: str | None) -> None:
    result = with_resources(resource)
    assert new(result, "visit", "mdt_review") == events
    found = reasons(result, "Encounter/e1")
    assert (found == []) if review is None else any(review in r for r in found)


def impression(rid: str, summary: str, *outcomes: str, encounter_id: str | None = "mdt1") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "ClinicalImpression", "id": rid, "status": "completed",
                                "subject": PATIENT, "summary": summary,
                                "finding": [{"itemCodeableConcept": local(f"mdt-{o}")}
                                            for o in outcomes]}  # fmt: skip
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    return resource


def test_an_mdt_review_reads_the_decision_and_outcome_of_its_clinical_impression() -> None:
    result = with_resources(
        encounter("mdt1", "mdt_review"), impression("ci1", "Continue imatinib.", "continue")
    )
    assert new(result, "mdt_review") == [
        ("mdt_review", "2024-05-02", {"decision": "Continue imatinib.", "outcome": "continue"})
    ]
    [event] = [e for e in result.events if e.type == "mdt_review"]
    assert event.event_id.startswith("fhir:Encounter/mdt1#mdt_review+")  # a new impression version: new event

    long = with_resources(encounter("mdt1", "mdt_review"), impression("ci1", "x" * 800))
    [(_, _, data)] = new(long, "mdt_review")
    assert len(data["decision"]) == 500
    assert data["decision"].endswith("…")

    bare = with_resources(encounter("mdt1", "mdt_review"))
    assert new(bare, "mdt_review") == [("mdt_review", "2024-05-02", {})]

    two = with_resources(encounter("mdt1", "mdt_review"), impression("ci1", "A", "resect"),
                         impression("ci2", "B", "surveil"))  # fmt: skip
    assert new(two, "mdt_review") == []
    assert any("several ClinicalImpressions" in r for r in reasons(two, "Encounter/mdt1"))

    orphan = with_resources(impression("ci1", "Resect.", "resect", encounter_id=None))
    assert any("without its mdt_review Encounter" in r for r in reasons(orphan, "ClinicalImpression/ci1"))


def episode(
    status: str, end: str | None = "2025-01-15", reason: str | None = "transferred"
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "EpisodeOfCare", "id": "ep1", "status": status,
                                "patient": PATIENT, "period": {"start": "2024-01-10"}}  # fmt: skip
    if end:
        resource["period"]["end"] = end
    if reason:
        resource["extension"] = [{"url": f"{BASE}/StructureDefinition/follow-up-end-reason",
                                  "valueCodeableConcept": local(reason)}]  # fmt: skip
    return resource


def test_a_finished_episode_of_care_ends_the_follow_up() -> None:
    result = with_resources(episode("finished"))
    assert new(result, "follow_up_ended") == [("follow_up_ended", "2025-01-15", {"reason": "transferred"})]
    assert plan_follow_up(result.events, dt.date(2025, 2, 1)).stage == "ended"

    no_reason = with_resources(episode("finished", reason=None))
    assert new(no_reason, "follow_up_ended") == []
    assert any("end-reason extension" in r for r in reasons(no_reason, "EpisodeOfCare/ep1"))
    assert new(with_resources(episode("active", end=None)), "follow_up_ended") == []
    assert new(with_resources(episode("finished", reason="retired")), "follow_up_ended") == []


def test_a_death_with_a_date_ends_the_follow_up_and_one_without_is_reviewed() -> None:
    bundle = json.loads((FIXTURES / "high-risk-adjuvant.json").read_text())
    bundle["entry"][0]["resource"]["deceasedDateTime"] = "2025-03-04T10:00:00Z"
    assert new(import_fhir(bundle), "follow_up_ended") == [
        ("follow_up_ended", "2025-03-04", {"reason": "deceased"})
    ]
    undated = copy.deepcopy(bundle)
    del undated["entry"][0]["resource"]["deceasedDateTime"]
    undated["entry"][0]["resource"]["deceasedBoolean"] = True
    result = import_fhir(undated)
    assert new(result, "follow_up_ended") == []
    assert any("without deceasedDateTime" in r for r in reasons(result, "Patient/gist-high-adjuvant"))


def study(rid: str, *modalities: str) -> dict[str, Any]:
    return {"resourceType": "ImagingStudy", "id": rid, "status": "available", "subject": PATIENT,
            "modality": [{"system": DICOM, "code": m} for m in modalities]}  # fmt: skip


def report(rid: str, *, studies: tuple[str, ...] = (), code: dict[str, Any] | None = None,
           results: tuple[str, ...] = (), conclusion: tuple[dict[str, Any], ...] = (),
           status: str = "final", day: str = "2024-06-01") -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": rid, "status": status, "category": [RAD],
        "code": code or {"text": "Imaging report"}, "subject": PATIENT, "effectiveDateTime": day,
    }  # fmt: skip
    if studies:
        resource["imagingStudy"] = [{"reference": f"ImagingStudy/{s}"} for s in studies]
    if results:
        resource["result"] = [{"reference": f"Observation/{r}"} for r in results]
    if conclusion:
        resource["conclusionCode"] = list(conclusion)
    return resource


def disease_status(rid: str, snomed: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": PATIENT,
            "code": {"coding": [{"system": LOINC, "code": "97509-4"}]}, "effectiveDateTime": "2024-06-01",
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": snomed}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("resources", "data", "review"),
    [
        pytest.param([study("s1", "CT"), disease_status("st1", "359746009"),
                      report("r1", studies=("s1",), results=("st1",))],
                     {"modality": "ct", "result": "stable"}, None, id="ct-stable-disease-status"),
        pytest.param([study("s1", "PT", "CT"), report("r1", studies=("s1",))], {"modality": "pet"}, None,
                     id="pet-ct-is-pet"),
        pytest.param([report("r1", code=local("mri"), conclusion=(local("growth"),))],
                     {"modality": "mri", "result": "growth"}, None, id="mri-by-code-growth"),
        pytest.param([report("r1", code=local("eus"))], {"modality": "eus"}, None, id="eus-by-code"),
        pytest.param([study("s1", "US"), report("r1", studies=("s1",))], None, "cannot tell an EUS",
                     id="plain-ultrasound"),
        pytest.param([report("r1")], None, "no known modality", id="no-modality"),
        pytest.param([study("s1", "CT"), report("r1", studies=("s1",), conclusion=(
            local("stable"), {"coding": [{"system": SNOMED, "code": "271299001"}]}))], None,
                     "several results", id="two-results"),
        pytest.param([study("s1", "CT"), report("r1", studies=("s1",), status="preliminary")], None, None,
                     id="preliminary-not-yet"),
        pytest.param([study("s1", "CT"), report("r1", studies=("s1",), status="entered-in-error")], None,
                     "earlier version", id="in-error"),
    ],
)  # fmt: skip
def test_imaging_reports_become_imaging_events(
    resources: list[dict[str, Any]], data: dict[str, Any] | None, review: str | None
) -> None:
    result = with_resources(*resources)
    assert new(result, "imaging") == ([("imaging", "2024-06-01", data)] if data else [])
    found = reasons(result, "DiagnosticReport/r1")
    assert (found == []) if review is None else any(review in r for r in found)


def test_an_imaging_report_fulfils_the_due_ct() -> None:
    result = with_resources(study("s1", "CT"), report("r1", studies=("s1",)))
    plan = plan_follow_up(result.events, dt.date(2024, 6, 1))
    [ct] = [r for r in plan.reminders if r.key == "surveillance.high_adjuvant:ct:2024-03-01:1"]
    assert ct.status == "completed"
    assert ct.completed_by is not None
    assert ct.completed_by.startswith("fhir:DiagnosticReport/r1#imaging")


def test_a_medication_administration_is_held_for_review() -> None:
    given = {"resourceType": "MedicationAdministration", "id": "ma1", "status": "completed",
             "subject": PATIENT,
             "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                       "code": "282388"}]},
             "effectiveDateTime": "2024-03-02"}  # fmt: skip
    result = with_resources(given)
    assert any("read from MedicationRequest" in r for r in reasons(result, "MedicationAdministration/ma1"))
