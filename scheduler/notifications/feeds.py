"""Calendar subscriptions (event-contract.md ``feed create/revoke``, ``GET /feeds/…``).

A feed is a patient's own reminders (the kinds the patient takes part in) or every reminder of a
navigator's patients. Its URL carries a 256-bit token; the database keeps only the token's SHA-256
digest (:mod:`scheduler.staff.tokens`), so the URL is shown once, at creation, and never logged.

What a feed lists at ``today``: every open reminder; completed ones due or done in the last
:data:`COMPLETED_DAYS` days (recent history: an item fulfilled late stays in the calendar);
cancelled ones for :data:`CANCELLED_DAYS` days after their cancellation with STATUS:CANCELLED, so
subscribed calendars remove them, then nothing.

The ETag is a digest of the feed, the day and the feed revisions of the feed's patients (count,
sum, maximum: ``patients.feed_revision`` gets a fresh, larger value whenever one of the patient's
reminders changes or the patient changes navigator, so any insert, move, cancellation or
reassignment changes it). It is computed without rendering and without reading a reminder, so a
calendar's ``If-None-Match`` poll costs one index-only query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from models.rows import FeedRow, PatientRow, ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES, ReminderStatus
from models.types import utcnow
from models.vocabulary import FeedScope
from notifications.ical import CalendarItem, render_feed
from scheduler.domain.notices import NOTICE_KINDS
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.notifications import repository
from scheduler.notifications.calendar import calendar_item
from scheduler.staff.tokens import new_token, token_digest

COMPLETED_DAYS = 90
CANCELLED_DAYS = 30
RENDER_VERSION = "3"  # bump when the rendering changes, so cached copies are refreshed
PATIENT_KINDS = tuple(kind for kind, facts in NOTICE_KINDS.items() if facts.patient_facing)


class FeedError(ValueError):
    """A bad ``feed create/revoke`` request: the option and the problem (CLI exit 2)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True, slots=True)
class CreatedFeed:
    id: str
    url: str


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/feeds/{token}.ics"


def create_feed(sessions: sessionmaker[Session], scope: str, subject_id: str, base_url: str) -> CreatedFeed:
    """A new subscription for a known patient or navigator; the only time its token is visible."""
    with sessions.begin() as session:
        if scope == FeedScope.PATIENT:
            if session.get(PatientRow, subject_id) is None:
                raise FeedError(
                    "--patient", f"no patient {subject_id!r} is stored (submit their events first)"
                )
        elif scope == FeedScope.NAVIGATOR:
            if not repository.is_known_navigator(session, subject_id):
                raise FeedError("--navigator", f"no user or patient has navigator_id {subject_id!r}")
        else:
            raise FeedError("scope", f"must be patient or navigator (got {scope!r})")
        token = new_token()
        feed_id = "feed_" + secrets.token_hex(8)
        session.add(
            FeedRow(
                id=feed_id,
                scope=scope,
                subject_id=subject_id,
                token_hash=token_digest(token),
                created_at=utcnow(),
            )
        )
    return CreatedFeed(feed_id, feed_url(base_url, token))


def revoke_feed(sessions: sessionmaker[Session], feed_id: str) -> str | None:
    """Revoke ``feed_id``; returns its patient (None for a navigator feed) for the audit trail."""
    with sessions.begin() as session:
        feed = session.get(FeedRow, feed_id)
        if feed is None:
            raise FeedError("ID", f"no feed {feed_id!r}")
        if feed.revoked_at is None:
            feed.revoked_at = utcnow()
        return feed.subject_id if feed.scope == FeedScope.PATIENT else None


def find_feed(session: Session, token: str) -> FeedRow | None:
    """The live feed of ``token``, or None. One indexed query whatever the token: malformed, wrong
    and revoked tokens take the same path and the same time."""
    return session.scalar(
        select(FeedRow).where(FeedRow.token_hash == token_digest(token), FeedRow.revoked_at.is_(None))
    )


def _listed(feed: FeedRow, today: dt.date) -> Select[ReminderRow]:
    recent = today - dt.timedelta(days=COMPLETED_DAYS)
    visible = or_(
        ReminderRow.status.in_(OPEN_REMINDER_STATUSES),
        and_(
            ReminderRow.status == ReminderStatus.COMPLETED,
            or_(ReminderRow.due_on >= recent, ReminderRow.completed_on >= recent),
        ),
        and_(
            ReminderRow.status == ReminderStatus.CANCELLED,
            ReminderRow.cancelled_on >= today - dt.timedelta(days=CANCELLED_DAYS),
        ),
    )
    query = select(ReminderRow).where(visible)
    if feed.scope == FeedScope.PATIENT:
        return query.where(ReminderRow.patient_id == feed.subject_id, ReminderRow.kind.in_(PATIENT_KINDS))
    patients = select(PatientRow.patient_id).where(PatientRow.navigator_id == feed.subject_id)
    return query.where(ReminderRow.patient_id.in_(patients))


def feed_etag(session: Session, feed: FeedRow, today: dt.date, profile_digest: str = "") -> str:
    """From the feed revisions of the patients it lists (one index-only aggregate), the day and the
    profile's hash (its lead times are the alarms)."""
    revisions = select(
        func.count(), func.coalesce(func.sum(PatientRow.feed_revision), 0), func.max(PatientRow.feed_revision)
    )
    if feed.scope == FeedScope.PATIENT:
        revisions = revisions.where(PatientRow.patient_id == feed.subject_id)
    else:
        revisions = revisions.where(PatientRow.navigator_id == feed.subject_id)
    count, total, newest = session.execute(revisions).one()
    text = "|".join(
        map(str, (RENDER_VERSION, feed.id, today.isoformat(), count, total, newest, profile_digest))
    )
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def feed_name(feed: FeedRow) -> str:
    return (
        "Follow-up reminders"
        if feed.scope == FeedScope.PATIENT
        else f"Follow-up: navigator {feed.subject_id}"
    )


def feed_items(
    session: Session, feed: FeedRow, today: dt.date, profile: Profile = DEFAULT_PROFILE
) -> list[CalendarItem]:
    rows = session.scalars(
        _listed(feed, today).order_by(ReminderRow.due_on, ReminderRow.patient_id, ReminderRow.id)
    )
    if feed.scope == FeedScope.PATIENT:
        return [calendar_item(r.patient_id, r, profile) for r in rows]
    return [calendar_item(r.patient_id, r, profile, summary=_navigator_summary(r)) for r in rows]


def _navigator_summary(reminder: ReminderRow) -> str:
    from notifications.labels import label

    return f"{label(reminder.kind).calendar} · {reminder.patient_id}"


def render(session: Session, feed: FeedRow, today: dt.date, profile: Profile = DEFAULT_PROFILE) -> bytes:
    return render_feed(feed_name(feed), feed_items(session, feed, today, profile))
