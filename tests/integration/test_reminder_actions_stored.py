"""Navigator actions on a reminder (``reminder_booked``, ``_snoozed``, ``_waived``) through the shells,
on SQLite and PostgreSQL: submitted through the intake and processed by the worker's code, stored on
the reminder row (a change is a new revision), returned in the stored plan, and shown on the other
surfaces — a snoozed item leaves the worklist (and its counts) until its day, a booked one carries
its appointment into the worklist, the calendar feeds and the emails, and a navigator's nudge about
a snoozed item waits for the snooze's day.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.rows import NotificationRow, PatientRow, ReminderRow
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.dispatch import create_due_notices
from scheduler.notifications.feeds import create_feed, feed_etag, find_feed, render
from scheduler.notifications.sending import compose
from scheduler.patients.processing import process_patient
from scheduler.patients.stored import stored_plan
from scheduler.staff.access import Principal
from scheduler.staff.worklist import worklist
from tests.support.cohort import AS_OF, store_cohort
from tests.support.common import intake
from tests.support.services import Database

pytestmark = pytest.mark.integration

ANA = Principal(1, "ana", "navigator", "nav-ana")  # P01, P03, P05, P07
CLINICIAN = Principal(2, "cleo", "clinician", None)
CT = "surveillance.high_adjuvant:ct:2026-04-20:2"  # P05's, due since 2026-10-20 (window 92 days)
LFT = "monitoring.imatinib:lab_lft:2026-04-20:8"  # P05's, due since 2026-11-20 (window 7 days)
NOW = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)


def act(db: Database, n: int, event_type: str, key: str, **data: Any) -> None:
    """Submit one action on P05's item ``key`` dated AS_OF and process P05, as the worker does."""
    event = {
        "event_id": f"act-{n}",
        "patient_id": "P05",
        "type": event_type,
        "occurred_on": AS_OF.isoformat(),
        "data": {"reminder_key": key, **data},
    }
    result = intake(db.sessions, [event], AS_OF)
    assert not result.rejected, result.rejected
    process_patient(db.sessions, "P05", AS_OF)


def row_of(db: Database, key: str) -> ReminderRow:
    with db.sessions() as session:
        row = session.scalar(
            select(ReminderRow).where(ReminderRow.patient_id == "P05", ReminderRow.key == key)
        )
        assert row is not None
        session.expunge(row)
        return row


def plan_item(db: Database, key: str) -> dict[str, Any]:
    with db.sessions() as session:
        plan = stored_plan(session, "P05")
    assert plan is not None
    return next(r for r in plan["reminders"] if r["key"] == key)


def test_each_action_is_stored_on_the_row_as_a_new_revision(db: Database) -> None:
    store_cohort(db)
    ct_before, lft_before = row_of(db, CT), row_of(db, LFT)
    assert (ct_before.status, lft_before.status) == ("due", "due")

    act(db, 1, "reminder_booked", CT, appointment_on="2026-12-04", place="Radiology B")
    ct = row_of(db, CT)
    assert (ct.appointment_on, ct.appointment_place, ct.revision) == (
        dt.date(2026, 12, 4), "Radiology B", ct_before.revision + 1,
    )  # fmt: skip
    assert plan_item(db, CT)["booking"] == {"appointment_on": "2026-12-04", "place": "Radiology B"}

    act(db, 2, "reminder_snoozed", CT, until="2026-12-01")
    ct = row_of(db, CT)
    assert (ct.snoozed_until, ct.revision) == (dt.date(2026, 12, 1), ct_before.revision + 2)
    assert plan_item(db, CT)["snoozed_until"] == "2026-12-01"

    act(db, 3, "reminder_waived", LFT, reason="done_elsewhere", done_on="2026-11-25", note="GP surgery")
    lft = row_of(db, LFT)
    waiver = {
        "reason": "done_elsewhere",
        "waived_on": "2026-11-27",
        "done_on": "2026-11-25",
        "note": "GP surgery",
    }
    assert (lft.status, lft.cancelled_on, lft.waiver) == ("cancelled", AS_OF, waiver)
    assert lft.revision == lft_before.revision + 1
    item = plan_item(db, LFT)
    assert item["waiver"] == waiver
    assert "booking" not in item
    assert "snoozed_until" not in item

    # recomputing the same log changes nothing: the stored actions compare equal to the plan's
    revisions = {key: row_of(db, key).revision for key in (CT, LFT)}
    process_patient(db.sessions, "P05", AS_OF, force=True)
    assert {key: row_of(db, key).revision for key in (CT, LFT)} == revisions


def test_a_booking_moved_or_given_a_place_is_a_new_revision_and_a_new_feed_etag(db: Database) -> None:
    store_cohort(db)
    created = create_feed(db.sessions, "patient", "P05", "http://localhost:8000")
    token = created.url.rsplit("/", 1)[1].removesuffix(".ics")

    def etag() -> str:
        with db.sessions() as session:
            feed = find_feed(session, token)
            assert feed is not None
            return feed_etag(session, feed, AS_OF)

    tags = [etag()]
    act(db, 1, "reminder_booked", CT, appointment_on="2026-12-04")
    tags.append(etag())
    act(db, 2, "reminder_booked", CT, appointment_on="2026-12-04", place="Radiology B")
    tags.append(etag())
    act(db, 3, "reminder_booked", CT, appointment_on="2026-12-08", place="Radiology B")
    tags.append(etag())
    assert len(set(tags)) == 4
    assert row_of(db, CT).revision == row_of(db, LFT).revision + 3  # both began at 1


@pytest.mark.parametrize("principal", [ANA, CLINICIAN], ids=["navigator", "clinician"])
def test_a_snoozed_item_leaves_the_worklist_and_its_counts_until_its_day(
    db: Database, principal: Principal
) -> None:
    store_cohort(db)
    with db.sessions() as session:
        before = worklist(session, principal, AS_OF)
    assert CT in {item["key"] for item in before["due_soon"]}
    act(db, 1, "reminder_snoozed", CT, until="2026-12-01")
    act(db, 2, "reminder_booked", LFT, appointment_on="2026-11-30", place="Ward 3")
    for day, is_listed in ((AS_OF, False), (dt.date(2026, 11, 30), False), (dt.date(2026, 12, 1), True)):
        with db.sessions() as session:
            found = worklist(session, principal, day)
        listed = [item["key"] for section in ("overdue", "due_soon") for item in found[section]]
        assert (CT in listed) is is_listed, day
        for section in ("overdue", "due_soon"):
            assert found["counts"][section] == len(found[section]), (day, section)
    with db.sessions() as session:
        after = worklist(session, principal, AS_OF)
    assert after["counts"]["due_soon"] == before["counts"]["due_soon"] - 1
    assert after["counts"]["overdue"] == before["counts"]["overdue"]
    lft = next(item for item in after["due_soon"] if item["key"] == LFT)
    assert lft["booking"] == {"appointment_on": "2026-11-30", "place": "Ward 3"}
    assert lft["booking_text"] == "Booked for 2026-11-30 at Ward 3; due 2026-11-20"


def test_the_snoozed_are_left_out_by_the_partial_index(db: Database) -> None:
    """SQLite's plan of the snoozed ids reads ix_reminders_snoozed alone (its predicate said literally)."""
    if db.backend != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN")
    store_cohort(db)
    from scheduler.staff.worklist import _awake

    condition = _awake(AS_OF, "nav-ana")
    query = select(ReminderRow.id).where(condition)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_reminders_snoozed" in plan, plan


def feed_body(db: Database, scope: str, subject: str) -> str:
    created = create_feed(db.sessions, scope, subject, "http://localhost:8000")
    with db.sessions() as session:
        feed = find_feed(session, created.url.rsplit("/", 1)[1].removesuffix(".ics"))
        assert feed is not None
        return re.sub(r"\r\n[ \t]", "", render(session, feed, AS_OF).decode())


@pytest.mark.parametrize(("scope", "subject"), [("patient", "P05"), ("navigator", "nav-ana")])
def test_a_booked_item_is_on_its_appointment_day_in_the_feeds(db: Database, scope: str, subject: str) -> None:
    store_cohort(db)
    act(db, 1, "reminder_booked", CT, appointment_on="2026-12-04", place="Radiology B")
    body = feed_body(db, scope, subject)
    events = body.split("BEGIN:VEVENT")[1:]
    booked = [e for e in events if "Booked for" in e]
    assert len(booked) == 1, body[:3000]
    assert "DTSTART;VALUE=DATE:20261204" in booked[0]
    assert "DESCRIPTION:Booked for 2026-12-04 at Radiology B\\; due 2026-10-20." in booked[0]


def outbox_row(db: Database, key: str, kind: str, audience: str) -> int:
    """An outbox row for P05's reminder ``key``, as the clock writes it."""
    with db.sessions.begin() as session:
        reminder = session.scalar(
            select(ReminderRow).where(ReminderRow.patient_id == "P05", ReminderRow.key == key)
        )
        assert reminder is not None
        row = NotificationRow(
            dedup_key=f"test:{key}:{kind}:{audience}", kind=kind, audience=audience, reminder_id=reminder.id,
            patient_id="P05", navigator_id="nav-ana", revision=reminder.revision, due_on=reminder.due_on,
            day=AS_OF, reason="test", status="sending", attempts=1, created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize("audience", ["patient", "navigator"])
def test_the_emails_about_a_booked_item_mention_the_appointment(
    db: Database, tmp_path: Path, audience: str
) -> None:
    store_cohort(db)
    act(db, 1, "reminder_booked", CT, appointment_on="2026-12-04", place="Radiology B")
    with db.sessions.begin() as session:  # the patient's email and a navigator user to tell
        patient = session.get(PatientRow, "P05")
        assert patient is not None
        patient.email = patient.email or "p05@example.org"
    from scheduler.staff.users import create_user

    create_user(db.sessions, "ana", "navigator", "correct horse battery", "nav-ana", "ana@clinic.example")
    row_id = outbox_row(db, CT, "due" if audience == "patient" else "overdue", audience)
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF)
    with db.sessions() as session:
        row = session.get_one(NotificationRow, row_id)
        decision = compose(session, row, settings, NOW, DEFAULT_PROFILE)
    message = decision.message
    assert message is not None, decision
    parts = [p for p in message.walk() if p.get_content_type() in ("text/plain", "text/html")]
    texts = [p.get_content() for p in parts]
    if audience == "patient":
        assert message["Subject"] == "Reminder: a CT scan is booked for 4 December 2026"
        for text in texts:
            assert "booked for you on 4 December 2026" in re.sub(r"<[^>]+>", "", text)
            assert "Radiology B" in text
        invitation = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        ics = re.sub(r"\r\n[ \t]", "", invitation.get_content())
        assert "DTSTART;VALUE=DATE:20261204" in ics
    else:
        assert message["Subject"].endswith("(due 20 October 2026, booked for 4 December 2026)")
        for text in texts:
            assert "Booked for 4 December 2026 at Radiology B" in re.sub(r"<[^>]+>", "", text)


def test_a_navigator_nudge_about_a_snoozed_item_waits_for_the_snooze(db: Database) -> None:
    """P05's blood test (no patient email: the navigator is told) is overdue on 2026-11-28; snoozed
    until 2026-12-02, that escalation is written on 2026-12-02, not before; a patient's notices
    are not held."""
    store_cohort(db)
    with db.sessions.begin() as session:
        patient = session.get(PatientRow, "P05")
        assert patient is not None
        patient.email = None
    act(db, 1, "reminder_snoozed", LFT, until="2026-12-02")

    def escalations() -> list[dt.date]:
        with db.sessions() as session:
            reminder_id = session.scalar(select(ReminderRow.id).where(ReminderRow.key == LFT))
            return list(
                session.scalars(
                    select(NotificationRow.day).where(
                        NotificationRow.reminder_id == reminder_id, NotificationRow.kind == "overdue"
                    )
                )
            )

    for day in (dt.date(2026, 11, 28), dt.date(2026, 11, 30), dt.date(2026, 12, 1)):
        create_due_notices(db.sessions, day, DEFAULT_PROFILE)
        assert escalations() == [], day
        assert row_of(db, LFT).notice_on == dt.date(2026, 12, 2)
    create_due_notices(db.sessions, dt.date(2026, 12, 2), DEFAULT_PROFILE)
    assert escalations() == [dt.date(2026, 12, 2)]
