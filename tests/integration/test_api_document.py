"""What the OpenAPI document promises, tried route by route on SQLite and PostgreSQL: the answers
match their declared models, the GET routes take the dashboard's session cookie and the writes do
not, an event_id stored with other content is refused (422, as the contract fixes), a query
parameter given twice is a 422 naming it, and /api/docs is served with Swagger UI's assets from
this server (no other origin)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import func, select

from models.rows import AlertRow, EventRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.staff.access import sign_in
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD
from web import api_models
from web.deps import COOKIE

pytestmark = pytest.mark.integration

OWN = "P05"  # nav-ana's


@pytest.fixture
def client(db: Database, tmp_path: Path, staff_tokens: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    with TestClient(create_web_app(settings, db.sessions)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


READS: list[tuple[str, Any]] = [
    ("/api/patients", api_models.PatientPage),
    (f"/api/patients/{OWN}", api_models.StoredPlan),
    (f"/api/patients/{OWN}/record", api_models.PatientRecord),
    ("/api/worklist?days=30", api_models.Worklist),
    ("/api/unassigned", api_models.UnassignedPage),
    ("/api/audit", list[api_models.AuditEntry]),
    ("/api/me", api_models.Me),
]


@pytest.mark.parametrize(("path", "model"), READS, ids=[path for path, _ in READS])
def test_every_read_answers_its_declared_model(
    client: TestClient, staff_tokens: dict[str, str], path: str, model: Any
) -> None:
    """Validated strictly (no undeclared key) as the admin, who may read every route."""
    response = client.get(path, headers=auth(staff_tokens["ada"]))
    assert response.status_code == 200, response.text
    TypeAdapter(model).validate_python(response.json())


def test_the_session_cookie_reads_but_never_writes(
    client: TestClient, db: Database, staff_tokens: dict[str, str]
) -> None:
    signed_in = sign_in(db.sessions, "ana", PASSWORD, client="testclient")
    client.cookies.set(COOKIE, signed_in.cookie)
    me = client.get("/api/me")
    assert me.json() == {"username": "ana", "role": "navigator", "navigator_id": "nav-ana"}
    assert client.get(f"/api/patients/{OWN}").status_code == 200
    assert client.get("/api/patients/P02").status_code == 404  # nav-ben's: the navigator's scope holds
    with db.sessions() as session:
        alert_id = session.scalar(select(AlertRow.id).where(AlertRow.patient_id == OWN).limit(1))
    for path, body in ((f"/api/alerts/{alert_id}/acknowledge", {"note": "called"}), ("/api/events", [])):
        refused = client.post(path, json=body)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/me", headers=auth("a-wrong-token")).status_code == 401  # not the cookie's user
    client.cookies.set(COOKIE, "not-a-session")
    assert client.get("/api/me").status_code == 401


def test_an_event_id_stored_with_other_content_is_refused_as_a_conflict(
    client: TestClient, db: Database, staff_tokens: dict[str, str]
) -> None:
    with db.sessions() as session:
        stored = session.scalars(select(EventRow).where(EventRow.patient_id == OWN).limit(1)).one().payload
        before = session.scalar(select(func.count()).select_from(EventRow))
    changed = json.loads(json.dumps(stored)) | {"occurred_on": "2001-01-01"}
    fresh = {"event_id": "new-visit", "patient_id": OWN, "type": "visit", "occurred_on": "2026-11-20",
             "data": {"kind": "clinic_visit"}}  # fmt: skip
    conflict = client.post("/api/events", json=[fresh, changed], headers=auth(staff_tokens["ada"]))
    assert conflict.status_code == 422, conflict.text  # event-contract.md §4: a refused event is a 422
    assert conflict.json()["accepted"] == 0
    (rejected,) = conflict.json()["rejected"]
    assert rejected["line"] == 2
    assert "conflicts with the stored event" in rejected["error"]
    invalid = client.post("/api/events", json=[changed, {"event_id": "x"}], headers=auth(staff_tokens["ada"]))
    assert invalid.status_code == 422
    again = client.post("/api/events", json=[stored], headers=auth(staff_tokens["ada"]))
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == before  # all or nothing


def test_a_query_parameter_given_twice_is_refused_by_name(
    client: TestClient, staff_tokens: dict[str, str]
) -> None:
    response = client.get("/api/worklist?days=3&days=30", headers=auth(staff_tokens["ana"]))
    assert response.status_code == 422
    assert response.json() == {"detail": "days: given more than once; give it once"}
    assert client.get("/api/worklist?days=3&days=30").status_code == 401  # strangers learn nothing


def test_the_api_page_and_its_assets_come_from_this_server(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/") for source in sources), sources  # no CDN, no other origin
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    for source in sources:
        if source.startswith("/api/docs"):
            asset = client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 100, source
    document = client.get("/api/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}


def test_the_models_forbid_undeclared_keys() -> None:
    closed = [
        model
        for model in vars(api_models).values()
        if isinstance(model, type) and issubclass(model, api_models.Closed) and model is not api_models.Closed
    ]
    assert len(closed) >= 20
    for model in closed:
        assert issubclass(model, BaseModel)
        assert model.model_json_schema(mode="serialization").get("additionalProperties") is False, model
