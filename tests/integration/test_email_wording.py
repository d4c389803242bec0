"""Emails people understand, checked on what a real SMTP server (aiosmtpd) received after the
example cohort's notices and digests went through the outbox (SQLite and PostgreSQL):

* the navigators' digests carry the worklist's own counts (the same query), list critical alerts
  first and name no alert code, drug or mutation;
* patient emails of different tests never share a subject, and give the clinic's phone number
  (GIST_CLINIC_PHONE) in one sentence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from models.rows import AlertRow, NotificationRow, PatientRow, ReminderRow
from notifications.smtp import SmtpSender, parse_smtp_url
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications import dispatch
from scheduler.notifications.sending import send_notification
from scheduler.staff.access import Principal
from scheduler.staff.users import create_user
from scheduler.staff.worklist import worklist
from tests.support.cohort import store_cohort
from tests.support.services import Database
from tests.support.smtp_server import SmtpServer
from tests.support.staff import AS_OF, PASSWORD

pytestmark = pytest.mark.integration

PHONE = "+44 1234 567890"
DRUGS_AND_MUTATIONS = re.compile(
    r"imatinib|sunitinib|regorafenib|ripretinib|avapritinib|\bKIT\b|PDGFRA|D842V|exon|mutation|"
    r"\bSDH\b|\bNF1\b|BRAF|NTRK|resistan|hepatotox",
    re.IGNORECASE,
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def send_everything(db: Database, settings: Settings, smtp: SmtpServer) -> list[EmailMessage]:
    """Notices due on AS_OF and the day's digests, through the outbox to the SMTP server."""
    dispatch.create_due_notices(db.sessions, AS_OF, DEFAULT_PROFILE)
    dispatch.create_digests(db.sessions, AS_OF)
    now = dt.datetime.now(dt.UTC)
    sender = SmtpSender(parse_smtp_url(settings.smtp_url or ""))
    ids = dispatch.claim_sendable(db.sessions, now, dt.timedelta(minutes=10))
    outcomes = [send_notification(db.sessions, i, sender, settings, now=now) for i in ids]
    sent = outcomes.count("sent")
    assert sent > 0, outcomes
    return [received.message for received in smtp.wait_for(sent)]


@pytest.fixture
def mailed(db: Database, tmp_path: Path, smtp: SmtpServer) -> tuple[Database, list[EmailMessage]]:
    store_cohort(db)
    with db.sessions() as session:
        navigators = sorted({n for n in session.scalars(select(PatientRow.navigator_id)) if n})
    for navigator_id in navigators:
        create_user(
            db.sessions, navigator_id, "navigator", PASSWORD, navigator_id, f"{navigator_id}@clinic.example"
        )
    settings = Settings(
        env="test",
        database_url=db.url,
        data_dir=tmp_path,
        as_of=AS_OF,
        smtp_url=smtp.url(),
        clinic_phone=PHONE,
        base_url="https://gist.clinic.example",
    )
    return db, send_everything(db, settings, smtp)


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_each_digest_has_the_worklists_counts_critical_first_and_no_codes(
    mailed: tuple[Database, list[EmailMessage]],
) -> None:
    db, messages = mailed
    digests = {str(m["To"]): m for m in messages if str(m["Subject"]).startswith("Daily follow-up digest")}
    assert set(digests) == {"nav-ana@clinic.example", "nav-ben@clinic.example"}
    with db.sessions() as session:
        codes = set(session.scalars(select(AlertRow.code)))
        for address, message in digests.items():
            navigator_id = address.split("@")[0]
            found = worklist(session, Principal(0, navigator_id, "navigator", navigator_id), AS_OF)
            counts = found["counts"]
            subject = str(message["Subject"])
            assert f": {counts['overdue']} overdue, {counts['due_soon']} due this week" in subject or (
                f"{counts['critical']} critical alert" in subject
                and f", {counts['overdue']} overdue, {counts['due_soon']} due this week" in subject
            ), (subject, counts)
            text, html = bodies(message)
            for body in (text, html):
                assert f"Critical alerts ({counts['critical']})" in body
                assert f"Overdue ({counts['overdue']})" in body
                assert f"Due this week ({counts['due_soon']})" in body
                assert f"Other alerts ({counts['alerts'] - counts['critical']})" in body
                headings = [
                    body.index(h) for h in ("Critical alerts", "Overdue", "Due this week", "Other alerts")
                ]
                assert headings == sorted(headings), "critical alerts come first"
                assert not DRUGS_AND_MUTATIONS.search(body), DRUGS_AND_MUTATIONS.search(body)
                assert not [code for code in codes if code in body]
            listed = [line for line in text.splitlines() if line.startswith("  - ")]
            shown = sum(min(len(found[key]), 25) for key in ("overdue", "due_soon", "alerts"))
            assert len(listed) >= shown
    assert any(
        int(re.search(r"Due this week \((\d+)\)", bodies(m)[0]).group(1)) > 1  # type: ignore[union-attr]
        for m in digests.values()
    ), "the cohort has a navigator with more than one item due this week"


def test_patient_emails_tell_tests_apart_and_give_the_clinics_number_once(
    mailed: tuple[Database, list[EmailMessage]],
) -> None:
    db, messages = mailed
    patient_mail = [m for m in messages if not str(m["To"]).endswith("@clinic.example")]
    assert patient_mail, "the cohort's patients were sent nothing"
    kinds_by_subject: dict[str, set[str]] = {}
    for message in patient_mail:
        text, html = bodies(message)
        for body in (text, re.sub(r"<[^>]+>", "", html)):
            assert body.count(f"please call us on {PHONE}") == 1, body
            assert "contact your care team" not in body
        assert 'href="tel:+441234567890"' in html
        kinds_by_subject.setdefault(str(message["Subject"]), set()).add(kind_of(db, message))
    assert len(set().union(*kinds_by_subject.values())) > 1, (
        "the cohort's patients were told of one kind only"
    )
    for subject, kinds in kinds_by_subject.items():
        assert len(kinds) == 1, f"{subject!r} stands for different tests: {sorted(kinds)}"


def kind_of(db: Database, message: EmailMessage) -> str:
    """The kind of the reminder an email is about, from its outbox row (the Message-ID names it)."""
    found = re.fullmatch(r"<n(\d+)\.[0-9a-f]+@[^>]+>", str(message["Message-ID"]))
    assert found is not None, message["Message-ID"]
    with db.sessions() as session:
        kind = session.scalar(
            select(ReminderRow.kind)
            .join(NotificationRow, NotificationRow.reminder_id == ReminderRow.id)
            .where(NotificationRow.id == int(found.group(1)))
        )
    assert kind is not None
    return kind
