"""How plan._oneoff_reminder lists a one-off's single item (§0 statuses, §9 fulfilment), and the
invariant the chained step relies on (ChainedSchedule phases do not overlap).

Each one-off state is checked against the reminder written out by hand: open at four ``as_of``
days, completed, closed before and after its due date, and its item cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from scheduler.domain.model import Reminder
from scheduler.domain.plan import _oneoff_reminder
from scheduler.domain.profile import ChainedSchedule, Phase, Step
from scheduler.domain.rules.catalogue import RULES
from scheduler.domain.series import OneOff

D = dt.date
OPENED = D(2025, 3, 3)
DUE = D(2025, 3, 17)
WINDOW = 14
RULE = RULES["workup.tissue"]
AS_OF_DAYS = (D(2025, 3, 10), DUE, D(2025, 3, 25), D(2025, 5, 1))  # before, on, in, past the window


def _series() -> OneOff:
    return OneOff(RULE, "biopsy", OPENED, OPENED, "tumour without tissue diagnosis", DUE, WINDOW)


def _open(series: OneOff) -> None:
    pass


def _completed(series: OneOff) -> None:
    series.fulfil(series.items[0], D(2025, 3, 20), "ev-1")


def _closed_before_due(series: OneOff) -> None:
    series.close(D(2025, 3, 12))
    series.settle()


def _closed_after_due(series: OneOff) -> None:
    series.close(D(2025, 3, 30))
    series.settle()


def _item_cancelled(series: OneOff) -> None:
    series.items[0].cancelled_on = D(2025, 3, 20)


def _reminder(status: str, **dates: object) -> Reminder:
    return Reminder(
        key="workup.tissue:biopsy:2025-03-03:1",
        kind="biopsy",
        due_on=DUE,
        window_days=WINDOW,
        status=status,  # type: ignore[arg-type]
        rule="workup.tissue",
        rationale=f"{RULE.rationale} (tumour without tissue diagnosis)",
        citation=RULE.citation,
        **dates,  # type: ignore[arg-type]
    )


CASES: list[tuple[Callable[[OneOff], None], tuple[Reminder | None, ...]]] = [
    (
        _open,
        (_reminder("planned"), _reminder("due"), _reminder("due"), _reminder("overdue")),
    ),
    (
        _completed,
        (_reminder("completed", completed_on=D(2025, 3, 20), completed_by="ev-1"),) * 4,
    ),
    (_closed_before_due, (None,) * 4),  # cancelled before it was due: never listed
    (_closed_after_due, (_reminder("cancelled", cancelled_on=D(2025, 3, 30)),) * 4),
    (_item_cancelled, (_reminder("cancelled", cancelled_on=D(2025, 3, 20)),) * 4),
]


@pytest.mark.parametrize(("state", "expected"), CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_a_one_off_is_listed_with_its_status_on_each_day(
    state: Callable[[OneOff], None], expected: tuple[Reminder | None, ...]
) -> None:
    for as_of, want in zip(AS_OF_DAYS, expected, strict=True):
        series = _series()
        state(series)
        got = _oneoff_reminder(series, series.items[0], as_of)
        assert got == want, as_of
        assert got is None or type(got) is Reminder


def test_chained_schedule_phases_must_not_overlap() -> None:
    # a chain reuses the phase of its last step while it holds the next base; that is the phase
    # _step_at would find only if no two phases hold the same base
    with pytest.raises(ValueError, match="overlap"):
        ChainedSchedule(phases=(Phase(0, 24, Step(3)), Phase(12, 60, Step(6))))
    with pytest.raises(ValueError, match="overlap"):
        ChainedSchedule(phases=(Phase(0, None, Step(3)), Phase(24, 60, Step(6))))
    ChainedSchedule(phases=(Phase(0, 24, Step(3)), Phase(24, 60, Step(6)), Phase(60, None, Step(12))))
