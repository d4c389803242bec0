"""The navigator's worklist (event-contract.md ``GET /api/worklist``): what needs doing,
for the patients the caller may see. Shared by the JSON API, the dashboard, the CSV export and
the digest. It is a read model: its queries, tuned to the indexes below, are the module.

* ``overdue`` — open reminders past their window, oldest first;
* ``due_soon`` — reminders due now (window open) and planned ones due by ``today + days``;
* ``alerts`` — active alerts, critical first, then warning, then info (unacknowledged first,
  newest first);
* ``failed_notifications`` — emails that finally failed (a bad address, no navigator email, a
  5xx), newest first: someone has to tell the patient another way.

* ``snoozed`` — what a navigator snoozed until after ``today`` and would otherwise be listed
  above (open, up to the horizon or with missed items), soonest back first, with ``snoozed_until``:
  in no other section and no other count until the snooze's day, yet never out of sight.

A booked reminder carries its ``booking``.

Each section lists at most ``limit`` items (100 unless asked, at most 500); ``counts`` are exact,
except that for a caller who sees everyone each count stops at ``COUNT_CAP`` (10,000) and
``capped_counts`` names those that did.
Statuses are as stored (the clock's daily run moves them with the calendar), so a
``due`` reminder has ``due_on <= today`` and a ``planned`` one ``due_on > today``: due soon is
``status IN ('due', 'planned') AND due_on <= today + days``, an index range.

How it stays fast at 100,000 patients (docs/performance.md §4): every reminder and alert carries
its patient's ``navigator_id`` (``scheduler.patients.processing`` keeps the copies), so a navigator's open
reminders up to the horizon are one range of ``ix_reminders_navigator_open``, counted and ranked
by window functions over the index alone in one statement that reads whole only the rows shown;
their alerts likewise over ``ix_alerts_active_navigator``. For a caller who sees everyone there
is no filter at all: counts are index-only range scans (``ix_reminders_status_due``, the alert
partial indexes) that stop at the cap, and the lists are ordered index scans that stop at the
limit. The snoozed are left out by id, from one short range of ``ix_reminders_snoozed`` (ids are
in every open-reminder index, so the scans stay index-only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from models.rows import AlertRow, NotificationRow, PatientRow, ReminderRow
from models.statuses import (
    FAILED_NOTIFICATION_SQL,
    MISSED_REMINDER_SQL,
    SNOOZED_REMINDER_SQL,
    SOON_REMINDER_SQL,
    ReminderStatus,
)
from notifications.labels import booking_text, label, missed_text
from scheduler.staff.access import Principal, may_see
from scheduler.staff.repository import OPEN_REMINDER

DEFAULT_DAYS = 7
DEFAULT_ITEMS = 100  # per section
MAX_ITEMS = 500
# A caller who sees everyone gets reminder counts exact up to this, then "at least this" (named in
# ``capped_counts``): counting 176,000 overdue reminders of 100,000 patients exactly took 40–70 ms
# of a 100 ms budget, to tell a clinician what "10,000+" tells them. A navigator's are exact.
COUNT_CAP = 10_000
SEVERITY_ORDER = ("critical", "warning", "info")
# Literally the partial indexes' predicates (SQLite uses a partial index only when the query says
# the same with the same constants).
ACTIVE = text("alerts.is_active")
MISSED_REMINDER = text(f"reminders.{MISSED_REMINDER_SQL.replace(' AND ', ' AND reminders.')}")
SOON_REMINDER = text(f"reminders.{SOON_REMINDER_SQL.replace(' AND ', ' AND reminders.')}")
SNOOZED_REMINDER = text(f"reminders.{SNOOZED_REMINDER_SQL}")
FAILED = text(f"notifications.{FAILED_NOTIFICATION_SQL}")

Shown = Any  # a Row of REMINDER_COLUMNS or ALERT_COLUMNS (SQLAlchemy's Row types them column by column)
# What the worklist shows of each row (selected as columns: ORM objects cost more than the SQL).
REMINDER_COLUMNS = (
    ReminderRow.id, ReminderRow.patient_id, ReminderRow.key, ReminderRow.kind, ReminderRow.due_on,
    ReminderRow.window_days, ReminderRow.status, ReminderRow.rule, ReminderRow.rationale,
    ReminderRow.citation, ReminderRow.overdue_since, ReminderRow.missed, ReminderRow.last_done_on,
    ReminderRow.appointment_on, ReminderRow.appointment_place,
)  # fmt: skip
ALERT_COLUMNS = (
    AlertRow.id, AlertRow.patient_id, AlertRow.code, AlertRow.severity, AlertRow.message, AlertRow.rule,
    AlertRow.citation, AlertRow.first_seen_at, AlertRow.acknowledged_at, AlertRow.acknowledged_by,
    AlertRow.acknowledgement_note,
)  # fmt: skip
# The reminder sections' orders and conditions (see _listed).
ORDER = (ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
MISSED_ORDER = (ReminderRow.overdue_since, ReminderRow.patient_id, ReminderRow.id)
IS_OVERDUE = ReminderRow.status == ReminderStatus.OVERDUE
IS_SOON = ReminderRow.status.in_((ReminderStatus.DUE, ReminderStatus.PLANNED))
NOT_MISSED = ReminderRow.overdue_since.is_(None)


def worklist(
    session: Session,
    principal: Principal,
    today: dt.date,
    *,
    kind: str | None = None,
    severity: str | None = None,
    days: int = DEFAULT_DAYS,
    limit: int = DEFAULT_ITEMS,
    count_cap: int | None = None,
    with_names: bool = False,
) -> dict[str, Any]:
    """The worklist as JSON-ready data. ``with_names`` adds ``names`` (patient id → name) for the
    patients listed, read in the same statements (the dashboard shows them; the API does not)."""
    limit = max(1, min(limit, MAX_ITEMS))
    horizon = today + dt.timedelta(days=days)
    scope = None if principal.sees_all else principal.navigator_id or ""
    cap = COUNT_CAP if count_cap is None else count_cap
    if scope is None:
        overdue, soon, n_overdue, n_soon = _reminders_of_everyone(session, today, horizon, kind, limit, cap)
        alerts, n_alerts, n_critical = _alerts_of_everyone(session, severity, limit, cap)
    else:
        overdue, soon, n_overdue, n_soon = _reminders_of(session, scope, today, horizon, kind, limit)
        alerts, n_alerts, n_critical = _alerts_of(session, scope, severity, limit)
    failed, n_failed = _failed_notifications(session, scope, limit)
    snoozed, n_snoozed = _snoozed(session, scope, today, horizon, kind, limit, cap if scope is None else None)
    counts = {
        "overdue": n_overdue,
        "due_soon": n_soon,
        "alerts": n_alerts,
        "critical": n_critical,
        "failed_notifications": n_failed,
        "snoozed": n_snoozed,
    }
    found: dict[str, Any] = {
        "as_of": today.isoformat(),
        "counts": {name: min(n, cap) if scope is None else n for name, n in counts.items()},
        "capped_counts": [name for name, n in counts.items() if scope is None and n > cap],
        "overdue": [reminder_json(r, today) for r in overdue],
        "due_soon": [reminder_json(r, today) for r in soon],
        "alerts": [alert_json(a) for a in alerts],
        "failed_notifications": [failure_json(row[0]) for row in failed],
        "snoozed": [snoozed_json(r, today) for r in snoozed],
    }
    if with_names:
        names = {row.patient_id: row.patient_name for row in (*overdue, *soon, *alerts, *snoozed)}
        names |= {row[0].patient_id: row.patient_name for row in failed if row[0].patient_id}
        found["names"] = names
    return found


def worklist_item(
    session: Session, principal: Principal, patient_id: str, key: str, today: dt.date
) -> dict[str, Any] | None:
    """One reminder of a patient the caller may see, as the worklist lists it, with its stored
    ``status``, ``snoozed_until`` and the patient's ``name``; None when there is no such reminder
    or the caller may not see the patient (the two look alike from outside)."""
    if not may_see(session, principal, patient_id):
        return None
    row = session.execute(
        select(*REMINDER_COLUMNS, ReminderRow.snoozed_until, _name_of(ReminderRow.patient_id)).where(
            ReminderRow.patient_id == patient_id, ReminderRow.key == key
        )
    ).first()
    return None if row is None else snoozed_json(row, today) | {"patient_name": row.patient_name}


def _name_of(patient_id: Any) -> Any:
    """The patient's name, for the dashboard (``with_names``), as a subquery per row shown: a join
    let the planner, misjudging how few rows the ranking keeps, hash all 100,000 patients."""
    return (
        select(PatientRow.name)
        .where(PatientRow.patient_id == patient_id)
        .scalar_subquery()
        .label("patient_name")
    )


def _patients_of(navigator_id: str) -> Any:
    return select(PatientRow.patient_id).where(PatientRow.navigator_id == navigator_id)


def _count(table: Any, cap: int | None, *where: Any) -> Any:
    """``count(*)`` of the rows matching ``where`` as a scalar subquery; with a ``cap``, an index
    range scan that stops after ``cap + 1`` rows (more than ``cap`` then means "at least ``cap``")."""
    if cap is None:
        return select(func.count()).select_from(table).where(*where).scalar_subquery()
    found = select(literal(1)).select_from(table).where(*where).limit(cap + 1).subquery()
    return select(func.count()).select_from(found).scalar_subquery()


def _reminders_of(
    session: Session, navigator_id: str, today: dt.date, horizon: dt.date, kind: str | None, limit: int
) -> tuple[list[Shown], list[Shown], int, int]:
    """``ix_reminders_navigator_open`` is (navigator_id, status, due_on): the overdue list is one
    ordered range that stops at ``limit``, due soon two short ranges (due; planned up to the
    horizon) and each count an index-only range scan."""
    scope = [ReminderRow.navigator_id == navigator_id, _awake(today, navigator_id)]
    where = [*scope, OPEN_REMINDER, ReminderRow.due_on <= horizon]
    return _listed(session, scope, where, kind, limit, cap=None)


def _reminders_of_everyone(
    session: Session, today: dt.date, horizon: dt.date, kind: str | None, limit: int, cap: int
) -> tuple[list[Shown], list[Shown], int, int]:
    """No filter but the section: each list an ordered scan of ``ix_reminders_status_due`` that
    stops at ``limit`` (due soon: one for due, one for planned), each count an index-only range
    scan that stops after ``cap + 1``."""
    awake = _awake(today, None)
    where = [ReminderRow.due_on <= horizon, awake]
    return _listed(session, [awake], where, kind, limit, cap=cap, split_soon=True)


def _awake(today: dt.date, navigator_id: str | None) -> Any:
    """Not snoozed past ``today``: the id is not among the reminders a navigator snoozed until after
    today (of ``navigator_id``'s patients, or everyone's), one short range of
    ``ix_reminders_snoozed``; the ids are in every open-reminder index, so the sections stay the
    index scans they were."""
    snoozed = select(ReminderRow.id).where(SNOOZED_REMINDER, ReminderRow.snoozed_until > today)
    if navigator_id is not None:
        snoozed = snoozed.where(ReminderRow.navigator_id == navigator_id)
    return ReminderRow.id.not_in(snoozed.correlate(None))


def _listed(
    session: Session,
    scope: list[Any],
    where: list[Any],
    kind: str | None,
    limit: int,
    *,
    cap: int | None,
    split_soon: bool = False,
) -> tuple[list[Shown], list[Shown], int, int]:
    """Both reminder sections and their counts in one statement: the first ``limit`` ids of each
    section (:func:`_first_ids`), then only those rows read whole, with the counts as uncorrelated
    subqueries (:func:`_section_counts`: computed once; stopping after ``cap + 1`` when there is a
    ``cap``), split into the sections by :func:`_sections`. ``where`` selects the open reminders
    up to the horizon in ``scope`` (the caller's patients; empty: everyone's); ``split_soon``: see
    :func:`_soon_parts`."""
    of_kind = [ReminderRow.kind == kind] if kind else []
    where = [*where, *of_kind]
    missed_where = [*scope, MISSED_REMINDER, *of_kind]  # whatever their own due date
    soon_parts = _soon_parts(split_soon)
    rows = session.execute(
        select(
            *_section_counts(where, missed_where, soon_parts, cap),
            *REMINDER_COLUMNS,
            _name_of(ReminderRow.patient_id),
        ).where(ReminderRow.id.in_(_first_ids(where, missed_where, soon_parts, limit)))
    ).all()
    if not rows:
        return [], [], 0, 0
    overdue, soon = _sections(rows, limit)
    first_row = rows[0]
    return overdue, soon, int(first_row.n_overdue) + int(first_row.n_missed_soon), int(first_row.n_soon)


def _soon_parts(split_soon: bool) -> list[Any]:
    """Due soon as one condition (due or planned), or, with ``split_soon``, as one per status, each
    said as ``ix_reminders_soon``'s predicate: without a leading equality the index gives no order
    to an ``IN``, and the planner, taking due dates and statuses as independent, judged that a
    table scan would find ``cap + 1`` planned reminders due by the horizon early (a few percent of
    them are). A sum of counts each capped at ``cap + 1`` is above ``cap`` exactly when the true
    sum is."""
    if not split_soon:
        return [IS_SOON]
    return [
        and_(ReminderRow.status == status, SOON_REMINDER)
        for status in (ReminderStatus.DUE, ReminderStatus.PLANNED)
    ]


def _first_ids(where: list[Any], missed_where: list[Any], soon_parts: list[Any], limit: int) -> Any:
    """The ids of the first ``limit`` of each part of the sections, each an ordered index scan in a
    subquery (so that SQLite takes its ORDER BY and LIMIT): ``status = 'overdue'`` by ``due_on``;
    every open reminder with missed items before it (``overdue_since`` set, whatever its own
    status) by ``overdue_since``, from the small ``ix_reminders_*missed`` indexes; and due soon
    without the reminders with missed items (they are overdue)."""

    def first(conditions: list[Any], ordered_by: tuple[Any, ...]) -> Any:
        ranked = select(ReminderRow.id).where(*conditions).order_by(*ordered_by).limit(limit).subquery()
        return select(ranked.c.id)

    return union_all(
        first([*where, IS_OVERDUE], ORDER),
        first(missed_where, MISSED_ORDER),
        *(first([*where, section, NOT_MISSED], ORDER) for section in soon_parts),
    )


def _section_counts(
    where: list[Any], missed_where: list[Any], soon_parts: list[Any], cap: int | None
) -> tuple[Any, Any, Any]:
    """``n_overdue`` and ``n_missed_soon`` (open, not yet past their own window, with missed items),
    which together count the overdue section, and ``n_soon``."""
    missed_soon = [*missed_where, IS_SOON]
    n_soon = sum((_count(ReminderRow, cap, *where, part, NOT_MISSED) for part in soon_parts), literal(0))
    return (
        _count(ReminderRow, cap, *where, IS_OVERDUE).label("n_overdue"),
        _count(ReminderRow, cap, *missed_soon).label("n_missed_soon"),
        n_soon.label("n_soon"),
    )


def _sections(rows: Sequence[Shown], limit: int) -> tuple[list[Shown], list[Shown]]:
    """The rows read split into overdue and due soon, each its first ``limit``. Overdue merges its
    two parts by the effective date ``COALESCE(overdue_since, due_on)``: each part's first
    ``limit`` by its own order hold the merged first ``limit``, since an item listed before another
    in either part also comes before it by the effective date."""
    overdue = sorted(
        (row for row in rows if row.status == ReminderStatus.OVERDUE or row.overdue_since is not None),
        key=lambda row: (row.overdue_since or row.due_on, row.patient_id, row.id),
    )[:limit]
    soon = sorted(
        (row for row in rows if row.status != ReminderStatus.OVERDUE and row.overdue_since is None),
        key=lambda row: (row.due_on, row.patient_id, row.id),
    )[:limit]
    return overdue, soon


def _alerts_of(
    session: Session, navigator_id: str, severity: str | None, limit: int
) -> tuple[list[Shown], int, int]:
    """A navigator's active alerts: counts by severity, then the first ``limit`` (critical first,
    unacknowledged first, newest first), ranked over one range of ``ix_alerts_active_navigator``;
    only the rows shown are read whole."""
    mine: list[Any] = [AlertRow.navigator_id == navigator_id, ACTIVE]
    counts: dict[str, int] = dict(
        session.execute(
            select(AlertRow.severity, func.count()).where(*mine).group_by(AlertRow.severity)
        ).all()
    )
    if severity:
        mine.append(AlertRow.severity == severity)
    rank = case(
        {level: n for n, level in enumerate(SEVERITY_ORDER)},
        value=AlertRow.severity,
        else_=len(SEVERITY_ORDER),
    )
    order = (rank, AlertRow.acknowledged_at.is_not(None), AlertRow.first_seen_at.desc(), AlertRow.id)
    # LIMIT, not a row_number() filter: the planner then knows how few rows come out and reads
    # them by primary key (with a window it hashed all 40,000 active alerts).
    shown = select(AlertRow.id).where(*mine).order_by(*order).limit(limit).subquery()
    rows = session.execute(
        select(*ALERT_COLUMNS, _name_of(AlertRow.patient_id))
        .where(AlertRow.id.in_(select(shown.c.id)))
        .order_by(*order)
    ).all()
    total = counts.get(severity, 0) if severity else sum(counts.values())
    return list(rows), int(total), int(counts.get("critical", 0))


def _alerts_of_everyone(
    session: Session, severity: str | None, limit: int, cap: int
) -> tuple[list[Shown], int, int]:
    """Counts in one statement of index-only range scans that stop after ``cap + 1`` (exact counts of
    40,000 active alerts took 11 ms); the list one severity and acknowledgement state at a time
    (each an ordered scan of a partial index), stopping once ``limit`` are found."""

    def of_level(level: str) -> Any:  # the two partial indexes, each a range on severity
        return sum(
            (
                _count(AlertRow, cap, ACTIVE, AlertRow.severity == level, state)
                for state in (AlertRow.acknowledged_at.is_(None), AlertRow.acknowledged_at.is_not(None))
            ),
            literal(0),
        )

    total = of_level(severity) if severity else _count(AlertRow, cap, ACTIVE)
    n_total, n_critical = session.execute(select(total, of_level("critical"))).one()
    levels = [severity] if severity else [*SEVERITY_ORDER]
    rows: list[Shown] = []
    for level in levels:
        for acknowledged in (False, True):
            if len(rows) >= limit:
                break
            state = (
                AlertRow.acknowledged_at.is_not(None) if acknowledged else AlertRow.acknowledged_at.is_(None)
            )
            rows += session.execute(
                select(*ALERT_COLUMNS, _name_of(AlertRow.patient_id))
                .where(ACTIVE, AlertRow.severity == level, state)
                .order_by(AlertRow.first_seen_at.desc(), AlertRow.id)
                .limit(limit - len(rows))
            ).all()
    return rows, int(n_total), int(n_critical)


def _snoozed(
    session: Session,
    navigator_id: str | None,
    today: dt.date,
    horizon: dt.date,
    kind: str | None,
    limit: int,
    cap: int | None,
) -> tuple[list[Shown], int]:
    """The open reminders snoozed past ``today`` that the sections would otherwise list (up to the
    horizon, or with missed items), soonest back first, with the count of all: a short range of
    the small ``ix_reminders_snoozed`` (only snoozed rows are in it)."""
    where: list[Any] = [
        SNOOZED_REMINDER,
        ReminderRow.snoozed_until > today,
        OPEN_REMINDER,
        or_(ReminderRow.due_on <= horizon, ReminderRow.overdue_since.is_not(None)),
    ]
    if navigator_id is not None:
        where.append(ReminderRow.navigator_id == navigator_id)
    if kind:
        where.append(ReminderRow.kind == kind)
    rows = session.execute(
        select(
            _count(ReminderRow, cap, *where).label("total"),
            *REMINDER_COLUMNS,
            ReminderRow.snoozed_until,
            _name_of(ReminderRow.patient_id),
        )
        .where(*where)
        .order_by(ReminderRow.snoozed_until, ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
        .limit(limit)
    ).all()
    return list(rows), int(rows[0].total) if rows else 0


def _failed_notifications(session: Session, navigator_id: str | None, limit: int) -> tuple[list[Shown], int]:
    """Newest first, with the count of all (an uncorrelated subquery: computed once) and names."""
    where: list[Any] = [FAILED]
    if navigator_id is not None:  # their patients, and their own digests (no patient on them)
        where.append(
            or_(
                NotificationRow.patient_id.in_(_patients_of(navigator_id)),
                and_(NotificationRow.patient_id.is_(None), NotificationRow.navigator_id == navigator_id),
            )
        )
    found = session.execute(
        select(
            NotificationRow,
            _count(NotificationRow, None, *where).label("total"),
            _name_of(NotificationRow.patient_id),
        )
        .where(*where)
        .order_by(NotificationRow.updated_at.desc(), NotificationRow.id.desc())
        .limit(limit)
    ).all()
    return list(found), int(found[0].total) if found else 0


def reminder_json(r: Shown, today: dt.date) -> dict[str, Any]:
    """A reminder as the worklist lists it (from a ``ReminderRow`` or a row of ``REMINDER_COLUMNS``).
    One with missed items before it is overdue since the first of them: ``days_overdue`` counts
    from the end of that item's window, and ``missed_text`` says it in words."""
    since_on = r.overdue_since or r.due_on
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "key": r.key,
        "kind": r.kind,
        "label": label(r.kind).summary,
        "due_on": r.due_on.isoformat(),
        "window_days": r.window_days,
        "days_overdue": max(0, (today - (since_on + dt.timedelta(days=r.window_days))).days),
        "status": r.status,
        "rule": r.rule,
        "rationale": r.rationale,
        "citation": r.citation,
        "overdue_since": r.overdue_since.isoformat() if r.overdue_since else None,
        "missed": r.missed or 0,
        "last_done_on": r.last_done_on.isoformat() if r.last_done_on else None,
        "missed_text": (
            missed_text(r.overdue_since, r.missed or 0, r.last_done_on) if r.overdue_since else None
        ),
        "booking": (
            {"appointment_on": r.appointment_on.isoformat(), "place": r.appointment_place}
            if r.appointment_on
            else None
        ),
        "booking_text": (
            booking_text(r.appointment_on, r.appointment_place, r.due_on) if r.appointment_on else None
        ),
    }


def snoozed_json(r: Shown, today: dt.date) -> dict[str, Any]:
    """:func:`reminder_json` with the row's ``snoozed_until`` (None when it was never snoozed)."""
    until = r.snoozed_until
    return reminder_json(r, today) | {"snoozed_until": until.isoformat() if until else None}


def alert_json(a: Shown) -> dict[str, Any]:
    return {
        "id": a.id,
        "patient_id": a.patient_id,
        "code": a.code,
        "severity": a.severity,
        "message": a.message,
        "rule": a.rule,
        "citation": a.citation,
        "first_seen_at": a.first_seen_at.isoformat(),
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
        "acknowledgement_note": a.acknowledgement_note,
    }


def failure_json(n: NotificationRow) -> dict[str, Any]:
    return {
        "id": n.id,
        "patient_id": n.patient_id,
        "kind": n.kind,
        "audience": n.audience,
        "due_on": n.due_on.isoformat() if n.due_on else None,
        "attempts": n.attempts,
        "error": n.last_error,
        "failed_at": n.updated_at.isoformat(),
    }
