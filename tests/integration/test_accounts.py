"""Account lifecycle and access controls (docs/security.md), on SQLite and PostgreSQL.

* sign-in throttling per (username, client address): five failures from one address slow that
  address down (exponential backoff) but never lock the user out from their own; the throttle
  runs the same statements whether or not the user exists; an admin's unlock starts it again;
* the idle session timeout beside the absolute one;
* API tokens: expiry, revoke, rotate, and a disabled user's tokens and sessions;
* password reset: a one-time password that must be changed at the next sign-in;
* every change in the audit trail, and ``gistsched submit`` too;
* ``/metrics`` behind its allow-list or token; the worklist's ``kind`` validated.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from models.rows import ApiTokenRow, AuditRow, WebSessionRow
from models.types import utcnow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.staff.access import MAX_FAILURES, backoff
from scheduler.staff.users import create_token, create_user, list_tokens, reset_password, set_active, unlock
from tests.support.common import cli_env, gistsched, write_jsonl
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD

pytestmark = pytest.mark.integration

HOME, ATTACKER = ("10.0.0.7", 40000), ("203.0.113.9", 40000)


def settings_for(db: Database, tmp_path: Path, **extra: object) -> Settings:
    return Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF, **extra)  # type: ignore[arg-type]


@pytest.fixture
def app(db: Database, tmp_path: Path) -> FastAPI:
    create_user(db.sessions, "ana", "navigator", PASSWORD, navigator_id="nav-ana")
    create_user(db.sessions, "ada", "admin", PASSWORD)
    return create_web_app(settings_for(db, tmp_path), db.sessions)


def browser(app: FastAPI, address: tuple[str, int] = HOME) -> TestClient:
    return TestClient(app, client=address, raise_server_exceptions=False)


def login(client: TestClient, username: str, password: str) -> int:
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    return response.status_code


def audit_lines(db: Database, action: str) -> list[AuditRow]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)))


def age_audit(db: Database, by: dt.timedelta) -> None:
    with db.sessions.begin() as session:
        for row in session.scalars(select(AuditRow)):
            row.at -= by


# ---- throttling -------------------------------------------------------------------------------------


def test_failures_from_one_address_do_not_lock_the_user_out_from_another(app: FastAPI) -> None:
    with browser(app, ATTACKER) as attacker, browser(app, HOME) as home:
        for _ in range(MAX_FAILURES):
            assert login(attacker, "ana", "wrong password") == 401
        assert login(attacker, "ana", "wrong password") == 429
        assert login(attacker, "ana", PASSWORD) == 429  # the attacker's address waits, right or wrong
        assert login(home, "ana", PASSWORD) == 303  # ana, from her own address, is not locked out


def test_the_wait_doubles_with_each_further_failure_and_ends(app: FastAPI, db: Database) -> None:
    assert [backoff(n).total_seconds() for n in range(MAX_FAILURES - 1, MAX_FAILURES + 6)] == [
        0, 30, 60, 120, 240, 480, 900,
    ]  # fmt: skip
    assert backoff(100) == dt.timedelta(minutes=15)
    with browser(app, ATTACKER) as attacker:
        for _ in range(MAX_FAILURES):
            login(attacker, "ana", "wrong password")
        refused = attacker.post("/login", data={"username": "ana", "password": PASSWORD})
        assert refused.status_code == 429
        assert "30 seconds" in refused.text
        age_audit(db, dt.timedelta(seconds=31))  # the wait is over: one more try
        assert login(attacker, "ana", "wrong password") == 401
        assert "60 seconds" in attacker.post("/login", data={"username": "ana", "password": "x"}).text
        age_audit(db, dt.timedelta(seconds=61))
        assert login(attacker, "ana", PASSWORD) == 303


def test_an_admins_unlock_ends_the_wait(app: FastAPI, db: Database) -> None:
    with browser(app, HOME) as home:
        for _ in range(MAX_FAILURES):
            login(home, "ana", "wrong password")
        assert login(home, "ana", PASSWORD) == 429
        unlock(db.sessions, "ana")
        assert login(home, "ana", PASSWORD) == 303
    [line] = audit_lines(db, "user_unlock")
    assert (line.username, line.subject) == ("cli", "ana")


def test_the_throttle_runs_the_same_statements_for_a_known_and_an_unknown_user(
    app: FastAPI, db: Database
) -> None:
    """No timing oracle: the throttle reads the trail the same way whoever is named, and an
    unknown user's password is verified against a dummy hash (the same work)."""
    seen: dict[str, list[str]] = {}

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.setdefault(current, []).append(re.sub(r"\s+", " ", statement))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with browser(app) as client:
            for current in ("ana", "nobody-at-all"):
                assert login(client, current, "wrong password") == 401
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert seen["ana"] == seen["nobody-at-all"]


# ---- sessions ---------------------------------------------------------------------------------------


def test_an_idle_session_ends_after_the_idle_timeout(db: Database, tmp_path: Path) -> None:
    create_user(db.sessions, "ana", "navigator", PASSWORD, navigator_id="nav-ana")
    app = create_web_app(settings_for(db, tmp_path, session_idle_minutes=30), db.sessions)
    with browser(app) as client:
        assert login(client, "ana", PASSWORD) == 303
        assert client.get("/", follow_redirects=False).status_code == 200
        with db.sessions.begin() as session:  # 29 minutes without a request: still signed in
            session.execute(update(WebSessionRow).values(last_seen_at=utcnow() - dt.timedelta(minutes=29)))
        assert client.get("/", follow_redirects=False).status_code == 200
        with db.sessions.begin() as session:  # that request counted; now 31 idle minutes
            session.execute(update(WebSessionRow).values(last_seen_at=utcnow() - dt.timedelta(minutes=31)))
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"


# ---- tokens -----------------------------------------------------------------------------------------


def me(client: TestClient, token: str) -> int:
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_tokens_expire_are_revoked_and_rotated(app: FastAPI, db: Database) -> None:
    first = create_user(db.sessions, "feed", "integration", PASSWORD, token_days=30)
    token_id, second, expires = create_token(db.sessions, "feed", 7)
    assert expires is not None
    assert dt.timedelta(days=6) < expires - utcnow() <= dt.timedelta(days=7)
    with browser(app) as client:
        assert me(client, first.token) == me(client, second) == 200
        with db.sessions.begin() as session:
            session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == token_id)
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )
        assert me(client, second) == 401  # expired
        result = gistsched("token", "rotate", str(first.token_id), env=cli_env(db.url, Path(".")))
        assert result.returncode == 0, result.stderr
        rotated = json.loads(result.stdout)
        assert me(client, first.token) == 401
        assert me(client, rotated["token"]) == 200
        assert (
            gistsched("token", "revoke", str(rotated["id"]), env=cli_env(db.url, Path("."))).returncode == 0
        )
        assert me(client, rotated["token"]) == 401
    statuses = {t["id"]: t["status"] for t in list_tokens(db.sessions, "feed")}
    assert statuses == {first.token_id: "revoked", token_id: "expired", rotated["id"]: "revoked"}
    actions = [
        (line.action, line.subject)
        for line in audit_lines(db, "token_rotate") + audit_lines(db, "token_revoke")
    ]
    assert actions == [("token_rotate", "feed"), ("token_revoke", "feed")]


def test_a_disabled_user_loses_sessions_and_tokens_until_enabled(app: FastAPI, db: Database) -> None:
    token = create_token(db.sessions, "ana", None)[1]
    with browser(app) as client:
        assert login(client, "ana", PASSWORD) == 303
        set_active(db.sessions, "ana", False)
        assert client.get("/", follow_redirects=False).status_code == 303
        assert me(client, token) == 401
        assert login(client, "ana", PASSWORD) == 401
        set_active(db.sessions, "ana", True)
        assert me(client, token) == 200
        assert login(client, "ana", PASSWORD) == 303
    assert [line.subject for line in audit_lines(db, "user_disable") + audit_lines(db, "user_enable")] == [
        "ana",
        "ana",
    ]


# ---- password reset -------------------------------------------------------------------------------


def test_a_reset_password_works_once_and_must_be_changed(app: FastAPI, db: Database, tmp_path: Path) -> None:
    result = gistsched("user", "reset-password", "ana", env=cli_env(db.url, tmp_path))
    assert result.returncode == 0, result.stderr
    one_time = json.loads(result.stdout)["one_time_password"]
    with browser(app) as client:
        assert login(client, "ana", PASSWORD) == 401  # the old password is gone
        signed = client.post("/login", data={"username": "ana", "password": one_time}, follow_redirects=False)
        assert signed.headers["location"] == "/account/password"
        for path in ("/", "/patients/P01", "/unassigned"):
            assert client.get(path, follow_redirects=False).headers["location"] == "/account/password"
        page = client.get("/account/password")
        assert "An admin reset your password" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        form = {"csrf_token": csrf.group(1), "current_password": one_time}
        short = client.post(
            "/account/password", data=form | {"new_password": "short", "confirm_password": "short"}
        )
        assert short.status_code == 422
        new = "a brand new passphrase"
        done = client.post("/account/password", data=form | {"new_password": new, "confirm_password": new},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        assert client.get("/", follow_redirects=False).status_code == 200
    with browser(app) as fresh:
        assert login(fresh, "ana", one_time) == 401
        assert login(fresh, "ana", new) == 303
    assert [line.subject for line in audit_lines(db, "password_reset")] == ["ana"]
    assert [line.username for line in audit_lines(db, "password_change")] == ["ana"]


def test_reset_password_ends_open_sessions(app: FastAPI, db: Database) -> None:
    with browser(app) as client:
        assert login(client, "ana", PASSWORD) == 303
        reset_password(db.sessions, "ana")
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_user_commands_name_a_missing_user_and_list_without_secrets(db: Database, tmp_path: Path) -> None:
    create_user(db.sessions, "ana", "navigator", PASSWORD, navigator_id="nav-ana")
    env = cli_env(db.url, tmp_path)
    for args in (("user", "disable", "nobody"), ("user", "unlock", "nobody"), ("token", "revoke", "999")):
        result = gistsched(*args, env=env)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr, result.stderr
        assert "nobody" in result.stderr or "999" in result.stderr
    listing = gistsched("user", "list", env=env)
    assert listing.returncode == 0
    [ana] = [json.loads(line) for line in listing.stdout.splitlines()]
    assert ana["username"] == "ana"
    assert ana["live_tokens"] == 1
    assert "token" not in ana
    assert "password_hash" not in listing.stdout


def test_events_submitted_through_the_cli_are_audited(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            {
                "event_id": "C1",
                "patient_id": "P70",
                "type": "diagnosis",
                "occurred_on": "2026-10-01",
                "data": {"site": "stomach", "size_cm": 3},
            }
        ],
    )
    result = gistsched("submit", str(path), env=cli_env(db.url, tmp_path, GIST_AS_OF=AS_OF.isoformat()))
    assert result.returncode == 0, result.stderr
    [line] = audit_lines(db, "submit_events")
    assert (line.username, line.patient_id) == ("cli", "P70")


# ---- metrics, settings, query validation --------------------------------------------------------


def test_metrics_answer_the_allow_list_or_the_token_only(db: Database, tmp_path: Path) -> None:
    token = "m" * 32
    app = create_web_app(
        settings_for(db, tmp_path, metrics_allow="10.1.0.0/16", metrics_token=token), db.sessions
    )
    with browser(app, ("10.1.2.3", 1)) as inside, browser(app, ATTACKER) as outside:
        assert inside.get("/metrics").status_code == 200
        assert outside.get("/metrics").status_code == 403
        assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert outside.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    default = create_web_app(settings_for(db, tmp_path), db.sessions)
    with browser(default, ("127.0.0.1", 1)) as local, browser(default, HOME) as remote:
        assert local.get("/metrics").status_code == 200
        assert remote.get("/metrics").status_code == 403


def test_production_refuses_an_http_base_url_and_a_bad_allow_list() -> None:
    production = {
        "env": "production",
        "database_url": "postgresql://x@db/gist",
        "broker_url": "redis://redis:6379/0",
        "smtp_url": "smtp://mail:25",
    }
    with pytest.raises(ValueError, match="GIST_BASE_URL: must start with https://"):
        Settings(**production, base_url="http://gist.example.org")  # type: ignore[arg-type]
    assert Settings(**production, base_url="https://gist.example.org").base_url  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="GIST_METRICS_ALLOW"):
        Settings(metrics_allow="10.0.0.0/8, not-an-address")


@pytest.fixture
def api(app: FastAPI, db: Database) -> Iterator[tuple[TestClient, str]]:
    token = create_token(db.sessions, "ada", None)[1]
    with browser(app) as client:
        yield client, token


@pytest.mark.parametrize("kind", ["' OR '1'='1", "CT", "scan", "ct "])
def test_an_unknown_worklist_kind_is_a_422_naming_the_field(api: tuple[TestClient, str], kind: str) -> None:
    client, token = api
    response = client.get(
        "/api/worklist", params={"kind": kind}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("kind: ")
    ok = client.get("/api/worklist", params={"kind": "ct"}, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
