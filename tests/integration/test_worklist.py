"""The worklist's statements against a plain reading of its definition (SQLite and PostgreSQL).

``scheduler.staff.worklist`` answers a navigator from the copies of ``navigator_id`` on reminders and
alerts, ranked by the database, and a caller who sees everyone with counts and ordered index scans
that stop at the limit (see its docstring). Both must give exactly what the definition says, for
every filter and limit: the oracle here reads every row and applies the definition in Python. The
copies follow the patient when a registration moves them to another navigator, and a copy that
drifted is mended by the next recompute.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.orm import Session

from models.rows import AlertRow, NotificationRow, PatientRow, ReminderRow
from scheduler.patients.processing import process_patient
from scheduler.staff.access import Principal
from scheduler.staff.worklist import DEFAULT_ITEMS, worklist
from tests.support.cohort import AS_OF, store_cohort
from tests.support.common import intake, read_cohort
from tests.support.services import Database

pytestmark = pytest.mark.integration

NAVIGATOR = Principal(1, "ana", "navigator", "nav-all")
CLINICIAN = Principal(2, "cleo", "clinician", None)
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@pytest.fixture
def everyone_with_one_navigator(db: Database) -> Database:
    """The example cohort, every patient assigned to ``nav-all``, some alerts acknowledged, a
    failed email and some open reminders snoozed (until after today, and until today: that snooze
    is over), so the navigator's worklist must equal the clinician's."""
    store_cohort(db)
    with db.sessions.begin() as session:
        assign(session, "nav-all")
        open_ids = session.scalars(
            select(ReminderRow.id)
            .where(ReminderRow.status.in_(("overdue", "due", "planned")))
            .order_by(ReminderRow.id)
        ).all()
        for n, reminder_id in enumerate(open_ids[::5]):
            until = AS_OF + dt.timedelta(days=(n % 4) * 10)  # today (over), +10, +20, +30 days
            session.execute(
                update(ReminderRow).where(ReminderRow.id == reminder_id).values(snoozed_until=until)
            )
        alert_ids = session.scalars(select(AlertRow.id).where(AlertRow.is_active).order_by(AlertRow.id)).all()
        for n, alert_id in enumerate(alert_ids[::2]):
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(acknowledged_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC) + dt.timedelta(hours=n))
            )
        now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
        session.add(
            NotificationRow(
                dedup_key="r:1:overdue:1", kind="overdue", audience="navigator", patient_id="P01",
                navigator_id="nav-all", revision=1, day=AS_OF, status="failed", attempts=1,
                last_error="550 no such user", created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return db


def assign(session: Session, navigator_id: str, which: ColumnElement[bool] | None = None) -> None:
    """Move patients to ``navigator_id`` with their copies, as processing a registration would (the
    real path is tested below): the cohort's events name several navigators."""
    which = true() if which is None else which
    patients = select(PatientRow.patient_id).where(which)
    for table in (ReminderRow, AlertRow):
        session.execute(update(table).where(table.patient_id.in_(patients)).values(navigator_id=navigator_id))
    session.execute(update(PatientRow).where(which).values(navigator_id=navigator_id))


def oracle(db: Database, *, kind: str | None, severity: str | None, days: int, limit: int) -> dict[str, Any]:
    """The definition, read off every row: ids per section and the counts."""
    horizon = AS_OF + dt.timedelta(days=days)
    with db.sessions() as session:
        reminders = session.scalars(select(ReminderRow)).all()
        alerts = session.scalars(select(AlertRow)).all()
        failed = session.scalars(select(NotificationRow).where(NotificationRow.status == "failed")).all()
    mine = [r for r in reminders if not kind or r.kind == kind]
    # snoozed past today: in no section and no count but its own, when it would otherwise be listed
    asleep = [
        r
        for r in mine
        if r.snoozed_until is not None
        and r.snoozed_until > AS_OF
        and r.status in ("overdue", "due", "planned")
        and (r.due_on <= horizon or r.overdue_since is not None)
    ]
    asleep.sort(key=lambda r: (r.snoozed_until, r.due_on, r.patient_id, r.id))
    asleep_ids = {r.id for r in asleep}
    mine = [r for r in mine if r.id not in asleep_ids]
    # overdue: past its window, or open after missed items (clinical-rules v4 §9), by the date it
    # has been overdue since; due soon: the other open ones up to the horizon
    overdue = sorted(
        (r.overdue_since or r.due_on, r.patient_id, r.id)
        for r in mine
        if r.status == "overdue" or (r.status in ("due", "planned") and r.overdue_since is not None)
    )
    soon = sorted(
        (r.due_on, r.patient_id, r.id)
        for r in mine
        if r.overdue_since is None and (r.status == "due" or (r.status == "planned" and r.due_on <= horizon))
    )
    active = [a for a in alerts if a.is_active]
    shown = [a for a in active if not severity or a.severity == severity]
    shown.sort(
        key=lambda a: (
            SEVERITY_RANK[a.severity], a.acknowledged_at is not None, -a.first_seen_at.timestamp(), a.id
        )
    )  # fmt: skip
    return {
        "counts": {
            "overdue": len(overdue),
            "due_soon": len(soon),
            "alerts": len(shown),
            "critical": sum(1 for a in active if a.severity == "critical"),
            "failed_notifications": len(failed),
            "snoozed": len(asleep),
        },
        "overdue": [i for _, _, i in overdue[:limit]],
        "due_soon": [i for _, _, i in soon[:limit]],
        "alerts": [a.id for a in shown[:limit]],
        "failed_notifications": sorted((n.id for n in failed), reverse=True)[:limit],
        "snoozed": [r.id for r in asleep[:limit]],
    }


def ids_of(found: dict[str, Any]) -> dict[str, Any]:
    sections = ("overdue", "due_soon", "alerts", "failed_notifications", "snoozed")
    return {"counts": found["counts"]} | {s: [item["id"] for item in found[s]] for s in sections}


@pytest.mark.parametrize("limit", [1, 2, 5, DEFAULT_ITEMS])
@pytest.mark.parametrize(
    ("kind", "severity", "days"),
    [(None, None, 7), ("ct", None, 7), ("lab_lft", None, 30), (None, "critical", 7), (None, "warning", 0),
     (None, "info", 366), ("mdt_review", "warning", 90)],
)  # fmt: skip
def test_navigator_and_clinician_worklists_follow_the_definition(
    everyone_with_one_navigator: Database, kind: str | None, severity: str | None, days: int, limit: int
) -> None:
    db = everyone_with_one_navigator
    expected = oracle(db, kind=kind, severity=severity, days=days, limit=limit)
    assert expected["counts"]["overdue"] + expected["counts"]["due_soon"] > 0 or kind
    with db.sessions() as session:
        for principal in (NAVIGATOR, CLINICIAN):
            found = worklist(session, principal, AS_OF, kind=kind, severity=severity, days=days, limit=limit)
            assert ids_of(found) == expected, principal.role


def test_a_navigator_sees_only_their_patients(everyone_with_one_navigator: Database) -> None:
    db = everyone_with_one_navigator
    with db.sessions.begin() as session:
        assign(session, "nav-other", PatientRow.patient_id != "P07")
    with db.sessions() as session:
        found = worklist(session, NAVIGATOR, AS_OF)
        nobody = worklist(session, Principal(3, "zed", "navigator", None), AS_OF)
    listed = {item["patient_id"] for s in ("overdue", "due_soon", "alerts") for item in found[s]}
    assert listed == {"P07"}
    assert found["failed_notifications"] == []  # P01's failed email is not theirs
    assert all(n == 0 for n in nobody["counts"].values())  # a navigator without a navigator_id sees no one


def test_the_limit_is_clamped(everyone_with_one_navigator: Database) -> None:
    with everyone_with_one_navigator.sessions() as session:
        assert len(worklist(session, CLINICIAN, AS_OF, limit=0)["due_soon"]) == 1


def test_a_clinicians_counts_stop_at_the_cap(everyone_with_one_navigator: Database) -> None:
    """Counting everyone's overdue reminders or active alerts exactly costs more than it tells: past
    the cap a count is a lower bound, named in ``capped_counts``; a navigator's are always exact."""
    db = everyone_with_one_navigator
    exact = oracle(db, kind=None, severity=None, days=7, limit=DEFAULT_ITEMS)["counts"]
    assert exact["overdue"] >= 1
    assert exact["due_soon"] > 1
    assert exact["critical"] > 1
    with db.sessions() as session:
        capped = worklist(session, CLINICIAN, AS_OF, count_cap=1)
        navigator = worklist(session, NAVIGATOR, AS_OF, count_cap=1)
        roomy = worklist(session, CLINICIAN, AS_OF, count_cap=exact["overdue"])
        critical_only = worklist(session, CLINICIAN, AS_OF, severity="critical", count_cap=exact["critical"])
    assert capped["counts"] == {name: min(n, 1) for name, n in exact.items()}
    assert capped["capped_counts"] == [name for name, n in exact.items() if n > 1]
    assert [item["id"] for item in capped["overdue"]] == oracle(
        db, kind=None, severity=None, days=7, limit=100
    )["overdue"]
    assert navigator["counts"] == exact
    assert navigator["capped_counts"] == []
    assert roomy["counts"]["overdue"] == exact["overdue"]
    assert "overdue" not in roomy["capped_counts"]  # exactly at the cap is still exact
    assert critical_only["counts"]["alerts"] == critical_only["counts"]["critical"] == exact["critical"]
    assert "alerts" not in critical_only["capped_counts"]


def test_with_names_names_every_patient_listed(everyone_with_one_navigator: Database) -> None:
    db = everyone_with_one_navigator
    with db.sessions() as session:
        stored = dict(session.execute(select(PatientRow.patient_id, PatientRow.name)).all())
        for principal in (NAVIGATOR, CLINICIAN):
            found = worklist(session, principal, AS_OF, with_names=True)
            listed = {
                item["patient_id"]
                for section in ("overdue", "due_soon", "alerts", "failed_notifications")
                for item in found[section]
            }
            assert found["names"] == {patient_id: stored[patient_id] for patient_id in listed}
            assert "names" not in worklist(session, principal, AS_OF)  # the API's answer names no one


def listed_patients(found: dict[str, Any]) -> set[str]:
    return {item["patient_id"] for s in ("overdue", "due_soon", "alerts") for item in found[s]}


def test_a_new_registration_moves_the_patient_to_the_new_navigators_worklist(db: Database) -> None:
    """The real path: a later ``patient_registered`` naming another navigator, processed, moves the
    patient's open reminders and active alerts (their copies of ``navigator_id``) with them."""
    store_cohort(db)
    with db.sessions() as session:
        before = session.get(PatientRow, "P01")
        assert before is not None
        assert before.navigator_id == "nav-ana"
    ana, zoe = Principal(5, "ana", "navigator", "nav-ana"), Principal(6, "zoe", "navigator", "nav-zoe")
    with db.sessions() as session:
        assert "P01" in listed_patients(worklist(session, ana, AS_OF))
        assert worklist(session, zoe, AS_OF)["counts"]["overdue"] == 0
    registration = next(
        o for o in read_cohort() if o["patient_id"] == "P01" and o["type"] == "patient_registered"
    )
    moved = registration | {
        "event_id": "P01-moved",
        "occurred_on": "2026-11-20",
        "data": registration["data"] | {"navigator_id": "nav-zoe"},
    }
    intake(db.sessions, [moved], AS_OF)
    process_patient(db.sessions, "P01", AS_OF)
    with db.sessions() as session:
        assert "P01" not in listed_patients(worklist(session, ana, AS_OF))
        found = worklist(session, zoe, AS_OF)
        assert listed_patients(found) == {"P01"}
        copies = (
            session.execute(select(ReminderRow.navigator_id).where(ReminderRow.patient_id == "P01"))
            .scalars()
            .all()
            + session.execute(select(AlertRow.navigator_id).where(AlertRow.patient_id == "P01"))
            .scalars()
            .all()
        )
    assert copies
    assert set(copies) == {"nav-zoe"}  # closed reminders and resolved alerts too
    assert found["counts"]["overdue"] + found["counts"]["due_soon"] + found["counts"]["alerts"] > 0


def test_a_copy_that_drifted_is_mended_by_the_next_recompute(db: Database) -> None:
    """A hand edit of the copies (or a bug) hides reminders from the navigator until the next
    recompute of the patient, which writes them back."""
    store_cohort(db)
    ana = Principal(5, "ana", "navigator", "nav-ana")
    with db.sessions() as session:
        expected = worklist(session, ana, AS_OF)
    assert "P01" in listed_patients(expected)
    with db.sessions.begin() as session:
        for table in (ReminderRow, AlertRow):
            session.execute(update(table).where(table.patient_id == "P01").values(navigator_id="nav-stale"))
    with db.sessions() as session:
        assert "P01" not in listed_patients(worklist(session, ana, AS_OF))
    process_patient(db.sessions, "P01", AS_OF, force=True)
    with db.sessions() as session:
        assert worklist(session, ana, AS_OF) == expected


def test_a_snoozed_item_is_listed_only_as_snoozed_until_its_day(
    everyone_with_one_navigator: Database,
) -> None:
    db = everyone_with_one_navigator
    expected = oracle(db, kind=None, severity=None, days=7, limit=DEFAULT_ITEMS)
    assert expected["counts"]["snoozed"] > 1, "the fixture snoozes items the sections would list"
    with db.sessions() as session:
        found = worklist(session, NAVIGATOR, AS_OF)
        later = worklist(session, NAVIGATOR, AS_OF + dt.timedelta(days=40))
    listed = {item["id"] for section in ("overdue", "due_soon") for item in found[section]}
    assert not listed & {item["id"] for item in found["snoozed"]}
    assert all(item["snoozed_until"] > AS_OF.isoformat() for item in found["snoozed"])
    assert later["counts"]["snoozed"] == 0, "every snooze is over 40 days on: back in the sections"
