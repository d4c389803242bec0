"""Schemathesis against the OpenAPI document (issue 5): generated requests, authenticated and not,
never get a 500 from the API, and every answer matches the document's status codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from scheduler.processing import process_patient
from scheduler.settings import Settings
from scheduler.users import create_user
from tests.support.common import by_patient, intake, read_cohort
from tests.support.staff import AS_OF
from web.app import create_app

pytestmark = pytest.mark.integration

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'gist.sqlite3'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    events = read_cohort()
    intake(sessions, events, AS_OF)
    for patient_id in by_patient(events):
        process_patient(sessions, patient_id, AS_OF)
    TOKEN["clinician"] = create_user(sessions, "cleo", "clinician", "correct horse battery").token
    settings = Settings(env="test", database_url=url, data_dir=Path(folder), as_of=AS_OF)
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_app(settings, sessions))


def test_no_server_errors(api_schema: Any) -> None:
    """Every operation, 40 generated requests each (schemathesis's strategies driven by Hypothesis
    directly: its pytest plugin does not load with this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {TOKEN['clinician']}"})
            assert response.status_code < 500, (
                case.method, case.formatted_path, response.status_code, response.text[:500],
            )  # fmt: skip
            refused = case.call(headers={"Authorization": "Bearer not-a-token"}).status_code
            assert refused in (400, 401), refused  # 400: a URL no route accepts (a NUL), before any auth

        check()
