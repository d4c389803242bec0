"""The clock's rows and the patients it queues, as functions over a sessionmaker (each is its own
transaction: a lease or day claim that finds no row inserts it in a second one, which only one
clock can win).

* the **lease** (``clock_leases``): a conditional UPDATE claims or renews it (held by us, or
  expired); a clock without it does nothing;
* the **daily marks** (``clock_marks``): the last clinic day a daily job ran, moved by a conditional
  UPDATE so only one caller runs a day's job;
* **what to queue**: patients with stalled events, active patients, active patients planned under
  another rule profile.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.db import rowcount
from models.rows import ClockLeaseRow, ClockMarkRow, EventRow, PatientRow, PatientStateRow

LEASE = "clock"
DAILY_RECOMPUTE = "daily_recompute"
DAILY_DIGEST = "daily_digest"


# ---- the lease ----------------------------------------------------------------------------------


def claim_lease(
    sessions: sessionmaker[Session], holder: str, ttl: dt.timedelta, now: dt.datetime, name: str = LEASE
) -> bool:
    """Claim or renew ``name`` for ``holder`` until ``now + ttl``; False while another holds it."""
    expires_at = now + ttl
    with sessions.begin() as session:
        renewed = rowcount(
            session,
            update(ClockLeaseRow)
            .where(
                ClockLeaseRow.name == name,
                or_(ClockLeaseRow.holder == holder, ClockLeaseRow.expires_at <= now),
            )
            .values(holder=holder, expires_at=expires_at),
        )
        if renewed == 1:
            return True
        if session.get(ClockLeaseRow, name) is not None:
            return False
    try:
        with sessions.begin() as session:
            session.add(ClockLeaseRow(name=name, holder=holder, expires_at=expires_at))
    except IntegrityError:
        return False  # another clock inserted it first
    return True


def release_lease(sessions: sessionmaker[Session], holder: str, name: str = LEASE) -> bool:
    """Give the lease up (clean shutdown) so a standby clock need not wait for it to expire."""
    with sessions.begin() as session:
        return (
            rowcount(
                session,
                delete(ClockLeaseRow).where(ClockLeaseRow.name == name, ClockLeaseRow.holder == holder),
            )
            == 1
        )


# ---- the daily mark -----------------------------------------------------------------------------


def claim_day(sessions: sessionmaker[Session], day: dt.date, name: str = DAILY_RECOMPUTE) -> bool:
    """Mark ``day`` as run for ``name``; True only for the one caller that moved the mark to it."""
    with sessions.begin() as session:
        moved = rowcount(
            session,
            update(ClockMarkRow)
            .where(ClockMarkRow.name == name, ClockMarkRow.last_run_on < day)
            .values(last_run_on=day),
        )
        if moved == 1:
            return True
        if session.get(ClockMarkRow, name) is not None:
            return False
    try:
        with sessions.begin() as session:
            session.add(ClockMarkRow(name=name, last_run_on=day))
    except IntegrityError:
        return False
    return True


def unclaim_day(sessions: sessionmaker[Session], day: dt.date, name: str = DAILY_RECOMPUTE) -> None:
    """Give ``day`` back after a failed run, so the next tick runs it again."""
    with sessions.begin() as session:
        rowcount(
            session,
            update(ClockMarkRow)
            .where(ClockMarkRow.name == name, ClockMarkRow.last_run_on == day)
            .values(last_run_on=day - dt.timedelta(days=1)),
        )


def last_run_on(sessions: sessionmaker[Session], name: str = DAILY_RECOMPUTE) -> dt.date | None:
    with sessions() as session:
        return session.scalar(select(ClockMarkRow.last_run_on).where(ClockMarkRow.name == name))


# ---- what to queue ------------------------------------------------------------------------------


def stalled_patient_ids(sessions: sessionmaker[Session], received_before: dt.datetime) -> list[str]:
    """Patients with an event received before ``received_before`` and still unprocessed."""
    with sessions() as session:
        return list(
            session.scalars(
                select(EventRow.patient_id)
                .where(EventRow.processed_at.is_(None), EventRow.received_at < received_before)
                .group_by(EventRow.patient_id)
                .order_by(EventRow.patient_id)
            )
        )


def outdated_plan_patient_ids(
    sessions: sessionmaker[Session], digest: str, planner: str, limit: int
) -> list[str]:
    """Active patients whose stored plan was made under a profile other than ``digest`` or by a
    planner other than ``planner`` (or either not recorded), in ``patient_id`` order, at most
    ``limit``."""
    with sessions() as session:
        return list(
            session.scalars(
                select(PatientStateRow.patient_id)
                .join(PatientRow, PatientRow.patient_id == PatientStateRow.patient_id)
                .where(
                    PatientRow.is_active.is_(True),
                    or_(
                        PatientStateRow.profile_hash.is_(None),
                        PatientStateRow.profile_hash != digest,
                        PatientStateRow.planner_hash.is_(None),
                        PatientStateRow.planner_hash != planner,
                    ),
                )
                .order_by(PatientStateRow.patient_id)
                .limit(limit)
            )
        )
