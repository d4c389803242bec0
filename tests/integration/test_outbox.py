"""The outbox use cases without a broker (SQLite and PostgreSQL): digests, moved and cancelled
invitations, failures that must be visible. Emails go to a folder (the .eml sender)."""

from __future__ import annotations

import datetime as dt
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from models.rows import NotificationRow
from notifications.smtp import FolderSender
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications import dispatch
from scheduler.notifications.sending import send_notification
from scheduler.patients.processing import process_patient
from scheduler.staff.users import create_user
from tests.support.cohort import store_cohort
from tests.support.common import intake
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD

pytestmark = pytest.mark.integration


def settings_for(db: Database, tmp_path: Path, as_of: dt.date = AS_OF) -> Settings:
    return Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=as_of)


def store(db: Database) -> None:
    store_cohort(db)


def send_all(db: Database, settings: Settings, folder: Path) -> dict[int, str]:
    sender = FolderSender(folder)
    now = dt.datetime.now(dt.UTC)
    ids = dispatch.claim_sendable(db.sessions, now, dt.timedelta(minutes=10))
    return {i: send_notification(db.sessions, i, sender, settings, now=now) for i in ids}


def emails(folder: Path) -> list[EmailMessage]:
    out = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        out.append(message)
    return out


def test_one_digest_per_navigator_per_day(db: Database, tmp_path: Path) -> None:
    store(db)
    create_user(db.sessions, "ana", "navigator", PASSWORD, "nav-ana", "ana@clinic.example")
    create_user(db.sessions, "ben", "navigator", PASSWORD, "nav-ben")  # no email: no digest
    settings = settings_for(db, tmp_path)
    assert dispatch.create_digests(db.sessions, AS_OF) == 1
    assert dispatch.create_digests(db.sessions, AS_OF) == 0  # the same day again
    outcomes = send_all(db, settings, tmp_path / "mail")
    assert list(outcomes.values()) == ["sent"]
    (digest,) = emails(tmp_path / "mail")
    assert digest["To"] == "ana@clinic.example"
    assert digest["Subject"].startswith("Daily follow-up digest for 27 November 2026")
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "P05" in text
    assert "Maria" not in text
    assert dispatch.create_digests(db.sessions, AS_OF + dt.timedelta(days=1)) == 1


def test_moved_and_cancelled_invitations(db: Database, tmp_path: Path) -> None:
    store(db)
    settings = settings_for(db, tmp_path)
    assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE) > 0
    send_all(db, settings, tmp_path / "first")
    invited = [m for m in emails(tmp_path / "first") if m["To"] == "maria.santos@example.org"]
    assert invited, "P01 was sent nothing"
    ics = [p for m in invited for p in m.walk() if p.get_content_type() == "text/calendar"]
    assert ics
    assert all("method=REQUEST" in str(p["Content-Type"]).replace('"', "") for p in ics)

    ended = {
        "event_id": "P01-ended", "patient_id": "P01", "type": "follow_up_ended", "occurred_on": "2026-11-27",
        "data": {"reason": "transferred"},
    }  # fmt: skip
    intake(db.sessions, [ended], AS_OF)
    process_patient(db.sessions, "P01", AS_OF)
    with db.sessions() as session:
        cancels = session.scalars(select(NotificationRow).where(NotificationRow.kind == "cancel")).all()
    assert cancels
    assert all(c.audience == "patient" and c.patient_id == "P01" for c in cancels)
    send_all(db, settings, tmp_path / "second")
    withdrawn = emails(tmp_path / "second")
    assert withdrawn
    assert all(m["Subject"].startswith("A reminder was withdrawn") for m in withdrawn)
    for message in withdrawn:
        (calendar,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        body = calendar.get_payload(decode=True)
        assert b"METHOD:CANCEL" in body
        assert b"STATUS:CANCELLED" in body


def test_a_booking_sends_the_invited_patient_the_appointment_day_at_once(
    db: Database, tmp_path: Path
) -> None:
    """A patient who holds an item's invitation gets an updated one (same UID, higher SEQUENCE) on the
    appointment's day as soon as a navigator books it, not at the next notice."""
    from models.rows import ReminderRow

    store(db)
    settings = settings_for(db, tmp_path)
    dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    send_all(db, settings, tmp_path / "first")
    with db.sessions() as session:
        invited = session.execute(
            select(ReminderRow.id, ReminderRow.key, ReminderRow.patient_id, ReminderRow.revision)
            .join(NotificationRow, NotificationRow.reminder_id == ReminderRow.id)
            .where(
                NotificationRow.status == "sent",
                NotificationRow.audience == "patient",
                NotificationRow.kind.in_(("advance", "due")),
                ReminderRow.status.in_(("planned", "due")),
            )
            .order_by(ReminderRow.id)
            .limit(1)
        ).one()
    booking = {
        "event_id": "book-1", "patient_id": invited.patient_id, "type": "reminder_booked",
        "occurred_on": AS_OF.isoformat(),
        "data": {"reminder_key": invited.key, "appointment_on": "2026-12-15", "place": "Radiology B"},
    }  # fmt: skip
    intake(db.sessions, [booking], AS_OF)
    process_patient(db.sessions, invited.patient_id, AS_OF)
    with db.sessions() as session:
        moved = session.scalars(
            select(NotificationRow).where(
                NotificationRow.reminder_id == invited.id, NotificationRow.kind == "moved"
            )
        ).all()
    assert [(m.audience, m.revision) for m in moved] == [("patient", invited.revision + 1)]
    send_all(db, settings, tmp_path / "second")
    (message,) = [m for m in emails(tmp_path / "second") if "book" in m["Subject"].lower()]
    (calendar,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    body = calendar.get_payload(decode=True)
    assert b"DTSTART;VALUE=DATE:20261215" in body
    assert f"SEQUENCE:{invited.revision + 1}".encode() in body

    same_again = booking | {"event_id": "book-2"}  # the same booking again: no new email
    intake(db.sessions, [same_again], AS_OF)
    process_patient(db.sessions, invited.patient_id, AS_OF)
    with db.sessions() as session:
        count = len(
            session.scalars(
                select(NotificationRow).where(
                    NotificationRow.reminder_id == invited.id, NotificationRow.kind == "moved"
                )
            ).all()
        )
    assert count == 1


def test_a_navigator_without_email_is_a_visible_failure(db: Database, tmp_path: Path) -> None:
    store(db)
    settings = settings_for(db, tmp_path)
    dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    outcomes = send_all(db, settings, tmp_path / "mail")
    with db.sessions() as session:
        failed = session.scalars(select(NotificationRow).where(NotificationRow.status == "failed")).all()
    assert failed  # overdue escalations with no navigator user to send them to
    assert all(r.audience == "navigator" for r in failed)
    assert all("no navigator user with an email address" in (r.last_error or "") for r in failed)
    assert "sent" in outcomes.values()  # the patients' own emails still went


def test_notices_wait_for_the_registration_then_are_told(db: Database, tmp_path: Path) -> None:
    """Events can arrive before the patient's registration (out of order): its notices have no
    recipient yet, so they wait, and go out once the registration brings one."""
    lines = [json.loads(line) for line in Path("examples/cohort.jsonl").read_text().splitlines() if line]
    p04 = [e for e in lines if e["patient_id"] == "P04"]
    registration = [e for e in p04 if e["type"] == "patient_registered"]
    create_user(db.sessions, "ben", "navigator", PASSWORD, "nav-ben", "ben@clinic.example")
    settings = settings_for(db, tmp_path)
    intake(db.sessions, [e for e in p04 if e not in registration], AS_OF)
    process_patient(db.sessions, "P04", AS_OF)
    assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE) == 0
    assert send_all(db, settings, tmp_path / "mail") == {}

    intake(db.sessions, registration, AS_OF)
    process_patient(db.sessions, "P04", AS_OF)
    assert dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE) > 0
    outcomes = send_all(db, settings, tmp_path / "mail")
    assert outcomes
    assert set(outcomes.values()) == {"sent"}
    assert {m["To"] for m in emails(tmp_path / "mail")} <= {"tomas.herrera@example.org", "ben@clinic.example"}


def test_a_reminder_closed_before_sending_is_superseded(db: Database, tmp_path: Path) -> None:
    store(db)
    settings = settings_for(db, tmp_path)
    dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    ended = {
        "event_id": "P01-ended", "patient_id": "P01", "type": "follow_up_ended", "occurred_on": "2026-11-27",
        "data": {"reason": "deceased"},
    }  # fmt: skip
    intake(db.sessions, [ended], AS_OF)
    process_patient(db.sessions, "P01", AS_OF)
    send_all(db, settings, tmp_path / "mail")
    with db.sessions() as session:
        rows = session.scalars(select(NotificationRow).where(NotificationRow.patient_id == "P01")).all()
    assert rows
    assert {r.status for r in rows} == {"superseded"}
    assert not [m for m in emails(tmp_path / "mail") if m["To"] == "maria.santos@example.org"]
