"""The clock's notification work, as plain functions over a sessionmaker (issue 4, step 1).

Every tick:

1. :func:`create_due_notices` — reminders whose ``notice_on`` has come are locked (``FOR UPDATE
   SKIP LOCKED`` on PostgreSQL; SQLite serialises writers) in batches; for each, the core says which
   stage is due (:func:`scheduler.domain.notices.due_notice`) and who is told; an outbox row is
   written, unique by (reminder, stage, revision), and ``notice_on`` moves to the next stage's day.
   A date already told at that stage is not told again (a revision bumped only by a status change).
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

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from models.db import rowcount
from models.rows import NotificationRow, PatientRow, ReminderRow, UserRow
from models.types import utcnow
from scheduler.domain.notices import due_notice, lead_days, recipient
from scheduler.domain.profile import Profile
from scheduler.notifications.outbox import OPEN, dedup_key

CLAIM_BATCH = 500
LIVE = ("pending", "queued", "sending", "sent")  # statuses that mean "this was or will be told"
# The partial index's predicate as literal SQL: SQLite uses a partial index only when the query's
# WHERE contains the index's condition with the same constants, not bound parameters.
SENDABLE_CLAUSE = text("notifications.status IN ('pending', 'queued', 'sending')")

log = logging.getLogger(__name__)


def create_due_notices(
    sessions: sessionmaker[Session], today: dt.date, profile: Profile, batch: int = CLAIM_BATCH
) -> int:
    """Outbox rows for every reminder whose notice day has come; returns how many were written.

    Per batch: one locking SELECT, one SELECT of what was already told about those reminders, then
    the inserts and ``notice_on`` updates in one flush (no per-reminder round trips)."""
    created = 0
    while True:
        with sessions.begin() as session, session.no_autoflush:
            rows = session.execute(
                select(ReminderRow, PatientRow)
                .join(PatientRow, PatientRow.patient_id == ReminderRow.patient_id)
                # Held until the patient's registration arrives (it brings the email address and
                # the navigator): told then, at the stage reached by that day, instead of failing
                # now for want of a recipient and never being told again (reliability finding 4).
                .where(ReminderRow.notice_on <= today, PatientRow.navigator_id.is_not(None))
                .order_by(ReminderRow.notice_on, ReminderRow.id)
                .limit(batch)
                .with_for_update(skip_locked=True, of=ReminderRow)
            ).all()
            told = _told(session, [reminder.id for reminder, _ in rows])
            now = utcnow()
            for reminder, patient in rows:
                notice = _notice(reminder, patient, today, profile, told, now)
                if notice is not None:
                    session.add(notice)
                    created += 1
        if len(rows) < batch:
            return created


def _told(session: Session, reminder_ids: list[int]) -> set[tuple[object, ...]]:
    """What was already told about these reminders: their dedup keys, and (reminder, stage, date)
    of every live notice — a revision bumped by a status change alone does not tell again."""
    if not reminder_ids:
        return set()
    told: set[tuple[object, ...]] = set()
    for key, reminder_id, kind, due_on, status in session.execute(
        select(
            NotificationRow.dedup_key,
            NotificationRow.reminder_id,
            NotificationRow.kind,
            NotificationRow.due_on,
            NotificationRow.status,
        ).where(NotificationRow.reminder_id.in_(reminder_ids))
    ):
        told.add((key,))
        if status in LIVE:
            told.add((reminder_id, kind, due_on))
    return told


def _notice(
    reminder: ReminderRow,
    patient: PatientRow,
    today: dt.date,
    profile: Profile,
    told: set[tuple[object, ...]],
    now: dt.datetime,
) -> NotificationRow | None:
    if reminder.status not in OPEN or not patient.is_active:
        reminder.notice_on = None
        return None
    stage, reminder.notice_on = due_notice(
        reminder.kind, reminder.due_on, reminder.window_days, today, profile
    )
    if stage is None:  # notice_on was early (a profile change): nothing due yet
        return None
    to = recipient(
        stage, reminder.kind, bool(patient.email), has_advance=lead_days(profile, reminder.kind) > 0
    )
    key = dedup_key(reminder.id, stage, reminder.revision)
    if to.audience is None or (key,) in told or (reminder.id, stage, reminder.due_on) in told:
        return None
    told.add((key,))
    return NotificationRow(
        dedup_key=key,
        kind=stage,
        audience=to.audience,
        reminder_id=reminder.id,
        patient_id=patient.patient_id,
        navigator_id=patient.navigator_id,
        revision=reminder.revision,
        due_on=reminder.due_on,
        day=today,
        reason=to.reason,
        status="pending",
        attempts=0,
        created_at=now,
        updated_at=now,
    )


def create_digests(sessions: sessionmaker[Session], day: dt.date) -> int:
    """One digest row per active navigator user with an email address, for ``day``."""
    created = 0
    with sessions.begin() as session:
        users = session.scalars(
            select(UserRow).where(
                UserRow.role == "navigator",
                UserRow.is_active.is_(True),
                UserRow.email.is_not(None),
                UserRow.navigator_id.is_not(None),
            )
        ).all()
        existing = set(
            session.scalars(
                select(NotificationRow.dedup_key).where(
                    NotificationRow.kind == "digest", NotificationRow.day == day
                )
            )
        )
        now = utcnow()
        for user in users:
            key = f"digest:{user.id}:{day.isoformat()}"
            if key in existing:
                continue
            session.add(
                NotificationRow(
                    dedup_key=key,
                    kind="digest",
                    audience="navigator",
                    user_id=user.id,
                    navigator_id=user.navigator_id,
                    day=day,
                    reason="daily digest",
                    status="pending",
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            created += 1
    return created


def claim_sendable(
    sessions: sessionmaker[Session], now: dt.datetime, stale_after: dt.timedelta, limit: int = CLAIM_BATCH
) -> list[int]:
    """Move up to ``limit`` sendable outbox rows to ``queued``; their ids, for the caller to queue."""
    with sessions.begin() as session:
        ids = list(
            session.scalars(
                select(NotificationRow.id)
                .where(
                    SENDABLE_CLAUSE,  # literally ix_notifications_sendable's predicate (SQLite needs it so)
                    or_(
                        and_(
                            NotificationRow.status == "pending",
                            or_(
                                NotificationRow.next_attempt_at.is_(None),
                                NotificationRow.next_attempt_at <= now,
                            ),
                        ),
                        and_(
                            NotificationRow.status.in_(("queued", "sending")),
                            NotificationRow.claimed_at < now - stale_after,
                        ),
                    ),
                )
                .order_by(NotificationRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            rowcount(
                session,
                update(NotificationRow)
                .where(NotificationRow.id.in_(ids))
                .values(status="queued", claimed_at=now, updated_at=now),
            )
    return ids


def release(sessions: sessionmaker[Session], ids: list[int]) -> None:
    """Give back rows that were claimed but could not be queued (the broker is down)."""
    if not ids:
        return
    with sessions.begin() as session:
        rowcount(
            session,
            update(NotificationRow)
            .where(NotificationRow.id.in_(ids), NotificationRow.status == "queued")
            .values(status="pending", claimed_at=None, updated_at=utcnow()),
        )
