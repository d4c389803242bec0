"""Who may register a patient (docs/security.md "Registration"), on SQLite and PostgreSQL.

A ``patient_registered`` event sets a patient's navigator and contact details: only an admin or an
integration account may submit it. A navigator who tries — to claim a patient whose events arrived
before its registration, to put a patient on another navigator's list, or to change the email of
their own patient — gets 403 and nothing is stored. Events of a patient not yet registered are
stored and processed; the patient waits in the admins' unassigned queue and nothing is emailed
for it until a navigator is assigned (a notice written earlier is held, then sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models.rows import EventRow, NotificationRow, PatientRow
from notifications.smtp import FolderSender
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.dispatch import create_due_notices
from scheduler.notifications.sending import send_notification
from scheduler.patients.processing import process_patient
from scheduler.staff.users import create_user
from tests.support.cohort import store_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD

pytestmark = pytest.mark.integration

USERS = {
    "ana": ("navigator", "nav-ana"),  # P01, P03, P05, P07
    "ben": ("navigator", "nav-ben"),
    "eve": ("navigator", "nav-eve"),
    "cleo": ("clinician", None),
    "ada": ("admin", None),
    "feed": ("integration", None),
}
ATTACKER = "attacker@evil.example"


def event(
    event_id: str, patient_id: str, type_: str, data: dict[str, Any], on: str = "2026-10-01"
) -> dict[str, Any]:
    return {"event_id": event_id, "patient_id": patient_id, "type": type_, "occurred_on": on, "data": data}


def registration(
    patient_id: str, navigator_id: str | None, email: str, suffix: str = "reg", on: str = "2026-11-20"
) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "Someone", "email": email}
    if navigator_id is not None:
        data["navigator_id"] = navigator_id
    return event(f"{patient_id}-{suffix}", patient_id, "patient_registered", data, on=on)


def clinical(patient_id: str) -> list[dict[str, Any]]:
    """A history that plans reminders overdue by AS_OF (a resected high-risk tumour)."""
    return [
        event(
            f"{patient_id}-dx", patient_id, "diagnosis", {"site": "stomach", "size_cm": 6}, on="2025-01-10"
        ),
        event(f"{patient_id}-rx", patient_id, "resection", {"margin": "R0"}, on="2025-02-01"),
        event(
            f"{patient_id}-path",
            patient_id,
            "pathology",
            {"size_cm": 6, "mitoses_per_5mm2": 12, "site": "stomach"},
            on="2025-02-10",
        ),
    ]


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[Database, TestClient, dict[str, str]]]:
    store_cohort(db)
    tokens = {
        name: create_user(
            db.sessions, name, role, PASSWORD, navigator_id=nav, email=f"{name}@clinic.example"
        ).token
        for name, (role, nav) in USERS.items()
    }
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    with TestClient(create_web_app(settings, db.sessions), raise_server_exceptions=False) as client:
        yield db, client, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events_of(db: Database, patient_id: str) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).where(EventRow.patient_id == patient_id)) or 0)


def patient(db: Database, patient_id: str) -> PatientRow | None:
    with db.sessions() as session:
        return session.get(PatientRow, patient_id)


def test_a_navigator_cannot_claim_a_patient_whose_events_came_first(
    site: tuple[Database, TestClient, dict[str, str]],
) -> None:
    db, client, tokens = site
    stored = client.post("/api/events", json=clinical("P50"), headers=auth(tokens["feed"]))
    assert stored.status_code == 202, stored.text
    process_patient(db.sessions, "P50", AS_OF)
    claim = client.post(
        "/api/events", json=registration("P50", "nav-eve", ATTACKER), headers=auth(tokens["eve"])
    )
    assert claim.status_code == 403, claim.text
    assert "only an admin or an integration account may submit patient_registered" in claim.json()["detail"]
    assert events_of(db, "P50") == 3
    process_patient(db.sessions, "P50", AS_OF, force=True)
    found = patient(db, "P50")
    assert found is not None
    assert (found.navigator_id, found.email) == (None, None)
    assert client.get("/api/patients/P50/record", headers=auth(tokens["eve"])).status_code == 404


def test_a_navigator_cannot_register_a_patient_onto_another_navigators_list(
    site: tuple[Database, TestClient, dict[str, str]],
) -> None:
    db, client, tokens = site
    batch = [registration("P60", "nav-ben", ATTACKER), *clinical("P60")]
    refused = client.post("/api/events", json=batch, headers=auth(tokens["ana"]))
    assert refused.status_code == 403, refused.text
    assert patient(db, "P60") is None
    assert events_of(db, "P60") == 0


def test_a_navigator_cannot_change_the_contact_details_of_their_own_patient(
    site: tuple[Database, TestClient, dict[str, str]],
) -> None:
    db, client, tokens = site
    before = patient(db, "P01")
    assert before is not None
    assert before.navigator_id == "nav-ana"
    refused = client.post("/api/events", json=registration("P01", "nav-ana", ATTACKER, "rereg"),
                          headers=auth(tokens["ana"]))  # fmt: skip
    assert refused.status_code == 403, refused.text
    process_patient(db.sessions, "P01", AS_OF, force=True)
    after = patient(db, "P01")
    assert after is not None
    assert after.email == before.email


def test_a_clinician_cannot_register_a_patient(site: tuple[Database, TestClient, dict[str, str]]) -> None:
    _db, client, tokens = site
    refused = client.post(
        "/api/events", json=registration("P61", "nav-ana", ATTACKER), headers=auth(tokens["cleo"])
    )
    assert refused.status_code == 403, refused.text


def test_a_navigator_cannot_write_events_of_an_unknown_or_unassigned_patient(
    site: tuple[Database, TestClient, dict[str, str]],
) -> None:
    db, client, tokens = site
    refused = client.post("/api/events", json=clinical("P62")[:1], headers=auth(tokens["ana"]))
    assert refused.status_code == 422, refused.text
    assert "patient_id: no such patient" in refused.json()["rejected"][0]["error"]
    assert patient(db, "P62") is None
    own = event("P01-visit-x", "P01", "visit", {"kind": "clinic_visit"}, on="2026-11-20")
    assert client.post("/api/events", json=own, headers=auth(tokens["ana"])).status_code == 202


@pytest.mark.parametrize("who", ["ada", "feed"])
def test_an_admin_or_integration_account_registers_patients(
    site: tuple[Database, TestClient, dict[str, str]], who: str
) -> None:
    db, client, tokens = site
    batch = [registration("P63", "nav-ben", "p63@example.org"), *clinical("P63")]
    assert client.post("/api/events", json=batch, headers=auth(tokens[who])).status_code == 202
    process_patient(db.sessions, "P63", AS_OF)
    found = patient(db, "P63")
    assert found is not None
    assert (found.navigator_id, found.email) == ("nav-ben", "p63@example.org")


def outbox_of(db: Database, patient_id: str) -> list[tuple[int, str]]:
    with db.sessions() as session:
        rows = session.execute(
            select(NotificationRow.id, NotificationRow.status)
            .where(NotificationRow.patient_id == patient_id)
            .order_by(NotificationRow.id)
        )
        return [(row_id, status) for row_id, status in rows]


def test_an_unregistered_patient_waits_in_the_unassigned_queue_and_is_not_emailed(
    site: tuple[Database, TestClient, dict[str, str]],
) -> None:
    db, client, tokens = site
    assert client.post("/api/events", json=clinical("P50"), headers=auth(tokens["feed"])).status_code == 202
    result = process_patient(db.sessions, "P50", AS_OF)
    assert result.inserted > 0  # processed like anyone's
    queue = client.get("/api/unassigned", headers=auth(tokens["ada"]))
    assert queue.status_code == 200, queue.text
    listed = {p["patient_id"]: p for p in queue.json()["patients"]}
    assert listed["P50"]["events"] == 3
    assert listed["P50"]["overdue"] >= 1
    for who in ("ana", "cleo", "feed"):
        assert client.get("/api/unassigned", headers=auth(tokens[who])).status_code == 403
    create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    assert outbox_of(db, "P50") == []  # nobody to tell yet: held back, not dropped

    assign = client.post("/api/events", json=registration("P50", "nav-ana", "p50@example.org"),
                         headers=auth(tokens["ada"]))  # fmt: skip
    assert assign.status_code == 202
    process_patient(db.sessions, "P50", AS_OF)
    queue = client.get("/api/unassigned", headers=auth(tokens["ada"])).json()
    assert "P50" not in {p["patient_id"] for p in queue["patients"]}
    create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    assert outbox_of(db, "P50"), "the notices are written once a navigator is assigned"


def test_a_notice_of_a_patient_left_without_a_navigator_is_held_then_sent(
    site: tuple[Database, TestClient, dict[str, str]], tmp_path: Path
) -> None:
    db, client, tokens = site
    batch = [registration("P51", "nav-ana", "p51@example.org"), *clinical("P51")]
    assert client.post("/api/events", json=batch, headers=auth(tokens["feed"])).status_code == 202
    process_patient(db.sessions, "P51", AS_OF)
    create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    written = outbox_of(db, "P51")
    assert written
    assert all(status == "pending" for _, status in written)
    unassign = registration("P51", None, "p51@example.org", "unassign", on="2026-11-21")
    assert client.post("/api/events", json=unassign, headers=auth(tokens["ada"])).status_code == 202
    process_patient(db.sessions, "P51", AS_OF)

    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    mail = tmp_path / "mail"
    sender = FolderSender(mail)
    assert {send_notification(db.sessions, row_id, sender, settings) for row_id, _ in written} == {"held"}
    assert not mail.exists() or not list(mail.iterdir())

    reassign = registration("P51", "nav-ben", "p51@example.org", "reassign", on="2026-11-22")
    assert client.post("/api/events", json=reassign, headers=auth(tokens["ada"])).status_code == 202
    process_patient(db.sessions, "P51", AS_OF)
    assert {status for _, status in outbox_of(db, "P51")} == {"pending"}
    results = {send_notification(db.sessions, row_id, sender, settings) for row_id, _ in written}
    assert results == {"sent"}
    assert list(mail.iterdir())
