"""What one patient's recompute costs: statements and time for a new, an unchanged and a slightly
changed plan.

    .venv/bin/python benchmarks/recompute_bench.py [--patients 300] [--backends postgresql,sqlite]
                                                   [--seed 1] [--profile new|unchanged] [--postgres-url URL]
                                                   [--batch N]

For each backend, a throwaway migrated database (``notify_bench.Databases``: ``gist_bench_<random>``
on 127.0.0.1:5432 as ``postgres``, or a temporary SQLite file) receives ``--patients`` synthetic
histories (``synthetic.py``, events up to 2026-11-27) through the real intake
(``record_events``), then ``process_patient`` runs for every patient, in one process, four times:

1. **new**: the first recompute (every reminder, alert and the state inserted);
2. **unchanged**: a forced recompute the same day (what the clock does for a patient whose change
   day has come but whose plan stays the same);
3. **slightly changed**: one new event per patient (a stable CT on 2026-11-27 — it completes the
   CT due, if any), then its recompute;
4. **next day**: the clock's status UPDATE for 2026-11-28 (``advance_statuses``, timed on its
   own), then a forced recompute of every patient (what ``GIST_DAILY_RECOMPUTE=all`` costs a day).

Per pass: milliseconds per patient (median and p95 of the per-call wall time) and statements per
patient by kind (SELECT, INSERT, UPDATE, other), counted with a ``before_cursor_execute``
listener (an executemany counts once), and the rows written. ``--batch N`` runs the new and
the slightly changed passes through ``process_patients`` (what ``patients.process_batch`` runs
for a submit of several patients) in batches of N, each patient's time its batch's share.
``--profile new|unchanged`` adds the top functions of a cProfile of that pass (``--sort
tottime|cumulative``). Markdown on stdout
(progress on stderr); docs/performance.md quotes it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from notify_bench import Databases, opened
from pipeline_bench import DEFAULT_POSTGRES_URL, BenchError, pct
from plan_bench import cpu_model
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from synthetic import synthetic_histories

from scheduler.patients.intake import record_events
from scheduler.patients.processing import ProcessResult, process_patient, process_patients
from scheduler.patients.repository import advance_statuses

AS_OF = dt.date(2026, 11, 27)
NEXT_DAY = AS_OF + dt.timedelta(days=1)
BACKENDS = ("postgresql", "sqlite")
KINDS = ("SELECT", "INSERT", "UPDATE", "other")
HEADER = (
    "| pass | ms p50 | ms p95 | statements per patient: SELECT · INSERT · UPDATE · other "
    "| reminder rows written per patient |"
)


@contextlib.contextmanager
def counted(engine: Engine) -> Iterator[Counter[str]]:
    """Statements run on ``engine`` inside the block, by their first word."""
    counts: Counter[str] = Counter()

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "other"
        counts[word if word in KINDS else "other"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


@contextlib.contextmanager
def profiled(profiler: cProfile.Profile | None, wanted: bool) -> Iterator[None]:
    if profiler is None or not wanted:
        yield
        return
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()


def run_pass(
    engine: Engine, patients: Sequence[str], call: Callable[[str], ProcessResult]
) -> tuple[list[float], Counter[str], int]:
    """Per-call seconds, statements by kind and reminder rows written over ``patients``."""
    seconds: list[float] = []
    written = 0
    with counted(engine) as counts:
        for patient_id in patients:
            start = time.perf_counter()
            result = call(patient_id)
            seconds.append(time.perf_counter() - start)
            written += result.inserted + result.updated + result.cancelled
    return seconds, counts, written


def run_batched(
    engine: Engine, patients: Sequence[str], size: int, call: Callable[[list[str]], list[ProcessResult]]
) -> tuple[list[float], Counter[str], int]:
    """:func:`run_pass` for ``process_patients`` in batches of ``size``: each patient's seconds are
    its batch's divided by the batch's size."""
    seconds: list[float] = []
    written = 0
    with counted(engine) as counts:
        for start_at in range(0, len(patients), size):
            batch = list(patients[start_at : start_at + size])
            start = time.perf_counter()
            results = call(batch)
            seconds += [(time.perf_counter() - start) / len(batch)] * len(batch)
            written += sum(r.inserted + r.updated + r.cancelled for r in results)
    return seconds, counts, written


def stable_ct(patient_id: str) -> dict[str, Any]:
    return {
        "event_id": f"{patient_id}-bench-ct", "patient_id": patient_id, "type": "imaging",
        "occurred_on": AS_OF.isoformat(), "data": {"modality": "ct", "result": "stable"},
    }  # fmt: skip


def intake_all(sessions: sessionmaker[Session], objs: Sequence[dict[str, Any]]) -> list[str]:
    queued: list[str] = []
    result = record_events(sessions, list(enumerate(objs, start=1)), AS_OF, queued.extend)
    if result.rejected:
        raise BenchError(f"intake rejected {len(result.rejected)}: {result.rejected[:2]}")
    return sorted(set(queued))


def row(label: str, seconds: list[float], counts: Counter[str], written: int, n: int) -> str:
    ordered = sorted(seconds)
    per = " · ".join(f"{counts[k] / n:.1f}" for k in KINDS)
    return (
        f"| {label} | {statistics.median(ordered) * 1000:.1f} | {pct(ordered, 95) * 1000:.1f} | {per} "
        f"| {written / n:.1f} |"
    )


def measure(url: str, args: argparse.Namespace, backend: str) -> list[str]:
    histories = synthetic_histories(args.patients, args.seed)
    objs = [o for h in histories for o in h if dt.date.fromisoformat(o["occurred_on"]) <= AS_OF]
    lines: list[str] = []
    with opened(url) as (engine, sessions):
        patients = intake_all(sessions, objs)
        n = len(patients)
        print(f"  {backend}: {n} patients, {len(objs):,} events stored", file=sys.stderr, flush=True)

        def process(day: dt.date, force: bool) -> Callable[[str], ProcessResult]:
            return lambda pid: process_patient(sessions, pid, day, force=force)

        def batches(pids: list[str]) -> list[ProcessResult]:
            return process_patients(sessions, pids, AS_OF)

        profiler = cProfile.Profile() if args.profile else None
        with profiled(profiler, args.profile == "new"):
            if args.batch:
                label = f"new, in batches of {args.batch} (`process_patients`)"
                lines.append(row(label, *run_batched(engine, patients, args.batch, batches), n))
            else:
                lines.append(row("new", *run_pass(engine, patients, process(AS_OF, False)), n))
        with profiled(profiler, args.profile == "unchanged"):
            lines.append(
                row("unchanged (forced, same day)", *run_pass(engine, patients, process(AS_OF, True)), n)
            )
        intake_all(sessions, [stable_ct(pid) for pid in patients])
        if args.batch:
            label = f"slightly changed (one new CT), in batches of {args.batch}"
            lines.append(row(label, *run_batched(engine, patients, args.batch, batches), n))
        else:
            lines.append(
                row("slightly changed (one new CT)", *run_pass(engine, patients, process(AS_OF, False)), n)
            )
        start = time.perf_counter()
        with sessions.begin() as session:
            moved = advance_statuses(
                session, NEXT_DAY, dt.datetime.combine(NEXT_DAY, dt.time(2), tzinfo=dt.UTC)
            )
        update_ms = (time.perf_counter() - start) * 1000
        lines.append(
            row(
                "next day (forced, after the status UPDATE)",
                *run_pass(engine, patients, process(NEXT_DAY, True)),
                n,
            )
        )
        lines.append(f"\nStatus UPDATE for {NEXT_DAY}: {moved:,} reminders moved in {update_ms:.0f} ms.")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(30)
            lines.append("\n```\n" + out.getvalue().strip() + "\n```")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--batch", type=int, default=0, help="new and changed passes through process_patients in batches of N"
    )
    parser.add_argument("--profile", choices=("new", "unchanged"), help="cProfile that pass")
    parser.add_argument(
        "--sort", default="cumulative", help="cProfile order with --profile (tottime, cumulative)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    print(f"# Recompute cost per patient — {cpu_model()}, {args.patients} patients\n")
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as cleanup:
        for backend in args.backends.split(","):
            args.backend, args.keep = backend, False
            url = Databases(args, Path(folder), cleanup).create("recompute")
            print(f"## {backend}\n")
            print(HEADER)
            print("|---|---:|---:|---|---:|")
            try:
                print("\n".join(measure(url, args, backend)) + "\n")
            except BenchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
