"""A repeatable speed measure for the planner: run under callgrind, which counts instructions.

The VM's wall-clock speed drifts by ±25 %, so compare versions by instructions instead:

    CG="valgrind --tool=callgrind --callgrind-out-file=/dev/null"
    $CG .venv/bin/python benchmarks/plan_instructions.py none
    $CG .venv/bin/python benchmarks/plan_instructions.py plan

(plan − none) / 600 is the instructions per plan: 300 synthetic patients (seed 1) planned twice.
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
