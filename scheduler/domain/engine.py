"""The rule engine: replays a patient's events day by day and keeps the book of series (§0, §9).

Each event day runs in two steps (clinical-rules §0):

1. every event of the day updates the case; then each reminder rule that one of the day's events
   *triggers* is evaluated: its condition says which series it wants, and the engine opens what
   is new, closes the held series no longer wanted and the one-offs whose end has come;
2. the day's events fulfil open items (items opened that day included, and items of series closed
   that day: a series closed on a day still takes that day's results), at most one item per
   reminder kind — except that one MDT review fulfils every eligible open review.

Which days a rule is evaluated on comes only from its declared triggers (``rules/base.py``); with
``every_day=True`` every rule is evaluated on every event day instead, which the tests use to show
that the declared triggers are complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from scheduler.domain.case import Case, kinds_done_by
from scheduler.domain.events import Event, ReminderWaivedData
from scheduler.domain.model import Waiver
from scheduler.domain.profile import ChainedSchedule, CycleSchedule, FixedSchedule, OneOffSchedule, Profile
from scheduler.domain.rules.base import Opening, SeriesRule
from scheduler.domain.series import Chained, Fixed, OneOff, Series, SeriesId


class _TypeTriggers(NamedTuple):
    """The declarations one event type triggers: ``always`` whatever its data, and per data field
    and value the ones a narrowed trigger names."""

    always: frozenset[int]
    by_field: dict[str, dict[Any, frozenset[int]]]


TriggerIndex = dict[str, _TypeTriggers]
_TRIGGER_INDEXES: dict[int, TriggerIndex] = {}


def _trigger_index(rules: Sequence[SeriesRule]) -> TriggerIndex:
    """Event type → the declarations its events trigger (by field value for narrowed triggers);
    made once per rule set."""
    index = _TRIGGER_INDEXES.get(id(rules))
    if index is None:
        always: dict[str, set[int]] = {}
        by_field: dict[str, dict[str, dict[Any, set[int]]]] = {}
        for position, rule in enumerate(rules):
            for trigger in rule.triggers:
                always.setdefault(trigger.event_type, set())
                if trigger.field is None:
                    always[trigger.event_type].add(position)
                    continue
                by_value = by_field.setdefault(trigger.event_type, {}).setdefault(trigger.field, {})
                for value in trigger.values:
                    by_value.setdefault(value, set()).add(position)
        index = {
            event_type: _TypeTriggers(
                frozenset(positions),
                {
                    name: {value: frozenset(p) for value, p in by_value.items()}
                    for name, by_value in by_field.get(event_type, {}).items()
                },
            )
            for event_type, positions in always.items()
        }
        _TRIGGER_INDEXES[id(rules)] = index
    return index


class _Covered(NamedTuple):
    """A review not opened because ``cover`` was open: ``make(day)`` opens it on ``day``."""

    state: _RuleState
    make: Callable[[dt.date], OneOff]
    cover: OneOff


class _RuleState:
    """What the engine keeps for one declaration (one rule id may declare its kinds in several):
    its open held series, its one-offs still open, and the first day of each kind's current run of
    its condition (an episode)."""

    __slots__ = ("episodes", "held", "open_oneoffs", "rule")

    def __init__(self, rule: SeriesRule) -> None:
        self.rule = rule
        self.held: dict[SeriesId, Series] = {}
        self.open_oneoffs: list[OneOff] = []
        self.episodes: dict[str, dt.date] = {}


_LAB_KINDS = frozenset({"lab_lft", "lab_cbc", "lab_tsh"})


class Engine:
    """One patient's replay: the case, every series opened so far (``series``) and, per rule
    declaration, what it holds open. ``run_day`` is called once per event day, in date order."""

    def __init__(
        self, case: Case, profile: Profile, rules: Sequence[SeriesRule], every_day: bool = False
    ) -> None:
        self.case = case
        self.profile = profile
        self.every_day = every_day
        self.series: list[Series] = []
        self._oneoffs: dict[SeriesId, OneOff] = {}  # every one-off ever opened
        self._states = [_RuleState(rule) for rule in rules]
        self._replaced = {  # a declaration that replaces another's items → that rule's declarations
            id(state): [other for other in self._states if other.rule.id == state.rule.replaces[0]]
            for state in self._states
            if state.rule.replaces is not None
        }
        # reviews not opened because another open review covered them: what to open if that one is
        # cancelled rather than held (so a covered review never vanishes with its cover)
        self._covered: dict[SeriesId, _Covered] = {}
        self._unsettled: dict[str, list[Series]] = {}  # by kind: open, or closed today
        self._closed_today: list[Series] = []
        self._by_key_prefix: dict[str, Series] = {}
        self._triggers = _trigger_index(rules)

    # ---- a day ---------------------------------------------------------------------------------

    def run_day(self, day: dt.date, events: Sequence[Event]) -> None:
        was_ended = self.case.is_ended
        for event in events:
            self.case.apply(event)
        if self.case.is_ended:
            if not was_ended:
                for series in self.series:
                    if series.is_open:
                        self._close(series, day)
                for state in self._states:
                    state.held.clear()
        else:
            triggered = range(len(self._states)) if self.every_day else sorted(self._triggered_by(events))
            for index in triggered:  # in declaration order
                self._evaluate(self._states[index], day)
        self._fulfil(day, events)
        self._waive(events)
        self._settle(day)

    def _triggered_by(self, events: Iterable[Event]) -> set[int]:
        """The indexes of the declarations that one of ``events`` triggers."""
        triggered: set[int] = set()
        for event in events:
            triggers = self._triggers.get(event.type)
            if triggers is None:
                continue
            triggered |= triggers.always
            for name, by_value in triggers.by_field.items():
                triggered |= by_value.get(getattr(event.data, name), frozenset())
        return triggered

    # ---- step one: what each rule wants -----------------------------------------------------------

    def _evaluate(self, state: _RuleState, day: dt.date) -> None:
        rule = state.rule
        openings = list(rule.condition(self.case, self.profile, day))
        held, open_oneoffs, episodes = state.held, state.open_oneoffs, state.episodes
        if not (openings or held or open_oneoffs or episodes or rule.replaces):
            return  # the common case: nothing wanted, nothing open
        holding = {o.kind for o in openings if o.anchor is None}
        for kind in [k for k in episodes if k not in holding]:
            del episodes[kind]  # the condition's run has ended
        wanted: set[SeriesId] = set()
        for opening in openings:
            anchor = opening.anchor or episodes.setdefault(opening.kind, day)
            sid = SeriesId(rule.id, opening.kind, anchor)
            schedule = rule.schedule(self.profile, opening)
            if isinstance(schedule, OneOffSchedule):
                self._open_oneoff(state, sid, opening, schedule, day)
            else:
                wanted.add(sid)
                if sid not in held:
                    held[sid] = self._held_series(rule, sid, opening, schedule, day)
                    self._open(held[sid])
        for sid in [s for s in held if s not in wanted]:
            self._close(held.pop(sid), day)
        still_open = []
        for series in open_oneoffs:
            if series.is_open and series.item.is_open and rule.ends(self.case, self.profile, series):
                self._close(series, day)
            if series.is_open and series.item.is_open:
                still_open.append(series)
        open_oneoffs[:] = still_open
        if rule.replaces is not None:
            self._replace(state, day)

    def _open(self, series: Series) -> None:
        self.series.append(series)
        self._by_key_prefix[series.key_prefix] = series
        self._unsettled.setdefault(series.kind, []).append(series)

    def _open_oneoff(
        self, state: _RuleState, sid: SeriesId, opening: Opening, schedule: OneOffSchedule, day: dt.date
    ) -> None:
        rule = state.rule
        if sid in self._oneoffs or sid in self._covered:
            return  # a one-off opens at most once per anchor
        rationale = rule.rationale(self.profile, opening.detail)

        def make(opened_on: dt.date) -> OneOff:
            return OneOff(
                sid, opened_on, rationale, rule.citation, opening.fulfils, schedule, opening.counted_from
            )

        self._open_or_cover(state, make(day), make)

    def _open_or_cover(self, state: _RuleState, series: OneOff, make: Callable[[dt.date], OneOff]) -> None:
        cover = self._covering_review(series) if state.rule.covered_by_open_review else None
        if cover is not None:
            self._covered[series.id] = _Covered(state, make, cover)
            return
        self._oneoffs[series.id] = series
        state.open_oneoffs.append(series)
        self._open(series)

    def _covering_review(self, review: OneOff) -> OneOff | None:
        """Another open review of the same kind, due no later, covers this one (v4 readings)."""
        return next(
            (
                other
                for other in self._oneoffs.values()
                if other.kind == review.kind
                and other.is_open
                and other.item.is_open
                and other.item.due <= review.item.due
            ),
            None,
        )

    def _uncover(self, day: dt.date) -> None:
        """A covering review that was held covers for good; one cancelled unheld (its series ended)
        no longer does: the review it covered opens now, unless its own end has come."""
        for sid, covered in list(self._covered.items()):
            cover = covered.cover
            if cover.item.completed_on is not None or cover.is_open:
                continue
            del self._covered[sid]
            rule = covered.state.rule
            review = covered.make(day)
            if not rule.ends(self.case, self.profile, review):
                self._open_or_cover(covered.state, review, covered.make)

    def _held_series(
        self,
        rule: SeriesRule,
        sid: SeriesId,
        opening: Opening,
        schedule: ChainedSchedule | FixedSchedule | CycleSchedule,
        day: dt.date,
    ) -> Series:
        rationale = rule.rationale(self.profile, opening.detail)
        if isinstance(schedule, ChainedSchedule):
            last_done = self.case.last_done.get(sid.kind)
            return Chained(sid, day, rationale, rule.citation, opening.fulfils, schedule, last_done)
        p = self.profile
        short = p.short_lab_window_days if sid.kind in _LAB_KINDS else p.long_window_days
        dues = schedule.dues(sid.anchor, opening.dose_on)
        windows = (short, p.long_window_days, p.short_lab_max_gap_days)
        return Fixed(sid, day, rationale, rule.citation, opening.fulfils, dues, windows)

    def _replace(self, state: _RuleState, day: dt.date) -> None:
        """While a series of a rule is open, the items of the series it replaces are suspended."""
        assert state.rule.replaces is not None
        _, target_kind = state.rule.replaces
        own = list(state.held.values())
        targets = [(sid, s) for other in self._replaced[id(state)] for sid, s in other.held.items()]
        for sid, target in targets:
            if sid.kind == target_kind and isinstance(target, Fixed):
                if own:
                    target.suspend(own[0].anchor)
                else:
                    target.resume(day)

    # ---- step two: fulfilment ---------------------------------------------------------------------

    def _fulfil(self, day: dt.date, events: Sequence[Event]) -> None:
        by_kind: dict[str, list[Event]] = {}
        for event in events:
            for kind in kinds_done_by(event):
                by_kind.setdefault(kind, []).append(event)
        for kind, results in by_kind.items():
            candidates = []
            for series in self._unsettled.get(kind, ()):
                if series.fulfils is None:  # any result of the kind (§9)
                    accepted: Event | None = results[0]
                else:
                    accepted = next((e for e in results if series.accepts(e)), None)
                item = series.candidate(day) if accepted is not None else None
                if accepted is not None and item is not None:
                    candidates.append((series, item, accepted))
            if len(candidates) > 1:  # earliest due date, then rule id, then key (§9)
                candidates.sort(key=lambda c: (c[1].due, c[0].rule, c[0].key(c[1])))
                if kind != "mdt_review":
                    candidates = candidates[:1]  # one item per kind a day; one MDT review covers all
            for series, item, event in candidates:
                series.fulfil(item, day, event.event_id)

    def _waive(self, events: Sequence[Event]) -> None:
        """A navigator's waiver cancels the item it names (after the day's results: a result of the
        same day fulfils it first). A key that names no series of this plan changes nothing."""
        for event in events:
            data = event.data
            if type(data) is ReminderWaivedData:
                prefix, ordinal = data.reminder_key.rsplit(":", 1)
                series = self._by_key_prefix.get(f"{prefix}:")
                if series is not None:
                    waiver = Waiver(event.occurred_on, data.reason, data.done_on, data.note)
                    series.waive(int(ordinal), waiver)

    def _close(self, series: Series, day: dt.date) -> None:
        series.close(day)
        self._closed_today.append(series)

    def _settle(self, day: dt.date) -> None:
        """After the day's fulfilment: series closed today cancel what is still open in them, and
        fulfil nothing after that."""
        for series in self._closed_today:
            series.settle()
            self._unsettled[series.kind].remove(series)
        if self._closed_today and self._covered and not self.case.is_ended:
            self._uncover(day)  # after follow-up ended nothing opens
        self._closed_today.clear()
