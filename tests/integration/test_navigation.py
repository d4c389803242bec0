"""The navigator's way around the dashboard and the patient directory, through the FastAPI app on
SQLite and PostgreSQL: HTML error pages for pages (JSON stays JSON under /api), Post/Redirect/Get
after every form, a patient's calendar subscriptions listed and revocable, and the patient list
(``/patients``, ``GET /api/patients``): search, filters, pages and scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from models.rows import AlertRow, EventRow, FeedRow, PatientRow, PatientStateRow, ReminderRow
from scheduler.app.wiring import create_web_app
from tests.support.services import Database
from tests.support.staff import create_staff
from tests.support.web import assert_csp_clean, assert_landmarks, audit_rows, settings_for, sign_in

pytestmark = pytest.mark.integration

NAVIGATOR_OF = {"ana": "nav-ana", "ben": "nav-ben"}


@pytest.fixture
def app(stored: Database, tmp_path: Path) -> FastAPI:
    return create_web_app(settings_for(stored, tmp_path), stored.sessions)


@pytest.fixture
def tokens(staff_tokens: dict[str, str]) -> dict[str, str]:
    return staff_tokens


@pytest.fixture
def client(app: FastAPI, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def listed(html: str) -> list[str]:
    """The patient ids of the patient list's table, in order."""
    return re.findall(r'<a class="code" href="/patients/([^"]+)">', html)


# ---- error pages ------------------------------------------------------------------------------------


def test_an_unknown_page_is_an_html_404_and_the_api_keeps_json(client: TestClient) -> None:
    signed_out = client.get("/no/such/page")
    assert signed_out.status_code == 404
    assert signed_out.headers["content-type"].startswith("text/html")
    assert "Page not found" in signed_out.text
    assert 'href="/login"' in signed_out.text
    sign_in(client, "ana")
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/patients"' in page.text, "the navigation is there"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert_csp_clean(page.text)
    assert_landmarks(page.text)
    api = client.get("/api/no-such-route")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/json"
    assert api.json() == {"detail": "Not Found"}


def test_a_get_of_a_form_address_is_an_html_405(client: TestClient) -> None:
    sign_in(client, "ana")
    page = client.get("/patients/P01/feeds")
    assert page.status_code == 405
    assert page.headers["content-type"].startswith("text/html")
    assert "Not available this way" in page.text
    assert page.headers["allow"] == "POST"
    api = client.get("/api/events")
    assert api.status_code == 405
    assert api.headers["content-type"] == "application/json"


def test_an_invalid_address_value_is_an_html_page(client: TestClient) -> None:
    csrf = sign_in(client, "ana")
    page = client.post(f"/alerts/{2**64}/acknowledge", data={"csrf_token": csrf, "note": "x"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")


def test_a_server_error_is_an_html_500_page(app: FastAPI) -> None:
    def broken() -> None:
        raise RuntimeError("the page failed")

    app.add_api_route("/broken-page", broken, include_in_schema=False)
    app.add_api_route("/api/broken", broken, include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/broken-page")
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "Something went wrong" in page.text
        assert "RuntimeError" not in page.text
        assert "the page failed" not in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert page.headers["cache-control"] == "no-store"
        api = client.get("/api/broken")
        assert api.status_code == 500
        assert not api.headers["content-type"].startswith("text/html")


# ---- Post/Redirect/Get and feeds ---------------------------------------------------------------------


def test_creating_a_feed_redirects_and_a_reload_creates_no_second_feed(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    created = client.post("/patients/P05/feeds", data={"csrf_token": csrf}, follow_redirects=False)
    assert created.status_code == 303
    assert created.headers["location"] == "/patients/P05#feeds"
    shown = client.get("/patients/P05")
    found = re.search(r'id="feed-url" value="(http://testserver/feeds/[A-Za-z0-9_-]+\.ics)"', shown.text)
    assert found, "the new feed's URL is shown on the page the creation redirected to"
    assert "Calendar subscription created." in shown.text
    assert_csp_clean(shown.text)
    reloaded = client.get("/patients/P05")  # what a browser's reload does after a redirect
    assert reloaded.status_code == 200
    assert 'id="feed-url"' not in reloaded.text, "the URL is shown once"
    with stored.sessions() as session:
        feeds = session.scalars(select(FeedRow)).all()
    assert len(feeds) == 1, "a reload creates no second feed"
    assert feeds[0].id in reloaded.text, "the feed is listed by its id"
    assert client.get(urlsplit(found.group(1)).path).status_code == 200


def test_every_dashboard_post_that_succeeds_redirects(client: TestClient, stored: Database) -> None:
    """Post/Redirect/Get: a successful form never answers a page a reload would post again."""
    token = sign_in(client, "ana")
    with stored.sessions() as session:
        alert = session.scalar(
            select(AlertRow.id).where(AlertRow.navigator_id == "nav-ana", AlertRow.is_active)
        )
    posts: list[tuple[str, dict[str, str]]] = [
        ("/patients/P05/events", {"form": "lab", "occurred_on": "2026-11-27", "test": "tsh", "value": "2"}),
        ("/patients/P05/feeds", {}),
        (f"/alerts/{alert}/acknowledge", {"note": "called the patient"}),
    ]
    for path, data in posts:
        answer = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 303, (path, answer.status_code)
    with stored.sessions() as session:
        feed_id = session.scalars(select(FeedRow.id)).one()
    revoked = client.post(f"/patients/P05/feeds/{feed_id}/revoke", data={"csrf_token": token},
                          follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303


def test_a_feed_is_revoked_from_the_patient_page_and_audited(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    client.post("/patients/P05/feeds", data={"csrf_token": csrf})
    page = client.get("/patients/P05")
    with stored.sessions() as session:
        feed = session.scalars(select(FeedRow)).one()
    url_page = client.post("/patients/P05/feeds", data={"csrf_token": csrf}).text
    found = re.search(r'id="feed-url" value="http://testserver(/feeds/[A-Za-z0-9_-]+\.ics)"', url_page)
    assert found
    with stored.sessions() as session:
        second = session.scalars(select(FeedRow).where(FeedRow.id != feed.id)).one()
    page = client.get("/patients/P05").text
    assert f'action="/patients/P05/feeds/{second.id}/revoke"' in page
    assert f'action="/patients/P05/feeds/{feed.id}/revoke"' in page
    done = client.post(f"/patients/P05/feeds/{second.id}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 200
    assert "Calendar subscription revoked" in done.text
    assert f'action="/patients/P05/feeds/{second.id}/revoke"' not in done.text, (
        "no revoke button once revoked"
    )
    assert re.search(rf"{second.id}</td>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*>revoked", done.text)
    assert client.get(found.group(1)).status_code == 404, "the revoked address answers nothing"
    assert audit_rows(stored, "feed_revoke") == [("ana", "P05", second.id)]
    with stored.sessions() as session:
        assert session.get_one(FeedRow, feed.id).revoked_at is None, "the other feed stays live"


def test_a_feed_cannot_be_revoked_through_another_patient_or_without_csrf(
    client: TestClient, stored: Database
) -> None:
    create_staff(stored.sessions, {"cleo2": ("clinician", None)})
    csrf = sign_in(client, "ana")
    client.post("/patients/P05/feeds", data={"csrf_token": csrf})
    with stored.sessions() as session:
        feed_id = session.scalars(select(FeedRow.id)).one()
    assert client.post(f"/patients/P01/feeds/{feed_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert (
        client.post("/patients/P05/feeds/feed_nothere/revoke", data={"csrf_token": csrf}).status_code == 404
    )
    assert client.post(f"/patients/P05/feeds/{feed_id}/revoke", data={}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf})
    ben = sign_in(client, "ben")  # P05 is not ben's: the same 404 as no such patient
    assert client.post(f"/patients/P05/feeds/{feed_id}/revoke", data={"csrf_token": ben}).status_code == 404
    with stored.sessions() as session:
        assert session.get_one(FeedRow, feed_id).revoked_at is None
    assert audit_rows(stored, "feed_revoke") == []


# ---- the patient list --------------------------------------------------------------------------------


def expected_patients(db: Database, navigator: str | None = None) -> dict[str, dict[str, Any]]:
    """What the list should say, worked out from the rows one patient at a time."""
    with db.sessions() as session:
        found: dict[str, dict[str, Any]] = {}
        for patient in session.scalars(select(PatientRow)):
            if navigator is not None and patient.navigator_id != navigator:
                continue
            state = session.get(PatientStateRow, patient.patient_id)
            reminders = session.scalars(
                select(ReminderRow).where(ReminderRow.patient_id == patient.patient_id)
            )
            alerts = session.scalars(select(AlertRow).where(AlertRow.patient_id == patient.patient_id))
            found[patient.patient_id] = {
                "name": patient.name,
                "navigator_id": patient.navigator_id,
                "stage": state.stage if state else None,
                "overdue": sum(
                    r.status in ("overdue", "due", "planned")
                    and (r.status == "overdue" or r.overdue_since is not None)
                    for r in reminders
                ),
                "critical_alerts": sum(a.is_active and a.severity == "critical" for a in alerts),
            }
        return found


def test_the_api_lists_patients_with_their_counts(
    client: TestClient, stored: Database, tokens: dict[str, str]
) -> None:
    answer = client.get("/api/patients", headers=bearer(tokens["cleo"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = expected_patients(stored)
    assert body["total"] == len(expected) == 8
    assert (body["page"], body["pages"], body["per_page"]) == (1, 1, 50)
    assert [p["patient_id"] for p in body["patients"]] == sorted(expected)
    for patient in body["patients"]:
        want = expected[patient["patient_id"]]
        assert {k: patient[k] for k in want} == want, patient["patient_id"]
    assert any(p["overdue"] for p in body["patients"])
    assert any(not p["overdue"] for p in body["patients"])
    assert audit_rows(stored, "read_worklist")[-1] == ("cleo", None, "patients")


@pytest.mark.parametrize("flag", ["overdue", "critical"])
@pytest.mark.parametrize("value", [True, False])
def test_the_api_filters_by_overdue_and_critical(
    client: TestClient, stored: Database, tokens: dict[str, str], flag: str, value: bool
) -> None:
    expected = expected_patients(stored)
    column = "overdue" if flag == "overdue" else "critical_alerts"
    want = sorted(pid for pid, p in expected.items() if bool(p[column]) == value)
    answer = client.get("/api/patients", params={flag: str(value).lower()}, headers=bearer(tokens["cleo"]))
    assert [p["patient_id"] for p in answer.json()["patients"]] == want
    assert 0 < len(want) < len(expected), "the cohort has patients on both sides"


def test_the_api_searches_by_id_or_name_and_filters_by_stage_and_navigator(
    client: TestClient, stored: Database, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["cleo"])

    def ids(**params: str) -> list[str]:
        answer = client.get("/api/patients", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [p["patient_id"] for p in answer.json()["patients"]]

    assert ids(q="santos") == ["P01"]
    assert ids(q="MARIA") == ["P01"]
    assert ids(q="p0") == [f"P0{n}" for n in range(1, 9)]
    assert ids(q="p02") == ["P02"]
    assert ids(q="%") == []
    assert ids(q="_") == []
    expected = expected_patients(stored)
    assert ids(navigator="nav-ben") == sorted(
        p for p, v in expected.items() if v["navigator_id"] == "nav-ben"
    )
    stage = expected["P01"]["stage"]
    assert ids(stage=stage) == sorted(p for p, v in expected.items() if v["stage"] == stage)
    assert ids(stage=stage, navigator="nav-ben") == sorted(
        p for p, v in expected.items() if v["stage"] == stage and v["navigator_id"] == "nav-ben"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stage": "recovered"}, "stage"),
        ({"overdue": "maybe"}, "overdue"),
        ({"critical": "2"}, "critical"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"q": "x" * 201}, "q"),
        ({"navigator": "n" * 129}, "navigator"),
    ],
)
def test_the_api_refuses_a_bad_query_value_naming_it(
    client: TestClient, tokens: dict[str, str], params: dict[str, str], field: str
) -> None:
    answer = client.get("/api/patients", params=params, headers=bearer(tokens["cleo"]))
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["query", field]]


def test_a_navigator_cannot_see_or_search_another_navigators_patients(
    client: TestClient, stored: Database, tokens: dict[str, str]
) -> None:
    expected = expected_patients(stored, "nav-ana")
    headers = bearer(tokens["ana"])
    mine = client.get("/api/patients", headers=headers).json()
    assert [p["patient_id"] for p in mine["patients"]] == sorted(expected) == ["P01", "P03", "P05", "P07"]
    for params in ({"q": "okafor"}, {"q": "P02"}, {"navigator": "nav-ben"}):
        found = client.get("/api/patients", params=params, headers=headers).json()
        assert (found["total"], found["patients"]) == (0, []), params
    sign_in(client, "ana")
    page = client.get("/patients")
    assert listed(page.text) == ["P01", "P03", "P05", "P07"]
    assert "Daniel Okafor" not in page.text
    assert 'id="navigator"' not in page.text, "no navigator filter for a navigator"
    searched = client.get("/patients", params={"q": "Okafor"})
    assert listed(searched.text) == []
    assert "No patient matches" in searched.text
    assert listed(client.get("/patients", params={"navigator": "nav-ben"}).text) == []


def test_the_patient_list_page_searches_filters_and_is_linked(client: TestClient, stored: Database) -> None:
    signed_out = client.get("/patients?q=santos", follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/login?next=%2Fpatients%3Fq%3Dsantos"
    sign_in(client, "cleo")
    worklist_page = client.get("/").text
    assert '<a href="/patients">Patients</a>' in worklist_page
    page = client.get("/patients")
    assert page.status_code == 200
    assert listed(page.text) == [f"P0{n}" for n in range(1, 9)]
    assert 'aria-current="page">Patients' in page.text
    assert_csp_clean(page.text)
    assert_landmarks(page.text)
    expected = expected_patients(stored)
    with_critical = sorted(p for p, v in expected.items() if v["critical_alerts"])
    assert listed(client.get("/patients", params={"critical": "yes"}).text) == with_critical
    no_overdue = sorted(p for p, v in expected.items() if not v["overdue"])
    assert listed(client.get("/patients", params={"overdue": "no"}).text) == no_overdue
    assert listed(client.get("/patients", params={"q": "lindqvist"}).text) == ["P03"]
    # values the form does not offer are ignored, not an error
    odd = client.get("/patients", params={"stage": "recovered", "overdue": "maybe", "page": "-3"})
    assert odd.status_code == 200
    assert len(listed(odd.text)) == 8
    for page in ("9" * 5000, "\u00b2", "1.5", "200000"):
        assert len(listed(client.get("/patients", params={"page": page}).text)) == 8, page


def test_the_patient_list_has_pages(client: TestClient, stored: Database, tokens: dict[str, str]) -> None:
    with stored.sessions.begin() as session:
        for n in range(1, 56):
            session.add(PatientRow(patient_id=f"Q{n:03}", navigator_id="nav-ana", name=f"Quiet Patient {n}"))
    headers = bearer(tokens["ana"])
    first = client.get("/api/patients", headers=headers).json()
    second = client.get("/api/patients", params={"page": 2}, headers=headers).json()
    beyond = client.get("/api/patients", params={"page": 3}, headers=headers).json()
    assert (first["total"], first["pages"], len(first["patients"])) == (59, 2, 50)
    assert len(second["patients"]) == 9
    assert beyond["patients"] == []
    every = [p["patient_id"] for p in first["patients"] + second["patients"]]
    assert every == sorted(every)
    assert len(set(every)) == 59
    assert every[:4] == ["P01", "P03", "P05", "P07"]
    quiet = client.get("/api/patients", params={"q": "quiet", "page": 2}, headers=headers).json()
    assert (quiet["total"], [p["patient_id"] for p in quiet["patients"]]) == (
        55,
        [f"Q{n:03}" for n in range(51, 56)],
    )
    assert quiet["patients"][0]["stage"] is None  # never planned
    sign_in(client, "ana")
    page = client.get("/patients", params={"q": "quiet"}).text
    assert "page 1 of 2" in page
    assert 'href="/patients?q=quiet&amp;page=2"' in page
    assert listed(client.get("/patients", params={"q": "quiet", "page": "2"}).text) == [
        f"Q{n:03}" for n in range(51, 56)
    ]
    assert stored.count(EventRow) > 0
