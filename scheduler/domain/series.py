"""Reminder series and their items (clinical-rules §0 "Series", §9 fulfilment and status).

A *series* is opened by a rule's trigger and closed by its end condition; it yields *items*, each
with a stable key ``{rule}:{kind}:{anchor}:{ordinal}``. Three shapes:

* ``OneOff``  — a single item;
* ``Chained`` — the next item is one interval after the previous one was fulfilled (or after its
  due date if it was not): a late scan moves the later items, never their keys;
* ``Fixed``   — items on fixed days from the start (drug monitoring); a missed item is overdue, then
  cancelled once the next one is due.

Items are generated lazily: the planner asks each series for the item an event could fulfil on a
given day (``candidate``) and, at the end, for every item up to the horizon (``materialise``).
This is the planner's hot path (tens of items per plan, thousands of plans per second), so the
loops below read attributes into locals and avoid per-item helper calls; see
docs/performance.md §1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from itertools import chain

from scheduler.domain.dates import (
    MONTHS,
    add_days,
    add_months,
    day_in_month,
    delta,
    every_months,
    iso,
    month_index,
)
from scheduler.domain.events import Event
from scheduler.domain.profile import ChainedSchedule, FixedSchedule, Step
from scheduler.domain.rules.catalogue import Rule

Fulfils = Callable[[Event], bool]
NO_LIMIT = dt.date.max  # the last eligible day of an item that stays eligible once due
_NEVER = 1 << 62  # an index no list of items reaches
# a chain's phase before its first step: it holds no base, so its step is never used
_NO_PHASE: tuple[dt.date, dt.date | None, Step] = (dt.date.max, None, Step(0))


class Item:
    """One occurrence of a series: due on ``due``, open until completed or cancelled.

    A plain slotted class with a hand-written ``__init__`` (a plan creates tens of items, so the
    generated dataclass one, with its defaults, was measurably slower). An item does not point back
    to its series: that reference cycle left every plan's items and series to the cyclic garbage
    collector (about 6 % of a plan) instead of freeing them when the plan is done. Its key is
    ``series.key_prefix`` followed by its ordinal.
    """

    __slots__ = (
        "cancelled_on",
        "completed_by",
        "completed_on",
        "due",
        "last_eligible",
        "ordinal",
        "tolerance",
        "window",
    )

    def __init__(
        self, ordinal: int, due: dt.date, window: int, tolerance: int, last_eligible: dt.date
    ) -> None:
        self.ordinal = ordinal
        self.due = due
        self.window = window
        self.tolerance = tolerance  # eligible from due - tolerance
        self.last_eligible = last_eligible  # fixed items: due + window; other items: NO_LIMIT
        self.completed_on: dt.date | None = None
        self.completed_by: str | None = None
        self.cancelled_on: dt.date | None = None

    def __repr__(self) -> str:
        done, cancelled = self.completed_on, self.cancelled_on
        return f"Item({self.ordinal}, due={self.due}, completed_on={done}, cancelled_on={cancelled})"

    @property
    def is_open(self) -> bool:
        return self.completed_on is None and self.cancelled_on is None

    def is_eligible(self, day: dt.date) -> bool:
        return (self.due - day).days <= self.tolerance and day <= self.last_eligible


class Series:
    """Common state: which rule opened it, for what kind, when, and whether it has closed."""

    __slots__ = (
        "_settled",
        "anchor",
        "closed_on",
        "detail",
        "fulfils",
        "items",
        "key_prefix",
        "kind",
        "opened_on",
        "order",
        "rationale",
        "rule",
    )

    def __init__(
        self,
        rule: Rule,
        kind: str,
        anchor: dt.date,
        opened_on: dt.date,
        detail: str,
        fulfils: Fulfils | None = None,
    ) -> None:
        self.rule = rule
        self.kind = kind
        self.anchor = anchor
        self.opened_on = opened_on
        self.closed_on: dt.date | None = None
        self.detail = detail
        self.fulfils = fulfils  # None: the default of §9 for this kind
        self.items: list[Item] = []
        self._settled = 0  # items that existed at the end of the closing day (see settle)
        self.key_prefix = f"{rule.id}:{kind}:{iso(anchor)}:"
        self.order = (rule.id, self.key_prefix)  # the plan lists series in this order (§0)
        self.rationale = f"{rule.rationale} ({detail})" if detail else rule.rationale

    def close(self, day: dt.date) -> None:
        if self.closed_on is None:
            self.closed_on = day

    def settle(self) -> None:
        """After the closing day's fulfilment: the items still open are cancelled as of ``closed_on``.

        Only the count is recorded: nothing reads an item of a closed series again before the plan
        lists it, so the listing (plan._list) applies the cancellation to every open item of a
        closed series, and Fixed.materialise knows which items were already cancelled here.
        """
        self._settled = len(self.items)

    def candidate(self, day: dt.date) -> Item | None:
        """The open item an event on ``day`` would fulfil in this series (its earliest eligible one)."""
        raise NotImplementedError

    def fulfil(self, item: Item, day: dt.date, event_id: str) -> None:
        item.completed_on = day
        item.completed_by = event_id

    def materialise(self, until: dt.date) -> None:
        """Generate every item due up to ``until`` (a closed series stops at its closing day)."""


class OneOff(Series):
    __slots__ = ()

    def __init__(
        self,
        rule: Rule,
        kind: str,
        anchor: dt.date,
        opened_on: dt.date,
        detail: str,
        due: dt.date,
        window: int,
        fulfils: Fulfils | None = None,
    ) -> None:
        Series.__init__(self, rule, kind, anchor, opened_on, detail, fulfils)
        self.items.append(Item(1, due if due > opened_on else opened_on, window, window, NO_LIMIT))

    def candidate(self, day: dt.date) -> Item | None:
        item = self.items[0]
        # item.is_open and item.is_eligible(day), inlined (hot)
        if (
            item.completed_on is None
            and item.cancelled_on is None
            and (item.due - day).days <= item.tolerance
            and day <= item.last_eligible
        ):
            return item
        return None


class Chained(Series):
    __slots__ = ("_day", "_end", "_month", "_phase", "_phase_bounds", "schedule", "tail")

    def __init__(
        self,
        rule: Rule,
        kind: str,
        anchor: dt.date,
        opened_on: dt.date,
        detail: str,
        schedule: ChainedSchedule,
        last_done: dt.date | None,
        fulfils: Fulfils | None = None,
    ) -> None:
        Series.__init__(self, rule, kind, anchor, opened_on, detail, fulfils)
        self.schedule = schedule
        self._month, self._day = month, day = month_index(anchor), anchor.day
        end_months = schedule.end_months
        self._end = day_in_month(month + end_months, day) if end_months is not None else None
        # (start, end, step) of the first phases, computed when a base first reaches them (most
        # series never leave their first phase before the plan ends); see _step_at
        self._phase_bounds: list[tuple[dt.date, dt.date | None, Step]] = []
        self._phase: tuple[dt.date, dt.date | None, Step] = _NO_PHASE
        self.tail: list[tuple[dt.date, int]] = []  # (due, window) of the items listed after them
        if schedule.starts_on_day_zero:
            step = schedule.phases[0].step
            window = _window(month, day, day_in_month(month + step.months, day), step)
            self.items.append(Item(1, opened_on, window, 0, NO_LIMIT))
        else:
            base = anchor if last_done is None or last_done < anchor else last_done
            self._append(base, first=True)

    @property
    def end(self) -> dt.date | None:
        return self._end

    def _step_at(self, base: dt.date) -> Step | None:
        """The step of the first phase whose [anchor + start, anchor + end) holds ``base`` (kept in
        ``_phase``: the next base usually lies in the same phase)."""
        bounds = self._phase_bounds
        for phase_bounds in bounds:
            start, end, step = phase_bounds
            if start <= base and (end is None or base < end):
                self._phase = phase_bounds
                return step
        phases = self.schedule.phases
        while len(bounds) < len(phases):  # the next phase's bounds, in order, until one holds base
            phase = phases[len(bounds)]
            start, end = self._at(phase.start_months), None
            if phase.end_months is not None:
                end = self._at(phase.end_months)
            phase_bounds = (start, end, phase.step)
            bounds.append(phase_bounds)
            if start <= base and (end is None or base < end):
                self._phase = phase_bounds
                return phase.step
        return None

    def _at(self, months: int) -> dt.date:
        """anchor + ``months`` calendar months (clamped to month end)."""
        return self.anchor if months == 0 else day_in_month(self._month + months, self._day)

    def _following(self, base: dt.date, first: bool = False) -> tuple[dt.date, int, int] | None:
        """(due, window, tolerance) of the item one step after ``base``; None past the schedule."""
        schedule = self.schedule
        if first and schedule.first_step:
            step = schedule.first_step
        else:
            # the phase of the last step, if it still holds base (phases do not overlap, see
            # ChainedSchedule, so a phase that holds it is the one _step_at would find)
            start, end, step = self._phase
            if not (start <= base and (end is None or base < end)):
                found = self._step_at(base)
                if found is None:
                    return None
                step = found
        month, day = base.year * 12 + base.month - 1, base.day  # month_index(base), inlined (hot)
        due = MONTHS[month + step.months][day]  # day_in_month, inlined (hot)
        interval = (due - base).days
        end = self._end
        if end is not None and due > end and (due - end).days * 2 > interval:
            return None  # more than half an interval past the series' fixed end
        to = step.window_to_months  # _window, its two common cases inlined (hot)
        if to is not None:
            window = (MONTHS[month + to][day] - due).days
        elif step.window_months is None:
            window = step.window_days
        else:
            window = _window(month, day, due, step)
        opened_on = self.opened_on
        return due if due > opened_on else opened_on, window, interval // 2

    def _append(self, base: dt.date, first: bool = False) -> Item | None:
        following = self._following(base, first)
        if following is None:
            return None
        due, window, tolerance = following
        item = Item(len(self.items) + 1, due, window, tolerance, NO_LIMIT)
        self.items.append(item)
        return item

    def candidate(self, day: dt.date) -> Item | None:
        # during replay a chain has at most one open item, its last: later ones are due later
        items = self.items
        if not items:
            return None
        last: Item | None = items[-1]
        if last is not None and last.completed_on is not None:
            # the next item, counted from the last one's fulfilment
            last = self._append(last.completed_on)
        # last.is_open and last.is_eligible(day), inlined (hot)
        if (
            last is not None
            and last.completed_on is None
            and last.cancelled_on is None
            and (last.due - day).days <= last.tolerance
            and day <= last.last_eligible
        ):
            return last
        return None

    def materialise(self, until: dt.date) -> None:
        """The items after the replay's, up to ``until``, as (due, window) pairs in ``tail``: they
        are only listed (all open), so they need no ``Item``. Each is counted from the previous
        one's due date (or the last replayed item's fulfilment)."""
        tail = self.tail
        tail.clear()
        limit = self.closed_on if self.closed_on is not None else until
        if self._end is not None and self.closed_on is None:
            limit = dt.date.max  # listed to the fixed end (the half-interval test stops it)
        if not self.items:
            return
        last = self.items[-1]
        if last.due > limit:
            return
        base = last.completed_on or last.due
        while (following := self._following(base)) is not None:
            base, window, _ = following
            if base > limit:
                break
            tail.append((base, window))


class Fixed(Series):
    """Items on fixed days from the start, kept as parallel lists rather than ``Item`` objects.

    A fixed series holds most of a plan's items (monthly liver tests for years) and events touch
    few of them, so it keeps their due dates and windows (``dues``, ``windows``: item ``n`` is at
    index ``n - 1``), and records fulfilments (``done``) and cancellations (``cancelled``) by index;
    ``candidate`` makes an ``Item`` only for the item it offers. ``items`` stays empty.
    """

    __slots__ = (
        "_cursor",
        "_exhausted",
        "_long",
        "_long_from",
        "_max_gap",
        "_pending",
        "_reach",
        "_short",
        "_source",
        "cancelled",
        "done",
        "dues",
        "is_lab",
        "suspensions",
        "windows",
    )

    def __init__(
        self,
        rule: Rule,
        kind: str,
        anchor: dt.date,
        opened_on: dt.date,
        detail: str,
        dues: Iterator[dt.date],
        is_lab: bool,
        windows: tuple[int, int, int],
        fulfils: Fulfils | None = None,
        spaced_from: int | None = None,
    ) -> None:
        """``spaced_from``: the index from which every item is known to be due more than the max gap
        after the previous one (see fixed_spaced_from), so its window needs no subtraction."""
        Series.__init__(self, rule, kind, anchor, opened_on, detail, fulfils)
        self._source = dues  # the items' due dates, in order, computed as they are needed
        self._pending: dt.date | None = None  # a due date taken from the source, not yet an item's
        self._exhausted = False
        self._cursor = 0  # items before it can no longer be fulfilled (replay days only increase)
        self.is_lab = is_lab
        # (short lab window, long window, max gap for short): §8
        self._short, self._long, self._max_gap = windows
        # items from this index on take the long window without their gap being computed: all but a
        # lab item's (whose gap decides, §8), and a lab item's when the schedule spaces them widely
        self._long_from = 0 if not is_lab else spaced_from if spaced_from is not None else _NEVER
        self._reach = delta(self._long)  # how far past an event day an item can be due
        self.dues: list[dt.date] = []
        self.windows: list[int] = []
        self.done: dict[int, tuple[dt.date, str]] = {}  # index -> (completed_on, completed_by)
        self.cancelled: dict[int, dt.date] = {}  # index -> cancelled_on (suspended items, materialise)
        self.suspensions: list[tuple[dt.date, dt.date | None]] = []

    def _generate_through(self, until: dt.date) -> None:
        """Make items until one is due after ``until`` (or the schedule ends)."""
        dues = self.dues
        if self._exhausted or (dues and dues[-1] > until):
            return  # the common case during replay: nothing new is due yet
        source, windows = self._source, self.windows
        short = self._short if self.is_lab else self._long
        long_, max_gap = self._long, self._max_gap
        if not dues:  # a day-0 item takes the window of its series' first interval (§8)
            first = next(source, None)
            if first is None:
                self._exhausted = True
                return
            self._pending = following = next(source, None)
            gap = (following - first).days if following is not None else max_gap + 1
            dues.append(first)
            windows.append(short if gap <= max_gap else long_)
        last_due = dues[-1]
        if last_due > until:
            return
        due = self._pending
        if due is not None:
            self._pending = None
            windows.append(short if (due - last_due).days <= max_gap else long_)
            dues.append(due)
            if due > until:
                return
            last_due = due
        # for loops: FOR_ITER costs less than a call of next() per due date
        long_from = self._long_from
        if len(dues) < long_from:  # a lab item's gap to the previous one decides its window (§8)
            for due in source:
                windows.append(long_ if (due - last_due).days > max_gap else short)
                dues.append(due)
                if due > until:
                    return
                last_due = due
                if len(dues) >= long_from:
                    break
            else:
                self._exhausted = True
                return
        for due in source:  # the long window from here on, without a gap to compute
            windows.append(long_)
            dues.append(due)
            if due > until:
                return
        self._exhausted = True

    def is_suspended(self, due: dt.date) -> bool:
        return any(start < due and (end is None or due <= end) for start, end in self.suspensions)

    def suspend(self, day: dt.date) -> None:
        self.suspensions.append((day, None))

    def resume(self, day: dt.date) -> None:
        if self.suspensions and self.suspensions[-1][1] is None:
            self.suspensions[-1] = (self.suspensions[-1][0], day)

    def settle(self) -> None:
        self._settled = len(self.dues)

    def candidate(self, day: dt.date) -> Item | None:
        """The earliest open item eligible on ``day``: from due - window to due + window (§8)."""
        self._generate_through(day + self._reach)
        dues, windows = self.dues, self.windows
        cursor, n = self._cursor, len(dues)
        if cursor >= self._long_from:
            # every item from here on has the long window: one is past its last eligible day if it
            # was due before day - long (a date comparison, not a subtraction, per item)
            past = day - self._reach
            while cursor < n and dues[cursor] < past:
                cursor += 1
        else:
            while cursor < n and (day - dues[cursor]).days > windows[cursor]:
                cursor += 1  # past its last eligible day
        self._cursor = cursor
        done = self.done
        for index in range(cursor, n):
            due, window = dues[index], windows[index]
            early = (due - day).days
            if early > window:
                break
            if index not in done and -early <= window and not (self.suspensions and self.is_suspended(due)):
                return Item(index + 1, due, window, window, add_days(due, window))
        return None

    def fulfil(self, item: Item, day: dt.date, event_id: str) -> None:
        self.done[item.ordinal - 1] = (day, event_id)

    def materialise(self, until: dt.date) -> None:
        limit = self.closed_on if self.closed_on is not None else until
        self._generate_through(limit)
        dues, windows = self.dues, self.windows
        while dues and dues[-1] > limit:
            dues.pop()
            windows.pop()
        # items settled when the series closed count as cancelled then, not as suspended
        for index in range(self._settled, len(dues)) if self.suspensions else ():
            due = dues[index]
            if index not in self.done and self.is_suspended(due):
                start = next(s for s, e in self.suspensions if s < due and (e is None or due <= e))
                self.cancelled[index] = start


def _window(base_month: int, base_day: int, due: dt.date, step: Step) -> int:
    """The window of an item due on ``due``, one step after the base (month_index, day) (§6)."""
    if step.window_to_months is not None:
        return (day_in_month(base_month + step.window_to_months, base_day) - due).days
    if step.window_months is not None:
        return (add_months(due, step.window_months) - due).days
    return step.window_days


def fixed_dues(start: dt.date, schedule: FixedSchedule) -> Iterator[dt.date]:
    """Due dates of a FixedSchedule's items: its listed days, then a repeat counted from the last
    listed day (or from day 0 when none are listed); finite when the schedule has no repeat.

    The listed days (a handful) are computed at once and chained to the repeat's generator, so
    each due date costs one generator step (a ``yield from`` would resume two)."""
    listed = [add_days(start, offset) for offset in schedule.days]
    base = listed[-1] if listed else start
    if schedule.then_every_months is not None:
        return chain(listed, every_months(base, schedule.then_every_months))
    if schedule.then_every_days is not None:
        return chain(listed, _every_days(base, schedule.then_every_days))
    return iter(listed)


def fixed_spaced_from(schedule: FixedSchedule, max_gap: int) -> int | None:
    """The index from which every item of ``schedule`` is due more than ``max_gap`` days after the
    previous one, if its repeat guarantees that: ``n`` months are at least ``28 * n`` days (each
    repeat date counts from the same base, so clamping to a month's end never brings two closer)."""
    every_months, every_days = schedule.then_every_months, schedule.then_every_days
    if (every_months is not None and 28 * every_months > max_gap) or (
        every_days is not None and every_days > max_gap
    ):
        return len(schedule.days)
    return None


def _every_days(base: dt.date, days: int) -> Iterator[dt.date]:
    step, due = delta(days), base
    while True:
        due += step
        yield due
