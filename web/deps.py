"""Request-scoped helpers shared by the API and the dashboard: settings, sessions, how to queue a
patient's processing, the caller."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from scheduler.config.settings import Settings
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


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def api_principal(request: Request) -> Principal:
    """``Authorization: Bearer TOKEN`` → the user; 401 otherwise (event-contract.md §4)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        with sessions_of(request)() as session:
            principal = principal_for_token(session, token.strip())
        if principal is not None:
            return principal
    raise HTTPException(
        status_code=401,
        detail="a valid Authorization: Bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


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
