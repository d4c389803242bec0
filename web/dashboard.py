"""The navigator dashboard (event-contract.md §4 ``GET /login``, ``POST /login``, ``GET /``).

Server-rendered pages over the same use cases as the JSON API (:mod:`web.api`): the worklist, a
patient's record with its plan, forms that record the common events, alert acknowledgement and
calendar subscriptions. Pages are Jinja2 with autoescape; CSS and the little JavaScript there is
live in ``web/static`` (the CSP forbids inline script and style).

* Sign-in sets an HttpOnly, SameSite=Lax session cookie (Secure when ``base_url`` is https) that
  lasts as long as the session row (:data:`scheduler.staff.access.SESSION_LIFETIME`). A page without a
  session redirects to ``/login?next=…``; ``next`` is followed only when it is a local path.
* Every POST but sign-in carries the session's CSRF token in a hidden ``csrf_token`` input (403
  otherwise, before anything is read or written); sign-in refuses a cross-site ``Origin``.
* A patient the user may not see answers the same 404 as one that does not exist.
* Events go through ``record_events`` (all or nothing, the navigator write gate, audited), after the
  core's parser has named the field at fault, so an error is shown next to its input (422).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from models.rows import AlertRow, FeedRow, UserRow
from models.vocabulary import FeedScope, Role
from notifications.labels import booking_text, label, missed_text
from scheduler.domain.events import EventError, parse_event
from scheduler.notifications.feeds import FeedError, create_feed, feed_url, revoke_feed
from scheduler.patients.directory import MAX_PAGE, MAX_QUERY_CHARS, STAGES, PatientQuery, find_patients
from scheduler.patients.intake import record_events
from scheduler.patients.notes import NOTE_KINDS
from scheduler.patients.records import AcknowledgeError, acknowledge_alert, read_record
from scheduler.patients.results import latest_results
from scheduler.patients.unassigned import navigator_ids, unassigned_patients
from scheduler.staff import audit
from scheduler.staff.access import (
    SESSION_LIFETIME,
    SignInError,
    WebSession,
    csrf_matches,
    may_see,
    sign_in,
    sign_out,
    write_gate,
)
from scheduler.staff.tokens import verify_password
from scheduler.staff.users import MIN_PASSWORD_CHARS, UserError, change_password
from scheduler.staff.worklist import MAX_ITEMS, worklist
from web.deps import COOKIE, MAX_ID, client_of, enqueue_of, sessions_of, settings_of, web_session
from web.forms import (
    END_REASONS,
    FORM_ERROR,
    FORMS,
    FORMS_BY_NAME,
    KIND_NAMES,
    OPEN_STATUSES,
    SEVERITIES,
    STAGE_NAMES,
    STATUS_NAMES,
    WAIVER_REASONS,
    build_event,
    describe_data,
    error_slot,
    form_values,
)
from web.worklist_view import COLUMNS, Sort, add_glance, parse_sort, sort_items

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
FLASH = "gist_flash"
NEW_FEED = "gist_new_feed"  # "<feed id>~<token>": the new feed's URL, shown once after the redirect
PAGE_ITEMS = 50  # per worklist section on the page; "show more" asks for MAX_ITEMS (counts are complete)
FLASHES = {
    "saved": "Saved; the plan updates in a few seconds, and this page with it.",
    "note_added": "Note saved.",
    "registered": "Contact details and navigator saved; the record updates in a few seconds.",
    "follow_up_ended": "Follow-up ended: open reminders are cancelled in a few seconds.",
    "action_book": "Booking saved; the plan shows it in a few seconds.",
    "action_snooze": "Snoozed: the item leaves the worklist until that day in a few seconds.",
    "action_waive": "Waiver saved; the item is cancelled in a few seconds.",
    "acknowledged": "Alert acknowledged.",
    "signed_out": "You are signed out.",
    "password_changed": "Your password is changed.",
    "feed_created": "Calendar subscription created.",
    "feed_revoked": "Calendar subscription revoked: its address answers nothing from now on.",
}

templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
)
router = APIRouter(include_in_schema=False)
Form = dict[str, str]


def install(app: FastAPI) -> None:
    """Add the dashboard's pages and its ``/static`` files to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


# ---- helpers --------------------------------------------------------------------------------------


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to, or ``default``: never another site (``//evil``, ``https:…``)."""
    if not target or "\\" in target or any(ord(c) < 0x20 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if parts.path in ("/login", "/logout"):
        return default
    return target


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _to_login(request: Request, back: str | None = None) -> Response:
    target = back or _here(request)
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    return RedirectResponse(location, status_code=303)


def _redirect(request: Request, location: str, flash: str | None = None) -> Response:
    response = RedirectResponse(location, status_code=303)
    if flash:
        response.set_cookie(FLASH, flash, max_age=60, path="/", httponly=True, samesite="lax",
                            secure=_is_https(request))  # fmt: skip
    return response


def _is_https(request: Request) -> bool:
    return settings_of(request).base_url.startswith("https")


def _render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    ws: WebSession | None = None,
    status_code: int = 200,
) -> Response:
    flash_code = request.cookies.get(FLASH)
    full = {
        "user": ws.principal if ws else None,
        "csrf_token": ws.csrf_token if ws else "",
        "today": settings_of(request).today(),
        "flash": FLASHES.get(flash_code or ""),
        "active": "",
        **context,
    }
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    if flash_code:
        response.delete_cookie(FLASH, path="/", httponly=True, samesite="lax", secure=_is_https(request))
    return response


def render_error(
    request: Request, status_code: int, title: str, message: str, *, signed_in: bool
) -> Response:
    """An HTML error page (web/errors.py), with the navigation when someone is signed in."""
    ws = web_session(request) if signed_in else None
    return _render(
        request, "error.html", {"title": title, "message": message}, ws=ws, status_code=status_code
    )


PASSWORD_PAGE = "/account/password"


def _signed_in(request: Request) -> tuple[WebSession | None, Response | None]:
    """The session of a page request, or where to send the browser instead: the sign-in page, or
    the change-password page while a password reset is pending."""
    ws = web_session(request)
    if ws is None:
        return None, _to_login(request)
    if ws.must_change_password:
        return None, RedirectResponse(PASSWORD_PAGE, status_code=303)
    return ws, None


def _forbidden(request: Request, ws: WebSession | None, why: str) -> Response:
    return _render(request, "error.html", {"title": "Not allowed", "message": why}, ws=ws, status_code=403)


def _not_found(request: Request, ws: WebSession, what: str = "patient") -> Response:
    return _render(
        request,
        "error.html",
        {
            "title": "Not found",
            "message": f"There is no such {what}, or it is not assigned to you. Check the code, "
            "or go back to the worklist.",
        },
        ws=ws,
        status_code=404,
    )


async def _form(request: Request) -> Form:
    submitted = await request.form()
    return {key: value for key, value in submitted.multi_items() if isinstance(value, str)}


def _csrf_ok(ws: WebSession, form: Form) -> bool:
    return csrf_matches(ws.csrf_token, form.get("csrf_token"))


def _same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when it sends one) names this site: no sign-in from another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    allowed = {request.url.netloc, urlsplit(settings_of(request).base_url).netloc}
    return urlsplit(origin).netloc in allowed


# ---- sign-in ----------------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, target: Annotated[str, Query(alias="next")] = "/") -> Response:
    if web_session(request) is not None:
        return RedirectResponse(safe_next(target), status_code=303)
    return _render(request, "login.html", {"next": safe_next(target), "username": "", "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    target = safe_next(form.get("next"))
    if not _same_origin(request):
        return _forbidden(request, None, "Sign in from this site's own sign-in page.")
    username, password = form.get("username", ""), form.get("password", "")
    try:
        signed = await run_in_threadpool(
            sign_in, sessions_of(request), username, password, client_of(request)
        )
    except SignInError as exc:
        return _render(
            request,
            "login.html",
            {"next": target, "username": username.strip()[:64], "error": str(exc)},
            status_code=429 if exc.is_rate_limited else 401,
        )
    response = RedirectResponse(PASSWORD_PAGE if signed.must_change_password else target, status_code=303)
    response.set_cookie(
        COOKIE,
        signed.cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    ws = await run_in_threadpool(web_session, request)
    if ws is None:
        response = _redirect(request, "/login")
    elif not _csrf_ok(ws, form):
        return _forbidden(request, ws, "The form was out of date. Go back, reload the page and try again.")
    else:
        cookie = request.cookies.get(COOKIE, "")
        await run_in_threadpool(sign_out, sessions_of(request), cookie, client_of(request))
        response = _redirect(request, "/login", "signed_out")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_is_https(request))
    return response


# ---- worklist ----------------------------------------------------------------------------------------


SORT_PARAMS = {"overdue": "sort_overdue", "due": "sort_due", "alerts": "sort_alerts"}
SECTION_ANCHORS = {"overdue": "#overdue", "due": "#due-soon", "alerts": "#alerts"}


@router.get("/")
def worklist_page(
    request: Request,
    kind: str = "",
    severity: str = "",
    more: str = "",
    sort_overdue: str = "",
    sort_due: str = "",
    sort_alerts: str = "",
) -> Response:
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    sorts = {"overdue": sort_overdue, "due": sort_due, "alerts": sort_alerts}
    context = worklist_context(request, ws, kind, severity, more, sorts, "read_worklist")
    return _render(request, "worklist.html", context, ws=ws)


def worklist_context(
    request: Request,
    ws: WebSession,
    kind: str,
    severity: str,
    more: str,
    sorts: Mapping[str, str],
    action: str,
) -> dict[str, Any]:
    """The worklist page's view (also what the CSV export writes): the caller's worklist with the
    filters the page offers (others ignored), what matters at a glance, each section in the order
    asked; audited as ``action``."""
    kind = kind if kind in KIND_NAMES else ""
    severity = severity if severity in SEVERITIES else ""
    limit = MAX_ITEMS if more == "1" else PAGE_ITEMS
    found = _read_worklist(request, ws, kind, severity, limit, action)
    alerts = found["alerts"] if severity else [a for a in found["alerts"] if a["severity"] != "info"]
    _add_windows(found)
    order = {section: parse_sort(section, sorts.get(section, "")) for section in SORT_PARAMS}
    shown_more = "1" if limit == MAX_ITEMS else ""
    filters = {k: v for k, v in (("kind", kind), ("severity", severity), ("more", shown_more)) if v}
    sort_query = {SORT_PARAMS[section]: sort.param for section, sort in order.items() if sort.column}
    return {
        "active": "worklist",
        "counts": found["counts"],
        "capped": found["capped_counts"],
        "overdue": sort_items(found["overdue"], "overdue", order["overdue"]),
        "due_soon": sort_items(found["due_soon"], "due", order["due"]),
        "alerts": sort_items(alerts, "alerts", order["alerts"]),
        "hidden_info": len(found["alerts"]) - len(alerts),
        "failed": found["failed_notifications"],
        "snoozed": found["snoozed"],
        "names": found["names"],
        "kind": kind,
        "severity": severity,
        "more": limit == MAX_ITEMS,
        "more_query": urlencode({**filters, **sort_query, "more": "1"}),
        "csv_query": urlencode({**filters, **sort_query}),
        "order": order,
        "columns": COLUMNS,
        "sort_link": _sort_links(filters, sort_query, order),
        "kinds": KIND_NAMES,
        "severities": SEVERITIES,
        "here": _here(request),
    }


def _read_worklist(
    request: Request, ws: WebSession, kind: str, severity: str, limit: int, action: str
) -> dict[str, Any]:
    """The caller's worklist with the patients' names and the glance columns, audited as
    ``action`` in the same transaction."""
    settings, principal = settings_of(request), ws.principal
    today = settings.today()
    with sessions_of(request).begin() as session:
        found = worklist(
            session,
            principal,
            today,
            kind=kind or None,
            severity=severity or None,
            limit=limit,
            with_names=True,
        )
        add_glance(session, found, today)
        audit.record(session, principal.actor(client_of(request)), action)
    return found


def _add_windows(found: dict[str, Any]) -> None:
    """Each listed reminder's kind in words and the last day of its window (and, when it has missed
    items, of the first missed item's window)."""
    for section in ("overdue", "due_soon", "snoozed"):
        for item in found[section]:
            item["kind_name"] = KIND_NAMES.get(item["kind"], item["kind"])
            item["window_ends_on"] = _window_end(item["due_on"], item["window_days"])
            if item["overdue_since"]:  # the window of the first missed item
                item["overdue_window_ended_on"] = _window_end(item["overdue_since"], item["window_days"])


def _sort_links(
    filters: Mapping[str, str], sort_query: Mapping[str, str], order: Mapping[str, Sort]
) -> Callable[[str, str], str]:
    """``sort_link(section, column)``: the worklist sorted next by ``column`` in ``section`` (the
    filters and the other sections' orders kept), at that section."""

    def sort_link(section: str, column: str) -> str:
        asked = {**filters, **sort_query, SORT_PARAMS[section]: order[section].next_param(column)}
        return "/?" + urlencode(asked) + SECTION_ANCHORS[section]

    return sort_link


def _window_end(due_on: str, window_days: int) -> str:
    return (dt.date.fromisoformat(due_on) + dt.timedelta(days=window_days)).isoformat()


# ---- patient list ---------------------------------------------------------------------------------------


FLAGS = {"yes": True, "no": False}  # the list's overdue / critical choices ("" = either)


@router.get("/patients")
def patients_page(
    request: Request,
    q: str = "",
    navigator: str = "",
    stage: str = "",
    overdue: str = "",
    critical: str = "",
    page: str = "1",
) -> Response:
    """Every patient the user may see (a navigator: their own), found by id or name and filtered;
    a value the form does not offer is ignored, like the worklist's filters."""
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    shown = _patient_filters(q, navigator, stage, overdue, critical)
    query = PatientQuery(
        q=shown["q"],
        navigator=shown["navigator"] or None,
        stage=shown["stage"] or None,
        overdue=FLAGS.get(shown["overdue"]),
        critical=FLAGS.get(shown["critical"]),
        page=_page_number(page),
    )
    with sessions_of(request).begin() as session:
        found = find_patients(session, ws.principal, query)
        audit.record(session, ws.principal.actor(client_of(request)), "read_worklist", detail="patients")
    filters = {name: value for name, value in shown.items() if value}
    for patient in found["patients"]:
        patient["stage_name"] = STAGE_NAMES.get(patient["stage"] or "", patient["stage"] or "no plan yet")
    context = {
        "active": "patients",
        "found": found,
        **shown,
        "stages": {name: STAGE_NAMES.get(name, name) for name in STAGES},
        "filtered": bool(filters),
        "previous_link": _page_link(filters, found["page"] - 1) if found["page"] > 1 else None,
        "next_link": _page_link(filters, found["page"] + 1) if found["page"] < found["pages"] else None,
        "sees_all": ws.principal.sees_all,
    }
    return _render(request, "patients.html", context, ws=ws)


def _patient_filters(q: str, navigator: str, stage: str, overdue: str, critical: str) -> dict[str, str]:
    """The patient list's filters as the page shows them, in the order its links name them; a value
    the form does not offer becomes "" (no filter)."""
    return {
        "q": q.strip()[:MAX_QUERY_CHARS],
        "navigator": navigator.strip()[:128],
        "stage": stage if stage in STAGES else "",
        "overdue": overdue if overdue in FLAGS else "",
        "critical": critical if critical in FLAGS else "",
    }


def _page_number(page: str) -> int:
    """The page asked for, or 1 for anything but a number from 1 to ``MAX_PAGE``."""
    is_number = page.isascii() and page.isdigit() and len(page) <= len(str(MAX_PAGE))
    return int(page) if is_number and 1 <= int(page) <= MAX_PAGE else 1


def _page_link(filters: Mapping[str, str], number: int) -> str:
    return "/patients?" + urlencode({**filters, "page": str(number)})


# ---- patient ------------------------------------------------------------------------------------------


RECENT_DAYS = 90  # completed reminders this recent stay in view; older ones and cancelled fold away
AHEAD_DAYS = 90  # planned reminders further ahead than this fold away (weekly tests fill a year)
TIMELINE_SHOWN = 25  # newest events in view; the rest fold away


def _patient_view(record: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The record, arranged for the page: open reminders by date, recently completed ones, the rest
    folded away (every reminder stays on the page); the timeline newest first."""
    plan = record["plan"]
    reminders = []
    for reminder in plan["reminders"] if plan else []:
        reminders.append(
            {
                **reminder,
                "label": label(reminder["kind"]).summary,
                "kind_name": KIND_NAMES.get(reminder["kind"], reminder["kind"]),
                "status_name": STATUS_NAMES.get(reminder["status"], reminder["status"]),
                "window_ends_on": _window_end(reminder["due_on"], reminder["window_days"]),
                "closed_on": reminder["completed_on"] or reminder["cancelled_on"] or reminder["due_on"],
                "missed_text": _missed_text(reminder),
                **_actions_view(reminder, today),
            }
        )
    _add_missed_before_waivers(reminders)
    open_reminders = sorted(
        (r for r in reminders if r["status"] in OPEN_STATUSES), key=lambda r: (r["due_on"], r["key"])
    )
    past = sorted(
        (r for r in reminders if r["status"] not in OPEN_STATUSES),
        key=lambda r: (r["closed_on"], r["due_on"]),
        reverse=True,
    )
    horizon = (today + dt.timedelta(days=AHEAD_DAYS)).isoformat()
    soon = [r for r in open_reminders if r["status"] != "planned" or r["due_on"] <= horizon]
    soon_keys = {r["key"] for r in soon}
    since = (today - dt.timedelta(days=RECENT_DAYS)).isoformat()
    recent = [r for r in past if (r["status"] == "completed" or r.get("waiver")) and r["closed_on"] >= since]
    recent_keys = {r["key"] for r in recent}
    events = [{**event, "summary": describe_data(event["data"])} for event in reversed(record["events"])]
    alerts = [
        {**alert, "age_days": max(0, (today - dt.date.fromisoformat(alert["first_seen_at"][:10])).days)}
        for alert in record["alerts"]
    ]
    return {
        "record": record,
        "plan": plan,
        "stage_name": STAGE_NAMES.get(plan["stage"], plan["stage"]) if plan else None,
        "open_reminders": open_reminders,
        "soon_reminders": soon,
        "later_reminders": [r for r in open_reminders if r["key"] not in soon_keys],
        "later_keys": [r["key"] for r in open_reminders if r["key"] not in soon_keys],
        "horizon": horizon,
        "recent_reminders": recent,
        "earlier_reminders": [r for r in past if r["key"] not in recent_keys],
        "recent_days": RECENT_DAYS,
        "events": events[:TIMELINE_SHOWN],
        "older_events": events[TIMELINE_SHOWN:],
        "latest_results": latest_results(record["events"]),
        "open_alerts": [a for a in alerts if a["is_active"] and not a["acknowledged_at"]],
        "earlier_alerts": [a for a in alerts if a["acknowledged_at"] or not a["is_active"]],
    }


def _actions_view(reminder: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """What the navigator's actions show on an item: "Booked for … at …; due …", "snoozed until …"
    (while it runs), and a waiver's reason in words."""
    booking, snoozed, waiver = reminder.get("booking"), reminder.get("snoozed_until"), reminder.get("waiver")
    return {
        "booking_text": booking_text(
            dt.date.fromisoformat(booking["appointment_on"]),
            booking.get("place"),
            dt.date.fromisoformat(reminder["due_on"]),
        )
        if booking
        else None,
        "snoozed_until": snoozed if snoozed and snoozed > today.isoformat() else None,
        "waiver_reason": WAIVER_REASONS.get(waiver["reason"], waiver["reason"]) if waiver else None,
        "missed_before": None,
    }


def _add_missed_before_waivers(reminders: list[dict[str, Any]]) -> None:
    """A waived item's run of missed items just before it in its series (cancelled, neither done nor
    waived), in the words of the open items': "overdue since … (n missed)"."""
    by_key = {r["key"]: r for r in reminders}
    for reminder in reminders:
        if not reminder.get("waiver"):
            continue
        series, _, ordinal = reminder["key"].rpartition(":")
        if not ordinal.isdigit():
            continue
        run: list[dict[str, Any]] = []
        for earlier in range(int(ordinal) - 1, 0, -1):
            item = by_key.get(f"{series}:{earlier}")
            if item is None or item["status"] != "cancelled" or item["completed_on"] or item.get("waiver"):
                break
            run.append(item)
        if run:
            since = min(item["due_on"] for item in run)
            reminder["missed_before"] = f"overdue since {since} ({len(run)} missed)"


def _missed_text(reminder: dict[str, Any]) -> str | None:
    """ "overdue since … (n missed); last done on …" for an open reminder with missed items."""
    since = reminder.get("overdue_since")
    if not since:
        return None
    done = reminder.get("last_done_on")
    last_done_on = dt.date.fromisoformat(done) if done else None
    return missed_text(dt.date.fromisoformat(since), int(reminder.get("missed") or 0), last_done_on)


def _patient_page(
    request: Request,
    ws: WebSession,
    patient_id: str,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    record = read_record(sessions_of(request), ws.principal, patient_id, client_of(request))
    if record is None:
        return _not_found(request, ws)
    feeds = _feeds_of(request, patient_id)
    new_feed = _new_feed(request, feeds)
    context: dict[str, Any] = {
        **_patient_view(record, settings_of(request).today()),
        "forms": FORMS,
        "form_name": None,
        "form_values": {},
        "form_errors": {},
        "ack_errors": {},
        "ack_notes": {},
        "feed_url": new_feed,
        "feeds": feeds,
        "FORM_ERROR": FORM_ERROR,
        "here": _here(request),
        "note_kinds": NOTE_KINDS,
        "note_errors": {},
        "note_values": {},
        "end_reasons": END_REASONS,
        "end_errors": {},
        "end_values": {},
        "reg_errors": {},
        "reg_values": None,
        "navigators": _assignable(request, ws, record.get("navigator_id")),
        "waiver_reasons": WAIVER_REASONS,
        "tomorrow": (settings_of(request).today() + dt.timedelta(days=1)).isoformat(),
        "action_key": None,
        "action_name": None,
        "action_values": {},
        "action_errors": {},
        **extra,
    }
    response = _render(request, "patient.html", context, ws=ws, status_code=status_code)
    if NEW_FEED in request.cookies and new_feed is not None:
        response.delete_cookie(NEW_FEED, path="/patients/", httponly=True, samesite="lax",
                               secure=_is_https(request))  # fmt: skip
    return response


def _assignable(request: Request, ws: WebSession, current: str | None) -> list[str]:
    """For an admin, the navigator ids the contact form offers (the active navigators, and the
    patient's own); nobody else sees that form."""
    if not ws.principal.may_register:
        return []
    with sessions_of(request)() as session:
        known = navigator_ids(session)
    return sorted({*known, current}) if current else known


def _feeds_of(request: Request, patient_id: str) -> list[dict[str, Any]]:
    """The patient's calendar subscriptions, newest first: id, created, revoked (the token is not
    stored, so the address itself cannot be shown again)."""
    with sessions_of(request)() as session:
        rows = session.scalars(
            select(FeedRow)
            .where(FeedRow.scope == FeedScope.PATIENT, FeedRow.subject_id == patient_id)
            .order_by(FeedRow.created_at.desc(), FeedRow.id)
        ).all()
        return [
            {
                "id": row.id,
                "created_at": row.created_at.isoformat(timespec="minutes"),
                "revoked_at": row.revoked_at.isoformat(timespec="minutes") if row.revoked_at else None,
            }
            for row in rows
        ]


def _new_feed(request: Request, feeds: list[dict[str, Any]]) -> str | None:
    """The URL of the feed just created (from its one-minute cookie), if it is a live feed of this
    patient: shown on the page the creation redirected to, and not again."""
    feed_id, _, token = request.cookies.get(NEW_FEED, "").partition("~")
    if not token or not any(f["id"] == feed_id and f["revoked_at"] is None for f in feeds):
        return None
    return feed_url(settings_of(request).base_url, token)


@router.get("/patients/{patient_id}")
def patient_page(request: Request, patient_id: str) -> Response:
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    return _patient_page(request, ws, patient_id)


@router.get("/patients/{patient_id}/print")
def print_page(request: Request, patient_id: str) -> Response:
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    record = read_record(sessions_of(request), ws.principal, patient_id, client_of(request))
    if record is None:
        return _not_found(request, ws)
    view = _patient_view(record, settings_of(request).today())
    return _render(request, "print.html", {"record": record, "reminders": view["open_reminders"]}, ws=ws)


def _guard(request: Request, form: Form, back: str) -> tuple[WebSession | None, Response | None]:
    """The session of a POST with a matching CSRF token, or the response that refuses it."""
    ws = web_session(request)
    if ws is None:
        return None, _to_login(request, back)
    if ws.must_change_password:
        return None, RedirectResponse(PASSWORD_PAGE, status_code=303)
    if not _csrf_ok(ws, form):
        return None, _forbidden(
            request, ws, "The form was out of date or incomplete. Go back, reload the page and try again."
        )
    return ws, None


def _visible(request: Request, ws: WebSession, patient_id: str) -> bool:
    with sessions_of(request)() as session:
        return may_see(session, ws.principal, patient_id)


@router.post("/patients/{patient_id}/events")
async def post_event(request: Request, patient_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_record_event, request, patient_id, form)


def _record_event(request: Request, patient_id: str, form: Form) -> Response:
    ws, refused = _guard(request, form, f"/patients/{quote(patient_id, safe='')}")
    if ws is None:
        assert refused is not None
        return refused
    if not _visible(request, ws, patient_id):
        return _not_found(request, ws)
    event_form = FORMS_BY_NAME.get(form.get("form", ""))
    if event_form is None:
        return _patient_page(
            request, ws, patient_id, status_code=422,
            form_errors={FORM_ERROR: "Choose one of the forms on this page."},
        )  # fmt: skip
    settings, principal, client = settings_of(request), ws.principal, client_of(request)
    values = form_values(event_form, form)
    event = build_event(event_form, patient_id, values)
    today = settings.today()

    def refused_with(slot: str, problem: str) -> Response:
        return _patient_page(
            request, ws, patient_id, status_code=422,
            form_name=event_form.name, form_values=values, form_errors={slot: problem},
        )  # fmt: skip

    try:
        parse_event(event, received_on=today)
    except EventError as exc:
        return refused_with(error_slot(event_form, exc.field), exc.problem)

    def audited(session: Session, patient_ids: list[str]) -> None:
        for written in patient_ids:
            audit.record(session, principal.actor(client), "submit_events", written, detail=event["event_id"])

    result = record_events(
        sessions_of(request),
        [(1, event)],
        today,
        enqueue_of(request),
        all_or_nothing=True,
        gate=write_gate(principal),
        audit=audited,
    )
    if result.rejected:
        return refused_with(FORM_ERROR, result.rejected[0].error.removeprefix("line 1: "))
    return _redirect(request, f"/patients/{quote(patient_id, safe='')}", "saved")


@router.post("/patients/{patient_id}/feeds")
async def post_feed(request: Request, patient_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_create_feed, request, patient_id, form)


def _create_feed(request: Request, patient_id: str, form: Form) -> Response:
    ws, refused = _guard(request, form, f"/patients/{quote(patient_id, safe='')}")
    if ws is None:
        assert refused is not None
        return refused
    if not _visible(request, ws, patient_id):
        return _not_found(request, ws)
    sessions = sessions_of(request)
    created = create_feed(sessions, FeedScope.PATIENT, patient_id, settings_of(request).base_url)
    with sessions.begin() as session:
        audit.record(
            session, ws.principal.actor(client_of(request)), "feed_create", patient_id, detail=created.id
        )
    # Post/Redirect/Get: reloading the page that shows the URL must not create another feed. The
    # URL rides to that page in a short-lived HttpOnly cookie, read and deleted there.
    token = created.url.rsplit("/", 1)[-1].removesuffix(".ics")
    response = _redirect(request, f"/patients/{quote(patient_id, safe='')}#feeds", "feed_created")
    response.set_cookie(NEW_FEED, f"{created.id}~{token}", max_age=60, path="/patients/", httponly=True,
                        samesite="lax", secure=_is_https(request))  # fmt: skip
    return response


@router.post("/patients/{patient_id}/feeds/{feed_id}/revoke")
async def post_revoke_feed(request: Request, patient_id: str, feed_id: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_revoke_feed, request, patient_id, feed_id, form)


def _revoke_feed(request: Request, patient_id: str, feed_id: str, form: Form) -> Response:
    """Revoke one of the patient's feeds (audited like ``gistsched feed revoke``); a feed of another
    patient, or of a navigator, is not found here."""
    ws, refused = _guard(request, form, f"/patients/{quote(patient_id, safe='')}")
    if ws is None:
        assert refused is not None
        return refused
    if not _visible(request, ws, patient_id):
        return _not_found(request, ws)
    sessions = sessions_of(request)
    with sessions() as session:
        feed = session.get(FeedRow, feed_id)
        if feed is None or (feed.scope, feed.subject_id) != (FeedScope.PATIENT, patient_id):
            return _not_found(request, ws, "calendar subscription")
    try:
        revoke_feed(sessions, feed_id)
    except FeedError:
        return _not_found(request, ws, "calendar subscription")
    with sessions.begin() as session:
        audit.record(
            session, ws.principal.actor(client_of(request)), "feed_revoke", patient_id, detail=feed_id
        )
    return _redirect(request, f"/patients/{quote(patient_id, safe='')}#feeds", "feed_revoked")


# ---- alerts -------------------------------------------------------------------------------------------


@router.post("/alerts/{alert_id}/acknowledge")
async def post_acknowledge(
    request: Request, alert_id: Annotated[int, FastApiPath(ge=1, le=MAX_ID)]
) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_acknowledge, request, alert_id, form)


def _acknowledge(request: Request, alert_id: int, form: Form) -> Response:
    back = safe_next(form.get("next"))
    ws, refused = _guard(request, form, back)
    if ws is None:
        assert refused is not None
        return refused
    with sessions_of(request)() as session:
        alert = session.get(AlertRow, alert_id)
        patient_id = alert.patient_id if alert is not None else None
        if patient_id is None or not may_see(session, ws.principal, patient_id):
            return _not_found(request, ws, "alert")
    note = form.get("note", "")
    try:
        done = acknowledge_alert(sessions_of(request), ws.principal, alert_id, note, client_of(request))
    except AcknowledgeError as exc:
        return _patient_page(
            request, ws, patient_id, status_code=422,
            ack_errors={alert_id: exc.problem}, ack_notes={alert_id: note},
        )  # fmt: skip
    if done is None:
        return _not_found(request, ws, "alert")
    default = f"/patients/{quote(patient_id, safe='')}"
    return _redirect(request, safe_next(form.get("next"), default), "acknowledged")


# ---- account ------------------------------------------------------------------------------------------


@router.get(PASSWORD_PAGE)
def password_page(request: Request) -> Response:
    ws = web_session(request)
    if ws is None:
        return _to_login(request)
    return _password_form(request, ws)


def _password_form(
    request: Request, ws: WebSession, error: str | None = None, status_code: int = 200
) -> Response:
    context = {
        "active": "password",
        "forced": ws.must_change_password,
        "error": error,
        "min_chars": MIN_PASSWORD_CHARS,
    }
    return _render(request, "password.html", context, ws=ws, status_code=status_code)


@router.post(PASSWORD_PAGE)
async def post_password(request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_change_password, request, form)


def _change_password(request: Request, form: Form) -> Response:
    ws = web_session(request)
    if ws is None:
        return _to_login(request, PASSWORD_PAGE)
    if not _csrf_ok(ws, form):
        return _forbidden(request, ws, "The form was out of date. Go back, reload the page and try again.")
    current, new = form.get("current_password", ""), form.get("new_password", "")
    sessions = sessions_of(request)
    with sessions() as session:
        user = session.get_one(UserRow, ws.principal.user_id)
        is_current = verify_password(current, user.password_hash) and bool(current)
    if not is_current:
        return _password_form(request, ws, "The current password is wrong.", 422)
    if new != form.get("confirm_password", ""):
        return _password_form(request, ws, "The two new passwords differ.", 422)
    if new == current:
        return _password_form(request, ws, "Choose a password different from the current one.", 422)
    try:
        change_password(sessions, ws.principal.user_id, new, ws.principal.actor(client_of(request)))
    except UserError as exc:
        return _password_form(request, ws, f"The new password needs {exc.problem}.", 422)
    return _redirect(request, "/", "password_changed")


# ---- admins -------------------------------------------------------------------------------------------


@router.get("/unassigned")
def unassigned_page(request: Request) -> Response:
    ws, elsewhere = _signed_in(request)
    if ws is None:
        assert elsewhere is not None
        return elsewhere
    if ws.principal.role != Role.ADMIN:
        return _forbidden(request, ws, "The unassigned queue is for admins.")
    with sessions_of(request).begin() as session:
        found = unassigned_patients(session, MAX_ITEMS)
        audit.record(session, ws.principal.actor(client_of(request)), "read_worklist", detail="unassigned")
    return _render(request, "unassigned.html", {"active": "unassigned", "found": found}, ws=ws)
