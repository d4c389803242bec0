"""Properties of the plan (clinical-rules.md §0, §9, §10; event-contract.md §2) over random histories.

Histories come from ``tests/histories.py``: one patient, 5–30 valid events. Plans are compared as
``to_json()``, the contract's shape. Each property runs a modest number of examples (no time limits;
``GIST_PROPERTY_SCALE=10`` runs ten times as many), and the late-scan property is also pinned by
hand-computed examples.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from scheduler.domain.events import Event, parse_event
from scheduler.domain.model import Plan
from scheduler.domain.plan import plan_follow_up, plan_patients
from tests.histories import build_events, histories_with_as_of, patient_histories

SCALE = max(1, int(os.environ.get("GIST_PROPERTY_SCALE", "1")))


def examples(n: int) -> settings:
    return settings(max_examples=n * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


KINDS = {
    "ct",
    "mri",
    "eus",
    "lab_lft",
    "lab_cbc",
    "lab_tsh",
    "echo",
    "skin_exam",
    "biopsy",
    "mutation_test",
    "mdt_review",
    "therapy_review",
    "clinic_visit",
}
STATUSES = {"planned", "due", "overdue", "completed", "cancelled"}
OPEN = {"planned", "due", "overdue"}
SEVERITIES = {"info", "warning", "critical"}
STAGES = {
    "workup",
    "small_tumour_surveillance",
    "neoadjuvant",
    "adjuvant",
    "post_treatment_surveillance",
    "advanced",
    "ended",
}
TIERS = {"very_low", "low", "intermediate", "high", None}
AFIP_GROUPS = {"1", "2", "3a", "3b", "4", "5", "6a", "6b", None}
CONTRACT_ALERTS = {
    "risk_after_neoadjuvant",  # contract v4
    "rectal_tumour_needs_tissue",
    "mutation_analysis_missing",
    "bouin_fixative",
    "adjuvant_indicated",
    "adjuvant_unlikely_to_benefit",
    "adjuvant_debated",
    "rupture_adjuvant_mandatory",
    "adjuvant_stopped_early",
    "kit_exon9_dose",
    "no_routine_imaging",
    "next_line_due",
    "pdgfra_d842v_imatinib_resistant",
    "imatinib_stopped_in_advanced_disease",
    "cytoreductive_surgery_window",
    "resume_tki_after_surgery",
    "hepatotoxicity",
}
RULE_FAMILIES = ("workup.", "neoadjuvant.", "adjuvant.", "surveillance.", "advanced.", "monitoring.")
KEY = re.compile(r"^(?P<rule>[a-z0-9_.]+):(?P<kind>[a-z_]+):(?P<anchor>\d{4}-\d{2}-\d{2}):(?P<n>[1-9]\d*)$")


def plan_json(events: list[Event], as_of: dt.date) -> dict[str, Any]:
    return plan_follow_up(events, as_of).to_json()


def key_parts(key: str) -> tuple[str, str, dt.date, int]:
    match = KEY.match(key)
    assert match, f"key {key!r} is not rule:kind:YYYY-MM-DD:n"
    return match["rule"], match["kind"], dt.date.fromisoformat(match["anchor"]), int(match["n"])


def series_of(key: str) -> str:
    return key.rsplit(":", 1)[0]


def ordinal(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


def copy_event(e: Event, **changes: Any) -> Event:
    return parse_event({**e.to_json(), **changes})


# ---- §10: deterministic and pure, whatever the arrival order, with or without duplicates --------


@examples(150)
@given(histories_with_as_of(), st.data())
def test_order_and_identical_duplicates_do_not_change_the_plan(
    history: tuple[list[Event], dt.date], data: st.DataObject
) -> None:
    events, as_of = history
    expected = plan_json(events, as_of)
    shuffled = data.draw(st.permutations(events), label="shuffled")
    assert plan_json(shuffled, as_of) == expected
    # identical duplicates: re-parsed copies of some events (equal after JSON parsing), anywhere
    repeats = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=10), label="repeats")
    with_duplicates = data.draw(st.permutations([*events, *(copy_event(e) for e in repeats)]), label="order")
    assert plan_json(with_duplicates, as_of) == expected
    assert [p.to_json() for p in plan_patients(with_duplicates, as_of)] == [expected]


@examples(80)
@given(histories_with_as_of())
def test_planning_is_deterministic_and_leaves_its_input_alone(history: tuple[list[Event], dt.date]) -> None:
    events, as_of = history
    before = [e.to_json() for e in events]
    first = plan_follow_up(events, as_of)
    second = plan_follow_up(events, as_of)
    assert first == second
    assert first.to_json() == second.to_json()
    assert [e.to_json() for e in events] == before  # the caller's list is not sorted or trimmed in place


@examples(50)
@given(histories_with_as_of(), patient_histories())
def test_each_patient_is_planned_on_its_own(history: tuple[list[Event], dt.date], other: list[Event]) -> None:
    events, as_of = history
    second = [copy_event(e, patient_id="P0", event_id=f"p0-{e.event_id}") for e in other]
    plans = plan_patients([*events, *second], as_of)
    expected = (
        []
        if min(e.occurred_on for e in second) > as_of
        else [plan_json([e for e in second if e.occurred_on <= as_of], as_of)]
    )
    expected.append(plan_json(events, as_of))
    assert [p.to_json() for p in plans] == expected  # sorted by patient_id, P0 left out if empty


# ---- §0 replay: events after as_of are ignored --------------------------------------------------


@examples(150)
@given(histories_with_as_of(), st.data())
def test_events_after_as_of_are_ignored(history: tuple[list[Event], dt.date], data: st.DataObject) -> None:
    events, as_of = history
    known = [e for e in events if e.occurred_on <= as_of]
    expected = plan_json(known, as_of)
    assert plan_json(events, as_of) == expected
    # and any further events of any type, on any later day, change nothing either
    later = [
        copy_event(
            e,
            event_id=f"late-{n}",
            occurred_on=(as_of + dt.timedelta(days=data.draw(st.integers(1, 800)))).isoformat(),
        )
        for n, e in enumerate(data.draw(st.lists(st.sampled_from(events), max_size=8), label="later"))
    ]
    assert plan_json([*events, *later], as_of) == expected


# ---- contract §2 shape: enumerations, unique keys, rule/rationale/citation everywhere ---------


def check_plan_shape(plan: Plan, events: list[Event]) -> None:
    out = plan.to_json()
    assert out["patient_id"] == "P1"
    assert out["as_of"] == plan.as_of.isoformat()
    assert out["stage"] in STAGES
    risk = out["risk"]
    assert risk["nih_modified"] in TIERS
    assert risk["afip_group"] in AFIP_GROUPS
    assert isinstance(risk["ruptured"], bool)
    assert risk["afip_progression_pct"] is None or isinstance(risk["afip_progression_pct"], int | float)
    if out["therapy"] is not None:
        assert set(out["therapy"]) >= {"drug", "dose_mg", "setting", "started_on", "line"}
        assert out["therapy"]["line"] is None or out["therapy"]["line"] >= 1
    for alert in out["alerts"]:
        assert alert["severity"] in SEVERITIES
        for field in ("code", "message", "rule", "citation"):
            assert isinstance(alert[field], str), (field, alert)
            assert alert[field].strip(), (field, alert)
        assert alert["code"] in CONTRACT_ALERTS, alert["code"]

    keys = [r["key"] for r in out["reminders"]]
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates, f"keys listed twice: {duplicates}"
    for r in out["reminders"]:
        assert r["kind"] in KINDS, r
        assert r["status"] in STATUSES, r
        for field in ("rule", "rationale", "citation"):
            assert isinstance(r[field], str), (field, r)
            assert r[field].strip(), (field, r)
        assert r["rule"].startswith(RULE_FAMILIES), r["rule"]
        assert isinstance(r["window_days"], int), r
        assert r["window_days"] >= 0, r
        rule, kind, _, _ = key_parts(r["key"])
        assert (rule, kind) == (r["rule"], r["kind"]), r
        dt.date.fromisoformat(r["due_on"])
    # §0: items with equal due dates are ordered by rule id, then key
    order = [(r["due_on"], r["rule"], r["key"]) for r in out["reminders"]]
    assert order == sorted(order)


# Series without a fixed end (§0 "Horizon"): advanced disease, running drugs, small-tumour
# surveillance, surveillance awaiting pathology or during adjuvant, weekly liver tests.
OPEN_ENDED_RULES = (
    "advanced.imaging",
    "monitoring.",
    "workup.small_gastric",
    "surveillance.awaiting_pathology",
    "surveillance.high_adjuvant",
)


def plus_months(day: dt.date, months: int) -> dt.date:
    """Calendar months clamped to the month's end (§6), written out here rather than imported."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    return dt.date(year, month, min(day.day, (next_month - dt.timedelta(days=1)).day))


def fulfils(event: Event, kind: str) -> bool:
    """§9 "what fulfils what", written out from the spec (not imported from the engine)."""
    d = event.to_json()["data"]
    return {
        "ct": event.type == "imaging" and d["modality"] in ("ct", "mri"),
        "mri": event.type == "imaging" and d["modality"] == "mri",
        "eus": event.type == "imaging" and d["modality"] == "eus",
        "lab_lft": event.type == "lab_result" and d["test"] in ("alt", "ast", "bilirubin"),
        "lab_cbc": event.type == "lab_result" and d["test"] in ("neutrophils", "platelets", "hemoglobin"),
        "lab_tsh": event.type == "lab_result" and d["test"] == "tsh",
        "echo": event.type == "lab_result" and d["test"] == "lvef",
        "clinic_visit": event.type == "visit" and d["kind"] == "clinic_visit",
        "skin_exam": event.type == "visit" and d["kind"] == "skin_exam",
        "mdt_review": event.type == "mdt_review",
        "biopsy": event.type == "biopsy" and d["result"] in ("gist", "not_gist"),
        "mutation_test": event.type == "mutation",
        "therapy_review": event.type in ("mdt_review", "therapy_started", "therapy_stopped", "dose_changed"),
    }[kind]


def is_chained(rule: str, kind: str) -> bool:
    """The chained rows of §0/§6–§8: surveillance and advanced imaging, small-gastric EUS, skin exams."""
    return (
        rule.startswith(("surveillance.", "advanced.imaging", "neoadjuvant.response"))
        or (rule, kind) == ("workup.small_gastric", "eus")
        or (rule, kind) == ("monitoring.ripretinib", "skin_exam")
    )


def check_statuses_and_fulfilment(plan: Plan, events: list[Event]) -> None:
    """§9: status follows as_of and the window; completions are by an eligible event of the right kind."""
    as_of = plan.as_of
    by_id = {e.event_id: e for e in events}
    for r in plan.reminders:
        last_day = r.due_on + dt.timedelta(days=r.window_days)
        if r.status == "planned":
            assert as_of < r.due_on, r
        elif r.status == "due":
            assert r.due_on <= as_of <= last_day, r
        elif r.status == "overdue":
            assert as_of > last_day, r
        elif r.status == "cancelled":
            assert r.cancelled_on is not None, r
            assert r.cancelled_on <= as_of, r
        else:
            assert r.completed_on is not None, r
            assert r.completed_on <= as_of, r
            event = by_id.get(r.completed_by or "")
            assert event is not None, f"{r.key} completed by unknown event {r.completed_by!r}"
            assert event.occurred_on == r.completed_on, r
            assert fulfils(event, r.kind), f"{r.key} ({r.kind}) fulfilled by a {event.type} {event.data}"
            if is_chained(r.rule, r.kind):  # eligible from half an interval (at most 6 months) before
                assert (r.due_on - r.completed_on).days <= 184, r
            else:  # fixed and one-off: from the window before; fixed ones to the window after
                assert (r.due_on - r.completed_on).days <= r.window_days, r
                if r.rule.startswith("monitoring."):
                    assert r.completed_on <= last_day, r
    # one item of each kind a day (§9), except that one MDT review covers every eligible open one
    per_day = Counter(
        (r.completed_on, r.kind) for r in plan.reminders if r.status == "completed" and r.kind != "mdt_review"
    )
    assert all(n == 1 for n in per_day.values()), f"one day fulfilled two items of a kind: {per_day}"


@examples(150)
@given(histories_with_as_of())
def test_plan_has_the_contract_shape(history: tuple[list[Event], dt.date]) -> None:
    events, as_of = history
    plan = plan_follow_up(events, as_of)
    check_plan_shape(plan, events)
    check_statuses_and_fulfilment(plan, events)
    # §0 horizon: series without a fixed end are listed to 12 months after as_of, not beyond
    horizon = plus_months(as_of, 12)
    beyond = [r.key for r in plan.reminders if r.rule.startswith(OPEN_ENDED_RULES) and r.due_on > horizon]
    assert not beyond, f"open-ended items listed past {horizon}: {beyond}"


@examples(80)
@given(patient_histories(), st.data())
def test_after_follow_up_ended_nothing_is_open_and_no_alert(events: list[Event], data: st.DataObject) -> None:
    """§0: series close at follow-up end (open items cancelled); after it there are no alerts at all."""
    last = max(e.occurred_on for e in events)
    end_day = data.draw(st.dates(min(e.occurred_on for e in events), last), label="ended on")
    ended = parse_event(
        {
            "event_id": "end",
            "patient_id": "P1",
            "type": "follow_up_ended",
            "occurred_on": end_day.isoformat(),
            "data": {"reason": "transferred"},
        }
    )
    as_of = data.draw(st.dates(end_day, last + dt.timedelta(days=400)), label="as_of")
    plan = plan_follow_up([*events, ended], as_of)
    assert plan.stage == "ended"
    assert plan.alerts == ()
    assert [r.key for r in plan.reminders if r.status in OPEN] == []


# ---- §10: no item is due before the event that opened it ----------------------------------------


@examples(150)
@given(histories_with_as_of())
def test_no_item_is_due_before_its_trigger(history: tuple[list[Event], dt.date]) -> None:
    events, as_of = history
    known_days = {e.occurred_on for e in events if e.occurred_on <= as_of}
    first = min(known_days)
    for r in plan_follow_up(events, as_of).reminders:
        _, _, anchor, _ = key_parts(r.key)
        assert r.due_on >= first, f"{r.key} due {r.due_on} before the first event ({first})"
        assert anchor <= r.due_on, f"{r.key} due {r.due_on} before its anchor"
        # an anchor is a trigger's date: a day something happened, on or before as_of
        assert anchor in known_days, f"{r.key}: anchor {anchor} is not the day of any event up to {as_of}"


# ---- §10: no two open items of the same kind and rule on one day --------------------------------


@examples(150)
@given(histories_with_as_of())
def test_no_two_open_items_of_one_kind_and_rule_on_one_day(history: tuple[list[Event], dt.date]) -> None:
    events, as_of = history
    slots = Counter(
        (r.rule, r.kind, r.due_on) for r in plan_follow_up(events, as_of).reminders if r.status in OPEN
    )
    clashes = [slot for slot, n in slots.items() if n > 1]
    assert not clashes, f"open items on one day: {clashes}"


# ---- §0/§9: a late scan moves the later items of a chain, never their keys ----------------------


# The chained kinds and a result-free event that fulfils each (it changes nothing but the fulfilment).
LATE_EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "ct": ("imaging", {"modality": "ct"}),
    "eus": ("imaging", {"modality": "eus"}),
    "skin_exam": ("visit", {"kind": "skin_exam"}),
}


def check_late_scan(events: list[Event], ct_day: dt.date, target_key: str) -> tuple[Plan, Plan]:
    """Add a scan (or exam) on ``ct_day``, after the target's due date; check what may and may not change."""
    kind = key_parts(target_key)[1]
    event_type, event_data = LATE_EVENTS[kind]
    ct = parse_event(
        {
            "event_id": "late-ct",
            "patient_id": "P1",
            "type": event_type,
            "occurred_on": ct_day.isoformat(),
            "data": event_data,
        }
    )
    before = plan_follow_up(events, ct_day)
    after = plan_follow_up([*events, ct], ct_day)
    chain = series_of(target_key)
    n = ordinal(target_key)
    old = {r.key: r for r in before.reminders if series_of(r.key) == chain}
    new = {r.key: r for r in after.reminders if series_of(r.key) == chain}
    assert old[target_key].status in OPEN
    assert old[target_key].due_on < ct_day

    fulfilled = new[target_key]
    assert (fulfilled.status, fulfilled.completed_on, fulfilled.completed_by) == (
        "completed",
        ct_day,
        "late-ct",
    )
    assert fulfilled.due_on == old[target_key].due_on  # fulfilling late does not move the item itself
    for key, r in old.items():  # the items up to the late one keep their keys and dates
        if ordinal(key) <= n:
            assert key in new, f"{key} disappeared after a late scan"
            if key != target_key:
                assert new[key] == r
    for key in old.keys() & new.keys():  # the later ones keep their keys and move later
        if ordinal(key) > n:
            assert new[key].due_on >= old[key].due_on, key
    following = f"{chain}:{n + 1}"
    if following in new:  # counted from the scan now (">=" above: calendar months clamp at month end)
        assert new[following].due_on > ct_day
    for plan in (old, new):  # ordinals stay a gap-free run 1..m
        assert sorted(ordinal(k) for k in plan) == list(range(1, len(plan) + 1))
    # nothing else in the plan changes: a scan without a result only fulfils the item
    others_before = [r for r in before.reminders if series_of(r.key) != chain]
    others_after = [r for r in after.reminders if series_of(r.key) != chain]
    assert others_after == others_before
    assert (after.stage, after.alerts, after.risk, after.therapy) == (
        before.stage,
        before.alerts,
        before.risk,
        before.therapy,
    )
    return before, after


@examples(150)
@given(patient_histories(), st.integers(1, 150), st.data())
def test_a_late_scan_keeps_keys_and_moves_later_items(
    events: list[Event], lateness: int, data: st.DataObject
) -> None:
    last = max(e.occurred_on for e in events)
    open_items = [
        r for r in plan_follow_up(events, last).reminders if r.status in OPEN and is_chained(r.rule, r.kind)
    ]
    assume(open_items)
    kind = data.draw(st.sampled_from(sorted({r.kind for r in open_items})), label="kind")
    first = min((r for r in open_items if r.kind == kind), key=lambda r: (r.due_on, r.rule, r.key))
    scan_day = max(first.due_on, last) + dt.timedelta(days=lateness)
    # the item a scan of that kind fulfils first on that day (§9: the eligible open item due
    # earliest); items missed by then are superseded (v4 §0), so look at the plan of that day
    still_open = [
        r
        for r in plan_follow_up(events, scan_day).reminders
        if r.status in OPEN and r.kind == kind and is_chained(r.rule, r.kind) and r.due_on < scan_day
    ]
    assume(still_open)
    target = min(still_open, key=lambda r: (r.due_on, r.rule, r.key))
    event(f"late {kind} for {target.rule}")
    check_late_scan(events, scan_day, target.key)


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


INTERMEDIATE = build_events(
    [
        (_d("2020-01-10"), "diagnosis", {"site": "stomach", "size_cm": 6.0}),
        (_d("2020-02-03"), "resection", {"margin": "R0"}),
        (_d("2020-02-17"), "pathology", {"size_cm": 6.0, "mitoses_per_5mm2": 3, "site": "stomach"}),
        (_d("2020-03-02"), "mutation", {"gene": "KIT", "exon": 11}),
        (_d("2020-05-04"), "imaging", {"modality": "ct", "result": "no_evidence_of_disease"}),
    ]
)


def test_late_scan_in_intermediate_surveillance_moves_the_rest_of_the_chain() -> None:
    """Gastric 6 cm, 3 mitoses → intermediate: CT every 3–6 months from the resection (2020-02-03).

    Item 1 due 2020-05-03, done 2020-05-04 → item 2 due 2020-08-04. Without a scan, item 3 is due
    three months after item 2's due date (2020-11-04); a CT on 2020-10-20 fulfils item 2 late and
    item 3 becomes due 2021-01-20, then 2021-04-20 … — the keys stay ``…:2020-02-03:n``.
    """
    prefix = "surveillance.intermediate:ct:2020-02-03:"
    before, after = check_late_scan(INTERMEDIATE, _d("2020-10-20"), prefix + "2")
    old = {r.key: r for r in before.reminders}
    new = {r.key: r for r in after.reminders}
    assert old[prefix + "1"].status == "completed"
    assert old[prefix + "1"].completed_on == _d("2020-05-04")
    assert (old[prefix + "2"].due_on, old[prefix + "2"].status) == (_d("2020-08-04"), "due")
    assert old[prefix + "2"].window_days == (_d("2020-11-04") - _d("2020-08-04")).days  # window to 6 months
    assert old[prefix + "3"].due_on == _d("2020-11-04")
    assert new[prefix + "3"].due_on == _d("2021-01-20")
    assert new[prefix + "4"].due_on == _d("2021-04-20")
    assert new[prefix + "3"].status == "planned"


ADVANCED = build_events(
    [
        (_d("2021-03-01"), "diagnosis", {"site": "stomach", "size_cm": 8.0, "metastatic": True}),
        (_d("2021-03-10"), "biopsy", {"result": "gist"}),
        (_d("2021-03-24"), "mutation", {"gene": "KIT", "exon": 11}),
        (_d("2021-04-01"), "therapy_started", {"drug": "imatinib", "dose_mg": 400, "setting": "advanced"}),
    ]
)


def test_late_scan_in_advanced_disease_moves_the_rest_of_the_chain() -> None:
    """Advanced imaging is anchored again at the line start (2021-04-01): CT due 2021-07-01, every
    3 months. A CT on 2021-08-15 fulfils item 1 late: item 2 moves from 2021-10-01 to 2021-11-15."""
    prefix = "advanced.imaging:ct:2021-04-01:"
    before, after = check_late_scan(ADVANCED, _d("2021-08-15"), prefix + "1")
    old = {r.key: r for r in before.reminders}
    new = {r.key: r for r in after.reminders}
    assert old[prefix + "1"].due_on == _d("2021-07-01")
    assert old[prefix + "2"].due_on == _d("2021-10-01")
    assert new[prefix + "2"].due_on == _d("2021-11-15")
    assert new[prefix + "3"].due_on == _d("2022-02-15")
    assert not any(
        r.key.startswith("advanced.imaging:ct:2021-03-01:")
        for r in after.reminders
        if r.status != "cancelled"
    )


# ---- §9: a completed item stays completed at every later as_of ----------------------------------


@examples(150)
@given(histories_with_as_of(), st.integers(0, 1500))
def test_completed_stays_completed_later(history: tuple[list[Event], dt.date], days_later: int) -> None:
    events, as_of = history
    later = as_of + dt.timedelta(days=days_later)
    then = {r.key: r for r in plan_follow_up(events, as_of).reminders if r.status == "completed"}
    now = {r.key: r for r in plan_follow_up(events, later).reminders}
    for key, r in then.items():
        assert key in now, f"{key} completed on {as_of} is missing on {later}"
        assert (now[key].status, now[key].completed_on, now[key].completed_by, now[key].due_on) == (
            "completed",
            r.completed_on,
            r.completed_by,
            r.due_on,
        ), key


STATUS_RANK = {"planned": 0, "due": 1, "overdue": 2, "cancelled": 3}


@examples(150)
@given(patient_histories(), st.integers(0, 800), st.integers(0, 800))
def test_with_no_new_event_time_only_moves_statuses_forward(
    events: list[Event], start: int, days_later: int
) -> None:
    """After the last event only the clock moves: due dates stay, planned → due → overdue (→ cancelled
    for a missed fixed item), completed stays completed, nothing goes back."""
    last = max(e.occurred_on for e in events)
    as_of = last + dt.timedelta(days=start)
    later = as_of + dt.timedelta(days=days_later)
    then = {r.key: r for r in plan_follow_up(events, as_of).reminders}
    now = {r.key: r for r in plan_follow_up(events, later).reminders}
    for key in then.keys() & now.keys():
        a, b = then[key], now[key]
        assert b.due_on == a.due_on, key
        assert b.window_days == a.window_days, key
        if a.status == "completed":
            assert b == a, key
        else:
            assert b.status != "completed", key
            assert STATUS_RANK[b.status] >= STATUS_RANK[a.status], (key, a.status, b.status)
    # an open item listed then, due before the later horizon, is still listed (cancelled ones may go)
    for key, r in then.items():
        if r.status in OPEN and key not in now:
            assert r.due_on > later, f"{key} ({r.status} on {as_of}) vanished by {later}"


# ---- contract §2: plans are JSON ----------------------------------------------------------------


@examples(80)
@given(histories_with_as_of())
def test_plan_json_round_trips(history: tuple[list[Event], dt.date]) -> None:
    events, as_of = history
    out = plan_follow_up(events, as_of).to_json()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out


@pytest.mark.parametrize("events", [INTERMEDIATE, ADVANCED], ids=["intermediate", "advanced"])
def test_fixed_examples_have_the_contract_shape(events: list[Event]) -> None:
    check_plan_shape(plan_follow_up(events, _d("2022-01-01")), events)
