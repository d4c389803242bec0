"""Security review with tests (docs/security.md maps each control to its test).

On SQLite and PostgreSQL, one stored cohort per backend for the module:

* secrets at rest: after users, feeds and sign-ins exist, no API token, feed token, session cookie
  or password appears in clear in any column of any table; token and cookie lookups take one path
  (one query, one answer) whatever is wrong with the token;
* passwords: a legacy scrypt hash still signs in and is replaced by Argon2id on that sign-in;
* sessions and CSRF: cookie flags on every cookie the dashboard sets (Secure under an https base
  URL), sign-out revokes the session on the server (the old cookie is refused), expired sessions and
  deactivated users are refused, and every POST form route answers 403 to a missing, wrong or
  another session's CSRF token before it reads or writes anything;
* the dashboard's authorization matrix (navigator own/other patient, clinician, admin, signed out);
* SQL-injection strings in every text field (event fields, query and path parameters, the sign-in
  username, acknowledgement notes): no 500, tables intact, stored verbatim where accepted;
* the logs of a whole run (``gistsched worker``, ``clock`` and ``serve`` as processes, JSON logs,
  emails to an .eml folder, a browsing session) name no patient, email address, token or password.

Token entropy, hashing parameters and constant-time comparison are unit-tested in
tests/unit/test_tokens.py; the API's authorization matrix is in tests/integration/test_api.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.cookiejar
import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker
from models.rows import (
    AlertRow,
    AuditRow,
    Base,
    EventRow,
    FeedRow,
    PatientNoteRow,
    PatientRow,
    UserRow,
    WebSessionRow,
)
from models.types import utcnow
from scheduler.app.wiring import create_web_app
from scheduler.config.logs import EMAIL
from scheduler.config.settings import Settings
from scheduler.notifications.feeds import create_feed
from scheduler.notifications.sending import outbox_counts
from scheduler.patients.processing import process_patient
from scheduler.staff.tokens import token_digest, verify_password
from tests.support.common import (
    COHORT,
    GISTSCHED,
    cli_env,
    free_port,
    read_cohort,
    unprocessed_count,
    wait_until,
)
from tests.support.passwords import legacy_scrypt_hash
from tests.support.services import Database, stop_process_group
from tests.support.staff import AS_OF, PASSWORD, STAFF
from tests.support.stores import close_store, open_store
from web.dashboard import router as dashboard_router
from web.deps import COOKIE
from web.navigator import router as navigator_router

pytestmark = pytest.mark.integration

USERS: dict[str, tuple[str, str | None]] = STAFF | {
    "eve": ("navigator", "nav-ana"),  # signed in, signed out, expired and deactivated by the tests
    "lee": ("navigator", "nav-ana"),  # the legacy-hash user
    "gone": ("clinician", None),  # deactivated: its token is a revoked one
}
OWN = {"ana": "P05", "ben": "P02"}
NAMES = {"P05": "Aiko Tanaka", "P02": "Daniel Okafor"}
# NUL is no injection string but unstorable text: refused everywhere (test_nul_is_refused_everywhere).
INJECTIONS = ["' OR 1=1 --", '"; DROP TABLE events; --', "%", "_", "\\", "') OR ('1'='1"]
INJECTION_IDS = ["or-1-1", "drop-table", "percent", "underscore", "backslash", "paren-or"]


# ---- the site: one cohort per backend, signed-in browsers ------------------------------------------------


@dataclass
class Site:
    db: Database
    url: str
    folder: Path
    tokens: dict[str, str]
    app: FastAPI

    @property
    def backend(self) -> str:
        return self.db.backend

    def app_for(self, base_url: str) -> FastAPI:
        return make_app(self.db, self.url, self.folder, base_url)


def make_app(db: Database, url: str, folder: Path, base_url: str = "http://testserver") -> FastAPI:
    settings = Settings(env="test", database_url=url, data_dir=folder, as_of=AS_OF, base_url=base_url)
    return create_web_app(settings, db.sessions)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    backend: str = request.param
    folder = tmp_path_factory.mktemp(f"security-{backend}")
    postgres = request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    db, url, tokens = open_store(backend, folder, postgres, USERS)
    with db.sessions.begin() as session:
        session.execute(update(UserRow).where(UserRow.username == "gone").values(is_active=False))
    try:
        yield Site(db, url, folder, tokens, make_app(db, url, folder))
    finally:
        close_store(db, url, postgres)


@dataclass
class Browser:
    client: TestClient
    csrf: str
    cookie: str


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Browser:
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, (username, response.status_code)
    cookie = client.cookies.get(COOKIE)
    assert cookie
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert found
    return Browser(client, found.group(1), cookie)


@pytest.fixture(scope="module")
def browsers(site: Site) -> Iterator[dict[str | None, Browser]]:
    """ana, ben, cleo and ada signed in (one browser each), and a signed-out one (None)."""
    with contextlib.ExitStack() as stack:
        out: dict[str | None, Browser] = {}
        for username in ("ana", "ben", "cleo", "ada"):
            client = stack.enter_context(TestClient(site.app, raise_server_exceptions=False))
            out[username] = sign_in(client, username)
        anonymous = stack.enter_context(TestClient(site.app, raise_server_exceptions=False))
        out[None] = Browser(anonymous, "", "")
        yield out


class Queries:
    """The SELECT statements the engine runs inside the block (BEGIN and the like left out)."""

    def __init__(self, db: Database) -> None:
        self.db, self.selects = db, []

    def __enter__(self) -> Queries:
        event.listen(self.db.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.db.engine, "before_cursor_execute", self._note)

    def _note(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.selects.append(statement)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alert_of(db: Database, patient_id: str) -> int:
    with db.sessions() as session:
        found = session.scalar(select(AlertRow.id).where(AlertRow.patient_id == patient_id).limit(1))
    assert found is not None, f"{patient_id} has no alert"
    return found


def visit(csrf: str) -> dict[str, str]:
    return {"csrf_token": csrf, "form": "visit", "occurred_on": "2026-11-20", "kind": "clinic_visit"}


def all_text(db: Database) -> str:
    """Every value of every column of every table, as text."""
    parts: list[str] = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    parts.append(
                        json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
                    )
    return "\n".join(parts)


def assert_intact(db: Database) -> None:
    """Every table is there and the cohort with it: no injected statement ran."""
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert set(Base.metadata.tables) <= tables
    cohort_ids = {obj["event_id"] for obj in read_cohort()}
    with db.sessions() as session:
        stored = set(
            session.scalars(select(EventRow.event_id).where(EventRow.event_id.in_(sorted(cohort_ids))))
        )
        patients = set(session.scalars(select(PatientRow.patient_id)))
        users = set(session.scalars(select(UserRow.username)))
    assert stored == cohort_ids
    assert {f"P0{n}" for n in range(1, 9)} <= patients
    assert set(USERS) <= users


# ---- secrets at rest ---------------------------------------------------------------------------------


def test_no_token_cookie_or_password_is_stored_in_clear(
    site: Site, browsers: dict[str | None, Browser]
) -> None:
    with TestClient(site.app) as client:
        created = client.post("/api/patients/P05/feeds", headers=auth(site.tokens["cleo"]))
    feed_urls = [created.json()["url"], create_feed(site.db.sessions, "navigator", "nav-ana", "http://x").url]
    page = browsers["ana"].client.post("/patients/P05/feeds", data={"csrf_token": browsers["ana"].csrf})
    found = re.search(r'id="feed-url" value="([^"]+)"', page.text)
    assert found
    feed_urls.append(found.group(1))
    feed_tokens = [url.rsplit("/", 1)[1].removesuffix(".ics") for url in feed_urls]
    cookies = [browser.cookie for browser in browsers.values() if browser.cookie]
    secrets_ = {"API token": list(site.tokens.values()), "feed token": feed_tokens, "session cookie": cookies}
    assert all(len(token) >= 43 for values in secrets_.values() for token in values)

    dump = all_text(site.db)
    for kind, values in secrets_.items():
        for value in values:
            assert value not in dump, f"a {kind} is stored in clear"
            assert token_digest(value) in dump, f"the {kind}'s digest is not where it should be"
    for needle in (PASSWORD, PASSWORD.encode().hex(), PASSWORD.replace(" ", "+")):
        assert needle not in dump, "a password is stored in clear"
    with site.db.sessions() as session:
        hashes = session.scalars(select(UserRow.password_hash).where(UserRow.username != "lee")).all()
    assert hashes
    assert all(h.startswith("$argon2id$v=19$m=65536,t=3,p=4$") for h in hashes)


def test_a_bearer_token_is_looked_up_the_same_way_whatever_is_wrong_with_it(site: Site) -> None:
    """Wrong, revoked (deactivated user) and malformed tokens: the same 401 after the same one query."""
    with TestClient(site.app, raise_server_exceptions=False) as client:
        assert client.get("/api/me", headers=auth(site.tokens["cleo"])).status_code == 200
        candidates: list[str | bytes] = [
            site.tokens["gone"], site.tokens["cleo"][:-1], "A" * 43, "x", "A" * 5000, "' OR 1=1 --", "%", "_",
            "\\", "Bearer", "ü".encode().decode("latin-1"),
        ]  # fmt: skip
        answers = []
        for token in candidates:
            with Queries(site.db) as queries:
                response = client.get(
                    "/api/me", headers={"Authorization": f"Bearer {token}".encode("latin-1")}
                )
            answers.append((response.status_code, response.text, tuple(queries.selects)))
        assert {(status, body) for status, body, _ in answers} == {
            (401, '{"detail":"a valid Authorization: Bearer token is required"}')
        }, answers
        lookups = {selects for _, _, selects in answers}
        assert len(lookups) == 1, lookups  # the same statement for every token
        assert len(lookups.pop()) == 1  # one indexed lookup of the digest


def test_a_session_cookie_is_looked_up_the_same_way_whatever_is_wrong_with_it(site: Site) -> None:
    with TestClient(site.app, raise_server_exceptions=False) as client:
        eve = sign_in(client, "eve")
        client.post("/logout", data={"csrf_token": eve.csrf})
    with TestClient(site.app, raise_server_exceptions=False) as client:
        expired = sign_in(client, "eve").cookie
    with site.db.sessions.begin() as session:
        session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.token_hash == token_digest(expired))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    answers = []
    for cookie in (eve.cookie, expired, "A" * 43, "x", "A" * 4000, "'OR'1'='1", "%25", "_", "%00"):
        with TestClient(site.app, raise_server_exceptions=False) as client, Queries(site.db) as queries:
            response = client.get("/", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
        answers.append((response.status_code, response.headers.get("location"), tuple(queries.selects)))
    assert {(status, location) for status, location, _ in answers} == {(303, "/login")}, answers
    lookups = {selects for _, _, selects in answers}
    assert len(lookups) == 1, lookups
    assert len(lookups.pop()) == 1


# ---- passwords -----------------------------------------------------------------------------------------


def test_a_legacy_scrypt_hash_signs_in_once_and_is_upgraded_to_argon2id(site: Site) -> None:
    legacy = legacy_scrypt_hash(PASSWORD)
    with site.db.sessions.begin() as session:
        session.execute(update(UserRow).where(UserRow.username == "lee").values(password_hash=legacy))

    def stored_hash() -> str:
        with site.db.sessions() as session:
            found = session.scalar(select(UserRow.password_hash).where(UserRow.username == "lee"))
        assert found is not None
        return found

    with TestClient(site.app, raise_server_exceptions=False) as client:
        wrong = client.post("/login", data={"username": "lee", "password": "wrong horse battery"})
        assert wrong.status_code == 401
        assert stored_hash() == legacy  # a failed sign-in changes nothing
        sign_in(client, "lee")
    upgraded = stored_hash()
    assert upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(PASSWORD, upgraded)
    assert PASSWORD not in upgraded
    with TestClient(site.app, raise_server_exceptions=False) as client:
        sign_in(client, "lee")  # and signs in with the new hash
    assert stored_hash() == upgraded  # no rehash of a current hash


# ---- sessions and CSRF ---------------------------------------------------------------------------------


def cookie_flags(header: str) -> tuple[str, dict[str, str]]:
    name = header.split("=", 1)[0]
    flags = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        flags[key.lower()] = value
    return name, flags


@pytest.mark.parametrize("base_url", ["http://testserver", "https://gist.example.org"])
def test_every_cookie_is_http_only_lax_and_secure_under_https(site: Site, base_url: str) -> None:
    is_https = base_url.startswith("https")
    app = site.app_for(base_url)
    seen: list[str] = []
    with TestClient(app, base_url="https://testserver" if is_https else "http://testserver") as client:
        login = client.post("/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False)
        seen += login.headers.get_list("set-cookie")
        page = client.get("/patients/P05")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        saved = client.post("/patients/P05/events", data=visit(csrf.group(1)), follow_redirects=False)
        seen += saved.headers.get_list("set-cookie")
        flash_shown = client.get("/patients/P05")  # the flash cookie is deleted once shown
        seen += flash_shown.headers.get_list("set-cookie")
        logout = client.post("/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False)
        seen += logout.headers.get_list("set-cookie")
        if is_https:
            assert page.headers["strict-transport-security"].startswith("max-age=")
    names = {cookie_flags(header)[0] for header in seen}
    assert {COOKIE, "gist_flash"} <= names, seen
    for header in seen:
        flags = cookie_flags(header)[1]
        assert "httponly" in flags, header
        assert flags.get("samesite", "").lower() == "lax", header
        assert flags.get("path") == "/", header
        assert ("secure" in flags) == is_https, header


def test_sign_out_revokes_the_session_on_the_server(site: Site) -> None:
    with TestClient(site.app, raise_server_exceptions=False) as client:
        eve = sign_in(client, "eve")
        assert (
            client.post("/logout", data={"csrf_token": eve.csrf}, follow_redirects=False).status_code == 303
        )
    with site.db.sessions() as session:
        row = session.scalar(
            select(WebSessionRow).where(WebSessionRow.token_hash == token_digest(eve.cookie))
        )
    assert row is not None
    assert row.revoked_at is not None
    events = site.db.count(EventRow)
    with TestClient(site.app, raise_server_exceptions=False) as replay:  # the old cookie, replayed
        replay.cookies.set(COOKIE, eve.cookie)
        for path in ("/", "/patients/P05", "/patients/P05/print"):
            response = replay.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert urlsplit(response.headers["location"]).path == "/login"
        post = replay.post("/patients/P05/events", data=visit(eve.csrf), follow_redirects=False)
        assert post.status_code == 303
        assert urlsplit(post.headers["location"]).path == "/login"
    assert site.db.count(EventRow) == events


def test_expired_sessions_and_deactivated_users_are_refused(site: Site) -> None:
    with TestClient(site.app, raise_server_exceptions=False) as client:
        eve = sign_in(client, "eve")
        with site.db.sessions.begin() as session:
            session.execute(
                update(WebSessionRow)
                .where(WebSessionRow.token_hash == token_digest(eve.cookie))
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )
        assert client.get("/", follow_redirects=False).status_code == 303
        assert client.get("/patients/P05", follow_redirects=False).status_code == 303
        sign_in(client, "eve")  # a fresh session, then the user is deactivated
        with site.db.sessions.begin() as session:
            session.execute(update(UserRow).where(UserRow.username == "eve").values(is_active=False))
        try:
            assert client.get("/", follow_redirects=False).status_code == 303
            again = client.post(
                "/login", data={"username": "eve", "password": PASSWORD}, follow_redirects=False
            )
            assert again.status_code == 401
        finally:
            with site.db.sessions.begin() as session:
                session.execute(update(UserRow).where(UserRow.username == "eve").values(is_active=True))


FORM_ROUTES = {
    "/logout",
    "/patients/{patient_id}/events",
    "/patients/{patient_id}/notes",
    "/patients/{patient_id}/registration",
    "/patients/{patient_id}/end",
    "/patients/{patient_id}/feeds",
    "/patients/{patient_id}/feeds/{feed_id}/revoke",
    "/alerts/{alert_id}/acknowledge",
    "/account/password",
}


def test_the_form_routes_are_the_ones_the_csrf_test_covers(site: Site) -> None:
    """Every POST route outside the bearer-token API: the dashboard's routers and the app's own."""
    routes = [*dashboard_router.routes, *navigator_router.routes, *site.app.routes]
    posts = {r.path for r in routes if isinstance(r, APIRoute) and "POST" in r.methods}
    assert posts == FORM_ROUTES | {"/login"}  # sign-in has no session yet: it checks Origin instead


@pytest.mark.parametrize("how", ["missing", "empty", "wrong", "other-session", "in-query-string", "as-json"])
def test_every_post_form_route_refuses_a_bad_csrf_token_with_403(
    site: Site, browsers: dict[str | None, Browser], how: str
) -> None:
    ana, ben = browsers["ana"], browsers["ben"]
    alert = alert_of(site.db, "P05")
    feed = create_feed(site.db.sessions, "patient", "P05", "http://testserver")
    posts = {
        "/patients/P05/events": {"form": "visit", "occurred_on": "2026-11-20", "kind": "clinic_visit"},
        "/patients/P05/feeds": {},
        f"/patients/P05/feeds/{feed.id}/revoke": {},
        "/patients/P05/notes": {"kind": "note", "text": "forged"},
        "/patients/P05/registration": {"navigator_id": "nav-ben", "timezone": "UTC"},
        "/patients/P05/end": {"reason": "discharged", "occurred_on": "2026-11-20", "confirm": "yes"},
        f"/alerts/{alert}/acknowledge": {"note": "called the patient"},
        "/account/password": {
            "current_password": PASSWORD,
            "new_password": "x" * 12,
            "confirm_password": "x" * 12,
        },  # a bad token changes no password: ana signs in below as before
        "/logout": {},
    }
    with site.db.sessions() as session:
        before = session.get(AlertRow, alert)
        assert before is not None
        acknowledged = (before.acknowledged_at, before.acknowledgement_note)
    counts = site.db.count(EventRow), site.db.count(FeedRow), site.db.count(PatientNoteRow)
    for path, data in posts.items():
        token = {"missing": None, "empty": "", "wrong": ana.csrf[::-1], "other-session": ben.csrf,
                 "in-query-string": None, "as-json": None}[how]  # fmt: skip
        form = data if token is None else {**data, "csrf_token": token}
        if how == "in-query-string":
            response = ana.client.post(f"{path}?csrf_token={ana.csrf}", data=data, follow_redirects=False)
        elif how == "as-json":
            response = ana.client.post(path, json={**data, "csrf_token": ana.csrf}, follow_redirects=False)
        else:
            response = ana.client.post(path, data=form, follow_redirects=False)
        assert response.status_code == 403, (path, response.status_code)
    assert (site.db.count(EventRow), site.db.count(FeedRow), site.db.count(PatientNoteRow)) == counts
    with site.db.sessions() as session:
        after = session.get(AlertRow, alert)
        assert after is not None
        assert (after.acknowledged_at, after.acknowledgement_note) == acknowledged
        assert session.get_one(FeedRow, feed.id).revoked_at is None
    assert ana.client.get("/", follow_redirects=False).status_code == 200  # still signed in


# ---- the dashboard's authorization matrix ----------------------------------------------------------------

WHO = ["ana", "ben", "cleo", "ada", None]


def allowed(who: str | None, patient: str) -> bool | None:
    """True: may act; False: 404 (not theirs); None: signed out (sent to sign in)."""
    if who is None:
        return None
    return who not in OWN or OWN[who] == patient


@pytest.mark.parametrize("who", WHO, ids=[w or "signed-out" for w in WHO])
def test_matrix_worklist(site: Site, browsers: dict[str | None, Browser], who: str | None) -> None:
    response = browsers[who].client.get("/", follow_redirects=False)
    if who is None:
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        return
    assert response.status_code == 200
    listed = set(re.findall(r'href="/patients/(P\d\d)"', response.text))
    assert listed
    with site.db.sessions() as session:
        rows = session.execute(select(PatientRow.patient_id, PatientRow.navigator_id)).all()
    by_navigator = {navigator: {p for p, n in rows if n == navigator} for navigator in ("nav-ana", "nav-ben")}
    if who in OWN:
        theirs = by_navigator[USERS[who][1] or ""]
        assert listed <= theirs, listed - theirs
    else:  # clinicians and admins: both navigators' patients
        assert listed & by_navigator["nav-ana"]
        assert listed & by_navigator["nav-ben"]


ROUTES = ["page", "print", "event", "acknowledge", "feed", "note", "end", "status"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("patient", ["P05", "P02"])
@pytest.mark.parametrize("who", WHO, ids=[w or "signed-out" for w in WHO])
def test_matrix_patient_routes(
    site: Site, browsers: dict[str | None, Browser], who: str | None, patient: str, route: str
) -> None:
    browser, may = browsers[who], allowed(who, patient)
    client, csrf = browser.client, browser.csrf
    alert = alert_of(site.db, patient)
    counts = site.db.count(EventRow), site.db.count(FeedRow), site.db.count(PatientNoteRow)
    with site.db.sessions() as session:
        row = session.get(AlertRow, alert)
        assert row is not None
        ack_before = row.acknowledged_at
    note = f"seen by {who} {uuid.uuid4().hex[:6]}"
    if route == "page":
        response = client.get(f"/patients/{patient}", follow_redirects=False)
    elif route == "print":
        response = client.get(f"/patients/{patient}/print", follow_redirects=False)
    elif route == "event":
        response = client.post(f"/patients/{patient}/events", data=visit(csrf), follow_redirects=False)
    elif route == "acknowledge":
        data = {"csrf_token": csrf, "note": note}
        response = client.post(f"/alerts/{alert}/acknowledge", data=data, follow_redirects=False)
    elif route == "note":
        data = {"csrf_token": csrf, "kind": "call_no_answer", "text": note}
        response = client.post(f"/patients/{patient}/notes", data=data, follow_redirects=False)
    elif route == "end":
        data = {"csrf_token": csrf, "reason": "transferred", "occurred_on": "2026-11-20", "confirm": "yes"}
        response = client.post(f"/patients/{patient}/end", data=data, follow_redirects=False)
    elif route == "status":
        response = client.get(f"/patients/{patient}/status", follow_redirects=False)
    else:
        response = client.post(
            f"/patients/{patient}/feeds", data={"csrf_token": csrf}, follow_redirects=False
        )

    if route == "status":  # JSON for the page's script: 401 signed out, the same 404 as no patient
        assert response.status_code == {None: 401, False: 404, True: 200}[may]
        assert NAMES[patient] not in response.text
    elif may is None:
        assert response.status_code == 303
        assert urlsplit(response.headers["location"]).path == "/login"
    elif may is False:  # another navigator's patient: the 404 of a patient that does not exist
        assert response.status_code == 404
        assert NAMES[patient] not in response.text
        assert "no such" in response.text.lower()
    else:
        expected = {"page": 200, "print": 200, "event": 303, "acknowledge": 303, "feed": 303, "note": 303,
                    "end": 303}[route]  # fmt: skip
        assert response.status_code == expected, response.text[:300]
    assert site.db.count(EventRow) == counts[0] + int(may is True and route in ("event", "end"))
    assert site.db.count(FeedRow) == counts[1] + int(may is True and route == "feed")
    assert site.db.count(PatientNoteRow) == counts[2] + int(may is True and route == "note")
    with site.db.sessions() as session:
        row = session.get(AlertRow, alert)
        assert row is not None
        if route == "acknowledge" and may:
            assert (row.acknowledged_by, row.acknowledgement_note) == (who, note)
        else:
            assert row.acknowledged_at == ack_before


# ---- SQL injection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", INJECTIONS, ids=INJECTION_IDS)
def test_injection_strings_in_event_fields_are_stored_verbatim(site: Site, text: str) -> None:
    index = INJECTIONS.index(text)
    patient = f"SQLI{index}-{uuid.uuid4().hex[:6]}"

    def event(kind: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"event_id": f"{patient}-{kind}-{text}", "patient_id": patient, "type": type_,
                "occurred_on": "2026-11-20", "data": data}  # fmt: skip

    events = [
        event("reg", "patient_registered", {"name": text, "email": text, "navigator_id": text}),
        event("dx", "diagnosis", {"site": "stomach", "size_cm": 3}),
        event("mut", "mutation", {"gene": "KIT", "exon": 11, "variant": text}),
        event("met", "metastasis", {"sites": [text, "liver"]}),
        event("mdt", "mdt_review", {"decision": text}),
    ]
    with TestClient(site.app, raise_server_exceptions=False) as client:
        # patient_registered is for admins and integration accounts (test_registration_access.py)
        response = client.post("/api/events", json=events, headers=auth(site.tokens["ada"]))
        assert response.status_code == 202, response.text[:300]
        assert response.json()["accepted"] == len(events)
        process_patient(site.db.sessions, patient, AS_OF)
        with site.db.sessions() as session:
            stored = {row.event_id: row.payload for row in session.scalars(select(EventRow).where(
                EventRow.patient_id == patient))}  # fmt: skip
            row = session.get(PatientRow, patient)
        assert stored == {e["event_id"]: e for e in events}
        assert row is not None
        assert (row.name, row.email, row.navigator_id) == (text, text, text)
        record = client.get(f"/api/patients/{patient}/record", headers=auth(site.tokens["cleo"])).json()
        assert (record["name"], record["email"]) == (text, text)
        assert {e["event_id"] for e in record["events"]} == set(stored)
        as_id = client.post("/api/events", json=event("pid", "visit", {"kind": "clinic_visit"}) | {
            "patient_id": text}, headers=auth(site.tokens["cleo"]))  # fmt: skip
        valid_id = re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text) is not None
        assert as_id.status_code == (202 if valid_id else 422), as_id.text[:300]
    assert_intact(site.db)


@pytest.mark.parametrize("text", INJECTIONS, ids=INJECTION_IDS)
def test_injection_strings_in_query_parameters(
    site: Site, browsers: dict[str | None, Browser], text: str
) -> None:
    with TestClient(site.app, raise_server_exceptions=False) as client:
        worklist = client.get("/api/worklist", params={"kind": text}, headers=auth(site.tokens["cleo"]))
        assert worklist.status_code == 422, worklist.text[:300]  # not a reminder kind: never an empty list
        assert worklist.json()["detail"].startswith("kind: ")
        severity = client.get("/api/worklist", params={"severity": text}, headers=auth(site.tokens["cleo"]))
        assert severity.status_code == 422
        audit = client.get("/api/audit", params={"patient_id": text}, headers=auth(site.tokens["ada"]))
        assert audit.status_code == 200, audit.text[:300]
        assert all(line["patient_id"] == text for line in audit.json())  # never a wildcard match
    page = browsers["ana"].client.get("/", params={"kind": text, "severity": text})
    assert page.status_code == 200
    assert_intact(site.db)


@pytest.mark.parametrize("text", INJECTIONS, ids=INJECTION_IDS)
def test_injection_strings_in_path_parameters(
    site: Site, browsers: dict[str | None, Browser], text: str
) -> None:
    """A navigator's requests with the string as a patient id, alert id or feed token: 404 (or 422
    for an id that must be a number) — never another patient, never a 500."""
    ana = browsers["ana"]
    quoted = quote(text, safe="")
    events, feeds = site.db.count(EventRow), site.db.count(FeedRow)
    with TestClient(site.app, raise_server_exceptions=False) as client:
        token = auth(site.tokens["ana"])
        answers = {
            "api plan": client.get(f"/api/patients/{quoted}", headers=token).status_code,
            "api record": client.get(f"/api/patients/{quoted}/record", headers=token).status_code,
            "api feed": client.post(f"/api/patients/{quoted}/feeds", headers=token).status_code,
            "api ack": client.post(
                f"/api/alerts/{quoted}/acknowledge", json={"note": "x"}, headers=token
            ).status_code,
            "feed": client.get(f"/feeds/{quoted}.ics").status_code,
        }
    answers |= {
        "page": ana.client.get(f"/patients/{quoted}").status_code,
        "print": ana.client.get(f"/patients/{quoted}/print").status_code,
        "event": ana.client.post(f"/patients/{quoted}/events", data=visit(ana.csrf)).status_code,
        "feeds": ana.client.post(f"/patients/{quoted}/feeds", data={"csrf_token": ana.csrf}).status_code,
        "ack": ana.client.post(f"/alerts/{quoted}/acknowledge", data={"csrf_token": ana.csrf, "note": "x"},
                               follow_redirects=False).status_code,
    }  # fmt: skip
    expected = dict.fromkeys(answers, 404) | {"api ack": 422, "ack": 422}
    assert answers == expected
    assert (site.db.count(EventRow), site.db.count(FeedRow)) == (events, feeds)
    assert_intact(site.db)


@pytest.mark.parametrize("text", INJECTIONS, ids=INJECTION_IDS)
def test_injection_strings_as_the_sign_in_username(site: Site, text: str) -> None:
    attempt = f"{text}{uuid.uuid4().hex[:4]}"  # a fresh username: the rate limit is per username
    with TestClient(site.app, raise_server_exceptions=False) as client:
        response = client.post(
            "/login", data={"username": attempt, "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 401, response.status_code
        assert COOKIE not in response.headers.get("set-cookie", "")
        assert client.get("/", follow_redirects=False).status_code == 303
    with site.db.sessions() as session:
        failures = session.scalars(
            select(AuditRow.username).where(AuditRow.action == "sign_in_failed", AuditRow.username == attempt)
        ).all()
    assert failures == [attempt]  # recorded verbatim
    assert_intact(site.db)


@pytest.mark.parametrize("text", INJECTIONS, ids=INJECTION_IDS)
def test_injection_strings_as_acknowledgement_notes(
    site: Site, browsers: dict[str | None, Browser], text: str
) -> None:
    alert = alert_of(site.db, "P05")

    def note() -> str | None:
        with site.db.sessions() as session:
            row = session.get(AlertRow, alert)
            assert row is not None
            return row.acknowledgement_note

    with TestClient(site.app, raise_server_exceptions=False) as client:
        api = client.post(f"/api/alerts/{alert}/acknowledge", json={"note": f"api {text}"},
                          headers=auth(site.tokens["ana"]))  # fmt: skip
        assert api.status_code == 200, api.text[:300]
    assert note() == f"api {text}"
    ana = browsers["ana"]
    data = {"csrf_token": ana.csrf, "note": f"page {text}"}
    page = ana.client.post(f"/alerts/{alert}/acknowledge", data=data, follow_redirects=False)
    assert page.status_code == 303, page.status_code
    assert note() == f"page {text}"
    assert_intact(site.db)


def test_nul_is_refused_everywhere(site: Site, browsers: dict[str | None, Browser]) -> None:
    """NUL cannot be stored in PostgreSQL text and is no text anyway: refused with a 4xx at every
    door — events, URLs (path and query), the sign-in form, acknowledgement notes — and nothing
    changes."""
    alert = alert_of(site.db, "P05")
    with TestClient(site.app, raise_server_exceptions=False) as client:
        event = {"event_id": "nul\x00", "patient_id": "P05", "type": "visit", "occurred_on": "2026-11-20",
                 "data": {"kind": "clinic_visit"}}  # fmt: skip
        posted = client.post("/api/events", json=event, headers=auth(site.tokens["cleo"]))
        assert posted.status_code == 422
        assert "event_id" in posted.text
        for path in ("/api/patients/%00", "/api/worklist?kind=%00", "/patients/%00"):
            assert client.get(path, headers=auth(site.tokens["cleo"])).status_code == 400, path
        assert client.get("/feeds/%00.ics").status_code == 404  # a token is only hashed: like any wrong one
        signed = client.post(
            "/login", data={"username": "cleo\x00", "password": PASSWORD}, follow_redirects=False
        )
        assert signed.status_code == 401
        assert COOKIE not in signed.headers.get("set-cookie", "")
        ack = client.post(
            f"/api/alerts/{alert}/acknowledge", json={"note": "a\x00b"}, headers=auth(site.tokens["ana"])
        )
        assert ack.status_code == 422
    assert_intact(site.db)


# ---- the logs of a whole run ----------------------------------------------------------------------------


class Http:
    """A tiny browser over urllib (cookies kept, redirects not followed) for the served app."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def cookie(self, name: str) -> str:
        return next(c.value or "" for c in self.jar if c.name == name)

    def request(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as response:
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")
        except OSError:
            return 0, ""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def settled(sessions: sessionmaker[Session]) -> bool:
    """Every event processed and no email waiting to be sent."""
    with sessions() as session:
        waiting = outbox_counts(session)
    return unprocessed_count(sessions) == 0 and not any(
        waiting.get(s) for s in ("pending", "queued", "sending")
    )


def test_a_whole_run_logs_no_name_email_token_or_password(tmp_path: Path) -> None:
    """Worker, clock and web server as processes (JSON logs, embedded broker, SQLite, pinned date)
    over the example cohort, notifications to an .eml folder, a navigator browsing and writing: then
    every captured stream is scanned."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    mail = tmp_path / "mail"
    env = cli_env(
        f"sqlite:///{tmp_path / 'gist.sqlite3'}", tmp_path / "data",
        GIST_LOG_FORMAT="json", GIST_AS_OF=AS_OF.isoformat(), GIST_MAIL_FOLDER=str(mail), GIST_BASE_URL=base,
        GIST_CLOCK_INTERVAL_SECONDS="1", GIST_STALLED_AFTER_SECONDS="5", GIST_DIGEST_AT="00:00",
    )  # fmt: skip
    streams: dict[str, str] = {}

    def run(name: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(GISTSCHED), *args], env=env, input=stdin, capture_output=True, text=True,
                                timeout=180, check=False)  # fmt: skip
        streams[f"{name} stderr"] = result.stderr
        assert result.returncode == 0, (name, result.stderr[-2000:])
        return result

    run("db upgrade", "db", "upgrade")
    sessions = make_sessionmaker(make_engine(env["GIST_DATABASE_URL"]))
    passwords = {"ana": "ana's long passphrase 1", "ben": "ben's long passphrase 2"}
    tokens: dict[str, str] = {}
    wrong_token = f"wrong-{uuid.uuid4().hex}"
    for user, navigator in (("ana", "nav-ana"), ("ben", "nav-ben")):
        options = ["--role", "navigator", "--navigator-id", navigator, "--email", f"{user}@clinic.example"]
        added = run(f"user add {user}", "user", "add", user, *options, stdin=passwords[user] + "\n")
        tokens[user] = json.loads(added.stdout)["token"]

    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "clock", "serve")}
    commands = {
        "worker": ["worker", "--concurrency", "1", "--loglevel", "INFO"],
        "clock": ["clock", "--loglevel", "DEBUG"],
        "serve": ["serve", "--port", str(port), "--loglevel", "DEBUG"],
    }
    try:
        for name, args in commands.items():
            with logs[name].open("wb") as log:
                processes[name] = subprocess.Popen(
                    [str(GISTSCHED), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
        run("submit", "submit", str(COHORT), "--wait", "120")
        web = Http(base)
        wait_until(lambda: web.request("/healthz")[0] == 200, timeout=60, message="gistsched serve")
        wait_until(
            lambda: len(list(mail.glob("*.eml"))) >= 3, timeout=120, message="emails in the .eml folder"
        )

        assert web.request("/login", {"username": "ana", "password": "wrong " + passwords["ana"]})[0] == 401
        assert web.request("/login", {"username": "ana", "password": passwords["ana"]})[0] == 303
        cookie = web.cookie(COOKIE)
        status, page = web.request("/")
        assert status == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        for path in ("/patients/P01", "/patients/P01/print", "/patients/P05", "/patients/P07", "/?kind=ct"):
            assert web.request(path)[0] == 200, path
        assert web.request("/patients/P02")[0] == 404
        saved = web.request("/patients/P05/events", visit(csrf.group(1)))
        assert saved[0] == 303
        assert web.request("/patients/P05/feeds", {"csrf_token": csrf.group(1)})[0] == 303
        status, page = web.request("/patients/P05")  # where the creation redirects: the URL, once
        assert status == 200
        feed_url = re.search(r'id="feed-url" value="([^"]+)"', page)
        assert feed_url
        feed_token = feed_url.group(1).rsplit("/", 1)[1].removesuffix(".ics")
        assert web.request(urlsplit(feed_url.group(1)).path)[0] == 200
        assert web.request(f"/feeds/{feed_token[::-1]}.ics")[0] == 404  # a guess: logged redacted too
        api = Http(base)
        assert api.request("/api/patients/P01/record", headers=auth(tokens["ana"]))[0] == 200
        assert api.request("/api/me", headers=auth(wrong_token))[0] == 401
        assert api.request("/api/me", headers=auth(tokens["ben"]))[0] == 200
        assert web.request("/logout", {"csrf_token": csrf.group(1)})[0] == 303
        wait_until(
            lambda: settled(sessions), timeout=120, message="the new event processed, the outbox empty"
        )
    finally:
        for process in processes.values():
            stop_process_group(process, timeout=20)
    for name, path in logs.items():
        streams[name] = path.read_text(encoding="utf-8", errors="replace")

    served = [json.loads(line) for line in streams["serve"].splitlines() if line.startswith("{")]
    assert any("/patients/P01 200" in entry["message"] for entry in served), streams["serve"][-2000:]
    assert any("/feeds/<token>.ics 200" in entry["message"] for entry in served)
    assert "notifications.send" in streams["worker"]

    cohort = read_cohort()
    people = [obj["data"] for obj in cohort if obj["type"] == "patient_registered"]
    names = {person["name"] for person in people} | {
        part for person in people for part in person["name"].split() if len(part) >= 4
    }
    emails = {person["email"] for person in people} | {"ana@clinic.example", "ben@clinic.example"}
    secrets_ = {
        "feed token": feed_token,
        "guessed feed token": feed_token[::-1],
        "session cookie": cookie,
        "wrong API token": wrong_token,
        **{f"{u}'s API token": t for u, t in tokens.items()},
    }
    assert names
    for stream, text in streams.items():
        for name in sorted(names):
            assert name not in text, f"{stream} names a patient ({name!r})"
        for email in emails:
            assert email not in text, f"{stream} holds an email address ({email})"
        assert not EMAIL.search(text), f"{stream} holds an email address: {EMAIL.search(text)}"
        for what, value in secrets_.items():
            assert value not in text, f"{stream} holds a {what}"
        for user, password in passwords.items():
            assert password not in text, f"{stream} holds {user}'s password"
