"""Calendar helpers the schedules rely on (clinical-rules §6, §8), including the fast paths the
planner uses instead of add_months: each is checked against add_months and hand-written dates."""

from __future__ import annotations

import calendar
import datetime as dt
from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.dates import MONTHS, add_months, day_in_month, delta, every_months, iso, month_index
from scheduler.domain.profile import FixedSchedule
from scheduler.domain.series import fixed_dues

D = dt.date


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(D(2023, 1, 31), 1) == D(2023, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2024, 8, 31), 6) == D(2025, 2, 28)
    assert add_months(D(2024, 3, 15), 0) == D(2024, 3, 15)


def test_every_months_counts_from_the_start_so_clamping_never_drifts() -> None:
    assert list(islice(every_months(D(2024, 1, 31), 1), 4)) == [
        D(2024, 2, 29),
        D(2024, 3, 31),
        D(2024, 4, 30),
        D(2024, 5, 31),
    ]
    assert list(islice(every_months(D(2023, 11, 30), 3), 3)) == [
        D(2024, 2, 29),
        D(2024, 5, 30),
        D(2024, 8, 30),
    ]


def _reference_add_months(day: dt.date, months: int) -> dt.date:
    """add_months written from the calendar module, independently of the month table."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return D(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


@given(
    st.dates(min_value=D(1, 1, 1), max_value=D(9989, 12, 31)),
    st.integers(min_value=-120, max_value=120),
)
def test_add_months_and_day_in_month_match_the_calendar(day: dt.date, months: int) -> None:
    # across the years the month table keeps (1900-2199) and those it computes without keeping
    if (day.year * 12 + day.month - 1 + months) // 12 < 1:
        return  # before year 1: no date to compare
    expected = _reference_add_months(day, months)
    assert add_months(day, months) == expected
    assert day_in_month(month_index(day) + months, day.day) == expected


def test_month_table_keeps_only_the_years_events_can_hold() -> None:
    before = len(MONTHS)
    assert add_months(D(1850, 1, 31), 1) == D(1850, 2, 28)
    assert add_months(D(2300, 1, 31), 13) == D(2301, 2, 28)
    assert len(MONTHS) == before  # computed, not kept
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert month_index(D(2024, 2, 1)) in MONTHS
    row = MONTHS[month_index(D(2023, 2, 1))]
    assert row[28] is row[29] is row[31]  # clamped days are the month's last date, one object


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31)),
    st.integers(min_value=1, max_value=24),
)
def test_every_months_equals_add_months_of_each_multiple(start: dt.date, months: int) -> None:
    got = list(islice(every_months(start, months), 30))
    assert got == [add_months(start, months * k) for k in range(1, 31)]


@pytest.mark.parametrize(
    ("schedule", "expected_days"),
    [
        (FixedSchedule(days=(7, 14, 21)), [7, 14, 21]),
        (FixedSchedule(days=(0, 14), then_every_days=28), [0, 14, 42, 70, 98]),
        (FixedSchedule(days=(), then_every_days=7), [7, 14, 21]),
    ],
)
def test_fixed_dues_lists_days_then_repeats(schedule: FixedSchedule, expected_days: list[int]) -> None:
    start = D(2024, 1, 31)
    got = list(islice(fixed_dues(start, schedule), len(expected_days) + 5))
    if schedule.then_every_days is not None:
        got = got[: len(expected_days)]  # a repeat goes on for ever: compare its first items
    assert got == [start + dt.timedelta(days=n) for n in expected_days]


def test_fixed_dues_monthly_repeat_counts_from_the_last_listed_day() -> None:
    start = D(2024, 1, 3)
    base = D(2024, 1, 31)  # day 28
    got = list(islice(fixed_dues(start, FixedSchedule(days=(0, 28), then_every_months=1)), 5))
    assert got == [start, base, D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30)]


@given(st.dates())
def test_iso_equals_isoformat(day: dt.date) -> None:
    assert iso(day) == day.isoformat()


def test_iso_pads_early_years() -> None:
    assert iso(D(1, 1, 1)) == "0001-01-01"
    assert iso(D(999, 12, 31)) == "0999-12-31"
    assert iso(D(9999, 12, 31)) == "9999-12-31"


def test_iso_keeps_texts_only_for_the_years_events_can_hold() -> None:
    from scheduler.domain import dates

    for day in (D(1899, 12, 31), D(2200, 1, 1), D(1, 1, 1), D(9999, 12, 31)):
        assert iso(day) == day.isoformat()
        assert day not in dates._ISO
    assert iso(D(2024, 2, 29)) == "2024-02-29"
    assert D(2024, 2, 29) in dates._ISO


@given(st.integers(min_value=-5000, max_value=5000))
def test_delta_is_the_timedelta_of_that_many_days(days: int) -> None:
    assert delta(days) == dt.timedelta(days=days)
