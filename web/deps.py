"""Request-scoped helpers shared by the API and the dashboard: settings, sessions, how to queue a
patient's processing, the caller."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from scheduler.config.settings import Settings
from scheduler.fhir.navigators import NavigatorTable
from scheduler.patients.intake import QueueProcessing
from scheduler.staff.access import (
    Principal,
    WebSession,
    principal_for_session,
    principal_for_token,
    touch_session,
)

COOKIE = "gist_session"
MAX_ID = 2**63 - 1  # row ids are 64-bit: a larger one in a URL is a 404/422, not a database error


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def sessions_of(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


def enqueue_of(request: Request) -> QueueProcessing:
    enqueue: QueueProcessing = request.app.state.enqueue
    return enqueue


def navigators_of(request: Request) -> NavigatorTable | None:
    """The checked practitioner → navigator table of FHIR imports (None: none configured)."""
    table: NavigatorTable | None = request.app.state.fhir_navigators
    return table


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


# The OpenAPI document's security schemes: each route that depends on one lists it.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`gistsched user add` or `gistsched user token create` prints one): "
    "`Authorization: Bearer TOKEN`. Every /api route takes it.",
)
SESSION_COOKIE = APIKeyCookie(
    name=COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The dashboard's session cookie, set by signing in at /login: the GET routes take it "
    "too, so a signed-in browser can read them (writes need the bearer token: no CSRF token here).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
Cookie = Annotated[str | None, Depends(SESSION_COOKIE)]


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="a valid Authorization: Bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _token_principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal | None:
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        return None
    with sessions_of(request)() as session:
        return principal_for_token(session, token)


def api_principal(request: Request, credentials: Credentials) -> Principal:
    """``Authorization: Bearer TOKEN`` → the user; 401 otherwise (event-contract.md §4)."""
    principal = _token_principal(request, credentials)
    if principal is None:
        raise _unauthorized()
    _refuse_repeated_query(request)
    return principal


def api_reader(request: Request, credentials: Credentials, cookie: Cookie) -> Principal:
    """For reads: the bearer token's user; without a token, the signed-in dashboard user of the
    session cookie (one who must change their password first is not signed in here); 401 otherwise,
    and for a wrong token whatever the cookie."""
    principal = _token_principal(request, credentials)
    if principal is None and credentials is None and cookie:
        found = web_session(request)
        if found is not None and not found.must_change_password:
            principal = found.principal
    if principal is None:
        raise _unauthorized()
    _refuse_repeated_query(request)
    return principal


def _refuse_repeated_query(request: Request) -> None:
    """Every query parameter of the API takes one value: one given twice is a 422 naming it, not
    a silent choice of the last (checked once the caller is known, so a stranger gets a 401)."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise HTTPException(422, f"{name}: given more than once; give it once")
        seen.add(name)


def web_session(request: Request) -> WebSession | None:
    """The signed-in dashboard session of the cookie, or None (none, revoked, past its absolute
    expiry, or idle longer than ``session_idle_minutes``). A live session is marked as used."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    idle = dt.timedelta(minutes=settings_of(request).session_idle_minutes)
    with sessions_of(request).begin() as session:
        found = principal_for_session(session, cookie, idle=idle)
        if found is not None:
            touch_session(session, found)
        return found


ApiPrincipal = Annotated[Principal, Depends(api_principal)]
"""A write's caller: bearer token only."""
ApiReader = Annotated[Principal, Depends(api_reader)]
"""A read's caller: bearer token or dashboard session."""
