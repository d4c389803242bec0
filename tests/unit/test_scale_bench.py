"""The scale benchmark's seeding helpers (``benchmarks/scale_bench.py``): the date offsets, the
shifted histories, and block rows shaped like the columns they are copied into."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from benchmarks.synthetic import synthetic_histories

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the benchmarks import each other by module name
    import scale_bench

    return scale_bench


@pytest.mark.parametrize(
    ("shifts", "spread", "expected"),
    [
        (1, 56, [0]),
        (2, 56, [0, 56]),
        (8, 56, [0, 8, 16, 24, 32, 40, 48, 56]),
        (3, 10, [0, 5, 10]),
        (5, 2, [0, 1, 2]),  # more shifts than days: each offset once
        (4, 0, [0]),
    ],
)
def test_offsets_are_spread_evenly(bench: ModuleType, shifts: int, spread: int, expected: list[int]) -> None:
    assert bench.offsets(shifts, spread) == expected


def test_a_shifted_history_moves_every_date_and_nothing_else(bench: ModuleType) -> None:
    history = synthetic_histories(1, seed=3)[0]
    before = [dict(obj) for obj in history]
    moved = bench.shifted(history, 10)
    assert history == before  # the input is left alone
    for old, new in zip(history, moved, strict=True):
        assert dt.date.fromisoformat(new["occurred_on"]) == dt.date.fromisoformat(
            old["occurred_on"]
        ) - dt.timedelta(days=10)
        assert {k: v for k, v in new.items() if k != "occurred_on"} == {
            k: v for k, v in old.items() if k != "occurred_on"
        }


def test_block_rows_match_their_columns_and_the_plan(bench: ModuleType) -> None:
    from scheduler.patients.processing import RESWEEP_DAYS

    args = argparse.Namespace(templates=4, shifts=2, spread_days=20, seed=1, navigators=3)
    variants = bench.make_variants(args)
    assert len(variants) == 8
    block = bench.build_block(0, 30, variants, args, bench.Counters(), bench.Stamps())
    shapes: list[tuple[list[tuple[Any, ...]], tuple[str, ...]]] = [
        (block.patients, bench.PATIENT_COLUMNS),
        (block.states, bench.STATE_COLUMNS),
        (block.events, bench.EVENT_COLUMNS),
        (block.reminders, bench.REMINDER_COLUMNS),
        (block.alerts, bench.ALERT_COLUMNS),
    ]
    for rows, columns in shapes:
        assert rows
        assert all(len(row) == len(columns) for row in rows)
    for state in block.states:
        values = dict(zip(bench.STATE_COLUMNS, state, strict=True))
        assert values["as_of"] == bench.D0
        assert bench.D0 < values["recompute_on"] <= bench.D0 + dt.timedelta(days=RESWEEP_DAYS)
    for row in block.reminders:
        values = dict(zip(bench.REMINDER_COLUMNS, row, strict=True))
        assert values["overdue_from"] == values["due_on"] + dt.timedelta(days=values["window_days"] + 1)
    assert len({row[0] for row in block.reminders}) == len(block.reminders)  # ids are unique


def test_recomputes_are_counted_from_single_and_batch_log_lines(bench: ModuleType) -> None:
    log = (
        "[…] patients.process P1: 7 event(s); reminders +2 ~1 -0; alerts +1 -0\n"
        "[…] patients.process_batch: 20 patient(s), 18 processed; 400 event(s); "
        "reminders +5 ~3 -2; alerts +0 -1\n"
    )
    assert bench.recomputes_logged(log) == (19, [7, 4, 2, 1, 1])
