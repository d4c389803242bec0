"""The stored vocabularies (models/vocabulary.py): their values are the strings the database
holds and the API and tasks send, and they agree with the core's and the API document's own
copies."""

from __future__ import annotations

from enum import StrEnum
from typing import get_args

import pytest

from models.vocabulary import INVITING_KINDS, Audience, FeedScope, NotificationKind, Role
from scheduler.domain.notices import Audience as CoreAudience
from scheduler.domain.notices import Stage
from scheduler.staff.access import REGISTRARS, SEES_ALL
from scheduler.staff.users import ROLES
from web.api_models import Me


@pytest.mark.parametrize(
    ("vocabulary", "values"),
    [
        (Role, ["navigator", "clinician", "admin", "integration"]),
        (Audience, ["patient", "navigator"]),
        (NotificationKind, ["advance", "due", "overdue", "moved", "cancel", "digest"]),
        (FeedScope, ["patient", "navigator"]),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_values_are_the_stored_strings(vocabulary: type[StrEnum], values: list[str]) -> None:
    assert [member.value for member in vocabulary] == values
    pairs = zip(vocabulary, values, strict=True)
    assert all(member == value and str(member) == value and f"{member}" == value for member, value in pairs)


def test_audiences_are_the_cores() -> None:
    assert [audience.value for audience in Audience] == list(get_args(CoreAudience))


def test_notice_stages_are_notification_kinds() -> None:
    assert [NotificationKind(stage) for stage in get_args(Stage)] == list(NotificationKind)[:3]


def test_inviting_kinds() -> None:
    assert INVITING_KINDS == ("advance", "due", "moved")


def test_roles_of_accounts_access_and_the_api_document() -> None:
    assert tuple(Role) == ROLES
    assert set(SEES_ALL) == set(Role) - {Role.NAVIGATOR}
    assert set(REGISTRARS) == {Role.ADMIN, Role.INTEGRATION}
    assert list(get_args(Me.model_fields["role"].annotation)) == list(Role)
