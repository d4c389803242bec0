"""The queries of the FHIR use cases (:mod:`scheduler.patients.fhir_intake`,
:mod:`scheduler.patients.fhir_sync`): sync points per server and patient, the stored registrations a
pull compares a care team with, the review items, and what a push reads beside the stored plan.
Every function works in the caller's session (the caller owns the transaction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.rows import AlertRow, EventRow, FhirReviewRow, FhirSyncPointRow, PatientRow, PatientStateRow

# ---- pull ---------------------------------------------------------------------------------------


def sync_points(session: Session, server: str) -> dict[str, dt.datetime]:
    """Where the next incremental pull from ``server`` starts reading, by patient."""
    rows = session.scalars(select(FhirSyncPointRow).where(FhirSyncPointRow.server == server))
    return {row.patient_id: row.read_from for row in rows}


def save_sync_points(
    session: Session, server: str, patient_ids: Iterable[str], read_from: dt.datetime, now: dt.datetime
) -> None:
    for patient_id in patient_ids:
        session.merge(
            FhirSyncPointRow(server=server, patient_id=patient_id, read_from=read_from, pulled_at=now)
        )


def registrations(session: Session, patient_id: str) -> Sequence[EventRow]:
    """The patient's stored ``patient_registered`` events."""
    return session.scalars(
        select(EventRow).where(EventRow.patient_id == patient_id, EventRow.type == "patient_registered")
    ).all()


# ---- import -------------------------------------------------------------------------------------


def stored_patient_ids(session: Session, patient_ids: Sequence[str]) -> set[str]:
    """Those of ``patient_ids`` that are stored (enrolled)."""
    return set(session.scalars(select(PatientRow.patient_id).where(PatientRow.patient_id.in_(patient_ids))))


def stored_review_keys(session: Session, keys: Sequence[str]) -> set[str]:
    return set(session.scalars(select(FhirReviewRow.key).where(FhirReviewRow.key.in_(keys))))


def add_review_items(session: Session, rows: Iterable[FhirReviewRow]) -> None:
    session.add_all(rows)


def open_review_rows(session: Session, patient_id: str) -> Sequence[FhirReviewRow]:
    """A patient's unresolved review items, oldest first."""
    return session.scalars(
        select(FhirReviewRow)
        .where(FhirReviewRow.patient_id == patient_id, FhirReviewRow.resolved_at.is_(None))
        .order_by(FhirReviewRow.id)
    ).all()


# ---- push ---------------------------------------------------------------------------------------


def planned_patient_ids(session: Session) -> list[str]:
    """Every patient with a stored plan, by id."""
    return list(session.scalars(select(PatientStateRow.patient_id).order_by(PatientStateRow.patient_id)))


def resolved_alert_codes(session: Session, patient_id: str) -> Sequence[Any]:
    """The codes of the patient's alerts that were raised and have since resolved."""
    return session.scalars(
        select(AlertRow.code).where(AlertRow.patient_id == patient_id, AlertRow.is_active.is_(False))
    ).all()
