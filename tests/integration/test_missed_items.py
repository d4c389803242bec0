"""Open reminders with missed items before them (``overdue_since``, ``missed``, ``last_done_on``;
event-contract.md §2) through the shells, on SQLite and PostgreSQL: stored by the code the worker
uses, returned in the stored plan, and shown as overdue since that date on every surface — the
worklist (JSON and dashboard), the patient page, the navigator digest and the calendar feeds.

The plans are the cohort's own, with chosen open reminders given missed items by hand and passed
through :func:`scheduler.patients.processing.store_plan` (what ``patients.process`` runs), so these tests
show each surface with chosen values; the planner's own are checked in test_missed_items_e2e.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models.rows import EventRow, NotificationRow, PatientRow, ReminderRow, UserRow
from scheduler.app.wiring import create_web_app
from scheduler.config.profiles import profile_hash
from scheduler.config.settings import Settings
from scheduler.domain.events import parse_event
from scheduler.domain.model import Reminder
from scheduler.domain.plan import plan_follow_up
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.feeds import create_feed, find_feed, render
from scheduler.notifications.sending import compose
from scheduler.patients.processing import ProcessResult, process_patient, store_plan
from scheduler.patients.repository import insert_reminders, stored_state
from scheduler.patients.stored import stored_plan
from scheduler.staff.access import Principal
from scheduler.staff.users import create_user
from scheduler.staff.worklist import worklist
from tests.support.cohort import AS_OF, store_cohort
from tests.support.services import Database
from tests.support.staff import PASSWORD

pytestmark = pytest.mark.integration

CLINICIAN = Principal(2, "cleo", "clinician", None)
ANA = Principal(1, "ana", "navigator", "nav-ana")  # P01, P03, P05, P07
SINCE, LAST_DONE = dt.date(2026, 9, 25), dt.date(2026, 9, 11)


def store_with_missed(
    db: Database,
    patient_id: str,
    pick: Callable[[Reminder], bool],
    overdue_since: dt.date,
    missed: int,
    last_done_on: dt.date | None,
) -> list[str]:
    """Store the patient's plan as of AS_OF with the open reminders ``pick`` chooses carrying these
    missed items, through the worker's storing code; returns the keys given them."""
    with db.sessions.begin() as session:
        patient = session.get(PatientRow, patient_id)
        assert patient is not None
        payloads = session.scalars(select(EventRow.payload).where(EventRow.patient_id == patient_id))
        events = [parse_event(payload) for payload in payloads]
        plan = plan_follow_up(events, AS_OF)
        chosen = [r.key for r in plan.reminders if r.is_open and pick(r)]
        assert chosen, f"{patient_id}: no open reminder picked"
        reminders = tuple(
            r._replace(overdue_since=overdue_since, missed=missed, last_done_on=last_done_on)
            if r.key in chosen
            else r
            for r in plan.reminders
        )
        state, changed = stored_state(session, patient_id), dataclasses.replace(plan, reminders=reminders)
        new_rows = store_plan(
            session, patient, state, changed, events, AS_OF,
            ProcessResult(patient_id), DEFAULT_PROFILE, profile_hash(DEFAULT_PROFILE),
        )  # fmt: skip
        insert_reminders(session, new_rows)
    return chosen


def first_open(db: Database, patient_id: str, status: str, kind: str | None = None) -> str:
    with db.sessions() as session:
        key = session.scalar(
            select(ReminderRow.key)
            .where(
                ReminderRow.patient_id == patient_id,
                ReminderRow.status == status,
                *([ReminderRow.kind == kind] if kind else []),
            )
            .order_by(ReminderRow.due_on, ReminderRow.key)
            .limit(1)
        )
    assert key is not None, (patient_id, status, kind)
    return key


def by_key(key: str) -> Callable[[Reminder], bool]:
    return lambda reminder: reminder.key == key


@pytest.fixture
def missed(db: Database) -> tuple[Database, str]:
    """The cohort, with P07's first planned reminder carrying 3 missed items since SINCE."""
    store_cohort(db)
    key = first_open(db, "P07", "planned")
    assert store_with_missed(db, "P07", by_key(key), SINCE, 3, LAST_DONE) == [key]
    return db, key


def test_the_fields_are_stored_and_returned_on_open_items_only(missed: tuple[Database, str]) -> None:
    db, key = missed
    with db.sessions() as session:
        row = session.scalar(
            select(ReminderRow).where(ReminderRow.patient_id == "P07", ReminderRow.key == key)
        )
        assert row is not None
        assert (row.overdue_since, row.missed, row.last_done_on, row.revision) == (SINCE, 3, LAST_DONE, 2)
        plan = stored_plan(session, "P07")
        payloads = session.scalars(select(EventRow.payload).where(EventRow.patient_id == "P07"))
        pure = {r.key: r for r in plan_follow_up([parse_event(p) for p in payloads], AS_OF).reminders}
    assert plan is not None
    assert plan["profile"] == DEFAULT_PROFILE.name
    assert plan["profile_hash"] == profile_hash(DEFAULT_PROFILE)
    for reminder in plan["reminders"]:
        is_open = reminder["status"] in ("planned", "due", "overdue")
        assert ({"overdue_since", "missed", "last_done_on"} <= reminder.keys()) is is_open, reminder
        if reminder["key"] == key:
            assert (reminder["overdue_since"], reminder["missed"], reminder["last_done_on"]) == (
                "2026-09-25", 3, "2026-09-11",
            )  # fmt: skip
        elif is_open:  # the planner's own values (clinical-rules v4 §9)
            expected = pure[reminder["key"]]
            assert (reminder["overdue_since"], reminder["missed"], reminder["last_done_on"]) == (
                expected.overdue_since.isoformat() if expected.overdue_since else None,
                expected.missed,
                expected.last_done_on.isoformat() if expected.last_done_on else None,
            )

    store_with_missed(db, "P07", by_key(key), SINCE, 3, LAST_DONE)  # the same plan again: no change
    process_patient(db.sessions, "P07", AS_OF, force=True)  # the planner's own values: a new revision
    with db.sessions() as session:
        row = session.scalar(
            select(ReminderRow).where(ReminderRow.patient_id == "P07", ReminderRow.key == key)
        )
        assert row is not None
        own = pure[key]
        assert (row.overdue_since, row.missed, row.last_done_on, row.revision) == (
            own.overdue_since, own.missed, own.last_done_on, 3,
        )  # fmt: skip


def test_the_worklist_lists_a_missed_item_as_overdue_since_its_first_miss(
    missed: tuple[Database, str],
) -> None:
    db, key = missed
    earlier = first_open(db, "P01", "planned")  # another patient's, overdue since earlier, never done
    store_with_missed(db, "P01", by_key(earlier), dt.date(2026, 6, 1), 5, None)
    with db.sessions() as session:
        for principal in (CLINICIAN, ANA):
            found = worklist(session, principal, AS_OF, days=366)
            overdue = {item["key"]: item for item in found["overdue"]}
            assert key in overdue, principal.role
            assert earlier in overdue, principal.role
            assert key not in {item["key"] for item in found["due_soon"]}
            item = overdue[key]
            assert (item["overdue_since"], item["missed"], item["last_done_on"]) == (
                "2026-09-25",
                3,
                "2026-09-11",
            )
            assert item["missed_text"] == "overdue since 2026-09-25 (3 missed); last done on 2026-09-11"
            assert overdue[earlier]["missed_text"] == "overdue since 2026-06-01 (5 missed); never done"
            assert item["days_overdue"] == max(0, (AS_OF - SINCE).days - item["window_days"])
            effective = [item["overdue_since"] or item["due_on"] for item in found["overdue"]]
            assert effective == sorted(effective)
            assert found["counts"]["overdue"] == len(found["overdue"])


def test_the_dashboard_shows_overdue_since_and_last_done(
    missed: tuple[Database, str], tmp_path: Path
) -> None:
    db, key = missed
    create_user(db.sessions, "cleo", "clinician", PASSWORD)
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    with TestClient(create_web_app(settings, db.sessions)) as client:
        response = client.post(
            "/login", data={"username": "cleo", "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 303
        page = client.get("/").text
        overdue = page[page.index('id="overdue"') : page.index('id="due-soon"')]
        assert f'data-key="{key}"' in overdue
        assert "overdue since 2026-09-25 (3 missed); last done on 2026-09-11" in overdue
        patient = client.get("/patients/P07").text
        assert "overdue since 2026-09-25 (3 missed); last done on 2026-09-11" in patient
        assert f"version {profile_hash(DEFAULT_PROFILE)}" in patient  # the profile's hash
        assert DEFAULT_PROFILE.name in patient


def test_the_digest_lists_a_missed_item_as_overdue(missed: tuple[Database, str], tmp_path: Path) -> None:
    db, _ = missed
    create_user(db.sessions, "ana", "navigator", PASSWORD, "nav-ana", "ana@clinic.example")
    with db.sessions() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.username == "ana"))
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    now = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
    with db.sessions.begin() as session:
        row = NotificationRow(
            dedup_key="digest:test", kind="digest", audience="navigator", navigator_id="nav-ana",
            user_id=user_id, day=AS_OF, status="sending", attempts=1, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        decision = compose(session, row, settings, now, DEFAULT_PROFILE)
    assert decision.message is not None, decision
    text = "\n".join(
        part.get_content() for part in decision.message.walk() if part.get_content_type().startswith("text/")
    )
    assert "P07" in text
    assert text.count("overdue since 2026-09-25 (3 missed); last done on 2026-09-11") == 2  # text and HTML


@pytest.mark.parametrize(("scope", "subject"), [("patient", "P07"), ("navigator", "nav-ana")])
def test_the_feeds_mark_a_missed_item_as_overdue_since(
    missed: tuple[Database, str], scope: str, subject: str
) -> None:
    db, key = missed
    with db.sessions() as session:
        kind = session.scalar(select(ReminderRow.kind).where(ReminderRow.key == key))
    if scope == "patient" and kind in ("mdt_review", "mutation_test", "therapy_review"):
        pytest.skip(f"a {kind} is not on the patient's feed")
    created = create_feed(db.sessions, scope, subject, "http://localhost:8000")
    with db.sessions() as session:
        feed = find_feed(session, created.url.rsplit("/", 1)[1].removesuffix(".ics"))
        assert feed is not None
        body = render(session, feed, AS_OF).decode()
    unfolded = re.sub(r"\r\n[ \t]", "", body)
    assert re.search(r"^SUMMARY:[^\r\n]*\(overdue since 2026-09-25\)", unfolded, re.M), unfolded[:2000]
    assert re.search(
        r"^DESCRIPTION:overdue since 2026-09-25 \(3 missed\)\\; last done on 2026-09-11\.", unfolded, re.M
    ), unfolded[:2000]
    # that event only carries the chosen date (the planner's own missed items carry theirs)
    assert len(re.findall(r"^SUMMARY:.*overdue since 2026-09-25", unfolded, re.M)) == 1


def overdue_oracle(db: Database, principal: Principal, days: int, limit: int) -> dict[str, Any]:
    """The definition read off every row: overdue = past its window, or open with missed items
    (by the effective date); due soon = the rest of the open ones up to the horizon."""
    horizon = AS_OF + dt.timedelta(days=days)
    with db.sessions() as session:
        rows = [
            r
            for r in session.scalars(select(ReminderRow))
            if principal.sees_all or r.navigator_id == principal.navigator_id
        ]
    overdue = sorted(
        (r.overdue_since or r.due_on, r.patient_id, r.id)
        for r in rows
        if r.status == "overdue" or (r.status in ("due", "planned") and r.overdue_since)
    )
    soon = sorted(
        (r.due_on, r.patient_id, r.id)
        for r in rows
        if r.overdue_since is None and (r.status == "due" or (r.status == "planned" and r.due_on <= horizon))
    )
    return {
        "overdue": [i for *_, i in overdue[:limit]],
        "due_soon": [i for *_, i in soon[:limit]],
        "counts": (len(overdue), len(soon)),
    }


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_overdue_and_due_soon_with_missed_items_follow_the_definition(db: Database, limit: int) -> None:
    """Several missed items (planned far ahead, due, overdue themselves; early and late first
    misses) mixed with the cohort's overdue ones, for every limit and both kinds of caller."""
    store_cohort(db)
    store_with_missed(db, "P07", lambda r: r.status == "planned" and r.kind == "lab_lft", SINCE, 2, LAST_DONE)
    store_with_missed(db, "P05", lambda r: r.status == "due", dt.date(2026, 1, 5), 9, None)
    store_with_missed(db, "P06", lambda r: r.status == "overdue", dt.date(2026, 2, 5), 4, None)
    late = first_open(db, "P01", "planned")
    store_with_missed(db, "P01", by_key(late), dt.date(2026, 11, 20), 1, dt.date(2026, 10, 1))
    for principal in (CLINICIAN, ANA):
        expected = overdue_oracle(db, principal, 7, limit)
        assert expected["counts"][0] > limit or limit == 100 or principal.navigator_id
        with db.sessions() as session:
            found = worklist(session, principal, AS_OF, days=7, limit=limit)
        assert [item["id"] for item in found["overdue"]] == expected["overdue"], principal.role
        assert [item["id"] for item in found["due_soon"]] == expected["due_soon"], principal.role
        assert (found["counts"]["overdue"], found["counts"]["due_soon"]) == expected["counts"], principal.role
