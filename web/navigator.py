"""The navigator's working pages beside the worklist: the week view, the worklist as CSV, a patient's
notes and calls, the admins' contact-and-navigator form, ending follow-up, and the little JSON
the patient page polls to reload itself once a saved event has been processed.

The same rules as every dashboard route (:mod:`web.dashboard`): a page without a session goes to
sign-in; every POST checks the session's CSRF token before reading or writing anything, and
answers a redirect (Post/Redirect/Get) or the page again with the error next to its field (422);
a patient the user may not see is "not found". Events — a registration, the end of follow-up —
are built as contract events, judged by the core's parser and stored through the normal intake
(``record_events``: all or nothing, the write gate, audited), so they are in the log like any
other. Registering (which sets the navigator and the contact details) is for admins.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from models.rows import EventRow
from notifications.mail import is_valid_address
from scheduler.domain.events import EVENT_ID_MAX_CHARS, EventError, parse_event
from scheduler.patients.intake import record_events
from scheduler.patients.notes import NoteError, add_note
from scheduler.patients.stored import pending_events
from scheduler.patients.unassigned import navigator_ids
from scheduler.staff import audit
from scheduler.staff.access import REGISTRATION, WebSession, may_see, write_gate
from scheduler.staff.week import week_view
from web.dashboard import (
    _form,
    _guard,
    _not_found,
    _patient_page,
    _redirect,
    _render,
    _signed_in,
    _visible,
    worklist_context,
)
from web.deps import client_of, enqueue_of, sessions_of, settings_of, web_session
from web.forms import END_REASONS, FORM_ERROR, KIND_NAMES, STATUS_NAMES
from web.worklist_view import worklist_csv

router = APIRouter(include_in_schema=False)
REGISTRATION_FIELDS = ("name", "email", "phone", "timezone", "navigator_id")


def install(app: FastAPI) -> None:
    app.include_router(router)


def _page(patient_id: str, anchor: str = "") -> str:
    return f"/patients/{quote(patient_id, safe='')}{anchor}"


# ---- week view and CSV ----------------------------------------------------------------------------


@router.get("/week")
def week_page(request: Request, kind: str = "") -> Response:
    """What is due each day of this week and the next (the caller's patients)."""
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    kind = kind if kind in KIND_NAMES else ""
    today = settings_of(request).today()
    with sessions_of(request).begin() as session:
        found = week_view(session, ws.principal, today, kind=kind or None)
        audit.record(session, ws.principal.actor(client_of(request)), "read_worklist", detail="week")
    for day in found["days"]:
        date = dt.date.fromisoformat(day["date"])
        day["weekday"] = date.strftime("%A")
        day["label"] = date.strftime("%A %d %B").replace(" 0", " ")
        for item in day["items"]:
            item["kind_name"] = KIND_NAMES.get(item["kind"], item["kind"])
            item["status_name"] = STATUS_NAMES.get(item["status"], item["status"])
    weeks = [found["days"][:7], found["days"][7:]]
    context = {"active": "week", "week": found, "weeks": weeks, "kind": kind, "kinds": KIND_NAMES}
    return _render(request, "week.html", context, ws=ws)


@router.get("/worklist.csv")
def worklist_export(
    request: Request,
    kind: str = "",
    severity: str = "",
    more: str = "",
    sort_overdue: str = "",
    sort_due: str = "",
    sort_alerts: str = "",
) -> Response:
    """The worklist view of the same address without ``.csv`` (filters, "show more", sorts), as
    CSV: one row per item listed; audited as ``export_worklist``."""
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    sorts = {"overdue": sort_overdue, "due": sort_due, "alerts": sort_alerts}
    view = worklist_context(request, ws, kind, severity, more, sorts, "export_worklist")
    body = worklist_csv(
        {
            "overdue": view["overdue"],
            "due_soon": view["due_soon"],
            "alerts": view["alerts"],
            "failed_notifications": view["failed"],
            "snoozed": view["snoozed"],
        },
        view["names"],
    )
    day = settings_of(request).today().isoformat()
    return Response(
        "\ufeff" + body,  # a BOM, so that spreadsheet programs read the names as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="worklist-{day}.csv"'},
    )


# ---- the patient page's poll ----------------------------------------------------------------------


@router.get("/patients/{patient_id}/status")
def patient_status(request: Request, patient_id: str) -> Response:
    """``{"pending_events": n}``: how many of the patient's events wait for processing. The patient
    page's script polls it after a save and reloads once it is 0. Not audited: it says nothing of
    the record."""
    ws = web_session(request)
    if ws is None or ws.must_change_password:
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    with sessions_of(request)() as session:
        if not may_see(session, ws.principal, patient_id):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return JSONResponse({"pending_events": pending_events(session, patient_id)})


# ---- notes ---------------------------------------------------------------------------------------


@router.post("/patients/{patient_id}/notes")
async def post_note(request: Request, patient_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_add_note, request, patient_id, form)


def _add_note(request: Request, patient_id: str, form: dict[str, str]) -> Response:
    ws, refused = _guard(request, form, _page(patient_id))
    if ws is None:
        assert refused is not None
        return refused
    kind, text = form.get("kind", ""), form.get("text", "")
    try:
        added = add_note(sessions_of(request), ws.principal, patient_id, kind, text, client_of(request))
    except NoteError as exc:
        if not _visible(request, ws, patient_id):
            return _not_found(request, ws)
        return _patient_page(
            request,
            ws,
            patient_id,
            status_code=422,
            note_errors={exc.field: exc.problem},
            note_values={"kind": kind, "text": text},
        )
    if added is None:
        return _not_found(request, ws)
    return _redirect(request, _page(patient_id, "#notes"), "note_added")


# ---- events from the patient page: registration (admins) and the end of follow-up ------------------


def _submit(request: Request, ws: WebSession, event: dict[str, Any]) -> str | None:
    """Store one event through the intake (the write gate, audited, queued after commit); the
    rejection's message, or None once stored."""
    settings, principal, client = settings_of(request), ws.principal, client_of(request)

    def audited(session: Session, patient_ids: list[str]) -> None:
        for written in patient_ids:
            audit.record(session, principal.actor(client), "submit_events", written, detail=event["event_id"])

    result = record_events(
        sessions_of(request),
        [(1, event)],
        settings.today(),
        enqueue_of(request),
        all_or_nothing=True,
        gate=write_gate(principal),
        audit=audited,
    )
    return result.rejected[0].error.removeprefix("line 1: ") if result.rejected else None


@router.post("/patients/{patient_id}/registration")
async def post_registration(request: Request, patient_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_register, request, patient_id, form)


def _register(request: Request, patient_id: str, form: dict[str, str]) -> Response:
    """An admin's new ``patient_registered`` for the patient: the contact details and navigator of
    the form (reassigning the patient when the navigator differs), dated today and ordered after
    every earlier registration, so that it is the one processing reads."""
    ws, refused = _guard(request, form, _page(patient_id))
    if ws is None:
        assert refused is not None
        return refused
    if not _visible(request, ws, patient_id):
        return _not_found(request, ws)
    if not ws.principal.may_register:
        return _render(
            request,
            "error.html",
            {
                "title": "Not allowed",
                "message": "Only an admin may change a patient's contact details or navigator.",
            },
            ws=ws,
            status_code=403,
        )
    values = {name: form.get(name, "").strip() for name in REGISTRATION_FIELDS}
    today = settings_of(request).today()

    def refused_with(slot: str, problem: str) -> Response:
        return _patient_page(
            request, ws, patient_id, status_code=422, reg_errors={slot: problem}, reg_values=values
        )

    with sessions_of(request)() as session:
        known = navigator_ids(session)
        event_id = _registration_id(session, patient_id, today)
    if values["navigator_id"] not in known:
        return refused_with("navigator_id", "choose one of the navigators listed")
    if values["email"] and not is_valid_address(values["email"]):
        return refused_with(
            "email", f"{values['email'][:80]!r} is not an email address (name@clinic.example)"
        )
    if event_id is None:
        return refused_with(
            FORM_ERROR, "a registration with a long id was recorded today: try again tomorrow"
        )
    data = {name: value for name, value in values.items() if value}
    event = {
        "event_id": event_id,
        "patient_id": patient_id,
        "type": REGISTRATION,
        "occurred_on": today.isoformat(),
        "data": data,
    }
    try:
        parse_event(event, received_on=today)
    except EventError as exc:
        slot = exc.field.removeprefix("data.")
        return refused_with(slot if slot in REGISTRATION_FIELDS else FORM_ERROR, exc.problem)
    problem = _submit(request, ws, event)
    if problem is not None:
        return refused_with(FORM_ERROR, problem)
    return _redirect(request, _page(patient_id, "#contact"), "registered")


def _registration_id(session: Session, patient_id: str, today: dt.date) -> str | None:
    """A new event id that sorts after the id of every registration of ``patient_id`` dated
    ``today`` (processing takes the latest by date, then id); None if none fits in 128 characters."""
    candidate = f"web-reg-{uuid.uuid4().hex}"
    latest = session.scalars(
        select(EventRow.event_id).where(
            EventRow.patient_id == patient_id, EventRow.type == REGISTRATION, EventRow.occurred_on >= today
        )
    ).all()
    top = max(latest, default="")
    if top < candidate:
        return candidate
    longer = f"{top}~{uuid.uuid4().hex[:8]}"
    return longer if len(longer) <= EVENT_ID_MAX_CHARS else None


@router.post("/patients/{patient_id}/end")
async def post_end(request: Request, patient_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_end_follow_up, request, patient_id, form)


def _end_follow_up(request: Request, patient_id: str, form: dict[str, str]) -> Response:
    """A ``follow_up_ended`` event with its reason and date, once the user has ticked the
    confirmation: it closes every open reminder, and no event reopens follow-up."""
    ws, refused = _guard(request, form, _page(patient_id))
    if ws is None:
        assert refused is not None
        return refused
    if not _visible(request, ws, patient_id):
        return _not_found(request, ws)
    today = settings_of(request).today()
    values = {name: form.get(name, "").strip() for name in ("reason", "occurred_on", "confirm")}

    def refused_with(slot: str, problem: str) -> Response:
        return _patient_page(
            request, ws, patient_id, status_code=422, end_errors={slot: problem}, end_values=values
        )

    if values["reason"] not in END_REASONS:
        return refused_with("reason", "choose why follow-up ends")
    if values["confirm"] != "yes":
        return refused_with(
            "confirm", "tick the box to confirm: ending follow-up cancels every open reminder"
        )
    event = {
        "event_id": f"web-{uuid.uuid4().hex}",
        "patient_id": patient_id,
        "type": "follow_up_ended",
        "occurred_on": values["occurred_on"],
        "data": {"reason": values["reason"]},
    }
    try:
        parse_event(event, received_on=today)
    except EventError as exc:
        return refused_with("occurred_on" if exc.field == "occurred_on" else FORM_ERROR, exc.problem)
    problem = _submit(request, ws, event)
    if problem is not None:
        return refused_with(FORM_ERROR, problem)
    return _redirect(request, _page(patient_id), "follow_up_ended")
