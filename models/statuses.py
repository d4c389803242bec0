"""The status vocabularies of the stored rows, one enum each: the single source for the Python that
reads and writes a status and for the SQL of the partial indexes over it (:mod:`models.rows`).

The partial indexes' predicates are literal SQL that a query must repeat with the same constants
for SQLite to use the index, so each predicate is built here once, from the enums, and both the
index and the queries take it from here. The migrations keep their own frozen copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class ReminderStatus(StrEnum):
    """A stored reminder's status: the core's ``Status`` (scheduler/domain/model.py) as stored."""

    PLANNED = "planned"
    DUE = "due"
    OVERDUE = "overdue"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# The open reminders, in the order of the partial indexes' predicate (ix_reminders_navigator_open).
OPEN_REMINDER_STATUSES: Final = (ReminderStatus.OVERDUE, ReminderStatus.DUE, ReminderStatus.PLANNED)


class NotificationStatus(StrEnum):
    """An outbox row's status: ``pending`` (to be queued; ``next_attempt_at`` delays a retry) →
    ``queued`` (a ``notifications.send`` is on the broker) → ``sending`` (a worker holds it) →
    ``sent`` | ``failed`` (permanent, or retries exhausted: on the worklist) | ``superseded`` (the
    reminder moved or closed first) | ``skipped`` (nothing to say) | ``held`` (the patient has no
    navigator: back to ``pending`` when one is assigned)."""

    PENDING = "pending"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    SKIPPED = "skipped"
    HELD = "held"


# Rows the clock may (re)queue: ix_notifications_sendable's predicate.
SENDABLE_NOTIFICATION_STATUSES: Final = (
    NotificationStatus.PENDING,
    NotificationStatus.QUEUED,
    NotificationStatus.SENDING,
)
# Rows a send task may claim.
CLAIMABLE_NOTIFICATION_STATUSES: Final = (NotificationStatus.PENDING, NotificationStatus.QUEUED)
# Rows that mean "this was or will be told".
LIVE_NOTIFICATION_STATUSES: Final = (*SENDABLE_NOTIFICATION_STATUSES, NotificationStatus.SENT)


def sql_in(column: str, statuses: Iterable[StrEnum]) -> str:
    """``column IN ('a', 'b')`` with the statuses as literal constants, in the order given."""
    constants = ", ".join(f"'{status.value}'" for status in statuses)
    return f"{column} IN ({constants})"


# The partial indexes' predicates (models/rows.py), which the queries repeat
# (scheduler/staff/worklist.py, scheduler/notifications/repository.py).
OPEN_REMINDER_SQL: Final = sql_in("status", OPEN_REMINDER_STATUSES)
# An open reminder with missed items before it: ix_reminders_missed's and ..._navigator_missed's.
MISSED_REMINDER_SQL: Final = f"{OPEN_REMINDER_SQL} AND overdue_since IS NOT NULL"
# Due now or planned, with no missed item before it: ix_reminders_soon's predicate (everyone's
# "due soon" section of the worklist, and its count).
SOON_REMINDER_SQL: Final = (
    f"{sql_in('status', (ReminderStatus.DUE, ReminderStatus.PLANNED))} AND overdue_since IS NULL"
)
# A reminder a navigator snoozed (now or once): ix_reminders_snoozed's predicate; the worklist
# leaves out those with ``snoozed_until`` after today.
SNOOZED_REMINDER_SQL: Final = "snoozed_until IS NOT NULL"
# Due now: ix_reminders_due_overdue_from's predicate (the daily status UPDATE's due → overdue range).
DUE_REMINDER_SQL: Final = f"status = '{ReminderStatus.DUE.value}'"
SENDABLE_NOTIFICATION_SQL: Final = sql_in("status", SENDABLE_NOTIFICATION_STATUSES)
FAILED_NOTIFICATION_SQL: Final = f"status = '{NotificationStatus.FAILED.value}'"
