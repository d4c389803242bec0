"""Calendar feeds and access commands against a real database (SQLite and PostgreSQL): ``gistsched
user add`` and ``feed create/revoke`` as processes, ``GET /feeds/{token}.ics`` through the FastAPI
app, the feed parsed by icalendar and by recurring-ical-events."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icalendar
import pytest
import recurring_ical_events
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from models.rows import Base, FeedRow, UserRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.patients.processing import process_patient
from tests.support.cohort import store_cohort
from tests.support.common import (
    GISTSCHED,
    assert_cli_error,
    cli_env,
    gistsched,
    intake,
)
from tests.support.services import Database
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

BASE = "https://gist.example.org"
CLINICAL = re.compile(
    r"\b(gist|tumou?r|cancer|imatinib|sunitinib|regorafenib|ripretinib|avapritinib|liver|alt|ct|mri|eus|"
    r"echo\w*|mutation|kit|pdgfra|metasta\w*|progress\w*|biopsy|mdt|lab_\w+)\b",
    re.IGNORECASE,
)


@pytest.fixture
def stored(db: Database) -> Database:
    """The example cohort stored and planned as of AS_OF."""
    return store_cohort(db)


def settings_for(db: Database, tmp_path: Path, as_of: dt.date = AS_OF) -> Settings:
    return Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=as_of, base_url=BASE)


@pytest.fixture
def client(stored: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_web_app(settings_for(stored, tmp_path), stored.sessions)) as test_client:
        yield test_client


def env(db: Database, tmp_path: Path, **extra: str) -> dict[str, str]:
    return cli_env(db.url, tmp_path, GIST_BASE_URL=BASE, GIST_AS_OF=AS_OF.isoformat(), **extra)


def create(db: Database, tmp_path: Path, *args: str) -> dict[str, str]:
    result = gistsched("feed", "create", *args, env=env(db, tmp_path))
    assert result.returncode == 0, result.stderr
    created: dict[str, str] = json.loads(result.stdout)
    return created


def path_of(url: str) -> str:
    assert url.startswith(BASE + "/feeds/")
    assert url.endswith(".ics")
    return url.removeprefix(BASE)


def events_of(body: bytes) -> list[Any]:
    calendar = icalendar.Calendar.from_ical(body)
    return list(calendar.walk("VEVENT"))


# ---- feed create / revoke --------------------------------------------------------------------------


def test_feed_create_prints_a_url_with_a_strong_token_stored_only_as_a_digest(
    stored: Database, tmp_path: Path
) -> None:
    created = create(stored, tmp_path, "--patient", "P01")
    token = path_of(created["url"]).removeprefix("/feeds/").removesuffix(".ics")
    assert len(token) >= 43  # 32 random bytes, URL-safe base64 (≥ 128 bits asked)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    with stored.sessions() as session:
        rows = session.scalars(select(FeedRow)).all()
        users = session.scalars(select(UserRow)).all()
    assert [r.id for r in rows] == [created["id"]]
    dumped = json.dumps(
        [{c.name: str(getattr(r, c.name)) for c in Base.metadata.tables["feeds"].columns} for r in rows]
    )
    assert token not in dumped
    assert users == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--patient", "P99"), "--patient"),
        (("--navigator", "nav-nobody"), "--navigator"),
    ],
)
def test_feed_create_refuses_unknown_subjects(
    stored: Database, tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    assert_cli_error(gistsched("feed", "create", *args, env=env(stored, tmp_path)), named)


def test_feed_create_needs_exactly_one_subject(stored: Database, tmp_path: Path) -> None:
    result = gistsched(
        "feed", "create", "--patient", "P01", "--navigator", "nav-ana", env=env(stored, tmp_path)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_revoke_unknown_feed_is_an_error(stored: Database, tmp_path: Path) -> None:
    assert_cli_error(gistsched("feed", "revoke", "feed_nope", env=env(stored, tmp_path)), "ID")


# ---- user add -------------------------------------------------------------------------------------


def user_add(
    db: Database, tmp_path: Path, *args: str, password: str = "correct horse battery"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GISTSCHED), "user", "add", *args], env=env(db, tmp_path), input=password + "\n",
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_user_add_prints_a_token_and_stores_only_hashes(db: Database, tmp_path: Path) -> None:
    result = user_add(
        db,
        tmp_path,
        "ana",
        "--role",
        "navigator",
        "--navigator-id",
        "nav-ana",
        "--email",
        "ana@clinic.example",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["username"] == "ana"
    assert len(out["token"]) >= 43
    with db.sessions() as session:
        user = session.scalars(select(UserRow)).one()
    assert (user.role, user.navigator_id, user.email) == ("navigator", "nav-ana", "ana@clinic.example")
    assert out["token"] not in (user.token_hash, user.password_hash)
    assert "correct horse" not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert_cli_error(user_add(db, tmp_path, "ana", "--role", "admin"), "USERNAME")


@pytest.mark.parametrize(
    ("args", "password", "named"),
    [
        (("bob", "--role", "wizard"), "correct horse battery", "--role"),
        (("bob", "--role", "navigator"), "correct horse battery", "--navigator-id"),
        (("bob", "--role", "admin", "--email", "not-an-address"), "correct horse battery", "--email"),
        (("bob", "--role", "admin"), "short", "password"),
        (("b o b", "--role", "admin"), "correct horse battery", "USERNAME"),
    ],
)
def test_user_add_refuses_bad_input(
    db: Database, tmp_path: Path, args: tuple[str, ...], password: str, named: str
) -> None:
    assert_cli_error(user_add(db, tmp_path, *args, password=password), named)
    with db.sessions() as session:
        assert session.scalars(select(UserRow)).all() == []


# ---- GET /feeds/{token}.ics -------------------------------------------------------------------------


def test_patient_feed_is_a_valid_phi_minimal_calendar(
    stored: Database, tmp_path: Path, client: TestClient
) -> None:
    url = create(stored, tmp_path, "--patient", "P01")["url"]
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["etag"]
    body = response.content
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT12H\r\n" in body
    assert b"X-PUBLISHED-TTL:PT12H\r\n" in body
    assert b"METHOD:PUBLISH\r\n" in body
    events = events_of(body)
    assert events
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    for e in events:
        summary = str(e["SUMMARY"])
        assert not CLINICAL.search(summary), summary
        assert "Maria" not in summary
    assert b"Maria" not in body
    assert b"Santos" not in body
    calendar = icalendar.Calendar.from_ical(body)  # the independent parser finds them on their days
    found = recurring_ical_events.of(calendar).between(dt.date(2020, 1, 1), dt.date(2030, 1, 1))
    assert sorted(str(e["UID"]) for e in found) == sorted(uids)


def test_navigator_feed_names_patients_by_code_only(
    stored: Database, tmp_path: Path, client: TestClient
) -> None:
    url = create(stored, tmp_path, "--navigator", "nav-ana")["url"]
    events = events_of(client.get(path_of(url)).content)
    summaries = {str(e["SUMMARY"]) for e in events}
    assert summaries
    # "<kind> · <patient code>", and "(overdue since <date>)" on an item after missed ones
    pattern = r"[A-Za-z ]+ · P\d\d( \(overdue since \d{4}-\d\d-\d\d\))?"
    assert all(re.fullmatch(pattern, s) for s in summaries), summaries
    assert not any(CLINICAL.search(s) for s in summaries)


def test_etag_answers_304_and_changes_with_the_plan(
    stored: Database, tmp_path: Path, client: TestClient
) -> None:
    path = path_of(create(stored, tmp_path, "--patient", "P01")["url"])
    first = client.get(path)
    etag = first.headers["etag"]
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200

    process_patient(stored.sessions, "P01", AS_OF, force=True)  # recomputation alone changes nothing
    again = client.get(path)
    assert again.headers["etag"] == etag
    assert again.content == first.content

    before = {str(e["UID"]): e for e in events_of(first.content)}
    late_scan = {
        "event_id": "P01-late-eus", "patient_id": "P01", "type": "imaging", "occurred_on": "2026-11-20",
        "data": {"modality": "eus", "result": "stable"},
    }  # fmt: skip
    intake(stored.sessions, [late_scan], AS_OF)
    process_patient(stored.sessions, "P01", AS_OF)
    moved = client.get(path, headers={"If-None-Match": etag})
    assert moved.status_code == 200
    assert moved.headers["etag"] != etag
    after = {str(e["UID"]): e for e in events_of(moved.content)}
    shifted = [
        uid for uid, e in after.items()
        if uid in before and e.decoded("DTSTART") != before[uid].decoded("DTSTART")
    ]  # fmt: skip
    assert shifted, "the late scan moved no date"
    for uid in shifted:
        assert int(after[uid]["SEQUENCE"]) > int(before[uid]["SEQUENCE"])
    assert set(before) <= set(after) | {u for u in before if str(before[u]["STATUS"]) == "CANCELLED"}


def test_cancelled_items_stay_30_days_then_go(stored: Database, tmp_path: Path) -> None:
    path = path_of(create(stored, tmp_path, "--patient", "P01")["url"])
    ended = {
        "event_id": "P01-ended", "patient_id": "P01", "type": "follow_up_ended", "occurred_on": "2026-11-27",
        "data": {"reason": "transferred"},
    }  # fmt: skip
    intake(stored.sessions, [ended], AS_OF)
    process_patient(stored.sessions, "P01", AS_OF)
    for days, expect_cancelled in ((0, True), (30, True), (31, False)):
        settings = settings_for(stored, tmp_path, AS_OF + dt.timedelta(days=days))
        with TestClient(create_web_app(settings, stored.sessions)) as test_client:
            events = events_of(test_client.get(path).content)
        cancelled = [e for e in events if str(e["STATUS"]) == "CANCELLED"]
        assert bool(cancelled) == expect_cancelled, days
        assert all("VALARM" not in [c.name for c in e.subcomponents] for e in cancelled)


class Statements:
    def __init__(self, db: Database) -> None:
        self.db, self.count = db, 0

    def __enter__(self) -> Statements:
        event.listen(self.db.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.db.engine, "before_cursor_execute", self._note)

    def _note(self, *args: object) -> None:
        self.count += 1


def test_wrong_revoked_and_malformed_tokens_all_404_alike(
    stored: Database, tmp_path: Path, client: TestClient
) -> None:
    live = create(stored, tmp_path, "--patient", "P01")
    revoked = create(stored, tmp_path, "--patient", "P01")
    result = gistsched("feed", "revoke", revoked["id"], env=env(stored, tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"id": revoked["id"], "revoked": True}
    assert client.get(path_of(live["url"])).status_code == 200
    wrong = "/feeds/" + "A" * 43 + ".ics"
    malformed = [
        "/feeds/%00%ff'--.ics",
        "/feeds/.ics",
        "/feeds/" + "x" * 5000 + ".ics",
        "/feeds/ünïcode.ics",
        "/feeds/no-suffix",
        "/feeds/a/b.ics",
    ]
    answers = []
    for path in [path_of(revoked["url"]), wrong, *malformed]:
        with Statements(stored) as statements:
            response = client.get(path)
        answers.append((response.status_code, response.content, statements.count))
    assert {(status, body) for status, body, _ in answers} == {(404, b"Not found")}, answers
    assert len({count for _, _, count in answers}) == 1, answers  # one lookup, whatever the token


def test_healthz(stored: Database, tmp_path: Path) -> None:
    settings = settings_for(stored, tmp_path)
    settings.broker_folder.mkdir(parents=True)
    with TestClient(create_web_app(settings, stored.sessions)) as test_client:
        ok = test_client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json()["database"] == "ok"
    down = settings.model_copy(update={"broker_url": "redis://127.0.0.1:9/0"})
    with TestClient(create_web_app(down, stored.sessions)) as test_client:
        bad = test_client.get("/healthz")
    assert bad.status_code == 503
    assert bad.json()["broker"].startswith("error")


def test_gistsched_serve_never_logs_a_feed_token(stored: Database, tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    from tests.support.common import free_port, wait_until
    from tests.support.services import stop_process_group

    token_url = create(stored, tmp_path, "--patient", "P01")["url"]
    token = token_url.rsplit("/", 1)[1].removesuffix(".ics")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(GISTSCHED), "serve", "--port", str(port), "--loglevel", "DEBUG"], env=env(stored, tmp_path),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"

            def status(path: str, headers: dict[str, str] | None = None) -> int:
                request = urllib.request.Request(base + path, headers=headers or {})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return int(response.status)
                except urllib.error.HTTPError as exc:
                    return exc.code
                except OSError:
                    return 0

            wait_until(
                lambda: status("/healthz") in (200, 503), timeout=60, message="gistsched serve to answer"
            )
            assert status(f"/feeds/{token}.ics") == 200
            assert status(f"/feeds/{token[::-1]}.ics") == 404
        finally:
            stop_process_group(server)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "/feeds/<token>.ics 200" in text, text[-2000:]
    assert token not in text
    assert token[::-1] not in text


def test_navigator_etags_follow_a_swap_of_patients_and_the_calendar(
    stored: Database, tmp_path: Path, client: TestClient
) -> None:
    """Two navigators swap a patient each: both feeds change although each still lists as many
    patients; the daily status UPDATE changes them too. The ETag is one statement whatever the size."""
    from scheduler.patients.repository import advance_statuses

    paths = {
        nav: path_of(create(stored, tmp_path, "--navigator", nav)["url"]) for nav in ("nav-ana", "nav-ben")
    }
    before = {nav: client.get(path) for nav, path in paths.items()}
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(stored.engine, "before_cursor_execute", count)
    try:
        assert (
            client.get(
                paths["nav-ana"], headers={"If-None-Match": before["nav-ana"].headers["etag"]}
            ).status_code
            == 304
        )
    finally:
        event.remove(stored.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "patients" in s and "reminders" not in s]) == 1, statements

    swap = [
        {
            "event_id": f"{pid}-swap", "patient_id": pid, "type": "patient_registered",
            "occurred_on": AS_OF.isoformat(),
            "data": {"name": name, "email": f"{pid.lower()}@example.org", "navigator_id": nav},
        }
        for pid, name, nav in (("P01", "Maria Santos", "nav-ben"), ("P02", "Daniel Okafor", "nav-ana"))
    ]  # fmt: skip
    intake(stored.sessions, swap, AS_OF)
    for pid in ("P01", "P02"):
        process_patient(stored.sessions, pid, AS_OF)
    swapped = {nav: client.get(path) for nav, path in paths.items()}
    for nav in paths:
        assert swapped[nav].headers["etag"] != before[nav].headers["etag"], nav
        assert swapped[nav].content != before[nav].content, nav

    later = AS_OF + dt.timedelta(days=60)
    with stored.sessions.begin() as session:
        assert advance_statuses(session, later, dt.datetime.combine(later, dt.time(2), tzinfo=dt.UTC)) > 0
    with TestClient(create_web_app(settings_for(stored, tmp_path, as_of=AS_OF), stored.sessions)) as same_day:
        moved = {nav: same_day.get(path) for nav, path in paths.items()}
    assert any(moved[nav].headers["etag"] != swapped[nav].headers["etag"] for nav in paths)
