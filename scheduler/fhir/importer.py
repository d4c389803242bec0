"""FHIR R4 / mCODE → contract events (fhir-mapping.md §1): the entry point of the import adapter.

``import_fhir`` takes parsed JSON (a Bundle or one resource), validates it whole
(``bundle.read_sources``), maps each resource and returns the events, the needs-review items and
the resources that carry nothing for the follow-up rules. It holds no state and does no I/O.

Scope: events are kept only for patients with a GIST Condition in this input or listed in
``enrolled`` (the caller's stored patients); another patient's would-be events become review items,
so a breast-cancer Bundle never starts a GIST plan.

``navigators`` is the caller's checked table from EHR practitioner identifiers to navigator ids
(``navigators.navigator_table``) and ``accounts`` the ids of the active navigator accounts: a
patient's CareTeam sets ``navigator_id`` on the registration only through the table, and only to
an id in ``accounts``. A biopsy result read from a GIST Condition that disagrees with a local
biopsy-result Observation of the same patient holds both for review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from scheduler.domain.events import Event
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
from scheduler.fhir.navigators import NavigatorTable, care_team_navigator
from scheduler.fhir.observations import map_observation
from scheduler.fhir.treatments import map_medication, map_procedure

NOT_CLINICAL: Final = frozenset({
    "Practitioner", "PractitionerRole", "Organization", "Location", "Device", "Specimen", "BodyStructure",
    "Group", "Endpoint", "Medication", "Provenance", "ImagingStudy", "FamilyMemberHistory",
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


def import_fhir(
    obj: object,
    enrolled: Collection[str] = (),
    navigators: NavigatorTable | None = None,
    accounts: Collection[str] = (),
) -> ImportResult:
    """Map a Bundle or resource to events; raises ``FhirError`` (naming the entry) on invalid input."""
    ctx = Context(read_sources(obj))
    patients = [s for s in ctx.sources if s.type == "Patient"]
    for source in ctx.sources:
        mapper = MAPPERS.get(source.type)
        if mapper is not None:
            mapper(ctx, source)
        elif source.type == "CareTeam":
            continue  # read with its patient's registration
        else:
            why = "carries no follow-up input" if source.type in NOT_CLINICAL else "resource type not mapped"
            (ctx.not_used if source.type in NOT_CLINICAL else ctx.review)(source, why)
    _unread(ctx)
    _biopsy_agreement(ctx)
    for patient in patients:
        _registration(ctx, patient, navigators, accounts)
    _orphan_care_teams(ctx, {p.id for p in patients})
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


def _biopsy_agreement(ctx: Context) -> None:
    """Compare each Condition's biopsy result with the patient's local biopsy-result Observations.

    A gist against a not_gist (either way) holds every such result of the patient for review, none
    is kept; when they agree the Observation's event stays (it carries CD117/DOG1) and the
    Condition's is not used. ``inadequate`` disagrees with nothing.
    """
    decisive = ("gist", "not_gist")
    by_patient: dict[str, list[tuple[Source, Event]]] = {}
    for source, event in ctx.pending:
        if event.type == "biopsy" and source.type in ("Condition", "Observation"):
            by_patient.setdefault(event.patient_id, []).append((source, event))
    drop: set[int] = set()
    for items in by_patient.values():
        conditions = [(s, e) for s, e in items if s.type == "Condition"]
        observed = [(s, e) for s, e in items if s.type == "Observation" and _result(e) in decisive]
        if not conditions or not observed:
            continue
        results = {_result(e) for _, e in conditions + observed}
        if len(results) > 1:
            shown = ", ".join(f"{_result(e)} from {s.reference}" for s, e in conditions + observed)
            for source, event in conditions + observed:
                ctx.review(source, f"biopsy results disagree ({shown}): not read, check by hand")
                drop.add(id(event))
        else:
            for source, event in conditions:
                ctx.not_used(source, f"biopsy result agrees with {observed[0][0].reference}, which is read")
                drop.add(id(event))
    ctx.pending[:] = [(s, e) for s, e in ctx.pending if id(e) not in drop]


def _result(event: Event) -> str:
    return str(event.data.to_json().get("result"))


def _orphan_care_teams(ctx: Context, patient_ids: set[str | None]) -> None:
    for team in ctx.sources:
        if team.type == "CareTeam" and ctx.patient_of(team) not in patient_ids:
            ctx.review(
                team, "CareTeam of a patient with no Patient resource in this import: navigator not set"
            )


def _registration(
    ctx: Context, patient: Source, navigators: NavigatorTable | None, accounts: Collection[str]
) -> None:
    """patient_registered on the follow-up EpisodeOfCare start, else the patient's first event.

    ``navigator_id`` comes from the patient's CareTeams through the navigator table only.
    """
    days = [e.occurred_on for _, e in ctx.pending if e.patient_id == patient.id]
    episodes = [s for s in ctx.of_patient(patient.id or "", "EpisodeOfCare") if effective_day(s.resource)]
    first = min((d for s in episodes if (d := effective_day(s.resource))), default=None) or min(
        days, default=None
    )
    if first is None:
        ctx.not_used(patient, "no follow-up input for this patient in this import")
        for team in ctx.of_patient(patient.id or "", "CareTeam"):
            ctx.review(
                team, "CareTeam of a patient with no follow-up input in this import: navigator not set"
            )
        return
    navigator, read = care_team_navigator(ctx, patient.id or "", navigators, accounts)
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
    if navigator is not None:
        data["navigator_id"] = navigator
    ctx.event(patient, "patient_registered", first, data, also=[*episodes, *read])


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
