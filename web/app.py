"""The FastAPI application: ``/healthz`` and ``GET /feeds/{token}.ics`` (event-contract.md §4),
with the API, the FHIR routes and the dashboard mounted. The caller (the composition root,
:mod:`scheduler.app.wiring`) hands it the settings, the sessions and how to queue a patient's
processing: the web layer knows no broker.

Feeds are the only unauthenticated route: the token in the URL is the credential. So the token
never reaches a log (uvicorn's access log is off; :func:`access_log` writes the path with the
token replaced), an unknown, revoked or malformed token gets the same 404 after the same single
lookup, and a calendar's conditional poll (``If-None-Match``) is answered 304 from one aggregate
query, without rendering. Rendered feeds are kept per ETag in a small in-process cache, so a
feed whose reminders did not change is rendered once a day at most.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from scheduler.config.settings import Settings
from scheduler.fhir.navigators import NavigatorTable
from scheduler.notifications.feeds import feed_etag, find_feed, render
from scheduler.patients.intake import QueueProcessing
from web.api import router as api_router
from web.dashboard import install as install_dashboard
from web.errors import install as install_error_pages
from web.fhir_api import router as fhir_router
from web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from web.metrics import render_metrics
from web.navigator import install as install_navigator
from web.openapi import install as install_api_docs
from web.reminder_actions import install as install_reminder_actions
from web.security import security_headers

CALENDAR = "text/calendar; charset=utf-8"
FEED_CACHE_CONTROL = "private, max-age=900"
FEED_CACHE_ENTRIES = 64
_FEED_PATH = re.compile(r"^/feeds/[^/]*$")

log = logging.getLogger("gistsched.web")


class FeedCache:
    """Rendered feeds by ETag (the ETag already names the feed and its content)."""

    def __init__(self, entries: int = FEED_CACHE_ENTRIES) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._entries = entries

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._items.get(etag)
            if body is not None:
                self._items.move_to_end(etag)
            return body

    def put(self, etag: str, body: bytes) -> None:
        with self._lock:
            self._items[etag] = body
            while len(self._items) > self._entries:
                self._items.popitem(last=False)


def redact(path: str) -> str:
    """The path as it may be logged: a feed's token is a credential."""
    return "/feeds/<token>.ics" if _FEED_PATH.match(path) else path


def create_app(
    settings: Settings,
    sessions: sessionmaker[Session],
    enqueue: QueueProcessing,
    *,
    navigators: NavigatorTable | None = None,
) -> FastAPI:
    """The application over ``sessions``; ``enqueue`` queues a patient's processing after events of
    theirs were stored (the API, the dashboard's forms, a FHIR import); ``navigators`` is the
    checked practitioner → navigator table of ``POST /fhir/Bundle``."""
    app = FastAPI(
        title="gist-scheduler",
        version="0.1.0",
        description="Guideline-driven follow-up for patients with GIST: events in, plans and worklists out.",
        docs_url=None,  # FastAPI's pages load scripts from a CDN: web.openapi serves /api/docs instead
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings, app.state.sessions, app.state.enqueue = settings, sessions, enqueue
    app.state.fhir_navigators = navigators
    app.middleware("http")(security_headers)
    app.include_router(api_router)
    app.include_router(fhir_router)
    install_api_docs(app)  # the document's event models, /api/docs with its assets
    install_dashboard(app)  # pages, forms, /static
    install_navigator(app)  # week view, CSV, notes, contact, end of follow-up
    install_reminder_actions(app)  # book, snooze, waive a reminder
    install_error_pages(app)  # HTML for the pages, JSON for the API
    app.middleware("http")(access_log)
    _install_health(app, settings, sessions)
    _install_feeds(app, settings, sessions)
    return app


async def access_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """One log line per request: method, path (a feed's token redacted), status, milliseconds."""
    started = time.perf_counter()
    response = await call_next(request)
    log.info(
        "%s %s %d %.1f ms",
        request.method,
        redact(request.url.path),
        response.status_code,
        (time.perf_counter() - started) * 1000,
    )
    return response


def _install_health(app: FastAPI, settings: Settings, sessions: sessionmaker[Session]) -> None:
    """``/healthz`` (the database and the broker) and ``/metrics`` (for the allowed clients)."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        checks = {"database": _check_database(sessions), "broker": _check_broker(settings)}
        healthy = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ok" if healthy else "unavailable", **checks}, 200 if healthy else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not metrics_allowed(settings, request):
            return PlainTextResponse(
                "Forbidden: /metrics answers the addresses in GIST_METRICS_ALLOW, "
                "or a Bearer GIST_METRICS_TOKEN",
                status_code=403,
            )
        return Response(render_metrics(settings, sessions), media_type=METRICS_CONTENT_TYPE)


def _install_feeds(app: FastAPI, settings: Settings, sessions: sessionmaker[Session]) -> None:
    """``GET /feeds/{token}.ics``, with its own cache of rendered feeds, and the same 404 for any
    other path under ``/feeds/``."""
    cache = FeedCache()

    @app.get("/feeds/{token}.ics", include_in_schema=False)
    def feed(token: str, request: Request) -> Response:
        today = settings.today()
        with sessions() as session:
            found = find_feed(session, token)
            if found is None:
                return PlainTextResponse("Not found", status_code=404)
            etag = feed_etag(session, found, today, settings.active_profile.digest)
            headers = {"ETag": etag, "Cache-Control": FEED_CACHE_CONTROL}
            if etag in _etags(request.headers.get("if-none-match")):
                return Response(status_code=304, headers=headers)
            body = cache.get(etag)
            if body is None:
                body = render(session, found, today, settings.active_profile.profile)
                cache.put(etag, body)
        return Response(body, media_type=CALENDAR, headers=headers)

    @app.get("/feeds/{anything:path}", include_in_schema=False)
    def not_a_feed(anything: str) -> Response:
        """Any other path under /feeds/ (an empty token, a missing .ics): the same lookup and the
        same 404 as a wrong token, so nothing tells a guess apart."""
        with sessions() as session:
            find_feed(session, anything)
        return PlainTextResponse("Not found", status_code=404)


def metrics_allowed(settings: Settings, request: Request) -> bool:
    """The client's address is in ``metrics_allow``, or it sends ``Bearer <metrics_token>``."""
    if settings.metrics_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), settings.metrics_token.encode()
        ):
            return True
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_networks)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip().removeprefix("W/") for part in header.split(",")}


def _check_database(sessions: sessionmaker[Session]) -> str:
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_broker(settings: Settings) -> str:
    if settings.is_embedded_broker:
        return "ok" if settings.broker_folder.is_dir() else "error: the embedded broker's folder is missing"
    from kombu.connection import Connection

    try:
        with Connection(  # type: ignore[no-untyped-call]
            settings.broker_url, connect_timeout=2, transport_options=settings.broker_transport_options
        ) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
