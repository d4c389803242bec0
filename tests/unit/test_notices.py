"""When people are told about a reminder, and who (scheduler/domain/notices.py), table-driven."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.labels import LABELS, label
from scheduler.domain.model import ReminderKind
from scheduler.domain.notices import (
    NOTICE_KINDS,
    due_notice,
    first_notice_on,
    lead_days,
    notice_dates,
    recipient,
)
from scheduler.domain.profile import DEFAULT_PROFILE

D = dt.date
DUE = D(2027, 3, 12)


def test_every_reminder_kind_has_notice_facts_and_a_label() -> None:
    kinds = set(get_args(ReminderKind))
    assert set(NOTICE_KINDS) == kinds
    assert set(LABELS) == kinds


@pytest.mark.parametrize(
    ("kind", "lead"),
    [
        ("ct", 14), ("mri", 14), ("eus", 14), ("echo", 14),
        ("lab_lft", 2), ("lab_cbc", 2), ("lab_tsh", 2),
        ("clinic_visit", 7), ("therapy_review", 7), ("skin_exam", 7), ("biopsy", 7),
        ("mdt_review", 7), ("mutation_test", 7),
    ],
)  # fmt: skip
def test_default_lead_days_follow_the_issue(kind: str, lead: int) -> None:
    assert lead_days(DEFAULT_PROFILE, kind) == lead
    assert notice_dates(kind, DUE, 7, DEFAULT_PROFILE)[0] == ("advance", DUE - dt.timedelta(days=lead))


@pytest.mark.parametrize(
    ("today", "stage", "next_on"),
    [
        (D(2027, 2, 25), None, D(2027, 2, 26)),  # before the advance day
        (D(2027, 2, 26), "advance", DUE),  # 14 days before
        (D(2027, 3, 11), "advance", DUE),
        (D(2027, 3, 12), "due", D(2027, 3, 20)),  # due day; window 7 → overdue on day 8
        (D(2027, 3, 19), "due", D(2027, 3, 20)),  # last day of the window: still due
        (D(2027, 3, 20), "overdue", None),
        (D(2028, 1, 1), "overdue", None),  # a clock down for months sends only the latest stage
    ],
)
def test_due_notice_for_a_scan(today: dt.date, stage: str | None, next_on: dt.date | None) -> None:
    assert due_notice("ct", DUE, 7, today, DEFAULT_PROFILE) == (stage, next_on)


def test_overdue_is_the_day_the_core_calls_it_overdue() -> None:
    # clinical-rules.md §9: due from due_on through due_on + window_days, both included.
    assert notice_dates("lab_lft", DUE, 3, DEFAULT_PROFILE)[-1] == ("overdue", D(2027, 3, 16))


def test_no_advance_notice_when_the_profile_gives_no_lead() -> None:
    profile = DEFAULT_PROFILE.with_overrides({"notice_lead_days_blood": 0})
    assert [s for s, _ in notice_dates("lab_cbc", DUE, 3, profile)] == ["due", "overdue"]
    assert first_notice_on("lab_cbc", DUE, 3, profile) == DUE
    assert recipient("due", "lab_cbc", patient_has_email=False, has_advance=False).audience == "navigator"


@pytest.mark.parametrize(
    ("stage", "kind", "has_email", "audience"),
    [
        ("advance", "ct", True, "patient"),
        ("due", "ct", True, "patient"),
        ("overdue", "ct", True, "navigator"),  # the escalation
        ("advance", "ct", False, "navigator"),  # no email on file: the navigator tells them
        ("due", "ct", False, None),  # the navigator already knows
        ("overdue", "ct", False, "navigator"),
        ("advance", "mdt_review", True, "navigator"),  # care-team work: never the patient
        ("due", "mdt_review", True, None),
        ("overdue", "mutation_test", True, "navigator"),
        ("advance", "lab_lft", True, "patient"),
    ],
)
def test_who_is_told(stage: str, kind: str, has_email: bool, audience: str | None) -> None:
    assert recipient(stage, kind, has_email).audience == audience  # type: ignore[arg-type]


@given(
    kind=st.sampled_from(sorted(NOTICE_KINDS)),
    due=st.dates(D(2020, 1, 1), D(2030, 1, 1)),
    window=st.integers(0, 400),
    today=st.dates(D(2019, 1, 1), D(2031, 1, 1)),
)
def test_stages_are_ordered_and_the_next_day_is_always_later(
    kind: str, due: dt.date, window: int, today: dt.date
) -> None:
    days = [day for _, day in notice_dates(kind, due, window, DEFAULT_PROFILE)]
    assert days == sorted(days)
    stage, next_on = due_notice(kind, due, window, today, DEFAULT_PROFILE)
    assert next_on is None or next_on > today
    assert (stage is None) == (today < days[0])


def test_unknown_kinds_get_a_neutral_label() -> None:
    assert label("something_new").summary == "Appointment"
