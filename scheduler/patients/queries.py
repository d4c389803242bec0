"""The queries of the patient directory, the unassigned queue, staff notes and processing failures
(the event log's and the stored plan's are in :mod:`scheduler.patients.repository`). Every
function works in the caller's session (the caller owns the transaction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from models.db import rowcount
from models.rows import (
    AlertRow,
    EventRow,
    PatientNoteRow,
    PatientRow,
    PatientStateRow,
    ProcessingFailureRow,
    ReminderRow,
    UserRow,
)
from models.statuses import OPEN_REMINDER_STATUSES, ReminderStatus
from models.vocabulary import Role

# ---- the directory ------------------------------------------------------------------------------


def _is_overdue() -> ColumnElement[bool]:
    """An open reminder of the patient past its window, or with missed items before it."""
    return and_(
        ReminderRow.patient_id == PatientRow.patient_id,
        ReminderRow.status.in_(OPEN_REMINDER_STATUSES),
        or_(ReminderRow.status == ReminderStatus.OVERDUE, ReminderRow.overdue_since.is_not(None)),
    )


def _is_critical() -> ColumnElement[bool]:
    """An active critical alert of the patient."""
    return and_(
        AlertRow.patient_id == PatientRow.patient_id,
        AlertRow.is_active.is_(True),
        AlertRow.severity == "critical",
    )


def has_overdue() -> ColumnElement[bool]:
    return exists().where(_is_overdue())


def has_critical() -> ColumnElement[bool]:
    return exists().where(_is_critical())


def name_or_id_like(pattern: str) -> ColumnElement[bool]:
    """The patient's id or name matches the lower-case LIKE ``pattern`` (escaped with ``\\``)."""
    return or_(
        func.lower(PatientRow.patient_id).like(pattern, escape="\\"),
        func.lower(func.coalesce(PatientRow.name, "")).like(pattern, escape="\\"),
    )


def count_patients(session: Session, where: Sequence[ColumnElement[bool]]) -> int:
    """How many patients (with their state, if any) match ``where``."""
    joined = select(PatientRow.patient_id).outerjoin(
        PatientStateRow, PatientStateRow.patient_id == PatientRow.patient_id
    )
    return session.scalar(select(func.count()).select_from(joined.where(*where).subquery())) or 0


def patient_page(
    session: Session, where: Sequence[ColumnElement[bool]], offset: int, limit: int
) -> Sequence[Row[Any]]:
    """The patients matching ``where`` by id, ``limit`` from ``offset``: id, name, navigator, whether
    active, stage, and their counts of overdue reminders and critical alerts."""
    overdue = select(func.count()).where(_is_overdue()).scalar_subquery()
    critical = select(func.count()).where(_is_critical()).scalar_subquery()
    return session.execute(
        select(
            PatientRow.patient_id,
            PatientRow.name,
            PatientRow.navigator_id,
            PatientRow.is_active,
            PatientStateRow.stage,
            overdue.label("overdue"),
            critical.label("critical"),
        )
        .outerjoin(PatientStateRow, PatientStateRow.patient_id == PatientRow.patient_id)
        .where(*where)
        .order_by(PatientRow.patient_id)
        .offset(offset)
        .limit(limit)
    ).all()


# ---- the unassigned queue -----------------------------------------------------------------------


def count_unassigned(session: Session) -> int:
    count = session.scalar(
        select(func.count()).select_from(PatientRow).where(PatientRow.navigator_id.is_(None))
    )
    return int(count or 0)


def unassigned_events(session: Session, limit: int) -> Sequence[Row[str, int, dt.datetime]]:
    """The patients without a navigator, the oldest first (by their first event): each with
    ``events`` (how many) and ``first_received_at``."""
    return session.execute(
        select(
            EventRow.patient_id,
            func.count().label("events"),
            func.min(EventRow.received_at).label("first_received_at"),
        )
        .join(PatientRow, PatientRow.patient_id == EventRow.patient_id)
        .where(PatientRow.navigator_id.is_(None))
        .group_by(EventRow.patient_id)
        .order_by(func.min(EventRow.received_at), EventRow.patient_id)
        .limit(limit)
    ).all()


def open_reminder_counts(session: Session, patient_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(open reminders, overdue among them) of each of ``patient_ids`` that has any."""
    counts: dict[str, tuple[int, int]] = {}
    for patient_id, status, n in session.execute(
        select(ReminderRow.patient_id, ReminderRow.status, func.count())
        .where(ReminderRow.patient_id.in_(patient_ids), ReminderRow.status.in_(OPEN_REMINDER_STATUSES))
        .group_by(ReminderRow.patient_id, ReminderRow.status)
    ):
        open_, overdue = counts.get(patient_id, (0, 0))
        counts[patient_id] = (open_ + n, overdue + (n if status == ReminderStatus.OVERDUE else 0))
    return counts


def active_alert_counts(session: Session, patient_ids: Sequence[str]) -> dict[str, int]:
    """The number of active alerts of each of ``patient_ids`` that has any."""
    return dict(
        session.execute(
            select(AlertRow.patient_id, func.count())
            .where(AlertRow.patient_id.in_(patient_ids), AlertRow.is_active.is_(True))
            .group_by(AlertRow.patient_id)
        ).all()
    )


def navigator_ids(session: Session) -> list[str | None]:
    """The distinct navigator ids of the active navigator accounts."""
    return list(
        session.scalars(
            select(UserRow.navigator_id)
            .where(UserRow.role == Role.NAVIGATOR, UserRow.is_active, UserRow.navigator_id.is_not(None))
            .distinct()
        )
    )


# ---- notes --------------------------------------------------------------------------------------


def add_note(session: Session, note: PatientNoteRow) -> PatientNoteRow:
    """Store ``note`` (flushed: its id is known)."""
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, patient_id: str) -> list[PatientNoteRow]:
    """The patient's notes, newest first."""
    return list(
        session.scalars(
            select(PatientNoteRow)
            .where(PatientNoteRow.patient_id == patient_id)
            .order_by(PatientNoteRow.created_at.desc(), PatientNoteRow.id.desc())
        )
    )


# ---- processing failures ------------------------------------------------------------------------


def open_failure(session: Session, patient_id: str, task: str) -> ProcessingFailureRow | None:
    """The patient's oldest unresolved failure of ``task``."""
    return session.scalars(
        select(ProcessingFailureRow)
        .where(
            ProcessingFailureRow.patient_id == patient_id,
            ProcessingFailureRow.task == task,
            ProcessingFailureRow.resolved_at.is_(None),
        )
        .order_by(ProcessingFailureRow.id)
        .limit(1)
    ).first()


def add_failure(session: Session, failure: ProcessingFailureRow) -> None:
    session.add(failure)


def resolve_failures(session: Session, patient_id: str, now: dt.datetime) -> int:
    """Close the patient's unresolved failures; how many."""
    return rowcount(
        session,
        update(ProcessingFailureRow)
        .where(ProcessingFailureRow.patient_id == patient_id, ProcessingFailureRow.resolved_at.is_(None))
        .values(resolved_at=now),
    )
