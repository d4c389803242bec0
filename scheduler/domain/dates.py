"""Calendar arithmetic for schedules: calendar months clamped to month end (clinical-rules §6)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _MONTH_DAYS[month - 1]


@lru_cache(maxsize=1 << 16)  # series add the same windows and steps to the same due dates
def add_days(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


@lru_cache(maxsize=1 << 16)  # schedules step through the same months from the same anchors
def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months; 31 Jan + 1 month is 28/29 Feb (clamped, not rolled over)."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return dt.date(year, month, min(day.day, days_in_month(year, month)))


def first_day_reaching(target: dt.date, months: int) -> dt.date:
    """The first day ``d`` with ``add_months(d, months) >= target`` (``add_months`` never decreases
    as ``d`` grows; clamping to month end means ``add_months(target, -months)`` may fall short)."""
    day = add_months(target, -months)
    while add_months(day, months) < target:
        day = add_days(day, 1)
    return day


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)
