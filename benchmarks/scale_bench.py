"""What the clock's daily tick costs on a large cohort, day after day: change-driven against everyone.

    .venv/bin/python benchmarks/scale_bench.py [--patients 100000] [--days 30] [--events-share 0.01]
                                               [--baseline-days 1] [--baseline-sample N]
                                               [--templates 1000] [--shifts 8] [--spread-days 56]
                                               [--workers 2] [--seed 1] [--keep] [--postgres-url URL]

1. **Seed** a throwaway PostgreSQL database (``notify_bench.Databases``, migrated, dropped at the end
   unless ``--keep``) with COPY (``notify_bench.bulk_load``), in blocks of 2,000 patients as
   ``web_bench.py`` does, with exactly the rows ``process_patient`` would store as of day D0
   (2026-11-27): every reminder of the plan (no cut) with its ``overdue_from`` and first
   ``notice_on``; the state with ``recompute_on`` (``processing.recompute_on``), ``planner_hash``,
   ``profile_hash`` and ``events_seen``; the active alerts; the contact details of the registration;
   every event processed. A check recomputes ``--check`` random seeded patients with ``force`` as of
   D0 in-process and fails unless they write nothing (no INSERT, UPDATE or DELETE sent).

   *Spreading the dates.* Each of ``--templates`` synthetic histories (``synthetic.py``, which end
   on or before D0 − 1) is shifted back whole (every ``occurred_on``; the histories carry no other
   date) by each of ``--shifts`` offsets evenly spread over 0 … ``--spread-days`` days, and each
   shifted history is planned as of D0 (``web_bench.plan_template``): ``templates × shifts`` real
   plans, none assumed from another by shifting. Each patient copies one drawn at random (new ids,
   name, email; navigators ``nav-00`` … round-robin over ``--navigators``). A shifted copy is a
   patient whose story happened that many days earlier, so the cohort's change days are not those
   of 1,000 stories only, and no patient's dates are invented beyond its own history. Every stored
   plan is dated D0, as if the whole cohort had been recomputed that day (what the everyone-clock
   left behind): the 90-day re-sweep bound (``RESWEEP_DAYS``) of plans with no nearer change day
   therefore falls on D0 + 90 for all of them, after a 30-day month.
2. **Simulate days** D0 + 1 … D0 + ``--days`` on a private ``redis-server`` with ``--workers`` real
   ``gistsched worker --concurrency 1`` processes (``pipeline_bench``), in the clinic's order:

   * *the clock's daily run* at 02:00: ``clock_jobs.run_daily_recompute`` called in-process (the
     function ``gistsched clock`` runs once a day; ``GIST_DAILY_RECOMPUTE=due``), its
     ``patients.process_batch`` messages (``force``) sent to the workers as the clock sends them.
     Timed from the call until the queue is empty and nothing is unacknowledged (``acks_late``: every
     queued patient processed); the call's own SQL is timed per statement (the status UPDATE, the
     due-patient query);
   * *the day's events*: ``--events-share`` of the active patients, drawn at random, each get one
     event dated that day — a lab result repeating their latest test (value ± 15 %), an imaging
     result in their latest modality (no evidence of disease, stable or response as before; stable
     otherwise) or a clinic visit — submitted by a ``gistsched submit FILE`` subprocess (the real
     intake, its patients queued in batches); timed until every event is processed.

   The workers read ``GIST_AS_OF`` (``Settings.today()``) once, at start, so they are started
   afresh, pinned to the simulated day, for each phase (start-up and a warm-up task untimed). That
   also gives honest write counts: PostgreSQL flushes a backend's table statistics when it exits
   (or idles for a while), so once the phase's workers, the ``submit`` process and this script's
   connections (no pooling: ``NullPool``) are gone, ``pg_stat_user_tables`` (inserted + updated +
   deleted tuples per table) is read, and the phase's rows written are the difference. The
   workers' own log lines give the recomputes and, per patient, the reminders inserted / updated /
   cancelled and alerts raised / resolved.
3. **The baseline**, in the same run and on the same database, after the month:
   ``--baseline-days`` more days, shaped alike, whose daily run recomputes every active patient
   (``GIST_DAILY_RECOMPUTE=all``). With ``--baseline-sample N`` only the status UPDATE, the active
   query and N random active patients are run, and the tick's wall time is extrapolated:
   ``UPDATE + query + drain(N) × active / N`` (labelled *extrapolated*).

Prints Markdown tables to stdout (progress on stderr); docs/performance.md §6 quotes them. Every
process and the database are removed at the end, also on an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
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

from notify_bench import Databases, bulk_load, explain, opened
from pipeline_bench import (
    DEFAULT_POSTGRES_URL,
    GISTSCHED,
    BenchError,
    RedisServer,
    Worker,
    check_alive,
    close_quietly,
    run_gistsched,
    start_workers,
    stop_workers,
    tail,
    wait_for,
)
from plan_bench import cpu_model
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool
from synthetic import synthetic_histories
from web_bench import (
    ALERT_COLUMNS,
    AS_OF,
    BLOCK,
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    Block,
    Counters,
    Template,
    at,
    load_average,
    move_sequences,
    numbered_events,
    plan_template,
    stored_events,
    vacuum_analyze,
)
from web_bench import REMINDER_COLUMNS as WEB_REMINDER_COLUMNS
from web_bench import STATE_COLUMNS as WEB_STATE_COLUMNS

from models.db import make_engine, make_sessionmaker
from models.rows import AlertRow, EventRow, PatientRow, PatientStateRow, ProcessingFailureRow, ReminderRow
from models.types import utcnow
from scheduler.config.planner_version import planner_hash
from scheduler.config.profiles import profile_hash
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.outbox import initial_notice_on
from scheduler.operations.clock_jobs import ClockState, run_daily_recompute
from scheduler.patients.processing import process_patient
from scheduler.patients.repository import active_patient_ids, advance_statuses
from tasks.app import get_app
from tasks.base import send_batches, send_process

D0 = AS_OF  # the seeded plans' day; the synthetic histories end the day before
TARGET_TICK_S = 60.0
TARGET_SHARE = 0.05
STATE_COLUMNS = (*WEB_STATE_COLUMNS, "profile_hash", "planner_hash", "recompute_on")
REMINDER_COLUMNS = (
    *WEB_REMINDER_COLUMNS, "overdue_from", "appointment_on", "appointment_place", "snoozed_until", "waiver",
)  # fmt: skip
SHOWN_TABLES = ("reminders", "patient_states", "patients", "alerts", "events", "notifications")
WARM_UP_ID = "scale-bench-warm-up"  # no such patient: the task locks nothing, writes nothing
PROCESSED = re.compile(
    r"patients\.process (\S+): (\d+) event\(s\); reminders \+(\d+) ~(\d+) -(\d+); alerts \+(\d+) -(\d+)"
)
BATCH_PROCESSED = re.compile(
    r"patients\.process_batch: \d+ patient\(s\), (\d+) processed; \d+ event\(s\); "
    r"reminders \+(\d+) ~(\d+) -(\d+); alerts \+(\d+) -(\d+)"
)
KEPT_RESULTS = frozenset({"no_evidence_of_disease", "stable", "response"})
EVENT_KINDS = (("lab_result", 0.45), ("imaging", 0.30), ("visit", 0.25))


def recomputes_logged(log: str) -> tuple[int, list[int]]:
    """Patients recomputed in a worker's log, and their reminders + ~ − and alerts + −: one per
    ``patients.process`` line, the processed count of each ``patients.process_batch`` line."""
    recomputed, changes = 0, [0, 0, 0, 0, 0]
    for found in PROCESSED.finditer(log):
        recomputed += 1
        changes = [total + int(found[3 + k]) for k, total in enumerate(changes)]
    for found in BATCH_PROCESSED.finditer(log):
        recomputed += int(found[1])
        changes = [total + int(found[2 + k]) for k, total in enumerate(changes)]
    return recomputed, changes


# ---- seeding ----------------------------------------------------------------------------------------


def offsets(shifts: int, spread_days: int) -> list[int]:
    """``shifts`` offsets in days, evenly spread over 0 … ``spread_days``."""
    if shifts == 1:
        return [0]
    return sorted({round(j * spread_days / (shifts - 1)) for j in range(shifts)})


def shifted(history: Sequence[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The history moved ``days`` earlier, whole."""
    delta = dt.timedelta(days=days)
    return [
        {**obj, "occurred_on": (dt.date.fromisoformat(obj["occurred_on"]) - delta).isoformat()}
        for obj in history
    ]


def make_variants(args: argparse.Namespace) -> list[Template]:
    """Every synthetic history shifted by every offset, each planned as of D0."""
    days = offsets(args.shifts, args.spread_days)
    return [
        plan_template(shifted(history, k), D0)
        for history in synthetic_histories(args.templates, args.seed)
        for k in days
    ]


@dataclass(frozen=True)
class Stamps:
    """What ``store_plan`` records beside the plan."""

    profile_hash: str = field(default_factory=lambda: profile_hash(DEFAULT_PROFILE))
    planner_hash: str = field(default_factory=planner_hash)


def build_block(
    first: int,
    last: int,
    variants: Sequence[Template],
    args: argparse.Namespace,
    ids: Counters,
    stamps: Stamps,
) -> Block:
    """The rows of patients ``first`` … ``last - 1``, as ``process_patient`` stores them as of D0."""
    rng = random.Random(f"{args.seed}:{first}")
    block = Block()
    events: list[tuple[dt.date, str, int, tuple[Any, ...]]] = []
    reminders: list[tuple[dt.date, str, tuple[Any, ...]]] = []
    for i in range(first, last):
        t = variants[rng.randrange(len(variants))]
        pid, nav = f"P{i:06d}", f"nav-{i % args.navigators:02d}"
        name, email = f"Bench Patient {i}", f"patient{i}@example.org"
        computed = at(D0, 2, rng.randrange(60))
        block.patients.append((pid, nav, name, email, t.timezone, t.stage != "ended", at(t.events[0][2])))
        block.states.append((pid, D0, t.stage, t.risk, t.therapy, DEFAULT_PROFILE.name, len(t.events),
                             computed, stamps.profile_hash, stamps.planner_hash, t.recompute_on))  # fmt: skip
        events.extend(stored_events(t, pid, name, email, nav, rng))
        for r in t.reminders:
            ids.reminder_id += 1
            created = at(min(r.due_on - dt.timedelta(days=90), D0), 2)
            completed_by = r.completed_by.replace(t.pid, pid, 1) if r.completed_by else None
            notice_on = initial_notice_on(r.kind, r.due_on, r.window_days, r.status, DEFAULT_PROFILE)
            overdue_from = r.due_on + dt.timedelta(days=r.window_days + 1)
            waiver = json.dumps(r.waiver.to_json()) if r.waiver is not None else None
            reminder = (ids.reminder_id, pid, nav, r.key, r.kind, r.due_on, r.window_days, r.status,
                        r.rule, r.rationale, r.citation, r.completed_on, completed_by, r.cancelled_on, 1,
                        notice_on, created, created, r.overdue_since, r.missed, r.last_done_on,
                        overdue_from, r.appointment_on, r.appointment_place, r.snoozed_until,
                        waiver)  # fmt: skip
            reminders.append((r.due_on, pid, reminder))
        for code, rule, severity, message, citation in t.alerts:
            ids.alert_id += 1
            seen = at(D0 - dt.timedelta(days=rng.randrange(1, 90)), 2)
            block.alerts.append((ids.alert_id, pid, nav, code, rule, severity, message, citation, True, seen,
                                 seen, None, None, None))  # fmt: skip
    block.events = numbered_events(events, ids)
    block.reminders = [row for *_, row in sorted(reminders, key=lambda r: r[:2])]
    return block


def seed(engine: Engine, args: argparse.Namespace, report: Report) -> None:
    start = time.perf_counter()
    variants = make_variants(args)
    plan_s = time.perf_counter() - start
    report.add(
        "seed",
        f"plans copied (synthetic histories × shifts of "
        f"{', '.join(map(str, offsets(args.shifts, args.spread_days)))} days, seed {args.seed})",
        f"{len(variants):,} planned as of {D0} in {plan_s:.0f} s; "
        f"{statistics.fmean(len(t.reminders) for t in variants):.1f} reminders each (all kept)",
    )
    ids, stamps = Counters(), Stamps()
    tables = (
        ("patients", PATIENT_COLUMNS, "patients"), ("patient_states", STATE_COLUMNS, "states"),
        ("reminders", REMINDER_COLUMNS, "reminders"), ("events", EVENT_COLUMNS, "events"),
        ("alerts", ALERT_COLUMNS, "alerts"),
    )  # fmt: skip
    for first in range(0, args.patients, BLOCK):
        block = build_block(first, min(args.patients, first + BLOCK), variants, args, ids, stamps)
        for table, columns, attr in tables:
            bulk_load(engine, table, columns, getattr(block, attr))
        done = min(args.patients, first + BLOCK)
        if done % (10 * BLOCK) == 0 or done == args.patients:
            print(
                f"  seed: {done:,} patients, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True
            )
    move_sequences(engine)
    load_s = time.perf_counter() - start
    vacuum_s = time.perf_counter()
    vacuum_analyze(engine)
    vacuum_s = time.perf_counter() - vacuum_s
    report.add("seed", "plan + generate + COPY / VACUUM (ANALYZE)", f"{load_s:.0f} s / {vacuum_s:.0f} s")


def describe(sessions: sessionmaker[Session], report: Report) -> None:
    with sessions() as session:

        def n(row: Any, *where: Any) -> int:
            return session.scalar(select(func.count()).select_from(row).where(*where)) or 0

        patients, active = n(PatientRow), n(PatientRow, PatientRow.is_active.is_(True))
        reminders, events = n(ReminderRow), n(EventRow)
        alerts = n(AlertRow, AlertRow.is_active.is_(True))
        days = session.execute(
            select(PatientStateRow.recompute_on, func.count())
            .join(PatientRow, PatientRow.patient_id == PatientStateRow.patient_id)
            .where(PatientRow.is_active.is_(True))
            .group_by(PatientStateRow.recompute_on)
        ).all()
        size = session.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    report.add("data", "patients / active", f"{patients:,} / {active:,}")
    per_patient = reminders / max(patients, 1)
    report.add(
        "data",
        "reminders / events / active alerts",
        f"{reminders:,} ({per_patient:.1f} a patient) / {events:,} / {alerts:,}",
    )

    def share(lo: int, hi: int) -> str:
        k = sum(c for day, c in days if day is not None and lo <= (day - D0).days <= hi)
        return f"{k / max(active, 1):.1%}"

    report.add(
        "data",
        "active patients by stored `recompute_on` (days after D0)",
        f"1–7: {share(1, 7)}, 8–30: {share(8, 30)}, 31–89: {share(31, 89)}, 90: {share(90, 90)}",
    )
    report.add("data", "database size", str(size))


@contextlib.contextmanager
def writes_sent(engine: Engine) -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements sent while inside."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def check_unchanged(url: str, count: int, seed_: int, report: Report) -> None:
    """Recompute ``count`` random seeded patients as of D0 with ``force``: nothing may be written."""
    with opened(url) as (engine, sessions):
        with sessions() as session:
            ids = list(session.scalars(select(PatientRow.patient_id).order_by(PatientRow.patient_id)))
        picked = random.Random(seed_).sample(ids, min(count, len(ids)))
        with writes_sent(engine) as seen:
            results = [process_patient(sessions, pid, D0, force=True) for pid in picked]
    changed = [
        r for r in results if r.inserted or r.updated or r.cancelled or r.alerts_raised or r.alerts_resolved
    ]
    if seen or changed:
        raise BenchError(
            f"seeded rows differ from what processing stores: {len(seen)} write statement(s), e.g. "
            f"{seen[:3]}; changed results {changed[:3]}"
        )
    report.add("seed", f"check: {len(picked)} seeded patients recomputed as of D0 with force",
               "0 rows inserted / updated / deleted (no write statement sent)")  # fmt: skip


# ---- the simulated days -----------------------------------------------------------------------------


@dataclass
class Phase:
    day: dt.date
    kind: str  # "due", "all", "all, sample N" (a daily run) or "events"
    active: int
    queued: int = 0
    recomputed: int = 0
    wall_s: float = 0.0
    clock_s: float = 0.0  # the run_daily_recompute call (or, sampled: the UPDATE and the query)
    update_s: float = 0.0
    query_s: float = 0.0
    moved: int = 0
    changes: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])  # reminders + ~ -, alerts + -
    writes: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    submit_s: float = 0.0  # the events' `gistsched submit` subprocess alone
    extrapolated_s: float | None = None

    @property
    def is_tick(self) -> bool:
        return self.kind != "events"

    @property
    def share(self) -> float:
        return self.queued / max(self.active, 1)

    def recompute_ms(self, workers: int) -> float:
        """Worker time per recompute: the drain after the clock's call, times the workers."""
        return (self.wall_s - self.clock_s) * workers * 1000 / max(self.recomputed, 1)

    @property
    def rows(self) -> int:
        return sum(self.writes.values())

    def rows_text(self) -> str:
        order = {name: k for k, name in enumerate(SHOWN_TABLES)}
        tables = sorted(
            (n for n in self.writes if self.writes[n]), key=lambda n: (order.get(n, len(order)), n)
        )
        shown = " · ".join(f"{name.removeprefix('patient_')} {self.writes[name]:,}" for name in tables)
        return f"{self.rows:,}" + (f" ({shown})" if shown else "")


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    plans: list[tuple[str, str]] = field(default_factory=list)

    def add(self, part: str, figure: str, value: str) -> None:
        self.rows.append((part, figure, value))
        print(f"  {part}: {figure}: {value}", file=sys.stderr, flush=True)


@dataclass
class Statement:
    sql: str
    parameters: Any
    seconds: float
    rowcount: int


@contextlib.contextmanager
def statements_timed(engine: Engine) -> Iterator[list[Statement]]:
    seen: list[Statement] = []
    started: dict[int, float] = {}

    def before(_conn: Any, cursor: Any, _statement: str, _params: Any, _ctx: Any, _many: bool) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(_conn: Any, cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seconds = time.perf_counter() - started.pop(id(cursor))
        seen.append(Statement(" ".join(statement.split()), params, seconds, cursor.rowcount))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def next_events(
    sessions: sessionmaker[Session], patients: Sequence[str], day: dt.date, rng: random.Random
) -> list[dict[str, Any]]:
    """One event dated ``day`` for each of ``patients``, like the ones they already have."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    with sessions() as session:
        for start in range(0, len(patients), 500):
            found = session.execute(
                select(EventRow.patient_id, EventRow.type, EventRow.payload)
                .where(EventRow.patient_id.in_(patients[start : start + 500]),
                       EventRow.type.in_(("lab_result", "imaging")))
                .order_by(EventRow.patient_id, EventRow.type, EventRow.occurred_on, EventRow.id)
            )  # fmt: skip
            for pid, type_, payload in found:
                latest[(pid, type_)] = payload["data"]  # the last one wins
    made = []
    for pid in patients:
        kind = rng.choices([k for k, _ in EVENT_KINDS], weights=[w for _, w in EVENT_KINDS])[0]
        before = latest.get((pid, kind))
        if kind == "lab_result" and before is not None:
            data = {**before, "value": round(before["value"] * rng.uniform(0.85, 1.15), 1)}
        elif kind == "imaging" and before is not None:
            result = before.get("result")
            data = {"modality": before["modality"], "result": result if result in KEPT_RESULTS else "stable"}
        else:
            kind, data = "visit", {"kind": "clinic_visit"}
        made.append({"event_id": f"{pid}-{day:%Y%m%d}", "patient_id": pid, "type": kind,
                     "occurred_on": day.isoformat(), "data": data})  # fmt: skip
    return made


@dataclass
class Simulation:
    args: argparse.Namespace
    url: str
    folder: Path
    redis: RedisServer
    report: Report
    rng: random.Random
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    settings: Settings = field(init=False)
    serial: int = 0
    clock_sql: list[Statement] = field(default_factory=list)  # the last change-driven run's

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url, poolclass=NullPool)  # no idle connection holds statistics back
        self.sessions = make_sessionmaker(self.engine)
        self.settings = Settings(
            env="development", database_url=self.url, broker_url=self.redis.url, data_dir=self.folder / "data"
        )

    def close(self) -> None:
        self.engine.dispose()

    def env(self, day: dt.date, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
        env.update(
            GIST_ENV="development", GIST_DATABASE_URL=self.url, GIST_BROKER_URL=self.redis.url,
            GIST_DATA_DIR=str(self.folder / "data"), GIST_AS_OF=day.isoformat(), GIST_WORKER_CONCURRENCY="1",
            PYTHONUNBUFFERED="1",
        )  # fmt: skip
        env.update(extra)
        return env

    # -- measuring -------------------------------------------------------------------------------------

    def table_writes(self) -> dict[str, int]:
        """Tuples inserted + updated + deleted per table so far, once every other client has left
        (a backend flushes its statistics as it exits)."""
        mine = "SELECT pg_backend_pid()"
        others = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND backend_type = 'client backend' AND pid <> ({mine})"
        )

        def alone() -> bool:
            with self.engine.connect() as conn:
                return bool(conn.scalar(others) == 0)

        wait_for(alone, 60, "the other database clients to leave", interval=0.05)

        def read() -> dict[str, int]:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables")
                )
                return {name: int(n) for name, n in rows}

        seen, previous = read(), None
        while seen != previous:  # the last backend's flush can trail its exit by a moment
            time.sleep(0.2)
            previous, seen = seen, read()
        return seen

    def failures(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(ProcessingFailureRow)) or 0

    def active(self) -> list[str]:
        with self.sessions() as session:
            return active_patient_ids(session)

    @contextlib.contextmanager
    def workers(self, day: dt.date, label: str) -> Iterator[list[Worker]]:
        """Fresh workers pinned to ``day``, warmed up (one connection each), stopped at the end."""
        self.serial += 1
        folder = self.folder / f"{self.serial:03d}-{label}"
        folder.mkdir(parents=True)
        workers: list[Worker] = []
        try:
            start_workers(
                workers, self.args.workers, folder, label, lambda name: self.env(day, GIST_WORKER_NAME=name)
            )
            app = get_app(self.settings)
            for _ in range(2 * self.args.workers):
                send_process(app, WARM_UP_ID)
            self.drain(workers, "the warm-up tasks")
            yield workers
        finally:
            stop_workers(workers)

    def drain(self, workers: Sequence[Worker], what: str, extra: Callable[[], bool] = lambda: True) -> None:
        def drained() -> bool:
            check_alive(workers)
            return self.redis.idle() and extra()

        try:
            wait_for(drained, self.args.timeout, what, interval=0.02)
        except BenchError as exc:
            logs = "\n".join(f"  {w.name} (last lines):\n{tail(w.log_path)}" for w in workers)
            raise BenchError(f"{exc}\n{logs}") from None

    def phase(
        self, day: dt.date, kind: str, label: str, action: Callable[[Phase, list[Worker]], None]
    ) -> Phase:
        before, failed = self.table_writes(), self.failures()
        result = Phase(day, kind, active=len(self.active()))
        with self.workers(day, label) as workers:
            action(result, workers)
            logs = [w.log() for w in workers]
            result.retries = sum(w.retries() for w in workers)
        for log in logs:
            recomputed, changes = recomputes_logged(log)
            result.recomputed += recomputed
            result.changes = [a + b for a, b in zip(result.changes, changes, strict=True)]
        after = self.table_writes()
        result.writes = {t: n - before.get(t, 0) for t, n in after.items() if n != before.get(t, 0)}
        if self.failures() != failed:
            raise BenchError(f"{label}: {self.failures() - failed} processing failure(s)")
        self.report.phases.append(result)
        print(f"  {day} {kind}: {phase_line(result)}", file=sys.stderr, flush=True)
        return result

    # -- the two phases of a day -----------------------------------------------------------------------

    def daily_run(self, day: dt.date, mode: str, sample: int | None) -> Phase:
        kind = mode if sample is None else f"all, sample {sample:,}"

        def act(result: Phase, workers: list[Worker]) -> None:
            app = get_app(self.settings)
            settings = self.settings.model_copy(update={"as_of": day, "daily_recompute": mode})
            with statements_timed(self.engine) as seen:
                start = time.perf_counter()
                if sample is None:
                    queued = run_daily_recompute(
                        self.sessions, settings, lambda pids, force: send_batches(app, pids, force=force),
                        ClockState(), utcnow(),
                    )  # fmt: skip
                    if queued is None:
                        raise BenchError(f"the daily run for {day} did not run")
                    result.queued = len(queued)
                else:
                    with self.sessions.begin() as session:
                        advance_statuses(session, day, utcnow())
                    everyone = self.active()
                    picked = self.rng.sample(everyone, min(sample, len(everyone)))
                    prepared = time.perf_counter()
                    send_batches(app, picked, force=True)  # as GIST_DAILY_RECOMPUTE=all does
                    result.queued = len(picked)
                result.clock_s = time.perf_counter() - start
                self.drain(workers, f"the daily run of {day} to be processed")
                result.wall_s = time.perf_counter() - start
            if mode == "due":
                self.clock_sql = seen
            updates = [s for s in seen if s.sql.startswith(("UPDATE patients", "UPDATE reminders"))]
            result.update_s = sum(s.seconds for s in updates)
            result.moved = sum(s.rowcount for s in updates if s.sql.startswith("UPDATE reminders"))
            result.query_s = sum(s.seconds for s in seen if s.sql.startswith("SELECT patients.patient_id"))
            if sample is not None:
                result.clock_s = prepared - start
                result.extrapolated_s = result.clock_s + (
                    result.wall_s - result.clock_s
                ) * result.active / max(result.queued, 1)

        return self.phase(day, kind, f"{day:%m%d}-clock", act)

    def day_events(self, day: dt.date) -> Phase:
        def act(result: Phase, workers: list[Worker]) -> None:
            everyone = self.active()
            chosen = sorted(self.rng.sample(everyone, max(1, round(self.args.events_share * len(everyone)))))
            made = next_events(self.sessions, chosen, day, self.rng)
            path = self.folder / f"events-{day}.jsonl"
            path.write_text("".join(json.dumps(obj) + "\n" for obj in made), encoding="utf-8")
            start = time.perf_counter()
            done = run_gistsched("submit", str(path), env=self.env(day), timeout=self.args.timeout)
            result.submit_s = time.perf_counter() - start
            if done.returncode != 0 or json.loads(done.stdout or "{}").get("accepted") != len(made):
                raise BenchError(
                    f"gistsched submit ({done.returncode}): {(done.stdout + done.stderr)[:2000]}"
                )
            result.queued = len(made)

            def processed() -> bool:
                with self.sessions() as session:
                    waiting = (
                        select(func.count()).select_from(EventRow).where(EventRow.processed_at.is_(None))
                    )
                    return session.scalar(waiting) == 0

            self.drain(workers, f"the events of {day} to be processed", processed)
            result.wall_s = time.perf_counter() - start

        return self.phase(day, "events", f"{day:%m%d}-events", act)

    def run(self) -> None:
        for n in range(1, self.args.days + 1):
            day = D0 + dt.timedelta(days=n)
            self.daily_run(day, "due", None)
            self.day_events(day)
        for n in range(1, self.args.baseline_days + 1):
            day = D0 + dt.timedelta(days=self.args.days + n)
            self.daily_run(day, "all", self.args.baseline_sample)
            self.day_events(day)
        self.explain_clock()

    def explain_clock(self) -> None:
        """The plans of the last change-driven run's status UPDATE and due query, run again (in a
        rolled-back transaction) after everything else: the statistics are already read."""
        for s in self.clock_sql:
            if s.sql.startswith(("UPDATE patients", "UPDATE reminders", "SELECT patients.patient_id")):
                what = s.sql.split(" SET ")[0].split(" FROM ")[0][:40]
                title = f"{what} … ({s.seconds * 1000:,.0f} ms in the run, rows {s.rowcount:,})"
                self.report.plans.append((title, explain(self.engine, s.sql, s.parameters)))


# ---- output -------------------------------------------------------------------------------------------


def changes_text(p: Phase) -> str:
    plus, moved, cancelled, raised, resolved = p.changes
    return f"+{plus:,} ~{moved:,} −{cancelled:,} / +{raised:,} −{resolved:,}"


def phase_line(p: Phase) -> str:
    if p.is_tick:
        wall = f"{p.wall_s:.1f} s" + (f" (extrapolated {p.extrapolated_s:.0f} s)" if p.extrapolated_s else "")
        return (f"queued {p.queued:,} of {p.active:,} ({p.share:.2%}), recomputed {p.recomputed:,}, {wall}; "
                f"UPDATE {p.update_s:.2f} s moved {p.moved:,}; rows {p.rows_text()}")  # fmt: skip
    return f"{p.queued:,} patients, recomputed {p.recomputed:,}, {p.wall_s:.1f} s; rows {p.rows_text()}"


def print_report(report: Report, args: argparse.Namespace, version: str, load: str) -> None:
    print(f"gist-scheduler scale benchmark (PostgreSQL {version}, D0 {D0}, seed {args.seed}, "
          f"{args.workers} × `gistsched worker --concurrency 1`)")  # fmt: skip
    print()
    print("| part | figure | value |")
    print("|---|---|---|")
    for part, figure, value in report.rows:
        print(f"| {part} | {figure} | {value} |")
    print()
    print("The clock's daily run, per day (queued: patients sent to recompute; wall: from the call until "
          "every one is processed; reminders + new ~ updated − cancelled / alerts + raised − resolved, "
          "from the workers' logs; ms a recompute: (wall − clock call) × workers / recomputed; rows: pg_stat "
          "tuples inserted + updated + deleted):")  # fmt: skip
    print()
    print("| day | clock | active | queued (share) | recomputed | **tick wall s** | clock call s | "
          "status UPDATE s | statuses moved | due query s | ms a recompute | reminders / alerts | "
          "rows written |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in (p for p in report.phases if p.is_tick):
        wall = f"**{p.wall_s:.1f}**"
        if p.extrapolated_s is not None:
            wall = f"{p.wall_s:.1f} for {p.queued:,}; **extrapolated {p.extrapolated_s:.0f}**"
        print(f"| {p.day} | {p.kind} | {p.active:,} | {p.queued:,} ({p.share:.2%}) | {p.recomputed:,} | "
              f"{wall} | {p.clock_s:.2f} | {p.update_s:.2f} | {p.moved:,} | {p.query_s:.2f} | "
              f"{p.recompute_ms(args.workers):.0f} | "
              f"{changes_text(p)} | {p.rows_text()} |")  # fmt: skip
    print()
    print(f"The day's events (`gistsched submit`, {args.events_share:.1%} of the active patients, one "
          "event each; wall: from the submit until every event is processed):")  # fmt: skip
    print()
    print(
        "| day | patients with an event | recomputed | wall s | of which submit s | reminders / alerts "
        "| rows written |"
    )
    print("|---|---|---|---|---|---|---|")
    for p in (p for p in report.phases if not p.is_tick):
        print(f"| {p.day} | {p.queued:,} | {p.recomputed:,} | {p.wall_s:.1f} | {p.submit_s:.1f} | "
              f"{changes_text(p)} | {p.rows_text()} |")  # fmt: skip
    print()
    summarise(report, args)
    for title, plan in report.plans:
        print()
        print(f"Plan of {title}, the last change-driven run's statement run again at the end:")
        print("```")
        print(plan)
        print("```")
    print()
    print(f"Machine: {cpu_model()} ({os.cpu_count()} logical CPUs), Python {platform.python_version()}, "
          f"PostgreSQL {version}; load average {load}. Command: benchmarks/scale_bench.py "
          + " ".join(sys.argv[1:]))  # fmt: skip


def summarise(report: Report, args: argparse.Namespace) -> None:
    month = [p for p in report.phases if p.is_tick and p.kind == "due"]
    base = [p for p in report.phases if p.is_tick and p.kind != "due"]
    if not month:
        return
    walls, shares = sorted(p.wall_s for p in month), sorted(p.share for p in month)
    retries = sum(p.retries for p in report.phases)
    print(f"Change-driven daily run over {len(month)} days: tick wall median "
          f"{statistics.median(walls):.1f} s, max {walls[-1]:.1f} s; recomputed share median "
          f"{statistics.median(shares):.2%}, "
          f"max {shares[-1]:.2%}; rows written median {statistics.median(p.rows for p in month):,.0f}; "
          f"status UPDATE median {statistics.median(p.update_s for p in month):.2f} s; ms a recompute "
          f"median {statistics.median(p.recompute_ms(args.workers) for p in month):.0f}; "
          f"task retries in the whole run: {retries}.")  # fmt: skip
    for p in base:
        wall = p.extrapolated_s if p.extrapolated_s is not None else p.wall_s
        how = f"extrapolated from {p.queued:,} patients" if p.extrapolated_s is not None else "measured"
        print(
            f"Baseline, every active patient ({p.day}): tick wall {wall:.0f} s ({how}), "
            f"{wall / max(statistics.median(walls), 1e-9):.0f}× the change-driven median; "
            f"{p.recompute_ms(args.workers):.0f} ms a recompute; rows written {p.rows:,}"
            + (" (for the sample)" if p.extrapolated_s is not None else "")
            + "."
        )
    tick = "met" if walls[-1] <= TARGET_TICK_S else "NOT met"
    share = "met" if shares[-1] <= TARGET_SHARE else "NOT met"
    size = (
        ""
        if args.patients == 100_000
        else f" (targets are set for 100,000 patients; this run has {args.patients:,})"
    )
    print(f"Targets{size}: every day's tick ≤ {TARGET_TICK_S:.0f} s: {tick}; recomputed ≤ {TARGET_SHARE:.0%} "
          f"of the cohort on every (quiet) day: {share}.")  # fmt: skip


# ---- main ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, folder: Path, cleanup: contextlib.ExitStack, report: Report) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed (Debian: apt-get install redis-server)")
    if not GISTSCHED.exists():
        raise BenchError(f"{GISTSCHED} not found: run with the project's interpreter (make venv)")
    databases = Databases(
        argparse.Namespace(backend="postgresql", keep=args.keep, postgres_url=args.postgres_url),
        folder,
        cleanup,
    )
    url = databases.create("scale")
    with opened(url) as (engine, sessions):
        seed(engine, args, report)
        describe(sessions, report)
    check_unchanged(url, args.check, args.seed, report)
    redis = RedisServer(binary, folder / "redis")
    cleanup.callback(redis.stop)
    redis.start()
    simulation = Simulation(args, url, folder, redis, report, random.Random(f"scale:{args.seed}"))
    cleanup.callback(simulation.close)
    simulation.run()
    return databases.version


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--patients", type=int, default=100_000, help="patients to seed (100,000)")
    ap.add_argument("--days", type=int, default=30, help="simulated days with the change-driven clock (30)")
    ap.add_argument(
        "--events-share", type=float, default=0.01, help="active patients with an event a day (0.01)"
    )
    ap.add_argument("--baseline-days", type=int, default=1, help="then days recomputing everyone (1)")
    ap.add_argument(
        "--baseline-sample", type=int, metavar="N", help="baseline: time N random patients, extrapolate (all)"
    )
    ap.add_argument("--templates", type=int, default=1000, help="synthetic histories (1,000)")
    ap.add_argument("--shifts", type=int, default=8, help="offsets each history is shifted back by (8)")
    ap.add_argument("--spread-days", type=int, default=56, help="the largest offset, days (56)")
    ap.add_argument("--navigators", type=int, default=50, help="navigators the patients are spread over (50)")
    ap.add_argument(
        "--workers", type=int, default=2, help="gistsched worker processes, concurrency 1 each (2)"
    )
    ap.add_argument("--check", type=int, default=20, help="seeded patients recomputed to check the seed (20)")
    ap.add_argument("--timeout", type=float, default=7200.0, help="seconds allowed per phase (7,200)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic data and the draws (1)")
    ap.add_argument("--keep", action="store_true", help="keep the database and the logs; print where")
    ap.add_argument(
        "--postgres-url",
        default=os.environ.get("GIST_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server for the throwaway database (GIST_BENCH_POSTGRES_URL; default %(default)s)",
    )
    args = ap.parse_args(argv)
    if min(args.patients, args.templates, args.shifts, args.workers, args.navigators) < 1 or args.days < 1:
        ap.error("--patients, --days, --templates, --shifts, --workers and --navigators must be positive")
    if not 0 < args.events_share <= 1 or args.baseline_days < 0 or args.spread_days < 0 or args.check < 0:
        ap.error("0 < --events-share ≤ 1; --baseline-days, --spread-days and --check ≥ 0")
    if (args.baseline_sample is not None and args.baseline_sample < 1) or args.navigators > 100:
        ap.error("--baseline-sample ≥ 1, --navigators ≤ 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    cleanup = contextlib.ExitStack()
    load_before = load_average()
    try:
        folder = Path(tempfile.mkdtemp(prefix="gist-scale-bench-"))
        if args.keep:
            print(f"  --keep: files in {folder}", file=sys.stderr)
        else:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        report = Report()
        try:
            version = run(args, folder, cleanup, report)
        except BenchError:
            if report.phases:  # what was measured before the failure is still worth reading
                print_report(report, args, "?", f"{load_before} at the start, {load_average()} at the end")
            raise
        print_report(report, args, version, f"{load_before} at the start, {load_average()} at the end")
        return 0
    except BenchError as exc:
        print(f"scale_bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        dropping = "" if args.keep else ", dropping the database"
        print(f"scale_bench: interrupted; stopping workers and redis{dropping}", file=sys.stderr)
        return 130
    finally:
        close_quietly(cleanup)


if __name__ == "__main__":
    sys.exit(main())
