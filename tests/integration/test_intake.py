"""Intake on a real SQLite file: duplicates, conflicts and their line numbers (event-contract §1, §3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.rows import EventRow
from scheduler.patients.intake import parse_lines, record_events
from tests.support.staff import AS_OF

pytestmark = pytest.mark.integration

TODAY = AS_OF


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    upgrade(url)
    return make_sessionmaker(make_engine(url))


def line(event_id: str, size: float, day: str = "2026-01-10") -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "patient_id": "P1",
            "type": "diagnosis",
            "occurred_on": day,
            "data": {"site": "stomach", "size_cm": size},
        }
    )


def submit(sessions: sessionmaker[Session], *lines: str) -> tuple[dict[str, object], list[str]]:
    queued: list[str] = []
    result = record_events(sessions, parse_lines(lines), TODAY, queued.extend)
    return result.to_json(), queued


def stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(EventRow)) or 0


def test_new_events_are_stored_and_their_patient_queued_once(sessions: sessionmaker[Session]) -> None:
    result, queued = submit(sessions, line("e1", 3.0), line("e2", 3.5, "2026-02-01"))
    assert result == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert queued == ["P1"]
    assert stored(sessions) == 2


def test_resubmission_is_all_duplicates_and_queues_nothing(sessions: sessionmaker[Session]) -> None:
    submit(sessions, line("e1", 3.0))
    result, queued = submit(sessions, line("e1", 3.0), line("e1", 3.00))
    assert result == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert queued == []


def test_a_conflict_with_the_stored_event_is_rejected_and_never_overwrites(
    sessions: sessionmaker[Session],
) -> None:
    submit(sessions, line("e1", 3.0))
    result, _ = submit(sessions, line("e1", 4.0))
    assert result["accepted"] == 0
    assert result["rejected"] == [
        {
            "line": 1,
            "error": "line 1: event_id 'e1' conflicts with the stored event "
            "(same event_id, different content)",
        }
    ]
    with sessions() as session:
        assert session.scalars(select(EventRow.payload)).one()["data"]["size_cm"] == 3.0


def test_a_conflicting_line_does_not_make_a_later_copy_of_the_stored_event_a_conflict(
    sessions: sessionmaker[Session],
) -> None:
    submit(sessions, line("e1", 3.0))
    result, _ = submit(sessions, line("e1", 4.0), line("e1", 3.0))
    assert result["duplicates"] == 1
    assert [r["line"] for r in result["rejected"]] == [1]  # type: ignore[union-attr]


def test_within_a_file_the_first_valid_line_is_the_reference(sessions: sessionmaker[Session]) -> None:
    result, _ = submit(sessions, line("e1", 3.0), line("e1", 4.0), line("e1", 3.0), "{not json", "")
    assert result["accepted"] == 1
    assert result["duplicates"] == 1
    rejected = result["rejected"]
    assert isinstance(rejected, list)
    assert [r["line"] for r in rejected] == [2, 4]
    assert "conflicts with line 1" in rejected[0]["error"]
    assert rejected[1]["error"].startswith("line 4: not valid JSON")


def test_an_invalid_line_leaves_no_trace(sessions: sessionmaker[Session]) -> None:
    result, queued = submit(sessions, line("e1", -1.0))
    assert result["accepted"] == 0
    assert "data.size_cm" in result["rejected"][0]["error"]  # type: ignore[index]
    assert queued == []
    assert stored(sessions) == 0


def test_a_date_after_the_day_of_receipt_is_rejected(sessions: sessionmaker[Session]) -> None:
    result, _ = submit(sessions, line("e1", 3.0, "2026-11-28"))
    assert "occurred_on" in result["rejected"][0]["error"]  # type: ignore[index]
