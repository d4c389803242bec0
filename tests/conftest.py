"""Fixtures for the whole test tree: the real services (:mod:`tests.support.fixtures`), the pinned
clinic day, the stored example cohort and the staff with their API tokens
(:mod:`tests.support.staff`)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.cohort import store_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF, create_staff

pytest_plugins = ("tests.support.fixtures",)


@pytest.fixture
def as_of() -> dt.date:
    """The clinic's pinned day (:data:`tests.support.staff.AS_OF`)."""
    return AS_OF


@pytest.fixture
def stored(db: Database) -> Database:
    """The test's ``db`` holding the example cohort planned as of :data:`AS_OF`."""
    return store_cohort(db)


@pytest.fixture
def staff_tokens(stored: Database) -> dict[str, str]:
    """:data:`tests.support.staff.STAFF` signed up in the stored cohort's database: username → API
    token (every one with :data:`tests.support.staff.PASSWORD`)."""
    return create_staff(stored.sessions)
