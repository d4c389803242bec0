"""The navigator dashboard (event-contract.md §4 ``GET/POST /login``, ``GET /``) through the
FastAPI app on SQLite and PostgreSQL: sign-in and its cookie, scope, CSRF, the event forms, alert
acknowledgement, calendar subscriptions, the printable schedule, and the pages' markup (CSP: no
inline script or style; every input labelled)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models.rows import AlertRow, EventRow, FeedRow, ReminderRow, UserRow
from scheduler.app.wiring import create_web_app
from scheduler.patients.processing import process_patient
from scheduler.staff.access import MAX_FAILURES, Principal
from scheduler.staff.worklist import worklist
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD, STAFF, create_staff
from tests.support.web import (
    Page,
    assert_csp_clean,
    assert_landmarks,
    audit_rows,
    settings_for,
    sign_in,
)
from web.deps import COOKIE

pytestmark = pytest.mark.integration

USERS = {name: STAFF[name] for name in ("ana", "ben", "cleo")}


@pytest.fixture
def stored(stored: Database) -> Database:
    """The example cohort stored and planned as of AS_OF, and three users."""
    create_staff(stored.sessions, USERS)
    return stored


@pytest.fixture
def client(stored: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_web_app(settings_for(stored, tmp_path), stored.sessions)) as test_client:
        yield test_client


def alert_id(db: Database, patient_id: str, code: str) -> int:
    with db.sessions() as session:
        found = session.scalar(
            select(AlertRow.id).where(AlertRow.patient_id == patient_id, AlertRow.code == code)
        )
    assert found is not None
    return found


# ---- sign-in ----------------------------------------------------------------------------------------


def test_sign_in_sets_an_http_only_lax_cookie_and_redirects(client: TestClient) -> None:
    form = client.get("/login")
    assert form.status_code == 200
    assert 'name="username"' in form.text
    assert 'name="password"' in form.text
    response = client.post("/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    flags = {part.strip().split("=", 1)[0].lower(): part for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"].strip().lower() == "samesite=lax"
    assert flags["path"].strip() == "Path=/"
    assert flags["max-age"].strip() == "Max-Age=43200"
    assert "secure" not in flags  # http base URL: a Secure cookie would never come back
    page = client.get("/")
    assert page.status_code == 200
    assert "Signed in as" in page.text


def test_cookie_is_secure_when_the_base_url_is_https(stored: Database, tmp_path: Path) -> None:
    app = create_web_app(settings_for(stored, tmp_path, "https://gist.example.org"), stored.sessions)
    with TestClient(app, base_url="https://testserver") as https_client:
        response = https_client.post(
            "/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()
        assert https_client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("next_", "expected"),
    [
        ("/patients/P01", "/patients/P01"),
        ("/?kind=ct", "/?kind=ct"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),
    ],
)
def test_sign_in_goes_back_only_to_a_local_page(client: TestClient, next_: str, expected: str) -> None:
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "next": next_}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == expected


def test_wrong_password_and_unknown_user_get_one_generic_message(client: TestClient) -> None:
    wrong = client.post("/login", data={"username": "ana", "password": "not the password"})
    unknown = client.post("/login", data={"username": "nobody", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert "set-cookie" not in response.headers
        assert_csp_clean(response.text)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_sixth_failed_sign_in_is_rate_limited(client: TestClient, stored: Database) -> None:
    for _ in range(MAX_FAILURES):
        assert client.post("/login", data={"username": "ana", "password": "wrong"}).status_code == 401
    limited = client.post("/login", data={"username": "ana", "password": "wrong"})
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text
    right = client.post("/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False)
    assert right.status_code == 429  # even the right password waits out the window
    assert "set-cookie" not in right.headers
    assert len(audit_rows(stored, "sign_in_failed")) == MAX_FAILURES + 2


def test_sign_in_from_another_site_is_refused(client: TestClient) -> None:
    response = client.post(
        "/login",
        data={"username": "ana", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("path", ["/", "/?kind=ct", "/patients/P01", "/patients/P01/print"])
def test_pages_redirect_to_sign_in_when_signed_out(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert urlsplit(location).path == "/login"
    if path != "/":
        assert parse_qs(urlsplit(location).query)["next"] == [path]
    follow = client.get(location)
    assert 'name="next"' in follow.text


def test_a_post_without_a_session_stores_nothing(client: TestClient, stored: Database) -> None:
    before = stored.count(EventRow)
    response = client.post(
        "/patients/P05/events",
        data={"form": "lab", "occurred_on": "2026-11-27", "test": "tsh", "value": "2"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/login"
    assert stored.count(EventRow) == before


def test_sign_out_revokes_the_session(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303
    assert [row[0] for row in audit_rows(stored, "sign_out")] == ["ana"]


# ---- CSRF -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["missing", "empty", "wrong"])
def test_every_post_checks_the_csrf_token(client: TestClient, stored: Database, token: str | None) -> None:
    sign_in(client, "ana")
    alert = alert_id(stored, "P05", "kit_exon9_dose")
    extra = {} if token is None else {"csrf_token": token}
    events, feeds = stored.count(EventRow), stored.count(FeedRow)
    posts = [
        ("/patients/P05/events", {"form": "lab", "occurred_on": "2026-11-27", "test": "tsh", "value": "2"}),
        ("/patients/P05/feeds", {}),
        (f"/alerts/{alert}/acknowledge", {"note": "called the patient"}),
        ("/logout", {}),
    ]
    for path, data in posts:
        response = client.post(path, data={**data, **extra}, follow_redirects=False)
        assert response.status_code == 403, path
        assert_csp_clean(response.text)
    assert stored.count(EventRow) == events
    assert stored.count(FeedRow) == feeds
    with stored.sessions() as session:
        row = session.get(AlertRow, alert)
        assert row is not None
        assert row.acknowledged_at is None
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


# ---- scope ------------------------------------------------------------------------------------------


def test_a_navigator_sees_their_patient_and_not_another_navigators(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    own = client.get("/patients/P01")
    assert own.status_code == 200
    assert "Maria Santos" in own.text
    assert "nav-ana" in own.text
    others = client.get("/patients/P02")
    missing = client.get("/patients/P99")
    assert others.status_code == missing.status_code == 404
    assert "Daniel Okafor" not in others.text
    assert others.text.replace("P02", "") == missing.text.replace("P99", "")  # nothing tells them apart
    assert client.get("/patients/P02/print").status_code == 404
    before = stored.count(EventRow), stored.count(FeedRow)
    data = {"csrf_token": csrf, "form": "lab", "occurred_on": "2026-11-27", "test": "tsh", "value": "2"}
    assert client.post("/patients/P02/events", data=data).status_code == 404
    assert client.post("/patients/P02/feeds", data={"csrf_token": csrf}).status_code == 404
    ack = client.post(
        f"/alerts/{alert_id(stored, 'P02', 'rectal_tumour_needs_tissue')}/acknowledge",
        data={"csrf_token": csrf, "note": "seen"},
    )
    assert ack.status_code == 404
    assert (stored.count(EventRow), stored.count(FeedRow)) == before
    worklist_page = client.get("/").text
    assert 'href="/patients/P07"' in worklist_page  # its liver tests are due today
    assert "Daniel Okafor" not in worklist_page
    assert "/patients/P02" not in worklist_page


def test_a_clinician_sees_every_patient(client: TestClient) -> None:
    sign_in(client, "cleo")
    for patient_id, name in (("P01", "Maria Santos"), ("P02", "Daniel Okafor")):
        page = client.get(f"/patients/{patient_id}")
        assert page.status_code == 200
        assert name in page.text
    page = client.get("/").text
    assert "/patients/P02" in page
    assert "/patients/P05" in page
    assert "all patients" in page


def test_every_patient_page_view_is_audited(client: TestClient, stored: Database) -> None:
    sign_in(client, "ana")
    client.get("/patients/P01")
    client.get("/patients/P01/print")
    client.get("/patients/P02")  # not theirs: nothing read, nothing audited as a read
    assert audit_rows(stored, "read_patient") == [("ana", "P01", None), ("ana", "P01", None)]
    assert [row[0] for row in audit_rows(stored, "read_worklist")] == ["ana"]  # sign_in's GET /


# ---- worklist ----------------------------------------------------------------------------------------


def counts_on(html: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def expected_worklist(db: Database, username: str, **filters: str) -> dict[str, Any]:
    role, navigator_id = USERS[username]
    with db.sessions() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.username == username))
        assert user_id is not None
        return worklist(session, Principal(user_id, username, role, navigator_id), AS_OF, **filters)


def test_the_worklist_shows_counts_and_sections_in_order(client: TestClient, stored: Database) -> None:
    sign_in(client, "ben")
    page = client.get("/")
    assert page.status_code == 200
    expected = expected_worklist(stored, "ben")
    assert counts_on(page.text) == expected["counts"]
    text = page.text
    sections = [text.index(f'id="{name}-title"') for name in ("overdue", "due", "alerts", "failed")]
    assert sections == sorted(sections), "overdue first, then due this week, alerts, failed notifications"
    for item in expected["overdue"] + expected["due_soon"]:
        assert f'data-key="{item["key"]}"' in text
        assert f'href="/patients/{item["patient_id"]}"' in text
    assert "Helga" not in text  # ana's patient
    assert "Daniel Okafor" in text  # P02's rectal tumour alert: patient code and name
    critical = [a for a in expected["alerts"] if a["severity"] == "critical"]
    assert critical
    for alert in critical:
        assert alert["message"] in text
        assert f'action="/alerts/{alert["id"]}/acknowledge"' in text
    assert_csp_clean(text)
    assert_landmarks(text)


def test_the_worklist_filters_by_kind_and_severity(client: TestClient, stored: Database) -> None:
    sign_in(client, "cleo")
    page = client.get("/", params={"kind": "lab_lft", "severity": "critical"}).text
    expected = expected_worklist(stored, "cleo", kind="lab_lft", severity="critical")
    assert counts_on(page) == expected["counts"]
    keys = re.findall(r'<tr data-key="([^"]+)"', page)
    assert keys
    assert all(":lab_lft:" in key for key in keys)
    assert '<option value="lab_lft" selected>' in page
    assert '<option value="critical" selected>' in page
    alerts = re.findall(r'<tr data-alert="(\d+)"', page)
    assert sorted(int(a) for a in alerts) == sorted(a["id"] for a in expected["alerts"])
    assert "severity-warning" not in page
    assert client.get("/", params={"kind": "<script>", "severity": "nope"}).status_code == 200


def test_long_sections_say_how_many_are_not_shown_and_offer_more(
    client: TestClient, stored: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("web.dashboard.PAGE_ITEMS", 1)  # the cohort is small: one item a section
    sign_in(client, "cleo")
    expected = expected_worklist(stored, "cleo")
    page = client.get("/", params={"kind": "lab_lft"}).text
    counts = expected_worklist(stored, "cleo", kind="lab_lft")["counts"]
    due_soon = counts["due_soon"]
    assert due_soon > 1
    assert len(re.findall(r'<tr data-key="', page)) == min(1, counts["overdue"]) + 1
    assert f"Showing the first 1 of {due_soon}" in page
    assert 'href="/?kind=lab_lft&amp;more=1"' in page  # the filter is kept
    everything = client.get("/", params={"more": "1"}).text
    listed = len(expected["overdue"]) + len(expected["due_soon"])
    assert len(re.findall(r'<tr data-key="', everything)) == listed
    assert "Showing the first" not in everything


def test_a_capped_count_shows_as_at_least(
    client: TestClient, stored: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scheduler.staff.worklist.COUNT_CAP", 1)
    sign_in(client, "cleo")
    page = client.get("/").text
    assert counts_on(page)["due_soon"] == 1
    assert 'data-count="due_soon">1</span><span class="count-more">+</span>' in page
    assert sign_in(client, "ben")
    assert 'class="count-more"' not in client.get("/").text  # a navigator's counts are exact


# ---- patient page --------------------------------------------------------------------------------------


def test_the_patient_page_shows_risk_therapy_alerts_reminders_and_timeline(client: TestClient) -> None:
    sign_in(client, "cleo")
    page = client.get("/patients/P04").text
    for text in ("P04", "Adjuvant therapy", "high", "nih.4", "6a", "85.0 %", "7.0 cm", "8 per 5 mm²",
                 "imatinib", "400 mg per day", "2025-07-28"):  # fmt: skip
        assert text in page, text
    statuses = set(re.findall(r'<tr data-key="[^"]+" data-status="(\w+)"', page))
    assert {"due", "planned", "completed"} <= statuses
    for word in ("Due now", "Planned", "Completed"):  # written, not colour alone
        assert f">{word}</span>" in page
    dates = re.findall(r'<tr data-event="[^"]+">\s*<th scope="row"[^>]*>([\d-]+)</th>', page)
    assert dates
    assert dates == sorted(dates, reverse=True), "the timeline is newest first"
    ruptured = client.get("/patients/P06").text
    assert "severity-critical" in ruptured
    assert "rupture" in ruptured.lower()
    assert "cancelled" in ruptured.lower()
    assert_csp_clean(page)
    assert_landmarks(page)


def test_an_event_not_yet_processed_is_shown_as_waiting(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    data = {"csrf_token": csrf, "form": "visit", "occurred_on": "2026-11-26", "kind": "clinic_visit"}
    client.post("/patients/P05/events", data=data)
    page = client.get("/patients/P05").text
    assert "Waiting for processing" in page
    assert "1 event waiting for processing" in page


# ---- event forms --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "slot", "problem"),
    [
        ({"form": "lab", "occurred_on": "2026-11-27", "test": "alt", "value": "abc", "uln": "40"},
         "lab-value", "must be a number"),
        ({"form": "lab", "occurred_on": "2026-11-27", "test": "alt", "value": "31"}, "lab-uln", "required"),
        ({"form": "lab", "occurred_on": "2026-11-27", "test": "tsh", "value": "-1"}, "lab-value",
         "at least 0"),
        ({"form": "lab", "occurred_on": "2026-11-28", "test": "tsh", "value": "2"}, "lab-occurred_on",
         "after the day it was received"),
        ({"form": "lab", "occurred_on": "", "test": "tsh", "value": "2"}, "lab-occurred_on", "YYYY-MM-DD"),
        ({"form": "scan", "occurred_on": "2026-11-27", "result": "stable"}, "scan-modality", "required"),
        ({"form": "scan", "occurred_on": "2026-11-27", "modality": "xray"}, "scan-modality", "is not one of"),
        ({"form": "therapy_started", "occurred_on": "2026-11-27", "drug": "imatinib", "dose_mg": "5000",
          "setting": "adjuvant"}, "therapy_started-dose_mg", "at most 2000"),
        ({"form": "mdt", "occurred_on": "2026-11-27", "decision": "x" * 501}, "mdt-decision", "500"),
    ],
    ids=["not-a-number", "uln-missing", "negative", "future", "no-date", "no-modality", "bad-modality",
         "dose-too-high", "decision-too-long"],
)  # fmt: skip
def test_a_form_error_is_shown_next_to_its_field_and_nothing_is_stored(
    client: TestClient, stored: Database, form: dict[str, str], slot: str, problem: str
) -> None:
    csrf = sign_in(client, "ana")
    before = stored.count(EventRow), len(audit_rows(stored, "submit_events"))
    response = client.post("/patients/P05/events", data={"csrf_token": csrf, **form})
    assert response.status_code == 422
    page = Page(response.text)
    name, _ = page.by_id(f"{slot}-error")
    assert name == "p"
    assert problem in response.text.split(f'id="{slot}-error">', 1)[1].split("</p>", 1)[0]
    _, field = page.by_id(slot)
    assert field.get("aria-invalid") == "true"
    assert f"{slot}-error" in field["aria-describedby"].split()
    assert page.by_id(f"form-{form['form']}")[1].get("open") is not None, "the form stays open"
    for key, value in form.items():  # what was typed is still there
        if key != "form" and value and len(value) < 100 and page.by_id(f"{form['form']}-{key}")[0] == "input":
            assert page.by_id(f"{form['form']}-{key}")[1]["value"] == value
    assert (stored.count(EventRow), len(audit_rows(stored, "submit_events"))) == before
    assert_csp_clean(response.text)


def test_an_unknown_form_is_refused(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    before = stored.count(EventRow)
    response = client.post("/patients/P05/events", data={"csrf_token": csrf, "form": "biopsy"})
    assert response.status_code == 422
    assert stored.count(EventRow) == before


def lft_reminder(db: Database, patient_id: str) -> ReminderRow:
    with db.sessions() as session:
        found = session.scalars(
            select(ReminderRow).where(
                ReminderRow.patient_id == patient_id,
                ReminderRow.kind == "lab_lft",
                ReminderRow.status.in_(("due", "overdue")),
            )
        ).first()
    assert found is not None
    return found


def test_a_valid_lab_result_is_stored_audited_and_fulfils_the_reminder(
    client: TestClient, stored: Database
) -> None:
    reminder = lft_reminder(stored, "P05")
    csrf = sign_in(client, "ana")
    data = {"csrf_token": csrf, "form": "lab", "occurred_on": "2026-11-27", "test": "alt", "value": "31",
            "uln": "40"}  # fmt: skip
    response = client.post("/patients/P05/events", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/patients/P05"
    with stored.sessions() as session:
        rows = session.scalars(select(EventRow).where(EventRow.event_id.like("web-%"))).all()
    assert len(rows) == 1
    row = rows[0]
    assert re.fullmatch(r"web-[0-9a-f]{32}", row.event_id)
    assert row.payload == {
        "event_id": row.event_id,
        "patient_id": "P05",
        "type": "lab_result",
        "occurred_on": "2026-11-27",
        "data": {"test": "alt", "value": 31, "uln": 40},
    }
    assert audit_rows(stored, "submit_events") == [("ana", "P05", row.event_id)]
    page = client.get("/patients/P05").text
    assert "Saved; the plan updates in a few seconds" in page
    assert "Saved;" not in client.get("/patients/P05").text  # a flash shows once

    process_patient(stored.sessions, "P05", AS_OF)  # what the worker does
    page = client.get("/patients/P05").text
    assert re.search(rf'data-key="{re.escape(reminder.key)}" data-status="completed"', page)
    assert "Waiting for processing" not in page


@pytest.mark.parametrize(
    ("form", "event_type", "data"),
    [
        ({"form": "scan", "modality": "ct", "result": "stable"}, "imaging",
         {"modality": "ct", "result": "stable"}),
        ({"form": "scan", "modality": "mri", "result": ""}, "imaging", {"modality": "mri"}),
        ({"form": "lab", "test": "hemoglobin", "value": "12,5"}, "lab_result",
         {"test": "hemoglobin", "value": 12.5}),
        ({"form": "therapy_started", "drug": "imatinib", "dose_mg": "800", "setting": "adjuvant"},
         "therapy_started", {"drug": "imatinib", "dose_mg": 800, "setting": "adjuvant"}),
        ({"form": "therapy_stopped", "drug": "imatinib", "reason": "toxicity"}, "therapy_stopped",
         {"drug": "imatinib", "reason": "toxicity"}),
        ({"form": "dose_changed", "drug": "imatinib", "dose_mg": "300"}, "dose_changed",
         {"drug": "imatinib", "dose_mg": 300}),
        ({"form": "progression", "pattern": "focal"}, "progression", {"pattern": "focal"}),
        ({"form": "progression", "pattern": ""}, "progression", {}),
        ({"form": "mdt", "decision": "Continue imatinib; CT in 3 months."}, "mdt_review",
         {"decision": "Continue imatinib; CT in 3 months."}),
        ({"form": "visit", "kind": "clinic_visit"}, "visit", {"kind": "clinic_visit"}),
    ],
    ids=["scan", "scan-no-result", "lab-comma", "therapy-started", "therapy-stopped", "dose-changed",
         "progression", "progression-no-pattern", "mdt", "visit"],
)  # fmt: skip
def test_each_form_records_its_contract_event(
    client: TestClient, stored: Database, form: dict[str, str], event_type: str, data: dict[str, Any]
) -> None:
    csrf = sign_in(client, "ana")
    response = client.post(
        "/patients/P05/events",
        data={"csrf_token": csrf, "occurred_on": "2026-11-20", **form},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with stored.sessions() as session:
        row = session.scalars(select(EventRow).where(EventRow.event_id.like("web-%"))).one()
    assert (row.type, row.occurred_on, row.payload["data"]) == (event_type, dt.date(2026, 11, 20), data)


# ---- alerts, feeds, print ---------------------------------------------------------------------------------


def test_acknowledging_an_alert_needs_a_note_and_goes_back(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    alert = alert_id(stored, "P05", "kit_exon9_dose")
    empty = client.post(f"/alerts/{alert}/acknowledge", data={"csrf_token": csrf, "note": "  ", "next": "/"})
    assert empty.status_code == 422
    assert f'id="ack-note-{alert}-error"' in empty.text
    assert_csp_clean(empty.text)
    response = client.post(
        f"/alerts/{alert}/acknowledge",
        data={
            "csrf_token": csrf,
            "note": "Discussed 800 mg with the oncologist",
            "next": "/?severity=warning",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/?severity=warning"
    with stored.sessions() as session:
        row = session.get(AlertRow, alert)
        assert row is not None
        assert (row.acknowledged_by, row.acknowledgement_note) == (
            "ana",
            "Discussed 800 mg with the oncologist",
        )
    assert audit_rows(stored, "acknowledge_alert") == [("ana", "P05", f"alert {alert}")]
    assert "Alert acknowledged." in client.get("/?severity=warning").text
    page = client.get("/patients/P05").text
    assert "Acknowledged and resolved alerts" in page
    assert "Discussed 800 mg with the oncologist" in page
    assert f'action="/alerts/{alert}/acknowledge"' not in page
    elsewhere = client.post(
        f"/alerts/{alert}/acknowledge",
        data={"csrf_token": csrf, "note": "again", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/patients/P05"


def test_a_calendar_subscription_shows_its_url_once(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    response = client.post("/patients/P05/feeds", data={"csrf_token": csrf})
    assert response.status_code == 200
    found = re.search(r'id="feed-url" value="(http://testserver/feeds/[A-Za-z0-9_-]+\.ics)"', response.text)
    assert found, "the feed URL is shown"
    assert "shown only once" in response.text
    assert_csp_clean(response.text)
    with stored.sessions() as session:
        feed = session.scalars(select(FeedRow)).one()
    assert (feed.scope, feed.subject_id) == ("patient", "P05")
    assert audit_rows(stored, "feed_create") == [("ana", "P05", feed.id)]
    calendar = client.get(urlsplit(found.group(1)).path)
    assert calendar.status_code == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    assert 'id="feed-url"' not in client.get("/patients/P05").text


def test_the_printable_schedule_lists_open_reminders_in_date_order(
    client: TestClient, stored: Database
) -> None:
    sign_in(client, "ana")
    response = client.get("/patients/P07/print")
    assert response.status_code == 200
    page = response.text
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in page
    with stored.sessions() as session:
        open_keys = set(
            session.scalars(
                select(ReminderRow.key).where(
                    ReminderRow.patient_id == "P07", ReminderRow.status.in_(("planned", "due", "overdue"))
                )
            )
        )
    rows = re.findall(r'<tr data-key="([^"]+)">\s*<th scope="row"[^>]*>([\d-]+)</th>', page)
    assert {key for key, _ in rows} == open_keys
    dates = [due for _, due in rows]
    assert dates == sorted(dates)
    assert "hepatotoxicity" not in page.lower()  # no clinical alert details
    assert "Acknowledge" not in page
    assert_csp_clean(page)
    css = client.get("/static/print.css")
    assert css.status_code == 200
    assert "@page" in css.text


# ---- markup -----------------------------------------------------------------------------------------------


def test_pages_have_no_inline_script_or_style_and_label_every_input(client: TestClient) -> None:
    pages: list[Any] = [client.get("/login")]
    sign_in(client, "cleo")
    pages += [client.get(path) for path in ("/", "/?kind=ct", "/patients/P05", "/patients/P07",
                                             "/patients/P02/print", "/patients/P99")]  # fmt: skip
    for response in pages:
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert_csp_clean(response.text)
        assert_landmarks(response.text)
    for asset in ("/static/dashboard.css", "/static/dashboard.js", "/static/print.css"):
        assert client.get(asset).status_code == 200
