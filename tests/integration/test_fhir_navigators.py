"""The practitioner → navigator table in the FHIR shells (SQLite and PostgreSQL): ``gistsched fhir
import`` (``GIST_FHIR_NAVIGATORS`` or ``--navigators``) and ``POST /fhir/Bundle`` (integration
accounts only) set the navigator from a CareTeam of a mapped practitioner; an unmapped one stays
for review, and so does one mapped to a navigator id no active navigator account has (a warning
naming the file and row when the command or service starts); a bad file stops the command and
the service with one line naming it. (``fhir pull``: ``test_fhir_server.py``.)"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.rows import EventRow, FhirReviewRow, PatientRow
from scheduler.app.wiring import NavigatorSettingError, create_web_app
from scheduler.config.settings import Settings
from scheduler.patients.processing import process_patient
from scheduler.staff.users import create_user
from tests.support.common import assert_cli_error
from tests.support.services import Database, Pipeline
from tests.support.staff import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
NAVIGATORS = FIXTURES / "navigators.json"
NPI = "http://hl7.org/fhir/sid/us-npi"
AS_OF = dt.date(2026, 3, 12)
BASE = "http://clinic.example.org/fhir"


def with_care_team(name: str, npi: str) -> dict[str, Any]:
    """A twin Bundle plus its patient's active CareTeam naming a Practitioner of that NPI."""
    bundle: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    patient = bundle["entry"][0]["resource"]["id"]
    extra = [
        {"resourceType": "Practitioner", "id": f"pr-{npi}", "identifier": [{"system": NPI, "value": npi}]},
        {"resourceType": "CareTeam", "id": f"ct-{patient}", "status": "active",
         "subject": {"reference": f"Patient/{patient}"},
         "participant": [{"member": {"reference": f"Practitioner/pr-{npi}"}}]},
    ]  # fmt: skip
    bundle["entry"] += [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in extra]
    return bundle


def navigator(db: Database, patient_id: str) -> str | None:
    process_patient(db.sessions, patient_id, AS_OF)
    with db.sessions() as session:
        row = session.get(PatientRow, patient_id)
        assert row is not None
        return row.navigator_id


def care_team_reviews(db: Database) -> list[str]:
    with db.sessions() as session:
        return [r.reason for r in session.query(FhirReviewRow) if r.source.startswith("CareTeam/")]


def navigator_accounts(db: Database, *navigator_ids: str) -> None:
    for navigator_id in navigator_ids:
        create_user(db.sessions, navigator_id.replace("nav-", ""), "navigator", PASSWORD, navigator_id)


def test_cli_import_sets_the_navigator_of_a_mapped_practitioner_only(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    mapped, unmapped = tmp_path / "mapped.json", tmp_path / "unmapped.json"
    mapped.write_text(json.dumps(with_care_team("high-risk-adjuvant", "1111111111")))
    unmapped.write_text(json.dumps(with_care_team("regorafenib-alt", "5555555555")))
    setting = {"GIST_FHIR_NAVIGATORS": str(NAVIGATORS)}
    navigator_accounts(pipeline.db, "nav-ana", "nav-ben")
    done = pipeline.gistsched("fhir", "import", str(mapped), **setting)
    assert done.returncode == 0, done.stderr
    assert "not an active navigator account" not in done.stderr
    assert navigator(pipeline.db, "gist-high-adjuvant") == "nav-ana"

    other = pipeline.gistsched("fhir", "import", str(unmapped), **setting)
    assert other.returncode == 0, other.stderr
    assert "CareTeam/ct-gist-rego-alt" in other.stderr
    assert "not in the navigator table" in other.stderr
    assert navigator(pipeline.db, "gist-rego-alt") is None
    assert any("not in the navigator table" in r for r in care_team_reviews(pipeline.db))


def test_cli_navigators_option_overrides_the_setting_and_a_bad_file_stops_it(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(with_care_team("high-risk-adjuvant", "7777777777")))
    table = tmp_path / "nav.csv"
    table.write_text(f"system,value,navigator_id\n{NPI},7777777777,nav-cid\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"system,value,navigator_id\n{NPI},7777777777,nav cid\n")

    refused = pipeline.gistsched("fhir", "import", str(bundle), GIST_FHIR_NAVIGATORS=str(bad))
    assert_cli_error(refused, "GIST_FHIR_NAVIGATORS", str(bad), "line 2 navigator_id")
    refused = pipeline.gistsched("fhir", "import", str(bundle), "--navigators", str(tmp_path / "none.json"))
    assert_cli_error(refused, "--navigators", "none.json", "cannot read it")
    assert pipeline.db.count(EventRow) == 0

    navigator_accounts(pipeline.db, "nav-cid")
    done = pipeline.gistsched(
        "fhir", "import", str(bundle), "--navigators", str(table), GIST_FHIR_NAVIGATORS=str(bad)
    )
    assert done.returncode == 0, done.stderr
    assert navigator(pipeline.db, "gist-high-adjuvant") == "nav-cid"


def test_a_navigator_id_without_an_account_is_a_warning_and_its_care_teams_are_reviewed(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """Accounts change while the table stays: a navigator id no active navigator account has is
    named (file, row) when the command starts, and a CareTeam naming it is reviewed, never set."""
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(with_care_team("high-risk-adjuvant", "7777777777")))
    table = tmp_path / "nav.csv"
    table.write_text(f"system,value,navigator_id\n{NPI},1111111111,nav-ana\n{NPI},7777777777,nav-zed\n")
    navigator_accounts(pipeline.db, "nav-ana")

    done = pipeline.gistsched("fhir", "import", str(bundle), GIST_FHIR_NAVIGATORS=str(table))
    assert done.returncode == 0, done.stderr
    assert (
        f"warning: GIST_FHIR_NAVIGATORS: {table}: line 3 navigator_id: 'nav-zed' is not an active "
        "navigator account; CareTeams naming it are left for review"
    ) in done.stderr
    assert "nav-ana" not in done.stderr
    assert "CareTeam/ct-gist-high-adjuvant" in done.stderr
    assert json.loads(done.stdout)["accepted"] > 0  # the record is stored; only the navigator waits
    assert navigator(pipeline.db, "gist-high-adjuvant") is None
    [reason] = care_team_reviews(pipeline.db)
    assert f"{NPI}|7777777777 the navigator id 'nav-zed', which no active navigator account has" in reason

    navigator_accounts(pipeline.db, "nav-zed")
    again = pipeline.gistsched("fhir", "import", str(bundle), "--navigators", str(table))
    assert again.returncode == 0, again.stderr
    assert "not an active navigator account" not in again.stderr
    assert navigator(pipeline.db, "gist-high-adjuvant") == "nav-zed"


def test_the_service_warns_of_a_navigator_id_without_an_account(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    navigator_accounts(db, "nav-ana")
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, fhir_navigators=NAVIGATORS)
    with caplog.at_level(logging.WARNING, logger="scheduler.app.wiring"):
        create_web_app(settings, db.sessions)
    assert [r.getMessage() for r in caplog.records if r.name == "scheduler.app.wiring"] == [
        f"GIST_FHIR_NAVIGATORS: {NAVIGATORS}: [1].navigator_id: 'nav-ben' is not an active navigator "
        "account; CareTeams naming it are left for review"
    ]


@pytest.fixture
def tokens(db: Database) -> dict[str, str]:
    return {
        "ehr": create_user(db.sessions, "ehr", "integration", PASSWORD, None).token,
        "ada": create_user(db.sessions, "ada", "admin", PASSWORD, None).token,
        "ana": create_user(db.sessions, "ana", "navigator", PASSWORD, "nav-ana").token,
        "cleo": create_user(db.sessions, "cleo", "clinician", PASSWORD, None).token,
    }


def test_post_bundle_applies_the_table_for_integration_accounts_only(
    db: Database, tmp_path: Path, tokens: dict[str, str]
) -> None:
    settings = Settings(
        env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF, fhir_navigators=NAVIGATORS
    )
    with TestClient(create_web_app(settings, db.sessions)) as client:
        for who in ("ana", "cleo"):  # may not register patients, so may not import through FHIR
            answer = client.post(
                "/fhir/Bundle",
                json=with_care_team("high-risk-adjuvant", "1111111111"),
                headers={"Authorization": f"Bearer {tokens[who]}"},
            )
            assert answer.status_code == 403, who
        assert db.count(EventRow) == 0

        # an admin's import stores the record; its CareTeam is left for review
        answer = client.post(
            "/fhir/Bundle",
            json=with_care_team("regorafenib-alt", "1111111111"),
            headers={"Authorization": f"Bearer {tokens['ada']}"},
        )
        assert answer.status_code == 202, answer.text
        assert any(i["source"].startswith("CareTeam/") for i in answer.json()["review"])
        assert navigator(db, "gist-rego-alt") is None

        answer = client.post(
            "/fhir/Bundle",
            json=with_care_team("high-risk-adjuvant", "1111111111"),
            headers={"Authorization": f"Bearer {tokens['ehr']}"},
        )
        assert answer.status_code == 202, answer.text
        assert not any(i["source"].startswith("CareTeam/") for i in answer.json()["review"])
        assert navigator(db, "gist-high-adjuvant") == "nav-ana"

        unmapped = with_care_team("pdgfra-d842v", "5555555555")
        answer = client.post(
            "/fhir/Bundle", json=unmapped, headers={"Authorization": f"Bearer {tokens['ehr']}"}
        )
        assert answer.status_code == 202, answer.text
        [item] = [i for i in answer.json()["review"] if i["source"].startswith("CareTeam/")]
        assert "not in the navigator table" in item["reason"]
        assert navigator(db, "gist-d842v") is None


def test_the_service_refuses_to_start_with_a_bad_table(pipeline: Pipeline, tmp_path: Path) -> None:
    db = pipeline.db
    bad = tmp_path / "nav.json"
    bad.write_text('[{"system": "s", "value": "v"}]')
    settings = Settings(env="test", database_url=db.url, data_dir=tmp_path, fhir_navigators=bad)
    with pytest.raises(
        NavigatorSettingError, match=r"GIST_FHIR_NAVIGATORS: .*nav\.json: \[0\]\.navigator_id"
    ):
        create_web_app(settings, db.sessions)
    for command in (("serve", "--port", "1"), ("run", "--port", "1")):
        refused = pipeline.gistsched(*command, GIST_FHIR_NAVIGATORS=str(bad), timeout=60)
        assert_cli_error(
            refused, f"gistsched {command[0]}", "GIST_FHIR_NAVIGATORS", "nav.json", "not started"
        )
