"""The patient's book of series: opening, closing and fulfilling them day by day (§0, §9).

Rules (reminders.py) say what they want each event day; the book turns that into series:

* ``want``        — a condition-held series (surveillance, monitoring): open while wanted, closed on
                    the first day it is not, re-opened under a new key when its anchor moves;
* ``episode``     — tracks when a condition became true, so a condition-triggered one-off opens once
                    per run of the condition and a series can be anchored on that day;
* ``trigger``     — a one-off with an explicit identity (rule, kind, anchor), opened at most once;
* ``end``         — a one-off's named end.

``fulfil`` applies one day's events: per reminder kind, at most one item — the eligible open item
with the earliest due date (ties: rule id, then key); it ends the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from itertools import filterfalse

from scheduler.domain.events import Event, EventData, Replayed
from scheduler.domain.series import Item, OneOff, Series

SeriesId = tuple[str, str, dt.date]


class Book:
    __slots__ = (
        "_active_episodes",
        "_closed_today",
        "_episodes_today",
        "_oneoffs_by_rule",
        "_wanted_today",
        "by_kind",
        "held",
        "oneoffs",
        "series",
    )

    def __init__(self) -> None:
        self.series: list[Series] = []
        self.by_kind: dict[str, list[Series]] = {}
        self._oneoffs_by_rule: dict[str, list[OneOff]] = {}
        self._closed_today: list[Series] = []
        self.held: dict[SeriesId, Series] = {}  # open condition-held series
        self.oneoffs: dict[SeriesId, OneOff] = {}  # every one-off ever opened
        self._wanted_today: set[SeriesId] = set()
        self._active_episodes: dict[tuple[str, str], dt.date] = {}
        self._episodes_today: set[tuple[str, str]] = set()

    # ---- condition-held series ---------------------------------------------------------------

    def keep(self, sid: SeriesId) -> bool:
        """Mark an already open condition-held series as still wanted (the cheap, common case)."""
        if sid in self.held:
            self._wanted_today.add(sid)
            return True
        return False

    def want(self, sid: SeriesId, factory: Callable[[], Series]) -> Series:
        self._wanted_today.add(sid)
        series = self.held.get(sid)
        if series is None:
            series = factory()
            self.held[sid] = series
            self._add(series)
        return series

    def _add(self, series: Series) -> None:
        self.series.append(series)
        self.by_kind.setdefault(series.kind, []).append(series)

    def held_series(self, rule_id: str, kind: str) -> Series | None:
        for (rule, k, _), series in self.held.items():
            if rule == rule_id and k == kind:
                return series
        return None

    # ---- episodes (when did this condition start to hold?) ------------------------------------

    def episode(self, rule_id: str, kind: str, day: dt.date) -> dt.date:
        """Record that a condition holds today; the first day of its current run.

        Rules call this only on days the condition holds: a day it is not called for ends the run
        (end_of_rules), so the next day it holds starts a new one."""
        key = (rule_id, kind)
        self._episodes_today.add(key)
        return self._active_episodes.setdefault(key, day)

    # ---- one-offs ----------------------------------------------------------------------------

    def trigger(self, sid: SeriesId, factory: Callable[[], OneOff]) -> None:
        if sid not in self.oneoffs:
            series = factory()
            self.oneoffs[sid] = series
            self._oneoffs_by_rule.setdefault(sid[0], []).append(series)
            self._add(series)

    def end(
        self, day: dt.date, rule_ids: Iterable[str], which: Callable[[OneOff], bool] | None = None
    ) -> None:
        """Close the still-open one-offs of ``rule_ids`` (those ``which`` selects, if given)."""
        for rule_id in rule_ids:
            for series in self._oneoffs_by_rule.get(rule_id, ()):
                if series.closed_on is None and series.items[0].is_open and (which is None or which(series)):
                    series.close(day)
                    self._closed_today.append(series)

    # ---- the day's bookkeeping ---------------------------------------------------------------

    def end_of_rules(self, day: dt.date) -> None:
        """Close condition-held series not wanted today; forget episodes that stopped holding.

        Today's wanted series are a subset of the held ones (and today's episodes of the active
        ones), so equal sizes mean nothing to close: the common case, checked first.
        """
        if len(self._wanted_today) != len(self.held):
            # filterfalse, not a comprehension: that would make ``self`` a cell on every call
            for sid in list(filterfalse(self._wanted_today.__contains__, self.held)):
                series = self.held.pop(sid)
                series.close(day)
                self._closed_today.append(series)
        self._wanted_today.clear()
        if len(self._episodes_today) != len(self._active_episodes):
            for key in list(filterfalse(self._episodes_today.__contains__, self._active_episodes)):
                del self._active_episodes[key]
        self._episodes_today.clear()

    def close_everything(self, day: dt.date) -> None:
        for series in self.series:
            if series.closed_on is None:
                series.close(day)
                self._closed_today.append(series)
        self.held.clear()
        self._active_episodes.clear()

    def fulfil(
        self, day: dt.date, events: list[Replayed], kinds_of: Callable[[str, EventData], tuple[str, ...]]
    ) -> None:
        """Step two of a day: each kind's earliest eligible open item takes one fulfilling event;
        then what is still open in the series that closed today is cancelled (_settle_closed)."""
        by_kind = self.by_kind
        if len(events) == 1:  # most days: one event, whose kinds need no grouping
            row = events[0]
            for kind in kinds_of(row[3], row[4]):
                open_series = by_kind.get(kind)
                if open_series:
                    _fulfil_kind(day, open_series, events)
        else:
            candidates_by_kind: dict[str, list[Replayed]] = {}
            for row in events:
                for kind in kinds_of(row[3], row[4]):
                    if kind in candidates_by_kind:
                        candidates_by_kind[kind].append(row)
                    else:
                        candidates_by_kind[kind] = [row]
            for kind, candidates in candidates_by_kind.items():
                open_series = by_kind.get(kind)
                if open_series:
                    _fulfil_kind(day, open_series, candidates)
        if self._closed_today:
            self._settle_closed()

    def _settle_closed(self) -> None:
        """After the day's fulfilment: what is still open in the series that closed today is
        cancelled. A closed series fulfils nothing after its closing day, so fulfil stops looking
        at it."""
        for series in self._closed_today:
            series.settle()
            self.by_kind[series.kind].remove(series)
        self._closed_today.clear()


def _fulfil_kind(day: dt.date, open_series: list[Series], candidates: list[Replayed]) -> None:
    """Fulfil the earliest eligible open item of one kind (``open_series``: the book's series of
    that kind, open or closed today) with the first of ``candidates`` its series accepts."""
    best: Item | None = None
    best_series: Series | None = None
    best_event: Replayed | None = None
    for series in open_series:
        fulfils = series.fulfils  # None: any event of the kind (§9)
        event = candidates[0] if fulfils is None else _first_fulfilling(candidates, fulfils)
        if event is None:
            continue
        item = series.candidate(day)
        if item is not None and (
            best is None or best_series is None or _ranks_before(item, series, best, best_series)
        ):
            best, best_series, best_event = item, series, event
    if best is not None and best_series is not None and best_event is not None:
        best_series.fulfil(best, day, best_event[2])


def _first_fulfilling(candidates: list[Replayed], fulfils: Callable[[Event], bool]) -> Replayed | None:
    """The first of the day's candidate events that ``fulfils`` accepts (a function of its own:
    a generator inside Book.fulfil would make ``fulfils`` a cell on every call)."""
    return next((r for r in candidates if fulfils(r[5])), None)


def _ranks_before(a: Item, a_series: Series, b: Item, b_series: Series) -> bool:
    """Earlier due date first, then rule id, then key (§9); keys are built only to break a tie."""
    if a.due != b.due:
        return a.due < b.due
    rule_a, rule_b = a_series.rule.id, b_series.rule.id
    if rule_a != rule_b:
        return rule_a < rule_b
    return f"{a_series.key_prefix}{a.ordinal}" < f"{b_series.key_prefix}{b.ordinal}"
