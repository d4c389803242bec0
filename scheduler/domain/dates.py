"""Calendar arithmetic for schedules: calendar months clamped to month end (clinical-rules §6)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_date = dt.date


def _month_length(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


class _MonthTable(dict[int, tuple[dt.date, ...]]):
    """Month index (see month_index) → that month's dates by day of month, clamped to its last day:
    ``MONTHS[index][31]`` is 28 Feb in a common February. Rows are made on first use and kept for
    the years events can hold (1900–2199: at most 3,600 rows of 31 dates, about 5 MB). A date
    costs about 2,000 instructions to make and 450 to look up here, and schedules step through
    the same months for every patient."""

    __slots__ = ()

    def __missing__(self, index: int) -> tuple[dt.date, ...]:
        y, m = index // 12, index % 12 + 1
        length = _month_length(y, m)
        first = _date(y, m, 1).toordinal()
        dates = list(map(_date.fromordinal, range(first, first + length)))
        row = (dates[0], *dates, *(dates[-1],) * (31 - length))  # [0] is never read: days start at 1
        if _CACHED_FROM <= index < _CACHED_TO:
            self[index] = row
        return row


_CACHED_FROM, _CACHED_TO = 1900 * 12, 2200 * 12
MONTHS = _MonthTable()


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months; 31 Jan + 1 month is 28/29 Feb (clamped, not rolled over)."""
    if months == 0:
        return day
    return MONTHS[day.year * 12 + day.month - 1 + months][day.day]


def month_index(day: dt.date) -> int:
    """The month of ``day`` as one number, year * 12 + month - 1, for day_in_month."""
    return day.year * 12 + day.month - 1


def day_in_month(index: int, day: int) -> dt.date:
    """Day ``day`` of the month ``index`` (see month_index), clamped to the month's last day:
    ``add_months(d, n) == day_in_month(month_index(d) + n, d.day)``. Schedules that step several
    times from one base read the base's fields once and call this (reading a date's year, month
    and day costs about as much as a lookup here). Hot loops read ``MONTHS[index][day]`` inline."""
    return MONTHS[index][day]


def every_months(day: dt.date, months: int) -> Iterator[dt.date]:
    """``add_months(day, months * k)`` for k = 1, 2, …: each counted from ``day``, so clamping
    never drifts (31 Jan every month: 28/29 Feb, 31 Mar, 30 Apr, …). One generator step is about
    half a call of add_months, and long fixed schedules (monthly liver tests) take many steps."""
    table, index, d = MONTHS, day.year * 12 + day.month - 1, day.day
    while True:
        index += months
        yield table[index][d]


_DELTAS = tuple(dt.timedelta(days=n) for n in range(-400, 4001))


def delta(days: int) -> dt.timedelta:
    """``timedelta(days=days)``, cached for the offsets schedules use (a new one costs ~2,000
    instructions)."""
    return _DELTAS[days + 400] if -400 <= days <= 4000 else dt.timedelta(days=days)


def add_days(day: dt.date, days: int) -> dt.date:
    # cached timedeltas: schedules add the same small offsets millions of times in a benchmark
    if -400 <= days <= 4000:
        return day + _DELTAS[days + 400]
    return day + dt.timedelta(days=days)


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)


_MONTH_DAY_TEXT = tuple(tuple(f"-{month:02}-{day:02}" for day in range(32)) for month in range(13))


class _IsoTexts(dict[dt.date, str]):
    """Date → its ISO text, made on first use and kept for the years events can hold (1900–2199:
    at most 110,000 texts; a clinic's plans ask for a few thousand)."""

    __slots__ = ()

    def __missing__(self, day: dt.date) -> str:
        year = day.year
        text = (str(year) if year >= 1000 else f"{year:04}") + _MONTH_DAY_TEXT[day.month][day.day]
        if 1900 <= year < 2200:
            self[day] = text
        return text


_ISO = _IsoTexts()


def iso(day: dt.date) -> str:
    """``day.isoformat()``, kept: the C method formats through PyUnicode_FromFormat and costs about
    3,400 instructions, a lookup here a few hundred (every series key and some details hold a
    date)."""
    return _ISO[day]
