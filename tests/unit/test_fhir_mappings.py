"""Biopsy results from a GIST Condition, SDHB immunostains and navigators from CareTeams."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from scheduler.fhir import FhirError, ImportResult, import_fhir
from scheduler.fhir.navigators import navigator_table
from scheduler.fhir.terminology import LOCAL, SDHB_IHC, SNOMED

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
PID = "gist-high-adjuvant"
PATIENT = {"reference": f"Patient/{PID}"}
NEGATIVE = {"system": "http://loinc.org", "code": "LA6577-6"}
HISTOLOGY = {"coding": [{"system": SNOMED, "code": "714797009", "display": "Histologic test"}]}
EHR = "urn:oid:2.16.840.1.113883.4.6"  # an EHR's practitioner identifier system (NPI here)
TABLE = navigator_table([
    {"system": EHR, "value": "1111111111", "navigator_id": "nav-ana"},
    {"system": EHR, "value": "2222222222", "navigator_id": "nav-ben"},
])  # fmt: skip
ACCOUNTS = ("nav-ana", "nav-ben")  # the active navigator accounts' ids


def twin() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((FIXTURES / "high-risk-adjuvant.json").read_text())
    return bundle


def condition(bundle: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
    )
    return found


def add(bundle: dict[str, Any], *resources: dict[str, Any]) -> dict[str, Any]:
    for resource in resources:
        bundle["entry"].append(
            {"fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource}
        )
    return bundle


def with_condition(
    status: str, evidence: list[dict[str, Any]] | None, *extra: dict[str, Any]
) -> ImportResult:
    bundle = twin()
    cond = condition(bundle)
    cond["verificationStatus"]["coding"][0]["code"] = status
    if evidence is not None:
        cond["evidence"] = evidence
    return import_fhir(add(bundle, *extra))


def events(result: ImportResult, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.occurred_on.isoformat(), e.data.to_json()) for e in result.events if e.type == kind]


def reasons(result: ImportResult, source: str) -> list[str]:
    return [item.reason for item in result.review if item.source.startswith(source)]


def report(rid: str, day: str) -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final", "subject": PATIENT,
            "code": {"coding": [{"system": "http://loinc.org", "code": "22637-3"}]},
            "effectiveDateTime": day}  # fmt: skip


def biopsy_observation(rid: str, value: str, **components: bool) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": PATIENT,
            "code": {"coding": [{"system": LOCAL, "code": "biopsy-result"}]},
            "effectiveDateTime": "2024-01-10",
            "valueCodeableConcept": {"coding": [{"system": LOCAL, "code": value}]},
            "component": [{"code": {"coding": [{"system": LOCAL, "code": k}]}, "valueBoolean": v}
                          for k, v in components.items()]}  # fmt: skip


# --- biopsy result from the Condition -----------------------------------------------------------


def test_confirmed_with_histologic_evidence_is_a_gist_biopsy_on_the_report_day() -> None:
    evidence = [{"code": [HISTOLOGY], "detail": [{"reference": "DiagnosticReport/bx"}]}]
    result = with_condition("confirmed", evidence, report("bx", "2024-01-12"))
    assert events(result, "biopsy") == [("2024-01-12", {"result": "gist"})]
    assert len(events(result, "diagnosis")) == 1
    assert reasons(result, "Condition/gha-gist") == []


def test_without_a_dated_detail_the_biopsy_takes_the_condition_day() -> None:
    bundle = twin()
    onset = condition(bundle).get("onsetDateTime") or condition(bundle)["recordedDate"]
    result = with_condition("confirmed", [{"code": [HISTOLOGY]}])
    assert events(result, "biopsy") == [(onset[:10], {"result": "gist"})]


@pytest.mark.parametrize(
    "concept",
    [
        pytest.param({"coding": [{"system": SNOMED, "code": "363679005", "display": "Histologic test"}]},
                     id="right-display-wrong-code"),
        pytest.param({"coding": [{"system": "http://loinc.org", "code": "714797009"}]}, id="wrong-system"),
        pytest.param({"text": "histologic test"}, id="text-only"),
    ],
)  # fmt: skip
def test_evidence_is_read_by_code_not_display(concept: dict[str, Any]) -> None:
    result = with_condition("confirmed", [{"code": [concept]}])
    assert events(result, "biopsy") == []
    assert len(events(result, "diagnosis")) == 1


def test_a_code_with_another_display_still_counts() -> None:
    concept = {"coding": [{"system": SNOMED, "code": "714797009", "display": "Ultrasound"}]}
    assert events(with_condition("confirmed", [{"code": [concept]}]), "biopsy")[0][1] == {"result": "gist"}


def test_refuted_with_histologic_evidence_is_not_gist_and_no_diagnosis() -> None:
    result = with_condition("refuted", [{"code": [HISTOLOGY]}])
    assert [data for _, data in events(result, "biopsy")] == [{"result": "not_gist"}]
    assert events(result, "diagnosis") == []
    assert reasons(result, "Condition/gha-gist") == []


def test_refuted_without_histologic_evidence_is_reviewed() -> None:
    result = with_condition("refuted", None)
    assert events(result, "biopsy") == []
    assert events(result, "diagnosis") == []
    assert any("verificationStatus refuted" in r for r in reasons(result, "Condition/gha-gist"))


def test_entered_in_error_is_reviewed_not_read_as_not_gist() -> None:
    result = with_condition("entered-in-error", [{"code": [HISTOLOGY]}])
    assert events(result, "biopsy") == []
    assert events(result, "diagnosis") == []
    assert any("not a not-GIST biopsy result" in r for r in reasons(result, "Condition/gha-gist"))


@pytest.mark.parametrize("status", ["provisional", "differential", "unconfirmed"])
def test_other_statuses_give_no_biopsy_result(status: str) -> None:
    assert events(with_condition(status, [{"code": [HISTOLOGY]}]), "biopsy") == []


@pytest.mark.parametrize(
    ("status", "observed"),
    [("confirmed", "not-gist"), ("refuted", "gist")],
    ids=["gist-vs-not", "not-vs-gist"],
)
def test_condition_and_observation_that_disagree_are_both_reviewed(status: str, observed: str) -> None:
    result = with_condition(status, [{"code": [HISTOLOGY]}], biopsy_observation("bxo", observed))
    assert events(result, "biopsy") == []
    assert any("biopsy results disagree" in r for r in reasons(result, "Condition/gha-gist"))
    assert any("biopsy results disagree" in r for r in reasons(result, "Observation/bxo"))


def test_agreeing_condition_leaves_the_observation_event_with_its_stains() -> None:
    result = with_condition(
        "confirmed", [{"code": [HISTOLOGY]}], biopsy_observation("bxo", "gist", cd117=True)
    )
    assert events(result, "biopsy") == [("2024-01-10", {"result": "gist", "cd117": True})]
    assert any(source.startswith("Condition/gha-gist") and "agrees" in why for source, why in result.not_used)
    assert result.review == []


def test_an_inadequate_biopsy_does_not_disagree_with_a_later_confirmation() -> None:
    result = with_condition("confirmed", [{"code": [HISTOLOGY]}], biopsy_observation("bxo", "inadequate"))
    assert sorted(d["result"] for _, d in events(result, "biopsy")) == ["gist", "inadequate"]


# --- SDHB immunohistochemistry ------------------------------------------------------------------


def sdhb(rid: str, code: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": PATIENT,
            "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]},
            "code": code, "effectiveDateTime": "2024-01-12",
            "valueCodeableConcept": {"coding": [NEGATIVE]}}  # fmt: skip


@pytest.mark.parametrize(
    "code",
    [
        pytest.param({"coding": [{"system": LOCAL, "code": "sdhb-ihc"}]}, id="local-code"),
        pytest.param(
            {
                "coding": [
                    {"system": "http://www.genenames.org/geneId", "code": "HGNC:10681", "display": "KIT"}
                ]
            },
            id="hgnc-sdhb-whatever-the-display",
        ),
        pytest.param(
            {"coding": [{"system": "http://www.genenames.org", "code": "HGNC:10681"}]}, id="mcode-alias"
        ),
    ],
)
def test_sdhb_loss_by_ihc_is_reviewed_never_a_mutation(code: dict[str, Any]) -> None:
    result = import_fhir(add(twin(), sdhb("sdhb", code)))
    assert all(d["gene"] != "SDH" for _, d in events(result, "mutation"))
    found = reasons(result, "Observation/sdhb")
    assert len(found) == 1
    assert "not mapped to mutation SDH" in found[0]
    assert not SDHB_IHC.verified
    assert "not verified" in found[0]


def test_an_sdhb_display_on_another_code_is_not_read_as_sdhb() -> None:
    code = {
        "coding": [{"system": "http://loinc.org", "code": "00000-0", "display": "SDHB IHC"}],
        "text": "SDHB",
    }
    result = import_fhir(add(twin(), sdhb("sdhb", code)))
    assert reasons(result, "Observation/sdhb") == []
    assert any(source.startswith("Observation/sdhb") for source, _ in result.not_used)


# --- navigator from a CareTeam ------------------------------------------------------------------


def practitioner(rid: str, value: str, name: str = "Ana Navigator") -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": rid, "name": [{"text": name}],
            "identifier": [{"system": EHR, "value": value}]}  # fmt: skip


def care_team(
    rid: str, *members: dict[str, Any], status: str = "active", patient: str = PID
) -> dict[str, Any]:
    return {"resourceType": "CareTeam", "id": rid, "status": status,
            "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"member": m} for m in members]}  # fmt: skip


def registration(result: ImportResult) -> dict[str, Any]:
    (found,) = [data for _, data in events(result, "patient_registered")]
    return found


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([practitioner("p1", "1111111111"), care_team("ct", {"reference": "Practitioner/p1"})],
                     id="practitioner-in-bundle"),
        pytest.param([care_team("ct", {"identifier": {"system": EHR, "value": "1111111111"}})],
                     id="identifier-on-reference"),
        pytest.param([practitioner("p1", "1111111111"),
                      {"resourceType": "PractitionerRole", "id": "r1",
                       "practitioner": {"reference": "Practitioner/p1"}},
                      care_team("ct", {"reference": "PractitionerRole/r1"},
                                {"reference": "Practitioner/unknown"})],
                     id="practitioner-role-and-an-unknown-member"),
    ],
)  # fmt: skip
def test_a_care_team_member_in_the_table_sets_the_navigator(extra: list[dict[str, Any]]) -> None:
    result = import_fhir(add(twin(), *extra), navigators=TABLE, accounts=ACCOUNTS)
    assert registration(result)["navigator_id"] == "nav-ana"
    assert reasons(result, "CareTeam/ct") == []


def test_a_navigator_without_an_account_is_reviewed_never_set() -> None:
    members = [practitioner("p1", "1111111111"), care_team("ct", {"reference": "Practitioner/p1"})]
    result = import_fhir(add(twin(), *members), navigators=TABLE, accounts=["nav-ben"])
    assert "navigator_id" not in registration(result)
    assert reasons(result, "CareTeam/ct") == [
        f"CareTeam: the navigator table gives {EHR}|1111111111 the navigator id 'nav-ana', which no "
        "active navigator account has: navigator not set (add the account or correct the table)"
    ]
    without_accounts = import_fhir(add(twin(), *members), navigators=TABLE)
    assert "navigator_id" not in registration(without_accounts)


def test_a_new_version_of_the_practitioner_read_is_a_new_registration() -> None:
    """The registration's id names the practitioners read for the navigator, so a pull that sees
    only a Practitioner changed still applies the navigator it now gives."""
    role = {"resourceType": "PractitionerRole", "id": "r1", "practitioner": {"reference": "Practitioner/p1"}}

    def registration_id(practitioner_version: str, role_version: str) -> str:
        person = {**practitioner("p1", "1111111111"), "meta": {"versionId": practitioner_version}}
        team = care_team("ct", {"reference": "PractitionerRole/r1"})
        found = import_fhir(add(twin(), person, {**role, "meta": {"versionId": role_version}}, team),
                            navigators=TABLE, accounts=ACCOUNTS)  # fmt: skip
        (event_id,) = [e.event_id for e in found.events if e.type == "patient_registered"]
        return event_id

    first = registration_id("1", "1")
    assert registration_id("1", "1") == first
    assert len({first, registration_id("2", "1"), registration_id("1", "2")}) == 3


def test_without_a_table_the_care_team_is_reviewed_and_no_navigator_is_set() -> None:
    result = import_fhir(
        add(twin(), practitioner("p1", "1111111111"), care_team("ct", {"reference": "Practitioner/p1"}))
    )
    assert "navigator_id" not in registration(result)
    assert any("no practitioner-to-navigator table" in r for r in reasons(result, "CareTeam/ct"))


@pytest.mark.parametrize(
    ("members", "needle"),
    [
        pytest.param([{"reference": "Practitioner/p9"}], "not in the navigator table", id="unknown"),
        pytest.param([{"display": "Ana Navigator"}], "not in the navigator table", id="display-only"),
        pytest.param([{"identifier": {"system": "urn:other", "value": "1111111111"}}],
                     "not in the navigator table",
                     id="same-value-other-system"),
        pytest.param([{"reference": "Practitioner/p1"}, {"reference": "Practitioner/p2"}],
                     "more than one navigator",
                     id="two-navigators"),
    ],
)  # fmt: skip
def test_an_unsafe_care_team_is_reviewed_never_defaulted(members: list[dict[str, Any]], needle: str) -> None:
    people = [
        practitioner("p1", "1111111111"),
        practitioner("p2", "2222222222"),
        practitioner("p9", "9999999999"),
    ]
    result = import_fhir(add(twin(), *people, care_team("ct", *members)), navigators=TABLE, accounts=ACCOUNTS)
    assert "navigator_id" not in registration(result)
    assert any(needle in r for r in reasons(result, "CareTeam/ct"))


def test_an_inactive_care_team_is_not_used() -> None:
    team = care_team("ct", {"identifier": {"system": EHR, "value": "1111111111"}}, status="inactive")
    result = import_fhir(add(twin(), team), navigators=TABLE, accounts=ACCOUNTS)
    assert "navigator_id" not in registration(result)
    assert any(source.startswith("CareTeam/ct") for source, _ in result.not_used)


def test_a_care_team_without_its_patient_in_the_import_is_reviewed() -> None:
    team = care_team("ct", {"identifier": {"system": EHR, "value": "1111111111"}}, patient="someone-else")
    result = import_fhir(add(twin(), team), navigators=TABLE, accounts=ACCOUNTS)
    assert any("no Patient resource" in r for r in reasons(result, "CareTeam/ct"))


@pytest.mark.parametrize(
    ("table", "where"),
    [
        pytest.param({"a": "b"}, "navigators", id="not-a-list"),
        pytest.param(["x"], "navigators[0]", id="not-an-object"),
        pytest.param([{"value": "1", "navigator_id": "n"}], "navigators[0].system", id="no-system"),
        pytest.param([{"system": EHR, "value": " ", "navigator_id": "n"}], "navigators[0].value",
                     id="blank-value"),
        pytest.param([{"system": EHR, "value": "1", "navigator_id": "nav ana"}], "navigators[0].navigator_id",
                     id="bad-navigator-id"),
        pytest.param([{"system": EHR, "value": "1", "navigator_id": "n", "role": "x"}], "navigators[0].role",
                     id="unknown-field"),
        pytest.param([{"system": EHR, "value": "1", "navigator_id": "a"},
                      {"system": EHR, "value": "1", "navigator_id": "b"}],
                     "navigators[1].value", id="listed-twice"),
    ],
)  # fmt: skip
def test_a_bad_navigator_table_is_refused_naming_the_field(table: object, where: str) -> None:
    with pytest.raises(FhirError) as caught:
        navigator_table(copy.deepcopy(table))
    assert caught.value.where == where
