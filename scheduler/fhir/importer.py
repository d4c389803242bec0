"""FHIR R4 / mCODE → contract events (fhir-mapping.md §1): the entry point of the import adapter.

``import_fhir`` takes parsed JSON (a Bundle or one resource), validates it whole
(``bundle.read_sources``), maps each resource and returns the events, the needs-review items and
the resources that carry nothing for the follow-up rules. It holds no state and does no I/O.

Scope: events are kept only for patients with a GIST Condition in this input or listed in
``enrolled`` (the caller's stored patients); another patient's would-be events become review items,
so a breast-cancer Bundle never starts a GIST plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import Source, read_sources
from scheduler.fhir.care import (
    map_administration,
    map_clinical_impression,
    map_encounter,
    map_episode,
    map_patient,
)
from scheduler.fhir.conditions import (
    is_gist,
    is_mitotic_count,
    is_secondary,
    map_condition,
    map_pathology_report,
)
from scheduler.fhir.context import Context, ImportResult, effective_day, has_code
from scheduler.fhir.imaging import is_imaging_report, map_imaging_report
from scheduler.fhir.observations import map_observation
from scheduler.fhir.treatments import map_medication, map_procedure

NOT_CLINICAL: Final = frozenset({
    "Practitioner", "PractitionerRole", "Organization", "Location", "Device", "Specimen", "BodyStructure",
    "Group", "CareTeam", "Endpoint", "Medication", "Provenance", "ImagingStudy", "FamilyMemberHistory",
    "ServiceRequest", "Coverage", "RelatedPerson", "DocumentReference",
})  # fmt: skip


def _diagnostic_report(ctx: Context, source: Source) -> None:
    if has_code(source.resource.get("code"), t.LOINC, t.PATHOLOGY_REPORT.code):
        map_pathology_report(ctx, source)
    elif is_imaging_report(source):
        map_imaging_report(ctx, source)
    else:
        ctx.not_used(source, "neither a pathology report (22637-3) nor an imaging report")


MAPPERS: Final[Mapping[str, Callable[[Context, Source], None]]] = {
    "Condition": map_condition,
    "Observation": map_observation,
    "DiagnosticReport": _diagnostic_report,
    "MedicationRequest": map_medication,
    "MedicationStatement": map_medication,
    "Procedure": map_procedure,
    "Encounter": map_encounter,
    "ClinicalImpression": map_clinical_impression,
    "EpisodeOfCare": map_episode,
    "Patient": map_patient,
    "MedicationAdministration": map_administration,
}


def import_fhir(obj: object, enrolled: Collection[str] = ()) -> ImportResult:
    """Map a Bundle or resource to events; raises ``FhirError`` (naming the entry) on invalid input."""
    ctx = Context(read_sources(obj))
    patients = [s for s in ctx.sources if s.type == "Patient"]
    for source in ctx.sources:
        mapper = MAPPERS.get(source.type)
        if mapper is not None:
            mapper(ctx, source)
        else:
            why = "carries no follow-up input" if source.type in NOT_CLINICAL else "resource type not mapped"
            (ctx.not_used if source.type in NOT_CLINICAL else ctx.review)(source, why)
    _unread(ctx)
    for patient in patients:
        _registration(ctx, patient)
    _scope(ctx, enrolled)
    return ctx.result


def _unread(ctx: Context) -> None:
    """Tumour sizes and mitotic counts no diagnosis or report read: review, never dropped."""
    for source in ctx.sources:
        if source.type != "Observation" or id(source) in ctx.consumed:
            continue
        if has_code(source.resource.get("code"), t.LOINC, t.TUMOR_SIZE.code):
            ctx.review(source, "tumour size not read into a GIST diagnosis or pathology report")
        elif is_mitotic_count(source):
            ctx.review(
                source, "mitotic count not read into a pathology report (per 5 mm² in a 22637-3 report)"
            )


def _registration(ctx: Context, patient: Source) -> None:
    """patient_registered on the follow-up EpisodeOfCare start, else the patient's first event."""
    days = [e.occurred_on for _, e in ctx.pending if e.patient_id == patient.id]
    episodes = [s for s in ctx.of_patient(patient.id or "", "EpisodeOfCare") if effective_day(s.resource)]
    first = min((d for s in episodes if (d := effective_day(s.resource))), default=None) or min(
        days, default=None
    )
    if first is None:
        ctx.not_used(patient, "no follow-up input for this patient in this import")
        return
    data: dict[str, Any] = {}
    names = patient.resource.get("name", [])
    if names:
        name = names[0]
        text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
        if text:
            data["name"] = text[:200]
    email = next(
        (c.get("value") for c in patient.resource.get("telecom", []) if c.get("system") == "email"), None
    )
    if email:
        data["email"] = email
    ctx.event(patient, "patient_registered", first, data, also=episodes)


def _scope(ctx: Context, enrolled: Collection[str]) -> None:
    gist_patients = {
        ctx.patient_of(s) for s in ctx.sources
        if s.type == "Condition" and is_gist(s.resource) and not is_secondary(s)
    }  # fmt: skip
    in_scope = gist_patients | set(enrolled)
    for source, event in ctx.pending:
        if event.patient_id in in_scope:
            ctx.result.events.append(event)
        else:
            ctx.review(
                source,
                f"would be a {event.type} event, but patient {event.patient_id} has no GIST Condition "
                "in this import and is not enrolled",
                event.patient_id,
            )
    ctx.result.patient_ids = sorted({e.patient_id for e in ctx.result.events})


def import_day(result: ImportResult) -> dt.date | None:
    """The latest event day of an import (what a received-on check compares against)."""
    return max((e.occurred_on for e in result.events), default=None)
