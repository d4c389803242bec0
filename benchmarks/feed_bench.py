"""How fast a navigator's calendar feed renders: ``render_feed`` over N synthetic reminders.

    .venv/bin/python benchmarks/feed_bench.py [--items 40000] [--patients 4000] [--repeats 3] [--seed 1]

The items (not timed) look like a navigator's feed: PHI-minimal summaries from notifications.labels
with a patient code, a dashboard link each, revisions 0-3, one in ten cancelled, distinct
``updated_at`` stamps. Each repeat renders the whole feed with ``time.perf_counter``; prints the
best and median seconds, the feed's size and items per second. Writes no files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from plan_bench import cpu_model

if TYPE_CHECKING:
    from notifications.ical import CalendarItem

if str(Path(__file__).resolve().parents[1]) not in sys.path:
    # An editable install made before notifications/ existed does not map it; run from the checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIRST_DUE = dt.date(2026, 1, 5)
FIRST_STAMP = dt.datetime(2025, 11, 1, 8, 0, tzinfo=dt.UTC)
KINDS = ("ct", "mri", "lab_lft", "lab_cbc", "clinic_visit", "therapy_review", "mdt_review", "echo")


def synthetic_items(n: int, patients: int, seed: int) -> list[CalendarItem]:
    from notifications.ical import CalendarItem, item_uid
    from notifications.labels import label

    rng = random.Random(seed)
    items: list[CalendarItem] = []
    for i in range(n):
        patient = f"P{rng.randrange(patients):05d}"
        kind = rng.choice(KINDS)
        key = f"{kind}:imatinib_adjuvant_{kind}:{i}"
        items.append(
            CalendarItem(
                uid=item_uid(patient, key),
                summary=f"{label(kind).summary} · {patient}",
                due_on=FIRST_DUE + dt.timedelta(days=rng.randrange(3 * 365)),
                sequence=rng.randrange(4),
                stamp=FIRST_STAMP + dt.timedelta(seconds=37 * i),
                is_cancelled=rng.random() < 0.1,
                description="Open the dashboard for the details of this follow-up.",
                url=f"https://gist-scheduler.example.org/patients/{patient}/reminders/{i}",
                alarm_days_before=rng.choice((0, 1, 2, 7)),
            )
        )
    return items


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--items", type=int, default=40_000, help="VEVENTs in the feed (default 40,000)")
    ap.add_argument("--patients", type=int, default=4_000, help="distinct patients (default 4,000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed renders (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic items (default 1)")
    args = ap.parse_args(argv)
    if args.items < 0 or args.patients < 1 or args.repeats < 1:
        ap.error("--items must be >= 0, --patients and --repeats >= 1")

    from notifications.ical import render_feed

    items = synthetic_items(args.items, args.patients, args.seed)
    seconds: list[float] = []
    size = 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        feed = render_feed("Navigator · all patients", items)
        seconds.append(time.perf_counter() - start)
        size = len(feed)
        del feed

    best, median = min(seconds), statistics.median(seconds)
    rows = [
        ("items", f"{len(items):,}"),
        ("repeats", f"{args.repeats}"),
        ("seconds best / median", f"{best:.3f} / {median:.3f} s"),
        ("items/s best / median", f"{len(items) / best:,.0f} / {len(items) / median:,.0f}"),
        ("bytes", f"{size:,} ({size / 2**20:.1f} MiB, {size / max(len(items), 1):.0f} per item)"),
        ("python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("cpu", f"{cpu_model()} ({os.cpu_count()} logical CPUs)"),
    ]
    width = max(len(name) for name, _ in rows)
    print("gist-scheduler calendar feed benchmark (notifications.ical.render_feed)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
