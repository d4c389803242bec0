"""When people are told about a reminder: the notice stages of one reminder (pure).

Each open reminder gives up to three notices:

* ``advance`` — ``lead`` days before ``due_on``, so a scan can be booked (imaging 14 days, blood
  tests 2, reviews 7: the profile's ``notice_lead_days_*``);
* ``due`` — on ``due_on``;
* ``overdue`` — the day after the window closes (``due_on + window_days + 1``, the day the core's
  status turns ``overdue``, clinical-rules.md §9): an escalation to the navigator.

A notice whose day has passed while a later one's has come too is not sent late: only the latest
stage reached is sent (a clock that was down for a week does not send "due in 14 days" for a scan
that is now overdue). Who is told (patient or navigator) is the shell's decision; whether the
patient takes part at all (an MDT review is staff work) is in :data:`NOTICE_KINDS`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

from scheduler.domain.profile import Profile

Stage = Literal["advance", "due", "overdue"]
Category = Literal["imaging", "blood", "review"]


class NoticeKind(NamedTuple):
    category: Category  # picks the advance lead time
    patient_facing: bool  # False: care-team work the patient does not attend


NOTICE_KINDS: dict[str, NoticeKind] = {
    "ct": NoticeKind("imaging", True),
    "mri": NoticeKind("imaging", True),
    "eus": NoticeKind("imaging", True),
    "echo": NoticeKind("imaging", True),
    "lab_lft": NoticeKind("blood", True),
    "lab_cbc": NoticeKind("blood", True),
    "lab_tsh": NoticeKind("blood", True),
    "clinic_visit": NoticeKind("review", True),
    "therapy_review": NoticeKind("review", True),
    "skin_exam": NoticeKind("review", True),
    "biopsy": NoticeKind("review", True),
    "mdt_review": NoticeKind("review", False),
    "mutation_test": NoticeKind("review", False),
}
DEFAULT_NOTICE_KIND = NoticeKind("review", True)


def notice_kind(kind: str) -> NoticeKind:
    return NOTICE_KINDS.get(kind, DEFAULT_NOTICE_KIND)


def lead_days(profile: Profile, kind: str) -> int:
    category = notice_kind(kind).category
    if category == "imaging":
        return profile.notice_lead_days_imaging
    if category == "blood":
        return profile.notice_lead_days_blood
    return profile.notice_lead_days_review


def notice_dates(
    kind: str, due_on: dt.date, window_days: int, profile: Profile
) -> tuple[tuple[Stage, dt.date], ...]:
    """The stages of one reminder with their days, in order (no advance notice when the lead is 0)."""
    lead = lead_days(profile, kind)
    stages: list[tuple[Stage, dt.date]] = []
    if lead > 0:
        stages.append(("advance", due_on - dt.timedelta(days=lead)))
    stages.append(("due", due_on))
    stages.append(("overdue", due_on + dt.timedelta(days=window_days + 1)))
    return tuple(stages)


class NoticeDue(NamedTuple):
    stage: Stage | None  # the latest stage whose day has come (None: none yet)
    next_on: dt.date | None  # the day of the stage after it (None: nothing more to tell)


def due_notice(kind: str, due_on: dt.date, window_days: int, today: dt.date, profile: Profile) -> NoticeDue:
    """Which notice is due ``today``, and when to look again."""
    stage: Stage | None = None
    for name, day in notice_dates(kind, due_on, window_days, profile):
        if day > today:
            return NoticeDue(stage, day)
        stage = name
    return NoticeDue(stage, None)


def first_notice_on(kind: str, due_on: dt.date, window_days: int, profile: Profile) -> dt.date:
    """The day of the first stage: where a new (or moved) reminder starts."""
    return notice_dates(kind, due_on, window_days, profile)[0][1]


Audience = Literal["patient", "navigator"]


class Recipient(NamedTuple):
    audience: Audience | None  # None: nobody is told at this stage
    reason: str  # why it goes there (shown to staff)


def recipient(stage: Stage, kind: str, patient_has_email: bool, has_advance: bool = True) -> Recipient:
    """Who is told at ``stage``: the patient when they take part and have an email address; the
    navigator for an overdue item (an escalation), and instead of the patient in advance when the
    patient cannot be told or the task is the care team's (on the due day when the profile gives no
    advance notice)."""
    facts = notice_kind(kind)
    tell_patient = facts.patient_facing and patient_has_email
    if stage == "overdue":
        return Recipient("navigator", "overdue: the window has passed with no result recorded")
    if tell_patient:
        return Recipient("patient", "reminder to the patient")
    if stage == "due" and has_advance:
        return Recipient(None, "the navigator was told in advance")
    if not facts.patient_facing:
        return Recipient("navigator", "a care-team task coming up")
    return Recipient("navigator", "coming up; the patient has no email address on file")
