"""The planner's fast paths give what the generic code gives (plan._list, §0 and §9).

``plan_follow_up`` lists a one-off through ``_oneoff_reminder`` instead of ``_list``; these tests
put one-off series in every state an item can reach and check both agree, including the case
where nothing is listed (an item cancelled before it was due).
"""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.domain.model import Reminder
from scheduler.domain.plan import _list, _oneoff_reminder
from scheduler.domain.profile import ChainedSchedule, Phase, Step
from scheduler.domain.rules.catalogue import RULES
from scheduler.domain.series import OneOff

D = dt.date
OPENED = D(2025, 3, 3)
DUE = D(2025, 3, 17)
AS_OF_DAYS = {
    "before it is due": D(2025, 3, 10),
    "on its due day": DUE,
    "in its window": D(2025, 3, 25),
    "past its window": D(2025, 5, 1),
}


def _series() -> OneOff:
    return OneOff(
        RULES["workup.tissue"], "biopsy", OPENED, OPENED, "tumour without tissue diagnosis", DUE, 14
    )


def _both(series: OneOff, as_of: dt.date) -> tuple[list[Reminder], Reminder | None]:
    listed: list[Reminder] = []
    _list(series, as_of, D(2027, 1, 1), listed)
    return listed, _oneoff_reminder(series, series.items[0], as_of)


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


def _open(series: OneOff) -> None:
    pass


@pytest.mark.parametrize("state", [_open, _completed, _closed_before_due, _closed_after_due, _item_cancelled])
@pytest.mark.parametrize("as_of_name", sorted(AS_OF_DAYS))
def test_a_one_off_lists_as_the_generic_listing_does(state: object, as_of_name: str) -> None:
    series = _series()
    assert callable(state)
    state(series)
    listed, fast = _both(series, AS_OF_DAYS[as_of_name])
    assert listed == ([fast] if fast is not None else [])
    assert all(type(r) is Reminder for r in listed)


def test_a_one_off_closed_before_it_was_due_is_not_listed() -> None:
    series = _series()
    _closed_before_due(series)
    assert _both(series, D(2025, 4, 1)) == ([], None)


def test_the_statuses_a_one_off_goes_through() -> None:
    statuses = {}
    for name, as_of in AS_OF_DAYS.items():
        series = _series()
        reminder = _oneoff_reminder(series, series.items[0], as_of)
        assert reminder is not None
        statuses[name] = reminder.status
    assert statuses == {
        "before it is due": "planned",
        "on its due day": "due",
        "in its window": "due",
        "past its window": "overdue",
    }


def test_chained_schedule_phases_must_not_overlap() -> None:
    # a chain reuses the phase of its last step while it holds the next base; that is the phase
    # _step_at would find only if no two phases hold the same base
    with pytest.raises(ValueError, match="overlap"):
        ChainedSchedule(phases=(Phase(0, 24, Step(3)), Phase(12, 60, Step(6))))
    with pytest.raises(ValueError, match="overlap"):
        ChainedSchedule(phases=(Phase(0, None, Step(3)), Phase(24, 60, Step(6))))
    ChainedSchedule(phases=(Phase(0, 24, Step(3)), Phase(24, 60, Step(6)), Phase(60, None, Step(12))))
