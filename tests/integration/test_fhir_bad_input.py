"""Bad FHIR input through the real shells (``gistsched fhir import`` and ``POST /fhir/Bundle``, on
SQLite and PostgreSQL): a clear error naming the entry, exit 2 or HTTP 400, and nothing stored —
no event, no review item — even when the rest of the Bundle is good."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.rows import EventRow, FhirReviewRow, PatientRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.staff.users import create_user
from tests.support.common import assert_cli_error
from tests.support.services import Database, Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"


def twin() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "high-risk-adjuvant.json").read_text())
    return loaded


def unknown_element() -> str:
    bundle = twin()
    bundle["entry"][9]["resource"]["valueQuantiti"] = {"value": 1}  # the other ten entries are good
    return json.dumps(bundle)


def ten_thousand() -> str:
    bundle = twin()
    alt = bundle["entry"][9]
    extra = []
    for n in range(10_000 - len(bundle["entry"])):
        copied = copy.deepcopy(alt)
        copied["resource"]["id"] = f"gha-alt-x{n}"
        copied["fullUrl"] = f"http://clinic.example.org/fhir/Observation/gha-alt-x{n}"
        extra.append(copied)
    bundle["entry"] += extra
    return json.dumps(bundle)


BAD = {
    "malformed": (lambda: json.dumps(twin())[:-40], "not valid JSON"),
    "non-bundle": (
        lambda: json.dumps({"patient": "gist-high-adjuvant", "events": []}),
        "must be a FHIR resource",
    ),
    "ten-thousand-entries": (ten_thousand, "Bundle.entry: at most 5000 entries per Bundle (got 10000)"),
    "unknown-element": (unknown_element, "entry[9] Observation/gha-alt-1: valueQuantiti: unknown element"),
}


@pytest.mark.parametrize("case", BAD)
def test_cli_refuses_a_bad_file_whole(pipeline: Pipeline, tmp_path: Path, case: str) -> None:
    make, needle = BAD[case]
    path = tmp_path / f"{case}.json"
    path.write_text(make())
    done = pipeline.gistsched("fhir", "import", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if needle in line and str(path) in line]
    assert json.loads(done.stdout)["rejected"] == 1
    for row in (EventRow, FhirReviewRow, PatientRow):
        assert pipeline.db.count(row) == 0


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    token = create_user(db.sessions, "ada", "admin", "correct horse battery", None).token
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path)
    with TestClient(create_web_app(settings, db.sessions)) as test_client:
        yield test_client, token


@pytest.mark.parametrize("case", BAD)
def test_http_refuses_a_bad_bundle_whole(client: tuple[TestClient, str], db: Database, case: str) -> None:
    test_client, token = client
    make, needle = BAD[case]
    answer = test_client.post(
        "/fhir/Bundle", content=make().encode(), headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 400
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert needle in answer.json()["issue"][0]["diagnostics"]
    for row in (EventRow, FhirReviewRow, PatientRow):
        assert db.count(row) == 0


def test_cli_reports_a_bad_folder_entry_and_a_missing_file(pipeline: Pipeline, tmp_path: Path) -> None:
    assert_cli_error(pipeline.gistsched("fhir", "import", str(tmp_path / "none.json")), "FILE", "none.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_cli_error(pipeline.gistsched("fhir", "import", str(empty)), "FILE", "no .json files")
