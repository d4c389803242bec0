"""Scenario tests: one clinical story per seed pathway, replayed at chosen ``as_of`` days.

Every expected date, window, key, status, alert and severity below was worked out by hand from
/work/shared/clinical-rules.md (§0 evaluation, §4–§9 rules, §12 alerts) and is written as a literal;
nothing is computed with the code under test. Windows of "a–b month" intervals are the days from
the due date (base + a months) to base + b months, calendar months clamped to month end (§6).

Because events dated after ``as_of`` are ignored (§0), one history per pathway serves every
``as_of`` of its class. Keys follow ``{rule}:{kind}:{anchor}:{ordinal}``; the pure plan may omit
cancelled items, so a closed item is checked with ``is_cancelled_or_omitted``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.builders import (
    History,
    alert,
    alert_codes,
    d,
    dues,
    imatinib_in_advanced_disease,
    is_cancelled_or_omitted,
    keys,
    open_reminders,
    plan,
    reminder,
    reminders,
)

ADJUVANT_ALERTS = {
    "adjuvant_indicated",
    "adjuvant_unlikely_to_benefit",
    "adjuvant_debated",
    "rupture_adjuvant_mandatory",
    "adjuvant_stopped_early",
    "no_routine_imaging",
}


# ================================================================================================
# 1. Small gastric nodule (1.5 cm, stomach) under EUS surveillance — §3, §4 workup.small_gastric
# ================================================================================================

SG = "workup.small_gastric"


def small_gastric() -> History:
    h = History()
    h.add("diagnosis", "2024-01-10", site="stomach", size_cm=1.5, method="eus")
    h.add("imaging", "2024-04-20", modality="eus", result="stable")  # item 1 on time (due 2024-04-10)
    return h


class TestSmallGastricNodule:
    def test_first_eus_three_months_after_diagnosis_with_14_day_window(self) -> None:
        p = plan(small_gastric(), "2024-01-20")
        assert p.stage == "small_tumour_surveillance"
        assert p.risk.nih_modified is None
        assert p.alerts == ()
        eus = reminders(p, rule=SG, kind="eus")
        # item 1 at 3 months (14 days); item 2 counted from item 1's due date: 6 months, window to 12
        assert keys(p, rule=SG, kind="eus") == [f"{SG}:eus:2024-01-10:1", f"{SG}:eus:2024-01-10:2"]
        assert dues(eus) == [("2024-04-10", 14), ("2024-10-10", 182)]
        assert [r.status for r in eus] == ["planned", "planned"]

    def test_no_biopsy_or_mdt_while_under_small_tumour_surveillance(self) -> None:
        p = plan(small_gastric(), "2024-01-20")
        # workup.tissue is for "any other tumour"; the nodule is covered by workup.small_gastric
        assert [r.key for r in open_reminders(p)] == [f"{SG}:eus:2024-01-10:1", f"{SG}:eus:2024-01-10:2"]

    def test_eus_on_time_completes_item_and_next_is_counted_from_the_fulfilment(self) -> None:
        p = plan(small_gastric(), "2024-06-01")
        first = reminder(p, f"{SG}:eus:2024-01-10:1")
        assert (first.status, first.due_on) == ("completed", d("2024-04-10"))
        assert first.completed_on == d("2024-04-20")
        later = [r for r in reminders(p, rule=SG, kind="eus") if r.status != "completed"]
        # 2024-04-20 + 6 months, window to +12 months; then one interval after that due date;
        # the horizon (2025-06-01) stops the list before 2025-10-20
        assert [r.key for r in later] == [f"{SG}:eus:2024-01-10:2", f"{SG}:eus:2024-01-10:3"]
        assert dues(later) == [("2024-10-20", 182), ("2025-04-20", 183)]
        assert [r.status for r in later] == ["planned", "planned"]

    @pytest.mark.parametrize(
        ("as_of", "expected"),
        [
            pytest.param("2024-10-19", {2: "planned"}, id="day-before-due"),
            pytest.param("2024-10-20", {2: "due"}, id="due-day"),
            pytest.param("2025-04-20", {2: "due", 3: "due"}, id="last-day-of-12-month-window"),
            # v4 §0: past its window and with the next item due, the missed item is superseded
            pytest.param("2025-04-21", {2: "cancelled", 3: "due"}, id="missed-item-superseded"),
        ],
    )
    def test_status_through_the_6_to_12_month_window(self, as_of: str, expected: dict[int, str]) -> None:
        p = plan(small_gastric(), as_of)
        for ordinal, status in expected.items():
            assert reminder(p, f"{SG}:eus:2024-01-10:{ordinal}").status == status

    def test_calendar_months_clamp_to_month_end(self) -> None:
        h = History()
        h.add("diagnosis", "2024-05-31", site="stomach", size_cm=1.5, method="eus")
        h.add("imaging", "2024-08-31", modality="eus", result="stable")
        p = plan(h, "2024-09-01")
        eus = reminders(p, rule=SG, kind="eus")
        # 2024-08-31 + 6 months = 2025-02-28 (clamped), window to 2025-08-31; the next is counted from
        # that due date: 2025-02-28 + 6 months = 2025-08-28, window to 2026-02-28
        assert dues(eus) == [("2024-08-31", 14), ("2025-02-28", 184), ("2025-08-28", 184)]
        assert [r.status for r in eus] == ["completed", "planned", "planned"]

    def test_eus_growth_fulfils_the_item_then_ends_the_series_and_opens_mdt_review(self) -> None:
        h = small_gastric().add("imaging", "2024-10-25", modality="eus", result="growth")
        p = plan(h, "2024-10-26")
        second = reminder(p, f"{SG}:eus:2024-01-10:2")
        assert (second.status, second.completed_on) == ("completed", d("2024-10-25"))
        assert open_reminders(p, kind="eus") == []
        assert is_cancelled_or_omitted(p, f"{SG}:eus:2024-01-10:3")
        mdt = reminder(p, f"{SG}:mdt_review:2024-10-25:1")
        assert (mdt.due_on, mdt.window_days, mdt.status) == (d("2024-11-08"), 14, "planned")
        # §3: still < 2 cm, stomach, no GIST confirmed, not resected
        assert p.stage == "small_tumour_surveillance"

    def test_eus_series_does_not_reopen_after_growth(self) -> None:
        h = small_gastric().add("imaging", "2024-10-25", modality="eus", result="growth")
        h.add("mdt_review", "2024-11-05", decision="resect")
        p = plan(h, "2025-06-01")
        assert reminder(p, f"{SG}:mdt_review:2024-10-25:1").status == "completed"
        assert open_reminders(p) == []

    def test_biopsy_showing_gist_ends_the_series_and_opens_mdt_review(self) -> None:
        h = small_gastric().add("biopsy", "2024-05-15", result="gist", cd117=True)
        p = plan(h, "2024-05-20")
        assert p.stage == "workup"  # GIST confirmed
        assert open_reminders(p, kind="eus") == []
        assert is_cancelled_or_omitted(p, f"{SG}:eus:2024-01-10:2")
        mdt = reminder(p, f"{SG}:mdt_review:2024-05-15:1")
        assert (mdt.due_on, mdt.window_days, mdt.status) == (d("2024-05-29"), 14, "planned")
        # < 2 cm outside the rectum: info alert only, no mutation_test reminder (§4 workup.mutation)
        found = alert(p, "mutation_analysis_missing")
        assert found is not None
        assert (found.severity, found.rule) == ("info", "workup.mutation")
        assert reminders(p, kind="mutation_test") == []
        assert reminders(p, rule="workup.tissue") == []


# ================================================================================================
# 2. Rectal tumour 1 cm without tissue — §4 workup.rectal
# ================================================================================================

RECTAL = "workup.rectal"


def rectal() -> History:
    h = History()
    h.add("diagnosis", "2024-03-01", site="rectum", size_cm=1.0, method="endoscopy")
    h.add("biopsy", "2024-03-10", result="inadequate")
    h.add("biopsy", "2024-03-25", result="gist", dog1=True)
    h.add("resection", "2024-05-02", margin="R0", approach="endoscopic")
    return h


class TestRectalTumour:
    def test_alert_and_three_workup_one_offs_due_14_days_after_diagnosis(self) -> None:
        p = plan(rectal(), "2024-03-05")
        assert p.stage == "workup"
        found = alert(p, "rectal_tumour_needs_tissue")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", RECTAL)
        # equal due dates: ordered by rule id, then key (§0 Keys)
        assert [r.key for r in p.reminders] == [
            f"{RECTAL}:biopsy:2024-03-01:1",
            f"{RECTAL}:eus:2024-03-01:1",
            f"{RECTAL}:mri:2024-03-01:1",
        ]
        assert {(r.kind, r.due_on, r.window_days, r.status) for r in p.reminders} == {
            ("biopsy", d("2024-03-15"), 14, "planned"),
            ("eus", d("2024-03-15"), 14, "planned"),
            ("mri", d("2024-03-15"), 14, "planned"),
        }

    def test_rectal_nodule_is_never_small_tumour_surveillance(self) -> None:
        p = plan(rectal(), "2024-03-05")
        assert reminders(p, rule=SG) == []
        assert reminders(p, rule="workup.tissue") == []

    def test_inadequate_biopsy_fulfils_nothing(self) -> None:
        p = plan(rectal(), "2024-03-20")
        biopsy = reminder(p, f"{RECTAL}:biopsy:2024-03-01:1")
        assert (biopsy.status, biopsy.completed_on) == ("due", None)
        assert alert(p, "rectal_tumour_needs_tissue") is not None

    def test_gist_biopsy_completes_the_biopsy_and_clears_the_alert(self) -> None:
        p = plan(rectal(), "2024-04-01")
        biopsy = reminder(p, f"{RECTAL}:biopsy:2024-03-01:1")
        assert (biopsy.status, biopsy.completed_on) == ("completed", d("2024-03-25"))
        assert alert(p, "rectal_tumour_needs_tissue") is None
        # the other one-offs stay until fulfilled or closed; their window ended on 2024-03-29
        assert reminder(p, f"{RECTAL}:eus:2024-03-01:1").status == "overdue"
        assert reminder(p, f"{RECTAL}:mri:2024-03-01:1").status == "overdue"

    def test_gist_biopsy_of_a_rectal_tumour_needs_mutation_analysis_whatever_the_size(self) -> None:
        p = plan(rectal(), "2024-04-01")
        found = alert(p, "mutation_analysis_missing")
        assert found is not None
        assert found.severity == "warning"
        test = reminder(p, "workup.mutation:mutation_test:2024-03-25:1")
        assert (test.due_on, test.window_days, test.status) == (d("2024-04-08"), 14, "planned")

    def test_resection_closes_the_remaining_workup_one_offs(self) -> None:
        p = plan(rectal(), "2024-05-03")
        assert p.stage == "post_treatment_surveillance"
        assert open_reminders(p, rule=RECTAL) == []
        assert is_cancelled_or_omitted(p, f"{RECTAL}:eus:2024-03-01:1")
        assert is_cancelled_or_omitted(p, f"{RECTAL}:mri:2024-03-01:1")
        assert reminder(p, f"{RECTAL}:biopsy:2024-03-01:1").status == "completed"
        # "(rectal, small-tumour, tissue, unresected rupture)": the mutation test is not work-up
        # that surgery makes moot, so it stays open (due 2024-04-08 + 14 days has passed)
        assert reminder(p, "workup.mutation:mutation_test:2024-03-25:1").status == "overdue"


# ================================================================================================
# 3. Low risk (stomach 4 cm, 3 mitoses) resected — §2, §6 surveillance.low / awaiting_pathology
# ================================================================================================

LOW = "surveillance.low"
AWAITING = "surveillance.awaiting_pathology"


def low_risk() -> History:
    h = History()
    h.add("diagnosis", "2024-01-15", site="stomach", size_cm=4.0, method="imaging")
    h.add("resection", "2024-02-15", margin="R0", approach="laparoscopic", intent="curative")
    h.add("pathology", "2024-03-01", size_cm=4.0, mitoses_per_5mm2=3, site="stomach", fixative="formalin")
    h.add("mutation", "2024-04-10", gene="KIT", exon=11)
    return h


LOW_SCHEDULE = [  # anchor 2024-02-15, every 6–12 months until 5 years (2029-02-15)
    ("2024-08-15", 184),
    ("2025-02-15", 181),
    ("2025-08-15", 184),
    ("2026-02-15", 181),
    ("2026-08-15", 184),
    ("2027-02-15", 181),
    ("2027-08-15", 184),
    ("2028-02-15", 182),
    ("2028-08-15", 184),
    ("2029-02-15", 181),
]


class TestLowRiskResected:
    def test_awaiting_pathology_ct_every_3_months_from_the_resection(self) -> None:
        p = plan(low_risk(), "2024-02-20")
        assert p.stage == "post_treatment_surveillance"
        assert p.risk.nih_modified is None
        assert p.alerts == ()
        ct = reminders(p, rule=AWAITING)
        assert keys(p, rule=AWAITING) == [f"{AWAITING}:ct:2024-02-15:{n}" for n in (1, 2, 3, 4)]
        # open-ended: listed to as_of + 12 months (2025-02-20)
        assert dues(ct) == [("2024-05-15", 14), ("2024-08-15", 14), ("2024-11-15", 14), ("2025-02-15", 14)]
        assert open_reminders(p, rule="workup.tissue") == []  # the resection closed the work-up

    def test_risk_once_pathology_arrives(self) -> None:
        p = plan(low_risk(), "2024-03-05")
        assert (p.risk.nih_modified, p.risk.nih_row) == ("low", "nih.10")
        assert (p.risk.afip_group, p.risk.afip_progression_pct, p.risk.ruptured) == ("2", 1.9, False)

    def test_pathology_replaces_the_awaiting_schedule_by_the_low_schedule(self) -> None:
        p = plan(low_risk(), "2024-03-05")
        assert open_reminders(p, rule=AWAITING) == []
        assert is_cancelled_or_omitted(p, f"{AWAITING}:ct:2024-02-15:1")
        ct = reminders(p, rule=LOW)
        assert [r.key for r in ct] == [f"{LOW}:ct:2024-02-15:{n}" for n in range(1, 11)]
        assert dues(ct) == LOW_SCHEDULE
        assert {r.status for r in ct} == {"planned"}
        assert {r.kind for r in ct} == {"ct"}

    def test_no_adjuvant_alerts_and_mutation_test_until_a_mutation_arrives(self) -> None:
        before = plan(low_risk(), "2024-03-05")
        assert alert_codes(before) == {"mutation_analysis_missing"}
        missing = alert(before, "mutation_analysis_missing")
        assert missing is not None
        assert (missing.severity, missing.rule) == ("warning", "workup.mutation")
        test = reminder(before, "workup.mutation:mutation_test:2024-03-01:1")
        assert (test.kind, test.due_on, test.window_days, test.status) == (
            "mutation_test",
            d("2024-03-15"),
            14,
            "planned",
        )
        after = plan(low_risk(), "2024-04-15")
        assert after.alerts == ()
        done = reminder(after, "workup.mutation:mutation_test:2024-03-01:1")
        assert (done.status, done.completed_on) == ("completed", d("2024-04-10"))

    def test_a_late_scan_moves_the_later_items_but_not_their_keys(self) -> None:
        h = low_risk().add("imaging", "2024-09-20", modality="ct", result="no_evidence_of_disease")
        p = plan(h, "2024-10-01")
        ct = reminders(p, rule=LOW)
        assert [r.key for r in ct] == [f"{LOW}:ct:2024-02-15:{n}" for n in range(1, 11)]
        assert (ct[0].due_on, ct[0].status) == (d("2024-08-15"), "completed")
        assert ct[0].completed_on == d("2024-09-20")
        # counted from 2024-09-20; the 10th (2029-03-20) is 33 days after the 5-year end, within half
        # an interval, and nothing follows it (2029-03-20 lies outside the half-open phase)
        assert dues(ct[1:]) == [
            ("2025-03-20", 184),
            ("2025-09-20", 181),
            ("2026-03-20", 184),
            ("2026-09-20", 181),
            ("2027-03-20", 184),
            ("2027-09-20", 182),
            ("2028-03-20", 184),
            ("2028-09-20", 181),
            ("2029-03-20", 184),
        ]

    def test_an_mri_fulfils_a_ct_item(self) -> None:
        h = low_risk().add("imaging", "2024-08-15", modality="mri", result="stable")
        p = plan(h, "2024-08-16")
        first = reminder(p, f"{LOW}:ct:2024-02-15:1")
        assert (first.status, first.completed_on) == ("completed", d("2024-08-15"))


# ================================================================================================
# 4. High risk (jejunum/ileum 7 cm, 8 mitoses) on adjuvant imatinib 400 — §5, §6, §8
# ================================================================================================

HIGH = "surveillance.high"
HIGH_ADJ = "surveillance.high_adjuvant"
IMATINIB = "monitoring.imatinib"


def high_risk(exon: int = 11) -> History:
    h = History()
    h.add("diagnosis", "2024-01-10", site="jejunum_ileum", size_cm=7.0, method="imaging")
    h.add("resection", "2024-02-01", margin="R0", approach="open", intent="curative")
    h.add(
        "pathology", "2024-02-10", size_cm=7.0, mitoses_per_5mm2=8, site="jejunum_ileum", fixative="formalin"
    )
    h.add("mutation", "2024-02-20", gene="KIT", exon=exon)
    h.add("lab_result", "2024-03-01", test="alt", value=30, uln=40)  # baseline on the start day
    h.add("therapy_started", "2024-03-01", drug="imatinib", dose_mg=400, setting="adjuvant")
    return h


def high_risk_stopped_at_one_year() -> History:
    return high_risk().add("therapy_stopped", "2025-03-01", drug="imatinib", reason="toxicity")


HIGH_AFTER_STOP = [  # anchor 2025-03-01: 3-monthly for 2 years, 6-monthly to 5, yearly to 10 (14 days)
    "2025-06-01", "2025-09-01", "2025-12-01", "2026-03-01", "2026-06-01", "2026-09-01", "2026-12-01",
    "2027-03-01",
    "2027-09-01", "2028-03-01", "2028-09-01", "2029-03-01", "2029-09-01", "2030-03-01",
    "2031-03-01", "2032-03-01", "2033-03-01", "2034-03-01", "2035-03-01",
]  # fmt: skip


class TestHighRiskAdjuvant:
    def test_risk(self) -> None:
        p = plan(high_risk(), "2024-02-25")
        assert (p.risk.nih_modified, p.risk.nih_row) == ("high", "nih.4")
        assert (p.risk.afip_group, p.risk.afip_progression_pct) == ("6a", 85)

    def test_before_adjuvant_high_surveillance_from_resection_and_adjuvant_indicated(self) -> None:
        p = plan(high_risk(), "2024-02-25")
        assert p.stage == "post_treatment_surveillance"
        assert p.therapy is None
        found = alert(p, "adjuvant_indicated")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "adjuvant.indicated")
        first = reminder(p, f"{HIGH}:ct:2024-02-01:1")
        assert (first.due_on, first.window_days, first.status) == (d("2024-05-01"), 14, "planned")
        assert reminders(p, rule=HIGH_ADJ) == []
        assert open_reminders(p, rule=AWAITING) == []  # closed by the pathology on 2024-02-10

    def test_during_adjuvant_stage_therapy_and_no_adjuvant_indicated(self) -> None:
        p = plan(high_risk(), "2024-03-05")
        assert p.stage == "adjuvant"
        assert p.therapy is not None
        assert (p.therapy.drug, p.therapy.dose_mg, p.therapy.setting) == ("imatinib", 400, "adjuvant")
        assert (p.therapy.started_on, p.therapy.line) == (d("2024-03-01"), None)
        assert p.alerts == ()

    def test_high_adjuvant_surveillance_replaces_high_from_the_adjuvant_start(self) -> None:
        p = plan(high_risk(), "2024-03-05")
        assert open_reminders(p, rule=HIGH) == []
        assert is_cancelled_or_omitted(p, f"{HIGH}:ct:2024-02-01:1")
        ct = reminders(p, rule=HIGH_ADJ)
        assert [r.key for r in ct] == [f"{HIGH_ADJ}:ct:2024-03-01:{n}" for n in (1, 2, 3, 4)]
        # every 3–6 months, open-ended while adjuvant runs: to as_of + 12 months (2025-03-05)
        assert dues(ct) == [("2024-06-01", 92), ("2024-09-01", 91), ("2024-12-01", 90), ("2025-03-01", 92)]

    def test_three_year_therapy_review_anchored_on_the_course_start(self) -> None:
        p = plan(high_risk(), "2024-03-05")
        review = reminder(p, "adjuvant.duration:therapy_review:2024-03-01:1")
        assert (review.kind, review.due_on, review.window_days, review.status) == (
            "therapy_review",
            d("2027-03-01"),
            14,
            "planned",
        )

    def test_imatinib_blood_counts(self) -> None:
        p = plan(high_risk(), "2024-03-05")
        cbc = reminders(p, rule=IMATINIB, kind="lab_cbc")
        assert [r.key for r in cbc] == [f"{IMATINIB}:lab_cbc:2024-03-01:{n}" for n in range(1, 10)]
        assert dues(cbc) == [
            ("2024-03-08", 3),  # day 7
            ("2024-03-15", 3),  # day 14
            ("2024-03-22", 3),  # day 21
            ("2024-03-29", 3),  # day 28
            ("2024-04-12", 3),  # day 42
            ("2024-04-26", 3),  # day 56
            ("2024-07-26", 7),  # then every 3 months after day 56
            ("2024-10-26", 7),
            ("2025-01-26", 7),  # the next, 2025-04-26, is past the horizon (2025-03-05)
        ]

    def test_imatinib_liver_tests_and_baseline_on_the_start_day(self) -> None:
        p = plan(high_risk(), "2024-03-05")
        lft = reminders(p, rule=IMATINIB, kind="lab_lft")
        assert len(lft) == 13  # 2024-03-01 … 2025-03-01 monthly
        day0 = lft[0]
        assert day0.key == f"{IMATINIB}:lab_lft:2024-03-01:1"
        # a day-0 item takes the window of its first (monthly) interval: 7 days; the ALT taken on the
        # start day fulfils it (§0: items opened that day included)
        assert (day0.due_on, day0.window_days, day0.status, day0.completed_on) == (
            d("2024-03-01"),
            7,
            "completed",
            d("2024-03-01"),
        )
        assert dues(lft[1:4]) == [("2024-04-01", 7), ("2024-05-01", 7), ("2024-06-01", 7)]
        assert dues(lft[-1:]) == [("2025-03-01", 7)]

    @pytest.mark.parametrize(
        ("as_of", "expected"),
        [
            pytest.param("2024-03-11", {1: "due", 2: "planned"}, id="last-day-of-window"),
            pytest.param("2024-03-12", {1: "overdue", 2: "planned"}, id="missed-is-overdue"),
            pytest.param("2024-03-15", {1: "cancelled", 2: "due"}, id="cancelled-once-next-is-due"),
            pytest.param("2024-03-19", {1: "cancelled", 2: "overdue", 3: "planned"}, id="next-missed-too"),
            pytest.param("2024-03-22", {2: "cancelled", 3: "due"}, id="superseded-again"),
        ],
    )
    def test_missed_fixed_lab_is_overdue_then_cancelled(self, as_of: str, expected: dict[int, str]) -> None:
        p = plan(high_risk(), as_of)
        for ordinal, status in expected.items():
            key = f"{IMATINIB}:lab_cbc:2024-03-01:{ordinal}"
            if status == "cancelled":
                assert is_cancelled_or_omitted(p, key)
                assert not [r for r in open_reminders(p) if r.key == key]
            else:
                assert reminder(p, key).status == status

    def test_stop_for_toxicity_at_one_year(self) -> None:
        p = plan(high_risk_stopped_at_one_year(), "2025-03-05")
        assert p.stage == "post_treatment_surveillance"
        assert p.therapy is None
        assert alert_codes(p) == {"adjuvant_stopped_early"}
        found = alert(p, "adjuvant_stopped_early")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "adjuvant.duration")
        # the 3-year review is cancelled because the course stopped first; monitoring closes too
        assert is_cancelled_or_omitted(p, "adjuvant.duration:therapy_review:2024-03-01:1")
        assert open_reminders(p, rule="adjuvant.duration") == []
        assert open_reminders(p, rule=IMATINIB) == []
        assert open_reminders(p, rule=HIGH_ADJ) == []

    def test_stop_reopens_high_surveillance_anchored_on_the_stop(self) -> None:
        p = plan(high_risk_stopped_at_one_year(), "2025-03-05")
        ct = open_reminders(p, kind="ct")
        assert [r.key for r in ct] == [f"{HIGH}:ct:2025-03-01:{n}" for n in range(1, 20)]
        assert dues(ct) == [(due, 14) for due in HIGH_AFTER_STOP]
        assert {r.status for r in ct} == {"planned"}


# ================================================================================================
# 5. KIT exon 9, high risk, adjuvant imatinib 400 → 800 — §5 adjuvant.kit_exon9
# ================================================================================================


class TestKitExon9:
    def test_no_dose_alert_before_imatinib_starts(self) -> None:
        p = plan(high_risk(exon=9), "2024-02-25")
        assert alert(p, "kit_exon9_dose") is None
        assert alert(p, "adjuvant_indicated") is not None

    def test_400_mg_gives_the_dose_warning(self) -> None:
        p = plan(high_risk(exon=9), "2024-03-05")
        found = alert(p, "kit_exon9_dose")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "adjuvant.kit_exon9")

    def test_gone_at_800_mg(self) -> None:
        h = high_risk(exon=9).add("dose_changed", "2024-04-01", drug="imatinib", dose_mg=800)
        p = plan(h, "2024-04-05")
        assert alert(p, "kit_exon9_dose") is None
        assert p.therapy is not None
        assert (p.therapy.dose_mg, p.therapy.started_on) == (800, d("2024-03-01"))
        # a dose change is not a new course: same review, same monitoring series
        assert reminder(p, "adjuvant.duration:therapy_review:2024-03-01:1").status == "planned"
        assert {r.key.split(":")[2] for r in open_reminders(p, rule=IMATINIB)} == {"2024-03-01"}


# ================================================================================================
# 6. Ruptured intraoperatively (stomach 6 cm, 4 mitoses) — §2 row 1, §5 adjuvant.rupture, §6
# ================================================================================================

RUPTURED = "surveillance.ruptured"


def ruptured() -> History:
    h = History()
    h.add("diagnosis", "2024-01-10", site="stomach", size_cm=6.0, method="imaging")
    h.add("rupture", "2024-02-01", context="intraoperative")
    h.add("resection", "2024-02-01", margin="R0", approach="open", intent="curative")
    h.add("pathology", "2024-02-10", size_cm=6.0, mitoses_per_5mm2=4, site="stomach", fixative="formalin")
    h.add("mutation", "2024-02-20", gene="KIT", exon=11)
    return h


RUPTURED_SCHEDULE = [  # anchor 2024-02-01 (resection)
    # every 3–4 months until 3 years (window to base + 4 months)
    ("2024-05-01", 31), ("2024-08-01", 31), ("2024-11-01", 30), ("2025-02-01", 28),
    ("2025-05-01", 31), ("2025-08-01", 31), ("2025-11-01", 30), ("2026-02-01", 28),
    ("2026-05-01", 31), ("2026-08-01", 31), ("2026-11-01", 30),
    ("2027-02-01", 28),  # counted from 2026-11-01, still in [anchor, anchor + 3 years)
    # every 6 months until 5 years
    ("2027-08-01", 14), ("2028-02-01", 14), ("2028-08-01", 14),
    ("2029-02-01", 14),  # counted from 2028-08-01, still in [3 years, 5 years)
    # every 12 months until 10 years; the last falls on the end (2034-02-01)
    ("2030-02-01", 14), ("2031-02-01", 14), ("2032-02-01", 14), ("2033-02-01", 14), ("2034-02-01", 14),
]  # fmt: skip


class TestRuptured:
    def test_risk_is_high_because_ruptured_even_before_pathology(self) -> None:
        before = plan(ruptured(), "2024-02-05")
        assert (before.risk.nih_modified, before.risk.nih_row) == ("high", "nih.1")
        assert before.risk.ruptured is True
        after = plan(ruptured(), "2024-02-25")
        assert (after.risk.nih_modified, after.risk.nih_row, after.risk.ruptured) == ("high", "nih.1", True)
        assert (after.risk.afip_group, after.risk.afip_progression_pct) == ("3a", 3.6)

    def test_ruptured_schedule_over_ten_years(self) -> None:
        p = plan(ruptured(), "2024-02-25")
        ct = reminders(p, rule=RUPTURED)
        assert [r.key for r in ct] == [f"{RUPTURED}:ct:2024-02-01:{n}" for n in range(1, 22)]
        assert dues(ct) == RUPTURED_SCHEDULE

    def test_ruptured_replaces_high_and_awaiting_pathology_rows(self) -> None:
        for as_of in ("2024-02-05", "2024-02-25"):
            p = plan(ruptured(), as_of)
            assert {r.rule for r in p.reminders if r.kind == "ct"} == {RUPTURED}

    def test_rupture_on_the_resection_day_is_not_before_the_resection(self) -> None:
        p = plan(ruptured(), "2024-02-05")
        assert reminders(p, rule="workup.rupture_unresected") == []

    @pytest.mark.parametrize(
        ("as_of", "severity"),
        [
            pytest.param("2024-02-01", "warning", id="surgery-day"),
            pytest.param("2024-03-13", "warning", id="day-before-6-weeks"),
            pytest.param("2024-03-14", "critical", id="6-weeks-after-surgery"),
            pytest.param("2024-06-01", "critical", id="months-later"),
        ],
    )
    def test_rupture_adjuvant_mandatory_warning_then_critical(self, as_of: str, severity: str) -> None:
        p = plan(ruptured(), as_of)
        found = alert(p, "rupture_adjuvant_mandatory")
        assert found is not None
        assert (found.severity, found.rule) == (severity, "adjuvant.rupture")

    def test_gone_while_imatinib_runs_and_surveillance_unchanged(self) -> None:
        h = ruptured().add("therapy_started", "2024-03-20", drug="imatinib", dose_mg=400, setting="adjuvant")
        p = plan(h, "2024-03-25")
        assert p.stage == "adjuvant"
        assert alert(p, "rupture_adjuvant_mandatory") is None
        assert alert(p, "adjuvant_indicated") is None
        assert {r.rule for r in p.reminders if r.kind == "ct"} == {RUPTURED}  # whether or not adjuvant runs
        assert [r.key for r in reminders(p, rule=RUPTURED)][:1] == [f"{RUPTURED}:ct:2024-02-01:1"]
        review = reminder(p, "adjuvant.duration:therapy_review:2024-03-20:1")
        assert review.due_on == d("2027-03-20")

    def test_back_to_critical_after_a_stop_by_patient_choice(self) -> None:
        h = ruptured().add("therapy_started", "2024-03-20", drug="imatinib", dose_mg=400, setting="adjuvant")
        h.add("therapy_stopped", "2025-03-20", drug="imatinib", reason="patient_choice")
        p = plan(h, "2025-03-25")
        found = alert(p, "rupture_adjuvant_mandatory")
        assert found is not None
        assert found.severity == "critical"
        assert alert(p, "adjuvant_stopped_early") is not None

    def test_rupture_before_any_resection(self) -> None:
        h = History()
        h.add("diagnosis", "2024-01-10", site="stomach", size_cm=6.0)
        h.add("rupture", "2024-01-20", context="spontaneous")
        h.add("resection", "2024-01-25", margin="R0")
        p = plan(h, "2024-01-22")
        assert p.stage == "workup"
        assert (p.risk.nih_modified, p.risk.afip_group) == ("high", None)
        review = reminder(p, "workup.rupture_unresected:mdt_review:2024-01-20:1")
        assert (review.kind, review.due_on, review.window_days, review.status) == (
            "mdt_review",
            d("2024-01-27"),
            14,
            "planned",
        )
        # adjuvant rules apply only once resected
        assert alert(p, "rupture_adjuvant_mandatory") is None

    @pytest.mark.parametrize(
        ("as_of", "severity"),
        [
            pytest.param("2024-03-06", "warning", id="before-6-weeks-after-resection"),
            pytest.param("2024-03-07", "critical", id="6-weeks-after-the-later-resection"),
        ],
    )
    def test_rupture_before_resection_six_weeks_count_from_resection(self, as_of: str, severity: str) -> None:
        h = History()
        h.add("diagnosis", "2024-01-10", site="stomach", size_cm=6.0)
        h.add("rupture", "2024-01-20", context="spontaneous")
        h.add("resection", "2024-01-25", margin="R0")
        p = plan(h, as_of)
        assert is_cancelled_or_omitted(p, "workup.rupture_unresected:mdt_review:2024-01-20:1")
        found = alert(p, "rupture_adjuvant_mandatory")
        assert found is not None
        assert found.severity == severity


# ================================================================================================
# 7. Metastatic through four lines — §7 advanced.*, §8 regorafenib and its liver tests
# ================================================================================================

ADV_CT = "advanced.imaging"
REGO = "monitoring.regorafenib"
REGO_LIVER = "monitoring.regorafenib_liver"


def metastatic() -> History:
    h = History()
    h.add("diagnosis", "2024-01-10", site="stomach", size_cm=8.0, metastatic=True, method="imaging")
    h.add("biopsy", "2024-01-15", result="gist", cd117=True)
    h.add("mutation", "2024-01-25", gene="KIT", exon=11)
    h.add("therapy_started", "2024-02-01", drug="imatinib", dose_mg=400, setting="advanced")
    h.add("progression", "2025-02-01", pattern="multifocal")
    h.add("dose_changed", "2025-02-10", drug="imatinib", dose_mg=800)
    h.add("imaging", "2025-08-01", modality="ct", result="progression")
    h.add("progression", "2025-08-01", pattern="focal")
    h.add("therapy_stopped", "2025-08-10", drug="imatinib", reason="progression")
    h.add("therapy_started", "2025-08-10", drug="sunitinib", dose_mg=50, setting="advanced")
    h.add("progression", "2026-02-01", pattern="multifocal")
    h.add("therapy_stopped", "2026-02-10", drug="sunitinib", reason="progression")
    h.add("therapy_started", "2026-02-10", drug="regorafenib", dose_mg=160, setting="advanced")
    h.add("lab_result", "2026-02-10", test="alt", value=30, uln=40)  # day 0
    h.add("lab_result", "2026-02-24", test="alt", value=32, uln=40)  # day 14
    h.add("lab_result", "2026-03-10", test="alt", value=150, uln=40)  # day 28: 3.75× ULN
    h.add("lab_result", "2026-03-17", test="alt", value=100, uln=40)  # 2.5× ULN: back under 3×
    h.add("progression", "2026-08-01", pattern="multifocal")
    return h


class TestMetastaticLines:
    @pytest.mark.parametrize(
        ("as_of", "drug", "dose", "started_on", "line"),
        [
            pytest.param("2024-01-20", None, None, None, None, id="untreated"),
            pytest.param("2024-06-01", "imatinib", 400, "2024-02-01", 1, id="imatinib-400"),
            pytest.param("2025-03-01", "imatinib", 800, "2024-02-01", 1, id="escalation-is-not-a-new-line"),
            pytest.param("2025-09-01", "sunitinib", 50, "2025-08-10", 2, id="sunitinib"),
            pytest.param("2026-03-01", "regorafenib", 160, "2026-02-10", 3, id="regorafenib"),
        ],
    )
    def test_stage_therapy_and_line(
        self, as_of: str, drug: str | None, dose: int | None, started_on: str | None, line: int | None
    ) -> None:
        p = plan(metastatic(), as_of)
        assert p.stage == "advanced"
        if drug is None:
            assert p.therapy is None
            return
        assert p.therapy is not None
        assert (p.therapy.drug, p.therapy.dose_mg, p.therapy.setting) == (drug, dose, "advanced")
        assert (p.therapy.started_on, p.therapy.line) == (d(str(started_on)), line)

    @pytest.mark.parametrize(
        ("as_of", "rule", "needles", "absent"),
        [
            pytest.param(
                "2024-01-20", "advanced.first_line", ["imatinib 400"], [], id="untreated-first-line"
            ),
            pytest.param("2024-06-01", None, [], [], id="on-first-line"),
            pytest.param(
                "2025-02-05", "advanced.next_line", ["800", "sunitinib"], [], id="progression-on-400"
            ),
            pytest.param("2025-02-10", None, [], [], id="answered-by-dose-change"),
            pytest.param(
                "2025-08-05", "advanced.next_line", ["sunitinib"], ["escalat"], id="progression-on-800"
            ),
            pytest.param("2025-08-10", None, [], [], id="answered-by-sunitinib"),
            pytest.param(
                "2026-02-05", "advanced.next_line", ["regorafenib"], [], id="progression-on-sunitinib"
            ),
            pytest.param("2026-02-10", None, [], [], id="answered-by-regorafenib"),
            pytest.param(
                "2026-08-05", "advanced.next_line", ["ripretinib"], [], id="progression-on-regorafenib"
            ),
        ],
    )
    def test_next_line_due(self, as_of: str, rule: str | None, needles: list[str], absent: list[str]) -> None:
        found = alert(plan(metastatic(), as_of), "next_line_due")
        if rule is None:
            assert found is None
            return
        assert found is not None
        assert (found.severity, found.rule) == ("warning", rule)
        for needle in needles:
            assert needle in found.message.lower()
        for needle in absent:
            assert needle not in found.message.lower()

    @pytest.mark.parametrize(
        ("as_of", "anchor", "first_due", "window"),
        [
            pytest.param("2024-01-20", "2024-01-10", "2024-04-10", 91, id="from-advanced-diagnosis"),
            pytest.param("2024-03-01", "2024-02-01", "2024-05-01", 92, id="re-anchored-at-line-1"),
            pytest.param("2025-09-01", "2025-08-10", "2025-11-10", 92, id="re-anchored-at-line-2"),
            pytest.param("2026-03-01", "2026-02-10", "2026-05-10", 92, id="re-anchored-at-line-3"),
        ],
    )
    def test_advanced_imaging_every_3_months_anchored_at_each_line_start(
        self, as_of: str, anchor: str, first_due: str, window: int
    ) -> None:
        p = plan(metastatic(), as_of)
        first = reminder(p, f"{ADV_CT}:ct:{anchor}:1")
        assert (first.due_on, first.window_days) == (d(first_due), window)
        assert {r.key.split(":")[2] for r in open_reminders(p, rule=ADV_CT)} == {anchor}

    def test_dose_escalation_does_not_re_anchor_imaging(self) -> None:
        p = plan(metastatic(), "2025-03-01")
        assert {r.key.split(":")[2] for r in open_reminders(p, rule=ADV_CT)} == {"2024-02-01"}

    def test_focal_progression_opens_an_mdt_review(self) -> None:
        p = plan(metastatic(), "2025-08-05")
        review = reminder(p, "advanced.next_line:mdt_review:2025-08-01:1")
        assert (review.kind, review.due_on, review.window_days, review.status) == (
            "mdt_review",
            d("2025-08-15"),
            14,
            "planned",
        )

    def test_multifocal_progression_opens_no_mdt_review(self) -> None:
        p = plan(metastatic(), "2025-02-05")
        assert reminders(p, rule="advanced.next_line") == []

    def test_regorafenib_liver_tests_and_visits(self) -> None:
        p = plan(metastatic(), "2026-02-12")
        lft = reminders(p, rule=REGO, kind="lab_lft")
        assert [r.key for r in lft[:7]] == [f"{REGO}:lab_lft:2026-02-10:{n}" for n in range(1, 8)]
        assert dues(lft[:7]) == [
            ("2026-02-10", 3),  # day 0 (window of the first, two-weekly interval)
            ("2026-02-24", 3),
            ("2026-03-10", 3),
            ("2026-03-24", 3),
            ("2026-04-07", 3),  # day 56
            ("2026-05-05", 7),  # then every 28 days
            ("2026-06-02", 7),
        ]
        assert (lft[0].status, lft[0].completed_on) == ("completed", d("2026-02-10"))
        visits = reminders(p, rule=REGO, kind="clinic_visit")
        assert dues(visits[:3]) == [("2026-02-10", 7), ("2026-03-10", 7), ("2026-04-07", 7)]
        assert open_reminders(p, rule="monitoring.sunitinib") == []
        assert open_reminders(p, rule=IMATINIB) == []

    def test_alt_above_3x_uln_starts_weekly_liver_tests_replacing_the_regular_ones(self) -> None:
        p = plan(metastatic(), "2026-03-12")
        found = alert(p, "hepatotoxicity")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", REGO_LIVER)
        weekly = reminders(p, rule=REGO_LIVER, kind="lab_lft")
        assert [r.key for r in weekly[:3]] == [f"{REGO_LIVER}:lab_lft:2026-03-10:{n}" for n in (1, 2, 3)]
        assert dues(weekly[:3]) == [("2026-03-17", 3), ("2026-03-24", 3), ("2026-03-31", 3)]
        assert weekly[0].status == "planned"
        day28 = reminder(p, f"{REGO}:lab_lft:2026-02-10:3")
        assert (day28.status, day28.completed_on) == ("completed", d("2026-03-10"))
        assert open_reminders(p, rule=REGO, kind="lab_lft") == []  # replaced while weekly runs

    def test_back_under_3x_uln_ends_weekly_tests_and_regular_series_resumes(self) -> None:
        p = plan(metastatic(), "2026-03-18")
        assert alert(p, "hepatotoxicity") is None
        first = reminder(p, f"{REGO_LIVER}:lab_lft:2026-03-10:1")
        assert (first.status, first.completed_on) == ("completed", d("2026-03-17"))
        assert open_reminders(p, rule=REGO_LIVER) == []
        resumed = open_reminders(p, rule=REGO, kind="lab_lft")
        assert [r.key for r in resumed[:2]] == [f"{REGO}:lab_lft:2026-02-10:{n}" for n in (4, 5)]
        assert dues(resumed[:2]) == [("2026-03-24", 3), ("2026-04-07", 3)]


def regorafenib_with_labs(*labs: tuple[str, float, float], day: str = "2026-03-10") -> History:
    h = History()
    h.add("diagnosis", "2026-01-05", site="stomach", size_cm=9.0, metastatic=True)
    h.add("biopsy", "2026-01-06", result="gist")
    h.add("therapy_started", "2026-02-10", drug="regorafenib", dose_mg=160, setting="advanced")
    for test, value, uln in labs:
        h.add("lab_result", day, test=test, value=value, uln=uln)
    return h


class TestRegorafenibHepatotoxicity:
    @pytest.mark.parametrize(
        ("labs", "severity", "needle"),
        [
            pytest.param([("alt", 120, 40)], None, None, id="alt-3.0x-not-above"),
            pytest.param([("alt", 130, 40)], "warning", None, id="alt-3.25x"),
            pytest.param([("ast", 130, 40)], "warning", None, id="ast-3.25x"),
            pytest.param([("alt", 200, 40)], "warning", None, id="alt-5.0x-not-above"),
            pytest.param([("alt", 204, 40)], "critical", "interrupt", id="alt-5.1x-interrupt"),
            pytest.param([("ast", 800, 40)], "critical", "interrupt", id="ast-20x-not-above"),
            pytest.param([("alt", 804, 40)], "critical", "discontinu", id="alt-20.1x-discontinue"),
            pytest.param(
                [("alt", 130, 40), ("bilirubin", 2.1, 1.0)],
                "critical",
                "discontinu",
                id="alt-3.25x-with-bilirubin-2.1x",
            ),
            pytest.param(
                [("alt", 130, 40), ("bilirubin", 2.0, 1.0)],
                "warning",
                None,
                id="alt-3.25x-with-bilirubin-2.0x",
            ),
            pytest.param([("alt", 100, 40), ("bilirubin", 2.5, 1.0)], None, None, id="bilirubin-alone"),
        ],
    )
    def test_severity(
        self, labs: list[tuple[str, float, float]], severity: str | None, needle: str | None
    ) -> None:
        p = plan(regorafenib_with_labs(*labs), "2026-03-11")
        found = alert(p, "hepatotoxicity")
        if severity is None:
            assert found is None
            return
        assert found is not None
        assert (found.severity, found.rule) == (severity, REGO_LIVER)
        if needle is not None:
            assert needle in found.message.lower()

    def test_results_before_the_course_start_do_not_count(self) -> None:
        p = plan(regorafenib_with_labs(("alt", 400, 40), day="2026-02-01"), "2026-02-12")
        assert alert(p, "hepatotoxicity") is None
        assert reminders(p, rule=REGO_LIVER) == []

    def test_weekly_tests_go_on_until_both_alt_and_ast_are_back_under_3x(self) -> None:
        h = regorafenib_with_labs(("alt", 160, 40), ("ast", 160, 40))
        h.add("lab_result", "2026-03-17", test="alt", value=80, uln=40)  # ALT 2×, latest AST still 4×
        p = plan(h, "2026-03-18")
        found = alert(p, "hepatotoxicity")
        assert found is not None
        assert found.severity == "warning"
        assert reminder(p, f"{REGO_LIVER}:lab_lft:2026-03-10:1").status == "completed"
        assert reminder(p, f"{REGO_LIVER}:lab_lft:2026-03-10:2").status == "planned"
        assert open_reminders(p, rule=REGO, kind="lab_lft") == []

    def test_ast_above_3x_also_starts_weekly_tests(self) -> None:
        p = plan(regorafenib_with_labs(("ast", 130, 40)), "2026-03-11")
        weekly = reminders(p, rule=REGO_LIVER, kind="lab_lft")
        assert dues(weekly[:2]) == [("2026-03-17", 3), ("2026-03-24", 3)]


class TestImatinibInAdvancedDisease:
    @pytest.mark.parametrize(
        ("reason", "severity"),
        [
            pytest.param("patient_choice", "critical", id="patient-choice"),
            pytest.param("completed", "critical", id="completed"),
            pytest.param("other", "critical", id="other"),
            pytest.param("toxicity", "warning", id="toxicity"),
            pytest.param("progression", None, id="progression-not-listed"),
        ],
    )
    def test_imatinib_stopped_in_advanced_disease(self, reason: str, severity: str | None) -> None:
        h = imatinib_in_advanced_disease()
        h.add("therapy_stopped", "2024-09-01", drug="imatinib", reason=reason)
        found = alert(plan(h, "2024-09-10"), "imatinib_stopped_in_advanced_disease")
        if severity is None:
            assert found is None
            return
        assert found is not None
        assert (found.severity, found.rule) == (severity, "advanced.never_stop")

    def test_a_tki_started_the_day_imatinib_stops_counts_as_started_since(self) -> None:
        h = imatinib_in_advanced_disease()
        h.add("therapy_stopped", "2024-09-01", drug="imatinib", reason="toxicity")
        h.add("therapy_started", "2024-09-01", drug="sunitinib", dose_mg=37.5, setting="advanced")
        p = plan(h, "2024-09-10")
        assert alert(p, "imatinib_stopped_in_advanced_disease") is None
        assert p.therapy is not None
        assert (p.therapy.drug, p.therapy.line) == ("sunitinib", 2)

    @pytest.mark.parametrize(
        ("as_of", "present"),
        [
            pytest.param("2024-07-31", False, id="before-6-months"),
            pytest.param("2024-08-01", True, id="6-months"),
            pytest.param("2026-01-31", True, id="just-before-2-years"),
            pytest.param("2026-02-02", False, id="after-2-years"),
        ],
    )
    def test_cytoreductive_surgery_window(self, as_of: str, present: bool) -> None:
        found = alert(plan(imatinib_in_advanced_disease(), as_of), "cytoreductive_surgery_window")
        assert (found is not None) == present
        if found is not None:
            assert (found.severity, found.rule) == ("info", "advanced.cytoreduction")

    def test_cytoreduction_mdt_review_due_6_months_after_the_start(self) -> None:
        p = plan(imatinib_in_advanced_disease(), "2024-07-31")
        review = reminder(p, "advanced.cytoreduction:mdt_review:2024-02-01:1")
        assert (review.due_on, review.window_days, review.status) == (d("2024-08-01"), 14, "planned")

    @pytest.mark.parametrize(
        ("event", "data"),
        [
            pytest.param("progression", {"pattern": "multifocal"}, id="progression-event"),
            pytest.param("imaging", {"modality": "ct", "result": "progression"}, id="ct-progression"),
            pytest.param("imaging", {"modality": "ct", "result": "new_lesion"}, id="ct-new-lesion"),
        ],
    )
    def test_no_cytoreduction_after_progression(self, event: str, data: dict[str, str]) -> None:
        h = imatinib_in_advanced_disease().add(event, "2024-10-01", **data)
        p = plan(h, "2024-10-05")
        assert alert(p, "cytoreductive_surgery_window") is None
        assert open_reminders(p, rule="advanced.cytoreduction") == []


# ================================================================================================
# 8. PDGFRA D842V, metastatic — §7 advanced.d842v, advanced.first_line
# ================================================================================================


def metastatic_with_mutation(**mutation: object) -> History:
    h = History()
    h.add("diagnosis", "2024-01-10", site="stomach", size_cm=6.0, metastatic=True)
    h.add("biopsy", "2024-01-15", result="gist")
    h.add("mutation", "2024-01-25", **mutation)
    return h


class TestPdgfraAndFirstLine:
    @pytest.mark.parametrize(
        ("mutation", "needle"),
        [
            pytest.param(
                {"gene": "PDGFRA", "exon": 18, "variant": "D842V"}, "avapritinib", id="pdgfra-d842v"
            ),
            pytest.param(
                {"gene": "PDGFRA", "exon": 18, "variant": "D846Y"}, "avapritinib", id="pdgfra-exon18"
            ),
            pytest.param({"gene": "KIT", "exon": 9}, "800", id="kit-exon9"),
            pytest.param({"gene": "KIT", "exon": 11}, "imatinib 400", id="kit-exon11"),
        ],
    )
    def test_first_line_advice_when_untreated(self, mutation: dict[str, object], needle: str) -> None:
        p = plan(metastatic_with_mutation(**mutation), "2024-01-30")
        found = alert(p, "next_line_due")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "advanced.first_line")
        assert needle in found.message.lower()
        assert alert(p, "pdgfra_d842v_imatinib_resistant") is None

    def test_d842v_on_imatinib_is_critical(self) -> None:
        h = metastatic_with_mutation(gene="PDGFRA", exon=18, variant="D842V")
        h.add("therapy_started", "2024-02-01", drug="imatinib", dose_mg=400, setting="advanced")
        p = plan(h, "2024-02-05")
        found = alert(p, "pdgfra_d842v_imatinib_resistant")
        assert found is not None
        assert (found.severity, found.rule) == ("critical", "advanced.d842v")
        assert alert(p, "next_line_due") is None  # a line is running

    def test_no_d842v_alert_on_avapritinib(self) -> None:
        h = metastatic_with_mutation(gene="PDGFRA", exon=18, variant="D842V")
        h.add("therapy_started", "2024-02-01", drug="avapritinib", dose_mg=300, setting="advanced")
        p = plan(h, "2024-02-05")
        assert alert(p, "pdgfra_d842v_imatinib_resistant") is None
        assert alert(p, "next_line_due") is None


# ================================================================================================
# Across pathways: follow-up end, as_of cut-off, order independence, key invariants — §0, §10
# ================================================================================================

Story = Callable[[], History]
STORIES: dict[str, tuple[Story, list[str]]] = {
    "small-gastric": (small_gastric, ["2024-01-20", "2024-06-01", "2025-04-21"]),
    "rectal": (rectal, ["2024-03-05", "2024-04-01", "2024-05-03"]),
    "low-risk": (low_risk, ["2024-02-20", "2024-03-05", "2030-01-01"]),
    "high-risk": (high_risk, ["2024-02-25", "2024-03-22", "2026-01-01"]),
    "high-risk-stopped": (high_risk_stopped_at_one_year, ["2025-03-05", "2031-01-01"]),
    "ruptured": (ruptured, ["2024-02-05", "2024-06-01"]),
    "metastatic": (metastatic, ["2024-01-20", "2025-08-05", "2026-03-12", "2026-03-18", "2026-08-05"]),
}
STORY_DAYS = [
    pytest.param(story, as_of, id=f"{name}@{as_of}")
    for name, (story, days) in STORIES.items()
    for as_of in days
]


class TestAcrossPathways:
    @pytest.mark.parametrize(
        ("story", "end_on"),
        [
            pytest.param(high_risk, "2024-06-01", id="high-risk-on-adjuvant"),
            pytest.param(ruptured, "2024-06-01", id="ruptured-critical-alert"),
            pytest.param(metastatic, "2026-03-12", id="regorafenib-hepatotoxicity"),
            pytest.param(rectal, "2024-03-05", id="rectal-workup"),
        ],
    )
    def test_follow_up_ended(self, story: Story, end_on: str) -> None:
        h = story().add("follow_up_ended", end_on, reason="transferred")
        p = plan(h, "2026-12-31")
        assert p.stage == "ended"
        assert p.alerts == ()
        assert open_reminders(p) == []

    def test_events_after_as_of_are_ignored(self) -> None:
        full = metastatic()
        cut = History([e for e in full if e.occurred_on <= d("2025-08-05")])
        assert plan(full, "2025-08-05").to_json() == plan(cut, "2025-08-05").to_json()
        # only the day the plan can next change sees them: the first of them, at the latest
        first_later = min(e.occurred_on for e in full if e.occurred_on > d("2025-08-05"))
        assert plan(full, "2025-08-05").changes_on == min(first_later, plan(cut, "2025-08-05").changes_on)
        # and a later resection does not make the low-risk patient resected early
        p = plan(low_risk(), "2024-02-14")
        assert p.stage == "workup"
        assert reminders(p, rule=AWAITING) == []

    @pytest.mark.parametrize(("story", "as_of"), STORY_DAYS)
    def test_order_of_arrival_and_duplicates_do_not_matter(self, story: Story, as_of: str) -> None:
        events = list(story())
        expected = plan(events, as_of).to_json()
        assert plan(list(reversed(events)), as_of).to_json() == expected
        assert plan(events + events[:3], as_of).to_json() == expected

    @pytest.mark.parametrize(("story", "as_of"), STORY_DAYS)
    def test_keys_unique_well_formed_and_no_open_items_on_one_day(self, story: Story, as_of: str) -> None:
        p = plan(story(), as_of)
        all_keys = [r.key for r in p.reminders]
        assert len(all_keys) == len(set(all_keys))
        for r in p.reminders:
            rule, kind, anchor, ordinal = r.key.split(":")
            assert (rule, kind) == (r.rule, r.kind)
            assert d(anchor) <= r.due_on
            assert int(ordinal) >= 1
        slots = [(r.rule, r.kind, r.due_on) for r in open_reminders(p)]
        assert len(slots) == len(set(slots))
        assert [(r.due_on, r.rule, r.key) for r in p.reminders] == sorted(
            (r.due_on, r.rule, r.key) for r in p.reminders
        )


# ================================================================================================
# Edges of the same rules: stage table, tissue work-up, chaining, fulfilment windows, adjuvant end,
# neoadjuvant courses, lines, other alerts of §12
# ================================================================================================


class TestStageAndWorkup:
    @pytest.mark.parametrize(
        ("site", "size_cm", "metastatic", "stage"),
        [
            pytest.param("stomach", 1.9, False, "small_tumour_surveillance", id="stomach-1.9"),
            pytest.param("duodenum", 1.9, False, "small_tumour_surveillance", id="duodenum-1.9"),
            pytest.param("stomach", 2.0, False, "workup", id="stomach-2.0-not-below-2"),
            pytest.param("jejunum_ileum", 1.5, False, "workup", id="jejunum-1.5"),
            pytest.param("rectum", 1.5, False, "workup", id="rectum-1.5"),
            pytest.param("stomach", 1.9, True, "advanced", id="stomach-1.9-metastatic"),
        ],
    )
    def test_stage_at_diagnosis(self, site: str, size_cm: float, metastatic: bool, stage: str) -> None:
        h = History().add("diagnosis", "2024-01-10", site=site, size_cm=size_cm, metastatic=metastatic)
        assert plan(h, "2024-01-11").stage == stage

    def test_other_tumour_without_tissue_gets_biopsy_and_mdt_review(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=3.0)
        p = plan(h, "2024-01-11")
        assert p.stage == "workup"
        assert [(r.key, r.due_on, r.window_days) for r in p.reminders] == [
            ("workup.tissue:biopsy:2024-01-10:1", d("2024-01-24"), 14),
            ("workup.tissue:mdt_review:2024-01-10:1", d("2024-01-24"), 14),
        ]

    def test_advanced_without_tissue_gets_biopsy_but_no_mdt_review(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=9.0, metastatic=True)
        p = plan(h, "2024-01-11")
        biopsy = reminder(p, "workup.tissue:biopsy:2024-01-10:1")
        assert (biopsy.due_on, biopsy.window_days) == (d("2024-01-24"), 14)
        assert reminders(p, rule="workup.tissue", kind="mdt_review") == []
        found = alert(p, "next_line_due")
        assert found is not None
        assert found.rule == "advanced.first_line"

    def test_bouin_fixative_until_a_mutation_result(self) -> None:
        h = History()
        h.add("diagnosis", "2024-01-15", site="stomach", size_cm=4.0)
        h.add("resection", "2024-02-15", margin="R0")
        h.add("pathology", "2024-03-01", size_cm=4.0, mitoses_per_5mm2=3, site="stomach", fixative="bouin")
        found = alert(plan(h, "2024-03-05"), "bouin_fixative")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "workup.bouin")
        h.add("mutation", "2024-04-10", gene="KIT", exon=11)
        assert alert(plan(h, "2024-04-11"), "bouin_fixative") is None


def resected(size_cm: float, mitoses: int) -> History:
    h = History()
    h.add("diagnosis", "2024-01-15", site="stomach", size_cm=size_cm)
    h.add("resection", "2024-02-15", margin="R0")
    h.add("pathology", "2024-03-01", size_cm=size_cm, mitoses_per_5mm2=mitoses, site="stomach")
    h.add("mutation", "2024-03-20", gene="KIT", exon=11)
    return h


class TestOtherRiskTiers:
    def test_very_low_no_routine_imaging(self) -> None:
        p = plan(resected(1.8, 3), "2024-04-01")
        assert p.risk.nih_modified == "very_low"
        found = alert(p, "no_routine_imaging")
        assert found is not None
        assert found.severity == "info"
        assert open_reminders(p, kind="ct") == []

    def test_intermediate_adjuvant_debated_and_schedule(self) -> None:
        p = plan(resected(6.0, 4), "2024-04-01")
        assert (p.risk.nih_modified, p.risk.nih_row) == ("intermediate", "nih.9")
        found = alert(p, "adjuvant_debated")
        assert found is not None
        assert (found.severity, found.rule) == ("info", "adjuvant.intermediate")
        ct = reminders(p, rule="surveillance.intermediate")
        # every 3–6 months until 5 years (20 items), then every 12 months until 10 years (5 items)
        assert len(ct) == 25
        assert dues([ct[0], ct[19], ct[20], ct[24]]) == [
            ("2024-05-15", 92),
            ("2029-02-15", 89),
            ("2030-02-15", 14),
            ("2034-02-15", 14),
        ]


class TestChainingAndFulfilment:
    def test_late_pathology_first_item_due_on_the_opening_day(self) -> None:
        h = History()
        h.add("diagnosis", "2024-01-10", site="jejunum_ileum", size_cm=7.0)
        h.add("resection", "2024-02-01", margin="R0")
        h.add("pathology", "2024-06-01", size_cm=7.0, mitoses_per_5mm2=8)
        p = plan(h, "2024-06-02")
        ct = reminders(p, rule=HIGH)
        # 2024-05-01 falls before the series opened (2024-06-01): due on the opening day; the next
        # is one interval after that due date
        assert ct[0].key == f"{HIGH}:ct:2024-02-01:1"
        assert dues(ct[:3]) == [("2024-06-01", 14), ("2024-09-01", 14), ("2024-12-01", 14)]
        assert ct[0].status == "due"

    def test_a_ct_before_the_series_opens_counts_for_its_first_item(self) -> None:
        h = History()
        h.add("diagnosis", "2024-01-15", site="stomach", size_cm=4.0)
        h.add("resection", "2024-02-15", margin="R0")
        h.add("imaging", "2024-04-01", modality="ct", result="no_evidence_of_disease")
        h.add("pathology", "2024-05-01", size_cm=4.0, mitoses_per_5mm2=3, site="stomach")
        p = plan(h, "2024-05-02")
        awaiting = reminder(p, f"{AWAITING}:ct:2024-02-15:1")  # due 2024-05-15, eligible from 2024-03-31
        assert (awaiting.status, awaiting.completed_on) == ("completed", d("2024-04-01"))
        first = reminder(p, f"{LOW}:ct:2024-02-15:1")
        assert (first.due_on, first.window_days) == (d("2024-10-01"), 182)

    @pytest.mark.parametrize(
        ("scan_on", "fulfilled"),
        [
            pytest.param("2024-04-15", False, id="47-days-early-too-early"),
            pytest.param("2024-04-16", True, id="46-days-early-half-interval"),
        ],
    )
    def test_chained_item_eligible_from_half_an_interval_before(self, scan_on: str, fulfilled: bool) -> None:
        h = high_risk().add("imaging", scan_on, modality="ct", result="no_evidence_of_disease")
        p = plan(h, "2024-04-20")
        first = reminder(p, f"{HIGH_ADJ}:ct:2024-03-01:1")  # due 2024-06-01, interval 92 days
        if not fulfilled:
            assert (first.status, first.due_on) == ("planned", d("2024-06-01"))
            return
        assert (first.status, first.completed_on) == ("completed", d(scan_on))
        second = reminder(p, f"{HIGH_ADJ}:ct:2024-03-01:2")
        assert (second.due_on, second.window_days) == (d("2024-07-16"), 92)

    @pytest.mark.parametrize(
        ("as_of", "first_status"),
        [
            pytest.param("2024-03-13", "overdue", id="before-next-due-date"),
            pytest.param("2024-03-16", "cancelled", id="after-next-due-date"),
        ],
    )
    def test_late_lab_fulfils_the_next_fixed_item_not_the_missed(self, as_of: str, first_status: str) -> None:
        h = high_risk().add("lab_result", "2024-03-12", test="neutrophils", value=3.1)
        p = plan(h, as_of)
        second = reminder(p, f"{IMATINIB}:lab_cbc:2024-03-01:2")  # due 2024-03-15, eligible from 03-12
        assert (second.status, second.completed_on) == ("completed", d("2024-03-12"))
        first = f"{IMATINIB}:lab_cbc:2024-03-01:1"  # due 2024-03-08, eligible to 03-11
        if first_status == "cancelled":
            assert is_cancelled_or_omitted(p, first)
        else:
            assert reminder(p, first).status == first_status


class TestAdjuvantCourses:
    def test_three_years_completed_fulfils_the_review_and_reopens_high_surveillance(self) -> None:
        h = high_risk().add("therapy_stopped", "2027-03-01", drug="imatinib", reason="completed")
        p = plan(h, "2027-03-05")
        assert p.stage == "post_treatment_surveillance"
        assert p.alerts == ()
        review = reminder(p, "adjuvant.duration:therapy_review:2024-03-01:1")
        assert (review.status, review.completed_on) == ("completed", d("2027-03-01"))
        first = reminder(p, f"{HIGH}:ct:2027-03-01:1")
        assert (first.due_on, first.window_days, first.status) == (d("2027-06-01"), 14, "planned")

    def test_neoadjuvant_course_counts_as_adjuvant_from_the_resection(self) -> None:
        h = History()
        h.add("diagnosis", "2024-01-10", site="stomach", size_cm=12.0)
        h.add("biopsy", "2024-01-15", result="gist")
        h.add("mutation", "2024-01-25", gene="KIT", exon=11)
        h.add("therapy_started", "2024-02-01", drug="imatinib", dose_mg=400, setting="neoadjuvant")
        h.add("resection", "2024-08-01", margin="R0")
        h.add("pathology", "2024-08-10", size_cm=12.0, mitoses_per_5mm2=3, site="stomach")
        before = plan(h, "2024-03-01")
        assert before.stage == "neoadjuvant"
        assert reminders(before, rule="adjuvant.duration") == []
        p = plan(h, "2024-08-20")
        assert p.stage == "adjuvant"
        assert (p.risk.nih_modified, p.risk.nih_row) == ("high", "nih.2")
        assert alert(p, "adjuvant_indicated") is None
        # the review counts from the (neoadjuvant) course start; surveillance anchors on the resection
        review = reminder(p, "adjuvant.duration:therapy_review:2024-02-01:1")
        assert review.due_on == d("2027-02-01")
        first = reminder(p, f"{HIGH_ADJ}:ct:2024-08-01:1")
        assert (first.due_on, first.window_days) == (d("2024-11-01"), 92)
        assert {r.key.split(":")[2] for r in open_reminders(p, rule=IMATINIB)} == {"2024-02-01"}

    @pytest.mark.parametrize(
        ("labs", "critical"),
        [
            pytest.param([("bilirubin", 3.1, 1.0)], True, id="bilirubin-3.1x"),
            pytest.param([("bilirubin", 3.0, 1.0)], False, id="bilirubin-3.0x"),
            pytest.param([("alt", 204, 40)], True, id="alt-5.1x"),
            pytest.param([("alt", 200, 40)], False, id="alt-5.0x"),
            pytest.param([("ast", 240, 40)], True, id="ast-6x"),
        ],
    )
    def test_imatinib_hepatotoxicity(self, labs: list[tuple[str, float, float]], critical: bool) -> None:
        h = high_risk()
        for test, value, uln in labs:
            h.add("lab_result", "2024-03-10", test=test, value=value, uln=uln)
        found = alert(plan(h, "2024-03-11"), "hepatotoxicity")
        if not critical:
            assert found is None
            return
        assert found is not None
        assert (found.severity, found.rule) == ("critical", "monitoring.imatinib_liver")


class TestAdvancedEdges:
    @pytest.mark.parametrize(
        ("restart_on", "line", "imaging_anchor"),
        [
            pytest.param("2024-10-01", 1, "2024-02-01", id="30-days-continues-the-line"),
            # v4 §7: a restart with no progression since the stop keeps its line however long the gap
            pytest.param("2024-10-02", 1, "2024-02-01", id="31-days-without-progression-continues"),
        ],
    )
    def test_imatinib_restart_after_a_stop(self, restart_on: str, line: int, imaging_anchor: str) -> None:
        h = imatinib_in_advanced_disease()
        h.add("therapy_stopped", "2024-09-01", drug="imatinib", reason="toxicity")
        h.add("therapy_started", restart_on, drug="imatinib", dose_mg=300, setting="advanced")
        p = plan(h, "2024-10-10")
        assert p.therapy is not None
        assert (p.therapy.started_on, p.therapy.line) == (d(restart_on), line)
        assert alert(p, "imatinib_stopped_in_advanced_disease") is None
        assert {r.key.split(":")[2] for r in open_reminders(p, rule=ADV_CT)} == {imaging_anchor}
        # a new course: its own monitoring series from the restart
        assert {r.key.split(":")[2] for r in open_reminders(p, rule=IMATINIB)} == {restart_on}

    def test_adjuvant_course_running_when_metastases_appear_is_line_1(self) -> None:
        h = high_risk().add("metastasis", "2025-01-15", sites=["liver"])
        p = plan(h, "2025-01-20")
        assert p.stage == "advanced"
        assert p.therapy is not None
        assert (p.therapy.drug, p.therapy.started_on, p.therapy.line) == ("imatinib", d("2024-03-01"), 1)
        assert alert(p, "next_line_due") is None
        # advanced disease closes post-resection surveillance and the adjuvant review
        assert open_reminders(p, rule=HIGH_ADJ) == []
        assert is_cancelled_or_omitted(p, "adjuvant.duration:therapy_review:2024-03-01:1")
        first = reminder(p, f"{ADV_CT}:ct:2025-01-15:1")
        assert (first.due_on, first.window_days) == (d("2025-04-15"), 91)
        # imatinib running in advanced disease, no progression: the MDT review is due 6 months after
        # the start or, if later, on the day the disease became advanced
        review = reminder(p, "advanced.cytoreduction:mdt_review:2025-01-15:1")
        assert (review.due_on, review.status) == (d("2025-01-15"), "due")

    def test_kit_exon9_in_advanced_disease(self) -> None:
        h = metastatic_with_mutation(gene="KIT", exon=9)
        h.add("therapy_started", "2024-02-01", drug="imatinib", dose_mg=400, setting="advanced")
        found = alert(plan(h, "2024-02-05"), "kit_exon9_dose")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "advanced.kit_exon9")

    def test_sunitinib_monitoring(self) -> None:
        p = plan(metastatic(), "2025-09-01")
        sun = "monitoring.sunitinib"
        for kind in ("lab_lft", "lab_cbc"):  # start of each 6-week cycle (50 mg 4/2)
            assert dues(reminders(p, rule=sun, kind=kind)[:3]) == [
                ("2025-08-10", 7),
                ("2025-09-21", 7),
                ("2025-11-02", 7),
            ]
        assert dues(reminders(p, rule=sun, kind="lab_tsh")[:3]) == [
            ("2025-08-10", 7),
            ("2025-11-10", 7),
            ("2026-02-10", 7),
        ]
        assert dues(reminders(p, rule=sun, kind="echo")) == [("2025-08-10", 7)]

    def test_recurrence_after_resection_without_any_line(self) -> None:
        h = low_risk().add("progression", "2025-03-01", pattern="multifocal")
        p = plan(h, "2025-03-05")
        assert p.stage == "advanced"
        assert open_reminders(p, rule=LOW) == []  # advanced disease closes post-resection surveillance
        found = alert(p, "next_line_due")
        assert found is not None
        assert (found.severity, found.rule) == ("warning", "advanced.next_line")
        first = reminder(p, f"{ADV_CT}:ct:2025-03-01:1")
        assert (first.due_on, first.window_days) == (d("2025-06-01"), 92)

    @pytest.mark.parametrize(
        ("as_of", "severity"),
        [
            pytest.param("2025-01-15", "warning", id="within-4-weeks"),
            pytest.param("2025-02-07", "critical", id="4-weeks-after-surgery"),
        ],
    )
    def test_resume_tki_after_surgery_when_stopped_for_it(self, as_of: str, severity: str) -> None:
        h = imatinib_in_advanced_disease()
        h.add("therapy_stopped", "2025-01-05", drug="imatinib", reason="other")
        h.add("resection", "2025-01-10", margin="R0", intent="cytoreductive")
        p = plan(h, as_of)
        found = alert(p, "resume_tki_after_surgery")
        assert found is not None
        assert (found.severity, found.rule) == (severity, "advanced.resume_after_surgery")
        review = reminder(p, "advanced.resume_after_surgery:therapy_review:2025-01-10:1")
        assert (review.due_on, review.window_days) == (d("2025-01-24"), 14)

    def test_resume_tki_after_surgery_with_the_course_still_recorded_as_running(self) -> None:
        h = imatinib_in_advanced_disease().add("resection", "2025-01-10", margin="R0", intent="cytoreductive")
        p = plan(h, "2025-01-15")
        assert reminder(p, "advanced.resume_after_surgery:therapy_review:2025-01-10:1").status == "planned"
        found = alert(p, "resume_tki_after_surgery")
        assert found is not None
        assert found.severity == "warning"
