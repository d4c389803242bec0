"""Reminder series and their items (clinical-rules §0 "Series", §9 fulfilment and status).

A *series* is opened by a rule and closed by its end; it yields *items*, each with a stable key
``{rule}:{kind}:{anchor}:{ordinal}``. Three shapes:

* ``OneOff``  — a single item;
* ``Chained`` — each next item is one interval after the previous one was fulfilled, or after its
  due date if it was not: a late scan moves the later items, never their keys;
* ``Fixed``   — items on fixed days from the start (drug monitoring).

Missed items are superseded: an unfulfilled item whose window has passed is cancelled as *missed*
once the next item of its series is due, so a navigator sees one overdue item per series; the
item that follows a run of missed ones says since when and how many (§9). Items are generated on
demand: an event asks a series for the item it could fulfil (``candidate``), and the plan asks
for every item up to its horizon (``items_until``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scheduler.domain.dates import add_days, add_months
from scheduler.domain.events import Event
from scheduler.domain.model import Waiver
from scheduler.domain.profile import ChainedSchedule, OneOffSchedule, Step

Fulfils = Callable[[Event], bool]


@dataclass(slots=True)
class Item:
    """One occurrence of a series: due on ``due``, open until completed or cancelled."""

    ordinal: int
    due: dt.date
    window: int
    tolerance: int  # eligible from due - tolerance …
    last_eligible: dt.date | None  # … to this day (fixed items: due + window); None: no limit
    completed_on: dt.date | None = None
    completed_by: str | None = None  # event_id of the event that fulfilled it
    cancelled_on: dt.date | None = None
    missed: bool = False  # cancelled because the next item became due (superseded)
    suspended: bool = False  # replaced by another series while that one ran
    waiver: Waiver | None = None  # cancelled because a navigator waived it

    @property
    def is_open(self) -> bool:
        return self.completed_on is None and self.cancelled_on is None

    @property
    def window_ends(self) -> dt.date:
        return add_days(self.due, self.window)

    def is_eligible(self, day: dt.date) -> bool:
        after_start = (self.due - day).days <= self.tolerance
        return after_start and (self.last_eligible is None or day <= self.last_eligible)

    def is_missed_by(self, day: dt.date, next_due: dt.date) -> bool:
        """Unfulfilled, its window has passed and the next item is due on ``day`` (§0)."""
        return self.is_open and (day - self.due).days > self.window and day >= next_due

    def supersede(self, next_due: dt.date) -> None:
        self.cancelled_on = max(add_days(self.window_ends, 1), next_due)
        self.missed = True

    def waive(self, waiver: Waiver) -> None:
        """Cancelled with the navigator's reason, if still open."""
        if self.is_open:
            self.cancelled_on, self.waiver = waiver.waived_on, waiver

    @property
    def counted_from(self) -> dt.date:
        """What the next chained item counts from: its fulfilment, the day it was done elsewhere, or
        its due date (§0)."""
        if self.completed_on is not None:
            return self.completed_on
        if self.waiver is not None and self.waiver.done_on is not None:
            return self.waiver.done_on
        return self.due


@dataclass(frozen=True, slots=True)
class SeriesId:
    rule: str
    kind: str
    anchor: dt.date


class Series:
    """Common state: which rule opened it, for what kind, from which anchor, and when it closed."""

    def __init__(
        self,
        sid: SeriesId,
        opened_on: dt.date,
        rationale: str,
        citation: str,
        fulfils: Fulfils | None,
    ) -> None:
        self.id = sid
        self.opened_on = opened_on
        self.rationale = rationale
        self.citation = citation
        self.fulfils = fulfils  # None: any event that is a result of the kind (§9)
        self.closed_on: dt.date | None = None
        self.items: list[Item] = []
        self.key_prefix = f"{sid.rule}:{sid.kind}:{sid.anchor.isoformat()}:"
        self._waivers: dict[int, Waiver] = {}  # by ordinal, for items not made yet too

    @property
    def rule(self) -> str:
        return self.id.rule

    @property
    def kind(self) -> str:
        return self.id.kind

    @property
    def anchor(self) -> dt.date:
        return self.id.anchor

    def key(self, item: Item) -> str:
        return f"{self.key_prefix}{item.ordinal}"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    def close(self, day: dt.date) -> None:
        """Close on ``day``: the items open at the end of that day are cancelled then (§0)."""
        if self.closed_on is None:
            self.catch_up(day)
            self.closed_on = day

    def accepts(self, event: Event) -> bool:
        return self.fulfils is None or self.fulfils(event)

    def catch_up(self, day: dt.date) -> None:
        """Bring the items up to ``day``: supersede missed ones, add the next ones due."""

    def candidate(self, day: dt.date) -> Item | None:
        """The earliest open item an event on ``day`` can fulfil."""
        self.catch_up(day)
        return next((i for i in self.items if i.is_open and not i.suspended and i.is_eligible(day)), None)

    def fulfil(self, item: Item, day: dt.date, event_id: str) -> None:
        item.completed_on, item.completed_by = day, event_id

    def waive(self, ordinal: int, waiver: Waiver) -> None:
        """A navigator waived the item ``ordinal``: now if it exists, else when it is made."""
        if self.closed_on is not None:
            return  # its open items were cancelled when it closed
        self._waivers[ordinal] = waiver
        self.catch_up(waiver.waived_on)
        if ordinal <= len(self.items):
            self.items[ordinal - 1].waive(waiver)

    def _add(self, item: Item) -> Item:
        """Append a new item, waived at once if a navigator waived it ahead."""
        if self._waivers and item.ordinal in self._waivers:
            item.waive(self._waivers[item.ordinal])
        self.items.append(item)
        return item

    def items_until(self, horizon: dt.date) -> list[Item]:
        """Every item due up to ``horizon``, or to the closing day for a closed series."""
        return self.items

    def first_due_after(self, limit: dt.date) -> dt.date | None:
        """The due date of the first item due after ``limit`` (None: the series has none); called
        after ``items_until(limit)``."""
        return next((item.due for item in self.items if item.due > limit), None)

    def settle(self) -> None:
        """After the closing day's fulfilment: what is still open is cancelled as of the close."""
        if self.closed_on is not None:
            for item in self.items:
                if item.is_open:
                    item.cancelled_on = self.closed_on


class OneOff(Series):
    def __init__(
        self,
        sid: SeriesId,
        opened_on: dt.date,
        rationale: str,
        citation: str,
        fulfils: Fulfils | None,
        schedule: OneOffSchedule,
        counted_from: dt.date | None = None,
    ) -> None:
        super().__init__(sid, opened_on, rationale, citation, fulfils)
        due = max(schedule.due(counted_from or sid.anchor), opened_on)  # never before it opened (§0)
        window = schedule.window(due)
        self._add(Item(1, due, window, window, None))

    @property
    def item(self) -> Item:
        return self.items[0]


class Chained(Series):
    """The first item is one interval after the later of the anchor and the last event of the kind
    (on the opening day if that falls before it); each next item one interval after the previous
    one's fulfilment, or its due date when it was not fulfilled. Tolerance: half the interval."""

    def __init__(
        self,
        sid: SeriesId,
        opened_on: dt.date,
        rationale: str,
        citation: str,
        fulfils: Fulfils | None,
        schedule: ChainedSchedule,
        last_done: dt.date | None,
    ) -> None:
        super().__init__(sid, opened_on, rationale, citation, fulfils)
        self.schedule = schedule
        self.end = add_months(sid.anchor, schedule.end_months) if schedule.end_months is not None else None
        self._phases = [  # (first day, day after the last, step) of each phase, from the anchor
            (add_months(sid.anchor, phase.start_months),
             add_months(sid.anchor, phase.end_months) if phase.end_months is not None else None,
             phase.step)
            for phase in schedule.phases
        ]  # fmt: skip
        if schedule.starts_on_day_zero:
            step = schedule.phases[0].step
            window = step.window(sid.anchor, add_months(sid.anchor, step.months))
            self._add(Item(1, opened_on, window, 0, None))
        else:
            base = sid.anchor if last_done is None or last_done < sid.anchor else last_done
            self._append(self._following(base, first=True))

    def _following(self, base: dt.date, first: bool = False) -> tuple[dt.date, int, int] | None:
        """(due, window, tolerance) of the item one step after ``base``; None past the schedule."""
        step = self.schedule.first_step if first and self.schedule.first_step else None
        step = step or self._step_at(base)
        if step is None:
            return None
        due = add_months(base, step.months)
        interval = (due - base).days
        if self.end is not None and due > self.end and (due - self.end).days * 2 > interval:
            return None  # more than half an interval past the series' fixed end
        return max(due, self.opened_on), step.window(base, due), interval // 2

    def _step_at(self, base: dt.date) -> Step | None:
        """The step of the phase holding ``base`` (phases are half-open), or None past them all."""
        for starts, ends, step in self._phases:
            if starts <= base and (ends is None or base < ends):
                return step
        return None

    def _append(self, following: tuple[dt.date, int, int] | None) -> Item | None:
        if following is None:
            return None
        due, window, tolerance = following
        return self._add(Item(len(self.items) + 1, due, window, tolerance, None))

    def _following_last(self) -> tuple[dt.date, int, int] | None:
        """The item after the last one: counted from its fulfilment (or the day it was done
        elsewhere), or from its due date."""
        return self._following(self.items[-1].counted_from)

    def catch_up(self, day: dt.date) -> None:
        """While replaying, up to ``day``: a fulfilled or waived last item is followed by the next
        one; an unfulfilled last item whose window has passed is superseded once the next is due."""
        if self.closed_on is not None:
            return
        while self.items:
            last = self.items[-1]
            following = self._following_last()
            if following is None:
                return
            if last.completed_on is not None or last.waiver is not None:
                self._append(following)
            elif last.is_missed_by(day, following[0]):
                last.supersede(following[0])
                self._append(following)
            else:
                return

    def items_until(self, horizon: dt.date) -> list[Item]:
        """The replayed items, then the ones that follow, each counted from the previous one's due
        date (or fulfilment), up to ``horizon`` (a series with a fixed end: to that end; a closed
        series: to its closing day)."""
        limit = self.closed_on or (dt.date.max if self.end is not None else horizon)
        while self.items and self.items[-1].due <= limit:
            following = self._following_last()
            if following is None or following[0] > limit:
                break
            self._append(following)
        return self.items

    def first_due_after(self, limit: dt.date) -> dt.date | None:
        beyond = super().first_due_after(limit)
        if beyond is not None or not self.items:
            return beyond
        following = self._following_last()
        return following[0] if following is not None else None


class Fixed(Series):
    """Items on fixed days from the start. A lab item's window is short (3 days) when it follows the
    previous item within the max gap (weekly and two-weekly labs), else long; a day-0 item takes
    the window of its series' first interval; other kinds take the long window (§8)."""

    def __init__(
        self,
        sid: SeriesId,
        opened_on: dt.date,
        rationale: str,
        citation: str,
        fulfils: Fulfils | None,
        dues: Iterator[dt.date],
        windows: tuple[int, int, int],
    ) -> None:
        """``windows``: (short, long, max gap); a kind other than a lab passes (long, long, gap)."""
        super().__init__(sid, opened_on, rationale, citation, fulfils)
        self._dues = dues
        self._next_due: dt.date | None = next(dues, None)
        self._windows = windows
        self._reach = max(windows[0], windows[1])  # how far from its due date an item is eligible
        self._first_eligible = 0  # items before it are past their windows (replay days only increase)
        self._suspensions: list[tuple[dt.date, dt.date | None]] = []

    def _generate_through(self, until: dt.date) -> None:
        while self._next_due is not None and (not self.items or self.items[-1].due <= until):
            due = self._next_due
            self._next_due = next(self._dues, None)
            previous = self.items[-1].due if self.items else None
            window = self._window(due, previous)
            item = Item(len(self.items) + 1, due, window, window, add_days(due, window))
            item.suspended = bool(self._suspensions) and self._is_suspended(due)
            self._add(item)

    def _window(self, due: dt.date, previous: dt.date | None) -> int:
        short, long_, max_gap = self._windows
        if previous is not None:
            gap = (due - previous).days
        elif self._next_due is not None:
            gap = (self._next_due - due).days
        else:
            gap = max_gap + 1
        return short if gap <= max_gap else long_

    def catch_up(self, day: dt.date) -> None:
        self._generate_through(add_days(day, self._reach))

    def candidate(self, day: dt.date) -> Item | None:
        """The earliest open item eligible on ``day``: from due - window to due + window (§8)."""
        self.catch_up(day)
        items, reach = self.items, self._reach
        while self._first_eligible < len(items) and (day - items[self._first_eligible].due).days > reach:
            self._first_eligible += 1  # past its window for this day and every later one
        for item in items[self._first_eligible :]:
            if (item.due - day).days > self._reach:
                break
            if item.is_open and not item.suspended and item.is_eligible(day):
                return item
        return None

    # -- replacement by another series (regorafenib's weekly liver tests replace the regular ones)

    def suspend(self, day: dt.date) -> None:
        """Items due after ``day`` are replaced until ``resume``."""
        if not (self._suspensions and self._suspensions[-1][1] is None):
            self._suspensions.append((day, None))
            self._mark_suspended()

    def resume(self, day: dt.date) -> None:
        """Items due after ``day`` are this series' again."""
        if self._suspensions and self._suspensions[-1][1] is None:
            self._suspensions[-1] = (self._suspensions[-1][0], day)
            self._mark_suspended()

    def _mark_suspended(self) -> None:
        for item in self.items:
            item.suspended = item.completed_on is None and self._is_suspended(item.due)

    def _is_suspended(self, due: dt.date) -> bool:
        return any(start < due and (end is None or due <= end) for start, end in self._suspensions)

    def items_until(self, horizon: dt.date) -> list[Item]:
        limit = self.closed_on or horizon
        self._generate_through(limit)
        return [item for item in self.items if item.due <= limit]
