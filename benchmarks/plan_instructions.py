"""A repeatable speed measure for the planner: run under callgrind, which counts instructions.

The VM's wall-clock speed drifts by ±25 %, so compare versions by instructions instead:

    CG="env PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null"
    $CG .venv/bin/python benchmarks/plan_instructions.py none
    $CG .venv/bin/python benchmarks/plan_instructions.py plan

(plan − none) / 600 is the instructions per plan: 300 synthetic patients (seed 1) planned twice.
A fixed hash seed makes the count repeat to the instruction (random string hashes move it by
about ±15,000 per plan).
"""

from __future__ import annotations

import datetime as dt
import sys

from synthetic import synthetic_cohort

from scheduler.domain.plan import plan_follow_up

AS_OF = dt.date(2026, 11, 27)


def main() -> int:
    cohort = synthetic_cohort(300)
    if sys.argv[1:] == ["plan"]:
        for _ in range(2):
            for events in cohort:
                plan_follow_up(events, AS_OF)
    return 0


if __name__ == "__main__":
    sys.exit(main())
