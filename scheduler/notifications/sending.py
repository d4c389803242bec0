"""``notifications.send``: send one outbox row, exactly once (style.md "send after commit").

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
recognisable as the same message. The queries are in :mod:`scheduler.notifications.repository`.
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

from sqlalchemy.orm import Session, sessionmaker

from models.db import is_transient
from models.rows import NotificationRow, PatientRow, ReminderRow, UserRow
from models.statuses import OPEN_REMINDER_STATUSES, NotificationStatus
from models.types import utcnow
from models.vocabulary import Audience, NotificationKind
from notifications import mail
from notifications.ical import render_invitation
from notifications.smtp import PermanentSendError, Sender, TransientSendError
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.notifications import repository
from scheduler.notifications.calendar import calendar_item
from scheduler.notifications.digest import compose_digest

_T = TypeVar("_T")
RECORD_RETRY_SECONDS = 60.0  # well inside the task's soft time limit (120 s)
RECORD_RETRY_FIRST_PAUSE = 0.1  # doubling to RECORD_RETRY_MAX_PAUSE: back soon after the database
RECORD_RETRY_MAX_PAUSE = 1.0
NOT_CLAIMED = "not-claimed"  # send_notification's answer when another caller has the row

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Compose:
    """What step 2 decided: a message to send, or a final status with the reason."""

    message: EmailMessage | None = None
    status: NotificationStatus = NotificationStatus.SENT
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
        claimed = repository.claim_for_sending(session, notification_id, now)
    if not claimed:
        return NOT_CLAIMED
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
        return _record(sessions, notification_id, now, NotificationStatus.FAILED, str(exc), None)
    return _record(
        sessions,
        notification_id,
        now,
        NotificationStatus.SENT,
        None,
        None,
        recipients=", ".join(a.addr_spec for a in message["To"].addresses),
        message_id=str(message["Message-ID"]),
    )


def attempts_of(sessions: sessionmaker[Session], notification_id: int) -> int:
    with sessions() as session:
        return repository.attempts(session, notification_id)


def _retry_or_fail(
    settings: Settings, attempts: int, error: str, now: dt.datetime
) -> tuple[NotificationStatus, str, dt.datetime | None]:
    if attempts >= settings.notify_max_attempts:
        return NotificationStatus.FAILED, f"gave up after {attempts} attempts: {error}", None
    delay = retry_delay(attempts, settings.notify_retry_first_seconds, settings.notify_retry_max_seconds)
    return NotificationStatus.PENDING, error, now + delay


def _record(
    sessions: sessionmaker[Session],
    notification_id: int,
    claimed_at: dt.datetime,
    status: NotificationStatus,
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
    if status == NotificationStatus.SENT:
        values |= {"sent_at": now, "recipients": recipients, "message_id": message_id}
    if status == NotificationStatus.PENDING:
        values["claimed_at"] = None

    def write() -> None:
        with sessions.begin() as session:
            repository.record_outcome(session, notification_id, claimed_at, values)

    _retrying(write, what=f"notification {notification_id}: recording {status.value!r}")
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
    """The email of ``row`` as things stand now, or the status it ends in without one."""
    if row.kind == NotificationKind.DIGEST:
        return _compose_digest(session, row, settings, now)
    reminder = session.get(ReminderRow, row.reminder_id) if row.reminder_id is not None else None
    patient = session.get(PatientRow, row.patient_id) if row.patient_id is not None else None
    if reminder is None or patient is None:
        return Compose(status=NotificationStatus.FAILED, detail="the reminder or patient no longer exists")
    stale = _superseded(row, reminder)
    if stale is not None:
        return stale
    if patient.navigator_id is None:  # not registered (or unassigned): nobody vouches for the address
        return Compose(
            status=NotificationStatus.HELD, detail="held until the patient is assigned a navigator"
        )
    envelope_to = _recipients(session, row, patient)
    if isinstance(envelope_to, Compose):
        return envelope_to
    envelope = mail.Envelope(
        sender=settings.mail_from, to=envelope_to, message_id=message_id(row, settings), date=now
    )
    if row.audience == Audience.NAVIGATOR:
        return Compose(_navigator_notice(envelope, row, patient, reminder, settings))
    return Compose(_patient_email(envelope, row, patient, reminder, settings, now, profile))


def _superseded(row: NotificationRow, reminder: ReminderRow) -> Compose | None:
    """A notice the reminder no longer calls for: it closed (or, for a CANCEL, opened again) or
    its date moved since the row was written (the move wrote its own notice)."""
    is_open = reminder.status in OPEN_REMINDER_STATUSES
    if row.kind == NotificationKind.CANCEL:
        if is_open:
            return Compose(status=NotificationStatus.SUPERSEDED, detail="the reminder is open again")
    elif not is_open:
        return Compose(status=NotificationStatus.SUPERSEDED, detail=f"the reminder is {reminder.status}")
    elif reminder.due_on != row.due_on:
        return Compose(
            status=NotificationStatus.SUPERSEDED, detail="the date moved; the new date is told separately"
        )
    return None


def _navigator_notice(
    envelope: mail.Envelope,
    row: NotificationRow,
    patient: PatientRow,
    reminder: ReminderRow,
    settings: Settings,
) -> EmailMessage:
    return mail.compose_navigator_notice(
        envelope,
        patient_code=patient.patient_id,
        kind=reminder.kind,
        due_on=reminder.due_on,
        stage="overdue" if row.kind == "overdue" else "due" if row.kind == "due" else "advance",
        reason=row.reason or "",
        dashboard_url=f"{settings.base_url.rstrip('/')}/patients/{patient.patient_id}",
        appointment=_appointment(reminder),
    )


def _appointment(reminder: ReminderRow) -> mail.Appointment | None:
    """The booking of an open reminder, as the emails mention it."""
    if reminder.appointment_on is None or reminder.status not in OPEN_REMINDER_STATUSES:
        return None
    return mail.Appointment(reminder.appointment_on, reminder.appointment_place)


def _patient_email(
    envelope: mail.Envelope,
    row: NotificationRow,
    patient: PatientRow,
    reminder: ReminderRow,
    settings: Settings,
    now: dt.datetime,
    profile: Profile,
) -> EmailMessage:
    """A notice with a REQUEST invitation, or a cancellation with a CANCEL."""
    item = calendar_item(patient.patient_id, reminder, profile)
    organizer = parseaddr(settings.mail_from)[1]
    if row.kind == NotificationKind.CANCEL:
        ics = render_invitation(item, "CANCEL", organizer=organizer, attendee=envelope.to[0])
        return mail.compose_patient_cancellation(
            envelope,
            kind=reminder.kind,
            due_on=reminder.due_on,
            ics=ics,
            clinic_name=settings.clinic_name,
            clinic_phone=settings.clinic_phone,
        )
    ics = render_invitation(item, "REQUEST", organizer=organizer, attendee=envelope.to[0])
    return mail.compose_patient_notice(
        envelope,
        kind=reminder.kind,
        due_on=reminder.due_on,
        stage="due" if row.kind == "due" else "advance",
        ics=ics,
        clinic_name=settings.clinic_name,
        clinic_phone=settings.clinic_phone,
        today=settings.today(now),
        appointment=_appointment(reminder),
    )


def message_id(row: NotificationRow, settings: Settings) -> str:
    """Stable per outbox row: a resend after a crash carries the same Message-ID."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "gist-scheduler.invalid"
    digest = hashlib.sha256(row.dedup_key.encode()).hexdigest()[:16]
    return f"<n{row.id}.{digest}@{domain}>"


def _recipients(session: Session, row: NotificationRow, patient: PatientRow) -> tuple[str, ...] | Compose:
    if row.audience == Audience.PATIENT:
        if not patient.email or not mail.is_valid_address(patient.email):
            return Compose(
                status=NotificationStatus.FAILED,
                detail=f"patient {patient.patient_id} has no valid email address",
            )
        return (patient.email,)
    emails = navigator_emails(session, patient.navigator_id)
    if not emails:
        return Compose(
            status=NotificationStatus.FAILED,
            detail=f"no navigator user with an email address for navigator_id {patient.navigator_id!r}",
        )
    return emails


def navigator_emails(session: Session, navigator_id: str | None) -> tuple[str, ...]:
    """The valid email addresses of ``navigator_id``'s active navigator users."""
    if navigator_id is None:
        return ()
    return tuple(e for e in repository.navigator_emails(session, navigator_id) if mail.is_valid_address(e))


def _compose_digest(session: Session, row: NotificationRow, settings: Settings, now: dt.datetime) -> Compose:
    user = session.get(UserRow, row.user_id) if row.user_id is not None else None
    if user is None or not user.is_active or not user.email or not mail.is_valid_address(user.email):
        return Compose(
            status=NotificationStatus.FAILED,
            detail="the digest's user is gone, inactive or has no valid email",
        )
    envelope = mail.Envelope(
        sender=settings.mail_from, to=(user.email,), message_id=message_id(row, settings), date=now
    )
    message = compose_digest(session, user, row.day, now, envelope, settings.base_url)
    if message is None:
        return Compose(status=NotificationStatus.SKIPPED, detail="nothing to report")
    return Compose(message)


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status (the demo and operators)."""
    return repository.outbox_counts(session)
