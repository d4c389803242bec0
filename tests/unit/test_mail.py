"""The email composers (notifications/mail.py): minimum-necessary wording, dates, escaping, the
calendar attachment, digest counts, header injection and the address check.

Table-driven over every kind in ``labels.LABELS`` (plus an unknown kind, which gets the neutral
fallback): nothing a patient reads and no subject line may name a diagnosis, a drug, a dose, a
mutation, a result or the reason for a test (``CLINICAL_WORDS`` of :mod:`tests.support.mail`,
matched case-insensitively on word boundaries). They name the test itself in plain words ("MRI
scan", "liver blood test": the ``TEST_WORDS`` the labels may use), so that two different tests
never share a subject; the staff digest names no alert code (they name mutations and drugs).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from notifications.labels import LABELS, label
from notifications.mail import (
    DigestAlert,
    DigestCounts,
    DigestFailure,
    DigestItem,
    DigestSnoozed,
    Envelope,
    compose_digest,
    compose_navigator_notice,
    compose_patient_cancellation,
    compose_patient_notice,
    is_valid_address,
    long_date,
)
from tests.support.mail import (
    ALL_KINDS,
    CANCEL_ICS,
    DASHBOARD,
    DUE,
    PATIENT,
    PATIENT_KINDS,
    REQUEST_ICS,
    STAFF_ONLY_KINDS,
    TEST_WORDS,
    clinical_words,
    envelope,
    parts,
    untagged,
)


def notice(
    kind: str = "ct", stage: str = "advance", ics: bytes | None = None, due_on: dt.date = DUE
) -> EmailMessage:
    return compose_patient_notice(envelope(), kind=kind, due_on=due_on, stage=stage, ics=ics, **PATIENT)  # type: ignore[arg-type]


def cancellation(kind: str = "ct", ics: bytes | None = None) -> EmailMessage:
    return compose_patient_cancellation(envelope(), kind=kind, due_on=DUE, ics=ics, **PATIENT)


def patient_messages(kind: str) -> dict[str, EmailMessage]:
    return {
        "advance": notice(kind, "advance", REQUEST_ICS),
        "due": notice(kind, "due"),
        "cancel": cancellation(kind, CANCEL_ICS),
    }


# ---- minimum necessary ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PATIENT_KINDS)
def test_patient_emails_name_no_clinical_word(kind: str) -> None:
    for stage, message in patient_messages(kind).items():
        text, html = parts(message)
        for where, content in (("subject", str(message["Subject"])), ("text", text), ("html", html)):
            assert clinical_words(content) == [], f"{kind} {stage} {where}: {content}"
            other_tests = [w for w in TEST_WORDS if re.search(rf"\b{w}\b", content, re.IGNORECASE)]
            assert all(re.search(rf"\b{w}\b", label(kind).phrase, re.IGNORECASE) for w in other_tests)
        assert label(kind).phrase in text


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("stage", ["advance", "due", "overdue"])
def test_navigator_subject_names_no_clinical_word(kind: str, stage: str) -> None:
    message = compose_navigator_notice(
        envelope(to=("navigator@clinic.example",)), patient_code="P01", kind=kind, due_on=DUE,
        stage=stage, reason="the patient has no email address on file", dashboard_url=DASHBOARD,  # type: ignore[arg-type]
    )  # fmt: skip
    subject = str(message["Subject"])
    assert clinical_words(subject) == []
    assert label(kind).summary in subject
    text, html = parts(message)
    assert DASHBOARD in text
    assert f'href="{DASHBOARD}"' in html
    assert "the patient has no email address on file" in text


def digest(
    counts: DigestCounts,
    alerts: list[DigestAlert] | None = None,
    overdue: list[DigestItem] | None = None,
    week: list[DigestItem] | None = None,
    failed: list[DigestFailure] | None = None,
    navigator_name: str = "Sam",
) -> EmailMessage:
    return compose_digest(
        envelope(to=("navigator@clinic.example",)), navigator_name=navigator_name, day=DUE, counts=counts,
        alerts=alerts or [], overdue=overdue or [], due_this_week=week or [], failed=failed or [],
        dashboard_url=DASHBOARD,
    )  # fmt: skip


def counts(
    critical: int = 0, overdue: int = 0, due_soon: int = 0, alerts: int = 0, failed: int = 0
) -> DigestCounts:
    return DigestCounts(critical, overdue, due_soon, alerts, failed)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_digest_subject_and_items_use_the_summary(kind: str) -> None:
    message = digest(counts(overdue=1), overdue=[DigestItem("P01", kind, dt.date(2027, 3, 1))])
    assert clinical_words(str(message["Subject"])) == []
    text, html = parts(message)
    assert f"P01: {label(kind).summary}, due since 1 March 2027" in text
    assert label(kind).summary in html


@pytest.mark.parametrize("kind", STAFF_ONLY_KINDS)
def test_care_team_kinds_are_never_emailed_to_the_patient(kind: str) -> None:
    with pytest.raises(ValueError, match="care team"):
        compose_patient_notice(envelope(), kind=kind, due_on=DUE, stage="due", ics=None, **PATIENT)
    with pytest.raises(ValueError, match="care team"):
        compose_patient_cancellation(envelope(), kind=kind, due_on=DUE, ics=None, **PATIENT)


# ---- subjects and dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "stage", "subject"),
    [
        pytest.param("ct", "advance", "Reminder: a CT scan is due on 12 March 2027", id="ct-advance"),
        pytest.param("ct", "due", "A CT scan is due today, 12 March 2027", id="ct-due"),
        pytest.param("mri", "due", "An MRI scan is due today, 12 March 2027", id="mri-due"),
        pytest.param("eus", "due", "An endoscopic ultrasound is due today, 12 March 2027", id="eus-due"),
        pytest.param("lab_lft", "due", "A liver blood test is due today, 12 March 2027", id="lft-due"),
        pytest.param("lab_cbc", "due", "A blood count test is due today, 12 March 2027", id="cbc-due"),
        pytest.param(
            "clinic_visit", "advance", "Reminder: a clinic appointment is due on 12 March 2027", id="visit"
        ),
        pytest.param("new_kind", "due", "An appointment is due today, 12 March 2027", id="unknown-kind"),
    ],
)  # fmt: skip
def test_patient_subjects(kind: str, stage: str, subject: str) -> None:
    message = compose_patient_notice(envelope(), kind=kind, due_on=DUE, stage=stage, ics=None, **PATIENT)  # type: ignore[arg-type]
    assert message["Subject"] == subject


@pytest.mark.parametrize(
    ("stage", "subject"),
    [
        ("advance", "Upcoming: MRI scan for patient P01 (due 12 March 2027)"),
        ("due", "Due today: MRI scan for patient P01 (due 12 March 2027)"),
        ("overdue", "Overdue: MRI scan for patient P01 (due 12 March 2027)"),
    ],
)
def test_navigator_subjects(stage: str, subject: str) -> None:
    message = compose_navigator_notice(
        envelope(), patient_code="P01", kind="mri", due_on=DUE, stage=stage,  # type: ignore[arg-type]
        reason="overdue", dashboard_url=DASHBOARD,
    )  # fmt: skip
    assert message["Subject"] == subject


@pytest.mark.parametrize(
    ("day", "shown"),
    [
        (dt.date(2027, 1, 1), "1 January 2027"),
        (dt.date(2027, 3, 12), "12 March 2027"),
        (dt.date(2028, 2, 29), "29 February 2028"),
        (dt.date(2030, 12, 31), "31 December 2030"),
    ],
)
def test_long_date(day: dt.date, shown: str) -> None:
    assert long_date(day) == shown
    message = compose_patient_notice(envelope(), kind="ct", due_on=day, stage="advance", ics=None, **PATIENT)
    text, html = parts(message)
    assert shown in str(message["Subject"])
    assert shown in text
    assert shown in html


def test_headers() -> None:
    message = compose_patient_notice(envelope(), kind="ct", due_on=DUE, stage="due", ics=None, **PATIENT)
    assert message["From"] == "Follow-up team <noreply@clinic.example>"
    assert message["To"] == "patient@example.org"
    assert message["Message-ID"] == "<n-42.abc@gist-scheduler>"
    assert message["Date"] == "Fri, 05 Mar 2027 08:30:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_patient_body_says_how_to_book_or_change() -> None:
    text, html = parts(
        compose_patient_notice(envelope(), kind="ct", due_on=DUE, stage="advance", ics=None, **PATIENT)
    )
    for body in (text, untagged(html)):
        assert "please call us on +44 1234 567890" in body
        assert "book" in body
        assert "change" in body
        assert "Riverside Hospital follow-up team" in body
    assert 'href="tel:+441234567890"' in html


# ---- escaping, attachments, digest ---------------------------------------------------------------


def test_html_escapes_a_hostile_patient_code() -> None:
    code = "<script>alert(1)</script>"
    notice = compose_navigator_notice(
        envelope(), patient_code=code, kind="ct", due_on=DUE, stage="overdue", reason="overdue <b>x</b>",
        dashboard_url=DASHBOARD,
    )  # fmt: skip
    hostile = digest(
        counts(critical=1, overdue=1, alerts=1, failed=1),
        alerts=[DigestAlert(code, "critical", DUE)],
        overdue=[DigestItem(code, "ct", DUE)],
        failed=[DigestFailure(code, "notice", "<550>")],
        navigator_name="<i>Sam</i>",
    )
    for message in (notice, hostile):
        text, html = parts(message)
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert "<script>" in text  # plain text is not HTML: shown as typed
    assert "<b>" not in parts(notice)[1]
    assert "<i>" not in parts(hostile)[1]


@pytest.mark.parametrize(
    ("compose", "ics", "method"),
    [
        pytest.param(lambda ics: notice(ics=ics), REQUEST_ICS, "REQUEST", id="notice"),
        pytest.param(lambda ics: cancellation(ics=ics), CANCEL_ICS, "CANCEL", id="cancellation"),
    ],
)  # fmt: skip
def test_calendar_attachment(compose: Callable[[bytes], EmailMessage], ics: bytes, method: str) -> None:
    message = compose(ics)
    wire = message_from_bytes(message.as_bytes(), policy=default)
    assert isinstance(wire, EmailMessage)
    assert wire.get_content_type() == "multipart/mixed"
    body, attachment = wire.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == method
    assert attachment.get_param("name") == "invite.ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == ics
    wrong = CANCEL_ICS if ics == REQUEST_ICS else REQUEST_ICS
    with pytest.raises(ValueError, match=f"METHOD:{method}"):
        compose(wrong)


def test_no_invitation_no_attachment() -> None:
    message = compose_patient_cancellation(envelope(), kind="ct", due_on=DUE, ics=None, **PATIENT)
    assert message.get_content_type() == "multipart/alternative"
    assert list(message.iter_attachments()) == []


@pytest.mark.parametrize(
    ("shown", "subject"),
    [
        (counts(2, 2, 5, 3), "Daily follow-up digest for 12 March 2027: 2 critical alerts, 2 overdue, "
                             "5 due this week, 1 other alert"),
        (counts(0, 3, 5, 1), "Daily follow-up digest for 12 March 2027: 3 overdue, 5 due this week, "
                             "1 other alert"),
        (counts(1, 0, 0, 1), "Daily follow-up digest for 12 March 2027: 1 critical alert, 0 overdue, "
                             "0 due this week"),
        (counts(0, 0, 0, 0), "Daily follow-up digest for 12 March 2027: 0 overdue, 0 due this week"),
        (counts(0, 1, 0, 0, 1), "Daily follow-up digest for 12 March 2027: 1 overdue, 0 due this week, "
                                "1 failed notification"),
        (counts(0, 0, 0, 0, 2), "Daily follow-up digest for 12 March 2027: 0 overdue, 0 due this week, "
                                "2 failed notifications"),
    ],
)  # fmt: skip
def test_digest_counts(shown: DigestCounts, subject: str) -> None:
    """The subject and each heading carry the worklist's counts, whatever the lists hold."""
    message = digest(
        shown,
        alerts=[DigestAlert(f"P{i:02}", "critical", DUE) for i in range(shown.critical)]
        + [DigestAlert(f"P{i:02}", "warning", DUE) for i in range(shown.alerts - shown.critical)],
        overdue=[DigestItem(f"P{i:02}", "ct", dt.date(2027, 3, 1)) for i in range(shown.overdue)],
        week=[DigestItem(f"P{i:02}", "lab_cbc", dt.date(2027, 3, 15)) for i in range(shown.due_soon)],
        failed=[
            DigestFailure(None, "patient notice", "550 mailbox unavailable") for _ in range(shown.failed)
        ],
    )
    assert message["Subject"] == subject
    text, html = parts(message)
    for heading, n in (
        ("Critical alerts", shown.critical),
        ("Overdue", shown.overdue),
        ("Due this week", shown.due_soon),
        ("Other alerts", shown.alerts - shown.critical),
    ):
        assert f"{heading} ({n})" in text
        assert f"{heading} ({n})" in html
    assert ("Failed notifications" in text) == bool(shown.failed)
    assert "more on the dashboard" not in text
    assert DASHBOARD in text
    assert f'href="{DASHBOARD}"' in html


def test_digest_puts_critical_alerts_first_and_names_no_code() -> None:
    """Critical alerts head the email, before overdue items and other alerts; an alert is its
    patient, severity and date: no code or message (they name mutations and drugs)."""
    message = digest(
        counts(critical=1, overdue=1, due_soon=1, alerts=2),
        alerts=[DigestAlert("P03", "critical", dt.date(2027, 3, 11), is_new=True),
                DigestAlert("P05", "warning", dt.date(2027, 2, 1))],
        overdue=[DigestItem("P07", "lab_lft", dt.date(2027, 3, 1))],
        week=[DigestItem("P01", "mri", dt.date(2027, 3, 15))],
    )  # fmt: skip
    text, html = parts(message)
    for body in (text, html):
        order = [body.index(h) for h in ("Critical alerts", "Overdue", "Due this week", "Other alerts")]
        assert order == sorted(order)
        assert clinical_words(body.replace(DASHBOARD, "")) == [], body
    assert "  - P03: Critical alert since 11 March 2027 (new)" in text
    assert "  - P05: Warning alert since 1 February 2027" in text
    assert "  - P07: Liver blood test, due since 1 March 2027" in text
    assert "  - P01: MRI scan, due 15 March 2027" in text


def test_digest_says_how_many_more_are_on_the_dashboard() -> None:
    message = digest(counts(overdue=30), overdue=[DigestItem(f"P{i:02}", "ct", DUE) for i in range(25)])
    text, html = parts(message)
    assert "Overdue (30)" in text
    assert text.count("CT scan, due") == 25
    assert "… and 5 more on the dashboard." in text
    assert "… and 5 more on the dashboard." in html


def test_digest_lists_the_snoozed_items_last_with_the_day_each_comes_back() -> None:
    liver = DigestItem("P07", "lab_lft", dt.date(2027, 3, 1), dt.date(2027, 2, 1), 1)
    message = compose_digest(
        envelope(to=("navigator@clinic.example",)), navigator_name="Sam", day=DUE,
        counts=DigestCounts(0, 1, 0, 0, 0, snoozed=1), alerts=[],
        overdue=[DigestItem("P01", "ct", DUE)], due_this_week=[], failed=[], dashboard_url=DASHBOARD,
        snoozed=[DigestSnoozed(liver, dt.date(2027, 3, 20))],
    )  # fmt: skip
    assert str(message["Subject"]).endswith(": 1 overdue, 0 due this week, 1 snoozed")
    text, html = parts(message)
    assert text.index("Overdue (1)") < text.index("Snoozed (1)")
    assert "  - P07: Liver blood test, overdue since 2027-02-01 (1 missed)" in text
    assert "; snoozed until 20 March 2027" in text
    assert "snoozed until 20 March 2027" in html
    assert "Snoozed" not in parts(digest(counts(overdue=1)))[0], "no section without a snoozed item"


# ---- telling tests apart, one contact sentence -----------------------------------------------------


def test_no_two_kinds_share_a_label() -> None:
    summaries = [label(kind).summary for kind in LABELS]
    phrases = [label(kind).phrase for kind in LABELS]
    assert len(set(summaries)) == len(summaries)
    assert len(set(phrases)) == len(phrases)


@pytest.mark.parametrize("stage", ["advance", "due"])
def test_two_different_tests_never_share_a_subject(stage: str) -> None:
    """Same day, same stage: every kind a patient is told about has its own subject, and so has
    every kind a navigator is told about (an EUS and an MRI never share a subject)."""
    patient = {notice(kind, stage)["Subject"] for kind in PATIENT_KINDS}
    assert len(patient) == len(PATIENT_KINDS)
    navigator = {
        compose_navigator_notice(
            envelope(), patient_code="P01", kind=kind, due_on=DUE, stage=stage,  # type: ignore[arg-type]
            reason="", dashboard_url=DASHBOARD,
        )["Subject"]
        for kind in ALL_KINDS
    }  # fmt: skip
    assert len(navigator) == len(ALL_KINDS)


@pytest.mark.parametrize("phone", ["+44 1234 567890", None])
@pytest.mark.parametrize("kind", ["ct", "lab_lft"])
def test_patient_emails_say_how_to_reach_the_clinic_once(kind: str, phone: str | None) -> None:
    """One sentence tells the patient how to book or ask: the clinic's number when it is set,
    else to contact the care team — never both, never twice."""
    for compose in (
        lambda: compose_patient_notice(
            envelope(), kind=kind, due_on=DUE, stage="advance", ics=None, clinic_name="Riverside",
            clinic_phone=phone,
        ),
        lambda: compose_patient_cancellation(
            envelope(), kind=kind, due_on=DUE, ics=None, clinic_name="Riverside", clinic_phone=phone
        ),
    ):  # fmt: skip
        text, html = parts(compose())
        for body in (text, untagged(html)):
            sentences = body.count("contact your care team") + body.count("call us")
            assert sentences == 1, body
            assert (phone is not None) == (f"call us on {phone}" in body)


# ---- header injection and envelopes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sender": "noreply@clinic.example\r\nBcc: x@evil.example"}, id="sender-crlf"),
        pytest.param({"to": ("patient@example.org\nBcc: x@evil.example",)}, id="to-lf"),
        pytest.param({"to": ("a@example.org, b@example.org",)}, id="two-in-one"),
        pytest.param({"to": ()}, id="no-recipient"),
        pytest.param({"to": ("not an address",)}, id="bad-to"),
        pytest.param({"message_id": "<a@b>\r\nBcc: x@evil.example"}, id="message-id-crlf"),
        pytest.param({"message_id": "n-42@gist"}, id="message-id-no-brackets"),
        pytest.param({"date": dt.datetime(2027, 3, 5, 8, 30)}, id="naive-date"),  # noqa: DTZ001
    ],
)
def test_envelope_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"envelope|Message-ID|header|control"):
        envelope(**changes)


@pytest.mark.parametrize(
    "code", ["P01\r\nBcc: x@evil.example", "P01\nX: y", "P01\rX", "P01\x00", "P01\u2028X"]
)
def test_patient_code_cannot_inject_a_header(code: str) -> None:
    with pytest.raises(ValueError, match="line breaks and control characters"):
        compose_navigator_notice(
            envelope(), patient_code=code, kind="ct", due_on=DUE, stage="overdue", reason="overdue",
            dashboard_url=DASHBOARD,
        )  # fmt: skip


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", 'https://x.example/" onclick="x', "ftp://x.example/", ""]
)
def test_dashboard_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="dashboard URL"):
        compose_navigator_notice(
            envelope(), patient_code="P01", kind="ct", due_on=DUE, stage="overdue", reason="overdue",
            dashboard_url=url,
        )  # fmt: skip


def test_several_recipients_and_display_names() -> None:
    env = envelope(to=("Navigator One <one@clinic.example>", '"Two, N" <two@clinic.example>'))
    message = compose_navigator_notice(
        env, patient_code="P01", kind="ct", due_on=DUE, stage="due", reason="due", dashboard_url=DASHBOARD
    )
    addresses = [a.addr_spec for a in message["To"].addresses]
    assert addresses == ["one@clinic.example", "two@clinic.example"]


# ---- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("a@b.co", True),
        ("patient@example.org", True),
        ("first.last+tag@sub.clinic.example", True),
        ("o'neil@example.org", True),
        ("x_y-z@xn--bcher-kva.example", True),
        ("", False),
        ("plain", False),
        ("a@b", False),
        ("@b.co", False),
        ("a@", False),
        ("a@@b.co", False),
        ("a@b@c.co", False),
        ("a b@c.co", False),
        (" a@b.co", False),
        ("a@b.co ", False),
        ("a@b.co\r\nBcc: x@y.example", False),
        ("a@b.co\n", False),
        ("a\t@b.co", False),
        ("Name <a@b.co>", False),
        ("<a@b.co>", False),
        (".a@b.co", False),
        ("a.@b.co", False),
        ("a..b@c.co", False),
        ("a@.b.co", False),
        ("a@b..co", False),
        ("a@b.co.", False),
        ("a@-b.co", False),
        ("a@b-.co", False),
        ('"quoted"@b.co', False),
        ("a(comment)@b.co", False),
        ("ü@b.co", False),
        ("a@bü.co", False),
        ("a,b@c.co", False),
        ("a@b_c.co", False),
        ("a" * 65 + "@b.co", False),
        ("a@" + "b" * 64 + ".co", False),
    ],
)
def test_is_valid_address(address: str, valid: bool) -> None:
    assert is_valid_address(address) is valid


@pytest.mark.parametrize(
    ("reason", "line"),
    [
        ("overdue", "Why this comes to you: overdue.\n"),
        ("no email address on file.", "Why this comes to you: no email address on file.\n"),
        ("", None),
    ],
)  # fmt: skip
def test_navigator_reason_line(reason: str, line: str | None) -> None:
    message = compose_navigator_notice(
        envelope(), patient_code="P01", kind="ct", due_on=DUE, stage="overdue", reason=reason,
        dashboard_url=DASHBOARD,
    )  # fmt: skip
    text, html = parts(message)
    assert text.startswith("Overdue: CT scan for patient P01, due 12 March 2027.\n\n")
    if line is None:
        assert "Why" not in text
        assert "Why" not in html
    else:
        assert line in text
        assert ".." not in text


def test_a_due_notice_sent_after_its_day_says_due_now_not_today() -> None:
    import datetime as _dt

    from notifications.mail import compose_patient_notice

    envelope = Envelope(
        sender="Team <noreply@clinic.example>",
        to=("p@example.org",),
        message_id="<n1.a@clinic.example>",
        date=_dt.datetime(2026, 11, 27, 9, tzinfo=_dt.UTC),
    )
    late = compose_patient_notice(
        envelope, kind="ct", due_on=_dt.date(2026, 6, 15), stage="due", ics=None,
        clinic_name="Clinic", clinic_phone=None, today=_dt.date(2026, 11, 27),
    )  # fmt: skip
    assert late["Subject"] == "A CT scan is now due (since 15 June 2026)"
    assert "today" not in late.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    on_day = compose_patient_notice(
        envelope, kind="ct", due_on=_dt.date(2026, 11, 27), stage="due", ics=None,
        clinic_name="Clinic", clinic_phone=None, today=_dt.date(2026, 11, 27),
    )  # fmt: skip
    assert on_day["Subject"] == "A CT scan is due today, 27 November 2026"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_calendar_entries_keep_to_the_broad_kind(kind: str) -> None:
    """Feeds and invitations (a shared calendar, a lock screen) say "Scan", not which scan."""
    calendar = label(kind).calendar
    assert calendar in {
        "Scan",
        "Blood test",
        "Clinic review",
        "Procedure",
        "Team review",
        "Lab task",
        "Appointment",
    }
    assert clinical_words(calendar) == []
    assert not [word for word in TEST_WORDS if re.search(rf"\b{word}\b", calendar, re.IGNORECASE)]
