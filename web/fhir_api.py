"""FHIR R4 endpoints: ``POST /fhir/Bundle`` (import) and ``GET /fhir/CarePlan?patient=ID`` (export).

Import is for the accounts that may register patients (admin and ``integration``); a CareTeam
sets the patient's navigator through the practitioner → navigator table (``GIST_FHIR_NAVIGATORS``)
only on an ``integration`` account's import (the EHR's interface): an admin's import leaves its
CareTeams for review. A refused Bundle answers 400 with an OperationOutcome naming the entry, and
nothing is stored. Export follows the plan's visibility rules (another navigator's patient is 404).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from models.vocabulary import Role
from scheduler.fhir import FhirError, load_json
from scheduler.fhir.export import export_plan
from scheduler.patients.fhir_intake import map_bundle, store_import
from scheduler.patients.records import read_plan
from scheduler.staff import audit
from scheduler.staff.access import REGISTRARS, write_gate
from web.deps import ApiPrincipal, client_of, enqueue_of, navigators_of, sessions_of, settings_of
from web.openapi import COMMON_RESPONSES, NO_NUL, NOT_FOUND, problem, refused

FHIR_WRITE_ROLES: Final = frozenset(REGISTRARS)  # a Bundle may register patients
NAVIGATOR_ROLES: Final = frozenset({Role.INTEGRATION})  # whose imports apply the navigator table
MAX_BODY_BYTES: Final = 20 * 1024 * 1024
FHIR_JSON: Final = "application/fhir+json"

router = APIRouter(prefix="/fhir", tags=["fhir"], responses=COMMON_RESPONSES)
OPERATION_OUTCOME: dict[str, Any] = {
    "content": {FHIR_JSON: {"schema": {"type": "object", "description": "a FHIR OperationOutcome"}}}
}


def outcome(status: int, severity: str, text: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": "invalid" if status >= 400 else "informational",
                "diagnostics": text,
            }
        ],
    }
    if extra:
        body["extension"] = [
            {
                "url": "https://gist-scheduler.example.org/fhir/StructureDefinition/import-result",
                "valueString": json.dumps(extra),
            }
        ]
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


@router.post(
    "/Bundle",
    summary="import a FHIR R4 Bundle (or one resource) as events",
    status_code=202,
    responses={
        202: {"description": "imported: accepted, duplicates, needs_review, as `submit` prints"},
        400: {**OPERATION_OUTCOME, "description": "not FHIR JSON, or an entry that cannot be read"},
        403: problem("the account may not import (admins and integration accounts may)"),
        413: problem("the body is too large"),
        422: {**OPERATION_OUTCOME, "description": "events that break the contract: nothing was stored"},
    },
)
async def post_bundle(request: Request, principal: ApiPrincipal) -> JSONResponse:
    if principal.role not in FHIR_WRITE_ROLES:
        raise HTTPException(403, "FHIR import is for admin and integration accounts")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body: at most {MAX_BODY_BYTES} bytes")
    settings, sessions, client = settings_of(request), sessions_of(request), client_of(request)
    try:
        navigators = navigators_of(request) if principal.role in NAVIGATOR_ROLES else None
        mapped = map_bundle(sessions, load_json(body), navigators)
    except FhirError as exc:
        return outcome(400, "error", str(exc))

    def audited(session: Session, patient_ids: list[str]) -> None:
        for patient_id in patient_ids:
            audit.record(session, principal.actor(client), "submit_events", patient_id, detail="fhir")

    result = store_import(
        sessions,
        mapped,
        settings.today(),
        enqueue_of(request),
        gate=write_gate(principal),
        audit=audited,
    )
    if result.rejected:
        return outcome(422, "error", "; ".join(r.error for r in result.rejected), result.to_json())
    return JSONResponse(result.to_json(), status_code=202)


@router.get(
    "/CarePlan",
    summary="the patient's plan as a FHIR R4 Bundle",
    responses={
        200: {"content": {FHIR_JSON: {"schema": {"type": "object", "description": "a FHIR Bundle"}}}},
        404: NOT_FOUND,
        422: refused("a missing or too long patient id"),
    },
)
def get_care_plan(
    request: Request,
    principal: ApiPrincipal,
    patient: Annotated[str, Query(min_length=1, max_length=64, pattern=NO_NUL)],
) -> JSONResponse:
    plan = read_plan(sessions_of(request), principal, patient, client_of(request))
    if plan is None:
        raise HTTPException(404, f"patient: no patient {patient!r} with a stored plan")
    return JSONResponse(export_plan(plan), media_type=FHIR_JSON)
