"""The queries of the staff use cases: users, their API tokens and dashboard sessions, the audit
trail (the sign-in throttle counts its lines) and the week view's reminders. Every function works
in the caller's session (the caller owns the transaction).

The week view repeats the open reminders' partial-index predicate literally
(:data:`OPEN_REMINDER`): SQLite uses a partial index only when the query's WHERE contains the
index's condition with the same constants, not bound parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, select, text, update
from sqlalchemy.orm import Session

from models.rows import ApiTokenRow, AuditRow, PatientRow, ReminderRow, UserRow, WebSessionRow
from models.statuses import OPEN_REMINDER_SQL

OPEN_REMINDER = text(f"reminders.{OPEN_REMINDER_SQL}")  # the partial index's predicate, verbatim


# ---- users --------------------------------------------------------------------------------------


def user_named(session: Session, username: str, *, only_active: bool = False) -> UserRow | None:
    """The user called ``username`` (None as well when ``only_active`` and the user is disabled)."""
    query = select(UserRow).where(UserRow.username == username)
    if only_active:
        query = query.where(UserRow.is_active)
    return session.scalar(query)


def has_user(session: Session, username: str) -> bool:
    return session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None


def add_user(session: Session, user: UserRow) -> UserRow:
    """Store ``user`` (flushed: its id is known)."""
    session.add(user)
    session.flush()
    return user


def user_by_id(session: Session, user_id: int) -> UserRow:
    return session.get_one(UserRow, user_id)


def users_by_name(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def patient(session: Session, patient_id: str) -> PatientRow | None:
    """The patient row, for a scope check (from the session's identity map when loaded)."""
    return session.get(PatientRow, patient_id)


# ---- API tokens ---------------------------------------------------------------------------------


def user_for_token(session: Session, digest: str, now: dt.datetime) -> UserRow | None:
    """The active user holding the live (not revoked, not expired) token of SHA-256 ``digest``."""
    return session.scalar(
        select(UserRow)
        .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
        .where(
            ApiTokenRow.token_hash == digest,
            ApiTokenRow.revoked_at.is_(None),
            or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
            UserRow.is_active,
        )
    )


def add_token(
    session: Session, user_id: int, digest: str, now: dt.datetime, expires_at: dt.datetime | None
) -> ApiTokenRow:
    """A new API token row (flushed: its id is known)."""
    row = ApiTokenRow(user_id=user_id, token_hash=digest, created_at=now, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def live_token_counts(session: Session, now: dt.datetime) -> dict[int, int]:
    """How many live API tokens each user holds, by user id (users without one are left out)."""
    live: dict[int, int] = {}
    for user_id, expires_at in session.execute(
        select(ApiTokenRow.user_id, ApiTokenRow.expires_at).where(ApiTokenRow.revoked_at.is_(None))
    ):
        if expires_at is None or expires_at > now:
            live[user_id] = live.get(user_id, 0) + 1
    return live


def tokens_with_owner(session: Session, username: str | None = None) -> list[tuple[ApiTokenRow, str]]:
    """Every token (of ``username`` only, when given) with its owner's username, by id."""
    query = (
        select(ApiTokenRow, UserRow.username)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .order_by(ApiTokenRow.id)
    )
    if username is not None:
        query = query.where(UserRow.username == username)
    return [(row, name) for row, name in session.execute(query)]


def token_with_owner(session: Session, token_id: int) -> tuple[ApiTokenRow, str] | None:
    found = session.execute(
        select(ApiTokenRow, UserRow.username)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.id == token_id)
    ).first()
    return None if found is None else (found[0], found[1])


# ---- dashboard sessions -------------------------------------------------------------------------


def live_session(
    session: Session, digest: str, now: dt.datetime, idle: dt.timedelta
) -> tuple[WebSessionRow, UserRow] | None:
    """The session of cookie digest ``digest`` and its active user: not revoked, before its absolute
    expiry and used within ``idle``. One indexed lookup whatever is wrong with the cookie."""
    row = session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, UserRow.id == WebSessionRow.user_id)
        .where(
            WebSessionRow.token_hash == digest,
            WebSessionRow.revoked_at.is_(None),
            WebSessionRow.expires_at > now,
            func.coalesce(WebSessionRow.last_seen_at, WebSessionRow.created_at) > now - idle,
            UserRow.is_active,
        )
    ).first()
    return None if row is None else (row[0], row[1])


def add_web_session(session: Session, web_session: WebSessionRow) -> None:
    session.add(web_session)


def mark_seen(session: Session, session_id: int, now: dt.datetime) -> None:
    session.execute(update(WebSessionRow).where(WebSessionRow.id == session_id).values(last_seen_at=now))


def revoke_session(session: Session, digest: str, now: dt.datetime) -> None:
    """Revoke the live session of cookie digest ``digest`` (none: nothing happens)."""
    session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.token_hash == digest, WebSessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_sessions(session: Session, user_id: int, now: dt.datetime) -> None:
    """Revoke every live session of the user."""
    session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.user_id == user_id, WebSessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# ---- the audit trail ----------------------------------------------------------------------------


def add_audit_line(session: Session, line: AuditRow) -> None:
    session.add(line)


def audit_lines(session: Session, patient_id: str | None, limit: int) -> list[AuditRow]:
    """The trail (of one patient, when given), oldest first, at most ``limit`` lines."""
    query = select(AuditRow).order_by(AuditRow.at, AuditRow.id).limit(limit)
    if patient_id is not None:
        query = query.where(AuditRow.patient_id == patient_id)
    return list(session.scalars(query))


def last_reset(
    session: Session, username: str, client: str | None, since: dt.datetime, resetting: Collection[str]
) -> dt.datetime | None:
    """The time of the latest sign-in of (username, client), or of an action in ``resetting`` about
    the account, since ``since``."""
    return session.scalar(
        select(func.max(AuditRow.at)).where(
            AuditRow.at >= since,
            or_(
                (AuditRow.action == "sign_in") & (AuditRow.username == username) & _same_client(client),
                AuditRow.action.in_(resetting) & (AuditRow.subject == username),
            ),
        )
    )


def failed_sign_ins(
    session: Session, username: str, client: str | None, since: dt.datetime
) -> list[dt.datetime]:
    """When (username, client) failed to sign in since ``since``, latest first; a throttled attempt
    (one with a ``detail``) checked no password and is not counted."""
    return list(
        session.scalars(
            select(AuditRow.at)
            .where(
                AuditRow.action == "sign_in_failed",
                AuditRow.username == username,
                _same_client(client),
                AuditRow.at >= since,
                AuditRow.detail.is_(None),
            )
            .order_by(AuditRow.at.desc())
        )
    )


def _same_client(client: str | None) -> ColumnElement[bool]:
    return AuditRow.client.is_(None) if not client else AuditRow.client == client[:64]


# ---- the week view ------------------------------------------------------------------------------


def open_reminders_by_day(
    session: Session,
    first: dt.date,
    last: dt.date,
    *,
    navigator_id: str | None,
    kind: str | None,
    per_day: int,
) -> Sequence[Row[Any]]:
    """The open reminders due from ``first`` to ``last`` (of ``navigator_id``'s patients when given;
    of one ``kind`` when given), at most ``per_day`` a day, by day, patient and id; each row with
    its day's full count (``day_count``) and its patient's name (``patient_name``)."""
    where: list[Any] = [OPEN_REMINDER, ReminderRow.due_on >= first, ReminderRow.due_on <= last]
    if navigator_id is not None:
        where.append(ReminderRow.navigator_id == navigator_id)
    if kind:
        where.append(ReminderRow.kind == kind)
    ranked = (
        select(
            ReminderRow.id,
            func.row_number()
            .over(partition_by=ReminderRow.due_on, order_by=(ReminderRow.patient_id, ReminderRow.id))
            .label("n"),
            func.count().over(partition_by=ReminderRow.due_on).label("day_count"),
        )
        .where(*where)
        .subquery()
    )
    return session.execute(
        select(
            ReminderRow.id,
            ReminderRow.patient_id,
            ReminderRow.key,
            ReminderRow.kind,
            ReminderRow.due_on,
            ReminderRow.window_days,
            ReminderRow.status,
            ReminderRow.overdue_since,
            ranked.c.day_count,
            select(PatientRow.name)
            .where(PatientRow.patient_id == ReminderRow.patient_id)
            .scalar_subquery()
            .label("patient_name"),
        )
        .join(ranked, ranked.c.id == ReminderRow.id)
        .where(ranked.c.n <= per_day)
        .order_by(ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
    ).all()
