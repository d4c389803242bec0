"""How the service is doing, read from the database: the same figures for
``gistsched status`` and ``GET /metrics``. The database is the truth for every counter, so the
figures agree across web, worker and clock processes and survive restarts.

* queue lag: the age of the oldest event stored but not yet folded into a plan;
* events: stored, processed, unprocessed; open processing failures;
* reminders by status (``due`` and ``overdue`` are the navigators' work);
* notifications (the outbox) by status; the age of the oldest sendable row;
* the broker's queue length, when the broker is Redis;
* plans behind the calendar: active patients whose recompute day (``recompute_on``) has passed
  before ``today`` without a recompute — 0 once each daily run's queue has drained.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.rows import (
    AlertRow,
    EventRow,
    NotificationRow,
    PatientRow,
    PatientStateRow,
    ProcessingFailureRow,
    ReminderRow,
)
from models.statuses import SENDABLE_NOTIFICATION_STATUSES
from models.types import utcnow


@dataclass(frozen=True, slots=True)
class Status:
    at: dt.datetime
    patients: int
    active_patients: int
    events: int
    events_unprocessed: int
    oldest_unprocessed_age_seconds: float | None
    processing_failures_open: int
    reminders: dict[str, int] = field(default_factory=dict)
    alerts_active: dict[str, int] = field(default_factory=dict)
    notifications: dict[str, int] = field(default_factory=dict)
    oldest_sendable_age_seconds: float | None = None
    broker_queue_length: int | None = None
    plans_behind: int | None = None  # None: not read (no clinic day given)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "patients": self.patients,
            "active_patients": self.active_patients,
            "events": self.events,
            "events_unprocessed": self.events_unprocessed,
            "oldest_unprocessed_age_seconds": self.oldest_unprocessed_age_seconds,
            "processing_failures_open": self.processing_failures_open,
            "reminders": self.reminders,
            "alerts_active": self.alerts_active,
            "notifications": self.notifications,
            "oldest_sendable_age_seconds": self.oldest_sendable_age_seconds,
            "broker_queue_length": self.broker_queue_length,
            "plans_behind": self.plans_behind,
        }


def _age(now: dt.datetime, oldest: dt.datetime | None) -> float | None:
    if oldest is None:
        return None
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return max(0.0, (now - oldest).total_seconds())


def read_status(
    session: Session,
    broker_queue_length: int | None = None,
    now: dt.datetime | None = None,
    today: dt.date | None = None,
) -> Status:
    """``today``: the clinic's day, for ``plans_behind`` (not read without it)."""
    now = now or utcnow()

    def grouped(column: Any, *where: Any) -> dict[str, int]:
        return {
            str(k): int(v)
            for k, v in session.execute(select(column, func.count()).where(*where).group_by(column))
        }

    unprocessed = session.execute(
        select(func.count(), func.min(EventRow.received_at)).where(EventRow.processed_at.is_(None))
    ).one()
    oldest_sendable = session.scalar(
        select(func.min(NotificationRow.created_at)).where(
            NotificationRow.status.in_(SENDABLE_NOTIFICATION_STATUSES)
        )
    )
    return Status(
        at=now,
        patients=session.scalar(select(func.count()).select_from(PatientRow)) or 0,
        active_patients=session.scalar(
            select(func.count()).select_from(PatientRow).where(PatientRow.is_active)
        )
        or 0,
        events=session.scalar(select(func.count()).select_from(EventRow)) or 0,
        events_unprocessed=int(unprocessed[0]),
        oldest_unprocessed_age_seconds=_age(now, unprocessed[1]),
        processing_failures_open=session.scalar(
            select(func.count())
            .select_from(ProcessingFailureRow)
            .where(ProcessingFailureRow.resolved_at.is_(None))
        )
        or 0,
        reminders=grouped(ReminderRow.status),
        alerts_active=grouped(AlertRow.severity, AlertRow.is_active.is_(True)),
        notifications=grouped(NotificationRow.status),
        oldest_sendable_age_seconds=_age(now, oldest_sendable),
        broker_queue_length=broker_queue_length,
        plans_behind=None if today is None else _plans_behind(session, today),
    )


def _plans_behind(session: Session, today: dt.date) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(PatientStateRow)
            .join(PatientRow, PatientRow.patient_id == PatientStateRow.patient_id)
            .where(PatientRow.is_active.is_(True), PatientStateRow.recompute_on < today)
        )
        or 0
    )
