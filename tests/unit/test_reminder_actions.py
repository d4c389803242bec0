"""Navigator actions on a reminder, as events in the log: booked, snoozed, waived.

They reach the plan like any other event, so a replay (late, duplicated, out of order) gives the
same result; the plan shows a booking and a snooze on the open item, and a waived item as
cancelled with its waiver. A waived chained item is followed by the next one, counted from the day
it was done elsewhere or else from its due date (§0).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.domain.events import EventError, parse_event
from scheduler.domain.model import Booking
from scheduler.domain.plan import plan_follow_up
from tests.builders import History, plan, reminder
from tests.histories import histories_with_as_of

CT1 = "surveillance.high_adjuvant:ct:2024-03-01:1"
CT2 = "surveillance.high_adjuvant:ct:2024-03-01:2"
CT3 = "surveillance.high_adjuvant:ct:2024-03-01:3"
LFT6 = "monitoring.imatinib:lab_lft:2024-03-01:6"


def adjuvant_high_risk() -> History:
    """High-risk small-bowel GIST resected 2024-02-01, adjuvant imatinib from 2024-03-01: CT every
    3 months (surveillance.high_adjuvant) and imatinib blood tests."""
    h = History().add("diagnosis", "2024-01-08", size_cm=6.0, site="jejunum_ileum")
    h.add("biopsy", "2024-01-15", result="gist")
    h.add("resection", "2024-02-01", margin="R0")
    h.add("pathology", "2024-02-08", size_cm=6.0, mitoses_per_5mm2=8, site="jejunum_ileum")
    h.add("mutation", "2024-02-20", gene="KIT", exon=11)
    h.add("therapy_started", "2024-03-01", drug="imatinib", dose_mg=400, setting="adjuvant")
    return h


# ---- booked and snoozed -----------------------------------------------------------------------------


def test_a_booking_is_shown_on_the_open_item() -> None:
    h = adjuvant_high_risk().add(
        "reminder_booked", "2024-05-20", reminder_key=CT1, appointment_on="2024-06-04", place="Radiology B"
    )
    ct = reminder(plan(h, "2024-06-01"), CT1)
    assert ct.status == "due"
    assert ct.booking == Booking(dt.date(2024, 6, 4), "Radiology B", dt.date(2024, 5, 20))
    assert ct.to_json()["booking"] == {"appointment_on": "2024-06-04", "place": "Radiology B"}


def test_a_later_booking_replaces_the_earlier_and_a_done_item_shows_none() -> None:
    h = adjuvant_high_risk()
    h.add("reminder_booked", "2024-05-20", reminder_key=CT1, appointment_on="2024-06-04")
    h.add("reminder_booked", "2024-05-27", reminder_key=CT1, appointment_on="2024-06-11")
    booking = reminder(plan(h, "2024-06-01"), CT1).booking
    assert booking is not None
    assert booking.appointment_on == dt.date(2024, 6, 11)
    h.add("imaging", "2024-06-11", modality="ct", result="no_evidence_of_disease")
    done = reminder(plan(h, "2024-06-12"), CT1)
    assert done.status == "completed"
    assert done.booking is None
    assert "booking" not in done.to_json()


def test_a_snooze_is_shown_and_changes_nothing_else() -> None:
    h = adjuvant_high_risk()
    before = plan(h, "2024-06-20").to_json()
    h.add("reminder_snoozed", "2024-06-03", reminder_key=LFT6, until="2024-06-24")
    after = plan(h, "2024-06-20")
    assert reminder(after, LFT6).snoozed_until == dt.date(2024, 6, 24)
    stripped = [{k: v for k, v in r.items() if k != "snoozed_until"} for r in after.to_json()["reminders"]]
    assert stripped == before["reminders"]


# ---- waived -------------------------------------------------------------------------------------------


def test_a_waived_one_off_is_cancelled_with_its_reason() -> None:
    h = adjuvant_high_risk()
    key = "adjuvant.duration:therapy_review:2024-03-01:1"
    h.add("reminder_waived", "2024-06-03", reminder_key=key, reason="not_applicable", note="MDT: lifelong")
    item = reminder(plan(h, "2024-07-01"), key)
    assert (item.status, item.cancelled_on) == ("cancelled", dt.date(2024, 6, 3))
    assert item.waiver is not None
    assert item.to_json()["waiver"] == {
        "reason": "not_applicable", "waived_on": "2024-06-03", "done_on": None, "note": "MDT: lifelong",
    }  # fmt: skip


def test_a_waived_scan_is_followed_by_the_next_counted_from_its_due_date() -> None:
    h = adjuvant_high_risk()
    h.add("reminder_waived", "2024-06-10", reminder_key=CT1, reason="declined")
    p = plan(h, "2024-10-01")
    assert reminder(p, CT1).status == "cancelled"
    assert reminder(p, CT2).due_on == dt.date(2024, 9, 1)  # as if CT1 was missed: from its due date
    assert reminder(p, CT2).overdue_since is None  # a waived item is not a missed one
    assert reminder(p, CT2).missed == 0


def test_a_scan_done_elsewhere_counts_the_next_from_the_day_it_was_done() -> None:
    h = adjuvant_high_risk()
    h.add("reminder_waived", "2024-06-20", reminder_key=CT1, reason="done_elsewhere", done_on="2024-06-18")
    p = plan(h, "2024-07-01")
    ct1 = reminder(p, CT1)
    assert ct1.waiver is not None
    assert ct1.waiver.done_on == dt.date(2024, 6, 18)
    assert reminder(p, CT2).due_on == dt.date(2024, 9, 18)


def test_an_item_waived_ahead_is_cancelled_when_it_comes() -> None:
    h = adjuvant_high_risk()
    h.add("reminder_waived", "2024-06-03", reminder_key=CT3, reason="not_applicable")
    p = plan(h, "2024-06-05")
    ct3 = reminder(p, CT3)
    assert (ct3.status, ct3.due_on) == ("cancelled", dt.date(2024, 12, 1))
    assert reminder(p, "surveillance.high_adjuvant:ct:2024-03-01:4").due_on == dt.date(2025, 3, 1)


def test_a_waived_lab_leaves_the_fixed_schedule_as_it_was() -> None:
    h = adjuvant_high_risk()
    base = {r.key: r.due_on for r in plan(h, "2024-07-10").reminders}
    h.add("reminder_waived", "2024-06-03", reminder_key=LFT6, reason="done_elsewhere", done_on="2024-06-01")
    p = plan(h, "2024-07-10")
    assert reminder(p, LFT6).status == "cancelled"
    assert {r.key: r.due_on for r in p.reminders} == base


def test_a_result_on_the_waiver_day_fulfils_the_item_first() -> None:
    h = adjuvant_high_risk()
    h.add("imaging", "2024-06-03", modality="ct", result="stable")
    h.add("reminder_waived", "2024-06-03", reminder_key=CT1, reason="declined")
    ct1 = reminder(plan(h, "2024-06-05"), CT1)
    assert ct1.status == "completed"
    assert ct1.waiver is None


def test_an_action_on_a_key_the_plan_does_not_have_changes_nothing() -> None:
    h = adjuvant_high_risk()
    before = plan(h, "2024-07-01").to_json()
    elsewhere = "surveillance.high:ct:2024-03-01:1"
    h.add("reminder_waived", "2024-06-03", reminder_key=elsewhere, reason="declined")
    h.add("reminder_booked", "2024-06-03", reminder_key=elsewhere, appointment_on="2024-06-09")
    h.add("reminder_waived", "2024-06-03", reminder_key=f"{CT1[:-1]}9", reason="declined")
    after = plan(h, "2024-07-01").to_json()
    after["reminders"] = [r for r in after["reminders"] if not r["key"].endswith(":9")]
    before["reminders"] = [r for r in before["reminders"] if not r["key"].endswith(":9")]
    assert after == before


def test_a_waiver_after_follow_up_ended_changes_nothing() -> None:
    h = adjuvant_high_risk().add("follow_up_ended", "2024-05-01", reason="transferred")
    before = plan(h, "2024-07-01").to_json()
    h.add("reminder_waived", "2024-06-03", reminder_key=CT1, reason="declined")
    assert plan(h, "2024-07-01").to_json() == before


def test_the_same_waiver_twice_or_in_another_order_gives_the_same_plan() -> None:
    once = adjuvant_high_risk().add("reminder_waived", "2024-06-03", reminder_key=CT1, reason="declined")
    twice = once.copy().add("reminder_waived", "2024-06-04", reminder_key=CT1, reason="declined")
    assert plan(twice, "2024-10-01").reminders == plan(once, "2024-10-01").reminders
    shuffled = list(reversed(once.events))
    assert plan_follow_up(shuffled, dt.date(2024, 10, 1)) == plan(once, "2024-10-01")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories_with_as_of(), st.data())
def test_waiving_an_open_item_cancels_it_for_good(
    history: tuple[list[Any], dt.date], data: st.DataObject
) -> None:
    """A navigator looks at the plan on some day and waives one of its open items that day: from then
    on the item is cancelled with that waiver, unless a result of the same day fulfilled it or its
    series closed that day; and it is listed whenever it would have been without the waiver (an
    item its series never reached, closing first, is not)."""
    events, as_of = history
    first = min(e.occurred_on for e in events)
    day = as_of - dt.timedelta(days=data.draw(st.integers(0, max(0, (as_of - first).days)), label="back"))
    open_items = [r for r in plan_follow_up(events, day).reminders if r.is_open]
    if not open_items:
        return
    target = data.draw(st.sampled_from(open_items), label="item")
    waiver = parse_event({
        "event_id": "w-1", "patient_id": events[0].patient_id, "type": "reminder_waived",
        "occurred_on": day.isoformat(), "data": {"reminder_key": target.key, "reason": "not_applicable"},
    })  # fmt: skip
    later = {r.key: r for r in plan_follow_up([*events, waiver], as_of).reminders}
    item = later.get(target.key)
    if item is None:
        assert target.key not in {r.key for r in plan_follow_up(events, as_of).reminders}
        return
    if item.waiver is not None:
        assert (item.status, item.cancelled_on) == ("cancelled", day)
    else:
        assert (item.status == "completed" and item.completed_on == day) or item.status == "cancelled"


# ---- bad input ----------------------------------------------------------------------------------------


def event(type_: str, **data: Any) -> dict[str, Any]:
    return {"event_id": "a-1", "patient_id": "P1", "type": type_, "occurred_on": "2026-12-01", "data": data}


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        (event("reminder_booked", reminder_key="CT", appointment_on="2026-12-09"), "data.reminder_key",
         "must be a reminder key"),
        (event("reminder_booked", reminder_key=CT1, appointment_on="2026-13-09"), "data.appointment_on",
         "not a calendar date"),
        (event("reminder_booked", reminder_key=CT1, appointment_on="09/12/2026"), "data.appointment_on",
         "YYYY-MM-DD"),
        (event("reminder_booked", reminder_key=CT1), "data.appointment_on", "required"),
        (event("reminder_booked", reminder_key=CT1, appointment_on="2026-12-09", place=""), "data.place", ""),
        (event("reminder_snoozed", reminder_key=CT1, until="2026-12-01"), "data.until", "after occurred_on"),
        (event("reminder_waived", reminder_key=CT1, reason="busy"), "data.reason", "not one of"),
        (event("reminder_waived", reminder_key=CT1, reason="done_elsewhere"), "data.done_on",
         "required when the reason is done_elsewhere"),
        (event("reminder_waived", reminder_key=CT1, reason="declined", done_on="2026-11-01"), "data.done_on",
         "only for the reason done_elsewhere"),
        (event("reminder_waived", reminder_key=CT1, reason="done_elsewhere", done_on="2026-12-02"),
         "data.done_on", "after occurred_on"),
        (event("reminder_waived", reminder_key=CT1, reason="declined", until="2027-01-01"), "data.until",
         "unknown field"),
    ],
)  # fmt: skip
def test_bad_actions_are_refused_naming_the_field(raw: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(EventError) as refused:
        parse_event(raw)
    assert refused.value.field == field
    assert problem in refused.value.problem


def test_actions_round_trip_through_json() -> None:
    for raw in (
        event("reminder_booked", reminder_key=CT1, appointment_on="2026-12-09", place="Room 4"),
        event("reminder_snoozed", reminder_key=CT1, until="2026-12-15"),
        event("reminder_waived", reminder_key=CT1, reason="done_elsewhere", done_on="2026-11-20", note="x"),
    ):
        parsed = parse_event(raw)
        assert parsed.to_json() == raw
        assert parse_event(parsed.to_json()) == parsed
