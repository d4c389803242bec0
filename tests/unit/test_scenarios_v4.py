"""Scenario tests for every behaviour clinical-rules.md v4 changed, each written from the spec text.

Each test is a patient history and the reminder or alert the v4 passage asks for; dates are worked
out by hand from the spec (§0 evaluation, §4–§9 rules) and written as literals.
"""

from __future__ import annotations

from tests.builders import (
    History,
    alert,
    alert_codes,
    d,
    imatinib_in_advanced_disease,
    open_reminders,
    plan,
    reminder,
    reminders,
)

# ---- helpers: histories the tests share ----------------------------------------------------------


def regorafenib_patient() -> History:
    """Advanced GIST on regorafenib 160 mg from 2026-01-05, baseline liver tests on the start day."""
    h = History()
    h.add("diagnosis", "2026-01-02", site="stomach", size_cm=6.0, metastatic=True)
    h.add("biopsy", "2026-01-03", result="gist")
    h.add("mutation", "2026-01-03", gene="KIT", exon=11)
    h.add("therapy_started", "2026-01-05", drug="regorafenib", dose_mg=160, setting="advanced")
    h.add("lab_result", "2026-01-05", test="alt", value=20, uln=40)
    return h


def high_risk_resected() -> History:
    h = History()
    h.add("diagnosis", "2024-01-10", site="jejunum_ileum", size_cm=7.0)
    h.add("biopsy", "2024-01-15", result="gist")
    h.add("resection", "2024-02-01", margin="R0")
    h.add("pathology", "2024-02-08", size_cm=7.0, mitoses_per_5mm2=8, site="jejunum_ileum")
    h.add("mutation", "2024-02-20", gene="KIT", exon=11)
    return h


# ---- §9 a missed item is never silent --------------------------------------------------------------


class TestMissedLiverTestsOnRegorafenib:
    """ALT 4× ULN on regorafenib, then no liver tests: one overdue weekly item with its age (§9)."""

    def history(self) -> History:
        return regorafenib_patient().add("lab_result", "2026-02-02", test="alt", value=160, uln=40)

    def test_one_open_weekly_item_carries_the_first_missed_date_and_count(self) -> None:
        p = plan(self.history(), "2026-04-10")
        weekly = open_reminders(p, rule="monitoring.regorafenib_liver", kind="lab_lft")
        first = weekly[0]
        # weekly from the 4× result (2026-02-02): due 02-09, 02-16, … 04-06 (window 3) — the nine
        # items due 02-09 … 04-06 whose next item is due by 04-10 are missed; 04-06's window runs to
        # 04-09 and 04-13 is not due yet, so 04-06 is overdue, the open item after 8 missed ones
        assert (first.due_on, first.status) == (d("2026-04-06"), "overdue")
        assert (first.overdue_since, first.missed) == (d("2026-02-09"), 8)
        assert first.last_done_on == d("2026-02-02")
        assert [r.status for r in weekly[1:3]] == ["planned", "planned"]
        assert (weekly[1].overdue_since, weekly[1].missed) == (None, 0)
        missed = [r for r in reminders(p, rule="monitoring.regorafenib_liver") if r.status == "cancelled"]
        assert len(missed) == 8

    def test_the_contract_keys_are_on_open_items_only(self) -> None:
        p = plan(self.history(), "2026-04-10")
        for r in p.reminders:
            shape = r.to_json()
            if r.status in ("planned", "due", "overdue"):
                assert "overdue_since" in shape
                assert "missed" in shape
            else:
                assert "overdue_since" not in shape
                assert "missed" not in shape


class TestMissedSurveillanceCt:
    """§0 v4: a missed chained item is superseded like a fixed one: one overdue scan per series."""

    def test_one_overdue_scan_after_a_year_without_imaging(self) -> None:
        # high risk, no adjuvant: CT every 3 months (14-day window) from the resection 2024-02-01
        p = plan(high_risk_resected(), "2025-02-20")
        ct = reminders(p, rule="surveillance.high", kind="ct")
        statuses = [(r.due_on.isoformat(), r.status) for r in ct if r.due_on <= d("2025-02-20")]
        assert statuses == [
            ("2024-05-01", "cancelled"),
            ("2024-08-01", "cancelled"),
            ("2024-11-01", "cancelled"),
            ("2025-02-01", "overdue"),
        ]
        overdue = [r for r in ct if r.status == "overdue"]
        assert len(overdue) == 1
        assert (overdue[0].overdue_since, overdue[0].missed) == (d("2024-05-01"), 3)

    def test_a_scan_on_the_last_day_of_a_window_still_completes_that_item(self) -> None:
        h = high_risk_resected().add("imaging", "2024-05-15", modality="ct", result="stable")
        first = reminder(plan(h, "2024-06-01"), "surveillance.high:ct:2024-02-01:1")
        assert (first.status, first.completed_on) == ("completed", d("2024-05-15"))

    def test_a_late_scan_completes_the_current_item_and_the_chain_counts_from_it(self) -> None:
        h = high_risk_resected().add("imaging", "2024-09-10", modality="ct", result="stable")
        p = plan(h, "2024-09-20")
        # item 1 (due 05-01) was superseded on 08-01 when item 2 became due; the scan fulfils item 2
        assert reminder(p, "surveillance.high:ct:2024-02-01:1").status == "cancelled"
        second = reminder(p, "surveillance.high:ct:2024-02-01:2")
        assert (second.status, second.completed_on) == ("completed", d("2024-09-10"))
        assert reminder(p, "surveillance.high:ct:2024-02-01:3").due_on == d("2024-12-10")


# ---- §0 a series closed on a day still takes that day's results ------------------------------------


def test_the_ct_that_finds_recurrence_completes_the_surveillance_item() -> None:
    h = high_risk_resected()
    h.add("imaging", "2024-05-02", modality="ct", result="new_lesion")
    h.add("progression", "2024-05-02", pattern="multifocal")
    p = plan(h, "2024-05-10")
    first = reminder(p, "surveillance.high:ct:2024-02-01:1")
    assert (first.status, first.completed_on) == ("completed", d("2024-05-02"))
    assert p.stage == "advanced"


# ---- §8 held, not forgotten ------------------------------------------------------------------------


class TestRegorafenibHeldForHepatotoxicity:
    def history(self) -> History:
        h = regorafenib_patient()
        h.add("lab_result", "2026-02-02", test="alt", value=240, uln=40)  # 6× ULN: interrupt
        h.add("therapy_stopped", "2026-02-03", drug="regorafenib", reason="toxicity")
        return h

    def test_weekly_liver_tests_and_the_alert_go_on_after_the_stop(self) -> None:
        p = plan(self.history(), "2026-02-20")
        weekly = open_reminders(p, rule="monitoring.regorafenib_liver", kind="lab_lft")
        assert [r.due_on for r in weekly[:2]] == [d("2026-02-16"), d("2026-02-23")]
        found = alert(p, "hepatotoxicity")
        assert found is not None
        assert (found.severity, found.rule) == ("critical", "monitoring.regorafenib_liver")
        assert "stopped on 2026-02-03" in found.message
        # the regular series closed with the course
        assert open_reminders(p, rule="monitoring.regorafenib") == []

    def test_both_end_once_alt_and_ast_are_back_at_or_below_3x(self) -> None:
        h = self.history().add("lab_result", "2026-02-16", test="alt", value=120, uln=40)  # 3.0×
        p = plan(h, "2026-03-01")
        assert open_reminders(p, rule="monitoring.regorafenib_liver") == []
        assert alert(p, "hepatotoxicity") is None

    def test_a_stop_with_normal_values_ends_the_monitoring(self) -> None:
        h = regorafenib_patient().add(
            "therapy_stopped", "2026-02-03", drug="regorafenib", reason="progression"
        )
        p = plan(h, "2026-02-20")
        assert open_reminders(p, rule="monitoring.regorafenib_liver") == []
        assert alert(p, "hepatotoxicity") is None


class TestImatinibHeldForHepatotoxicity:
    def history(self) -> History:
        h = high_risk_resected()
        h.add("therapy_started", "2024-03-01", drug="imatinib", dose_mg=400, setting="adjuvant")
        h.add("lab_result", "2024-04-01", test="alt", value=240, uln=40)  # 6× ULN: withhold
        h.add("therapy_stopped", "2024-04-02", drug="imatinib", reason="toxicity")
        return h

    def test_weekly_liver_tests_from_the_stop_and_a_critical_alert(self) -> None:
        p = plan(self.history(), "2024-04-05")
        weekly = open_reminders(p, rule="monitoring.imatinib_liver", kind="lab_lft")
        assert weekly[0].key == "monitoring.imatinib_liver:lab_lft:2024-04-02:1"
        assert (weekly[0].due_on, weekly[0].window_days) == (d("2024-04-09"), 3)
        found = alert(p, "hepatotoxicity")
        assert found is not None
        assert found.severity == "critical"

    def test_warning_between_the_thresholds_and_recovery(self) -> None:
        h = self.history().add("lab_result", "2024-04-09", test="alt", value=120, uln=40)  # 3×: not < 2.5×
        p = plan(h, "2024-04-10")
        found = alert(p, "hepatotoxicity")
        assert found is not None
        assert found.severity == "warning"
        assert open_reminders(p, rule="monitoring.imatinib_liver") != []

    def test_recovery_ends_the_series_and_the_alert(self) -> None:
        h = self.history().add("lab_result", "2024-04-16", test="alt", value=80, uln=40)  # 2×
        p = plan(h, "2024-04-20")
        assert open_reminders(p, rule="monitoring.imatinib_liver") == []
        assert alert(p, "hepatotoxicity") is None

    def test_a_restart_ends_the_held_series_and_its_day_0_test_takes_over(self) -> None:
        h = self.history().add(
            "therapy_started", "2024-04-20", drug="imatinib", dose_mg=300, setting="adjuvant"
        )
        p = plan(h, "2024-04-20")
        assert open_reminders(p, rule="monitoring.imatinib_liver") == []
        day0 = reminder(p, "monitoring.imatinib:lab_lft:2024-04-20:1")
        assert day0.due_on == d("2024-04-20")


# ---- §4 work-up ------------------------------------------------------------------------------------


class TestTissueWorkup:
    def history(self) -> History:
        return History().add("diagnosis", "2024-01-10", site="jejunum_ileum", size_cm=6.0)

    def test_a_pathology_ends_the_biopsy_need(self) -> None:
        h = self.history()
        h.add("resection", "2024-01-20", margin="R0")
        h.add("pathology", "2024-01-27", size_cm=6.0, mitoses_per_5mm2=2)
        p = plan(h, "2024-02-01")
        assert open_reminders(p, kind="biopsy") == []

    def test_a_pathology_without_a_recorded_resection_cancels_the_biopsy(self) -> None:
        h = self.history().add("pathology", "2024-01-30", size_cm=6.0, mitoses_per_5mm2=2)
        biopsy = reminder(plan(h, "2024-02-01"), "workup.tissue:biopsy:2024-01-10:1")
        assert (biopsy.status, biopsy.cancelled_on) == ("cancelled", d("2024-01-30"))

    def test_an_mdt_decision_to_resect_ends_it(self) -> None:
        h = self.history().add("mdt_review", "2024-01-30", outcome="resect")
        p = plan(h, "2024-02-01")
        assert open_reminders(p, kind="biopsy") == []
        assert "MDT decision to resect" in reminder(p, "workup.tissue:biopsy:2024-01-10:1").rationale
        # the review itself was held: the tissue review is completed
        assert reminder(p, "workup.tissue:mdt_review:2024-01-10:1").status == "completed"

    def test_a_resect_decision_before_the_disease_became_advanced_does_not_end_its_biopsy_need(self) -> None:
        h = self.history().add("mdt_review", "2024-01-17", outcome="resect")
        h.add("metastasis", "2024-03-01", sites=["liver"])
        [biopsy] = open_reminders(plan(h, "2024-03-05"), kind="biopsy")
        assert biopsy.key == "workup.tissue:biopsy:2024-03-01:1"

    def test_free_text_is_never_read(self) -> None:
        h = self.history().add("mdt_review", "2024-01-17", decision="resect")
        assert [r.kind for r in open_reminders(plan(h, "2024-02-01"))] == ["biopsy"]


class TestGistConfirmedOnBiopsy:
    def test_goes_to_mdt_when_no_review_is_open(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=4.0)
        h.add("mdt_review", "2024-01-20")  # the work-up review, held
        h.add("biopsy", "2024-02-01", result="gist")
        review = reminder(plan(h, "2024-02-02"), "workup.confirmed:mdt_review:2024-02-01:1")
        assert (review.due_on, review.window_days, review.status) == (d("2024-02-15"), 14, "planned")

    def test_an_open_review_due_no_later_covers_it(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=4.0)
        h.add("biopsy", "2024-01-12", result="gist")
        p = plan(h, "2024-01-13")
        assert [r.rule for r in open_reminders(p, kind="mdt_review")] == ["workup.tissue"]

    def test_not_with_a_neoadjuvant_course_running_and_ended_by_resection(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=12.0)
        h.add("mdt_review", "2024-01-20")
        h.add("therapy_started", "2024-01-25", drug="imatinib", dose_mg=400, setting="neoadjuvant")
        h.add("biopsy", "2024-02-01", result="gist")
        assert [r.rule for r in open_reminders(plan(h, "2024-02-02"), kind="mdt_review")] == [
            "neoadjuvant.surgery_timing"
        ]


class TestSmallNoduleInitialEus:
    def test_a_nodule_found_on_imaging_gets_an_eus_first(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=1.5, method="imaging")
        p = plan(h, "2024-01-11")
        [eus] = open_reminders(p, kind="eus")
        assert (eus.key, eus.due_on, eus.window_days) == (
            "workup.small_gastric_initial:eus:2024-01-10:1",
            d("2024-01-24"),
            14,
        )

    def test_the_chain_counts_3_months_from_that_eus(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=1.5)
        h.add("imaging", "2024-02-05", modality="eus", result="stable")
        p = plan(h, "2024-02-06")
        assert reminder(p, "workup.small_gastric_initial:eus:2024-01-10:1").status == "completed"
        [nxt, *_] = open_reminders(p, rule="workup.small_gastric", kind="eus")
        assert (nxt.due_on, nxt.window_days) == (d("2024-05-05"), 14)

    def test_a_diagnosis_made_by_eus_opens_the_chain_at_once(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="duodenum", size_cm=1.2, method="eus")
        [first, *_] = open_reminders(plan(h, "2024-01-11"), kind="eus")
        assert (first.rule, first.due_on) == ("workup.small_gastric", d("2024-04-10"))


# ---- §1 risk after neoadjuvant therapy; §5a monitoring during it ------------------------------------


class TestNeoadjuvant:
    def history(self) -> History:
        h = History()
        h.add("diagnosis", "2024-01-10", site="stomach", size_cm=12.0)
        h.add("biopsy", "2024-01-15", result="gist", mitoses_per_5mm2=4)
        h.add("mutation", "2024-01-25", gene="KIT", exon=11)
        h.add("therapy_started", "2024-02-01", drug="imatinib", dose_mg=400, setting="neoadjuvant")
        return h

    def test_response_ct_every_3_months_and_a_surgery_timing_review_at_6(self) -> None:
        p = plan(self.history(), "2024-02-02")
        assert p.stage == "neoadjuvant"
        ct = open_reminders(p, rule="neoadjuvant.response")
        assert [(r.due_on, r.window_days) for r in ct[:2]] == [(d("2024-05-01"), 14), (d("2024-08-01"), 14)]
        timing = reminder(p, "neoadjuvant.surgery_timing:mdt_review:2024-02-01:1")
        # due 6 months after the start, window 3 months (2024-08-01 → 2024-11-01)
        assert (timing.due_on, timing.window_days) == (d("2024-08-01"), 92)

    def test_risk_rests_on_the_pretreatment_size_after_surgery(self) -> None:
        h = self.history()
        h.add("resection", "2024-08-15", margin="R0")
        h.add("pathology", "2024-08-22", size_cm=4.0, mitoses_per_5mm2=1, site="stomach")
        p = plan(h, "2024-09-01")
        assert (p.risk.nih_modified, p.risk.size_cm, p.risk.mitoses_per_5mm2) == ("high", 12.0, 4)
        info = alert(p, "risk_after_neoadjuvant")
        assert info is not None
        assert (info.severity, info.rule) == ("info", "risk.after_neoadjuvant")
        # the response CTs closed with the course becoming adjuvant at resection; the review held
        assert open_reminders(p, rule="neoadjuvant.response") == []
        assert open_reminders(p, rule="neoadjuvant.surgery_timing") == []

    def test_no_correction_without_a_neoadjuvant_course(self) -> None:
        p = plan(high_risk_resected(), "2024-03-01")
        assert alert(p, "risk_after_neoadjuvant") is None


# ---- §5 adjuvant -----------------------------------------------------------------------------------


def test_the_rupture_alert_replaces_adjuvant_indicated() -> None:
    h = high_risk_resected().add("rupture", "2024-02-01", context="intraoperative")
    codes = alert_codes(plan(h, "2024-03-01"))
    assert "rupture_adjuvant_mandatory" in codes
    assert "adjuvant_indicated" not in codes


def test_d842v_on_adjuvant_imatinib_is_a_warning_to_discuss_stopping() -> None:
    h = high_risk_resected()
    h.add("mutation", "2024-02-25", gene="PDGFRA", exon=18, variant="D842V")
    h.add("therapy_started", "2024-03-01", drug="imatinib", dose_mg=400, setting="adjuvant")
    p = plan(h, "2024-03-10")
    found = alert(p, "adjuvant_unlikely_to_benefit")
    assert found is not None
    assert found.severity == "warning"
    assert "stopping" in found.message
    assert "avapritinib has no adjuvant role" in found.message
    assert alert(p, "pdgfra_d842v_imatinib_resistant") is None  # advanced disease only


def test_kit_exon9_in_the_adjuvant_setting_says_consider() -> None:
    h = high_risk_resected()
    h.add("mutation", "2024-02-25", gene="KIT", exon=9)
    h.add("therapy_started", "2024-03-01", drug="imatinib", dose_mg=400, setting="adjuvant")
    found = alert(plan(h, "2024-03-10"), "kit_exon9_dose")
    assert found is not None
    assert "consider 800 mg/day" in found.message


# ---- §7 advanced disease ---------------------------------------------------------------------------


class TestLines:
    def test_a_restart_after_a_long_hold_without_progression_keeps_its_line(self) -> None:
        h = imatinib_in_advanced_disease()
        h.add("therapy_stopped", "2024-06-01", drug="imatinib", reason="toxicity")
        h.add("therapy_started", "2024-09-01", drug="imatinib", dose_mg=300, setting="advanced")
        p = plan(h, "2024-09-02")
        assert p.therapy is not None
        assert p.therapy.line == 1

    def test_a_restart_after_a_stop_for_progression_is_a_new_line(self) -> None:
        h = imatinib_in_advanced_disease()
        h.add("therapy_stopped", "2024-06-01", drug="imatinib", reason="progression")
        h.add("therapy_started", "2024-06-10", drug="imatinib", dose_mg=800, setting="advanced")
        p = plan(h, "2024-06-11")
        assert p.therapy is not None
        assert p.therapy.line == 2


def test_recurrence_after_completed_adjuvant_therapy_gets_a_first_line_option() -> None:
    h = high_risk_resected()
    h.add("therapy_started", "2024-03-01", drug="imatinib", dose_mg=400, setting="adjuvant")
    h.add("therapy_stopped", "2027-03-01", drug="imatinib", reason="completed")
    h.add("progression", "2028-01-10", pattern="multifocal")
    found = alert(plan(h, "2028-01-20"), "next_line_due")
    assert found is not None
    assert found.rule == "advanced.next_line"
    assert "first-line imatinib 400 mg/day" in found.message


class TestNoSuccessor:
    def test_sunitinib_stopped_for_toxicity_without_a_successor(self) -> None:
        h = imatinib_in_advanced_disease()
        h.add("progression", "2024-08-01")
        h.add("therapy_stopped", "2024-08-05", drug="imatinib", reason="progression")
        h.add("therapy_started", "2024-08-05", drug="sunitinib", dose_mg=50, setting="advanced")
        h.add("therapy_stopped", "2024-10-01", drug="sunitinib", reason="toxicity")
        found = alert(plan(h, "2024-10-05"), "next_line_due")
        assert found is not None
        assert found.rule == "advanced.no_successor"
        assert "regorafenib" in found.message
        assert "GRID" in found.citation

    def test_not_when_never_stop_is_critical(self) -> None:
        h = imatinib_in_advanced_disease().add(
            "therapy_stopped", "2024-06-01", drug="imatinib", reason="patient_choice"
        )
        p = plan(h, "2024-06-05")
        assert alert(p, "next_line_due") is None
        never = alert(p, "imatinib_stopped_in_advanced_disease")
        assert never is not None
        assert never.severity == "critical"


class TestAdvancedMdt:
    def test_an_mdt_review_when_the_disease_becomes_advanced(self) -> None:
        h = high_risk_resected().add("mdt_review", "2024-02-25")
        h.add("metastasis", "2025-01-10", sites=["liver"])
        review = reminder(plan(h, "2025-01-11"), "advanced.mdt:mdt_review:2025-01-10:1")
        assert (review.due_on, review.status) == (d("2025-01-24"), "planned")

    def covered_history(self) -> History:
        """An open work-up review (due 2024-01-24) when the disease becomes advanced on 01-12."""
        h = History().add("diagnosis", "2024-01-10", site="jejunum_ileum", size_cm=6.0)
        return h.add("metastasis", "2024-01-12", sites=["liver"])

    def test_a_review_held_covers_the_one_it_covered(self) -> None:
        h = self.covered_history().add("mdt_review", "2024-01-22", outcome="biopsy")
        p = plan(h, "2024-02-01")
        assert [r.rule for r in reminders(p, kind="mdt_review")] == ["workup.tissue"]
        assert open_reminders(p, kind="mdt_review") == []

    def test_a_review_cancelled_unheld_lets_the_covered_one_open(self) -> None:
        # the resection ends the work-up review before any MDT met: the advanced review opens then
        h = self.covered_history().add("resection", "2024-01-20", margin="R1", intent="cytoreductive")
        p = plan(h, "2024-01-21")
        review = reminder(p, "advanced.mdt:mdt_review:2024-01-12:1")
        assert (review.due_on, review.status) == (d("2024-01-26"), "planned")

    def test_nothing_opens_when_follow_up_ends(self) -> None:
        h = self.covered_history().add("follow_up_ended", "2024-01-20", reason="transferred")
        assert open_reminders(plan(h, "2024-01-21")) == []

    def test_one_mdt_review_fulfils_every_eligible_open_review(self) -> None:
        h = high_risk_resected().add("metastasis", "2025-01-10", sites=["liver"])
        h.add("progression", "2025-01-12", pattern="focal")
        h.add("mdt_review", "2025-01-20", outcome="start_therapy")
        p = plan(h, "2025-01-21")
        done = [r.rule for r in reminders(p, kind="mdt_review") if r.status == "completed"]
        assert sorted(done) == ["advanced.mdt", "advanced.next_line"]


def test_no_cytoreduction_review_once_the_surgery_is_done() -> None:
    h = imatinib_in_advanced_disease().add("resection", "2024-07-01", margin="R0", intent="cytoreductive")
    p = plan(h, "2024-08-15")
    assert open_reminders(p, rule="advanced.cytoreduction") == []
    assert alert(p, "cytoreductive_surgery_window") is None


def test_a_secondary_kit_exon13_mutation_prefers_sunitinib() -> None:
    h = imatinib_in_advanced_disease().add("dose_changed", "2024-05-01", drug="imatinib", dose_mg=800)
    h.add("progression", "2024-09-01")
    h.add("mutation", "2024-09-10", gene="KIT", exon=13)
    found = alert(plan(h, "2024-09-11"), "next_line_due")
    assert found is not None
    assert "preferred for a secondary KIT exon 13/14 mutation" in found.message


# ---- §13 citations per recommendation ---------------------------------------------------------------


class TestCitations:
    def test_the_sunitinib_option_cites_its_label_and_demetri_2006(self) -> None:
        h = imatinib_in_advanced_disease().add("dose_changed", "2024-05-01", drug="imatinib", dose_mg=800)
        h.add("progression", "2024-09-01")
        found = alert(plan(h, "2024-09-02"), "next_line_due")
        assert found is not None
        assert "Sutent" in found.citation
        assert "Demetri GD et al., Lancet 2006" in found.citation

    def test_ripretinib_twice_daily_cites_zalcberg(self) -> None:
        h = History().add("diagnosis", "2024-01-10", site="stomach", size_cm=8.0, metastatic=True)
        h.add("biopsy", "2024-01-15", result="gist")
        h.add("therapy_started", "2024-02-01", drug="ripretinib", dose_mg=150, setting="advanced")
        h.add("progression", "2024-09-01")
        found = alert(plan(h, "2024-09-02"), "next_line_due")
        assert found is not None
        assert "Zalcberg" in found.citation

    def test_seed_only_schedules_say_no_primary_source_was_found(self) -> None:
        h = high_risk_resected().add("rupture", "2024-02-01")
        p = plan(h, "2024-03-01")
        [ct, *_] = open_reminders(p, rule="surveillance.ruptured")
        assert "Seed guideline summary" in ct.citation
        assert "no primary source found" in ct.citation
        rupture = alert(p, "rupture_adjuvant_mandatory")
        assert rupture is not None
        assert "no primary source found" in rupture.citation
