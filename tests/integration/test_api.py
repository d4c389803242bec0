"""The JSON API against SQLite and PostgreSQL: bearer tokens, the authorization matrix
(role × route × own/other patient), all-or-nothing event submission, acknowledgement, the audit
trail and ``gistsched audit``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models.rows import AlertRow, AuditRow, EventRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from tests.support.common import cli_env, gistsched
from tests.support.services import Database
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

OWN, OTHER = "P05", "P02"  # nav-ana's and nav-ben's (both with alerts)


@pytest.fixture
def tokens(staff_tokens: dict[str, str]) -> dict[str, str]:
    return staff_tokens


@pytest.fixture
def client(db: Database, tmp_path: Path, tokens: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    with TestClient(create_web_app(settings, db.sessions)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alert_of(db: Database, patient_id: str) -> int:
    with db.sessions() as session:
        alert_id = session.scalar(select(AlertRow.id).where(AlertRow.patient_id == patient_id).limit(1))
    assert alert_id is not None, f"{patient_id} has no alert"
    return alert_id


@pytest.mark.parametrize(
    "path", ["/api/worklist", f"/api/patients/{OWN}", f"/api/patients/{OWN}/record", "/api/me", "/api/audit"]
)
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic YW5hOnB3", "bearer "])
def test_every_api_route_needs_a_valid_token(client: TestClient, path: str, header: str | None) -> None:
    response = client.get(path, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


# (user, patient, expected status) for reading a patient's plan and record
MATRIX = [
    ("ana", OWN, 200),
    ("ana", OTHER, 404),
    ("ben", OWN, 404),
    ("ben", OTHER, 200),
    ("cleo", OWN, 200),
    ("cleo", OTHER, 200),
    ("ada", OWN, 200),
    ("ada", "P99", 404),
]


@pytest.mark.parametrize(("user", "patient", "status"), MATRIX)
def test_authorization_matrix_for_patient_reads(
    client: TestClient, tokens: dict[str, str], user: str, patient: str, status: int
) -> None:
    plan = client.get(f"/api/patients/{patient}", headers=auth(tokens[user]))
    record = client.get(f"/api/patients/{patient}/record", headers=auth(tokens[user]))
    feed = client.post(f"/api/patients/{patient}/feeds", headers=auth(tokens[user]))
    assert (plan.status_code, record.status_code) == (status, status)
    assert feed.status_code == (201 if status == 200 else 404)
    if status == 200:
        assert plan.json()["patient_id"] == patient
        assert {"plan", "events", "alerts", "name"} <= set(record.json())
    else:  # another navigator's patient looks exactly like one that does not exist
        assert plan.json()["detail"].startswith("patient_id: no patient")


@pytest.mark.parametrize(("user", "patient", "status"), [m for m in MATRIX if m[1] != "P99"])
def test_authorization_matrix_for_acknowledging(
    client: TestClient, db: Database, tokens: dict[str, str], user: str, patient: str, status: int
) -> None:
    alert_id = alert_of(db, patient)
    response = client.post(
        f"/api/alerts/{alert_id}/acknowledge", json={"note": "patient called"}, headers=auth(tokens[user])
    )
    assert response.status_code == status
    with db.sessions() as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        assert (row.acknowledged_by == user) == (status == 200)


def test_worklist_is_scoped(client: TestClient, tokens: dict[str, str]) -> None:
    ana = client.get("/api/worklist?days=366", headers=auth(tokens["ana"])).json()
    ben = client.get("/api/worklist?days=366", headers=auth(tokens["ben"])).json()
    cleo = client.get("/api/worklist?days=366", headers=auth(tokens["cleo"])).json()
    assert set(ana) >= {"overdue", "due_soon", "alerts", "failed_notifications", "counts"}

    def patients(worklist: dict[str, list[dict[str, str]]]) -> set[str]:
        return {i["patient_id"] for k in ("overdue", "due_soon", "alerts") for i in worklist[k]}

    assert patients(ana)
    assert patients(ben)
    assert not patients(ana) & patients(ben)
    assert patients(cleo) == patients(ana) | patients(ben)
    critical = client.get("/api/worklist?severity=critical", headers=auth(tokens["cleo"])).json()
    assert all(a["severity"] == "critical" for a in critical["alerts"])
    assert client.get("/api/worklist?severity=bad", headers=auth(tokens["cleo"])).status_code == 422


def lab(patient: str, event_id: str, **data: object) -> dict[str, object]:
    return {
        "event_id": event_id, "patient_id": patient, "type": "visit", "occurred_on": "2026-11-26",
        "data": {"kind": "clinic_visit", **data},
    }  # fmt: skip


def events_stored(db: Database) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(EventRow)) or 0


def test_post_events_is_all_or_nothing(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    before = events_stored(db)
    good, bad = lab(OWN, "api-1"), lab(OWN, "api-2", extra="nope")
    response = client.post("/api/events", json=[good, bad], headers=auth(tokens["ana"]))
    assert response.status_code == 422
    body = response.json()
    assert body["accepted"] == 0
    assert [r["line"] for r in body["rejected"]] == [2]
    assert "data" in body["rejected"][0]["error"]
    assert events_stored(db) == before
    ok = client.post("/api/events", json=good, headers=auth(tokens["ana"]))
    assert ok.status_code == 202
    assert ok.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    again = client.post("/api/events", json=[good], headers=auth(tokens["ana"]))
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert events_stored(db) == before + 1


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[]", b"42", b'"text"', b'{"event_id": 1}', b"[" + b"{}," * 10 + b"{}]"]
)
def test_post_events_rejects_junk_with_422(
    client: TestClient, db: Database, tokens: dict[str, str], body: bytes
) -> None:
    before = events_stored(db)
    response = client.post(
        "/api/events", content=body, headers=auth(tokens["ana"]) | {"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["rejected"]
    assert events_stored(db) == before


def test_a_navigator_cannot_write_another_navigators_patient(
    client: TestClient, db: Database, tokens: dict[str, str]
) -> None:
    before = events_stored(db)
    response = client.post(
        "/api/events", json=[lab(OWN, "a-1"), lab(OTHER, "a-2")], headers=auth(tokens["ana"])
    )
    assert response.status_code == 422
    assert [r["line"] for r in response.json()["rejected"]] == [2]
    assert "patient_id: no such patient" in response.json()["rejected"][0]["error"]
    assert events_stored(db) == before
    assert client.post("/api/events", json=lab(OTHER, "c-1"), headers=auth(tokens["cleo"])).status_code == 202


def test_oversized_body_is_413(client: TestClient, tokens: dict[str, str]) -> None:
    big = b"[" + b" " * (5 * 1024 * 1024) + b"]"
    response = client.post(
        "/api/events", content=big, headers=auth(tokens["ana"]) | {"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_reads_and_writes_are_audited(
    client: TestClient, db: Database, tokens: dict[str, str], tmp_path: Path
) -> None:
    client.get(f"/api/patients/{OWN}", headers=auth(tokens["ana"]))
    client.get(f"/api/patients/{OTHER}", headers=auth(tokens["ana"]))  # refused: not audited as a read
    client.post("/api/events", json=lab(OWN, "audit-1"), headers=auth(tokens["ana"]))
    alert_id = alert_of(db, OTHER)
    client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "called"}, headers=auth(tokens["ben"]))
    with db.sessions() as session:
        rows = session.execute(select(AuditRow.username, AuditRow.action, AuditRow.patient_id)).all()
    assert ("ana", "read_patient", OWN) in rows
    assert ("ana", "read_patient", OTHER) not in rows
    assert ("ana", "submit_events", OWN) in rows
    assert ("ben", "acknowledge_alert", OTHER) in rows
    assert client.get("/api/audit", headers=auth(tokens["ana"])).status_code == 403
    assert client.get(f"/api/audit?patient_id={OWN}", headers=auth(tokens["ada"])).json()
    result = gistsched("audit", "--patient", OWN, env=cli_env(db.url, tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(line["user"], line["action"]) for line in lines} >= {
        ("ana", "read_patient"),
        ("ana", "submit_events"),
    }
    assert all(line["patient_id"] == OWN for line in lines)


def test_acknowledgement_needs_a_note(client: TestClient, db: Database, tokens: dict[str, str]) -> None:
    alert_id = alert_of(db, OTHER)
    response = client.post(
        f"/api/alerts/{alert_id}/acknowledge", json={"note": "  "}, headers=auth(tokens["ben"])
    )
    assert response.status_code == 422
    missing = client.post(f"/api/alerts/{alert_id}/acknowledge", json={}, headers=auth(tokens["ben"]))
    assert missing.status_code == 422


def test_security_headers_and_openapi(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/me", headers=auth(tokens["ana"]))
    assert response.json() == {"username": "ana", "role": "navigator", "navigator_id": "nav-ana"}
    for name in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
        assert name in response.headers
    assert response.headers["cache-control"] == "no-store"
    spec = client.get("/api/openapi.json").json()
    assert "/api/events" in spec["paths"]
