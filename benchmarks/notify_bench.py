"""How fast notifications are: a navigator's calendar feed, and the clock's dispatch claim.

    .venv/bin/python benchmarks/notify_bench.py [--patients 2000] [--reminders 1000000] [--due 1000]
                                                [--sent 1000000] [--backend postgresql|sqlite]
                                                [--parts feed,dispatch] [--seed 1] [--keep]
                                                [--postgres-url URL]

Each part runs on its own throwaway database (``gist_bench_<random>`` on 127.0.0.1:5432 as
``postgres``, made and dropped with ``pipeline_bench.PostgresServer``; or a temporary SQLite file),
migrated in-process with ``models.migrate.upgrade`` (what ``gistsched db upgrade`` runs):

1. **Navigator feed.** ``--patients`` synthetic histories (``synthetic.py``, seed 1), every
   ``patient_registered`` given the same ``navigator_id``, go through the real intake
   (``scheduler.patients.intake.record_events``) and ``process_patient`` as of 2026-11-27 (both
   timed, as context). A navigator feed is created (``create_feed``) and fetched through the real
   FastAPI app (``scheduler.app.wiring.create_web_app``, in-process
   ``fastapi.testclient.TestClient``): the first GET (ETag query and render, cold cache), 50
   conditional GETs answered 304 (``If-None-Match``), a second full GET with the in-process cache
   warm. ``render()`` and ``feed_etag()`` are also timed alone.
2. **Dispatch.** ``--reminders`` planned reminders of ``--reminders``/50 patients are bulk-loaded
   (COPY on PostgreSQL, 10,000-row ``insert()`` batches on SQLite), ``--due`` of them with
   ``notice_on`` on or before 2026-11-27 and the rest in the future, then ANALYZE. Timed:
   ``create_due_notices`` (writes the outbox rows), ``claim_sendable`` until the queue is empty
   (the clock claims at most 500 per tick), then a whole idle tick (nothing due, nothing to claim;
   median of 20). Then ``--sent`` rows of history (notifications already sent, as a year of running
   leaves them) are loaded and the idle tick is timed again. The SQL of the timed calls is captured
   and EXPLAINed afterwards, on what is left (ANALYZE on PostgreSQL, in a rolled-back transaction).

Prints a Markdown table (and the query plans) to stdout; docs/performance.md quotes it. The
databases are dropped at the end, also on an error or Ctrl-C, unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from pipeline_bench import DEFAULT_POSTGRES_URL, BenchError, PostgresServer, close_quietly, pct, safe_url
from plan_bench import cpu_model
from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from synthetic import synthetic_histories

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.rows import NotificationRow, PatientRow, ReminderRow
from models.types import utcnow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.domain.notices import NOTICE_KINDS, first_notice_on, lead_days
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.dispatch import CLAIM_BATCH, claim_sendable, create_due_notices
from scheduler.notifications.feeds import create_feed, feed_etag, find_feed, render, revoke_feed
from scheduler.patients.intake import record_events
from scheduler.patients.processing import process_patient

AS_OF = dt.date(2026, 11, 27)  # the synthetic histories end the day before (as in plan_bench.py)
BACKENDS = ("postgresql", "sqlite")
NAVIGATOR = "nav-bench"
BASE_URL = "https://gist-scheduler.example.org"
NOT_MODIFIED_REQUESTS = 50
ETAG_REPEATS = 20
RENDER_REPEATS = 3
IDLE_REPEATS = 20
REMINDERS_PER_PATIENT = 50
INSERT_BATCH = 10_000
STALE_AFTER = dt.timedelta(seconds=Settings.model_fields["notify_stale_seconds"].default)
KINDS = tuple(NOTICE_KINDS)
REMINDER_COLUMNS = (
    "patient_id", "key", "kind", "due_on", "window_days", "status", "rule", "rationale", "citation",
    "revision", "notice_on", "created_at", "updated_at",
)  # fmt: skip
SENT_COLUMNS = (
    "dedup_key", "kind", "audience", "reminder_id", "patient_id", "revision", "due_on", "day", "status",
    "attempts", "claimed_at", "sent_at", "created_at", "updated_at",
)  # fmt: skip

T = TypeVar("T")


# ---- measuring ------------------------------------------------------------------------------------


def timed(call: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def repeated(call: Callable[[], object], times: int) -> list[float]:
    """Seconds of each of ``times`` calls, sorted."""
    return sorted(timed(call)[0] for _ in range(times))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def spread_ms(ordered: Sequence[float]) -> str:
    """Median / p95 / max of sorted seconds, in ms."""
    return " / ".join(
        f"{v * 1000:,.1f}" for v in (statistics.median(ordered), pct(ordered, 0.95), ordered[-1])
    )


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    plans: list[tuple[str, str]] = field(default_factory=list)

    def add(self, part: str, figure: str, value: str) -> None:
        self.rows.append((part, figure, value))
        print(f"  {part}: {figure}: {value}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def captured_selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (with their parameters) the code under test sends, to EXPLAIN them."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan of one captured statement: EXPLAIN ANALYZE in a rolled-back transaction on
    PostgreSQL (a FOR UPDATE only locks, and the locks go with the rollback), EXPLAIN QUERY PLAN on
    SQLite."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
            plan = "\n".join(str(row[0]) for row in rows)
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = "\n".join(str(row[-1]) for row in rows)
        conn.rollback()
    return f"{' '.join(statement.split())}\n--\n{plan}"


# ---- databases ------------------------------------------------------------------------------------


class Databases:
    """Throwaway, migrated databases of one backend; dropped (or kept, and listed) at the end."""

    def __init__(self, args: argparse.Namespace, folder: Path, cleanup: contextlib.ExitStack) -> None:
        self.backend = args.backend
        self.keep = args.keep
        self.folder = folder
        self.cleanup = cleanup
        self.version = sqlite3.sqlite_version
        self.postgres: PostgresServer | None = None
        if self.backend == "postgresql":
            self.postgres = PostgresServer(args.postgres_url)
            cleanup.callback(self.postgres.engine.dispose)
            try:
                self.version = self.postgres.version()
            except SQLAlchemyError as exc:
                raise BenchError(
                    f"PostgreSQL is not reachable at {safe_url(self.postgres.admin_url)} "
                    f"(--postgres-url, or --backend sqlite): {getattr(exc, 'orig', exc)}"
                ) from None

    def create(self, label: str) -> str:
        if self.postgres is None:
            url = f"sqlite:///{self.folder / (label + '.sqlite3')}"
        else:
            url = self.postgres.create_database()
            if self.keep:
                print(f"  --keep: {label} database {safe_url(url)}", file=sys.stderr)
            else:
                self.cleanup.callback(self.postgres.drop_database, url)
        upgrade(url)
        return url


@contextlib.contextmanager
def opened(url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(url)
    try:
        yield engine, make_sessionmaker(engine)
    finally:
        engine.dispose()


def analyze(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def count(sessions: sessionmaker[Session], row: type[Any], *where: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(row).where(*where)) or 0


def bulk_load(engine: Engine, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL; ``insert()`` executemany in batches of 10,000 rows on SQLite."""
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return
    statement = insert(NotificationRow if table == "notifications" else ReminderRow)
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) == INSERT_BATCH:
                conn.execute(statement, batch)
                batch = []
        if batch:
            conn.execute(statement, batch)


# ---- part 1: the navigator feed -------------------------------------------------------------------


def navigator_items(patients: int, seed: int, as_of: dt.date) -> list[tuple[int, object]]:
    """The cohort as intake's (line, JSON) pairs, every patient registered to :data:`NAVIGATOR`."""
    items: list[tuple[int, object]] = []
    for history in synthetic_histories(patients, seed):
        for obj in history:
            if dt.date.fromisoformat(obj["occurred_on"]) > as_of:
                continue
            if obj["type"] == "patient_registered":
                obj["data"]["navigator_id"] = NAVIGATOR
            items.append((len(items) + 1, obj))
    return items


def store_cohort(sessions: sessionmaker[Session], args: argparse.Namespace, report: Report) -> list[str]:
    """The cohort through the real intake and ``process_patient``; the patients' ids."""
    items = navigator_items(args.patients, args.seed, AS_OF)
    queued: list[str] = []
    seconds, intake = timed(lambda: record_events(sessions, items, AS_OF, queued.extend))
    if intake.accepted != len(items) or intake.rejected:
        raise BenchError(f"intake accepted {intake.accepted:,} of {len(items):,}: {intake.rejected[:3]}")
    report.add("feed", "patients / events stored", f"{len(queued):,} / {len(items):,}")
    report.add("feed", "intake (`record_events`, one call)", f"{seconds:.1f} s")
    start = time.perf_counter()
    for patient_id in queued:
        process_patient(sessions, patient_id, AS_OF)
    seconds = time.perf_counter() - start
    rate = f"{seconds:.1f} s — {len(queued) / seconds:,.0f} patients/s"
    report.add("feed", "processing (`process_patient`, one process)", rate)
    on_navigator = count(sessions, PatientRow, PatientRow.navigator_id == NAVIGATOR)
    if on_navigator != len(queued):
        raise BenchError(f"{on_navigator:,} of {len(queued):,} patients have navigator_id {NAVIGATOR}")
    report.add("feed", "reminders stored (all statuses)", f"{count(sessions, ReminderRow):,}")
    return queued


def fetch_feed(client: TestClient, path: str, patients: int, report: Report) -> None:
    """Through the app: the first GET (cold), the 304s, a second GET (warm cache)."""
    seconds, cold = timed(lambda: client.get(path))
    if cold.status_code != 200:
        raise BenchError(f"GET feed: {cold.status_code} {cold.text[:200]}")
    body, etag = cold.content, cold.headers["etag"]
    vevents = body.count(b"BEGIN:VEVENT")
    report.add("feed", "VEVENTs in the feed", f"{vevents:,} ({vevents / patients:.1f} per patient)")
    size = f"{len(body):,} bytes ({len(body) / 2**20:.1f} MiB, {len(body) / max(vevents, 1):.0f} per VEVENT)"
    report.add("feed", "feed size", size)
    report.add("feed", "**first GET, cold cache** (ETag query + render)", f"**{seconds:.2f} s**")

    def not_modified() -> None:
        answer = client.get(path, headers={"If-None-Match": etag})
        if answer.status_code != 304:
            raise BenchError(f"conditional GET: {answer.status_code}, not 304")

    times = repeated(not_modified, NOT_MODIFIED_REQUESTS)
    report.add(
        "feed",
        f"**304 to `If-None-Match`**, median / p95 / max of {NOT_MODIFIED_REQUESTS}",
        f"**{spread_ms(times)} ms**",
    )
    seconds, warm = timed(lambda: client.get(path))
    if warm.status_code != 200 or warm.content != body:
        raise BenchError("second GET: not the same feed")
    report.add("feed", "second full GET, cache warm (ETag query + cached body)", ms(seconds))


def refused_404s(client: TestClient, sessions: sessionmaker[Session], report: Report) -> None:
    """The 404 of a wrong, a revoked and a malformed token: the same lookup, so the same time."""
    revoked = create_feed(sessions, "navigator", NAVIGATOR, BASE_URL)
    revoke_feed(sessions, revoked.id)
    paths = {
        "wrong": "/feeds/" + "A" * 43 + ".ics",
        "revoked": revoked.url.removeprefix(BASE_URL),
        "malformed": "/feeds/%00'--;<x>.ics",
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(NOT_MODIFIED_REQUESTS):  # interleaved, so the machine's drift hits all three alike
        for name, path in paths.items():
            seconds, answer = timed(lambda path=path: client.get(path))
            if answer.status_code != 404:
                raise BenchError(f"{path}: {answer.status_code}, not 404")
            times[name].append(seconds)
    medians = [f"{name} {statistics.median(values) * 1000:.2f}" for name, values in times.items()]
    report.add("feed", f"404 median ms, of {NOT_MODIFIED_REQUESTS} each", " / ".join(medians))


def feed_part(url: str, args: argparse.Namespace, folder: Path, report: Report) -> None:
    with opened(url) as (engine, sessions):
        patients = store_cohort(sessions, args, report)
        analyze(engine)
        path = create_feed(sessions, "navigator", NAVIGATOR, BASE_URL).url.removeprefix(BASE_URL)
        settings = Settings(
            env="development", database_url=url, data_dir=folder, as_of=AS_OF, base_url=BASE_URL
        )
        with TestClient(create_web_app(settings, sessions)) as client:
            fetch_feed(client, path, len(patients), report)
            refused_404s(client, sessions, report)

        with sessions() as session:
            feed = find_feed(session, path.removeprefix("/feeds/").removesuffix(".ics"))
            assert feed is not None
            times = repeated(lambda: render(session, feed, AS_OF), RENDER_REPEATS)
            best = f"{times[0]:.2f} / {statistics.median(times):.2f} s"
            report.add("feed", f"`render()` alone, best / median of {RENDER_REPEATS}", best)
            times = repeated(lambda: feed_etag(session, feed, AS_OF), ETAG_REPEATS)
            spread = f"{spread_ms(times)} ms"
            report.add("feed", f"`feed_etag()` alone, median / p95 / max of {ETAG_REPEATS}", spread)
            with captured_selects(engine) as seen:
                feed_etag(session, feed, AS_OF)
            session.rollback()
        report.plans.append(("`feed_etag()` (every feed request)", explain(engine, *seen[-1])))


# ---- part 2: dispatch -----------------------------------------------------------------------------


def reminder_rows(total: int, due: int, patients: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """``total`` planned reminders, ``due`` of them (evenly spread) with a notice day on or up to
    two days before AS_OF (the first stage, advance or due, has come), the rest due 30 days to five
    years ahead, whose first notice is still to come."""
    rng = random.Random(seed)
    due_every = total / due if due else 0.0
    next_due = 0.0
    now = utcnow()
    for i in range(total):
        kind = KINDS[i % len(KINDS)]
        window = 14 if kind.startswith("lab") else 30
        lead = dt.timedelta(days=lead_days(DEFAULT_PROFILE, kind))
        if due and i >= next_due:
            notice_on = AS_OF - dt.timedelta(days=rng.randrange(3))
            due_on = notice_on + lead
            next_due += due_every
        else:
            due_on = AS_OF + dt.timedelta(days=rng.randrange(30, 5 * 365))
            notice_on = first_notice_on(kind, due_on, window, DEFAULT_PROFILE)
        yield (
            f"B{i // REMINDERS_PER_PATIENT % patients:06d}", f"{kind}:bench_series:{i}", kind, due_on,
            window, "planned", "bench_series", "Synthetic reminder for the benchmark.",
            "Synthetic citation.", 1, notice_on, now, now,
        )  # fmt: skip


def sent_rows(total: int, reminders: int, patients: int) -> Iterator[tuple[Any, ...]]:
    """``total`` notifications already sent (the history a year of running leaves)."""
    sent_at = utcnow() - dt.timedelta(days=30)
    day = AS_OF - dt.timedelta(days=30)
    for i in range(total):
        reminder_id = i % reminders + 1
        yield (
            f"reminder:{reminder_id}:history{i // reminders}:1", "advance", "patient", reminder_id,
            f"B{(reminder_id - 1) // REMINDERS_PER_PATIENT % patients:06d}", 1, day, day, "sent", 1,
            sent_at, sent_at, sent_at, sent_at,
        )  # fmt: skip


def idle_tick(sessions: sessionmaker[Session]) -> None:
    """What a clock tick costs when there is nothing to do."""
    if create_due_notices(sessions, AS_OF, DEFAULT_PROFILE) or claim_sendable(
        sessions, utcnow(), STALE_AFTER
    ):
        raise BenchError("an idle tick found work")


def load_reminders(engine: Engine, args: argparse.Namespace, patients: int) -> None:
    now = utcnow()
    with engine.begin() as conn:
        for first in range(0, patients, INSERT_BATCH):
            conn.execute(
                insert(PatientRow),
                [
                    {"patient_id": f"B{i:06d}", "navigator_id": f"nav-{i % 20:02d}",
                     "email": f"b{i}@example.org", "timezone": "UTC", "is_active": True, "created_at": now}
                    for i in range(first, min(patients, first + INSERT_BATCH))
                ],
            )  # fmt: skip
    rows = reminder_rows(args.reminders, args.due, patients, args.seed)
    bulk_load(engine, "reminders", REMINDER_COLUMNS, rows)


def idle_figures(sessions: sessionmaker[Session], report: Report, label: str) -> None:
    """Each half of an idle clock tick, then the whole tick, ``IDLE_REPEATS`` times each."""
    legend = f"{label}, median / p95 / max of {IDLE_REPEATS}"
    times = repeated(lambda: claim_sendable(sessions, utcnow(), STALE_AFTER), IDLE_REPEATS)
    report.add("dispatch", f"`claim_sendable`, empty queue{legend}", f"{spread_ms(times)} ms")
    times = repeated(lambda: create_due_notices(sessions, AS_OF, DEFAULT_PROFILE), IDLE_REPEATS)
    report.add("dispatch", f"`create_due_notices`, nothing due{legend}", f"{spread_ms(times)} ms")
    times = repeated(lambda: idle_tick(sessions), IDLE_REPEATS)
    report.add("dispatch", f"**idle tick** (both calls){legend}", f"**{spread_ms(times)} ms**")


def dispatch_part(url: str, args: argparse.Namespace, report: Report) -> None:
    part = "dispatch"
    patients = max(1, args.reminders // REMINDERS_PER_PATIENT)
    with opened(url) as (engine, sessions):
        load_s, _ = timed(lambda: load_reminders(engine, args, patients))
        analyze_s, _ = timed(lambda: analyze(engine))
        due = count(sessions, ReminderRow, ReminderRow.notice_on <= AS_OF)
        total = count(sessions, ReminderRow)
        report.add(part, "patients / reminders / `notice_on` ≤ today", f"{patients:,} / {total:,} / {due:,}")
        report.add(
            part, "bulk load (COPY, or 10k-row inserts) / ANALYZE", f"{load_s:.1f} s / {analyze_s:.1f} s"
        )

        with captured_selects(engine) as seen:
            seconds, created = timed(lambda: create_due_notices(sessions, AS_OF, DEFAULT_PROFILE))
        if created != due:
            raise BenchError(f"create_due_notices wrote {created:,} rows for {due:,} due reminders")
        per_row = f"**{seconds:.2f} s** ({ms(seconds / max(created, 1))} per row)"
        report.add(part, f"**`create_due_notices`** ({created:,} outbox rows written)", per_row)
        report.plans.append(
            (
                "`create_due_notices()`: the locked batch",
                explain(engine, *next(s for s in seen if "FROM reminders" in s[0])),
            )
        )
        report.plans.append(
            (
                "`create_due_notices()`: what was already told, per batch",
                explain(engine, *next(s for s in seen if "FROM notifications" in s[0])),
            )
        )

        claims: list[tuple[float, int]] = []  # as the clock does: at most CLAIM_BATCH a call
        while (claim := timed(lambda: claim_sendable(sessions, utcnow(), STALE_AFTER)))[1]:
            claims.append((claim[0], len(claim[1])))
        claimed = sum(n for _, n in claims)
        if claimed != created:
            raise BenchError(f"claimed {claimed:,} of {created:,} outbox rows")
        calls = " + ".join(ms(seconds) for seconds, _ in claims)
        report.add(
            part,
            f"**`claim_sendable`** until all are queued ({len(claims)} calls of ≤ {CLAIM_BATCH:,})",
            f"**{sum(seconds for seconds, _ in claims) * 1000:,.0f} ms** for {claimed:,} rows ({calls})",
        )
        with captured_selects(engine) as seen:
            seconds, _ = timed(lambda: claim_sendable(sessions, utcnow(), STALE_AFTER))
        report.add(part, "`claim_sendable`, empty queue: first call", ms(seconds))
        report.plans.append(("`claim_sendable()`, empty queue", explain(engine, *seen[0])))
        idle_figures(sessions, report, f" ({claimed:,} rows still queued)")

        if args.sent:
            start = time.perf_counter()
            with engine.begin() as conn:  # the workers sent the claimed ones
                conn.execute(text("UPDATE notifications SET status = 'sent', sent_at = claimed_at"))
            bulk_load(engine, "notifications", SENT_COLUMNS, sent_rows(args.sent, args.reminders, patients))
            analyze(engine)
            loaded = f"{count(sessions, NotificationRow):,} in all ({time.perf_counter() - start:.1f} s)"
            report.add(part, "then: outbox history (sent rows) loaded + ANALYZE", loaded)
            idle_figures(sessions, report, f" (+ {args.sent:,} sent rows)")
            report.plans.append(
                (f"`claim_sendable()`, empty queue, {args.sent:,} sent rows", explain(engine, *seen[0]))
            )


# ---- output and main ------------------------------------------------------------------------------


def print_report(report: Report, args: argparse.Namespace, version: str) -> None:
    backend = "PostgreSQL" if args.backend == "postgresql" else "SQLite"
    print(f"gist-scheduler notifications benchmark ({backend} {version}, as of {AS_OF}, seed {args.seed})")
    print()
    print("| part | figure | value |")
    print("|---|---|---|")
    for part, figure, value in report.rows:
        print(f"| {part} | {figure} | {value} |")
    for title, plan in report.plans:
        print()
        print(f"Plan of {title}:")
        print("```")
        print(plan)
        print("```")
    print()
    print(
        f"Machine: {cpu_model()} ({os.cpu_count()} logical CPUs), Python {platform.python_version()}, "
        f"{backend} {version}. Command: benchmarks/notify_bench.py " + " ".join(sys.argv[1:])
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--patients", type=int, default=2000, help="patients of the navigator's feed (2,000)")
    ap.add_argument("--reminders", type=int, default=1_000_000, help="reminders for dispatch (1,000,000)")
    ap.add_argument("--due", type=int, default=1000, help="of which due today (1,000)")
    ap.add_argument(
        "--sent", type=int, default=1_000_000, help="sent outbox rows of history, then (1,000,000; 0: none)"
    )
    ap.add_argument("--backend", choices=BACKENDS, default="postgresql", help="database (postgresql)")
    ap.add_argument("--parts", default="feed,dispatch", help="comma-separated: feed,dispatch (both)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic data (1)")
    ap.add_argument("--keep", action="store_true", help="keep the databases (and SQLite files); print where")
    ap.add_argument(
        "--postgres-url",
        default=os.environ.get("GIST_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server for the throwaway databases (GIST_BENCH_POSTGRES_URL; default %(default)s)",
    )
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or any(p not in ("feed", "dispatch") for p in parts):
        ap.error(f"--parts: a comma-separated list of feed, dispatch (got {args.parts!r})")
    if args.patients < 1 or args.reminders < 1 or not 0 <= args.due <= args.reminders or args.sent < 0:
        ap.error("--patients and --reminders must be positive, 0 ≤ --due ≤ --reminders, --sent ≥ 0")

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    cleanup = contextlib.ExitStack()
    try:
        folder = Path(tempfile.mkdtemp(prefix="gist-notify-bench-"))
        if args.keep:
            print(f"  --keep: files in {folder}", file=sys.stderr)
        else:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        databases = Databases(args, folder, cleanup)
        report = Report()
        if "feed" in parts:
            feed_part(databases.create("feed"), args, folder, report)
        if "dispatch" in parts:
            dispatch_part(databases.create("dispatch"), args, report)
        print_report(report, args, databases.version)
        return 0
    except BenchError as exc:
        print(f"notify_bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("notify_bench: interrupted; dropping the databases", file=sys.stderr)
        return 130
    finally:
        close_quietly(cleanup)


if __name__ == "__main__":
    sys.exit(main())
