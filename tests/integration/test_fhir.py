"""FHIR import and export through the real shells (SQLite and PostgreSQL): ``POST /fhir/Bundle``,
``GET /fhir/CarePlan``, ``gistsched fhir import|export``; review items stored and on the record."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.rows import EventRow, FhirReviewRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.fhir import read_sources
from scheduler.patients.processing import process_patient
from scheduler.patients.records import patient_record
from scheduler.staff.users import create_user
from tests.support.services import Database, Pipeline
from tests.support.staff import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
AS_OF = dt.date(2026, 3, 12)


def twin(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


@pytest.fixture
def tokens(db: Database) -> dict[str, str]:
    return {
        "ada": create_user(db.sessions, "ada", "admin", PASSWORD, None).token,
        "ana": create_user(db.sessions, "ana", "navigator", PASSWORD, "nav-ana").token,
    }


@pytest.fixture
def client(db: Database, tmp_path: Path, tokens: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    with TestClient(create_web_app(settings, db.sessions)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_post_bundle_stores_events_once_and_review_items_with_the_record(
    client: TestClient, db: Database, tokens: dict[str, str]
) -> None:
    bundle = twin("regorafenib-alt")
    no_uln = next(e for e in bundle["entry"] if e["resource"]["id"] == "gra-alt-1")
    extra = json.loads(json.dumps(no_uln))
    extra["resource"]["id"] = "gra-alt-2"
    extra["resource"].pop("referenceRange")
    extra["fullUrl"] = "http://clinic.example.org/fhir/Observation/gra-alt-2"
    bundle["entry"].append(extra)

    first = client.post("/fhir/Bundle", json=bundle, headers=auth(tokens["ada"]))
    assert first.status_code == 202, first.text
    assert first.json()["accepted"] == 6
    assert first.json()["needs_review"] == 1
    again = client.post("/fhir/Bundle", json=bundle, headers=auth(tokens["ada"]))
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 6)
    assert db.count(EventRow) == 6
    assert db.count(FhirReviewRow) == 1  # stored once, with its source

    process_patient(db.sessions, "gist-rego-alt", AS_OF)
    with db.sessions() as session:
        record = patient_record(session, "gist-rego-alt")
    assert record is not None
    [item] = record["fhir_review"]
    assert item["source"] == "Observation/gra-alt-2/_history/1"
    assert "uln" in item["reason"]

    exported = client.get("/fhir/CarePlan?patient=gist-rego-alt", headers=auth(tokens["ada"]))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/fhir+json")
    types = [e["resource"]["resourceType"] for e in exported.json()["entry"]]
    assert types[0] == "CarePlan"
    assert "DetectedIssue" in types
    assert (
        exported.json()
        == client.get("/fhir/CarePlan?patient=gist-rego-alt", headers=auth(tokens["ada"])).json()
    )
    hidden = client.get("/fhir/CarePlan?patient=gist-rego-alt", headers=auth(tokens["ana"]))
    assert hidden.status_code == 404  # not ana's patient

    # the patient's page lists it for the staff
    signed_in = client.post("/login", data={"username": "ada", "password": PASSWORD}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    page = client.get("/patients/gist-rego-alt").text
    assert "Imported from FHIR: needs review (1)" in page
    assert "Observation/gra-alt-2/_history/1" in page


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        pytest.param(
            b'{"resourceType": "Bundle", "type": "collection", "entry": [', "not valid JSON", id="malformed"
        ),
        pytest.param(b'{"hello": "world"}', "must be a FHIR resource or Bundle", id="non-bundle"),
    ],
)
def test_bad_bundles_are_refused_with_an_operation_outcome(
    client: TestClient, db: Database, tokens: dict[str, str], body: bytes, needle: str
) -> None:
    answer = client.post("/fhir/Bundle", content=body, headers=auth(tokens["ada"]))
    assert answer.status_code == 400
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert needle in answer.json()["issue"][0]["diagnostics"]
    assert db.count(EventRow) == 0


def test_an_unknown_element_refuses_the_whole_bundle(
    client: TestClient, db: Database, tokens: dict[str, str]
) -> None:
    bundle = twin("high-risk-adjuvant")
    bundle["entry"][-1]["resource"]["dosageInstructionz"] = []
    answer = client.post("/fhir/Bundle", json=bundle, headers=auth(tokens["ada"]))
    assert answer.status_code == 400
    assert "entry[10] MedicationRequest/gha-imatinib: dosageInstructionz: unknown element" in answer.text
    assert db.count(EventRow) == 0
    assert db.count(FhirReviewRow) == 0


def test_only_admins_import(client: TestClient, tokens: dict[str, str]) -> None:
    answer = client.post("/fhir/Bundle", json=twin("pdgfra-d842v"), headers=auth(tokens["ana"]))
    assert answer.status_code == 403


def test_cli_imports_a_folder_and_refuses_a_bad_file(pipeline: Pipeline, tmp_path: Path) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    for name in ("high-risk-adjuvant", "pdgfra-d842v"):
        (folder / f"{name}.json").write_text(json.dumps(twin(name)))
    done = pipeline.gistsched("fhir", "import", str(folder))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "files": 2, "accepted": 13, "duplicates": 0, "needs_review": 0, "not_used": 1, "rejected": 0
    }  # fmt: skip
    (folder / "zz-bad.json").write_text('{"resourceType": "Observation"}')
    again = pipeline.gistsched("fhir", "import", str(folder))
    assert again.returncode == 2
    assert "Traceback" not in again.stderr
    assert "zz-bad.json: Observation: " in again.stderr
    assert json.loads(again.stdout)["duplicates"] == 13
    assert pipeline.db.count(EventRow) == 13

    process_patient(pipeline.db.sessions, "gist-d842v", dt.date(2024, 2, 5))
    exported = pipeline.gistsched("fhir", "export", "gist-d842v")
    assert exported.returncode == 0, exported.stderr
    issues = [
        e["resource"]
        for e in json.loads(exported.stdout)["entry"]
        if e["resource"]["resourceType"] == "DetectedIssue"
    ]
    assert any(i["code"]["coding"][0]["code"] == "pdgfra_d842v_imatinib_resistant" for i in issues)
    missing = pipeline.gistsched("fhir", "export", "nobody")
    assert missing.returncode == 2
    assert "no stored plan" in missing.stderr


def test_cli_knowledge_prints_the_plan_definition_the_exported_plan_names(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = tmp_path / "d842v.json"
    path.write_text(json.dumps(twin("pdgfra-d842v")))
    assert pipeline.gistsched("fhir", "import", str(path)).returncode == 0
    process_patient(pipeline.db.sessions, "gist-d842v", dt.date(2024, 2, 5))
    exported = [
        e["resource"] for e in json.loads(pipeline.gistsched("fhir", "export", "gist-d842v").stdout)["entry"]
    ]

    done = pipeline.gistsched("fhir", "knowledge")
    assert done.returncode == 0, done.stderr
    knowledge = json.loads(done.stdout)
    read_sources(knowledge)  # valid R4 (R4B models)
    resources = [e["resource"] for e in knowledge["entry"]]
    [definition] = [r for r in resources if r["resourceType"] == "PlanDefinition"]
    [care_plan] = [r for r in exported if r["resourceType"] == "CarePlan"]
    assert care_plan["instantiatesCanonical"] == [f"{definition['url']}|{definition['version']}"]
    activities = {r["url"] for r in resources if r["resourceType"] == "ActivityDefinition"}
    named = {r["instantiatesCanonical"][0] for r in exported if r["resourceType"] == "ServiceRequest"}
    assert named
    assert named <= activities

    other = pipeline.gistsched("fhir", "knowledge", "--profile", str(FIXTURES / "none.json"))
    assert other.returncode == 2
    assert "--profile" in other.stderr
