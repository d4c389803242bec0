"""What a reminder may be called outside the clinic: minimum necessary (style.md).

Email subjects and bodies name the test or appointment in plain words — "MRI scan", "Liver blood
test", "Clinic appointment" (``summary``, ``phrase``) — so that two different ones never look the
same ("Scan" for both an EUS and an MRI left a patient guessing which one to book). They never name
a diagnosis, a drug, a dose, a result or the reason for the test: a mail preview would show it.
Calendar entries (feeds and invitations) say only the broad kind (``calendar``: "Scan", "Blood
test"): a subscribed calendar is often shared with family or shown on a lock screen, and the email
that carries an invitation names the test. Staff follow a link to the dashboard for the details.

``patient_facing`` says whether the patient takes part: an MDT review or a mutation test on stored
tissue is work for the care team, so the patient is not told about it (the navigator is: the daily
digest and the overdue escalation cover every kind).

``category`` picks how far ahead the advance notice goes (the profile's ``notice_lead_days``).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from scheduler.domain.notices import Category, notice_kind


class KindLabel(NamedTuple):
    category: Category  # from the core's notice table: picks the advance lead time
    summary: str  # the noun of subjects and staff lists: "MRI scan"
    phrase: str  # patient-facing noun phrase in a sentence: "an MRI scan"
    patient_facing: bool  # from the core's notice table
    calendar: str  # calendar SUMMARY (feeds and invitations): the broad kind, "Scan"


_WORDS: dict[str, tuple[str, str, str]] = {  # no two kinds share a summary or a phrase
    "ct": ("CT scan", "a CT scan", "Scan"),
    "mri": ("MRI scan", "an MRI scan", "Scan"),
    "eus": ("Endoscopic ultrasound", "an endoscopic ultrasound", "Scan"),
    "echo": ("Heart ultrasound", "a heart ultrasound", "Scan"),
    "lab_lft": ("Liver blood test", "a liver blood test", "Blood test"),
    "lab_cbc": ("Blood count", "a blood count test", "Blood test"),
    "lab_tsh": ("Thyroid blood test", "a thyroid blood test", "Blood test"),
    "clinic_visit": ("Clinic appointment", "a clinic appointment", "Clinic review"),
    "therapy_review": ("Follow-up review", "a follow-up review appointment", "Clinic review"),
    "skin_exam": ("Skin check", "a skin check", "Clinic review"),
    "biopsy": ("Procedure", "a hospital procedure", "Procedure"),
    "mdt_review": ("Team review", "a care-team review", "Team review"),
    "mutation_test": ("Lab task", "a laboratory task", "Lab task"),
}
_FALLBACK_WORDS = ("Appointment", "an appointment", "Appointment")


def _label(kind: str) -> KindLabel:
    summary, phrase, calendar = _WORDS.get(kind, _FALLBACK_WORDS)
    facts = notice_kind(kind)
    return KindLabel(facts.category, summary, phrase, facts.patient_facing, calendar)


LABELS: dict[str, KindLabel] = {kind: _label(kind) for kind in _WORDS}
FALLBACK = _label("")


def label(kind: str) -> KindLabel:
    """The label of a reminder kind; an unknown kind (a newer core) gets a neutral one."""
    return LABELS.get(kind) or FALLBACK


def missed_text(overdue_since: dt.date, missed: int, last_done_on: dt.date | None) -> str:
    """How every surface words an open reminder with missed items before it: "overdue since
    2026-02-09 (8 missed); last done on 2026-01-05", or "…; never done"."""
    done = f"last done on {last_done_on.isoformat()}" if last_done_on else "never done"
    return f"overdue since {overdue_since.isoformat()} ({missed} missed); {done}"


def booking_text(appointment_on: dt.date, place: str | None, due_on: dt.date) -> str:
    """How staff surfaces and calendars word a booked item: "Booked for 2026-12-04 at Radiology B;
    due 2026-11-20" (without " at …" when no place was given)."""
    where = f" at {place}" if place else ""
    return f"Booked for {appointment_on.isoformat()}{where}; due {due_on.isoformat()}"
