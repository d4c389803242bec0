"""How much writing the due notices costs: ``create_due_notices`` per due reminder, and its SQL.

    .venv/bin/python benchmarks/notices_bench.py [--due 2000] [--reminders 20000] [--repeats 5]
                                                 [--backends postgresql,sqlite] [--seed 1]
                                                 [--postgres-url URL]

For each backend, a throwaway migrated database (``gist_bench_<random>`` on PostgreSQL, made and
dropped with ``pipeline_bench.PostgresServer``; a temporary SQLite file) gets ``--reminders``
planned reminders of ``--reminders``/50 patients, ``--due`` of them with ``notice_on`` on or up to
two days before 2026-11-27 (``notify_bench.load_reminders``). Each repeat runs
``create_due_notices`` once (timed, its statements counted with a ``before_cursor_execute``
listener: an executemany counts once), then puts the due reminders back (outbox emptied,
``notice_on`` restored) for the next. Prints a Markdown table: median and best milliseconds per due
reminder, and statements per batch of ``CLAIM_BATCH`` reminders, which does not depend on the
machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from notify_bench import AS_OF, REMINDERS_PER_PATIENT, Databases, load_reminders, opened
from pipeline_bench import DEFAULT_POSTGRES_URL, BenchError, close_quietly
from plan_bench import cpu_model
from sqlalchemy import Engine, bindparam, delete, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.rows import NotificationRow, ReminderRow
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.notifications.dispatch import CLAIM_BATCH, create_due_notices

BACKENDS = ("postgresql", "sqlite")


@contextlib.contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The first word of every statement sent (an executemany is one)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def due_notice_days(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    with sessions() as session:
        rows = session.execute(
            select(ReminderRow.id, ReminderRow.notice_on).where(ReminderRow.notice_on <= AS_OF)
        )
        return [{"b_id": rid, "b_notice_on": notice_on} for rid, notice_on in rows]


def put_back(sessions: sessionmaker[Session], due: list[dict[str, Any]]) -> None:
    """The outbox emptied and the due reminders' notice days restored, for the next repeat."""
    table = ReminderRow.__table__
    with sessions.begin() as session:
        session.execute(delete(NotificationRow))
        session.connection().execute(
            update(table).where(table.c.id == bindparam("b_id")).values(notice_on=bindparam("b_notice_on")),
            due,
        )


def measure(url: str, args: argparse.Namespace) -> dict[str, str]:
    patients = max(1, args.reminders // REMINDERS_PER_PATIENT)
    with opened(url) as (engine, sessions):
        load_reminders(engine, args, patients)
        due = due_notice_days(sessions)
        per_row: list[float] = []
        statements: list[str] = []  # of the last call
        for _ in range(args.repeats):
            with counted(engine) as seen:
                start = time.perf_counter()
                created = create_due_notices(sessions, AS_OF, DEFAULT_PROFILE)
                seconds = time.perf_counter() - start
            if created != len(due):
                raise BenchError(f"create_due_notices wrote {created:,} rows for {len(due):,} due reminders")
            per_row.append(seconds * 1000 / created)
            statements = seen
            print(f"  {engine.dialect.name}: {per_row[-1]:.3f} ms per due reminder", file=sys.stderr)
            put_back(sessions, due)
    batches = len(due) // CLAIM_BATCH + 1  # the last one is short (or empty)
    kinds = {word: statements.count(word) for word in sorted(set(statements))}
    return {
        "due reminders": f"{len(due):,} (of {args.reminders:,})",
        "ms per due reminder, median / best": f"{statistics.median(per_row):.3f} / {min(per_row):.3f}",
        "statements per call": f"{len(statements)} ({', '.join(f'{k} {v}' for k, v in kinds.items())})",
        f"statements per batch of {CLAIM_BATCH}": f"{len(statements) / batches:.1f} ({batches} batches)",
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--due", type=int, default=2000, help="reminders due today (2,000)")
    ap.add_argument("--reminders", type=int, default=20_000, help="reminders in all (20,000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per backend (5)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (postgresql,sqlite)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic data (1)")
    ap.add_argument(
        "--postgres-url",
        default=os.environ.get("GIST_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="server for the throwaway databases (GIST_BENCH_POSTGRES_URL; default %(default)s)",
    )
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in BACKENDS for b in backends):
        ap.error(f"--backends: a comma-separated list of {', '.join(BACKENDS)}")
    if not 0 < args.due <= args.reminders or args.repeats < 1:
        ap.error("0 < --due ≤ --reminders, --repeats ≥ 1")
    args.keep = False
    cleanup = contextlib.ExitStack()
    try:
        folder = Path(tempfile.mkdtemp(prefix="gist-notices-bench-"))
        cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        results: dict[str, tuple[str, dict[str, str]]] = {}
        for backend in backends:
            args.backend = backend
            databases = Databases(args, folder, cleanup)
            results[backend] = (databases.version, measure(databases.create("notices"), args))
    except BenchError as exc:
        print(f"notices_bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        close_quietly(cleanup)
    names = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
    print("| figure | " + " | ".join(f"{names[b]} {v}" for b, (v, _) in results.items()) + " |")
    print("|---|" + "---|" * len(results))
    for figure in next(iter(results.values()))[1]:
        print(f"| {figure} | " + " | ".join(r[figure] for _, r in results.values()) + " |")
    print()
    print(
        f"Machine: {cpu_model()} ({os.cpu_count()} logical CPUs, load {os.getloadavg()[0]:.1f}), "
        f"Python {platform.python_version()}. Command: benchmarks/notices_bench.py " + " ".join(sys.argv[1:])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
