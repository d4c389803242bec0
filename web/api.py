"""The JSON API (event-contract.md §4). Every route takes ``Authorization: Bearer``; the GET routes
also take the dashboard's session cookie (:mod:`web.deps`). A navigator sees only their own
patients (another's answers 404, like one that does not exist). Registering a patient
(``patient_registered``: its navigator and contact details) is for admins and integration
accounts; anyone else gets 403 and nothing is stored (scheduler/staff/access.py).

Each route declares its answer model (:mod:`web.api_models`) and the error answers it can give;
the hot reads (worklist, patient list) return their JSON directly, and the property-based test
validates those answers against the same document."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, get_args

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from models.vocabulary import FeedScope, Role
from scheduler.domain.events import EventError, parse_event
from scheduler.domain.model import ReminderKind, Stage
from scheduler.notifications.feeds import create_feed
from scheduler.patients.directory import MAX_PAGE, MAX_QUERY_CHARS, PAGE_SIZE, PatientQuery, find_patients
from scheduler.patients.intake import record_events
from scheduler.patients.records import AcknowledgeError, acknowledge_alert, read_plan, read_record
from scheduler.patients.unassigned import unassigned_patients
from scheduler.staff import audit
from scheduler.staff.access import may_see, registration_refused, write_gate
from scheduler.staff.worklist import DEFAULT_DAYS, DEFAULT_ITEMS, MAX_ITEMS, worklist
from web.api_models import (
    MAX_EVENTS,
    AcknowledgedAlert,
    Acknowledgement,
    AuditEntry,
    CreatedFeed,
    Me,
    PatientPage,
    PatientRecord,
    Refused,
    StoredPlan,
    SubmitResult,
    UnassignedPage,
    Worklist,
)
from web.deps import MAX_ID, ApiPrincipal, ApiReader, client_of, enqueue_of, sessions_of, settings_of
from web.openapi import (
    ADMINS_ONLY,
    COMMON_RESPONSES,
    EVENTS_REQUEST,
    INVALID,
    NO_NUL,
    NOT_FOUND,
    problem,
    refused,
)

MAX_BODY_BYTES = 5 * 1024 * 1024  # a big batch of events is ~1 KB each
REMINDER_KINDS: tuple[str, ...] = get_args(ReminderKind)  # the worklist's ?kind= values

router = APIRouter(prefix="/api", tags=["api"], responses=COMMON_RESPONSES)


@router.post(
    "/events",
    status_code=202,
    response_model=SubmitResult,
    responses={
        403: problem("a patient_registered from an account that may not register patients"),
        413: problem("the body is over 5 MB"),
        422: {
            "model": SubmitResult | Refused,
            "description": "invalid events (`rejected`: each one's position, field and problem, "
            "including an event_id already stored with other content): nothing was stored; or a "
            "query parameter given twice (`detail`)",
        },
    },
    summary="submit one event or a list of events",
    openapi_extra=EVENTS_REQUEST,
)
async def post_events(request: Request, principal: ApiPrincipal) -> JSONResponse:
    """All or nothing: valid events are stored and queued (202). An invalid event (its position,
    field and problem in ``rejected``), or an ``event_id`` already stored with different content:
    nothing is stored (422, as event-contract.md §4 fixes for a refused event)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body: at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, a 5,000-digit number, deep nesting
        return _rejected([{"line": 1, "error": f"body: not valid JSON ({str(exc)[:200]})"}])
    objs = parsed if isinstance(parsed, list) else [parsed]
    if not objs:
        return _rejected([{"line": 1, "error": "body: an event or a non-empty list of events"}])
    if len(objs) > MAX_EVENTS:
        return _rejected([{"line": 1, "error": f"body: at most {MAX_EVENTS} events per request"}])
    refusal = registration_refused(principal, objs)
    if refusal is not None and all(_is_valid(obj, settings_of(request).today()) for obj in objs):
        raise HTTPException(403, refusal)  # an invalid body is a 422 naming its fields, below
    settings, sessions, client = settings_of(request), sessions_of(request), client_of(request)

    def audited(session: Session, patient_ids: list[str]) -> None:
        for patient_id in patient_ids:
            audit.record(session, principal.actor(client), "submit_events", patient_id)

    result = record_events(
        sessions,
        list(enumerate(objs, start=1)),
        settings.today(),
        enqueue_of(request),
        all_or_nothing=True,
        gate=write_gate(principal),
        audit=audited,
    )
    if result.rejected:
        return _rejected(result.to_json()["rejected"], 422)
    return JSONResponse(result.to_json(), status_code=202)


def _is_valid(obj: object, today: dt.date) -> bool:
    try:
        parse_event(obj, received_on=today)
    except EventError:
        return False
    return True


def _rejected(rejected: list[dict[str, Any]], status: int = 422) -> JSONResponse:
    return JSONResponse({"accepted": 0, "duplicates": 0, "rejected": rejected}, status_code=status)


@router.get(
    "/patients",
    summary="find patients by id or name, with filters, a page at a time",
    response_model=PatientPage,
    responses={422: INVALID},
)
def get_patients(
    request: Request,
    principal: ApiReader,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            pattern=NO_NUL,
            description="part of the patient id or name (any case)",
        ),
    ] = "",
    navigator: Annotated[
        str | None, Query(max_length=128, pattern=NO_NUL, description="a navigator_id")
    ] = None,
    stage: Annotated[Stage | None, Query(description="the stage of the latest plan")] = None,
    overdue: Annotated[
        bool | None, Query(description="true: only patients with overdue items; false: only without")
    ] = None,
    critical: Annotated[
        bool | None, Query(description="true: only patients with an active critical alert; false: without")
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"{PAGE_SIZE} patients a page")] = 1,
) -> JSONResponse:
    """The patients the caller may see (a navigator: their own), by patient id."""
    query = PatientQuery(q=q, navigator=navigator, stage=stage, overdue=overdue, critical=critical, page=page)
    with sessions_of(request).begin() as session:
        found = find_patients(session, principal, query)
        audit.record(session, principal.actor(client_of(request)), "read_worklist", detail="patients")
    return JSONResponse(found)


PatientId = Annotated[str, Path(pattern=NO_NUL, description="the patient's id (event-contract.md §1)")]


@router.get(
    "/patients/{patient_id}",
    summary="the stored plan of a patient, in the plan's shape",
    response_model=StoredPlan,
    responses={404: NOT_FOUND},
)
def get_patient(patient_id: PatientId, request: Request, principal: ApiReader) -> JSONResponse:
    plan = read_plan(sessions_of(request), principal, patient_id, client_of(request))
    if plan is None:
        raise HTTPException(404, f"patient_id: no patient {patient_id!r} with a stored plan")
    return JSONResponse(plan)


@router.get(
    "/patients/{patient_id}/record",
    summary="plan, event timeline, alerts and contact details",
    response_model=PatientRecord,
    responses={404: NOT_FOUND},
)
def get_record(patient_id: PatientId, request: Request, principal: ApiReader) -> JSONResponse:
    record = read_record(sessions_of(request), principal, patient_id, client_of(request))
    if record is None:
        raise HTTPException(404, f"patient_id: no patient {patient_id!r}")
    return JSONResponse(record)


@router.get(
    "/worklist",
    summary="overdue, due soon, alerts and failed notifications of the caller's patients",
    response_model=Worklist,
    responses={422: refused("a query value out of range, or a kind that is not a reminder kind")},
)
def get_worklist(
    request: Request,
    principal: ApiReader,
    kind: Annotated[
        str | None,
        Query(
            max_length=32,
            description="only reminders of this kind",
            json_schema_extra={"enum": list(REMINDER_KINDS)},
        ),
    ] = None,
    severity: Annotated[
        str | None, Query(pattern="^(info|warning|critical)$", description="only alerts of this severity")
    ] = None,
    days: Annotated[
        int, Query(ge=0, le=366, description="due soon: up to this many days ahead")
    ] = DEFAULT_DAYS,
    limit: Annotated[
        int, Query(ge=1, le=MAX_ITEMS, description="items per section; `counts` are always complete")
    ] = DEFAULT_ITEMS,
) -> JSONResponse:
    if kind is not None and kind not in REMINDER_KINDS:
        raise HTTPException(422, f"kind: {kind!r} is not a reminder kind; one of {', '.join(REMINDER_KINDS)}")
    sessions = sessions_of(request)
    with sessions.begin() as session:
        result = worklist(
            session,
            principal,
            settings_of(request).today(),
            kind=kind,
            severity=severity,
            days=days,
            limit=limit,
        )
        audit.record(session, principal.actor(client_of(request)), "read_worklist")
    # Plain JSON already (str, int, None): skip FastAPI's recursive jsonable_encoder, which costs
    # more than the worklist's own statements on a large clinic (docs/performance.md §4).
    return JSONResponse(result)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    summary="record that an alert was seen, and what was done",
    response_model=AcknowledgedAlert,
    responses={
        404: problem("no such alert, or not of the navigator's patients"),
        422: refused("an alert id out of range, or a missing, blank or too long note"),
    },
)
def post_acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: Acknowledgement,
    request: Request,
    principal: ApiPrincipal,
) -> AcknowledgedAlert:
    try:
        done = acknowledge_alert(sessions_of(request), principal, alert_id, body.note, client_of(request))
    except AcknowledgeError as exc:
        raise HTTPException(422, str(exc)) from None
    if done is None:
        raise HTTPException(404, f"alert_id: no alert {alert_id}")
    return AcknowledgedAlert(**done)


@router.post(
    "/patients/{patient_id}/feeds",
    status_code=201,
    summary="a calendar subscription for the patient",
    response_model=CreatedFeed,
    responses={404: NOT_FOUND},
)
def post_feed(patient_id: PatientId, request: Request, principal: ApiPrincipal) -> CreatedFeed:
    """Its URL (with the token) is shown only here; revoke it with ``gistsched feed revoke ID`` or on
    the patient page."""
    sessions = sessions_of(request)
    with sessions() as session:
        if not may_see(session, principal, patient_id):
            raise HTTPException(404, f"patient_id: no patient {patient_id!r}")
    created = create_feed(sessions, FeedScope.PATIENT, patient_id, settings_of(request).base_url)
    with sessions.begin() as session:
        audit.record(
            session, principal.actor(client_of(request)), "feed_create", patient_id, detail=created.id
        )
    return CreatedFeed(id=created.id, url=created.url)


@router.get(
    "/unassigned",
    summary="patients with events but no navigator yet (admins)",
    response_model=UnassignedPage,
    responses={403: ADMINS_ONLY, 422: INVALID},
)
def get_unassigned(
    request: Request,
    principal: ApiReader,
    limit: Annotated[int, Query(ge=1, le=MAX_ITEMS, description="patients listed")] = DEFAULT_ITEMS,
) -> JSONResponse:
    """Patients whose events arrived before a registration assigned them a navigator: their plan is
    computed but no email goes out for them until an admin or integration registers them."""
    if principal.role != Role.ADMIN:
        raise HTTPException(403, "the unassigned queue is for admins")
    with sessions_of(request).begin() as session:
        found = unassigned_patients(session, limit)
        audit.record(session, principal.actor(client_of(request)), "read_worklist", detail="unassigned")
    return JSONResponse(found)


@router.get(
    "/audit",
    summary="the audit trail, oldest first, at most 1,000 entries (admins)",
    response_model=list[AuditEntry],
    responses={403: ADMINS_ONLY, 422: INVALID},
)
def get_audit(
    request: Request,
    principal: ApiReader,
    patient_id: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="only this patient's")
    ] = None,
) -> JSONResponse:
    if principal.role != Role.ADMIN:
        raise HTTPException(403, "the audit trail is for admins")
    with sessions_of(request)() as session:
        return JSONResponse(audit.trail(session, patient_id))


@router.get("/me", summary="who the token (or the session) belongs to", response_model=Me)
def get_me(principal: ApiReader) -> Me:
    return Me(username=principal.username, role=principal.role, navigator_id=principal.navigator_id)
