"""A golden dump of planner output, to prove that an optimisation changed nothing.

    .venv/bin/python benchmarks/plan_golden.py --write /tmp/plan-golden.jsonl   # before a change
    .venv/bin/python benchmarks/plan_golden.py --check /tmp/plan-golden.jsonl   # after it

Writes one JSON line per ``plan_follow_up`` call (the plan as ``gistsched plan`` prints it, or the
refusal's exception type and message) and per ``plan_patients`` call, over:

* 1,500 synthetic patients of seed 7 at 2026-11-27 and 2019-06-30, the first 300 of them at four
  more dates, the first 40 at 182 dates 23 days apart from 2016 to 2027;
* the 300 patients of ``plan_instructions.py`` (seed 1) at 2026-11-27;
* every patient of examples/cohort.jsonl at 108 dates (``plan_follow_up`` per patient and
  ``plan_patients`` for the whole file).

``--check`` compares line by line and reports the first difference; the file is not committed
(it is large and made from the code under test, before the change).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from synthetic import synthetic_cohort

from scheduler.domain.events import Event, read_jsonl
from scheduler.domain.plan import plan_follow_up, plan_patients

COHORT = Path(__file__).resolve().parent.parent / "examples" / "cohort.jsonl"
MAIN_DATES = (dt.date(2026, 11, 27), dt.date(2019, 6, 30))
MORE_DATES = (dt.date(2017, 3, 1), dt.date(2021, 2, 28), dt.date(2024, 2, 29), dt.date(2030, 1, 15))
SWEEP_START, SWEEP_STEP, SWEEP_COUNT = dt.date(2016, 1, 1), dt.timedelta(days=23), 182
COHORT_START, COHORT_STEP, COHORT_COUNT = dt.date(2019, 1, 1), dt.timedelta(days=29), 108


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _one(label: str, events: Sequence[Event], as_of: dt.date) -> str:
    try:
        plan = plan_follow_up(events, as_of)
    except Exception as exc:  # a refusal is an output too
        return _dump({"case": label, "as_of": as_of.isoformat(), "refused": [type(exc).__name__, str(exc)]})
    return _dump({"case": label, "plan": plan.to_json()})


def _lines() -> Iterator[str]:
    seven = synthetic_cohort(1500, seed=7)
    for as_of in MAIN_DATES:
        for i, events in enumerate(seven):
            yield _one(f"s7:{i}", events, as_of)
    for as_of in MORE_DATES:
        for i, events in enumerate(seven[:300]):
            yield _one(f"s7:{i}", events, as_of)
    sweep = [SWEEP_START + SWEEP_STEP * k for k in range(SWEEP_COUNT)]
    for i, events in enumerate(seven[:40]):
        for as_of in sweep:
            yield _one(f"s7:{i}", events, as_of)
    for i, events in enumerate(synthetic_cohort(300)):
        yield _one(f"s1:{i}", events, MAIN_DATES[0])

    with COHORT.open(encoding="utf-8") as f:
        result = read_jsonl(f)
    if result.errors:
        raise SystemExit(f"{COHORT}: {result.errors[0].message}")
    by_patient: dict[str, list[Event]] = {}
    for e in result.events:
        by_patient.setdefault(e.patient_id, []).append(e)
    for k in range(COHORT_COUNT):
        as_of = COHORT_START + COHORT_STEP * k
        for pid in sorted(by_patient):
            yield _one(f"cohort:{pid}", by_patient[pid], as_of)
        plans = plan_patients(result.events, as_of)
        yield _dump(
            {"case": "plan_patients", "as_of": as_of.isoformat(), "plans": [p.to_json() for p in plans]}
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE", type=Path, help="write the dump to FILE")
    mode.add_argument("--check", metavar="FILE", type=Path, help="compare the dump with FILE")
    args = parser.parse_args(argv)
    digest = hashlib.sha256()
    count = 0
    if args.write is not None:
        with args.write.open("w", encoding="utf-8") as out:
            for line in _lines():
                out.write(line + "\n")
                digest.update(line.encode())
                count += 1
        print(f"wrote {count} lines to {args.write} (sha256 {digest.hexdigest()[:16]})")
        return 0
    with args.check.open(encoding="utf-8") as golden:
        for count, line in enumerate(_lines(), start=1):
            expected = golden.readline().rstrip("\n")
            if line != expected:
                print(f"line {count} differs:\n  expected {expected[:600]}\n  got      {line[:600]}")
                return 1
            digest.update(line.encode())
        if golden.readline():
            print(f"{args.check} has more than {count} lines")
            return 1
    print(f"{count} lines identical (sha256 {digest.hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
