"""The follow-up plan: a pure function of (events, as_of, profile) — clinical-rules §0.

Events dated after ``as_of`` are ignored; the rest are replayed in a fixed order (date, same-day
type order, event_id), so arrival order and identical duplicates never change the result. The
engine runs each event day; the plan then lists every reminder from the start of the pathway to
the end of each finite schedule, and open-ended ones to ``as_of`` + the horizon, with each item's
status at ``as_of`` (§9), and the alerts that hold at ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from itertools import groupby

from scheduler.domain.case import Case
from scheduler.domain.dates import add_days, add_months, first_day_reaching
from scheduler.domain.engine import Engine
from scheduler.domain.events import TYPE_ORDER, Event, collapse_duplicates
from scheduler.domain.model import SEVERITY_RANK, Alert, Plan, Reminder, Status, Therapy
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.domain.rules.catalogue import ALERT_RULES, SERIES_RULES
from scheduler.domain.series import Chained, Fixed, Item, Series
from scheduler.domain.stage import stage_of


def replay_order(events: Sequence[Event], as_of: dt.date) -> list[Event]:
    """The events up to ``as_of``, identical duplicates collapsed, in replay order (§0)."""
    relevant = collapse_duplicates(e for e in events if e.occurred_on <= as_of)
    return sorted(relevant, key=lambda e: (e.occurred_on, TYPE_ORDER[e.type], e.event_id))


def replay(
    events: Sequence[Event], as_of: dt.date, profile: Profile = DEFAULT_PROFILE, *, every_day: bool = False
) -> Engine:
    """Replay a patient's events up to ``as_of``; the engine holds the case and the series."""
    relevant = replay_order(events, as_of)
    if not relevant:
        raise ValueError("no events on or before as_of")
    case = Case(relevant[0].patient_id, line_continuation_days=profile.line_continuation_days)
    engine = Engine(case, profile, SERIES_RULES, every_day=every_day)
    for day, todays in groupby(relevant, key=lambda e: e.occurred_on):
        engine.run_day(day, list(todays))
    return engine


def plan_follow_up(events: Sequence[Event], as_of: dt.date, profile: Profile = DEFAULT_PROFILE) -> Plan:
    """Plan one patient's follow-up as it stands on ``as_of``.

    ``events`` must belong to one patient; identical duplicates collapse and a conflicting
    duplicate raises ``EventError`` (see events.collapse_duplicates).
    """
    next_event_on = min((e.occurred_on for e in events if e.occurred_on > as_of), default=None)
    return plan_from(replay(events, as_of, profile), as_of, next_event_on=next_event_on)


def plan_from(engine: Engine, as_of: dt.date, *, next_event_on: dt.date | None = None) -> Plan:
    """The plan at ``as_of`` of a replayed engine; ``next_event_on``, the first event dated after
    ``as_of`` already known, bounds ``Plan.changes_on``."""
    case, profile = engine.case, engine.profile
    stage = stage_of(case, profile)
    horizon = add_months(as_of, profile.horizon_months)
    reminders: list[Reminder] = []
    changes = [next_event_on]
    for series in sorted(engine.series, key=lambda s: (s.rule, s.key(s.items[0]) if s.items else "")):
        reminders.extend(list_series(series, as_of, horizon, case))
        changes.append(series_changes_on(series, as_of, horizon, profile.horizon_months))
    reminders.sort(key=lambda r: (r.due_on, r.rule, r.key))
    alerts = assess_alerts(case, profile, as_of)
    if not case.is_ended:
        changes.extend(rule.changes_on(case, profile, as_of) for rule in ALERT_RULES if rule.changes_on)
    course = case.current_course()
    therapy = None
    if course is not None:
        line = course.line if stage == "advanced" else None
        therapy = Therapy(course.drug, course.dose_mg, course.setting, course.start, line)
    return Plan(
        patient_id=case.patient_id,
        as_of=as_of,
        risk=case.risk(),
        stage=stage,
        therapy=therapy,
        alerts=alerts,
        reminders=tuple(reminders),
        profile=profile.name,
        changes_on=min((day for day in changes if day is not None and day > as_of), default=None),
    )


def plan_patients(events: Iterable[Event], as_of: dt.date, profile: Profile = DEFAULT_PROFILE) -> list[Plan]:
    """One plan per patient with at least one event on or before ``as_of``, sorted by patient_id."""
    by_patient: dict[str, list[Event]] = {}
    for e in events:
        if e.occurred_on <= as_of:
            by_patient.setdefault(e.patient_id, []).append(e)
    return [plan_follow_up(by_patient[pid], as_of, profile) for pid in sorted(by_patient)]


def assess_alerts(case: Case, profile: Profile, as_of: dt.date) -> tuple[Alert, ...]:
    """The alerts that hold at ``as_of`` (none after follow-up ended), most severe first."""
    if case.is_ended:
        return ()
    alerts = []
    for rule in ALERT_RULES:
        finding = rule.condition(case, profile, as_of)
        if finding is not None:
            message = rule.message(finding, profile)
            alerts.append(
                Alert(rule.code, finding.severity, message, rule.id, finding.citation or rule.citation)
            )
    alerts.sort(key=lambda a: (-SEVERITY_RANK[a.severity], a.rule, a.code))
    return tuple(alerts)


# ---- listing ------------------------------------------------------------------------------------


def _listed_to_horizon(series: Series) -> bool:
    """An open series without a fixed end is listed up to the horizon; the others to their end."""
    if series.closed_on is not None:
        return False
    return isinstance(series, Fixed) or (isinstance(series, Chained) and series.end is None)


def list_series(series: Series, as_of: dt.date, horizon: dt.date, case: Case) -> list[Reminder]:
    """A series' items as reminders with their status at ``as_of`` (§0, §9).

    * An item replaced by another series (suspended) is not listed.
    * An open item of a closed series is cancelled when the series closed; a cancelled item is
      listed only if it was due by the day it was cancelled (items a closed series would only have
      had later never existed).
    * An unfulfilled item whose window has passed is cancelled as *missed* once the next item of
      its series is due (at ``as_of``, or by the closing day of a closed series).
    * The open item after a run of missed items carries ``overdue_since`` (the first missed item's
      due date) and ``missed`` (how many).
    * A waived item is listed, cancelled with its waiver, even before its due date; an open item
      shows the navigator's latest booking and snooze of its key (from ``case``), and the latest
      result of its kind (``last_done_on``).
    """
    items = series.items_until(horizon)
    if _listed_to_horizon(series):
        items = [item for item in items if item.due <= horizon]
    last_done = case.last_done.get(series.kind)
    judged_on = series.closed_on or as_of  # supersession is judged on this day
    out: list[Reminder] = []
    run_start: dt.date | None = None
    run_length = 0
    for index, item in enumerate(items):
        if item.suspended:
            run_start, run_length = None, 0
            continue
        following = items[index + 1] if index + 1 < len(items) else None
        if (
            following is not None
            and following.due <= judged_on
            and item.is_missed_by(judged_on, following.due)
        ):
            item.supersede(following.due)
        status, cancelled_on = _status(series, item, as_of)
        if status == "cancelled" and cancelled_on is not None and item.due > cancelled_on and not item.waiver:
            continue
        overdue_since, missed = None, 0
        if item.missed:
            run_start, run_length = run_start or item.due, run_length + 1
        elif status in ("planned", "due", "overdue"):
            overdue_since, missed = run_start, run_length
            run_start, run_length = None, 0
        else:
            run_start, run_length = None, 0
        key = series.key(item)
        is_open = status in ("planned", "due", "overdue")
        booking = case.bookings.get(key) if is_open else None
        snoozed_until = case.snoozes.get(key) if is_open else None
        out.append(
            Reminder(  # fields in the order of event-contract.md §2, then the extra ones
                key,
                series.kind,  # type: ignore[arg-type]
                item.due,
                item.window,
                status,
                series.rule,
                series.rationale,
                series.citation,
                item.completed_on,
                item.completed_by,
                cancelled_on,
                overdue_since,
                missed,
                last_done if is_open else None,
                booking,
                snoozed_until,
                item.waiver if status == "cancelled" else None,
            )
        )
    return out


def series_changes_on(
    series: Series, as_of: dt.date, horizon: dt.date, horizon_months: int
) -> dt.date | None:
    """The first day after ``as_of`` on which ``list_series`` would list this series differently,
    statuses aside, with no new event (called after it). A closed series is judged on its closing
    day, so it never changes; an open one changes when an open item is superseded (its window has
    passed and the next item is due) and, if open-ended, when the next item enters the horizon."""
    if series.closed_on is not None:
        return None
    days: list[dt.date] = []
    items = series.items
    for index, item in enumerate(items[:-1]):
        if item.is_open and not item.suspended:
            days.append(max(items[index + 1].due, add_days(item.due, item.window + 1)))
    if _listed_to_horizon(series):
        beyond = series.first_due_after(horizon)
        if beyond is not None:
            days.append(first_day_reaching(beyond, horizon_months))
    return min((day for day in days if day > as_of), default=None)


def _status(series: Series, item: Item, as_of: dt.date) -> tuple[Status, dt.date | None]:
    if item.completed_on is not None:
        return "completed", None
    cancelled_on = item.cancelled_on or series.closed_on
    if cancelled_on is not None:
        return "cancelled", cancelled_on
    if as_of < item.due:
        return "planned", None
    if (as_of - item.due).days <= item.window:
        return "due", None
    return "overdue", None
