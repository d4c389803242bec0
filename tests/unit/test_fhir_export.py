"""Plan → FHIR export: valid R4 (R4B models), our FHIRPath invariants, deterministic, codes verified."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy import evaluate

from scheduler.domain.plan import plan_follow_up
from scheduler.fhir import import_fhir, read_sources
from scheduler.fhir.export import RISK_SYSTEM, export_plan
from scheduler.fhir.knowledge import knowledge_bundle, plan_definition
from scheduler.fhir.terminology import LOINC, unwaived_codes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
TWINS = {"high-risk-adjuvant": "2024-06-01", "small-bowel-rupture": "2024-06-01",
         "pdgfra-d842v": "2024-02-05", "regorafenib-alt": "2026-03-12"}  # fmt: skip


def plan_json(name: str) -> dict[str, Any]:
    events = import_fhir(json.loads((FIXTURES / f"{name}.json").read_text())).events
    return plan_follow_up(events, dt.date.fromisoformat(TWINS[name])).to_json()


@pytest.mark.parametrize("name", TWINS)
def test_export_is_valid_r4_deterministic_and_meets_our_invariants(name: str) -> None:
    plan = plan_json(name)
    bundle = export_plan(plan)
    read_sources(bundle)  # every resource validates with the R4B models
    assert json.dumps(export_plan(plan_json(name))) == json.dumps(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    tasks = [r for r in resources if r["resourceType"] == "Task"]
    assert len(tasks) == len(plan["reminders"])
    for task in tasks:
        assert evaluate(task, "focus.exists() and code.coding.where(code = 'fulfill').exists()") == [True]
    for issue in (r for r in resources if r["resourceType"] == "DetectedIssue"):
        assert evaluate(issue, "reference.exists() and severity.exists()") == [True]
    assert len([r for r in resources if r["resourceType"] == "DetectedIssue"]) == len(plan["alerts"])
    [care_plan] = [r for r in resources if r["resourceType"] == "CarePlan"]
    assert care_plan["instantiatesCanonical"] == [
        f"https://gist-scheduler.example.org/fhir/PlanDefinition/gist-follow-up|{plan['profile']}"
    ]
    assert unwaived_codes(bundle) == []


def test_overdue_is_carried_in_business_status() -> None:
    plan = plan_json("high-risk-adjuvant")
    plan["reminders"][0] = {**plan["reminders"][0], "status": "overdue", "overdue_since": "2024-04-01"}
    task = next(e["resource"] for e in export_plan(plan)["entry"] if e["resource"]["resourceType"] == "Task")
    assert task["businessStatus"]["coding"][0]["code"] == "overdue"
    assert task["extension"][0]["valueDate"] == "2024-04-01"
    assert task["priority"] == "urgent"


@pytest.mark.parametrize(
    ("status", "task_status", "business_status", "request_status"),
    [
        ("planned", "requested", "planned", "active"),
        ("due", "requested", "due", "active"),
        ("overdue", "requested", "overdue", "active"),
        ("completed", "completed", None, "completed"),
        ("cancelled", "cancelled", None, "revoked"),
    ],
)
def test_each_reminder_status_maps_to_task_and_request_with_ids_from_the_key(
    status: str, task_status: str, business_status: str | None, request_status: str
) -> None:
    plan = plan_json("high-risk-adjuvant")
    first = plan["reminders"][0]
    value = f"gist-high-adjuvant:{first['key']}"

    def of_reminder(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {
            e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]
            if e["resource"]["resourceType"] in ("Task", "ServiceRequest")
            and e["resource"]["identifier"][0]["value"] == value
        }  # fmt: skip

    before = of_reminder(export_plan(plan))
    plan["reminders"] = [*plan["reminders"][1:], {**first, "status": status}]  # moved and changed
    after = of_reminder(export_plan(plan))
    task, request = after["Task"], after["ServiceRequest"]
    assert (task["status"], request["status"]) == (task_status, request_status)
    assert task.get("businessStatus", {}).get("coding", [{}])[0].get("code") == business_status
    assert (task["id"], request["id"]) == (before["Task"]["id"], before["ServiceRequest"]["id"])


def test_an_unverified_exported_code_fails_without_a_waiver() -> None:
    bundle = export_plan(plan_json("high-risk-adjuvant"))
    request = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"
    )
    request["code"]["coding"].append({"system": LOINC, "code": "36813-4"})  # CT abdomen/pelvis: unverified
    assert unwaived_codes(bundle) == [f"{LOINC}|36813-4"]


def test_every_rule_a_plan_names_resolves_to_an_action() -> None:
    actions = {a["id"] for a in plan_definition("esmo2022-seed")["action"]}
    for name in TWINS:
        plan = plan_json(name)
        assert {r["rule"] for r in plan["reminders"]} | {a["rule"] for a in plan["alerts"]} <= actions
    definition = plan_definition("esmo2022-seed")
    assert all(a["documentation"][0]["citation"] for a in definition["action"])
    read_sources(knowledge_bundle("esmo2022-seed"))


def risk_observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and any(i["system"] == RISK_SYSTEM for i in e["resource"].get("identifier", []))
    ]


@pytest.mark.parametrize(
    ("tier", "system", "code"),
    [
        ("very_low", "http://snomed.info/sct", "260362008"),
        ("low", "http://snomed.info/sct", "723505004"),
        ("intermediate", "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "C102402"),
        ("high", "http://snomed.info/sct", "723509005"),
    ],
)
def test_the_risk_tier_is_one_observation_valued_from_mcode(tier: str, system: str, code: str) -> None:
    """fhir-mapping.md §2.1: the risk is an Observation valued from mCODE's RiskAssessmentValueVS."""
    plan = plan_json("high-risk-adjuvant")
    plan["risk"] = {**plan["risk"], "nih_modified": tier}
    bundle = export_plan(plan)
    read_sources(bundle)
    risks = risk_observations(bundle)
    assert len(risks) == 1
    [coding] = risks[0]["valueCodeableConcept"]["coding"]
    assert (coding["system"], coding["code"]) == (system, code)
    assert risks[0]["subject"]["reference"].endswith(plan["patient_id"])
    assert risks[0]["effectiveDateTime"] == plan["as_of"]


def test_a_plan_without_a_risk_tier_exports_no_risk_observation() -> None:
    plan = plan_json("high-risk-adjuvant")
    plan["risk"] = {**plan["risk"], "nih_modified": None}
    assert risk_observations(export_plan(plan)) == []
