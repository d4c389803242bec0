"""What a reminder may be called outside the clinic: minimum necessary (style.md).

Calendar titles, email subjects and patient emails name the test or appointment in plain words —
"MRI scan", "Liver blood test", "Clinic appointment" — so that two different ones never look the
same ("Scan" for both an EUS and an MRI left a patient guessing which one to book). They never name
a diagnosis, a drug, a dose, a result or the reason for the test: a lock screen, a shared family
calendar or a mail preview would show it. Staff follow a link to the dashboard for the details.

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
    summary: str  # calendar SUMMARY and the staff-facing noun: "Scan"
    phrase: str  # patient-facing noun phrase in a sentence: "a scan"
    patient_facing: bool  # from the core's notice table


_WORDS: dict[str, tuple[str, str]] = {  # each kind its own words: no two kinds share a summary
    "ct": ("CT scan", "a CT scan"),
    "mri": ("MRI scan", "an MRI scan"),
    "eus": ("Endoscopic ultrasound", "an endoscopic ultrasound"),
    "echo": ("Heart ultrasound", "a heart ultrasound"),
    "lab_lft": ("Liver blood test", "a liver blood test"),
    "lab_cbc": ("Blood count", "a blood count test"),
    "lab_tsh": ("Thyroid blood test", "a thyroid blood test"),
    "clinic_visit": ("Clinic appointment", "a clinic appointment"),
    "therapy_review": ("Follow-up review", "a follow-up review appointment"),
    "skin_exam": ("Skin check", "a skin check"),
    "biopsy": ("Procedure", "a hospital procedure"),
    "mdt_review": ("Team review", "a care-team review"),
    "mutation_test": ("Lab task", "a laboratory task"),
}
_FALLBACK_WORDS = ("Appointment", "an appointment")


def _label(kind: str) -> KindLabel:
    summary, phrase = _WORDS.get(kind, _FALLBACK_WORDS)
    facts = notice_kind(kind)
    return KindLabel(facts.category, summary, phrase, facts.patient_facing)


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
