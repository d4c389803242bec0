"""Error answers by audience: the browser's pages get HTML error pages (with the site's navigation,
a way back, and no traceback), the machine routes keep theirs (JSON ``detail`` under ``/api`` and
``/fhir``, plain text for feeds, health and metrics).

A 404 (no such page), 405 (a method the page does not take, e.g. reloading a POST-only address
with GET), an invalid path value (an alert id out of range) and a 500 each get their own page.
The 500 page is rendered without reading the database (it may be what failed) and carries the
security headers itself: it is answered outside the middleware that adds them.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException

from web.dashboard import render_error
from web.security import CSP

MACHINE_PREFIXES = ("/api/", "/fhir/", "/feeds/", "/healthz", "/metrics", "/static/")

PAGES: dict[int, tuple[str, str]] = {
    404: (
        "Page not found",
        "There is no page at this address. Check the address, or go back to the worklist.",
    ),
    405: (
        "Not available this way",
        "This address answers a form, not a page to open or reload. Go back to the worklist and try "
        "again from there.",
    ),
    422: ("Page not found", "This address is not valid. Check it, or go back to the worklist."),
    500: (
        "Something went wrong",
        "The server could not answer this page. Nothing you entered was lost if the page said it was "
        "saved; try again in a moment, and tell your administrator if it keeps happening.",
    ),
}


def is_page(request: Request) -> bool:
    """A dashboard page (HTML errors), not a machine route."""
    path = request.url.path
    return not any(path == prefix.rstrip("/") or path.startswith(prefix) for prefix in MACHINE_PREFIXES)


def _page(request: Request, status_code: int, *, signed_in: bool = True) -> Response:
    title, message = PAGES.get(status_code, PAGES[404])
    return render_error(request, status_code, title, message, signed_in=signed_in)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not is_page(request) or exc.status_code not in PAGES:
        return await http_exception_handler(request, exc)
    response = _page(request, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)  # a 405's Allow
    return response


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not is_page(request):
        return await request_validation_exception_handler(request, exc)
    return _page(request, 422)


async def _server_error(request: Request, exc: Exception) -> Response:
    """Starlette logs the exception itself once this page is sent."""
    if not is_page(request):
        return PlainTextResponse("Internal Server Error", status_code=500)
    response = _page(request, 500, signed_in=False)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _server_error)
