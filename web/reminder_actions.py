"""The navigator's actions on one reminder, from the worklist and the patient page: **book** it (an
appointment day, optionally where), **snooze** it (off the worklist until a day after today) or
**waive** it (not applicable, done elsewhere — on a day —, or declined by the patient; a note).

Each is a contract event (``reminder_booked``, ``reminder_snoozed``, ``reminder_waived``) dated
today, judged by the core's parser and stored through the normal intake (``record_events``: the
navigator write gate, audited as ``submit_events``), so it is in the log like any other and the plan
shows its effect once processed. The same rules as every dashboard POST (:mod:`web.dashboard`):
the session's CSRF token first, a patient the user may not see is "not found", and a bad value is
the page the form was on again (422) with the item's form open and the error next to its field.

The patient page carries the forms on each open item, behind a disclosure; the worklist, which
lists up to 500 items a section, carries one link per item to the item's own page of forms
(``GET /patients/{id}/reminders/act?key=…&next=…``), which sends the navigator back to ``next``
once saved: one link a row keeps the worklist page a third of the size three forms a row make it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from models.rows import ReminderRow
from models.statuses import OPEN_REMINDER_STATUSES
from scheduler.domain.events import EventError, parse_event
from scheduler.staff import audit
from scheduler.staff.access import WebSession
from scheduler.staff.worklist import worklist_item
from web.dashboard import (
    _actions_view,
    _form,
    _guard,
    _not_found,
    _patient_page,
    _redirect,
    _render,
    _signed_in,
    _visible,
    _window_end,
    safe_next,
)
from web.deps import client_of, sessions_of, settings_of
from web.forms import FORM_ERROR, KIND_NAMES, STATUS_NAMES, WAIVER_REASONS
from web.navigator import _submit

router = APIRouter(include_in_schema=False)

ACTIONS: dict[str, str] = {
    "book": "reminder_booked",
    "snooze": "reminder_snoozed",
    "waive": "reminder_waived",
}
FIELDS: dict[str, tuple[str, ...]] = {  # the form's inputs of each action, in the event's data
    "book": ("appointment_on", "place"),
    "snooze": ("until",),
    "waive": ("reason", "done_on", "note"),
}


def install(app: FastAPI) -> None:
    app.include_router(router)


@router.get("/patients/{patient_id}/reminders/act")
def item_page(
    request: Request,
    patient_id: str,
    key: Annotated[str, Query(max_length=200)] = "",
    target: Annotated[str, Query(alias="next", max_length=2000)] = "",
) -> Response:
    """The three forms for one open item, on a page of their own (the worklist's way to them)."""
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    return _item_page(request, ws, patient_id, key, safe_next(target))


def _item_page(
    request: Request,
    ws: WebSession,
    patient_id: str,
    key: str,
    back: str,
    *,
    status_code: int = 200,
    action_name: str | None = None,
    action_values: dict[str, str] | None = None,
    action_errors: dict[str, str] | None = None,
) -> Response:
    """The item's page: what it is and why, and its forms (``action_name``'s with the values and
    errors given); "not found" for an item the user may not see, 409 for one no longer open."""
    today = settings_of(request).today()
    with sessions_of(request).begin() as session:
        item = worklist_item(session, ws.principal, patient_id, key, today)
        if item is not None:
            audit.record(session, ws.principal.actor(client_of(request)), "read_patient", patient_id)
    if item is None:
        return _not_found(request, ws, "item")
    if item["status"] not in OPEN_REMINDER_STATUSES:
        message = (
            f"{item['label']} due {item['due_on']} is {item['status']} now: there is nothing left to "
            "book, snooze or waive. Go back and reload the list."
        )
        return _render(
            request, "error.html", {"title": "No longer open", "message": message}, ws=ws, status_code=409
        )
    view = item | {
        "kind_name": KIND_NAMES.get(item["kind"], item["kind"]),
        "status_name": STATUS_NAMES.get(item["status"], item["status"]),
        "window_ends_on": _window_end(item["due_on"], item["window_days"]),
        **_actions_view(item, today),  # the booking and a snooze still running, as the patient page says them
    }
    context = {
        "item": view,
        "name": item["patient_name"],
        "back": back,
        "next": back,
        "tomorrow": (today + dt.timedelta(days=1)).isoformat(),
        "waiver_reasons": WAIVER_REASONS,
        "action_name": action_name,
        "action_values": action_values or {},
        "action_errors": action_errors or {},
        "FORM_ERROR": FORM_ERROR,
    }
    return _render(request, "reminder_act.html", context, ws=ws, status_code=status_code)


@router.post("/patients/{patient_id}/reminders/act")
async def post_action(request: Request, patient_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_act, request, patient_id, form)


def _act(request: Request, patient_id: str, form: dict[str, str]) -> Response:
    """One action on the open reminder ``key`` of the patient, as an event dated today; back to
    ``next`` (the worklist or the patient page) once stored."""
    page = f"/patients/{quote(patient_id, safe='')}"
    ws, refused = _guard(request, form, page)
    if ws is None:
        assert refused is not None
        return refused
    if not _visible(request, ws, patient_id):
        return _not_found(request, ws)
    action, key = form.get("action", ""), form.get("key", "")
    values = {name: form.get(name, "").strip() for name in FIELDS.get(action, ())}
    today = settings_of(request).today()

    def refused_with(slot: str, problem: str, *, on_item: bool = True) -> Response:
        """The page the form was on (the item's own, or the patient page) with the error next to
        the item's field, or above the forms."""
        if form.get("page") == "item":
            back = safe_next(form.get("next"), page)
            return _item_page(
                request, ws, patient_id, key, back, status_code=422,
                action_name=action if on_item else None, action_values=values,
                action_errors={slot: problem},
            )  # fmt: skip
        return _patient_page(
            request, ws, patient_id, status_code=422,
            action_key=key if on_item else None, action_name=action if on_item else None,
            action_values=values, action_errors={slot: problem},
        )  # fmt: skip

    if action not in ACTIONS:
        return refused_with(FORM_ERROR, "choose Book, Snooze or Waive", on_item=False)
    if not _is_open(request, patient_id, key):
        return refused_with(FORM_ERROR, "this item is no longer open: reload the page", on_item=False)
    data = _data(action, key, values)
    event = {
        "event_id": f"web-{uuid.uuid4().hex}",
        "patient_id": patient_id,
        "type": ACTIONS[action],
        "occurred_on": today.isoformat(),
        "data": data,
    }
    try:
        parse_event(event, received_on=today)
    except EventError as exc:
        slot = exc.field.removeprefix("data.")
        return refused_with(slot if slot in values else FORM_ERROR, _problem(slot, exc.problem, today))
    problem = _submit(request, ws, event)
    if problem is not None:
        return refused_with(FORM_ERROR, problem)
    return _redirect(request, safe_next(form.get("next"), page), "action_" + action)


def _data(action: str, key: str, values: dict[str, str]) -> dict[str, Any]:
    """The event's data: the filled-in inputs (a done-elsewhere day only with that reason)."""
    data: dict[str, Any] = {"reminder_key": key}
    for name, value in values.items():
        if value and not (name == "done_on" and values.get("reason") != "done_elsewhere"):
            data[name] = value
    return data


def _problem(slot: str, problem: str, today: dt.date) -> str:
    """The parser's words, or plainer ones for the dates a form fills in relative to today."""
    if slot == "until" and "must be after occurred_on" in problem:
        return f"choose a day after today ({today.isoformat()})"
    if slot == "done_on" and "after occurred_on" in problem:
        return f"the day it was done must be today ({today.isoformat()}) or earlier"
    if slot == "done_on" and problem.startswith("required"):
        return "give the day it was done elsewhere"
    return problem


def _is_open(request: Request, patient_id: str, key: str) -> bool:
    """Is ``key`` an open reminder of the patient as last stored?"""
    with sessions_of(request)() as session:
        status = session.scalar(
            select(ReminderRow.status).where(ReminderRow.patient_id == patient_id, ReminderRow.key == key)
        )
    return status in OPEN_REMINDER_STATUSES
