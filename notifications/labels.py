"""What a reminder may be called outside the clinic: minimum necessary (style.md).

Calendar titles, email subjects and patient emails never name a diagnosis, a drug, a test result
or even the kind of scan: a lock screen, a shared family calendar or a mail preview would show it.
"Scan" covers CT, MRI, EUS and echocardiography; "Blood test" every laboratory check. Staff follow a
link to the dashboard for the details.

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


_WORDS: dict[str, tuple[str, str]] = {
    "ct": ("Scan", "a scan"),
    "mri": ("Scan", "a scan"),
    "eus": ("Scan", "a scan"),
    "echo": ("Scan", "a scan"),
    "lab_lft": ("Blood test", "a blood test"),
    "lab_cbc": ("Blood test", "a blood test"),
    "lab_tsh": ("Blood test", "a blood test"),
    "clinic_visit": ("Clinic review", "a clinic appointment"),
    "therapy_review": ("Clinic review", "a clinic appointment"),
    "skin_exam": ("Clinic review", "a clinic appointment"),
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
