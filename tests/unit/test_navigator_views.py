"""The pure parts of the navigator's pages: how a result is put in words, which result is the
latest of each test, the worklist's sort parameters and CSV cells, the fortnight of the week view,
and what a note may hold."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from scheduler.patients.notes import MAX_NOTE_CHARS, NoteError, check_note
from scheduler.patients.results import describe, latest_results
from scheduler.staff.week import fortnight
from web.worklist_view import Sort, parse_sort, sort_items, worklist_csv


@pytest.mark.parametrize(
    ("event_type", "data", "text"),
    [
        ("lab_result", {"test": "alt", "value": 95, "uln": 40}, "ALT 95 (2.4× ULN)"),
        ("lab_result", {"test": "bilirubin", "value": 0.9, "uln": 1.2}, "Bilirubin 0.9 (0.8× ULN)"),
        ("lab_result", {"test": "hemoglobin", "value": 12.5}, "Haemoglobin 12.5"),
        ("lab_result", {"test": "lvef", "value": 55}, "LVEF 55"),
        ("imaging", {"modality": "ct", "result": "no_evidence_of_disease"}, "CT: no evidence of disease"),
        ("imaging", {"modality": "mri"}, "MRI (no result recorded)"),
        ("visit", {"kind": "skin_exam"}, "Skin exam"),
        ("mutation", {"gene": "KIT", "exon": 11}, "Mutation test: KIT exon 11"),
        ("mdt_review", {"outcome": "start_therapy"}, "MDT review: start therapy"),
        ("biopsy", {"result": "gist"}, "Biopsy: gist"),
    ],
    ids=["alt", "bilirubin", "no-uln", "lvef", "ct", "mri-no-result", "visit", "mutation", "mdt", "biopsy"],
)
def test_a_result_in_a_few_words(event_type: str, data: dict[str, Any], text: str) -> None:
    assert describe(event_type, data) == text


def test_the_latest_result_of_each_test_and_modality_newest_first() -> None:
    events = [
        {"type": "lab_result", "occurred_on": "2026-01-05", "data": {"test": "alt", "value": 200, "uln": 40}},
        {"type": "lab_result", "occurred_on": "2026-03-05", "data": {"test": "alt", "value": 30, "uln": 40}},
        {"type": "lab_result", "occurred_on": "2026-02-01", "data": {"test": "ast", "value": 90, "uln": 40}},
        {"type": "imaging", "occurred_on": "2026-02-10", "data": {"modality": "ct", "result": "stable"}},
        {"type": "visit", "occurred_on": "2026-04-01", "data": {"kind": "clinic_visit"}},
    ]
    assert latest_results(events) == [
        {"what": "alt", "on": "2026-03-05", "text": "ALT 30 (0.8× ULN)", "is_above_uln": False},
        {"what": "ct", "on": "2026-02-10", "text": "CT: stable", "is_above_uln": False},
        {"what": "ast", "on": "2026-02-01", "text": "AST 90 (2.2× ULN)", "is_above_uln": True},
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("days", Sort("days", False)),
        ("-days", Sort("days", True)),
        ("", Sort()),
        ("--days", Sort()),
        ("' OR 1=1", Sort()),
        ("status", Sort()),  # a column of another section
    ],
    ids=["ascending", "descending", "none", "double-minus", "injection", "other-section"],
)
def test_a_sort_parameter_names_a_column_of_its_section(value: str, expected: Sort) -> None:
    assert parse_sort("overdue", value) == expected


def test_a_heading_asks_for_ascending_then_descending() -> None:
    assert Sort().next_param("days") == "days"
    assert Sort("days").next_param("days") == "-days"
    assert Sort("days", True).next_param("days") == "days"
    assert Sort("days", True).aria("days") == "descending"
    assert Sort("days").aria("patient") is None


def test_sorting_keeps_the_urgency_order_between_ties_and_puts_unknowns_last() -> None:
    items = [
        {"patient_id": "P2", "last_done_on": None, "n": 1},
        {"patient_id": "P1", "last_done_on": "2026-01-01", "n": 2},
        {"patient_id": "P3", "last_done_on": "2026-01-01", "n": 3},
    ]
    assert [i["n"] for i in sort_items(items, "overdue", Sort("done"))] == [2, 3, 1]
    assert [i["n"] for i in sort_items(items, "overdue", Sort())] == [1, 2, 3]


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_as_text() -> None:
    item = {"patient_id": "P1", "severity": "warning", "message": "=1+1", "raised_on": "2026-01-01",
            "age_days": 3, "acknowledged_by": "@nina", "rule": "-rule", "latest_result": None}  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(worklist_csv({"alerts": [item]}, {"P1": "+Name"}))))
    assert rows[0]["alert"] == "'=1+1"
    assert rows[0]["acknowledged_by"] == "'@nina"
    assert rows[0]["rule"] == "'-rule"
    assert rows[0]["patient_name"] == "'+Name"
    assert rows[0]["alert_age_days"] == "3"


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        (dt.date(2026, 11, 27), dt.date(2026, 11, 23), dt.date(2026, 12, 6)),  # a Friday
        (dt.date(2026, 11, 23), dt.date(2026, 11, 23), dt.date(2026, 12, 6)),  # a Monday
        (dt.date(2026, 11, 29), dt.date(2026, 11, 23), dt.date(2026, 12, 6)),  # a Sunday
        (dt.date(2026, 12, 31), dt.date(2026, 12, 28), dt.date(2027, 1, 10)),  # across the year
    ],
    ids=["friday", "monday", "sunday", "new-year"],
)
def test_the_week_view_runs_from_this_monday_to_next_sunday(
    today: dt.date, first: dt.date, last: dt.date
) -> None:
    assert fortnight(today) == (first, last)


@pytest.mark.parametrize(
    ("kind", "text", "field"),
    [("note", "", "text"), ("note", " \n ", "text"), ("note", "x" * (MAX_NOTE_CHARS + 1), "text"),
     ("note", "a\x00", "text"), ("shout", "hi", "kind")],
    ids=["empty", "blank", "too-long", "nul", "kind"],
)  # fmt: skip
def test_a_note_that_cannot_be_stored_names_its_field(kind: str, text: str, field: str) -> None:
    with pytest.raises(NoteError) as raised:
        check_note(kind, text)
    assert raised.value.field == field


def test_a_note_is_trimmed() -> None:
    assert check_note("call_no_answer", "  tried twice \n") == ("call_no_answer", "tried twice")
