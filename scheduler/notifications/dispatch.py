"""The clock's notification work, as plain functions over a sessionmaker.

Every tick:

1. :func:`create_due_notices` — reminders whose ``notice_on`` has come are locked (``FOR UPDATE
   SKIP LOCKED`` on PostgreSQL; SQLite serialises writers) in batches; for each, the core says which
   stage is due (:func:`scheduler.domain.notices.due_notice`) and who is told; an outbox row is
   written, unique by (reminder, stage, revision), and ``notice_on`` moves to the next stage's day,
   the batch's rows and days each in one executemany, in the transaction that holds the locks.
   A date already told at that stage is not told again (a revision bumped only by a status change).
   A notice to the navigator of a reminder a navigator snoozed waits until the snooze's day
   (``notice_on`` moves there); the patient's notices go out as planned.
   The notices of a patient whose ``patient_registered`` has not arrived yet wait for it.
2. :func:`create_digests` — once per clinic day after ``digest_at``: a digest row per navigator
   user with an email address, unique by (user, day).
3. :func:`claim_sendable` — outbox rows that are ``pending`` (and past ``next_attempt_at``), or
   were queued or being sent longer than ``notify_stale_seconds`` ago (a lost message, a killed
   worker), are moved to ``queued`` by a conditional UPDATE on locked rows and their ids returned;
   the clock queues one ``notifications.send`` per id after that commit, and gives back the ids it
   could not queue (:func:`release`).

A second clock is kept out by the lease; even without it, the row locks and conditional updates
mean an outbox row is queued by one claimer only, and
:func:`scheduler.notifications.sending.send_notification` sends it only once whatever number of tasks
arrive for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.statuses import OPEN_REMINDER_STATUSES
from models.types import utcnow
from models.vocabulary import Audience, NotificationKind
from scheduler.domain.notices import due_notice, lead_days, recipient
from scheduler.domain.profile import Profile
from scheduler.notifications import repository
from scheduler.notifications.outbox import dedup_key

CLAIM_BATCH = 500

log = logging.getLogger(__name__)


def create_due_notices(
    sessions: sessionmaker[Session], today: dt.date, profile: Profile, batch: int = CLAIM_BATCH
) -> int:
    """Outbox rows for every reminder whose notice day has come; returns how many were written.

    Per batch, one transaction of four statements whatever its size: the locking SELECT, one SELECT
    of what was already told about those reminders, one executemany INSERT of the new outbox rows
    and one executemany UPDATE of the reminders' next notice days."""
    created = 0
    while True:
        with sessions.begin() as session:
            due = repository.lock_due_reminders(session, today, batch)
            told = repository.told(session, [reminder.id for reminder in due])
            now = utcnow()
            notices: list[dict[str, Any]] = []
            next_days: list[tuple[int, dt.date | None]] = []
            for reminder in due:
                notice_on, notice = _notice(reminder, today, profile, told, now)
                if notice_on != reminder.notice_on:
                    next_days.append((reminder.id, notice_on))
                if notice is not None:
                    notices.append(notice)
            repository.insert_notifications(session, notices)
            repository.set_notice_days(session, next_days)
            created += len(notices)
        if len(due) < batch:
            return created


def _notice(
    reminder: repository.DueReminder,
    today: dt.date,
    profile: Profile,
    told: repository.Told,
    now: dt.datetime,
) -> tuple[dt.date | None, dict[str, Any] | None]:
    """The reminder's next notice day, and the outbox row of the notice due today if any and not
    told yet (``told`` then holds its key too)."""
    if reminder.status not in OPEN_REMINDER_STATUSES or not reminder.is_active:
        return None, None
    stage, notice_on = due_notice(reminder.kind, reminder.due_on, reminder.window_days, today, profile)
    if stage is None:  # notice_on was early (a profile change): nothing due yet
        return notice_on, None
    to = recipient(
        stage, reminder.kind, bool(reminder.email), has_advance=lead_days(profile, reminder.kind) > 0
    )
    snoozed_until = reminder.snoozed_until
    if to.audience == "navigator" and snoozed_until is not None and snoozed_until > today:
        # Snoozed by a navigator: their nudges wait for the snooze's day (the patient's do not).
        return (snoozed_until if notice_on is None else min(notice_on, snoozed_until)), None
    key = dedup_key(reminder.id, stage, reminder.revision)
    if to.audience is None or (key,) in told or (reminder.id, stage, reminder.due_on) in told:
        return notice_on, None
    told.add((key,))
    return notice_on, repository.notification_values(
        key,
        stage,
        to.audience,
        today,
        now,
        reminder_id=reminder.id,
        patient_id=reminder.patient_id,
        navigator_id=reminder.navigator_id,
        revision=reminder.revision,
        due_on=reminder.due_on,
        reason=to.reason,
    )


def create_digests(sessions: sessionmaker[Session], day: dt.date) -> int:
    """One digest row per active navigator user with an email address, for ``day``."""
    created = 0
    with sessions.begin() as session:
        users = repository.navigators_with_email(session)
        existing = repository.digest_keys(session, day)
        now = utcnow()
        for user in users:
            key = f"digest:{user.id}:{day.isoformat()}"
            if key in existing:
                continue
            session.add(
                repository.pending_notification(
                    key,
                    NotificationKind.DIGEST,
                    Audience.NAVIGATOR,
                    day,
                    now,
                    user_id=user.id,
                    navigator_id=user.navigator_id,
                    reason="daily digest",
                )
            )
            created += 1
    return created


def claim_sendable(
    sessions: sessionmaker[Session], now: dt.datetime, stale_after: dt.timedelta, limit: int = CLAIM_BATCH
) -> list[int]:
    """Move up to ``limit`` sendable outbox rows to ``queued``; their ids, for the caller to queue."""
    with sessions.begin() as session:
        return repository.claim_sendable(session, now, stale_after, limit)


def release(sessions: sessionmaker[Session], ids: list[int]) -> None:
    """Give back rows that were claimed but could not be queued (the broker is down)."""
    if not ids:
        return
    with sessions.begin() as session:
        repository.release(session, ids)
