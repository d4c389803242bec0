"""How fast the worklist and patient pages answer over HTTP on a clinic-sized PostgreSQL database.

    .venv/bin/python benchmarks/web_bench.py [--patients 100000] [--reminders-per-patient 30]
                                             [--navigators 50] [--templates 1000] [--requests 200]
                                             [--warmup 10] [--seed 1] [--keep] [--reuse URL]
                                             [--postgres-url URL]

The target: with 100,000 patients and about 3,000,000 reminders in PostgreSQL, the worklist and
patient pages answer through HTTP with p95 < 100 ms (p50 and p95 are reported).

1. **Seed** a throwaway database (``notify_bench.Databases``: ``gist_bench_<random>``, migrated with
   ``models.migrate.upgrade``, dropped at the end unless ``--keep``) with COPY
   (``notify_bench.bulk_load``). The rows are real planner output: ``--templates`` synthetic
   histories (``synthetic.py``, ``--seed``) are parsed and planned as of 2026-11-27 with
   ``plan_follow_up``; each of ``--patients`` patients copies a template drawn at random (new ids,
   name, email; ``navigator_id`` ``nav-00`` … round-robin over ``--navigators``), with its events,
   its state (stage, risk, therapy), its active alerts (a third acknowledged) and its reminders cut
   to about ``--reminders-per-patient`` on average (every open one kept, then the most recent
   closed ones) with their missed items (``overdue_since``, ``missed``, ``last_done_on``),
   ``notice_on`` and the copies of ``navigator_id`` as ``process_patient`` sets them.
   Outbox history: 3 ``sent`` rows per patient, a ``failed`` one for 1 % of patients and a failed
   digest for 1 navigator in 10. Rows are written in blocks of 2,000 patients, ordered by date inside
   a block, so a patient's rows lie on different pages as they do when they arrive over years. Then
   ``VACUUM (ANALYZE)`` (what autovacuum leaves; it also keeps autovacuum from starting during the
   measurement).
2. **Serve** the database with a real ``gistsched serve`` (uvicorn) subprocess on a free port
   (``GIST_AS_OF=2026-11-27``), with a navigator (the patients of ``nav-00``) and a clinician (all
   patients) made by ``create_user``; API calls carry their Bearer tokens, pages the session
   cookie of a real ``POST /login``.
3. **Measure** from this process with one keep-alive ``httpx2.Client``, requests one after the
   other: after ``--warmup`` untimed requests, ``--requests`` timed ones (``time.perf_counter``
   around the call, body read) of each of ``GET /api/worklist`` (navigator; clinician),
   ``GET /api/patients/{id}`` and ``GET /api/patients/{id}/record`` of random patients, and the
   dashboard's ``GET /`` (navigator; clinician), ``GET /patients/{id}``, ``GET /worklist.csv``
   (navigator) and ``GET /week`` (navigator; clinician). The server's own time
   per request is read from its access log (``web.app``'s ``… 200 12.3 ms`` lines).
4. **Explain**: ``worklist()`` is run in-process for both users with every SQL statement timed;
   the statements taking ≥ 5 ms are run again under ``EXPLAIN (ANALYZE, BUFFERS)``
   (``notify_bench.explain``) and printed after the tables.

Prints Markdown tables to stdout (progress on stderr); docs/performance.md §4 quotes them.
``--reuse URL`` measures an already seeded database (one kept by ``--keep``) without seeding.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from notify_bench import Databases, analyze, bulk_load, explain, opened, timed
from pipeline_bench import (
    DEFAULT_POSTGRES_URL,
    GISTSCHED,
    BenchError,
    close_quietly,
    free_port,
    pct,
    safe_url,
    spawn,
    stop_group,
    tail,
    wait_for,
)
from plan_bench import cpu_model
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from synthetic import synthetic_histories

from models.rows import AlertRow, EventRow, NotificationRow, PatientRow, ReminderRow, UserRow
from scheduler.domain.events import parse_event
from scheduler.domain.model import Plan, Reminder
from scheduler.domain.plan import plan_follow_up
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.outbox import initial_notice_on
from scheduler.patients.processing import recompute_on
from scheduler.staff.access import Principal
from scheduler.staff.users import create_user
from scheduler.staff.worklist import worklist
from web.worklist_view import add_glance

AS_OF = dt.date(2026, 11, 27)  # the synthetic histories end the day before (as in plan_bench.py)
TARGET_P95_MS = 100.0
BLOCK = 2_000  # patients generated and COPied at a time
OPEN = frozenset({"planned", "due", "overdue"})
SENT_PER_PATIENT = 3
FAILED_SHARE = 0.01  # patients with a failed email on the worklist (drawn: not tied to a navigator)
FAILED_DIGEST_EVERY = 10  # one navigator in 10 has a failed digest
EXPLAIN_FROM_MS = 5.0
IN_PROCESS_REPEATS = 5
PASSWORD = "bench-" + secrets.token_urlsafe(12)
PID, NAME, EMAIL, NAV = "@@PID@@", "@@NAME@@", "@@EMAIL@@", "@@NAV@@"  # placeholders in payload text
ACCESS_LINE = re.compile(r"/web\] (GET|POST) (\S+) (\d{3}) ([\d.]+) ms$")

PATIENT_COLUMNS = ("patient_id", "navigator_id", "name", "email", "timezone", "is_active", "created_at")
STATE_COLUMNS = (
    "patient_id", "as_of", "stage", "risk", "therapy", "profile", "events_seen", "computed_at",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "event_id", "patient_id", "type", "occurred_on", "payload", "fingerprint", "received_at",
    "processed_at",
)  # fmt: skip
REMINDER_COLUMNS = (
    "id", "patient_id", "navigator_id", "key", "kind", "due_on", "window_days", "status", "rule",
    "rationale", "citation", "completed_on", "completed_by", "cancelled_on", "revision", "notice_on",
    "created_at", "updated_at", "overdue_since", "missed", "last_done_on",
)  # fmt: skip
ALERT_COLUMNS = (
    "id", "patient_id", "navigator_id", "code", "rule", "severity", "message", "citation", "is_active",
    "first_seen_at", "updated_at", "acknowledged_at", "acknowledged_by", "acknowledgement_note",
)  # fmt: skip
NOTIFICATION_COLUMNS = (
    "dedup_key", "kind", "audience", "reminder_id", "patient_id", "navigator_id", "revision", "due_on",
    "day", "status", "attempts", "claimed_at", "sent_at", "recipients", "last_error", "created_at",
    "updated_at",
)  # fmt: skip
SEQUENCES = ("events", "reminders", "alerts", "notifications")


# ---- templates: real planner output to copy ---------------------------------------------------------


@dataclass
class Template:
    """One planned synthetic patient, its ids replaced by placeholders."""

    pid: str
    timezone: str
    stage: str
    risk: str  # JSON text
    therapy: str | None
    events: list[tuple[str, str, dt.date, str]]  # event_id, type, occurred_on, payload (placeholders)
    reminders: list[Reminder]
    alerts: list[tuple[str, str, str, str, str]]  # code, rule, severity, message, citation
    recompute_on: dt.date | None = None  # the day the clock recomputes it (processing.recompute_on)


def closed_on(r: Reminder) -> dt.date:
    return r.completed_on or r.cancelled_on or r.due_on


def make_templates(count: int, seed: int) -> tuple[list[Template], list[int]]:
    """``count`` planned synthetic patients, and each one's full number of reminders."""
    templates = [plan_template(history, AS_OF) for history in synthetic_histories(count, seed)]
    return templates, [len(t.reminders) for t in templates]


def plan_template(history: Sequence[dict[str, Any]], as_of: dt.date) -> Template:
    """One synthetic history planned as of ``as_of`` (with every reminder of the plan), its patient
    id, name, email and navigator replaced by placeholders in the events' payload text."""
    pid = history[0]["patient_id"]
    plan: Plan = plan_follow_up([parse_event(obj) for obj in history], as_of, DEFAULT_PROFILE)
    timezone = "UTC"
    events = []
    for obj in history:
        payload = {**obj, "event_id": obj["event_id"].replace(pid, PID, 1), "patient_id": PID}
        if obj["type"] == "patient_registered":
            timezone = obj["data"].get("timezone") or "UTC"
            payload["data"] = {**obj["data"], "name": NAME, "email": EMAIL, "navigator_id": NAV}
        day = dt.date.fromisoformat(obj["occurred_on"])
        events.append((payload["event_id"], obj["type"], day, json.dumps(payload)))
    return Template(
        pid=pid,
        timezone=timezone,
        stage=plan.stage,
        risk=json.dumps(plan.risk.to_json()),
        therapy=json.dumps(plan.therapy.to_json()) if plan.therapy else None,
        events=events,
        reminders=list(plan.reminders),
        alerts=[(a.code, a.rule, a.severity, a.message, a.citation) for a in plan.alerts],
        recompute_on=recompute_on(plan),
    )


def kept_reminders(reminders: Sequence[Reminder], cap: int) -> list[Reminder]:
    """Every open reminder, then the most recently closed ones, up to ``cap`` in all."""
    open_ = [r for r in reminders if r.status in OPEN]
    closed = sorted((r for r in reminders if r.status not in OPEN), key=closed_on, reverse=True)
    return open_ + closed[: max(0, cap - len(open_))]


def cut_to_mean(templates: Sequence[Template], mean: int) -> int:
    """Cut every template's reminders so that they average about ``mean``; returns the cap used."""
    sizes = [(sum(r.status in OPEN for r in t.reminders), len(t.reminders)) for t in templates]

    def kept_mean(cap: int) -> float:
        return statistics.fmean(min(total, max(open_, cap)) for open_, total in sizes)

    cap = min(range(1, max(total for _, total in sizes) + 1), key=lambda c: abs(kept_mean(c) - mean))
    for t in templates:
        t.reminders = kept_reminders(t.reminders, cap)
    return cap


# ---- seeding ------------------------------------------------------------------------------------------


@dataclass
class Counters:
    """The last id given in each table whose ids the seed sets itself."""

    event_id: int = 0
    reminder_id: int = 0
    alert_id: int = 0


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


@dataclass
class Block:
    """The rows of up to ``BLOCK`` patients, each table ordered by date (rows arrive over years)."""

    patients: list[tuple[Any, ...]] = field(default_factory=list)
    states: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    reminders: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    notifications: list[tuple[Any, ...]] = field(default_factory=list)


def build_block(
    first: int, last: int, templates: Sequence[Template], args: argparse.Namespace, ids: Counters
) -> Block:
    rng = random.Random(f"{args.seed}:{first}")
    block = Block()
    events: list[tuple[dt.date, str, int, tuple[Any, ...]]] = []
    reminders: list[tuple[dt.date, str, tuple[Any, ...]]] = []
    for i in range(first, last):
        t = templates[rng.randrange(len(templates))]
        pid, nav = f"P{i:06d}", f"nav-{i % args.navigators:02d}"
        name, email = f"Bench Patient {i}", f"patient{i}@example.org"
        computed = at(AS_OF, 2, rng.randrange(60))
        first_day = t.events[0][2]
        block.patients.append((pid, nav, name, email, t.timezone, t.stage != "ended", at(first_day)))
        block.states.append((pid, AS_OF, t.stage, t.risk, t.therapy, DEFAULT_PROFILE.name, len(t.events),
                             computed))  # fmt: skip
        events.extend(stored_events(t, pid, name, email, nav, rng))
        mine: list[tuple[int, Reminder]] = []
        for r in t.reminders:
            ids.reminder_id += 1
            mine.append((ids.reminder_id, r))
            is_open = r.status in OPEN
            revision = 1 if is_open and rng.random() < 0.8 else rng.randint(2, 3)
            created = at(min(r.due_on - dt.timedelta(days=90), AS_OF), 2)
            updated = created if revision == 1 else at(min(closed_on(r), AS_OF), 2)
            completed_by = r.completed_by.replace(t.pid, pid, 1) if r.completed_by else None
            notice_on = initial_notice_on(r.kind, r.due_on, r.window_days, r.status, DEFAULT_PROFILE)
            reminder = (ids.reminder_id, pid, nav, r.key, r.kind, r.due_on, r.window_days, r.status, r.rule,
                   r.rationale, r.citation, r.completed_on, completed_by, r.cancelled_on, revision,
                   notice_on, created, updated, r.overdue_since, r.missed, r.last_done_on)  # fmt: skip
            reminders.append((r.due_on, pid, reminder))
        for code, rule, severity, message, citation in t.alerts:
            ids.alert_id += 1
            seen = at(AS_OF - dt.timedelta(days=rng.randrange(1, 90)), 2)
            acknowledged: tuple[Any, ...] = (None, None, None)
            if rng.random() < 1 / 3:
                acknowledged = (seen + dt.timedelta(hours=5), "bench-navigator", "Patient called; booked.")
            alert = (ids.alert_id, pid, nav, code, rule, severity, message, citation, True, seen, seen)
            block.alerts.append((*alert, *acknowledged))
        block.notifications.extend(
            notifications_of(pid, nav, email, mine, rng, failed=rng.random() < FAILED_SHARE)
        )
    block.events = numbered_events(events, ids)
    block.reminders = [row for *_, row in sorted(reminders, key=lambda r: r[:2])]
    return block


def stored_events(
    t: Template, pid: str, name: str, email: str, nav: str, rng: random.Random
) -> Iterator[tuple[dt.date, str, int, tuple[Any, ...]]]:
    """The template's events as one patient's stored, processed rows (``EVENT_COLUMNS`` but the id),
    each keyed by (day, patient, position) for :func:`numbered_events`."""
    for n, (event_id, type_, day, payload) in enumerate(t.events):
        stored = payload.replace(PID, pid).replace(NAME, name).replace(EMAIL, email).replace(NAV, nav)
        received = at(day, 8 + n % 10, rng.randrange(60))
        digest = hashlib.sha256(stored.encode()).hexdigest()
        processed = received + dt.timedelta(seconds=2)
        row = (event_id.replace(PID, pid), pid, type_, day, stored, digest, received, processed)
        yield day, pid, n, row


def numbered_events(
    events: list[tuple[dt.date, str, int, tuple[Any, ...]]], ids: Counters
) -> list[tuple[Any, ...]]:
    """A block's event rows ordered by date, with their ids."""
    ordered = sorted(events, key=lambda e: e[:3])
    rows = [(ids.event_id + k, *row) for k, (*_, row) in enumerate(ordered, start=1)]
    ids.event_id += len(ordered)
    return rows


def notifications_of(
    pid: str, nav: str, email: str, mine: Sequence[tuple[int, Reminder]], rng: random.Random, *, failed: bool
) -> Iterator[tuple[Any, ...]]:
    """A patient's outbox history: a few sent notices, maybe one that finally failed."""
    closed = [(rid, r) for rid, r in mine if r.status not in OPEN]
    for rid, r in rng.sample(closed, min(SENT_PER_PATIENT, len(closed))):
        sent = at(min(r.due_on - dt.timedelta(days=7), AS_OF), 7)
        yield (f"reminder:{rid}:advance:1", "advance", "patient", rid, pid, None, 1, r.due_on, sent.date(),
               "sent", 1, sent, sent, email, None, sent, sent)  # fmt: skip
    open_ = [(rid, r) for rid, r in mine if r.status in OPEN]
    if failed and open_:
        rid, r = rng.choice(open_)
        when = at(AS_OF - dt.timedelta(days=rng.randrange(30)), 7, rng.randrange(60))
        yield (f"reminder:{rid}:due:1", "due", "patient", rid, pid, nav, 1, r.due_on, when.date(), "failed",
               10, when, None, email, "550 5.1.1 mailbox unavailable", when, when)  # fmt: skip


def failed_digests(navigators: int) -> Iterator[tuple[Any, ...]]:
    for n in range(0, navigators, FAILED_DIGEST_EVERY):
        nav, when = f"nav-{n:02d}", at(AS_OF - dt.timedelta(days=n % 7), 7)
        yield (f"digest:{nav}:{when.date()}", "digest", "navigator", None, None, nav, None, None, when.date(),
               "failed", 1, when, None, None, "no navigator email", when, when)  # fmt: skip


def seed(engine: Engine, args: argparse.Namespace, report: Report) -> None:
    start = time.perf_counter()
    templates, full = make_templates(args.templates, args.seed)
    cap = cut_to_mean(templates, args.reminders_per_patient)
    report.add(
        "seed",
        f"templates planned (synthetic histories, seed {args.seed})",
        f"{len(templates):,}: {statistics.fmean(full):.1f} reminders each in full (max {max(full)}), "
        f"cut to ≤ {cap} (open ones all kept) → {statistics.fmean(len(t.reminders) for t in templates):.1f}",
    )
    ids = Counters()
    tables = (
        ("patients", PATIENT_COLUMNS, "patients"), ("patient_states", STATE_COLUMNS, "states"),
        ("reminders", REMINDER_COLUMNS, "reminders"), ("events", EVENT_COLUMNS, "events"),
        ("alerts", ALERT_COLUMNS, "alerts"), ("notifications", NOTIFICATION_COLUMNS, "notifications"),
    )  # fmt: skip
    for first in range(0, args.patients, BLOCK):
        block = build_block(first, min(args.patients, first + BLOCK), templates, args, ids)
        for table, columns, attr in tables:
            bulk_load(engine, table, columns, getattr(block, attr))
        done = min(args.patients, first + BLOCK)
        if done % (10 * BLOCK) == 0 or done == args.patients:
            elapsed = time.perf_counter() - start
            print(f"  seed: {done:,} patients, {elapsed:.0f} s", file=sys.stderr, flush=True)
    bulk_load(engine, "notifications", NOTIFICATION_COLUMNS, failed_digests(args.navigators))
    move_sequences(engine)
    load_s = time.perf_counter() - start
    vacuum_s, _ = timed(lambda: vacuum_analyze(engine))
    report.add("seed", "generate + COPY / VACUUM (ANALYZE)", f"{load_s:.0f} s / {vacuum_s:.0f} s")


def move_sequences(engine: Engine) -> None:
    """The ids were given explicitly: move the sequences past them (an empty table's stays)."""
    with engine.begin() as conn:
        for table in SEQUENCES:
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )


def vacuum_analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))


def describe(sessions: sessionmaker[Session], report: Report) -> None:
    """What is in the database (whether seeded now or reused)."""
    with sessions() as session:

        def n(row: Any, *where: Any) -> int:
            return session.scalar(select(func.count()).select_from(row).where(*where)) or 0

        patients = n(PatientRow)
        by_status = select(ReminderRow.status, func.count()).group_by(ReminderRow.status)
        statuses: dict[str, int] = {row[0]: row[1] for row in session.execute(by_status)}
        reminders = sum(statuses.values())
        navigators = session.scalar(select(func.count(func.distinct(PatientRow.navigator_id)))) or 0
        nav_patients = n(PatientRow, PatientRow.navigator_id == "nav-00")
        alerts = n(AlertRow, AlertRow.is_active.is_(True))
        alert_patients = session.scalar(select(func.count(func.distinct(AlertRow.patient_id)))) or 0
        critical = n(AlertRow, AlertRow.is_active.is_(True), AlertRow.severity == "critical")
        events = n(EventRow)
        sent = n(NotificationRow, NotificationRow.status == "sent")
        failed = n(NotificationRow, NotificationRow.status == "failed")
        size = session.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    shares = ", ".join(
        f"{status} {count / reminders:.1%}"
        for status, count in sorted(statuses.items(), key=lambda kv: -kv[1])
    )
    report.add("data", "patients / navigators / patients of `nav-00`",
               f"{patients:,} / {navigators} / {nav_patients:,}")  # fmt: skip
    report.add(
        "data", "reminders", f"{reminders:,} ({reminders / max(patients, 1):.1f} per patient): {shares}"
    )
    report.add("data", "events", f"{events:,} ({events / max(patients, 1):.1f} per patient)")
    with_one = f"{alert_patients:,} ({alert_patients / max(patients, 1):.0%})"
    report.add(
        "data", "active alerts (critical) / patients with one", f"{alerts:,} ({critical:,}) / {with_one}"
    )
    report.add("data", "notifications sent / failed", f"{sent:,} / {failed:,}")
    report.add("data", "database size", str(size))


# ---- the server and the requests --------------------------------------------------------------------


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    plans: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, part: str, figure: str, value: str) -> None:
        self.rows.append((part, figure, value))
        print(f"  {part}: {figure}: {value}", file=sys.stderr, flush=True)


@dataclass
class Server:
    process: Any
    log_path: Path
    base_url: str
    read_lines: int = 0

    def new_access_lines(self) -> list[tuple[str, int, float]]:
        """(path, status, server ms) of the access-log lines written since the last call."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        fresh, self.read_lines = lines[self.read_lines :], len(lines)
        return [(m[2], int(m[3]), float(m[4])) for line in fresh if (m := ACCESS_LINE.search(line))]


@contextlib.contextmanager
def served(url: str, folder: Path) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
    env.update(
        GIST_ENV="development", GIST_DATABASE_URL=url, GIST_DATA_DIR=str(folder / "data"),
        GIST_AS_OF=AS_OF.isoformat(), GIST_BASE_URL=f"http://127.0.0.1:{port}", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    log_path = folder / "serve.log"
    process, log = spawn([str(GISTSCHED), "serve", "--host", "127.0.0.1", "--port", str(port)], env, log_path)
    server = Server(process, log_path, f"http://127.0.0.1:{port}")
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise BenchError(f"gistsched serve exited ({process.returncode}):\n{tail(log_path)}")
            with contextlib.suppress(httpx2.TransportError):
                return httpx2.get(f"{server.base_url}/login", timeout=2).status_code == 200
            return False

        wait_for(answers, 60, "gistsched serve to answer")
        yield server
    finally:
        stop_group(process)
        log.close()


@dataclass
class Scenario:
    label: str
    who: str
    path: Callable[[int], str]  # request number → path
    principal: str  # "navigator" or "clinician"
    page: bool = False  # a dashboard page (cookie) rather than an API call (Bearer token)


def scenarios(patient_ids: Sequence[str], rng: random.Random) -> list[Scenario]:
    picks = [rng.choice(patient_ids) for _ in range(10_000)]

    def patient(fmt: str) -> Callable[[int], str]:
        return lambda n: fmt.format(picks[n % len(picks)])

    return [
        Scenario("`GET /api/worklist`", "navigator", lambda _n: "/api/worklist", "navigator"),
        Scenario("`GET /api/worklist`", "clinician", lambda _n: "/api/worklist", "clinician"),
        Scenario("`GET /api/patients/{id}`", "random patient", patient("/api/patients/{}"), "clinician"),
        Scenario(
            "`GET /api/patients/{id}/record`",
            "random patient",
            patient("/api/patients/{}/record"),
            "clinician",
        ),
        Scenario("`GET /` (page)", "navigator", lambda _n: "/", "navigator", page=True),
        Scenario("`GET /` (page)", "clinician", lambda _n: "/", "clinician", page=True),
        Scenario(
            "`GET /patients/{id}` (page)", "random patient", patient("/patients/{}"), "clinician", page=True
        ),
        Scenario("`GET /worklist.csv`", "navigator", lambda _n: "/worklist.csv", "navigator", page=True),
        Scenario("`GET /week` (page)", "navigator", lambda _n: "/week", "navigator", page=True),
        Scenario("`GET /week` (page)", "clinician", lambda _n: "/week", "clinician", page=True),
    ]


def sign_in_cookie(base_url: str, username: str) -> str:
    with httpx2.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
        cookie = response.cookies.get("gist_session")
        if response.status_code != 303 or not cookie:
            raise BenchError(f"POST /login as {username}: {response.status_code} {response.text[:300]}")
        return cookie


@dataclass
class Latency:
    scenario: Scenario
    seconds: list[float]  # sorted
    server_ms: list[float]  # sorted, from the access log
    size: float  # mean response bytes
    counts: dict[str, int] | None = None  # a worklist's counts, from the last response

    @property
    def p95_ms(self) -> float:
        return pct(self.seconds, 0.95) * 1000

    def row(self) -> str:
        p50, top = statistics.median(self.seconds) * 1000, self.seconds[-1] * 1000
        p95 = f"**{self.p95_ms:.1f}**" if self.p95_ms >= TARGET_P95_MS else f"{self.p95_ms:.1f}"
        server = (
            f"{statistics.median(self.server_ms):.1f} / {pct(self.server_ms, 0.95):.1f}"
            if self.server_ms
            else "n/a"
        )
        size = f"{self.size / 1024:,.0f} KiB" if self.size >= 10_240 else f"{self.size:,.0f} B"
        s = self.scenario
        return f"{s.label} | {s.who} | {p50:.1f} | {p95} | {top:.1f} | {server} | {size}"


def measure(
    server: Server, credentials: dict[str, str], scenario: Scenario, args: argparse.Namespace, offset: int
) -> Latency:
    secret = credentials[("cookie:" if scenario.page else "token:") + scenario.principal]
    client = (
        httpx2.Client(base_url=server.base_url, timeout=120, cookies={"gist_session": secret})
        if scenario.page
        else httpx2.Client(
            base_url=server.base_url, timeout=120, headers={"Authorization": f"Bearer {secret}"}
        )
    )
    seconds: list[float] = []
    sizes: list[int] = []
    with client:
        server.new_access_lines()
        for n in range(args.warmup + args.requests):
            path = scenario.path(offset + n)
            start = time.perf_counter()
            response = client.get(path)
            body = response.content
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise BenchError(f"GET {path} as {scenario.principal}: {response.status_code} {body[:300]!r}")
            if n >= args.warmup:
                seconds.append(elapsed)
                sizes.append(len(body))
    server_ms = sorted(ms for _, status, ms in server.new_access_lines()[-args.requests :] if status == 200)
    latency = Latency(scenario, sorted(seconds), server_ms, statistics.fmean(sizes))
    if path == "/api/worklist":
        latency.counts = response.json()["counts"]
    print(f"  http: {latency.row()}", file=sys.stderr, flush=True)
    return latency


# ---- in-process: where the worklist's time goes ----------------------------------------------------


@contextlib.contextmanager
def timed_statements(engine: Engine) -> Iterator[list[tuple[str, Any, float]]]:
    """Each statement sent while inside, with its parameters and seconds (execute to fetch start)."""
    seen: list[tuple[str, Any, float]] = []
    started: dict[int, float] = {}

    def before(_conn: Any, cursor: Any, _statement: str, _parameters: Any, _ctx: Any, _many: bool) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(_conn: Any, cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, parameters, time.perf_counter() - started.pop(id(cursor))))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def query_label(statement: str, parameters: Any) -> str:
    """What one of ``worklist()``'s statements reads, from its SQL and its parameters."""
    flat = " ".join(statement.split())
    found = re.search(r"FROM (\w+)", flat)
    table = found[1] if found else "?"
    values = set(parameters.values()) if isinstance(parameters, dict) else set()
    what = {
        "reminders": "overdue reminders" if "overdue" in values else "reminders due soon",
        "alerts": "critical alerts" if "critical" in values and "warning" not in values else "active alerts",
        "notifications": "failed notifications",
    }.get(table, table)
    return f"count of {what}" if flat.startswith("SELECT count(") else what


def glance_seconds(sessions: sessionmaker[Session], principal: Principal) -> float:
    """The dashboard page's ``add_glance()`` (latest results, alert ages) on 50 items a section."""
    with sessions() as session:
        found = worklist(session, principal, AS_OF, limit=50, with_names=True)
        return timed(lambda: add_glance(session, found, AS_OF))[0]


def analyse_worklist(url: str, users: dict[str, Principal], report: Report) -> None:
    with opened(url) as (engine, sessions):
        for who, principal in users.items():
            runs: list[tuple[float, list[tuple[str, Any, float]]]] = []
            for _ in range(IN_PROCESS_REPEATS):
                with sessions() as session, timed_statements(engine) as seen:
                    start = time.perf_counter()
                    worklist(session, principal, AS_OF)
                    runs.append((time.perf_counter() - start, seen))
            total_ms = statistics.median(t for t, _ in runs) * 1000
            per_query = [
                statistics.median(run[1][k][2] for run in runs) * 1000 for k in range(len(runs[0][1]))
            ]
            statements = runs[-1][1]
            sql_ms = sum(per_query)
            lines = [f"`worklist()` in-process for the {who}: {total_ms:.1f} ms (median of "
                     f"{IN_PROCESS_REPEATS}), of which SQL {sql_ms:.1f} ms:"]  # fmt: skip
            for (statement, parameters, _), q_ms in zip(statements, per_query, strict=True):
                lines.append(f"- {q_ms:7.1f} ms  {query_label(statement, parameters)}")
                if q_ms >= EXPLAIN_FROM_MS:
                    report.plans.append((f"{who}: {query_label(statement, parameters)} ({q_ms:.1f} ms)",
                                         explain(engine, statement, parameters)))  # fmt: skip
            glance_s = statistics.median(glance_seconds(sessions, principal) for _ in range(5))
            lines.append(f"- the page's `add_glance()` (latest results, alert ages) on 50 a section: "
                         f"{glance_s * 1000:.1f} ms")  # fmt: skip
            report.queries.append("\n".join(lines))
            print("  " + "\n  ".join(lines), file=sys.stderr, flush=True)


# ---- main -----------------------------------------------------------------------------------------------


def make_users(sessions: sessionmaker[Session]) -> tuple[dict[str, str], dict[str, Principal]]:
    """A navigator (``nav-00``) and a clinician, with fresh names (a reused database keeps the
    users of earlier runs): their API tokens as ``token:<role>``, and their principals."""
    suffix = secrets.token_hex(3)
    made = {
        "navigator": create_user(
            sessions, f"bench-nav-{suffix}", "navigator", PASSWORD, navigator_id="nav-00"
        ),
        "clinician": create_user(sessions, f"bench-clin-{suffix}", "clinician", PASSWORD),
    }
    principals = {}
    with sessions() as session:
        for role, created in made.items():
            user = session.scalars(select(UserRow).where(UserRow.username == created.username)).one()
            principals[role] = Principal(user.id, user.username, user.role, user.navigator_id)
    return {f"token:{role}": created.token for role, created in made.items()}, principals


def server_settings(sessions: sessionmaker[Session]) -> str:
    with sessions() as session:
        return ", ".join(
            f"{name} {session.scalar(text(f'SHOW {name}'))}"
            for name in (
                "shared_buffers",
                "work_mem",
                "effective_cache_size",
                "max_parallel_workers_per_gather",
            )
        )


def run(args: argparse.Namespace, folder: Path, cleanup: contextlib.ExitStack, report: Report) -> str:
    databases = Databases(
        argparse.Namespace(backend="postgresql", keep=args.keep, postgres_url=args.postgres_url),
        folder,
        cleanup,
    )
    url = args.reuse or databases.create("web")
    with opened(url) as (engine, sessions):
        if args.reuse:
            analyze(engine)
        else:
            seed(engine, args, report)
        describe(sessions, report)
        report.add("server", "PostgreSQL settings", server_settings(sessions))
        credentials, principals = make_users(sessions)
        with sessions() as session:
            patient_ids = list(session.scalars(select(PatientRow.patient_id)))
    with served(url, folder) as server:
        for role, principal in principals.items():
            credentials[f"cookie:{role}"] = sign_in_cookie(server.base_url, principal.username)
        for k, scenario in enumerate(scenarios(patient_ids, random.Random(args.seed))):
            try:
                report.latencies.append(measure(server, credentials, scenario, args, k * 1000))
            except BenchError as exc:  # one broken page should not hide the others' figures
                report.failures.append(f"{scenario.label} ({scenario.who}): {exc}")
                print(
                    f"  http: {report.failures[-1]}\n{tail(server.log_path, 8)}", file=sys.stderr, flush=True
                )
    analyse_worklist(url, principals, report)
    return databases.version


def print_report(report: Report, args: argparse.Namespace, version: str, load: str) -> None:
    print(f"gist-scheduler web benchmark (PostgreSQL {version}, as of {AS_OF}, seed {args.seed})")
    print()
    print("| part | figure | value |")
    print("|---|---|---|")
    for part, figure, value in report.rows:
        print(f"| {part} | {figure} | {value} |")
    print()
    print(f"Latency over HTTP, {args.requests} sequential requests each after {args.warmup} untimed "
          f"(ms; **bold**: p95 ≥ {TARGET_P95_MS:.0f} ms):")  # fmt: skip
    print()
    print("| request | as / of | p50 | p95 | max | server p50 / p95 | response |")
    print("|---|---|---|---|---|---|---|")
    for latency in report.latencies:
        print(f"| {latency.row()} |")
    print()
    for latency in report.latencies:
        if latency.counts:
            print(f"Worklist counts of the {latency.scenario.who}: {latency.counts}")
            print()
    for failure in report.failures:
        print(f"Not measured: {failure}")
        print()
    over = [f"{x.scenario.label} ({x.scenario.who})" for x in report.latencies if x.p95_ms >= TARGET_P95_MS]
    unmeasured = " (some requests not measured)" if report.failures else ""
    verdict = "NOT met by " + "; ".join(over) if over else "met" + unmeasured
    print(f"Target p95 < {TARGET_P95_MS:.0f} ms: {verdict}.")
    for lines in report.queries:
        print()
        print(lines)
    for title, plan in report.plans:
        print()
        print(f"Plan of {title}:")
        print("```")
        print(plan)
        print("```")
    print()
    print(f"Machine: {cpu_model()} ({os.cpu_count()} logical CPUs), Python {platform.python_version()}, "
          f"PostgreSQL {version}; load average {load}. Command: benchmarks/web_bench.py "
          + " ".join(sys.argv[1:]))  # fmt: skip


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--patients", type=int, default=100_000, help="patients to seed (100,000)")
    ap.add_argument("--reminders-per-patient", type=int, default=30, help="reminders per patient, mean (30)")
    ap.add_argument("--navigators", type=int, default=50, help="navigators the patients are spread over (50)")
    ap.add_argument("--templates", type=int, default=1000, help="planned synthetic patients to copy (1,000)")
    ap.add_argument("--requests", type=int, default=200, help="timed requests per measurement (200)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed requests before each measurement (10)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic data and the picks (1)")
    ap.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    ap.add_argument("--reuse", metavar="URL", help="measure this already seeded database (no seeding)")
    ap.add_argument(
        "--postgres-url",
        default=os.environ.get("GIST_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server for the throwaway database (GIST_BENCH_POSTGRES_URL; default %(default)s)",
    )
    args = ap.parse_args(argv)
    if args.patients < 1 or args.reminders_per_patient < 1 or args.templates < 1 or args.navigators < 1:
        ap.error("--patients, --reminders-per-patient, --templates and --navigators must be positive")
    if args.requests < 1 or args.warmup < 0 or args.navigators > 100:
        ap.error("--requests ≥ 1, --warmup ≥ 0, --navigators ≤ 100")

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    cleanup = contextlib.ExitStack()
    load_before = load_average()
    try:
        folder = Path(tempfile.mkdtemp(prefix="gist-web-bench-"))
        if args.keep:
            print(f"  --keep: files in {folder}", file=sys.stderr)
        else:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        report = Report()
        version = run(args, folder, cleanup, report)
        print_report(report, args, version, f"{load_before} at the start, {load_average()} at the end")
        if args.reuse:
            print(f"  reused {safe_url(args.reuse)}", file=sys.stderr)
        return 0
    except BenchError as exc:
        print(f"web_bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"web_bench: interrupted{'' if args.keep or args.reuse else '; dropping the database'}",
            file=sys.stderr,
        )
        return 130
    finally:
        close_quietly(cleanup)


if __name__ == "__main__":
    sys.exit(main())
