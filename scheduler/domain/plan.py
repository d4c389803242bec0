"""The follow-up plan: a pure function of (events, as_of, profile) — clinical-rules §0.

Events dated after ``as_of`` are ignored; the rest are replayed in a fixed order (date, same-day
type order, event_id), so arrival order and identical duplicates never change the result. Each
event day runs in two steps: every event updates the case and the rules open/close series; then
the day's events fulfil open items. The result lists every reminder from the start of the pathway
to the end of each finite schedule, and open-ended ones to ``as_of`` + 12 months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import attrgetter, itemgetter

from scheduler.domain.alerts import assess_alerts
from scheduler.domain.book import Book
from scheduler.domain.case import Case
from scheduler.domain.dates import add_months
from scheduler.domain.events import TYPE_ORDER, Event, Replayed, collapse_duplicates
from scheduler.domain.model import Plan, Reminder, Status, Therapy
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.domain.reminders import Planner, kinds_fulfilled_by
from scheduler.domain.series import Chained, Fixed, Item, OneOff
from scheduler.domain.stage import stage_of



def _new_reminder(cls: type[Reminder], fields: tuple[object, ...]) -> Reminder:
    return tuple.__new__(cls, (*fields, None, 0, None))  # type: ignore[type-var]


_DAY = itemgetter(0)  # of a Replayed row
# §0 orders reminders by due date, then rule id, then key. Listing the series in (rule id, key
# prefix) order (Series.order), each series' items in due order, and then sorting stably by due
# date alone gives that order with cheap date comparisons instead of a 3-tuple key per reminder:
# two reminders due the same day are then in (rule id, key) order, because keys of different series
# differ within their prefixes (``rule:kind:YYYY-MM-DD:``) and a series never has two items due the
# same day; series with the same prefix (one re-opened with its old anchor) keep the book's order,
# as their items are due on different days (the later one's on or after the day it opened).
_SERIES_ORDER = attrgetter("order")
_EVENT_ID = itemgetter(2)  # of a Replayed row
# due_on by position: attrgetter on a NamedTuple's fields costs several times more
_DUE_ON = itemgetter(Reminder._fields.index("due_on"))
_ORDINALS_CACHED = 400  # a plan has at most a few hundred items in a series (235 in the benchmark)
_ORDINAL_TEXT = tuple(str(n) for n in range(_ORDINALS_CACHED))  # str() of those ordinals, made once
_ORDINAL_TEXT_FROM_1 = _ORDINAL_TEXT[1:]  # item n's ordinal text at index n - 1, as in a fixed series' dues


def _replay_order(events: Sequence[Event], as_of: dt.date) -> list[Replayed]:
    """The events up to ``as_of``, duplicates collapsed, as rows in replay order (§0: date, same-day
    type order, event_id). Rows sort as plain tuples: nothing after the event_id is ever compared,
    as event_ids are unique once duplicates have collapsed."""
    rows = _rows(events, as_of)
    if len(set(map(_EVENT_ID, rows))) < len(rows):  # a repeated event_id (rare): see collapse_duplicates
        rows = _rows(collapse_duplicates([row[5] for row in rows]), as_of)
    rows.sort()
    return rows


def _rows(events: Iterable[Event], as_of: dt.date) -> list[Replayed]:
    """The events up to ``as_of`` as Replayed rows, in the given order.

    Each event's fields are read from its ``__dict__`` (where a pydantic model keeps them): one
    read of it costs about what one attribute read does through BaseModel's ``__getattr__`` hook,
    and a row needs four fields.
    """
    rows: list[Replayed] = []
    for e in events:
        fields = e.__dict__
        day = fields["occurred_on"]
        if day <= as_of:
            event_type = fields["type"]
            rows.append((day, TYPE_ORDER[event_type], fields["event_id"], event_type, fields["data"], e))
    return rows


def plan_follow_up(events: Sequence[Event], as_of: dt.date, profile: Profile = DEFAULT_PROFILE) -> Plan:
    """Plan one patient's follow-up as it stands on ``as_of``.

    ``events`` must belong to one patient; identical duplicates collapse and a conflicting
    duplicate raises ``EventError`` (see events.collapse_duplicates).
    """
    relevant = _replay_order(events, as_of)
    if not relevant:
        raise ValueError("no events on or before as_of")
    case = Case(relevant[0][5].patient_id, line_continuation_days=profile.line_continuation_days)
    book = Book()
    planner = Planner(case, book, profile)
    for day, group in groupby(relevant, key=_DAY):
        todays = list(group)
        if case.apply_day(
            todays
        ):  # a day of routine results only (scans, labs, visits) cannot move any rule's condition
            planner.update(day, stage_of(case, profile.small_tumour_cm))
        book.fulfil(day, todays, kinds_fulfilled_by)

    stage = stage_of(case, profile.small_tumour_cm)
    horizon = add_months(as_of, profile.horizon_months)
    reminders: list[Reminder] = []
    for series in sorted(book.series, key=_SERIES_ORDER):
        if type(series) is OneOff:  # the commonest series, and the simplest: listed inline
            reminder = _oneoff_reminder(series, series.items[0], as_of)
            if reminder is not None:
                reminders.append(reminder)
        elif isinstance(series, Fixed):
            _list_fixed(series, as_of, horizon, reminders)
        else:
            assert isinstance(series, Chained)  # a book holds one-offs, fixed and chained series
            _list_chained(series, as_of, horizon, reminders)
    reminders.sort(key=_DUE_ON)  # stable: see _SERIES_ORDER
    course = case.current_course()
    therapy = None
    if course is not None:
        therapy = Therapy(
            course.drug,
            course.dose_mg,
            course.setting,
            course.start,
            course.line if stage == "advanced" else None,
        )
    return Plan(
        patient_id=case.patient_id,
        as_of=as_of,
        risk=case.risk(),
        stage=stage,
        therapy=therapy,
        alerts=assess_alerts(case, stage, as_of, profile),
        reminders=tuple(reminders),
        profile=profile.name,
    )


def plan_patients(events: Iterable[Event], as_of: dt.date, profile: Profile = DEFAULT_PROFILE) -> list[Plan]:
    """One plan per patient with at least one event on or before ``as_of``, sorted by patient_id."""
    by_patient: dict[str, list[Event]] = {}
    for e in events:
        if e.occurred_on <= as_of:
            by_patient.setdefault(e.patient_id, []).append(e)
    return [plan_follow_up(by_patient[pid], as_of, profile) for pid in sorted(by_patient)]


def _list_chained(series: Chained, as_of: dt.date, horizon: dt.date, out: list[Reminder]) -> None:
    """Append the items of a chained series to ``out`` as reminders with their status at ``as_of``
    (§9); one-offs are listed by _oneoff_reminder (the same rules, for their single item) and fixed
    series by _list_fixed.

    Items still open in a closed series are cancelled as of its closing day (Series.settle). A
    cancelled item is listed only if it was due by the day it was cancelled (a missed or abandoned
    item); items a closed series would have had later never existed. This loop builds every
    reminder of a plan, so it reads fields into locals and appends through a bound method.
    """
    series.materialise(horizon)
    closed_on = series.closed_on
    open_ended = closed_on is None and series.end is None
    items = series.items
    kind, rule, rationale, citation = series.kind, series.rule.id, series.rationale, series.rule.citation
    prefix = series.key_prefix
    append = out.append
    for item in items:
        due = item.due
        if open_ended and due > horizon:
            break
        status: Status
        cancelled_on = item.cancelled_on
        if item.completed_on is not None:
            status = "completed"
        else:
            if cancelled_on is None:
                cancelled_on = closed_on  # still open in a closed series: cancelled when it closed
            if cancelled_on is not None:
                if due > cancelled_on:
                    continue
                status = "cancelled"
            elif as_of < due:  # _open_status, inlined (hot)
                status = "planned"
            elif (as_of - due).days <= item.window:
                status = "due"
            else:
                status = "overdue"
        append(
            _new_reminder(  # tuple.__new__: skips NamedTuple's Python-level __new__ in the hot loop
                Reminder,
                (
                    prefix + (_ORDINAL_TEXT[n] if (n := item.ordinal) < _ORDINALS_CACHED else str(n)),
                    kind,
                    due,
                    item.window,
                    status,
                    rule,
                    rationale,
                    citation,
                    item.completed_on,
                    item.completed_by,
                    cancelled_on,
                ),
            )
        )
    # the items after the replay's (Chained.materialise, which stops at the horizon or the closing
    # day): open, so cancelled only by the closing
    n = len(items)
    for due, window in series.tail:
        n += 1
        if closed_on is not None:
            if due > closed_on:
                continue
            status = "cancelled"
        else:
            status = _open_status(as_of, due, window)
        append(
            _new_reminder(
                Reminder,
                (
                    prefix + (_ORDINAL_TEXT[n] if n < _ORDINALS_CACHED else str(n)),
                    kind,
                    due,
                    window,
                    status,
                    rule,
                    rationale,
                    citation,
                    None,
                    None,
                    closed_on,
                ),
            )
        )


def _oneoff_reminder(series: OneOff, item: Item, as_of: dt.date) -> Reminder | None:
    """A one-off's single item as a reminder, or None if it was cancelled before it was due: what
    _list gives for it (a one-off is never open-ended, and its item, open in a closed series, is
    cancelled when the series closed)."""
    completed_on, due = item.completed_on, item.due
    status: Status
    cancelled_on = None
    if completed_on is not None:
        status = "completed"
    else:
        cancelled_on = item.cancelled_on or series.closed_on
        if cancelled_on is not None:
            if due > cancelled_on:
                return None
            status = "cancelled"
        else:
            status = _open_status(as_of, due, item.window)
    return _new_reminder(
        Reminder,
        (
            series.key_prefix + "1",
            series.kind,
            due,
            item.window,
            status,
            series.rule.id,
            series.rationale,
            series.rule.citation,
            completed_on,
            item.completed_by,
            cancelled_on,
        ),
    )


def _open_status(as_of: dt.date, due: dt.date, window: int) -> Status:
    """An open item's status on ``as_of`` (§0). ``_list`` and ``_list_fixed`` inline these same
    three tests in their loops (a call per reminder costs about 1 % of a plan): keep them alike."""
    if as_of < due:
        return "planned"
    if (as_of - due).days <= window:
        return "due"
    return "overdue"


def _list_fixed(series: Fixed, as_of: dt.date, horizon: dt.date, out: list[Reminder]) -> None:
    """_list for a fixed series, whose items are its parallel lists ``dues`` and ``windows``.

    A fixed series is listed to ``horizon`` or its closing day, and an open item past its window
    becomes cancelled (missed) once the next item is due (§0).
    """
    series.materialise(horizon)
    closed_on = series.closed_on
    dues, windows, done, cancelled = series.dues, series.windows, series.done, series.cancelled
    kind, rule, rationale, citation = series.kind, series.rule.id, series.rationale, series.rule.citation
    prefix = series.key_prefix
    append = out.append
    ordinals = _ORDINAL_TEXT_FROM_1 if len(dues) < _ORDINALS_CACHED else _ordinal_texts(len(dues))[1:]
    last_index = len(dues) - 1
    # closed with nothing suspended (most fixed items of a plan): every item was due by the closing
    # day (materialise drops the later ones), so each is completed, or else cancelled on that day
    closed_plainly = closed_on is not None and not cancelled
    for index, due in enumerate(dues):
        status: Status
        completed_on: dt.date | None
        cancelled_on: dt.date | None
        if done and index in done:
            completed_on, completed_by = done[index]
            status, cancelled_on = "completed", None
        elif closed_plainly:
            completed_on = completed_by = None
            status, cancelled_on = "cancelled", closed_on
        else:
            completed_on = completed_by = None
            cancelled_on = cancelled.get(index, closed_on) if cancelled else closed_on
            if cancelled_on is not None:
                if due > cancelled_on:
                    continue
                status = "cancelled"
            elif as_of < due:  # _open_status, inlined (hot), the missed test in between
                status = "planned"
            elif index < last_index and as_of > due and as_of >= dues[index + 1]:
                status, cancelled_on = "cancelled", dues[index + 1]
            elif (as_of - due).days <= windows[index]:
                status = "due"
            else:
                status = "overdue"
        append(
            _new_reminder(
                Reminder,
                (
                    prefix + ordinals[index],
                    kind,
                    due,
                    windows[index],
                    status,
                    rule,
                    rationale,
                    citation,
                    completed_on,
                    completed_by,
                    cancelled_on,
                ),
            )
        )


def _ordinal_texts(n: int) -> tuple[str, ...]:
    """str() of the ordinals 0..n, for a series longer than the cached ones."""
    return tuple(str(k) for k in range(n + 1))
