"""The navigator's worklist (issue 5; event-contract.md ``GET /api/worklist``): what needs doing,
for the patients the caller may see. Shared by the JSON API and the dashboard.

* ``overdue`` — open reminders past their window, oldest first;
* ``due_soon`` — reminders due now (window open) and planned ones due by ``today + days``;
* ``alerts`` — active alerts, critical first, then warning, then info (unacknowledged first,
  newest first);
* ``failed_notifications`` — emails that finally failed (a bad address, no navigator email, a
  5xx), newest first: someone has to tell the patient another way.

Each section lists at most ``limit`` items (100 unless asked, at most 500); ``counts`` are exact,
except that for a caller who sees everyone the reminder counts stop at ``COUNT_CAP`` (10,000) and
``capped_counts`` names those that did.
Statuses are as the workers last stored them (the clock recomputes every patient daily), so a
``due`` reminder has ``due_on <= today`` and a ``planned`` one ``due_on > today``: due soon is
``status IN ('due', 'planned') AND due_on <= today + days``, an index range.

How it stays fast at 100,000 patients (docs/performance.md §4): for a navigator, one index-only
statement over ``ix_reminders_open`` returns the (id, status, due_on, patient) of
every open reminder of their patients up to the horizon, which is counted and ranked here, and only
the rows shown are then read whole; alerts likewise over ``ix_alerts_active_patient_severity``.
For a caller who sees everyone there is no patient filter at all: counts are index-only range
scans of ``ix_reminders_status_due`` that stop at the cap, and the lists are ordered index scans
that stop at the limit.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, text
from sqlalchemy.orm import Session

from models.rows import OPEN_REMINDER_SQL, AlertRow, NotificationRow, PatientRow, ReminderRow
from notifications.labels import label
from scheduler.access import Principal

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
OPEN_REMINDER = text(f"reminders.{OPEN_REMINDER_SQL}")

Shown = Any  # a Row of REMINDER_COLUMNS or ALERT_COLUMNS (SQLAlchemy's Row types them column by column)
# What the worklist shows of each row (selected as columns: ORM objects cost more than the SQL).
REMINDER_COLUMNS = (
    ReminderRow.id, ReminderRow.patient_id, ReminderRow.key, ReminderRow.kind, ReminderRow.due_on,
    ReminderRow.window_days, ReminderRow.status, ReminderRow.rule, ReminderRow.rationale,
    ReminderRow.citation,
)  # fmt: skip
ALERT_COLUMNS = (
    AlertRow.id, AlertRow.patient_id, AlertRow.code, AlertRow.severity, AlertRow.message, AlertRow.rule,
    AlertRow.citation, AlertRow.first_seen_at, AlertRow.acknowledged_at, AlertRow.acknowledged_by,
    AlertRow.acknowledgement_note,
)  # fmt: skip


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
    capped: list[str] = []
    if scope is None:
        overdue, soon, n_overdue, n_soon, more_overdue, more_soon = _reminders_of_everyone(
            session, horizon, kind, limit, COUNT_CAP if count_cap is None else count_cap
        )
        capped += ["overdue"] * more_overdue + ["due_soon"] * more_soon
        alert_ids, n_alerts, n_critical = _alerts_of_everyone(session, severity, limit)
    else:
        overdue, soon, n_overdue, n_soon = _reminders_of(session, scope, horizon, kind, limit)
        alert_ids, n_alerts, n_critical = _alerts_of(session, scope, severity, limit)
    alerts = _alerts_by_id(session, alert_ids)
    failed, n_failed = _failed_notifications(session, scope, limit)
    found: dict[str, Any] = {
        "as_of": today.isoformat(),
        "counts": {
            "overdue": n_overdue,
            "due_soon": n_soon,
            "alerts": n_alerts,
            "critical": n_critical,
            "failed_notifications": n_failed,
        },
        "capped_counts": capped,
        "overdue": [reminder_json(r, today) for r in overdue],
        "due_soon": [reminder_json(r, today) for r in soon],
        "alerts": [alert_json(a) for a in alerts],
        "failed_notifications": [failure_json(n) for n in failed],
    }
    if with_names:
        names = {row.patient_id: row.patient_name for row in (*overdue, *soon, *alerts)}
        unnamed = {n.patient_id for n in failed if n.patient_id and n.patient_id not in names}
        if unnamed:
            query = select(PatientRow.patient_id, PatientRow.name).where(PatientRow.patient_id.in_(unnamed))
            names |= {row.patient_id: row.name for row in session.execute(query)}
        found["names"] = names
    return found


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


def _reminders_of(
    session: Session, navigator_id: str, horizon: dt.date, kind: str | None, limit: int
) -> tuple[list[Shown], list[Shown], int, int]:
    """One statement for both sections and their counts: the database ranks a navigator's few
    thousand open reminders (a window over one index-only scan) and reads only those shown."""
    is_overdue = (ReminderRow.status == "overdue").label("is_overdue")
    order = (ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
    ranked = select(
        ReminderRow.id.label("ranked_id"),
        is_overdue,
        func.count().over(partition_by=is_overdue).label("total"),
        func.row_number().over(partition_by=is_overdue, order_by=order).label("position"),
    ).where(
        ReminderRow.patient_id.in_(_patients_of(navigator_id)),
        OPEN_REMINDER,
        ReminderRow.due_on <= horizon,
    )
    if kind:
        ranked = ranked.where(ReminderRow.kind == kind)
    shown = ranked.subquery()
    rows = session.execute(
        select(shown.c.is_overdue, shown.c.total, *REMINDER_COLUMNS, _name_of(ReminderRow.patient_id))
        .join(ReminderRow, ReminderRow.id == shown.c.ranked_id)
        .where(shown.c.position <= limit)
        .order_by(shown.c.is_overdue, shown.c.position)
    ).all()
    overdue = [row for row in rows if row.is_overdue]
    soon = [row for row in rows if not row.is_overdue]
    n_overdue = int(overdue[0].total) if overdue else 0
    n_soon = int(soon[0].total) if soon else 0
    return overdue, soon, n_overdue, n_soon


def _reminders_of_everyone(
    session: Session, horizon: dt.date, kind: str | None, limit: int, cap: int
) -> tuple[list[Shown], list[Shown], int, int, bool, bool]:
    """Counts by status, each an index-only range scan that stops after ``cap``; each list an
    ordered index scan up to ``limit``. Returns the lists, the counts, and whether each count is
    only a lower bound (it reached ``cap``)."""
    kind_is = [ReminderRow.kind == kind] if kind else []

    def count(status: str) -> int:
        found = (
            select(literal(1))
            .select_from(ReminderRow)
            .where(ReminderRow.status == status, ReminderRow.due_on <= horizon, *kind_is)
            .limit(cap + 1)
            .subquery()
        )
        return int(session.scalar(select(func.count()).select_from(found)) or 0)

    n_overdue = count("overdue")
    n_soon = count("due") + count("planned")

    def ranked(*where: ColumnElement[bool]) -> list[Shown]:
        return list(
            session.execute(
                select(*REMINDER_COLUMNS, _name_of(ReminderRow.patient_id))
                .where(*where, *kind_is)
                .order_by(ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
                .limit(limit)
            ).all()
        )

    overdue = ranked(ReminderRow.status == "overdue", ReminderRow.due_on <= horizon)
    soon = ranked(ReminderRow.status == "due", ReminderRow.due_on <= horizon) + ranked(
        ReminderRow.status == "planned", ReminderRow.due_on <= horizon
    )
    soon = heapq.nsmallest(limit, soon, key=lambda row: (row.due_on, row.patient_id, row.id))
    return overdue, soon, min(n_overdue, cap), min(n_soon, cap), n_overdue > cap, n_soon > cap


def _alert_order(severity: str, is_acknowledged: bool, first_seen_at: dt.datetime) -> tuple[int, bool, float]:
    rank = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
    return rank, is_acknowledged, -first_seen_at.timestamp()


def _alerts_of(
    session: Session, navigator_id: str, severity: str | None, limit: int
) -> tuple[list[int], int, int]:
    query = select(AlertRow.id, AlertRow.severity, AlertRow.acknowledged_at, AlertRow.first_seen_at).where(
        AlertRow.patient_id.in_(_patients_of(navigator_id)), ACTIVE
    )
    rows = session.execute(query).all()
    n_critical = sum(1 for _, level, _, _ in rows if level == "critical")
    if severity:
        rows = [row for row in rows if row[1] == severity]
    ranked = heapq.nsmallest(
        limit, rows, key=lambda row: (_alert_order(row[1], row[2] is not None, row[3]), row[0])
    )
    return [row[0] for row in ranked], len(rows), n_critical


def _alerts_of_everyone(session: Session, severity: str | None, limit: int) -> tuple[list[int], int, int]:
    """Counts from the small partial index; the list one severity and acknowledgement state at a
    time (each an ordered scan of a partial index), stopping once ``limit`` are found."""
    counts: dict[str, int] = dict(
        session.execute(
            select(AlertRow.severity, func.count()).where(ACTIVE).group_by(AlertRow.severity)
        ).all()
    )
    total = sum(int(n) for level, n in counts.items() if not severity or level == severity)
    levels = [severity] if severity else [*SEVERITY_ORDER, *sorted(set(counts) - set(SEVERITY_ORDER))]
    ids: list[int] = []
    for level in levels:
        for acknowledged in (False, True):
            if len(ids) >= limit:
                break
            state = (
                AlertRow.acknowledged_at.is_not(None) if acknowledged else AlertRow.acknowledged_at.is_(None)
            )
            ids += session.scalars(
                select(AlertRow.id)
                .where(ACTIVE, AlertRow.severity == level, state)
                .order_by(AlertRow.first_seen_at.desc(), AlertRow.id)
                .limit(limit - len(ids))
            ).all()
    return ids, total, int(counts.get("critical", 0))


def _failed_notifications(
    session: Session, navigator_id: str | None, limit: int
) -> tuple[Sequence[NotificationRow], int]:
    failed = NotificationRow.status == "failed"
    where: list[ColumnElement[bool]] = [failed]
    if navigator_id is not None:  # their patients, and their own digests (no patient on them)
        where.append(
            or_(
                NotificationRow.patient_id.in_(_patients_of(navigator_id)),
                and_(NotificationRow.patient_id.is_(None), NotificationRow.navigator_id == navigator_id),
            )
        )
    rows = session.scalars(
        select(NotificationRow).where(*where).order_by(NotificationRow.updated_at.desc()).limit(limit)
    ).all()
    count = (
        len(rows)
        if len(rows) < limit
        else int(session.scalar(select(func.count()).select_from(NotificationRow).where(*where)) or 0)
    )
    return rows, count


def _alerts_by_id(session: Session, ids: list[int]) -> list[Shown]:
    if not ids:
        return []
    rows = {
        row.id: row
        for row in session.execute(
            select(*ALERT_COLUMNS, _name_of(AlertRow.patient_id)).where(AlertRow.id.in_(ids))
        )
    }
    return [rows[i] for i in ids]


def reminder_json(r: Shown, today: dt.date) -> dict[str, Any]:
    """A reminder as the worklist lists it (from a ``ReminderRow`` or a row of ``REMINDER_COLUMNS``)."""
    return {
        "id": r.id,
        "patient_id": r.patient_id,
        "key": r.key,
        "kind": r.kind,
        "label": label(r.kind).summary,
        "due_on": r.due_on.isoformat(),
        "window_days": r.window_days,
        "days_overdue": max(0, (today - (r.due_on + dt.timedelta(days=r.window_days))).days),
        "status": r.status,
        "rule": r.rule,
        "rationale": r.rationale,
        "citation": r.citation,
    }


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
