"""A navigator's daily digest, read with the worklist's own query (:func:`scheduler.staff.worklist.worklist`)
as the navigator's worklist shows it on the digest's day: the same counts (overdue, due this week,
critical and other alerts, failed notifications) and the first items of the same lists, so the email
and the dashboard never disagree. The email names patients by code, items by their label and alerts
by severity and date: alert codes and messages name mutations and drugs, and stay behind sign-in.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from models.rows import UserRow
from models.vocabulary import Role
from notifications import mail
from scheduler.staff.access import Principal
from scheduler.staff.worklist import DEFAULT_DAYS, worklist

DIGEST_ITEMS = 25  # listed per section; the counts are complete
NEW_WITHIN = dt.timedelta(days=1)  # an alert first seen this recently is marked "new"


def compose_digest(
    session: Session, user: UserRow, day: dt.date, now: dt.datetime, envelope: mail.Envelope, base_url: str
) -> EmailMessage | None:
    """The digest of ``user`` (a navigator) for ``day``, or None when there is nothing to report."""
    principal = Principal(user.id, user.username, Role.NAVIGATOR, user.navigator_id)
    found = worklist(session, principal, day, days=DEFAULT_DAYS, limit=DIGEST_ITEMS)
    counts = found["counts"]
    digest_counts = mail.DigestCounts(
        critical=counts["critical"],
        overdue=counts["overdue"],
        due_soon=counts["due_soon"],
        alerts=counts["alerts"],
        failed=counts["failed_notifications"],
        snoozed=counts["snoozed"],
    )
    if not any(digest_counts):
        return None
    return mail.compose_digest(
        envelope,
        navigator_name=user.username,
        day=day,
        counts=digest_counts,
        alerts=[_alert(a, now) for a in found["alerts"]],
        overdue=[_item(r) for r in found["overdue"]],
        due_this_week=[_item(r) for r in found["due_soon"]],
        failed=[
            mail.DigestFailure(f["patient_id"], f"{f['kind']} email", f["error"] or "")
            for f in found["failed_notifications"]
        ],
        dashboard_url=base_url.rstrip("/") + "/",
        snoozed=[
            mail.DigestSnoozed(_item(r), dt.date.fromisoformat(r["snoozed_until"])) for r in found["snoozed"]
        ],
    )


def _alert(alert: dict[str, Any], now: dt.datetime) -> mail.DigestAlert:
    first_seen = dt.datetime.fromisoformat(alert["first_seen_at"])
    if first_seen.tzinfo is None:
        first_seen = first_seen.replace(tzinfo=dt.UTC)
    return mail.DigestAlert(
        alert["patient_id"], alert["severity"], first_seen.date(), now - first_seen < NEW_WITHIN
    )


def _item(reminder: dict[str, Any]) -> mail.DigestItem:
    def day(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    return mail.DigestItem(
        reminder["patient_id"],
        reminder["kind"],
        dt.date.fromisoformat(reminder["due_on"]),
        day(reminder["overdue_since"]),
        reminder["missed"],
        day(reminder["last_done_on"]),
    )
