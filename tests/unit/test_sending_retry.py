"""Recording an outbox row's outcome survives a short database outage (docs/reliability.md,
finding 1): transient errors are retried within a budget, anything else is raised at once."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from scheduler.notifications.sending import RECORD_RETRY_MAX_PAUSE, _retrying


def locked() -> OperationalError:
    return OperationalError("UPDATE notifications", {}, sqlite3.OperationalError("database is locked"))


def missing_table() -> OperationalError:
    return OperationalError("UPDATE notifications", {}, sqlite3.OperationalError("no such table: x"))


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "recorded"


def test_transient_errors_are_retried_until_the_write_goes_through() -> None:
    pauses: list[float] = []
    work = Flaky(5, locked())
    assert _retrying(work, budget=60, sleep=pauses.append) == "recorded"
    assert work.calls == 6
    assert pauses == [0.1, 0.2, 0.4, 0.8, RECORD_RETRY_MAX_PAUSE]


def test_a_permanent_error_is_raised_at_once() -> None:
    work = Flaky(1, missing_table())
    with pytest.raises(OperationalError, match="no such table"):
        _retrying(work, budget=60, sleep=lambda _: None)
    assert work.calls == 1


def test_a_bug_is_not_retried() -> None:
    work = Flaky(1, KeyError("x"))
    with pytest.raises(KeyError):
        _retrying(work, budget=60, sleep=lambda _: None)
    assert work.calls == 1


def test_the_budget_bounds_the_retries() -> None:
    work = Flaky(1000, locked())
    with pytest.raises(OperationalError, match="locked"):
        _retrying(work, budget=0.05, sleep=lambda _: None)
    assert work.calls == 1  # the first pause (0.1 s) would already overrun the budget
