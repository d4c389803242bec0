"""``notifications.send``: send one outbox row, exactly once (issue 4; style.md "send after commit").

1. **Claim.** A conditional UPDATE moves the row from ``pending``/``queued`` to ``sending`` and
   counts the attempt. Only one caller can win it: a redelivered or duplicated task, or a second
   clock's task, finds it ``sending``/``sent`` and does nothing.
2. **Check and compose** (outside any transaction). A reminder notice is re-checked against the
   reminder as it stands now: if the reminder closed or its date moved since the row was written,
   the row is ``superseded`` (the move wrote its own notice). The email is composed by the pure
   renderers in :mod:`notifications`; a patient email carries an ``.ics`` invitation (REQUEST, or
   CANCEL) whose UID comes from the reminder key and whose SEQUENCE is the reminder's revision.
3. **Send, then record** with a fencing condition (the row is still ours: ``sending`` with our
   ``claimed_at``). A transient failure (connection, 4xx) puts the row back to ``pending`` with an
   exponential backoff in ``next_attempt_at`` — the clock re-queues it then, so no task ever waits
   on the broker with a long countdown; after ``notify_max_attempts`` it is ``failed``. A permanent
   failure (5xx, a bad or missing address) is ``failed`` at once. Failed rows are on the
   navigator's worklist.

   The record is retried on transient database errors (a restart, a dropped connection) for up
   to ``RECORD_RETRY_SECONDS``: an email the server accepted must not be sent again because the
   database was away for a moment when it said so (docs/reliability.md, finding 1). The fence
   keeps a late retry harmless: once the clock has re-queued the row as stale, it matches nothing.

The one gap no outbox can close: a worker killed after the SMTP server accepted the message but
before step 3 committed leaves the row ``sending``; the clock re-queues it after
``notify_stale_seconds`` and it is sent again. The Message-ID is stable per row, so the copy is
recognisable as the same message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TypeVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.db import is_transient, rowcount
from models.rows import AlertRow, NotificationRow, PatientRow, ReminderRow, UserRow
from models.types import utcnow
from notifications import mail
from notifications.ical import CalendarItem, item_uid, render_invitation
from notifications.labels import label, missed_text
from notifications.smtp import PermanentSendError, Sender, TransientSendError
from scheduler.config.settings import Settings
from scheduler.domain.notices import lead_days
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.notifications.outbox import HELD, OPEN

DIGEST_DAYS_AHEAD = 7
_T = TypeVar("_T")
RECORD_RETRY_SECONDS = 60.0  # well inside the task's soft time limit (120 s)
RECORD_RETRY_FIRST_PAUSE = 0.1  # doubling to RECORD_RETRY_MAX_PAUSE: back soon after the database
RECORD_RETRY_MAX_PAUSE = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Compose:
    """What step 2 decided: a message to send, or a final status with the reason."""

    message: EmailMessage | None = None
    status: str = "sent"
    detail: str = ""


def retry_delay(attempts: int, first_seconds: float, ceiling_seconds: float) -> dt.timedelta:
    """By default 30 s, 1 min, 2 min, 4 min … capped at one hour."""
    return dt.timedelta(seconds=min(ceiling_seconds, first_seconds * 2 ** max(0, attempts - 1)))


def send_notification(
    sessions: sessionmaker[Session],
    notification_id: int,
    sender: Sender,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    profile: Profile = DEFAULT_PROFILE,
) -> str:
    """Send one outbox row if it is still to be sent; returns its final status for this attempt
    (``sent``, ``pending`` for a retry, ``failed``, ``superseded``, ``skipped``, ``held`` for a
    patient without a navigator) or ``not-claimed``."""
    now = now or utcnow()
    with sessions.begin() as session:
        claimed = rowcount(
            session,
            update(NotificationRow)
            .where(NotificationRow.id == notification_id, NotificationRow.status.in_(("pending", "queued")))
            .values(status="sending", claimed_at=now, attempts=NotificationRow.attempts + 1, updated_at=now),
        )
    if claimed != 1:
        return "not-claimed"
    try:
        with sessions() as session:
            row = session.get_one(NotificationRow, notification_id)
            attempts = row.attempts
            decision = compose(session, row, settings, now, profile)
    except Exception as exc:  # a bug or a database outage: retry later, visibly
        log.exception("notification %d: could not be composed", notification_id)
        return _record(
            sessions,
            notification_id,
            now,
            *_retry_or_fail(
                settings, _retrying(lambda: attempts_of(sessions, notification_id)), repr(exc), now
            ),
        )
    if decision.message is None:
        return _record(sessions, notification_id, now, decision.status, decision.detail, None)
    message = decision.message
    try:
        sender.send(message)
    except TransientSendError as exc:
        log.warning("notification %d: transient failure (%s)", notification_id, exc)
        return _record(sessions, notification_id, now, *_retry_or_fail(settings, attempts, str(exc), now))
    except PermanentSendError as exc:
        log.warning("notification %d: permanent failure (%s)", notification_id, exc)
        return _record(sessions, notification_id, now, "failed", str(exc), None)
    return _record(
        sessions,
        notification_id,
        now,
        "sent",
        None,
        None,
        recipients=", ".join(a.addr_spec for a in message["To"].addresses),
        message_id=str(message["Message-ID"]),
    )


def attempts_of(sessions: sessionmaker[Session], notification_id: int) -> int:
    with sessions() as session:
        return int(
            session.scalar(select(NotificationRow.attempts).where(NotificationRow.id == notification_id)) or 0
        )


def _retry_or_fail(
    settings: Settings, attempts: int, error: str, now: dt.datetime
) -> tuple[str, str, dt.datetime | None]:
    if attempts >= settings.notify_max_attempts:
        return "failed", f"gave up after {attempts} attempts: {error}", None
    delay = retry_delay(attempts, settings.notify_retry_first_seconds, settings.notify_retry_max_seconds)
    return "pending", error, now + delay


def _record(
    sessions: sessionmaker[Session],
    notification_id: int,
    claimed_at: dt.datetime,
    status: str,
    error: str | None,
    next_attempt_at: dt.datetime | None,
    *,
    recipients: str | None = None,
    message_id: str | None = None,
) -> str:
    now = utcnow()
    values: dict[str, object] = {
        "status": status,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
        "updated_at": now,
    }
    if status == "sent":
        values |= {"sent_at": now, "recipients": recipients, "message_id": message_id}
    if status == "pending":
        values["claimed_at"] = None
    statement = (
        update(NotificationRow)
        .where(
            NotificationRow.id == notification_id,
            NotificationRow.status == "sending",
            NotificationRow.claimed_at == claimed_at,  # still ours (not re-queued as stale)
        )
        .values(**values)
    )

    def write() -> None:
        with sessions.begin() as session:
            rowcount(session, statement)

    _retrying(write, what=f"notification {notification_id}: recording {status!r}")
    return status


def _retrying(
    work: Callable[[], _T],
    *,
    what: str = "reading the outbox",
    budget: float = RECORD_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run ``work`` again after transient database errors, for up to ``budget`` seconds."""
    deadline = time.monotonic() + budget
    pause = RECORD_RETRY_FIRST_PAUSE
    while True:
        try:
            return work()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning(
                "%s: transient database error, retrying in %.1f s (%s)", what, pause, type(exc).__name__
            )
            sleep(pause)
            pause = min(RECORD_RETRY_MAX_PAUSE, pause * 2)


# ---- composing ----------------------------------------------------------------------------------


def compose(
    session: Session, row: NotificationRow, settings: Settings, now: dt.datetime, profile: Profile
) -> Compose:
    if row.kind == "digest":
        return _compose_digest(session, row, settings, now)
    reminder = session.get(ReminderRow, row.reminder_id) if row.reminder_id is not None else None
    patient = session.get(PatientRow, row.patient_id) if row.patient_id is not None else None
    if reminder is None or patient is None:
        return Compose(status="failed", detail="the reminder or patient no longer exists")
    if row.kind == "cancel":
        if reminder.status in OPEN:
            return Compose(status="superseded", detail="the reminder is open again")
    elif reminder.status not in OPEN:
        return Compose(status="superseded", detail=f"the reminder is {reminder.status}")
    elif reminder.due_on != row.due_on:
        return Compose(status="superseded", detail="the date moved; the new date is told separately")
    if patient.navigator_id is None:  # not registered (or unassigned): nobody vouches for the address
        return Compose(status=HELD, detail="held until the patient is assigned a navigator")
    envelope_to = _recipients(session, row, patient)
    if isinstance(envelope_to, Compose):
        return envelope_to
    envelope = mail.Envelope(
        sender=settings.mail_from, to=envelope_to, message_id=message_id(row, settings), date=now
    )
    if row.audience == "navigator":
        return Compose(
            mail.compose_navigator_notice(
                envelope,
                patient_code=patient.patient_id,
                kind=reminder.kind,
                due_on=reminder.due_on,
                stage="overdue" if row.kind == "overdue" else "due" if row.kind == "due" else "advance",
                reason=row.reason or "",
                dashboard_url=f"{settings.base_url.rstrip('/')}/patients/{patient.patient_id}",
            )
        )
    item = calendar_item(patient.patient_id, reminder, profile)
    organizer = parseaddr(settings.mail_from)[1]
    if row.kind == "cancel":
        ics = render_invitation(item, "CANCEL", organizer=organizer, attendee=envelope_to[0])
        return Compose(
            mail.compose_patient_cancellation(
                envelope,
                kind=reminder.kind,
                due_on=reminder.due_on,
                ics=ics,
                clinic_name=settings.clinic_name,
                contact_line=settings.clinic_contact,
            )
        )
    ics = render_invitation(item, "REQUEST", organizer=organizer, attendee=envelope_to[0])
    return Compose(
        mail.compose_patient_notice(
            envelope,
            kind=reminder.kind,
            due_on=reminder.due_on,
            stage="due" if row.kind == "due" else "advance",
            ics=ics,
            clinic_name=settings.clinic_name,
            contact_line=settings.clinic_contact,
            today=settings.today(now),
        )
    )


def calendar_item(
    patient_id: str, reminder: ReminderRow, profile: Profile, summary: str | None = None
) -> CalendarItem:
    """The calendar entry of a reminder, the same in feeds and invitations (one UID per reminder).
    An open one with missed items before it says so in its summary and description."""
    summary = summary or label(reminder.kind).summary
    description = ""
    if reminder.status in OPEN and reminder.overdue_since is not None:
        summary = f"{summary} (overdue since {reminder.overdue_since.isoformat()})"
        description = missed_text(reminder.overdue_since, reminder.missed, reminder.last_done_on) + "."
    return CalendarItem(
        uid=item_uid(patient_id, reminder.key),
        summary=summary,
        description=description,
        due_on=reminder.due_on,
        sequence=reminder.revision,
        stamp=reminder.updated_at,
        is_cancelled=reminder.status == "cancelled",
        alarm_days_before=lead_days(profile, reminder.kind),
    )


def message_id(row: NotificationRow, settings: Settings) -> str:
    """Stable per outbox row: a resend after a crash carries the same Message-ID."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "gist-scheduler.invalid"
    digest = hashlib.sha256(row.dedup_key.encode()).hexdigest()[:16]
    return f"<n{row.id}.{digest}@{domain}>"


def _recipients(session: Session, row: NotificationRow, patient: PatientRow) -> tuple[str, ...] | Compose:
    if row.audience == "patient":
        if not patient.email or not mail.is_valid_address(patient.email):
            return Compose(status="failed", detail=f"patient {patient.patient_id} has no valid email address")
        return (patient.email,)
    emails = navigator_emails(session, patient.navigator_id)
    if not emails:
        return Compose(
            status="failed",
            detail=f"no navigator user with an email address for navigator_id {patient.navigator_id!r}",
        )
    return emails


def navigator_emails(session: Session, navigator_id: str | None) -> tuple[str, ...]:
    if navigator_id is None:
        return ()
    emails = session.scalars(
        select(UserRow.email)
        .where(
            UserRow.navigator_id == navigator_id,
            UserRow.role == "navigator",
            UserRow.is_active.is_(True),
            UserRow.email.is_not(None),
        )
        .order_by(UserRow.id)
    )
    return tuple(e for e in emails if e and mail.is_valid_address(e))


def _compose_digest(session: Session, row: NotificationRow, settings: Settings, now: dt.datetime) -> Compose:
    user = session.get(UserRow, row.user_id) if row.user_id is not None else None
    if user is None or not user.is_active or not user.email or not mail.is_valid_address(user.email):
        return Compose(status="failed", detail="the digest's user is gone, inactive or has no valid email")
    day = row.day
    patients = select(PatientRow.patient_id).where(PatientRow.navigator_id == user.navigator_id)
    since = now - dt.timedelta(days=1)
    alerts = session.execute(
        select(AlertRow.patient_id, AlertRow.severity, AlertRow.code)
        .where(
            AlertRow.patient_id.in_(patients), AlertRow.is_active.is_(True), AlertRow.first_seen_at >= since
        )
        .order_by(AlertRow.patient_id, AlertRow.code)
    ).all()
    since_on = func.coalesce(ReminderRow.overdue_since, ReminderRow.due_on)
    overdue = session.execute(  # past their window, or with missed items before them
        select(
            ReminderRow.patient_id,
            ReminderRow.kind,
            ReminderRow.due_on,
            ReminderRow.overdue_since,
            ReminderRow.missed,
            ReminderRow.last_done_on,
        )
        .where(
            ReminderRow.patient_id.in_(patients),
            or_(
                ReminderRow.status == "overdue",
                and_(ReminderRow.status.in_(("planned", "due")), ReminderRow.overdue_since.is_not(None)),
            ),
        )
        .order_by(since_on, ReminderRow.patient_id)
    ).all()
    week = session.execute(
        select(ReminderRow.patient_id, ReminderRow.kind, ReminderRow.due_on)
        .where(
            ReminderRow.patient_id.in_(patients),
            ReminderRow.status.in_(("planned", "due")),
            ReminderRow.overdue_since.is_(None),
            ReminderRow.due_on >= day,
            ReminderRow.due_on < day + dt.timedelta(days=DIGEST_DAYS_AHEAD),
        )
        .order_by(ReminderRow.due_on, ReminderRow.patient_id)
    ).all()
    failed = session.execute(
        select(NotificationRow.patient_id, NotificationRow.kind, NotificationRow.last_error)
        .where(
            NotificationRow.status == "failed",
            NotificationRow.navigator_id == user.navigator_id,
            NotificationRow.updated_at >= since,
        )
        .order_by(NotificationRow.id)
    ).all()
    if not (alerts or overdue or week or failed):
        return Compose(status="skipped", detail="nothing to report")
    envelope = mail.Envelope(
        sender=settings.mail_from, to=(user.email,), message_id=message_id(row, settings), date=now
    )
    return Compose(
        mail.compose_digest(
            envelope,
            navigator_name=user.username,
            day=day,
            new_alerts=[mail.DigestAlert(p, s, c) for p, s, c in alerts],
            overdue=[mail.DigestItem(*row) for row in overdue],
            due_this_week=[mail.DigestItem(p, k, d) for p, k, d in week],
            failed=[mail.DigestFailure(p, f"{k} email", e or "") for p, k, e in failed],
            dashboard_url=settings.base_url.rstrip("/") + "/",
        )
    )


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status (the demo and operators)."""
    return dict(
        session.execute(select(NotificationRow.status, func.count()).group_by(NotificationRow.status)).all()
    )
