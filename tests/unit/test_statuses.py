"""The stored status vocabularies (models/statuses.py) agree with the core's, and the partial-index
predicates built from them are the literal SQL the indexes and their queries share."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest

from models.statuses import (
    DUE_REMINDER_SQL,
    FAILED_NOTIFICATION_SQL,
    MISSED_REMINDER_SQL,
    OPEN_REMINDER_SQL,
    OPEN_REMINDER_STATUSES,
    SENDABLE_NOTIFICATION_SQL,
    NotificationStatus,
    ReminderStatus,
)
from scheduler.domain.model import Reminder, Status


def test_reminder_statuses_are_the_cores() -> None:
    assert [status.value for status in ReminderStatus] == list(get_args(Status))


@pytest.mark.parametrize("status", list(ReminderStatus), ids=str)
def test_open_statuses_are_the_cores_open_ones(status: ReminderStatus) -> None:
    reminder = Reminder("k", "ct", dt.date(2026, 1, 5), 14, status.value, "r", "why", "source")
    assert (status in OPEN_REMINDER_STATUSES) is reminder.is_open


@pytest.mark.parametrize(
    ("built", "literal"),
    [
        (OPEN_REMINDER_SQL, "status IN ('overdue', 'due', 'planned')"),
        (MISSED_REMINDER_SQL, "status IN ('overdue', 'due', 'planned') AND overdue_since IS NOT NULL"),
        (SENDABLE_NOTIFICATION_SQL, "status IN ('pending', 'queued', 'sending')"),
        (FAILED_NOTIFICATION_SQL, "status = 'failed'"),
        (DUE_REMINDER_SQL, "status = 'due'"),
    ],
    ids=["open", "missed", "sendable", "failed", "due"],
)
def test_index_predicates_are_the_migrations_literal_sql(built: str, literal: str) -> None:
    """The migrations froze these strings; SQLite uses a partial index only for the same text."""
    assert built == literal


def test_statuses_compare_and_hash_as_their_stored_text() -> None:
    assert NotificationStatus.PENDING == "pending"
    assert {"pending": 1}[NotificationStatus.PENDING] == 1
    assert f"{ReminderStatus.CANCELLED}" == "cancelled"
