"""``Plan.changes_on``: until that day, recomputing the plan with no new event changes nothing but
the statuses that the date alone moves (planned → due → overdue).

The service recomputes a patient only when an event arrives or its ``changes_on`` comes, so a day
too late here would leave a stale plan: the properties replan on days before it and compare.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.synthetic import synthetic_cohort
from scheduler.domain.dates import add_days, add_months, first_day_reaching
from scheduler.domain.events import Event
from scheduler.domain.model import Plan
from scheduler.domain.plan import plan_follow_up
from scheduler.domain.profile import DEFAULT_PROFILE
from tests.builders import History, imatinib_in_advanced_disease
from tests.histories import histories_with_as_of

OPEN = {"planned", "due", "overdue"}
LOOK_AHEAD_DAYS = 3 * 366  # a plan with no change date is compared this far ahead


def content(plan: Plan) -> dict[str, Any]:
    """The plan without ``as_of`` and with every open status as one value."""
    out = plan.to_json()
    del out["as_of"]
    for reminder in out["reminders"]:
        if reminder["status"] in OPEN:
            reminder["status"] = "open"
    return out


def days_before_change(plan: Plan, data: st.DataObject) -> list[dt.date]:
    """The day after ``as_of``, the day before ``changes_on`` and a few drawn between them."""
    end = plan.changes_on or add_days(plan.as_of, LOOK_AHEAD_DAYS)
    last = (end - plan.as_of).days - 1
    if last < 1:
        return []
    offsets = {1, last, *data.draw(st.lists(st.integers(1, last), max_size=4), label="offsets")}
    return [add_days(plan.as_of, n) for n in sorted(offsets)]


def assert_no_change_before(events: list[Event], plan: Plan, days: list[dt.date]) -> None:
    expected = content(plan)
    for day in days:
        assert content(plan_follow_up(events, day)) == expected, f"changed on {day}, before {plan.changes_on}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories_with_as_of(), st.data())
def test_nothing_but_statuses_changes_before_changes_on(
    history: tuple[list[Event], dt.date], data: st.DataObject
) -> None:
    events, as_of = history
    plan = plan_follow_up(events, as_of)
    assert plan.changes_on is None or plan.changes_on > as_of
    assert_no_change_before(events, plan, days_before_change(plan, data))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(synthetic_cohort(120, seed=3)),
    st.dates(dt.date(2017, 1, 1), dt.date(2027, 6, 30)),
    st.data(),
)
def test_synthetic_patients_change_only_on_their_change_day(
    events: list[Event], as_of: dt.date, data: st.DataObject
) -> None:
    if min(e.occurred_on for e in events) > as_of:
        return
    plan = plan_follow_up(events, as_of)
    assert_no_change_before(events, plan, days_before_change(plan, data))


def test_a_known_future_event_bounds_the_change_day() -> None:
    h = History().add("diagnosis", "2025-01-10", size_cm=6.0, site="stomach")
    h.add("biopsy", "2025-03-01", result="gist")
    plan = plan_follow_up(h.events, dt.date(2025, 2, 1))
    assert plan.changes_on == dt.date(2025, 3, 1)


def test_the_next_item_entering_the_horizon_is_a_change_day() -> None:
    """Advanced disease on imatinib: open-ended CT and drug monitoring, listed 12 months ahead; the
    plan changes on the day the next item comes within 12 months, and not before."""
    h = imatinib_in_advanced_disease()
    h.add("imaging", "2024-05-02", modality="ct", result="stable")
    as_of = dt.date(2024, 5, 10)
    plan = plan_follow_up(h.events, as_of)
    assert plan.changes_on is not None
    later = plan_follow_up(h.events, plan.changes_on)
    new = [r for r in later.reminders if r.key not in {r.key for r in plan.reminders}]
    assert new, "the change day brings a new item"
    assert min(first_day_reaching(r.due_on, 12) for r in new) == plan.changes_on
    before = plan_follow_up(h.events, add_days(plan.changes_on, -1))
    assert content(before) == content(plan)


def test_a_time_threshold_of_an_alert_is_a_change_day() -> None:
    """adjuvant.rupture becomes critical rupture_critical_after_days after the later of resection and
    rupture."""
    h = History().add("diagnosis", "2024-01-08", size_cm=7.0, site="jejunum_ileum")
    h.add("rupture", "2024-02-01")
    h.add("resection", "2024-02-01", margin="R0")
    h.add("pathology", "2024-02-08", size_cm=7.0, mitoses_per_5mm2=8, site="jejunum_ileum")
    plan = plan_follow_up(h.events, dt.date(2024, 2, 20))
    [rupture] = [a for a in plan.alerts if a.code == "rupture_adjuvant_mandatory"]
    assert rupture.severity == "warning"
    critical_on = add_days(dt.date(2024, 2, 1), DEFAULT_PROFILE.rupture_critical_after_days)
    assert plan.changes_on is not None
    assert plan.changes_on <= critical_on
    after = plan_follow_up(h.events, critical_on)
    assert [a.severity for a in after.alerts if a.code == "rupture_adjuvant_mandatory"] == ["critical"]


def test_after_follow_up_ended_nothing_changes_without_an_event() -> None:
    h = History().add("diagnosis", "2020-01-06", size_cm=4.0, site="stomach")
    h.add("resection", "2020-02-03", margin="R0")
    h.add("pathology", "2020-02-10", size_cm=4.0, mitoses_per_5mm2=2, site="stomach")
    h.add("follow_up_ended", "2021-01-04", reason="transferred")
    assert plan_follow_up(h.events, dt.date(2022, 1, 1)).changes_on is None


def test_first_day_reaching_is_the_first_day_whose_horizon_covers_the_target() -> None:
    for target in (dt.date(2025, 3, 31), dt.date(2024, 2, 29), dt.date(2025, 1, 1), dt.date(2025, 8, 31)):
        for months in (1, 12, 13):
            day = first_day_reaching(target, months)
            assert add_months(day, months) >= target > add_months(add_days(day, -1), months)
