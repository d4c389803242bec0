"""``gistsched fhir pull`` and ``push``: read enrolled patients' records from a FHIR server into the
event log, and write their plans back as conditional updates.

Pull is all or nothing. Every page of every patient is read first, then every patient's record
is validated and mapped (``scheduler.fhir``), and only then are the events and review items
stored, in one transaction of the normal intake (which queues each patient for processing, as
``submit`` does). A bad answer, an invalid resource or a conflicting event stores nothing and
leaves the sync points where they were, so the next pull reads the same changes again. The sync
point of each patient on each server is the server's own clock (its HTTP ``Date``) at the first
request of the last complete pull, less ``GIST_FHIR_SYNC_OVERLAP_SECONDS``.

Push writes one transaction per patient; a refused transaction stops the push (patients written
before it stay written: each transaction is complete on its own).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from scheduler.domain.events import Event, PatientRegisteredData, parse_event
from scheduler.fhir import FhirError, ImportResult, import_fhir
from scheduler.fhir.export import export_plan
from scheduler.fhir.navigators import NavigatorTable
from scheduler.fhir.sync import (
    CHANGE_BATCH,
    CHANGE_TYPES,
    change_search,
    changed_patients,
    instant,
    patient_reference,
    patient_searches,
    push_transaction,
    read_page,
    read_transaction_response,
    record_bundle,
    record_searches,
    server_patients,
)
from scheduler.patients import fhir_repository
from scheduler.patients.fhir_client import FhirClient, FhirServerError
from scheduler.patients.fhir_intake import FhirIntakeResult, store_import
from scheduler.patients.intake import QueueProcessing
from scheduler.patients.repository import active_patient_ids
from scheduler.patients.stored import stored_plan
from scheduler.patients.unassigned import navigator_ids
from scheduler.staff import audit

MAX_PAGES = 10_000  # of one search: a server whose next links never end is refused


class SyncError(Exception):
    """The pull or push stopped: one line naming the server, the patient and the request."""


@dataclass(slots=True)
class PullResult:
    server: str
    patients: int = 0  # enrolled patients looked at
    read: int = 0  # records read whole (changed since the sync point, or never read)
    resources: int = 0
    requests: int = 0
    read_from: str | None = None  # where the next pull starts (the new sync point)
    intake: FhirIntakeResult = field(default_factory=FhirIntakeResult)

    def to_json(self) -> dict[str, Any]:
        counts = self.intake.to_json()
        return {
            "server": self.server,
            "patients": self.patients,
            "read": self.read,
            "resources": self.resources,
            "requests": self.requests,
            **{k: counts[k] for k in ("accepted", "duplicates", "needs_review", "not_used")},
            "rejected": len(self.intake.rejected),
            "next_since": self.read_from,
        }


def pull(
    sessions: sessionmaker[Session],
    client: FhirClient,
    *,
    received_on: dt.date,
    enqueue: QueueProcessing,
    since: dt.datetime | None,
    page_size: int,
    overlap: dt.timedelta,
    navigators: NavigatorTable | None = None,
) -> PullResult:
    """Read the records of the enrolled patients that changed since their sync points (or
    ``since``), map them and store them through the intake; then move the sync points, only when
    everything was stored (see the module's docstring)."""
    result = PullResult(client.base)
    with sessions() as session:
        patients = active_patient_ids(session)
        points = fhir_repository.sync_points(session, client.base)
        accounts = navigator_ids(session) if navigators else []
    to_read, started = _to_read(client, patients, points, since, page_size)
    records, started = _read_records(client, [p for p in patients if p in to_read], page_size, started)
    mapped, result.resources = _map_records(sessions, client.base, records, received_on, navigators, accounts)
    result.patients, result.read, result.requests = len(patients), len(records), client.requests
    result.intake = store_import(sessions, mapped, received_on, enqueue, audit=_audit_pull(client.base))
    if result.intake.rejected or not patients:
        return result
    read_from = (started or dt.datetime.now(dt.UTC)) - overlap
    result.read_from = instant(read_from)
    with sessions.begin() as session:
        fhir_repository.save_sync_points(session, client.base, patients, read_from, dt.datetime.now(dt.UTC))
    return result


def _to_read(
    client: FhirClient,
    patients: list[str],
    points: Mapping[str, dt.datetime],
    since: dt.datetime | None,
    page_size: int,
) -> tuple[set[str], dt.datetime | None]:
    """The patients whose records to read whole: those never read from this server (no sync point
    and no ``since``), and those with a change since their start, asked in batches of
    ``CHANGE_BATCH`` patients that share a start; with the server's clock at the first request."""
    started: dt.datetime | None = None
    by_point: dict[dt.datetime, list[str]] = {}
    to_read: set[str] = set()
    for patient_id in patients:
        start = since or points.get(patient_id)
        if start is None:
            to_read.add(patient_id)
        else:
            by_point.setdefault(start, []).append(patient_id)
    for start, group in by_point.items():
        for first in range(0, len(group), CHANGE_BATCH):
            changed, started = _changed(
                client, group[first : first + CHANGE_BATCH], start, page_size, started
            )
            to_read |= changed
    return to_read, started


def _read_records(
    client: FhirClient, patient_ids: list[str], page_size: int, started: dt.datetime | None
) -> tuple[dict[str, list[tuple[Any, str | None]]], dt.datetime | None]:
    """Every page of every record search of each patient: patient id → (resource, full URL)
    entries; with the server's clock at the first request (``started`` if it was known)."""
    records: dict[str, list[tuple[Any, str | None]]] = {}
    for patient_id in patient_ids:
        entries: list[tuple[Any, str | None]] = []
        for url in record_searches(patient_id, page_size):
            started = _read_all(client, url, _who([patient_id]), entries, started)
        records[patient_id] = entries
    return records, started


def _map_records(
    sessions: sessionmaker[Session],
    server: str,
    records: Mapping[str, list[tuple[Any, str | None]]],
    received_on: dt.date,
    navigators: NavigatorTable | None,
    accounts: Sequence[str],
) -> tuple[ImportResult, int]:
    """Each patient's record validated and mapped as a bundle of its own (``SyncError`` on the first
    invalid one; ``navigators`` and the navigator ids of the ``accounts`` as for an import), its
    registration replaced by the navigator changes it brings; with the number of resources read."""
    mapped = ImportResult()
    resources = 0
    with sessions() as session:
        for patient_id, entries in records.items():
            bundle = record_bundle(server, entries)
            try:
                found = import_fhir(bundle, {patient_id}, navigators, accounts)
            except FhirError as exc:
                where = exc.where.split(" ", 1)[1] if exc.where.startswith("entry[") else exc.where
                raise SyncError(f"{server}: patient {patient_id}: {where}: {exc.problem}") from None
            mapped.events += [e for e in found.events if e.type != "patient_registered"]
            mapped.events += _navigator_changes(session, found.events, received_on)
            mapped.review += found.review
            mapped.not_used += found.not_used
            resources += len(bundle["entry"])
    mapped.patient_ids = sorted({e.patient_id for e in mapped.events})
    return mapped, resources


def _audit_pull(server: str) -> Callable[[Session, list[str]], None]:
    """The audit line of each patient a pull from ``server`` wrote events for (operator ``cli``)."""

    def audited(session: Session, patient_ids: list[str]) -> None:
        for patient_id in patient_ids:
            audit.record(
                session,
                audit.Actor(None, "cli"),
                "submit_events",
                patient_id,
                detail=f"fhir pull {server}",
            )

    return audited


def _changed(
    client: FhirClient,
    patient_ids: list[str],
    start: dt.datetime,
    page_size: int,
    started: dt.datetime | None,
) -> tuple[set[str], dt.datetime | None]:
    """Which of ``patient_ids`` have a resource updated at or after ``start`` (for CareTeams: the
    team or a practitioner it names): one search per type for all of them, each type asked only
    about those not yet known to have changed (``changed_patients`` tells who a resource is for)."""
    changed: set[str] = set()
    for kind in CHANGE_TYPES:
        asked = [p for p in patient_ids if p not in changed]
        if not asked:
            break
        entries: list[tuple[Any, str | None]] = []
        url = change_search(kind, asked, start, page_size)
        started = _read_all(client, url, _who(asked), entries, started)
        changed |= changed_patients(kind, (resource for resource, _ in entries), asked, start)
    return changed, started


def _navigator_changes(session: Session, events: list[Event], received_on: dt.date) -> list[Event]:
    """The navigator a pulled record's CareTeam names, as a registration of the enrolled patient.

    Pull changes no contact details: the event repeats the patient's latest registration (as
    processing orders them: by day, then id) with only ``navigator_id`` replaced, dated
    ``received_on``. Its id is the one the importer gave the registration (a new version of the
    Patient or CareTeam is a new id), or, when that would not sort after a registration of the
    same day, ``~fhir-nav:<hash of it>`` with enough ``~`` to. Nothing when the record names no
    navigator, the current one, or this id was applied before (a later reassignment in the
    dashboard stands until the EHR's care team changes).
    """
    found: list[Event] = []
    for event in events:
        if not isinstance(event.data, PatientRegisteredData) or event.data.navigator_id is None:
            continue
        stored = fhir_repository.registrations(session, event.patient_id)
        mark = f"fhir-nav:{hashlib.sha256(event.event_id.encode()).hexdigest()[:16]}"
        if any(row.event_id == event.event_id or row.event_id.endswith(mark) for row in stored):
            continue
        latest = max(stored, key=lambda row: (row.occurred_on, row.event_id), default=None)
        data = dict(latest.payload["data"]) if latest is not None else event.data.to_json()
        if data.get("navigator_id") == event.data.navigator_id:
            continue
        data["navigator_id"] = event.data.navigator_id
        day = max(received_on, latest.occurred_on) if latest is not None else received_on
        top = max((row.event_id for row in stored if row.occurred_on >= day), default="")
        event_id = event.event_id
        if event_id <= top:
            event_id = "~" * (len(top) - len(top.lstrip("~")) + 1) + mark
        found.append(
            parse_event({"event_id": event_id, "patient_id": event.patient_id,
                         "type": "patient_registered", "occurred_on": day.isoformat(), "data": data})
        )  # fmt: skip
    return found


def _page(client: FhirClient, url: str, who: str) -> tuple[Any, dt.datetime]:
    try:
        answer = client.get(url)
        page = read_page(answer.body, f"GET {url}")
    except FhirServerError as exc:
        raise SyncError(f"{client.base}: {who}: {exc}") from None
    except FhirError as exc:
        raise SyncError(f"{client.base}: {who}: {exc}") from None
    return page, answer.server_time or dt.datetime.now(dt.UTC)


def _read_all(
    client: FhirClient,
    url: str,
    who: str,
    entries: list[tuple[Any, str | None]],
    started: dt.datetime | None,
) -> dt.datetime | None:
    """Every page of one search, following ``next`` links (each at most once). ``who`` names the
    patient(s) in an error."""
    seen: set[str] = set()
    next_url: str | None = url
    while next_url is not None:
        if next_url in seen or len(seen) >= MAX_PAGES:
            raise SyncError(f"{client.base}: {who}: GET {url}: the next links do not end")
        seen.add(next_url)
        page, when = _page(client, next_url, who)
        started = started or when
        entries += page.entries
        next_url = page.next_url
    return started


def _who(patient_ids: Sequence[str]) -> str:
    if len(patient_ids) == 1:
        return f"patient {patient_ids[0]}"
    more = f" and {len(patient_ids) - 3} more" if len(patient_ids) > 3 else ""
    return f"patients {', '.join(patient_ids[:3])}{more}"


@dataclass(slots=True)
class PushResult:
    server: str
    patients: int = 0
    created: int = 0
    updated: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "patients": self.patients,
            "created": self.created,
            "updated": self.updated,
        }


def push(
    sessions: sessionmaker[Session],
    client: FhirClient,
    patient_ids: Sequence[str],
    patient_system: str | None = None,
    page_size: int = 100,
) -> PushResult:
    """Each patient's stored plan as one transaction; every patient named must have a stored plan.

    Before anything is written, every patient must be on the server: by the identifier
    ``patient_system|<our id>`` when a system is given (exactly one Patient each), else as
    ``Patient/<our id>`` (our ids are the server's). The pushed resources then name that Patient.
    """
    with sessions() as session:
        chosen = list(patient_ids) or fhir_repository.planned_patient_ids(session)
        exports = []
        for patient_id in chosen:
            plan = stored_plan(session, patient_id)
            if plan is None:
                raise SyncError(f"PATIENT: no stored plan for {patient_id!r}")
            resolved = fhir_repository.resolved_alert_codes(session, patient_id)
            exports.append((patient_id, export_plan(plan), resolved))
    on_server = _server_patients(client, chosen, patient_system, page_size)
    result = PushResult(client.base)
    for patient_id, exported, resolved in exports:
        patient = patient_reference(patient_id, on_server[patient_id], patient_system)
        transaction = push_transaction(exported, patient_id, resolved, patient)
        try:
            answer = client.post(client.base, transaction)
            created, updated = read_transaction_response(answer.body, len(transaction["entry"]))
        except (FhirServerError, FhirError) as exc:
            written = f" ({result.patients} patients written before it)" if result.patients else ""
            raise SyncError(f"{client.base}: patient {patient_id}: {exc}{written}") from None
        result.patients += 1
        result.created += created
        result.updated += updated
    return result


def _server_patients(
    client: FhirClient, patient_ids: list[str], system: str | None, page_size: int
) -> dict[str, str]:
    """Our patient id → the id of that patient's Patient on the server; ``SyncError`` naming the
    patients the server does not have (or has twice) before anything is written."""
    entries: list[tuple[Any, str | None]] = []
    for url in patient_searches(patient_ids, system, page_size):
        _read_all(client, url, _who(patient_ids), entries, None)
    found = server_patients((resource for resource, _ in entries), patient_ids, system)
    missing = [pid for pid, ids in found.items() if not ids]
    twice = {pid: ids for pid, ids in found.items() if len(ids) > 1}
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        how = (
            f"no Patient with the identifier {system}|<patient id> (GIST_FHIR_PATIENT_SYSTEM)"
            if system is not None
            else "no Patient/<patient id> (push names the server's Patient by our id; set "
            "GIST_FHIR_PATIENT_SYSTEM to find it by an identifier instead)"
        )
        raise SyncError(f"{client.base}: {how} for {shown}; nothing was written")
    if twice:
        pid, ids = next(iter(twice.items()))
        listed = ", ".join(f"Patient/{i}" for i in ids)
        raise SyncError(
            f"{client.base}: the identifier {system}|{pid} names {len(ids)} Patients ({listed}); "
            "nothing was written"
        )
    return {pid: ids[0] for pid, ids in found.items()}
