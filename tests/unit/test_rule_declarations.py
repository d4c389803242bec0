"""The rule declarations: complete triggers, ids and citations tied to clinical-rules.md, messages
rendered from the profile.

* The engine evaluates a rule only on days one of its declared triggers happens. If a declaration
  forgot a trigger, evaluating every rule on every event day would give another plan: these tests
  compare both on generated histories, the synthetic cohort and the example cohort.
* Every rule id the core can name is in clinical-rules.md, and every source a citation names is in
  its §13 (or is the seed summary, saying that no primary source was found).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.synthetic import synthetic_cohort
from scheduler.domain.case import Case
from scheduler.domain.engine import Engine
from scheduler.domain.events import Event, read_jsonl
from scheduler.domain.plan import plan_follow_up, plan_from, replay
from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.domain.rules.base import SEED_SUMMARY, render
from scheduler.domain.rules.catalogue import ALERT_RULES, RULES, SERIES_RULES
from tests.builders import History, alert, open_reminders, plan
from tests.histories import histories_with_as_of
from tests.support.guard import unavailable

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "clinical-rules.md"
CONTRACT_KINDS = {
    "ct", "mri", "eus", "lab_lft", "lab_cbc", "lab_tsh", "echo", "skin_exam", "biopsy", "mutation_test",
    "mdt_review", "therapy_review", "clinic_visit",
}  # fmt: skip


def every_day_plan(events: list[Event], as_of: dt.date) -> dict[str, object]:
    return plan_from(replay(events, as_of, every_day=True), as_of).to_json()


# ---- triggers ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories_with_as_of())
def test_declared_triggers_give_the_plan_of_evaluating_every_day(
    history: tuple[list[Event], dt.date],
) -> None:
    events, as_of = history
    assert plan_follow_up(events, as_of).to_json() == every_day_plan(events, as_of)


@pytest.mark.slow
def test_declared_triggers_hold_on_the_synthetic_cohort() -> None:
    for events in synthetic_cohort(300, seed=11):
        for as_of in (dt.date(2019, 6, 30), dt.date(2023, 2, 28), dt.date(2026, 11, 27)):
            if min(e.occurred_on for e in events) > as_of:
                continue
            assert plan_follow_up(events, as_of).to_json() == every_day_plan(events, as_of), events[
                0
            ].patient_id


def test_the_engines_trigger_index_selects_what_the_declarations_match() -> None:
    """The engine looks triggers up by event type and field value; that lookup must select exactly
    the declarations whose triggers match the event."""
    engine = Engine(Case("P"), DEFAULT_PROFILE, SERIES_RULES)
    events = [e for history in synthetic_cohort(200, seed=5) for e in history]
    assert len({e.type for e in events}) >= 15
    for event in events:
        declared = {i for i, rule in enumerate(SERIES_RULES) if any(t.matches(event) for t in rule.triggers)}
        assert engine._triggered_by([event]) == declared, event


def test_declared_triggers_hold_on_the_example_cohort() -> None:
    result = read_jsonl((ROOT / "examples" / "cohort.jsonl").read_text().splitlines())
    by_patient: dict[str, list[Event]] = {}
    for e in result.events:
        by_patient.setdefault(e.patient_id, []).append(e)
    for events in by_patient.values():
        for as_of in (dt.date(2021, 6, 1), dt.date(2024, 6, 1), dt.date(2026, 11, 27)):
            if min(e.occurred_on for e in events) <= as_of:
                assert plan_follow_up(events, as_of).to_json() == every_day_plan(events, as_of)


# ---- ids and citations ------------------------------------------------------------------------------


def spec_text() -> str:
    if not SPEC.exists():
        unavailable(f"{SPEC} is not beside this checkout", what="the checks against clinical-rules.md")
    return SPEC.read_text()


def test_every_rule_id_is_named_in_the_spec() -> None:
    spec = spec_text()
    for rule_id in RULES:
        tier = rule_id.removeprefix("surveillance.")
        drug = rule_id.removeprefix("monitoring.")
        if tier in ("very_low", "low", "intermediate", "high"):  # §0: the rows `surveillance.<tier>`
            assert "`surveillance.<tier>`" in spec, rule_id
            assert re.search(rf"^\| {tier}[ ,|]", spec, re.M), f"{rule_id}: no row of §6's table"
        elif drug in ("imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib"):
            assert "`monitoring.<drug>`" in spec, rule_id
            assert f"\n| {drug} |" in spec, f"{rule_id}: no row of §8's table"
        else:
            assert f"`{rule_id}`" in spec, f"{rule_id} is not named in clinical-rules.md"


def _sources(spec: str) -> str:
    return spec[spec.index("## 13. Sources") :]


def test_every_citation_names_sources_of_section_13() -> None:
    sources = _sources(spec_text())
    citations = {r.citation for r in SERIES_RULES} | {r.citation for r in ALERT_RULES}
    citations |= {r.citation for r in RULES.values()}
    for citation in citations:
        for part in citation.split("; "):
            if part.startswith((SEED_SUMMARY, "no primary source found")):
                continue
            first_word = re.split(r"[ ,(]", part)[0]
            assert first_word in sources, f"{part!r}: {first_word} is not a source of §13"
            for year in re.findall(r"\b(?:19|20)\d\d\b", part):
                assert year in sources, f"{part!r}: {year} is not in §13"


def test_seed_only_schedules_cite_the_seed_and_say_so() -> None:
    ruptured = next(r for r in SERIES_RULES if r.id == "surveillance.ruptured")
    assert ruptured.citation.startswith(SEED_SUMMARY)
    assert "no primary source found" in ruptured.citation


# ---- declarations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", SERIES_RULES, ids=lambda r: f"{r.id}:{'/'.join(r.kinds)}")
def test_each_reminder_rule_is_complete(rule: object) -> None:
    assert rule.id
    assert rule.triggers
    assert rule.citation
    assert set(rule.kinds) <= CONTRACT_KINDS  # type: ignore[attr-defined]
    assert render(rule.message, DEFAULT_PROFILE)  # type: ignore[attr-defined]


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: f"{r.id}:{r.code}")
def test_each_alert_rule_renders_its_messages(rule: object) -> None:
    for template in rule.messages.values():  # type: ignore[attr-defined]
        names = set(re.findall(r"{(\w+)", template))
        profile_names = {n for n in names if hasattr(DEFAULT_PROFILE, n)}
        assert render(template, DEFAULT_PROFILE, dict.fromkeys(names - profile_names, "X"))


def test_thresholds_come_from_the_profile_and_so_do_the_messages() -> None:
    h = History()
    h.add("diagnosis", "2026-01-02", site="stomach", size_cm=6.0, metastatic=True)
    h.add("biopsy", "2026-01-03", result="gist")
    h.add("therapy_started", "2026-01-05", drug="regorafenib", dose_mg=160, setting="advanced")
    h.add("lab_result", "2026-02-02", test="alt", value=110, uln=40)  # 2.75× ULN
    assert alert(plan(h, "2026-02-03"), "hepatotoxicity") is None
    stricter = DEFAULT_PROFILE.with_overrides({"regorafenib_liver_weekly_above_uln": 2.5})
    p = plan_follow_up(list(h), dt.date(2026, 2, 3), stricter)
    found = next(a for a in p.alerts if a.code == "hepatotoxicity")
    assert "2.5× ULN" in found.message
    [weekly, *_] = [r for r in p.reminders if r.rule == "monitoring.regorafenib_liver"]
    assert "2.5× ULN" in weekly.rationale
    assert open_reminders(plan(h, "2026-02-03"), rule="monitoring.regorafenib_liver") == []
