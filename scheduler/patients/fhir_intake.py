"""FHIR intake: map a Bundle with the pure adapter, then store its events and review items together.

Shared by ``gistsched fhir import`` and ``POST /fhir/Bundle``. The Bundle is validated whole first
(``FhirError`` → nothing stored). Events go through the normal intake (``record_events``, all or
nothing: a conflict or a future date refuses the Bundle); the review items are written in the
same transaction as the events (or alone when every event was already stored), keyed so a
re-import stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.rows import FhirReviewRow
from scheduler.fhir import ImportResult, ReviewItem, import_fhir
from scheduler.fhir.navigators import NavigatorTable
from scheduler.patients import fhir_repository
from scheduler.patients.intake import Audit, Gate, QueueProcessing, Rejection, record_events
from scheduler.patients.unassigned import navigator_ids


@dataclass(slots=True)
class FhirIntakeResult:
    accepted: int = 0
    duplicates: int = 0
    needs_review: int = 0
    not_used: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "needs_review": self.needs_review,
            "not_used": self.not_used,
            "rejected": [{"line": r.line, "error": r.error} for r in self.rejected],
            "review": [item.to_json() for item in self.review],
        }


def map_bundle(
    sessions: sessionmaker[Session], obj: object, navigators: NavigatorTable | None = None
) -> ImportResult:
    """Map with the stored patients counted as enrolled (their later Bundles need no Condition),
    and ``navigators`` (the practitioner → navigator table) setting ``navigator_id`` from CareTeams
    to the ids of active navigator accounts only."""
    accounts: list[str] = []
    if navigators:
        with sessions() as session:
            accounts = navigator_ids(session)
    first = import_fhir(obj, navigators=navigators, accounts=accounts)
    mentioned = sorted({i.patient_id for i in first.review if i.patient_id} | set(first.patient_ids))
    with sessions() as session:
        enrolled = fhir_repository.stored_patient_ids(session, mentioned)
    return import_fhir(obj, enrolled, navigators, accounts) if enrolled - set(first.patient_ids) else first


def store_import(
    sessions: sessionmaker[Session],
    mapped: ImportResult,
    received_on: dt.date,
    enqueue: QueueProcessing,
    *,
    gate: Gate | None = None,
    audit: Audit | None = None,
) -> FhirIntakeResult:
    result = FhirIntakeResult(not_used=len(mapped.not_used), review=list(mapped.review))
    written = False

    def hook(session: Session, patient_ids: list[str]) -> None:
        nonlocal written
        _store_review(session, mapped.review)
        written = True
        if audit is not None:
            audit(session, patient_ids)

    items: Sequence[tuple[int, object]] = [(n, e.to_json()) for n, e in enumerate(mapped.events, start=1)]
    intake = record_events(sessions, items, received_on, enqueue, all_or_nothing=True, gate=gate, audit=hook)
    result.accepted, result.duplicates, result.rejected = intake.accepted, intake.duplicates, intake.rejected
    if result.rejected:
        result.review = []
        return result
    if not written and mapped.review:
        with sessions.begin() as session:
            _store_review(session, mapped.review)
    result.needs_review = len(mapped.review)
    return result


def _store_review(session: Session, items: list[ReviewItem]) -> None:
    if not items:
        return
    keys = {item.key: item for item in items}
    stored = fhir_repository.stored_review_keys(session, sorted(keys))
    fhir_repository.add_review_items(
        session,
        (
            FhirReviewRow(key=key, patient_id=item.patient_id, source=item.source[:300], reason=item.reason)
            for key, item in keys.items()
            if key not in stored
        ),
    )


def open_review_items(session: Session, patient_id: str) -> list[dict[str, Any]]:
    """A patient's unresolved FHIR review items, oldest first (the patient page shows them)."""
    rows = fhir_repository.open_review_rows(session, patient_id)
    return [{"source": r.source, "reason": r.reason, "received_at": r.received_at.isoformat()} for r in rows]
