"""How fast the pure planner is: ``plan_follow_up`` over a synthetic cohort.

    .venv/bin/python benchmarks/plan_bench.py [--patients 10000] [--seed 1] [--as-of 2026-11-27] [--passes 3]
    .venv/bin/python benchmarks/plan_bench.py --profile      # cProfile over 1,000 plans

Generating the histories is not timed; parsing them (``parse_event``) and planning are timed
separately with ``time.perf_counter``. Planning is timed in ``--passes`` passes over the whole
cohort, as a long-running worker plans patient after patient; every pass's rate is printed and the
median pass is the figure (with its per-plan times), so one pass slowed by the VM's neighbours
does not decide it. Memory is measured in a further planning pass under tracemalloc (so tracing
does not slow the timed passes), one plan at a time as the worker does, and as the process's
maximum resident set size. Prints a short table to stdout and writes no files;
docs/performance.md quotes its output.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import os
import platform
import pstats
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from synthetic import synthetic_histories

from scheduler.domain.events import Event, parse_event
from scheduler.domain.plan import plan_follow_up
from scheduler.domain.profile import DEFAULT_PROFILE

AS_OF = dt.date(2026, 11, 27)
PROFILED_PLANS = 1000
TOP_FUNCTIONS = 25


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def parse_all(histories: Sequence[Sequence[dict[str, object]]]) -> list[list[Event]]:
    return [[parse_event(obj) for obj in history] for history in histories]


def timed_plans(cohort: Sequence[Sequence[Event]], as_of: dt.date) -> tuple[float, list[float]]:
    """Total seconds and per-plan seconds; plans are dropped as soon as they are made."""
    per_plan: list[float] = []
    clock = time.perf_counter
    start = clock()
    for events in cohort:
        t = clock()
        plan_follow_up(events, as_of, DEFAULT_PROFILE)
        per_plan.append(clock() - t)
    return clock() - start, per_plan


def traced_peak(cohort: Sequence[Sequence[Event]], as_of: dt.date) -> int:
    """tracemalloc's peak (bytes) over a planning pass, one plan alive at a time."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        for events in cohort:
            plan_follow_up(events, as_of, DEFAULT_PROFILE)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def profile(cohort: Sequence[Sequence[Event]], as_of: dt.date) -> None:
    subset = cohort[:PROFILED_PLANS]
    profiler = cProfile.Profile()
    profiler.enable()
    for events in subset:
        plan_follow_up(events, as_of, DEFAULT_PROFILE)
    profiler.disable()
    print(f"cProfile over {len(subset):,} plans (as_of {as_of}), top {TOP_FUNCTIONS} by cumulative time")
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("cumulative").print_stats(TOP_FUNCTIONS)


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--patients", type=int, default=10_000, help="synthetic patients (default 10,000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic cohort (default 1)")
    ap.add_argument(
        "--as-of", type=dt.date.fromisoformat, default=AS_OF, help="plan date (default 2026-11-27)"
    )
    ap.add_argument(
        "--passes",
        type=int,
        default=3,
        help="timed passes over the cohort; the median one is reported (default 3)",
    )
    ap.add_argument("--profile", action="store_true", help=f"cProfile {PROFILED_PLANS:,} plans instead")
    args = ap.parse_args(argv)
    if args.patients < 1:
        ap.error("--patients must be at least 1")
    if args.passes < 1:
        ap.error("--passes must be at least 1")
    as_of: dt.date = args.as_of

    n = min(args.patients, PROFILED_PLANS) if args.profile else args.patients
    histories = synthetic_histories(n, args.seed)
    n_events = sum(len(h) for h in histories)

    start = time.perf_counter()
    cohort = parse_all(histories)
    parse_s = time.perf_counter() - start
    del histories

    if args.profile:
        profile(cohort, as_of)
        return 0

    # The 290k parsed events are long-lived input, not garbage: freeze them out of the cyclic GC so
    # its full collections do not rescan them during planning (a worker plans one patient at a time
    # and never holds a cohort). The plans themselves are still collected as usual.
    gc.collect()
    gc.freeze()
    passes = [timed_plans(cohort, as_of) for _ in range(args.passes)]
    plan_s, per_plan = sorted(passes, key=lambda p: p[0])[len(passes) // 2]  # the median pass
    peak = traced_peak(cohort, as_of)
    ms = [s * 1000 for s in per_plan]

    rows = [
        ("patients", f"{n:,}"),
        ("events", f"{n_events:,} ({n_events / n:.1f} per patient)"),
        ("parse (parse_event)", f"{parse_s:.2f} s ({n_events / parse_s:,.0f} events/s)"),
        ("plan (plan_follow_up)", f"{plan_s:.2f} s ({n / plan_s:,.0f} plans/s, the median pass)"),
        ("plans/s of each pass", " · ".join(f"{n / s:,.0f}" for s, _ in passes)),
        (
            "per plan mean/p50/p95/max",
            f"{statistics.fmean(ms):.2f} / {_pct(ms, 0.5):.2f} / {_pct(ms, 0.95):.2f} / {max(ms):.2f} ms",
        ),
        ("tracemalloc peak, planning", f"{_mib(peak)} (separate pass, one plan at a time)"),
        ("max RSS of the process", _mib(max_rss_bytes())),
        ("python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("cpu", f"{cpu_model()} ({os.cpu_count()} logical CPUs)"),
        ("as_of / seed / profile", f"{as_of.isoformat()} / {args.seed} / {DEFAULT_PROFILE.name}"),
    ]
    width = max(len(label) for label, _ in rows)
    print("gist-scheduler planning benchmark")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
