"""The OpenAPI document's shared parts and the interactive API page.

* The error answers a route can give (:func:`problem`, :data:`COMMON_RESPONSES`, :func:`refused`):
  each route lists those it can give, so a client — and the property-based test validating every
  answer against the document — knows every status it may get.
* :func:`install` adds the typed request body of ``POST /api/events`` to the document's components
  and serves ``/api/docs``: Swagger UI from the assets the ``fastapi-offline`` package ships (no
  CDN: a clinic's network may have no Internet), started by a script of ours (the CSP allows no
  inline script), reading ``/api/openapi.json``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from web.api_models import EVENTS_BODY, Problem, Refused

DOCS_URL = "/api/docs"
ASSETS = Path(str(files("fastapi_offline") / "static"))  # swagger-ui-bundle.js, swagger-ui.css
PAGE = Path(__file__).parent / "api_docs"
SCHEMAS = "#/components/schemas/{model}"
UNAUTHORIZED_HEADERS = {
    "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}},
}


def problem(description: str) -> dict[str, Any]:
    """One documented error answer of a route: ``{"detail": "…"}``."""
    return {"model": Problem, "description": description}


def refused(description: str) -> dict[str, Any]:
    """A 422: the request validator's list of problems, or the route's own sentence."""
    return {"model": Refused, "description": description}


# What any route may answer besides its own results.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "a NUL character in the URL (plain text, refused before any route), or a body "
        "that is not JSON where the route reads JSON",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}},
        },
    },
    401: {
        "model": Problem,
        "description": "no valid credentials: a bearer token (or, for reads, a dashboard session)",
        "headers": UNAUTHORIZED_HEADERS,
    },
    422: refused("a parameter given twice, out of range or of the wrong type; `detail` names it"),
}
NO_NUL = r"^[^\x00]*$"  # a NUL in the URL is a 400 before any route: no valid value has one
NOT_FOUND = problem("no such patient, or not one of the navigator's (the same answer for both)")
INVALID = refused("a parameter given twice, out of range or of the wrong type; `detail` names it")
ADMINS_ONLY = problem("the caller is not an admin")

EVENTS_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "an event of event-contract.md §1, or a list of 1–5,000 of them",
        "content": {"application/json": {"schema": {}}},  # filled in by openapi_document
    }
}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the event models as components and the events body referring to
    them (the route reads its body itself, so FastAPI does not know its type)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            openapi_version=app.openapi_version,
        )
        body = EVENTS_BODY.json_schema(ref_template=SCHEMAS)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs"))
        operation = document["paths"]["/api/events"]["post"]
        operation["requestBody"]["content"]["application/json"]["schema"] = body
        app.openapi_schema = document
    return app.openapi_schema


def install(app: FastAPI) -> None:
    """The document's customisation and the ``/api/docs`` page with its assets."""
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.mount(f"{DOCS_URL}/assets", StaticFiles(directory=ASSETS), name="api-docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> FileResponse:
        return FileResponse(PAGE / "index.html", media_type="text/html; charset=utf-8")

    @app.get(f"{DOCS_URL}/start.js", include_in_schema=False)
    def api_docs_script() -> FileResponse:
        return FileResponse(PAGE / "start.js", media_type="text/javascript; charset=utf-8")
