"""The tables. The event log is the truth; everything else is recomputed from it.

* ``events``       — append-only: every accepted event once (unique ``event_id``), with a content
                     fingerprint to tell a harmless duplicate from a conflict, when it was received
                     and when a worker folded it into the plan;
* ``patients``     — one row per patient: contact details, and the lock a worker takes;
* ``patient_notes`` — staff notes and calls about a patient (who, when, what): added, never edited;
* ``patient_states`` — the latest computed risk, stage and therapy, with the profile and as-of used;
* ``reminders``    — unique per (patient, key); never deleted: gone → cancelled; each change bumps
                     ``revision`` (the calendar SEQUENCE and the notification de-duplication key);
                     a navigator's booking, snooze or waiver of the item is stored on it;
* ``alerts``       — one row per raised alert episode, resolved when its condition stops holding;
* ``processing_failures`` — a patient the worker could not process, for the navigator's worklist;
* ``clock_leases`` / ``clock_marks`` — keep a second clock process from doing the work twice;
* ``users``        — dashboard/API users; the password as an Argon2id hash, whether it must be
                     changed at the next sign-in (after an admin's reset);
* ``api_tokens``   — a user's API tokens: the SHA-256 digest (a token is shown once, when created),
                     an optional expiry, revocation;
* ``feeds``        — calendar subscriptions; only the SHA-256 digest of the URL's token is stored;
* ``web_sessions`` — dashboard sign-ins: the cookie's SHA-256 digest, its CSRF token, the absolute
                     expiry and the last request (for the idle timeout);
* ``audit_events`` — append-only: who read or wrote what, when (sign-ins too, failed ones feed the
                     rate limit);
* ``notifications`` — the outbox: one row per email to send, unique by ``dedup_key``
                     (reminder, notice kind, revision — or navigator and day for a digest), so a
                     retry, a redelivered task or a second clock never sends twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.statuses import (
    DUE_REMINDER_SQL,
    FAILED_NOTIFICATION_SQL,
    MISSED_REMINDER_SQL,
    OPEN_REMINDER_SQL,
    SENDABLE_NOTIFICATION_SQL,
    SNOOZED_REMINDER_SQL,
    SOON_REMINDER_SQL,
    NotificationStatus,
)
from models.types import EventId, PatientId, Timestamp, UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class PatientRow(Base):
    __tablename__ = "patients"
    # A navigator's patients, read from the index alone (the worklist's scope in every statement).
    __table_args__ = (
        Index("ix_patients_navigator", "navigator_id", "patient_id"),
        # A navigator feed's ETag: count and sum of its patients' feed revisions, from the index alone.
        Index("ix_patients_navigator_feed", "navigator_id", "feed_revision"),
    )

    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    navigator_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Raised to a fresh value (scheduler/patients/repository.py) whenever one of the patient's
    # reminder rows changes or the patient moves to another navigator, so a navigator feed's ETag
    # is an aggregate over its patients, not over their reminders.
    feed_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_unprocessed", "processed_at", "received_at"),
        Index("ix_events_patient", "patient_id", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[EventId] = mapped_column(unique=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.patient_id"))
    type: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the event exactly as received
    fingerprint: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PatientStateRow(Base):
    __tablename__ = "patient_states"

    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.patient_id"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(40))
    risk: Mapped[dict[str, Any]] = mapped_column(JSON)
    therapy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    profile: Mapped[str] = mapped_column(String(64))  # the profile's name
    # Its content hash (scheduler/config/profiles.py): the clock recomputes a patient planned under another.
    profile_hash: Mapped[str | None] = mapped_column(String(16))
    events_seen: Mapped[int] = mapped_column(Integer)
    # The first day after as_of on which the plan can change with no new event (Plan.changes_on);
    # the clock recomputes the patient then. Null: recompute at the next tick.
    recompute_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    # The hash of the planner's code that made the plan (scheduler/config/planner_version.py): the
    # clock recomputes a patient planned by another release's rules.
    planner_hash: Mapped[str | None] = mapped_column(String(16))
    computed_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class ReminderRow(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("patient_id", "key", name="uq_reminders_patient_key"),
        # ``id`` included: the worklist leaves snoozed reminders out by id, from the index alone.
        Index("ix_reminders_status_due", "status", "due_on", postgresql_include=["id"]),
        # A navigator's open reminders up to a date: one index range, read from the index alone
        # (the worklist, docs/performance.md §4). A patient's reminders (processing, the patient
        # page) are found through uq_reminders_patient_key.
        Index(
            "ix_reminders_navigator_open",
            "navigator_id",
            "status",
            "due_on",
            postgresql_include=["id", "kind", "patient_id"],  # kind: the worklist's filter
            sqlite_where=text(OPEN_REMINDER_SQL),
            postgresql_where=text(OPEN_REMINDER_SQL),
        ),
        # Open reminders with missed items before them (few): the worklist's overdue section lists
        # them by ``overdue_since`` whatever their own status.
        Index(
            "ix_reminders_navigator_missed",
            "navigator_id",
            "overdue_since",
            postgresql_include=["id", "kind", "patient_id", "status", "due_on"],
            sqlite_where=text(MISSED_REMINDER_SQL),
            postgresql_where=text(MISSED_REMINDER_SQL),
        ),
        # Everyone's due-soon items, counted from the index alone: with ix_reminders_status_due the
        # missed ones had to be read from the table to be left out.
        Index(
            "ix_reminders_soon",
            "status",
            "due_on",
            postgresql_include=["id"],
            sqlite_where=text(SOON_REMINDER_SQL),
            postgresql_where=text(SOON_REMINDER_SQL),
        ),
        # Due reminders by the day they become overdue: the daily status UPDATE reads only those
        # whose window has closed (scheduler/patients/repository.py advance_statuses).
        Index(
            "ix_reminders_due_overdue_from",
            "overdue_from",
            sqlite_where=text(DUE_REMINDER_SQL),
            postgresql_where=text(DUE_REMINDER_SQL),
        ),
        # Rows without overdue_from (written by an older release's worker during an upgrade): the
        # daily status UPDATE fills them in first (scheduler/patients/repository.py).
        Index(
            "ix_reminders_overdue_from_missing",
            "id",
            sqlite_where=text("overdue_from IS NULL"),
            postgresql_where=text("overdue_from IS NULL"),
        ),
        Index(
            "ix_reminders_missed",
            "overdue_since",
            postgresql_include=["id", "kind", "patient_id", "status", "due_on"],
            sqlite_where=text(MISSED_REMINDER_SQL),
            postgresql_where=text(MISSED_REMINDER_SQL),
        ),
        # Reminders a navigator snoozed (open ones: the plan drops a closed item's snooze): the
        # worklist leaves out those still snoozed, one short range (``snoozed_until > today``)
        # whoever the caller. No status in its predicate: the planner would take the status
        # indexes for a query that names one.
        Index(
            "ix_reminders_snoozed",
            "snoozed_until",
            "navigator_id",
            postgresql_include=["id"],
            sqlite_where=text(SNOOZED_REMINDER_SQL),
            postgresql_where=text(SNOOZED_REMINDER_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.patient_id"))
    # A copy of the patient's navigator_id, so that a navigator's worklist is one index range
    # (kept by scheduler.patients.processing, which alone writes patients.navigator_id).
    navigator_id: Mapped[str | None] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[dt.date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # a models.statuses.ReminderStatus
    rule: Mapped[str] = mapped_column(String(64))
    rationale: Mapped[str] = mapped_column(Text)
    citation: Mapped[str] = mapped_column(Text)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    completed_by: Mapped[str | None] = mapped_column(String(128))
    cancelled_on: Mapped[dt.date | None] = mapped_column(Date)
    # On open items (event-contract.md §2): the due date of the first of the unbroken run of missed
    # items just before this one in its series, how many there were, and the latest fulfilment of
    # this kind. Null / 0 / null otherwise.
    overdue_since: Mapped[dt.date | None] = mapped_column(Date)
    missed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_done_on: Mapped[dt.date | None] = mapped_column(Date)
    # due_on + window_days + 1: the first day an open item is overdue, so the daily UPDATE that moves
    # statuses with the calendar compares dates only (scheduler/operations/statuses.py).
    overdue_from: Mapped[dt.date | None] = mapped_column(Date)
    # The navigator's actions as the plan carries them (reminder_booked / _snoozed / _waived): the
    # latest booking and snooze of an open item; the waiver of a waived, cancelled one as
    # ``{reason, waived_on, done_on, note}``. Null otherwise.
    appointment_on: Mapped[dt.date | None] = mapped_column(Date)
    appointment_place: Mapped[str | None] = mapped_column(String(200))
    snoozed_until: Mapped[dt.date | None] = mapped_column(Date)
    waiver: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # None: SQL NULL
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The day the clock next looks at this reminder for a notice (scheduler/domain/notices.py);
    # None once nothing more is to be told (closed, or every stage sent).
    notice_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_active",
            "patient_id",
            "rule",
            "code",
            unique=True,  # at most one *active* alert per rule and code: a partial unique index
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        # The worklist (scheduler/staff/worklist.py): a navigator's active alerts, index-only; everyone's,
        # one severity and acknowledgement state at a time, newest first.
        Index(
            "ix_alerts_active_navigator",
            "navigator_id",
            "severity",
            postgresql_include=["id", "acknowledged_at", "first_seen_at"],  # what the worklist ranks by
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index(
            "ix_alerts_active_open",
            "severity",
            "first_seen_at",
            sqlite_where=text("is_active AND acknowledged_at IS NULL"),
            postgresql_where=text("is_active AND acknowledged_at IS NULL"),
        ),
        Index(
            "ix_alerts_active_acknowledged",
            "severity",
            "first_seen_at",
            sqlite_where=text("is_active AND acknowledged_at IS NOT NULL"),
            postgresql_where=text("is_active AND acknowledged_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.patient_id"), index=True)
    navigator_id: Mapped[str | None] = mapped_column(String(128))  # the patient's, as on reminders
    code: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    citation: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # A navigator or clinician saw it and noted what was done (the alert stays active while its
    # condition holds; acknowledging only takes it off the "new" list).
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)


class ProcessingFailureRow(Base):
    __tablename__ = "processing_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[PatientId]
    task: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    occurred_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ClockLeaseRow(Base):
    __tablename__ = "clock_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[Timestamp]


class ClockMarkRow(Base):
    __tablename__ = "clock_marks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_on: Mapped[dt.date] = mapped_column(Date)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # navigator, clinician, admin, integration
    navigator_id: Mapped[str | None] = mapped_column(String(128), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(300))
    # Set by an admin's password reset: the dashboard shows only the change-password page until
    # the user has chosen a new password.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Not read: API tokens are ``api_tokens`` rows. Kept unique and filled with the digest of a
    # random value nobody holds (a database at revision 0005 read it as the user's token).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class ApiTokenRow(Base):
    """One API token of a user: only its SHA-256 digest is stored. A token answers while it is
    neither revoked nor past ``expires_at`` (None: no expiry) and its user is active."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # patient, navigator
    subject_id: Mapped[str] = mapped_column(String(128))  # the patient_id or navigator_id
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class NotificationRow(Base):
    """One email in the outbox; its status is a :class:`~models.statuses.NotificationStatus`."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status", "status", "next_attempt_at"),
        Index(  # the clock's claim: small whatever the outbox's history (see docs/performance.md §3)
            "ix_notifications_sendable",
            "id",
            sqlite_where=text(SENDABLE_NOTIFICATION_SQL),
            postgresql_where=text(SENDABLE_NOTIFICATION_SQL),
        ),
        Index(  # the worklist's failed emails, newest first, counted and scoped from the index alone
            "ix_notifications_failed",
            "updated_at",
            "id",
            postgresql_include=["patient_id", "navigator_id"],
            sqlite_where=text(FAILED_NOTIFICATION_SQL),
            postgresql_where=text(FAILED_NOTIFICATION_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # advance, due, overdue, cancel, digest
    audience: Mapped[str] = mapped_column(String(16))  # patient, navigator
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    navigator_id: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revision: Mapped[int | None] = mapped_column(Integer)
    due_on: Mapped[dt.date | None] = mapped_column(Date)  # the date the email tells
    day: Mapped[dt.date] = mapped_column(Date)  # the clinic day it was created for
    reason: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    recipients: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[Timestamp]
    # The last request seen on this session (written at most once a minute): the idle timeout.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AuditRow(Base):
    """One line of the audit trail. ``detail`` is short and names no clinical content."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_patient", "patient_id", "at"),
        Index("ix_audit_action_subject", "action", "username", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[Timestamp] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(500))
    client: Mapped[str | None] = mapped_column(String(64))  # the client's address
    subject: Mapped[str | None] = mapped_column(String(64))  # the account an account change is about


class FhirReviewRow(Base):
    """An item of a FHIR import that could not be mapped safely, for a navigator to resolve.

    ``key`` hashes the source resource version and the reason, so re-importing a Bundle stores each
    item once. ``patient_id`` is the FHIR Patient id (no foreign key: the patient may not be enrolled).
    """

    __tablename__ = "fhir_review_items"
    __table_args__ = (Index("ix_fhir_review_patient", "patient_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PatientNoteRow(Base):
    """A note or a call about a patient, written by staff on the dashboard. ``kind`` is ``note``,
    ``call_reached``, ``call_no_answer`` or ``call_left_message``; ``author`` is the username at
    the time (``user_id`` the account). Added, never edited; each one is audited (``note_add``)."""

    __tablename__ = "patient_notes"
    __table_args__ = (Index("ix_patient_notes_patient", "patient_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(64), ForeignKey("patients.patient_id"))
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class FhirSyncPointRow(Base):
    """Where the next ``gistsched fhir pull`` from a server starts reading a patient's record.

    ``read_from`` is the server's own clock at the start of the last complete pull, less the
    overlap setting: the next pull asks for ``_lastUpdated=ge<read_from>``. A patient with no row
    for a server (newly enrolled) is read whole.
    """

    __tablename__ = "fhir_sync_points"

    server: Mapped[str] = mapped_column(String(500), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    read_from: Mapped[Timestamp] = mapped_column()
    pulled_at: Mapped[Timestamp] = mapped_column(default=utcnow)
