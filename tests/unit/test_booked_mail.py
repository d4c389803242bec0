"""Emails and calendar words about an item a navigator booked (``reminder_booked``): the patient's
notice is about the appointment (its day in the subject, the place only in the body, "to change
it" rather than "to book it"), the navigator's says for when it is booked, both still minimum
necessary; and the one sentence every staff surface and calendar uses for a booking."""

from __future__ import annotations

import datetime as dt

import pytest

from notifications.labels import booking_text, label
from notifications.mail import Appointment, compose_navigator_notice, compose_patient_notice
from tests.support.mail import (
    ALL_KINDS,
    DASHBOARD,
    DUE,
    PATIENT,
    PATIENT_KINDS,
    REQUEST_ICS,
    clinical_words,
    envelope,
    parts,
    untagged,
)

BOOKED = Appointment(dt.date(2027, 3, 9), "Radiology B, level 2")


@pytest.mark.parametrize("kind", PATIENT_KINDS)
@pytest.mark.parametrize("stage", ["advance", "due", "due_since"])
def test_a_patient_notice_of_a_booked_item_tells_the_appointment(kind: str, stage: str) -> None:
    message = compose_patient_notice(
        envelope(), kind=kind, due_on=DUE, stage=stage, ics=REQUEST_ICS, appointment=BOOKED, **PATIENT,  # type: ignore[arg-type]
    )  # fmt: skip
    subject = str(message["Subject"])
    assert subject == f"Reminder: {label(kind).phrase} is booked for 9 March 2027"
    assert "Radiology" not in subject, "the place stays out of a mail preview"
    text, html = parts(message)
    for body in (text, untagged(html)):
        assert f"{label(kind).phrase} is booked for you on 9 March 2027 at Radiology B, level 2." in body
        assert body.count("To change it, please call us on +44 1234 567890.") == 1
        assert "To book it" not in body
        assert clinical_words(body) == []


def test_two_booked_tests_never_share_a_subject() -> None:
    subjects = {
        compose_patient_notice(
            envelope(), kind=kind, due_on=DUE, stage="advance", ics=None, appointment=BOOKED, **PATIENT
        )["Subject"]
        for kind in PATIENT_KINDS
    }
    assert len(subjects) == len(PATIENT_KINDS)


def test_a_booking_without_a_place_says_only_the_day() -> None:
    day_only = Appointment(BOOKED.on)
    message = compose_patient_notice(
        envelope(), kind="mri", due_on=DUE, stage="due", ics=None, appointment=day_only, **PATIENT
    )
    text, _ = parts(message)
    assert "an MRI scan is booked for you on 9 March 2027.\n" in text


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_navigator_notice_of_a_booked_item_says_for_when(kind: str) -> None:
    message = compose_navigator_notice(
        envelope(to=("navigator@clinic.example",)), patient_code="P01", kind=kind, due_on=DUE,
        stage="overdue", reason="overdue", dashboard_url=DASHBOARD, appointment=BOOKED,
    )  # fmt: skip
    subject = str(message["Subject"])
    assert subject.endswith("(due 12 March 2027, booked for 9 March 2027)")
    assert clinical_words(subject) == []
    text, html = parts(message)
    for body in (text, untagged(html)):
        assert "Booked for 9 March 2027 at Radiology B, level 2." in body


@pytest.mark.parametrize(
    ("place", "text"),
    [
        ("Radiology B", "Booked for 2027-03-09 at Radiology B; due 2027-03-12"),
        (None, "Booked for 2027-03-09; due 2027-03-12"),
    ],
)
def test_booking_text(place: str | None, text: str) -> None:
    assert booking_text(dt.date(2027, 3, 9), place, DUE) == text
