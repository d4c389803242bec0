"""The patient directory: every patient the caller may see, found by id or name and filtered by
navigator, stage, overdue items and critical alerts, a page at a time. Shared by the JSON API
(``GET /api/patients``) and the dashboard (``/patients``).

Scoped like the worklist: a navigator sees only the patients assigned to them; clinicians, admins
and integration accounts see everyone. "Overdue" means what the worklist's overdue section
lists: an open reminder past its window, or one with missed items before it. "Critical" is an
active critical alert (acknowledged or not: it stays until the condition clears). The filters
are ``EXISTS`` subqueries over the indexes the worklist uses; the counts shown are read only for
the rows of the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, get_args

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from models.rows import PatientRow, PatientStateRow
from scheduler.domain.model import Stage
from scheduler.patients import queries
from scheduler.staff.access import Principal

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_QUERY_CHARS = 200
STAGES: tuple[str, ...] = get_args(Stage)


@dataclass(frozen=True, slots=True)
class PatientQuery:
    """What to look for: ``q`` (part of the id or name, any case), a navigator id, a stage, only
    patients with (True) or without (False) overdue items or critical alerts, and the page (1…)."""

    q: str = ""
    navigator: str | None = None
    stage: str | None = None
    overdue: bool | None = None
    critical: bool | None = None
    page: int = 1


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(principal: Principal, query: PatientQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not principal.sees_all:
        where.append(PatientRow.navigator_id == (principal.navigator_id or ""))
    q = query.q.strip()
    if q:
        where.append(queries.name_or_id_like(_like(q)))
    if query.navigator:
        where.append(PatientRow.navigator_id == query.navigator)
    if query.stage:
        where.append(PatientStateRow.stage == query.stage)
    for flag, condition in ((query.overdue, queries.has_overdue()), (query.critical, queries.has_critical())):
        if flag is not None:
            where.append(condition if flag else ~condition)
    return where


def find_patients(session: Session, principal: Principal, query: PatientQuery) -> dict[str, Any]:
    """One page of the matching patients, by patient id, as JSON-ready data, with the total."""
    where = _conditions(principal, query)
    total = queries.count_patients(session, where)
    page = max(1, min(query.page, MAX_PAGE))
    rows = queries.patient_page(session, where, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    return {
        "total": total,
        "page": page,
        "per_page": PAGE_SIZE,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "patients": [
            {
                "patient_id": row.patient_id,
                "name": row.name,
                "navigator_id": row.navigator_id,
                "stage": row.stage,
                "is_active": bool(row.is_active),
                "overdue": int(row.overdue),
                "critical_alerts": int(row.critical),
            }
            for row in rows
        ],
    }
