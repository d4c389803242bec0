"""Book, snooze and waive a reminder from the dashboard (the worklist and the patient page), through
the FastAPI app on SQLite and PostgreSQL: each is an event stored through the intake (audited, the
navigator write gate), processed as any other, and then shown — a booking and a snooze on the open
item, a waiver on the cancelled one with the missed run before it —; a bad value is the page the
form was on again (422: the patient page, or the item's own page that the worklist links to) with
the error next to its field and nothing stored; scope and CSRF as for every other form."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models.rows import EventRow, ReminderRow, UserRow
from notifications.mail import Envelope
from scheduler.app.wiring import create_web_app
from scheduler.notifications.digest import compose_digest
from scheduler.patients.processing import process_patient
from tests.support.cohort import store_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF, STAFF, create_staff
from tests.support.web import audit_rows, csrf_of, settings_for, sign_in

pytestmark = pytest.mark.integration

CT = "surveillance.high_adjuvant:ct:2026-04-20:2"  # P05's (nav-ana), due since 2026-10-20
LFT = "monitoring.imatinib:lab_lft:2026-04-20:8"  # P05's, due since 2026-11-20
P07_LFT = "monitoring.regorafenib_liver:lab_lft:2026-09-25:9"  # P07's, with missed items before it
ACTION_TYPES = ("reminder_booked", "reminder_snoozed", "reminder_waived")


@pytest.fixture
def stored(db: Database) -> Database:
    store_cohort(db)
    create_staff(db.sessions, {name: STAFF[name] for name in ("ana", "ben", "cleo")})
    return db


@pytest.fixture
def client(stored: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_web_app(settings_for(stored, tmp_path), stored.sessions)) as test_client:
        yield test_client


def actions(db: Database) -> list[EventRow]:
    with db.sessions() as session:
        return list(
            session.scalars(select(EventRow).where(EventRow.type.in_(ACTION_TYPES)).order_by(EventRow.id))
        )


def act(client: TestClient, csrf: str, patient_id: str, action: str, key: str, **values: str) -> Any:
    form = {"csrf_token": csrf, "action": action, "key": key, **values}
    return client.post(f"/patients/{patient_id}/reminders/act", data=form, follow_redirects=False)


def row_html(page: str, key: str) -> str:
    found = re.search(rf'<tr data-key="{re.escape(key)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"{key} is not listed"
    return found.group(1)


def listed_keys(page: str, section: str) -> list[str]:
    start = page.index(f'<section id="{section}"')
    return re.findall(r'<tr data-key="([^"]+)"', page[start : page.index("</section>", start)])


def item_link(page: str, key: str) -> str:
    """The href of the worklist row's link to the item's own page of actions."""
    found = re.search(r'<a class="action-link" href="([^"]+)"', row_html(page, key))
    assert found, f"{key} has no link to its actions"
    return found.group(1).replace("&amp;", "&")


def assert_three_forms(html: str) -> None:
    for action in ("book", "snooze", "waive"):
        assert f'name="action" value="{action}"' in html
    for field in ("csrf_token", "appointment_on", "until", "reason", "done_on", "note"):
        assert f'name="{field}"' in html


def test_the_patient_page_carries_the_three_forms_on_every_open_item(client: TestClient) -> None:
    sign_in(client, "ana")
    assert_three_forms(row_html(client.get("/patients/P05").text, CT))


def test_the_worklist_links_each_open_item_to_a_page_of_its_three_forms(
    client: TestClient, stored: Database
) -> None:
    sign_in(client, "ana")
    worklist = client.get("/").text
    row = row_html(worklist, CT)
    assert 'name="action"' not in row, "one link per row, not three forms"
    link = item_link(worklist, CT)
    assert link.startswith("/patients/P05/reminders/act?")
    page = client.get(link)
    assert page.status_code == 200
    assert f'data-key="{CT}"' in page.text
    assert "CT scan" in page.text
    assert "2026-10-20" in page.text
    assert_three_forms(page.text)
    assert page.text.count('name="page" value="item"') == 3
    assert page.text.count('name="next" value="/#due-soon"') == 3, "back to the worklist's section"
    assert audit_rows(stored, "read_patient")[-1][:2] == ("ana", "P05")


def test_the_item_page_sends_the_navigator_back_to_the_worklist_once_saved(
    client: TestClient, stored: Database
) -> None:
    sign_in(client, "ana")
    page = client.get(item_link(client.get("/").text, CT)).text
    response = act(
        client, csrf_of(page), "P05", "book", CT, appointment_on="2026-12-04", next="/#due-soon", page="item"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/#due-soon"
    booked = {"reminder_key": CT, "appointment_on": "2026-12-04"}
    assert [e.payload["data"] for e in actions(stored)] == [booked]


def test_a_bad_value_on_the_item_page_comes_back_on_it(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    response = act(client, csrf, "P05", "snooze", CT, until="2026-11-01", next="/#due-soon", page="item")
    assert response.status_code == 422
    assert f'data-key="{CT}"' in response.text
    error = re.search(r'id="act-item-until-error">([^<]*)<', response.text)
    assert error
    assert "choose a day after today" in error.group(1)
    assert 'aria-invalid="true"' in response.text
    assert 'name="next" value="/#due-soon"' in response.text, "still goes back where it came from"
    response = act(client, csrf, "P05", "delete", CT, page="item")
    assert response.status_code == 422
    assert 'class="form-error" role="alert">choose Book, Snooze or Waive' in response.text
    assert actions(stored) == []


def test_the_item_page_is_not_found_for_an_unknown_item_or_another_navigators_patient(
    client: TestClient,
) -> None:
    query = f"key={CT}&next=/"
    assert client.get(f"/patients/P05/reminders/act?{query}", follow_redirects=False).status_code == 303
    sign_in(client, "ben")  # P02, P04, P06, P08
    assert client.get(f"/patients/P05/reminders/act?{query}").status_code == 404
    sign_in(client, "ana")
    assert client.get("/patients/P05/reminders/act?key=nope:1").status_code == 404
    assert client.get("/patients/P99/reminders/act?key=" + CT).status_code == 404


def test_the_item_page_of_an_item_no_longer_open_says_so(client: TestClient, stored: Database) -> None:
    with stored.sessions() as session:
        closed = session.scalar(
            select(ReminderRow.key).where(ReminderRow.patient_id == "P05", ReminderRow.status == "completed")
        )
    assert closed is not None
    sign_in(client, "ana")
    page = client.get("/patients/P05/reminders/act", params={"key": closed})
    assert page.status_code == 409
    assert "nothing left to book, snooze or waive" in page.text
    assert 'name="action"' not in page.text


def test_the_item_page_goes_back_only_within_the_site(client: TestClient) -> None:
    sign_in(client, "ana")
    for target in ("//evil.example/", "https://evil.example/", "/login"):
        page = client.get("/patients/P05/reminders/act", params={"key": CT, "next": target}).text
        assert 'name="next" value="/"' in page
        assert "evil" not in page


def test_booking_from_the_patient_page_is_an_audited_event_shown_once_processed(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    back = "/patients/P05#reminders"
    response = act(
        client, csrf, "P05", "book", CT, appointment_on="2026-12-04", place="Radiology B", next=back
    )
    assert response.status_code == 303
    assert response.headers["location"] == back
    [event] = actions(stored)
    data = {"reminder_key": CT, "appointment_on": "2026-12-04", "place": "Radiology B"}
    assert (event.type, event.occurred_on, event.payload["data"]) == ("reminder_booked", AS_OF, data)
    assert audit_rows(stored, "submit_events") == [("ana", "P05", event.event_id)]
    page = client.get("/patients/P05").text
    assert 'data-poll="/patients/P05/status"' in page, "the page reloads itself once processed"
    process_patient(stored.sessions, "P05", AS_OF)
    assert "Booked for 2026-12-04 at Radiology B; due 2026-10-20" in row_html(
        client.get("/patients/P05").text, CT
    )
    assert "Booked for 2026-12-04 at Radiology B; due 2026-10-20" in row_html(client.get("/").text, CT)


def test_snoozing_from_the_worklist_takes_the_item_off_it_and_out_of_its_counts(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    before = client.get("/").text
    assert CT in listed_keys(before, "due-soon")
    response = act(client, csrf, "P05", "snooze", CT, until="2026-12-02", next="/#due-soon")
    assert response.status_code == 303
    assert response.headers["location"] == "/#due-soon"
    assert [e.payload["data"] for e in actions(stored)] == [{"reminder_key": CT, "until": "2026-12-02"}]
    process_patient(stored.sessions, "P05", AS_OF)
    after = client.get("/").text
    assert CT not in listed_keys(after, "due-soon")
    count = re.search(r'data-count="due_soon">(\d+)<', after)
    assert count
    assert int(count.group(1)) == len(listed_keys(after, "due-soon"))
    assert listed_keys(after, "snoozed") == [CT], "out of the sections, never out of sight"
    assert 'data-snoozed-until="2026-12-02"' in row_html(after[after.index('<section id="snoozed"') :], CT)
    assert re.search(r'data-count="snoozed">1<', after)
    csv_rows = [line for line in client.get("/worklist.csv").text.splitlines() if line.startswith("snoozed,")]
    assert len(csv_rows) == 1
    assert csv_rows[0].endswith(",2026-12-02")
    with stored.sessions() as session:  # the navigator's digest, read with the worklist's query
        ana = session.scalars(select(UserRow).where(UserRow.username == "ana")).one()
        at = dt.datetime(2026, 11, 27, 7, tzinfo=dt.UTC)
        envelope = Envelope("Team <noreply@clinic.example>", ("ana@clinic.example",), "<d-1@g>", at)
        message = compose_digest(session, ana, AS_OF, at, envelope, "https://gist.clinic.example/")
    assert message is not None
    assert "snoozed until 2 December 2026" in str(message.get_body(("plain",)).get_content())
    assert "off the worklist until 2026-12-02" in row_html(client.get("/patients/P05").text, CT)


def test_waiving_shows_the_item_cancelled_with_its_reason_dates_note_and_missed_run(
    client: TestClient, stored: Database
) -> None:
    with stored.sessions() as session:
        before = session.scalar(
            select(ReminderRow).where(ReminderRow.patient_id == "P07", ReminderRow.key == P07_LFT)
        )
    assert before is not None
    assert before.overdue_since is not None
    csrf = sign_in(client, "ana")
    response = act(
        client, csrf, "P07", "waive", P07_LFT, reason="done_elsewhere", done_on="2026-11-26", note="At the GP"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/patients/P07"
    process_patient(stored.sessions, "P07", AS_OF)
    row = row_html(client.get("/patients/P07").text, P07_LFT)
    assert "Waived on 2026-11-27: Done elsewhere, done elsewhere on 2026-11-26. Note: At the GP" in row
    assert f"overdue since {before.overdue_since.isoformat()} ({before.missed} missed)" in row
    assert re.search(
        rf'<tr data-key="{re.escape(P07_LFT)}" data-status="cancelled">', client.get("/patients/P07").text
    )
    assert "Book, snooze or waive" not in row, "a cancelled item offers no action"


@pytest.mark.parametrize(
    ("action", "values", "field", "message"),
    [
        ("snooze", {"until": "2026-11-27"}, "until", "choose a day after today (2026-11-27)"),
        ("snooze", {"until": "2026-11-01"}, "until", "choose a day after today"),
        ("snooze", {"until": ""}, "until", "required"),
        ("book", {"appointment_on": "2026-13-01"}, "appointment_on", "is not a calendar date"),
        ("book", {"appointment_on": "2026-12-01", "place": "x" * 201}, "place", "200"),
        ("waive", {"reason": "done_elsewhere"}, "done_on", "give the day it was done elsewhere"),
        ("waive", {"reason": "done_elsewhere", "done_on": "2026-11-30"}, "done_on", "today (2026-11-27)"),
        ("waive", {"reason": "bored"}, "reason", "is not one of"),
        ("waive", {"reason": "declined", "note": "x" * 501}, "note", "at most 500"),
    ],
    ids=["until-today", "until-past", "until-missing", "bad-date", "long-place", "done_on-missing",
         "done_on-future", "reason", "long-note"],
)  # fmt: skip
def test_a_bad_value_is_named_next_to_its_field_and_nothing_is_stored(
    client: TestClient, stored: Database, action: str, values: dict[str, str], field: str, message: str
) -> None:
    csrf = sign_in(client, "ana")
    response = act(client, csrf, "P05", action, CT, **values)
    assert response.status_code == 422
    error = re.search(rf'id="act-[\w-]+-{field}-error">([^<]*)<', response.text)
    assert error, response.text[-3000:]
    assert message in error.group(1)
    assert 'aria-invalid="true"' in row_html(response.text, CT)
    assert actions(stored) == []


def test_an_item_that_is_not_open_or_an_unknown_action_is_refused(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    for action, key in (("book", "surveillance.high_adjuvant:ct:2026-04-20:99"), ("delete", CT)):
        response = act(client, csrf, "P05", action, key, appointment_on="2026-12-04")
        assert response.status_code == 422
        assert 'class="form-error" role="alert"' in response.text
    assert actions(stored) == []


def test_only_the_patients_navigator_may_act_and_only_with_the_sessions_csrf_token(
    client: TestClient, stored: Database
) -> None:
    assert act(client, "none", "P05", "snooze", CT, until="2026-12-02").status_code in (303, 401, 403)
    csrf = sign_in(client, "ben")  # P02, P04, P06, P08
    assert act(client, csrf, "P05", "snooze", CT, until="2026-12-02").status_code == 404
    csrf = sign_in(client, "ana")
    assert act(client, "stale", "P05", "snooze", CT, until="2026-12-02").status_code == 403
    assert actions(stored) == []
    assert audit_rows(stored, "submit_events") == []
