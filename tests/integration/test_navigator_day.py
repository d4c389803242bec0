"""The navigator's day on the dashboard, through the FastAPI app on SQLite and PostgreSQL: what
matters at a glance on the worklist (overdue since, last done on, the latest result, the age of
alerts), sorting, the CSV export, the week view, notes and calls, the patient's phone, an admin's
reassignment, ending follow-up, and the poll that lets a patient page reload itself — each with
its scope, CSRF and audit checks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from models.rows import AlertRow, EventRow, PatientNoteRow, PatientRow, ReminderRow
from scheduler.app.wiring import create_web_app
from scheduler.patients.processing import process_patient
from scheduler.patients.results import LAB_NAMES
from scheduler.staff.access import Principal
from scheduler.staff.week import fortnight
from scheduler.staff.worklist import worklist
from tests.support.services import Database
from tests.support.staff import AS_OF, create_staff
from tests.support.web import assert_csp_clean, assert_landmarks, audit_rows, settings_for, sign_in

pytestmark = pytest.mark.integration

NAVIGATOR_OF = {"ana": "nav-ana", "ben": "nav-ben"}


@pytest.fixture
def client(stored: Database, staff_tokens: dict[str, str], tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_web_app(settings_for(stored, tmp_path), stored.sessions)) as test_client:
        yield test_client


def rows_of(html: str, section: str) -> list[str]:
    """The ``data-key`` (reminders) or ``data-alert`` (alerts) of a worklist section, in order."""
    start = html.index(f'<section id="{section}"')
    part = html[start : html.index("</section>", start)]
    return re.findall(r'<tr data-(?:key|alert)="([^"]+)"', part)


def principal(db: Database, username: str) -> Principal:
    from models.rows import UserRow

    with db.sessions() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == username)).one()
        return Principal(user.id, user.username, user.role, user.navigator_id)


# ---- at a glance ----------------------------------------------------------------------------------


def test_the_worklist_shows_overdue_since_last_done_and_the_latest_result(
    client: TestClient, stored: Database
) -> None:
    """P07's liver tests: 8 missed since 2026-10-02, last done 2026-09-25 (an ALT of 2.4× ULN on
    the cohort's file); the hepatotoxicity alert shows the same result and its age."""
    with stored.sessions() as session:
        reminder = session.scalars(
            select(ReminderRow).where(
                ReminderRow.patient_id == "P07", ReminderRow.kind == "lab_lft", ReminderRow.status == "due"
            )
        ).one()
        done = session.scalars(
            select(EventRow).where(
                EventRow.patient_id == "P07",
                EventRow.occurred_on == reminder.last_done_on,
                EventRow.type == "lab_result",
            )
        ).all()
        session.execute(
            update(AlertRow)
            .where(AlertRow.patient_id == "P07", AlertRow.code == "hepatotoxicity")
            .values(first_seen_at=dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC))
        )
        session.commit()
    assert reminder.overdue_since is not None
    assert reminder.last_done_on is not None
    assert done, "the cohort has the result that last_done_on points at"
    sign_in(client, "ana")
    page = client.get("/").text
    row = re.search(rf'<tr data-key="{re.escape(reminder.key)}">(.*?)</tr>', page, re.S)
    assert row, "P07's liver tests are listed as overdue"
    cells = row.group(1)
    assert f'data-overdue-since="{reminder.overdue_since.isoformat()}"' in cells
    assert f'data-last-done="{reminder.last_done_on.isoformat()}"' in cells
    days = (AS_OF - (reminder.overdue_since + dt.timedelta(days=reminder.window_days))).days
    assert f"{days} days overdue" in cells
    for event in done:
        data = event.payload["data"]
        shown = f"{LAB_NAMES[data['test']]} {data['value']:g}"
        assert shown in cells
        if data.get("uln"):
            assert f"({data['value'] / data['uln']:.1f}× ULN)" in cells
    assert f"on {reminder.last_done_on.isoformat()}" in cells
    alert = re.search(r'<tr data-alert="\d+">((?:(?!</tr>).)*data-age-days="17".*?)</tr>', page, re.S)
    assert alert, "the hepatotoxicity alert, raised 2026-11-10: 17 days before AS_OF"
    assert "Latest: ALT" in alert.group(1)
    assert 'data-age-days="17"' in page, "raised 2026-11-10, 17 days before AS_OF"
    assert "since 2026-11-10" in page
    assert_csp_clean(page)
    assert_landmarks(page)


def test_the_patient_page_shows_the_latest_results_and_each_alert_age(
    client: TestClient, stored: Database
) -> None:
    sign_in(client, "ana")
    page = client.get("/patients/P07").text
    table = page[
        page.index('id="latest-results"') : page.index("</table>", page.index('id="latest-results"'))
    ]
    with stored.sessions() as session:
        events = session.scalars(
            select(EventRow).where(EventRow.patient_id == "P07", EventRow.type == "lab_result")
        ).all()
    latest: dict[str, EventRow] = {}
    for event in sorted(events, key=lambda e: e.occurred_on):
        latest[event.payload["data"]["test"]] = event
    for test_name, event in latest.items():
        row = re.search(rf'<tr data-result="{test_name}">(.*?)</tr>', table, re.S)
        assert row, test_name
        assert event.occurred_on.isoformat() in row.group(1)
    assert re.search(r'class="alert-age">\d+ days?<span class="detail">since \d{4}-\d\d-\d\d', page)
    assert "last done on" in page


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("days", lambda item: item["days_overdue"]),
        ("-days", lambda item: -item["days_overdue"]),
        ("patient", lambda item: item["patient_id"]),
        ("-since", lambda item: item["overdue_since"] or item["due_on"]),
    ],
    ids=["days", "days-descending", "patient", "since-descending"],
)
def test_overdue_items_sort_by_the_column_asked(
    client: TestClient, stored: Database, sort: str, key: Any
) -> None:
    sign_in(client, "cleo")
    page = client.get(f"/?sort_overdue={sort}").text
    with stored.sessions() as session:
        found = worklist(session, principal(stored, "cleo"), AS_OF, limit=50)
    items = sorted(found["overdue"], key=key, reverse=sort == "-since")
    assert len(items) >= 2, "the cohort has several overdue items"
    assert rows_of(page, "overdue") == [item["key"] for item in items]
    column = sort.removeprefix("-")
    label = {"days": "Days overdue", "patient": "Patient", "since": "Overdue since"}[column]
    direction = "descending" if sort.startswith("-") else "ascending"
    assert re.search(rf'aria-sort="{direction}"><a class="sort" href="[^"]*">{label}', page)


def test_an_unknown_sort_is_ignored_and_links_keep_the_filters(client: TestClient) -> None:
    sign_in(client, "cleo")
    plain = client.get("/?kind=ct").text
    odd = client.get("/?kind=ct&sort_overdue=%27%20OR%201%3D1&sort_alerts=-nope")
    assert odd.status_code == 200
    assert rows_of(odd.text, "overdue") == rows_of(plain, "overdue")
    assert "aria-sort" not in odd.text
    sorted_page = client.get("/?kind=ct&sort_due=-due").text
    assert 'href="/?kind=ct&amp;sort_due=due#due-soon"' in sorted_page, "a second click reverses"
    assert 'href="/worklist.csv?kind=ct&amp;sort_due=-due"' in sorted_page


# ---- CSV ------------------------------------------------------------------------------------------


def read_csv(body: str) -> list[dict[str, str]]:
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))


def test_the_csv_export_is_the_view_with_its_filters_and_order(client: TestClient, stored: Database) -> None:
    sign_in(client, "ana")
    response = client.get("/worklist.csv?kind=lab_lft&sort_due=-due")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="worklist-2026-11-27.csv"'
    assert response.headers["cache-control"] == "no-store"
    rows = read_csv(response.text)
    page = client.get("/?kind=lab_lft&sort_due=-due").text
    listed = {"overdue": rows_of(page, "overdue"), "due_soon": rows_of(page, "due-soon")}
    for section in ("overdue", "due_soon"):
        exported = [r for r in rows if r["section"] == section]
        assert len(exported) == len(listed[section])
        assert all(r["kind"] == "lab_lft" for r in exported)
        assert {r["patient_id"] for r in exported} <= {"P01", "P03", "P05", "P07"}, "ana's patients only"
    p07 = next(r for r in rows if r["patient_id"] == "P07" and r["section"] in ("overdue", "due_soon"))
    assert p07["patient_name"] == "Robert Klein"
    assert p07["overdue_since"]
    assert p07["last_done_on"]
    assert "× ULN" in p07["latest_result"]
    due_dates = [r["due_on"] for r in rows if r["section"] == "due_soon"]
    assert due_dates == sorted(due_dates, reverse=True)
    assert audit_rows(stored, "export_worklist") == [("ana", None, None)]


def test_the_csv_export_neutralises_spreadsheet_formulas(client: TestClient, stored: Database) -> None:
    with stored.sessions() as session:
        session.execute(update(PatientRow).where(PatientRow.patient_id == "P07").values(name="=HYPERLINK(1)"))
        session.commit()
    sign_in(client, "ana")
    rows = read_csv(client.get("/worklist.csv").text)
    names = {r["patient_name"] for r in rows if r["patient_id"] == "P07"}
    assert names == {"'=HYPERLINK(1)"}


def test_the_csv_export_needs_a_session(client: TestClient) -> None:
    response = client.get("/worklist.csv", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fworklist.csv"


# ---- week view ------------------------------------------------------------------------------------


def test_the_week_view_lists_what_is_due_each_day_for_the_callers_patients(
    client: TestClient, stored: Database
) -> None:
    sign_in(client, "ana")
    page = client.get("/week")
    assert page.status_code == 200
    first, last = fortnight(AS_OF)
    assert (first, last) == (dt.date(2026, 11, 23), dt.date(2026, 12, 6))
    with stored.sessions() as session:
        expected = session.execute(
            select(ReminderRow.due_on, ReminderRow.key, ReminderRow.patient_id)
            .join(PatientRow, PatientRow.patient_id == ReminderRow.patient_id)
            .where(
                PatientRow.navigator_id == "nav-ana",
                ReminderRow.status.in_(("overdue", "due", "planned")),
                ReminderRow.due_on.between(first, last),
            )
            .order_by(ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
        ).all()
    assert expected, "ana's patients have something due in the fortnight"
    days = re.findall(
        r'<li class="day[^"]*" data-day="([\d-]+)">(.*?)</li>\s*(?=<li class="day|</ol>)', page.text, re.S
    )
    assert [day for day, _ in days] == [(first + dt.timedelta(days=n)).isoformat() for n in range(14)]
    shown = [(day, key) for day, body in days for key in re.findall(r'<li data-key="([^"]+)"', body)]
    assert shown == [(due.isoformat(), key) for due, key, _ in expected]
    assert "Daniel Okafor" not in page.text
    assert "/patients/P02" not in page.text
    assert 'class="day today" data-day="2026-11-27"' in page.text
    assert_csp_clean(page.text)
    assert_landmarks(page.text)
    only_ct = client.get("/week?kind=ct").text
    with stored.sessions() as session:
        cts = {key for key, kind in session.execute(
            select(ReminderRow.key, ReminderRow.kind).where(ReminderRow.key.in_([k for _, k, _ in expected]))
        ) if kind == "ct"}  # fmt: skip
    assert set(re.findall(r'<li data-key="([^"]+)"', only_ct)) == cts


def test_the_week_view_and_the_csv_show_bookings_and_snoozes(client: TestClient, stored: Database) -> None:
    """The week view plans, so a snoozed item stays on its day, marked; a booked one says when and
    where, in the week view and in the worklist's CSV."""
    from tests.support.common import intake

    first, last = fortnight(AS_OF)
    with stored.sessions() as session:
        rows = session.execute(
            select(ReminderRow.patient_id, ReminderRow.key, ReminderRow.status)
            .where(
                ReminderRow.navigator_id == "nav-ana",
                ReminderRow.status.in_(("overdue", "due", "planned")),
                ReminderRow.due_on.between(first, last),
            )
            .order_by(ReminderRow.due_on, ReminderRow.id)
        ).all()
    booked, snoozed = rows[0], rows[-1]
    assert booked.key != snoozed.key
    events = [
        {
            "event_id": "wk-book", "patient_id": booked.patient_id, "type": "reminder_booked",
            "occurred_on": AS_OF.isoformat(),
            "data": {"reminder_key": booked.key, "appointment_on": "2026-12-03", "place": "Radiology B"},
        },
        {
            "event_id": "wk-snooze", "patient_id": snoozed.patient_id, "type": "reminder_snoozed",
            "occurred_on": AS_OF.isoformat(), "data": {"reminder_key": snoozed.key, "until": "2026-12-10"},
        },
    ]  # fmt: skip
    intake(stored.sessions, events, AS_OF)
    for patient_id in {booked.patient_id, snoozed.patient_id}:
        process_patient(stored.sessions, patient_id, AS_OF)
    sign_in(client, "ana")
    page = client.get("/week").text
    item = re.compile(r'<li data-key="{}"[^>]*>(.*?)</li>')
    booked_item = item.pattern.format(re.escape(booked.key))
    snoozed_item = item.pattern.format(re.escape(snoozed.key))
    assert "Booked for 2026-12-03 at Radiology B" in re.search(booked_item, page, re.S).group(1)  # type: ignore[union-attr]
    assert "off the worklist until 2026-12-10" in re.search(snoozed_item, page, re.S).group(1)  # type: ignore[union-attr]
    exported = read_csv(client.get("/worklist.csv").text)
    row = next(r for r in exported if r["patient_id"] == booked.patient_id and r["appointment_on"])
    assert (row["appointment_on"], row["appointment_place"]) == ("2026-12-03", "Radiology B")


# ---- notes ----------------------------------------------------------------------------------------


def test_a_note_is_stored_with_who_and_when_audited_and_shown_escaped(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    text = "Called <b>Maria</b> about the EUS & booked it for 3 December"
    response = client.post(
        "/patients/P01/notes", data={"csrf_token": csrf, "kind": "call_reached", "text": f"  {text}\n"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/patients/P01#notes"
    with stored.sessions() as session:
        note = session.scalars(select(PatientNoteRow)).one()
    assert (note.patient_id, note.kind, note.text, note.author) == ("P01", "call_reached", text, "ana")
    assert audit_rows(stored, "note_add") == [("ana", "P01", f"note {note.id}")]
    page = client.get("/patients/P01").text
    assert "Note saved." in page
    assert "Called &lt;b&gt;Maria&lt;/b&gt; about the EUS &amp; booked it" in page
    assert "<b>Maria</b>" not in page
    assert "Call: reached the patient</strong> · ana ·" in page
    assert_csp_clean(page)


def test_the_record_api_returns_notes_and_phone(
    client: TestClient, stored: Database, staff_tokens: dict[str, str]
) -> None:
    csrf = sign_in(client, "ana")
    client.post("/patients/P01/notes", data={"csrf_token": csrf, "kind": "note", "text": "Prefers mornings"})
    record = client.get(
        "/api/patients/P01/record", headers={"Authorization": f"Bearer {staff_tokens['ana']}"}
    ).json()
    assert [(n["kind"], n["text"], n["author"]) for n in record["notes"]] == [
        ("note", "Prefers mornings", "ana")
    ]
    assert record["phone"] is None


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"kind": "note", "text": "   "}, "text", "write what was said or done"),
        ({"kind": "note", "text": "x" * 2001}, "text", "at most 2000 characters"),
        ({"kind": "gossip", "text": "hello"}, "kind", "must be one of note"),
        ({"kind": "note", "text": "a\x00b"}, "text", "NUL"),
    ],
    ids=["empty", "too-long", "bad-kind", "nul"],
)
def test_a_bad_note_is_refused_next_to_its_field(
    client: TestClient, stored: Database, form: dict[str, str], field: str, message: str
) -> None:
    csrf = sign_in(client, "ana")
    response = client.post("/patients/P01/notes", data={"csrf_token": csrf, **form})
    assert response.status_code == 422
    assert re.search(
        rf'<p class="field-error" id="note-{field}-error">[^<]*{re.escape(message)}', response.text
    )
    assert stored.count(PatientNoteRow) == 0
    assert audit_rows(stored, "note_add") == []


def test_a_navigator_cannot_write_or_read_notes_of_another_navigators_patient(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ben")
    client.post("/patients/P02/notes", data={"csrf_token": csrf, "kind": "note", "text": "ben's own"})
    client.post("/logout", data={"csrf_token": csrf})
    csrf = sign_in(client, "ana")
    for patient_id in ("P02", "P99"):
        refused = client.post(
            f"/patients/{patient_id}/notes", data={"csrf_token": csrf, "kind": "note", "text": "x"}
        )
        assert refused.status_code == 404
    assert client.get("/patients/P02").status_code == 404
    assert client.post("/patients/P01/notes", data={"kind": "note", "text": "no token"}).status_code == 403
    assert (
        client.post(
            "/patients/P01/notes", data={"csrf_token": "forged", "kind": "note", "text": "x"}
        ).status_code
        == 403
    )
    with stored.sessions() as session:
        assert [(n.patient_id, n.author) for n in session.scalars(select(PatientNoteRow))] == [("P02", "ben")]
    assert [row[:2] for row in audit_rows(stored, "note_add")] == [("ben", "P02")]


def test_a_signed_out_note_is_not_stored(client: TestClient, stored: Database) -> None:
    response = client.post("/patients/P01/notes", data={"kind": "note", "text": "x"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert stored.count(PatientNoteRow) == 0


# ---- contact, phone and reassignment (admins) -----------------------------------------------------


def registration_events(db: Database, patient_id: str) -> list[EventRow]:
    with db.sessions() as session:
        return list(
            session.scalars(
                select(EventRow)
                .where(EventRow.patient_id == patient_id, EventRow.type == "patient_registered")
                .order_by(EventRow.id)
            )
        )


def test_an_admin_reassigns_a_patient_and_records_the_phone_through_a_registration_event(
    client: TestClient, stored: Database
) -> None:
    before = registration_events(stored, "P01")[-1].payload["data"]
    csrf = sign_in(client, "ada")
    page = client.get("/patients/P01").text
    assert 'action="/patients/P01/registration"' in page
    assert re.search(r'<option value="nav-ben">nav-ben</option>', page)
    form = {"csrf_token": csrf, "navigator_id": "nav-ben", "name": before["name"],
            "email": before.get("email", ""), "phone": "+44 20 7946 0958",
            "timezone": before.get("timezone", "UTC")}  # fmt: skip
    response = client.post("/patients/P01/registration", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/patients/P01#contact"
    event = registration_events(stored, "P01")[-1]
    assert event.event_id.startswith("web-reg-")
    assert event.occurred_on == AS_OF
    assert event.payload["data"] == {k: v for k, v in {**before, "navigator_id": "nav-ben",
                                                       "phone": "+44 20 7946 0958"}.items() if v}  # fmt: skip
    assert audit_rows(stored, "submit_events")[-1] == ("ada", "P01", event.event_id)
    process_patient(stored.sessions, "P01", AS_OF)  # what the worker does
    with stored.sessions() as session:
        patient = session.get_one(PatientRow, "P01")
        assert (patient.navigator_id, patient.phone) == ("nav-ben", "+44 20 7946 0958")
        copies = set(session.scalars(select(ReminderRow.navigator_id).where(ReminderRow.patient_id == "P01")))
    assert copies == {"nav-ben"}
    page = client.get("/patients/P01").text
    assert '<a href="tel:+442079460958" class="phone">+44 20 7946 0958</a>' in page
    client.post("/logout", data={"csrf_token": csrf})
    sign_in(client, "ana")
    assert client.get("/patients/P01").status_code == 404, "no longer ana's"
    sign_in(client, "ben")
    assert client.get("/patients/P01").status_code == 200


def test_a_second_registration_the_same_day_sorts_after_the_first(
    client: TestClient, stored: Database
) -> None:
    with stored.sessions() as session:
        session.add(
            EventRow(
                event_id="zz-registered-today", patient_id="P03", type="patient_registered",
                occurred_on=AS_OF,
                payload={"event_id": "zz-registered-today", "patient_id": "P03", "type": "patient_registered",
                         "occurred_on": AS_OF.isoformat(), "data": {"navigator_id": "nav-ana"}},
                fingerprint="x",
            )
        )  # fmt: skip
        session.commit()
    csrf = sign_in(client, "ada")
    form = {"csrf_token": csrf, "navigator_id": "nav-ben", "timezone": "UTC"}
    assert client.post("/patients/P03/registration", data=form, follow_redirects=False).status_code == 303
    latest = registration_events(stored, "P03")[-1]
    assert latest.event_id > "zz-registered-today"
    process_patient(stored.sessions, "P03", AS_OF)
    with stored.sessions() as session:
        assert session.get_one(PatientRow, "P03").navigator_id == "nav-ben"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"navigator_id": "nav-nobody"}, "navigator_id", "choose one of the navigators listed"),
        ({"email": "not an address"}, "email", "is not an email address"),
        ({"phone": "call me"}, "phone", "must be a phone number"),
        ({"timezone": "Mars/Olympus"}, "timezone", "is not an IANA time zone name"),
    ],
    ids=["navigator", "email", "phone", "timezone"],
)
def test_a_bad_registration_is_refused_next_to_its_field(
    client: TestClient, stored: Database, change: dict[str, str], field: str, message: str
) -> None:
    before = len(registration_events(stored, "P01"))
    csrf = sign_in(client, "ada")
    form = {
        "csrf_token": csrf,
        "navigator_id": "nav-ana",
        "name": "Maria Santos",
        "timezone": "UTC",
        **change,
    }
    response = client.post("/patients/P01/registration", data=form)
    assert response.status_code == 422
    assert re.search(rf'id="reg-{field}-error">[^<]*{re.escape(message)}', response.text), response.text[
        -3000:
    ]
    assert len(registration_events(stored, "P01")) == before


@pytest.mark.parametrize("username", ["ana", "cleo"])
def test_only_an_admin_may_change_the_navigator_or_contact_details(
    client: TestClient, stored: Database, username: str
) -> None:
    before = len(registration_events(stored, "P01"))
    csrf = sign_in(client, username)
    page = client.get("/patients/P01").text
    assert 'action="/patients/P01/registration"' not in page
    form = {
        "csrf_token": csrf,
        "navigator_id": "nav-ben",
        "timezone": "UTC",
        "email": "attacker@evil.example",
    }
    response = client.post("/patients/P01/registration", data=form)
    assert response.status_code == 403
    assert len(registration_events(stored, "P01")) == before
    assert audit_rows(stored, "submit_events") == []


def test_a_navigator_cannot_reassign_another_navigators_patient(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    response = client.post("/patients/P02/registration", data={"csrf_token": csrf, "navigator_id": "nav-ana"})
    assert response.status_code == 404
    assert client.post("/patients/P01/registration", data={"navigator_id": "nav-ana"}).status_code == 403


def test_a_phone_number_is_validated_by_the_event_parser(
    client: TestClient, staff_tokens: dict[str, str]
) -> None:
    event = {"event_id": "P01-phone", "patient_id": "P01", "type": "patient_registered",
             "occurred_on": "2026-11-27", "data": {"navigator_id": "nav-ana", "phone": "12"}}  # fmt: skip
    response = client.post(
        "/api/events", json=event, headers={"Authorization": f"Bearer {staff_tokens['ada']}"}
    )
    assert response.status_code == 422
    assert "data.phone" in response.text


# ---- ending follow-up -----------------------------------------------------------------------------


def test_ending_follow_up_is_an_event_in_the_log_that_closes_the_plan(
    client: TestClient, stored: Database
) -> None:
    csrf = sign_in(client, "ana")
    form = {"csrf_token": csrf, "reason": "transferred", "occurred_on": "2026-11-26", "confirm": "yes"}
    response = client.post("/patients/P05/end", data=form, follow_redirects=False)
    assert response.status_code == 303
    with stored.sessions() as session:
        event = session.scalars(select(EventRow).where(EventRow.type == "follow_up_ended")).one()
    assert event.payload["data"] == {"reason": "transferred"}
    assert event.occurred_on == dt.date(2026, 11, 26)
    assert audit_rows(stored, "submit_events") == [("ana", "P05", event.event_id)]
    process_patient(stored.sessions, "P05", AS_OF)
    with stored.sessions() as session:
        assert not session.get_one(PatientRow, "P05").is_active
        still_open = session.scalars(
            select(ReminderRow).where(
                ReminderRow.patient_id == "P05", ReminderRow.status.in_(("overdue", "due", "planned"))
            )
        ).all()
    assert still_open == []
    page = client.get("/patients/P05").text
    assert 'action="/patients/P05/end"' not in page, "no form once follow-up has ended"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"confirm": ""}, "confirm", "tick the box to confirm"),
        ({"reason": "bored"}, "reason", "choose why follow-up ends"),
        ({"occurred_on": "2026-12-25"}, "occurred_on", "after the day it was received"),
        ({"occurred_on": "yesterday"}, "occurred_on", "YYYY-MM-DD"),
    ],
    ids=["unconfirmed", "reason", "future", "not-a-date"],
)
def test_ending_follow_up_needs_a_reason_a_date_and_the_confirmation(
    client: TestClient, stored: Database, change: dict[str, str], field: str, message: str
) -> None:
    csrf = sign_in(client, "ana")
    form = {
        "csrf_token": csrf,
        "reason": "discharged",
        "occurred_on": "2026-11-26",
        "confirm": "yes",
        **change,
    }
    response = client.post("/patients/P05/end", data=form)
    assert response.status_code == 422
    assert re.search(rf'id="end-{field}-error">[^<]*{re.escape(message)}', response.text), response.text[
        -2000:
    ]
    assert stored.count(EventRow, EventRow.type == "follow_up_ended") == 0


def test_a_navigator_cannot_end_another_navigators_patient(client: TestClient, stored: Database) -> None:
    csrf = sign_in(client, "ana")
    form = {"csrf_token": csrf, "reason": "discharged", "occurred_on": "2026-11-26", "confirm": "yes"}
    assert client.post("/patients/P02/end", data=form).status_code == 404
    assert client.post("/patients/P05/end", data={**form, "csrf_token": "stale"}).status_code == 403
    assert stored.count(EventRow, EventRow.type == "follow_up_ended") == 0


# ---- the page's poll ------------------------------------------------------------------------------


def test_the_patient_status_poll_counts_waiting_events_within_scope(
    client: TestClient, stored: Database
) -> None:
    assert client.get("/patients/P05/status").status_code == 401
    csrf = sign_in(client, "ana")
    assert client.get("/patients/P05/status").json() == {"pending_events": 0}
    assert client.get("/patients/P02/status").status_code == 404
    assert client.get("/patients/P99/status").status_code == 404
    data = {"csrf_token": csrf, "form": "lab", "occurred_on": "2026-11-27", "test": "tsh", "value": "2"}
    client.post("/patients/P05/events", data=data)
    assert client.get("/patients/P05/status").json() == {"pending_events": 1}
    page = client.get("/patients/P05").text
    assert 'data-poll="/patients/P05/status"' in page
    process_patient(stored.sessions, "P05", AS_OF)
    assert client.get("/patients/P05/status").json() == {"pending_events": 0}
    assert "data-poll" not in client.get("/patients/P05").text


def test_new_staff_can_be_assigned(stored: Database) -> None:
    """A navigator account added later is offered in the contact form at once."""
    from scheduler.patients.unassigned import navigator_ids

    create_staff(stored.sessions, {"nia": ("navigator", "nav-nia")})
    with stored.sessions() as session:
        assert "nav-nia" in navigator_ids(session)
