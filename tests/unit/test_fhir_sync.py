"""The pure parts of ``fhir pull`` and ``push``: search URLs, searchset pages, record Bundles,
conditional-update transactions and their responses, and the server URL and ``--since`` checks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from scheduler.domain.plan import plan_follow_up
from scheduler.fhir import FhirError, import_fhir, read_sources
from scheduler.fhir.export import export_plan
from scheduler.fhir.sync import (
    CHANGE_BATCH,
    CHANGE_TYPES,
    change_searches,
    changed_patients,
    observation_codes,
    parse_since,
    patient_of,
    patient_reference,
    patient_searches,
    push_transaction,
    read_page,
    read_transaction_response,
    record_bundle,
    record_searches,
    server_patients,
)
from scheduler.patients.fhir_client import FhirClient, FhirServerError, server_base

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"


def export(name: str, as_of: str) -> dict[str, Any]:
    events = import_fhir(json.loads((FIXTURES / f"{name}.json").read_text())).events
    return export_plan(plan_follow_up(events, dt.date.fromisoformat(as_of)).to_json())


def test_change_searches_ask_each_type_once_for_all_patients_of_a_sync_point() -> None:
    urls = change_searches(["P-1", "P.2", "p_3"], dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC), 100)
    assert urls[0] == "Patient?_id=P-1,P.2,p_3&_lastUpdated=ge2026-03-01T08:30:00Z&_count=100"
    assert "Condition?patient=P-1,P.2,p_3&_lastUpdated=ge2026-03-01T08:30:00Z&_count=100" in urls
    # Observations of any code: a margin Observation has none of ours
    assert "Observation?patient=P-1,P.2,p_3&_lastUpdated=ge2026-03-01T08:30:00Z&_count=100" in urls
    assert [url.split("?")[0] for url in urls] == list(CHANGE_TYPES)
    assert "CareTeam" in CHANGE_TYPES
    longest = change_searches(["x" * 64] * CHANGE_BATCH, dt.datetime(2026, 3, 1, tzinfo=dt.UTC), 1000)
    assert max(len(url) for url in longest) < 4000  # well inside common URL limits (8 KiB)


def test_care_teams_are_searched_whole_with_the_practitioners_they_name() -> None:
    """A Practitioner updated alone changes no CareTeam: the team's change search reads every team of
    the patients with its practitioners, and their lastUpdated say who changed."""
    [url] = [u for u in change_searches(["P-1", "P-2"], dt.datetime(2026, 3, 1, tzinfo=dt.UTC), 100)
             if u.startswith("CareTeam?")]  # fmt: skip
    query = parse_qs(urlsplit(url).query)
    assert "_lastUpdated" not in query
    assert query["patient"] == ["P-1,P-2"]
    assert query["_include"] == ["CareTeam:participant"]
    assert query["_include:iterate"] == ["PractitionerRole:practitioner"]


SINCE = dt.datetime(2026, 3, 1, 8, 0, 0, 500_000, tzinfo=dt.UTC)  # compared to the second: 08:00:00Z
OLD, NEW = "2026-02-27T10:00:00.000Z", "2026-03-01T08:00:00.000Z"


def team(patient: str, *members: str, updated: str = OLD) -> dict[str, Any]:
    return {"resourceType": "CareTeam", "id": f"ct-{patient}", "meta": {"lastUpdated": updated},
            "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"member": {"reference": m}} for m in members]}  # fmt: skip


def person(kind: str, rid: str, updated: str | None = OLD, **extra: Any) -> dict[str, Any]:
    meta = {"lastUpdated": updated} if updated is not None else {}
    return {"resourceType": kind, "id": rid, "meta": meta, **extra}


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        pytest.param([team("P-1", "Practitioner/a"), person("Practitioner", "a")], set(), id="nothing-new"),
        pytest.param([team("P-1", updated=NEW)], {"P-1"}, id="team-updated"),
        pytest.param([team("P-1", "Practitioner/a"),
                      person("Practitioner", "a", "2026-03-01T09:00:00+01:00")], {"P-1"},
                     id="updated-in-the-second-of-the-sync-point-with-an-offset"),
        pytest.param([team("P-1", "Practitioner/a"), team("P-2", "Practitioner/b"),
                      person("Practitioner", "a"), person("Practitioner", "b", NEW)], {"P-2"},
                     id="practitioner-updated"),
        pytest.param([team("P-1", "https://ehr/fhir/Practitioner/a/_history/3"),
                      person("Practitioner", "a", "2026-03-01T08:59:59+01:00")], set(),
                     id="absolute-versioned-reference-offset-time-before"),
        pytest.param([team("P-1", "PractitionerRole/r"), person("PractitionerRole", "r", NEW,
                      practitioner={"reference": "Practitioner/a"}), person("Practitioner", "a")], {"P-1"},
                     id="role-updated"),
        pytest.param([team("P-1", "PractitionerRole/r"), person("PractitionerRole", "r",
                      practitioner={"reference": "Practitioner/a"}), person("Practitioner", "a", NEW)],
                     {"P-1"}, id="practitioner-of-a-role-updated"),
        pytest.param([team("P-1", "Practitioner/a"), person("Practitioner", "a", None)], {"P-1"},
                     id="no-lastUpdated-counts-as-updated"),
        pytest.param([team("P-1", "Practitioner/gone", "Patient/P-1", "Organization/o"),
                      person("Organization", "o", NEW)], set(), id="not-returned-or-not-a-practitioner"),
        pytest.param([{**team("P-1"), "subject": {"reference": "Group/g"}, "meta": {"lastUpdated": NEW}}],
                     {"P-1", "P-2"}, id="patient-cannot-be-told"),
    ],
)  # fmt: skip
def test_a_care_team_changed_when_it_or_a_practitioner_it_names_was_updated(
    found: list[dict[str, Any]], expected: set[str]
) -> None:
    assert changed_patients("CareTeam", found, ["P-1", "P-2"], SINCE) == expected


def test_other_types_change_their_patient_or_every_patient_asked() -> None:
    found = [{"resourceType": "Observation", "subject": {"reference": "Patient/P-2"}}]
    assert changed_patients("Observation", found, ["P-1", "P-2"], SINCE) == {"P-2"}
    assert changed_patients("Observation", [{"resourceType": "Observation"}], ["P-1", "P-2"], SINCE) == {
        "P-1",
        "P-2",
    }
    assert changed_patients("Condition", [], ["P-1"], SINCE) == set()


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        pytest.param({"resourceType": "Patient", "id": "P-1"}, "P-1", id="patient"),
        pytest.param({"resourceType": "Observation", "subject": {"reference": "Patient/P-1"}}, "P-1",
                     id="relative"),
        pytest.param({"resourceType": "Condition", "subject": {"reference": "https://ehr/fhir/Patient/P-1"}},
                     "P-1", id="absolute"),
        pytest.param({"resourceType": "Observation", "subject": {"reference": "Patient/P-1/_history/3"}},
                     "P-1", id="versioned"),
        pytest.param({"resourceType": "EpisodeOfCare", "patient": {"reference": "Patient/P-1"}}, "P-1",
                     id="episode"),
        pytest.param({"resourceType": "Observation", "subject": {"reference": "Group/g1"}}, None, id="group"),
        pytest.param({"resourceType": "Observation", "subject": {"display": "Ann"}}, None, id="display-only"),
        pytest.param({"resourceType": "Observation"}, None, id="no-subject"),
    ],
)  # fmt: skip
def test_a_changed_resource_is_attributed_to_its_patient(
    resource: dict[str, Any], expected: str | None
) -> None:
    assert patient_of(resource) == expected


def test_record_searches_read_observations_by_our_codes_and_what_reports_point_at() -> None:
    urls = {url.split("?")[0]: parse_qs(urlsplit(url).query) for url in record_searches("P-1", 50)}
    assert urls["Observation"]["code"] == [observation_codes()]
    assert "http://loinc.org|1742-6" in observation_codes().split(",")
    assert urls["DiagnosticReport"]["_include"] == ["DiagnosticReport:result", "DiagnosticReport:specimen"]
    assert urls["Procedure"]["_revinclude"] == ["Observation:part-of"]
    assert urls["CareTeam"]["_include"] == ["CareTeam:participant"]  # Practitioner, PractitionerRole
    assert urls["CareTeam"]["_include:iterate"] == ["PractitionerRole:practitioner"]
    assert all(query["_count"] == ["50"] for query in urls.values())


def page(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": list(entries), **extra}


def test_a_searchset_page_gives_its_resources_and_next_link() -> None:
    obs = {
        "resource": {"resourceType": "Observation", "id": "o1"},
        "fullUrl": "https://ehr/fhir/Observation/o1",
    }
    warning = {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}}
    read = read_page(page(obs, warning, link=[{"relation": "next", "url": "https://ehr/fhir/Observation?p=2"}],
                          total=3), "GET x")  # fmt: skip
    assert read.entries == [(obs["resource"], "https://ehr/fhir/Observation/o1")]
    assert (read.total, read.next_url) == (3, "https://ehr/fhir/Observation?p=2")


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        pytest.param([], "not a JSON object", id="a-list"),
        pytest.param({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "too costly"}]},
                     "OperationOutcome: too costly", id="outcome"),
        pytest.param({"resourceType": "Bundle", "type": "collection"}, "expected a searchset Bundle",
                     id="collection"),
        pytest.param({"resourceType": "Patient"}, "expected a searchset Bundle, got 'Patient'", id="patient"),
        pytest.param(page({"fullUrl": "x"}), "entry[0]: has no resource", id="no-resource"),
        pytest.param(page({"resource": {"resourceType": "Observation"}}), "without an id", id="no-id"),
    ],
)  # fmt: skip
def test_anything_but_a_searchset_is_refused_naming_the_request(answer: object, needle: str) -> None:
    with pytest.raises(FhirError) as raised:
        read_page(answer, "GET https://ehr/fhir/Observation?patient=P-1")
    assert needle in str(raised.value)
    assert "GET https://ehr/fhir/Observation?patient=P-1" in str(raised.value)


def test_a_record_bundle_keeps_each_resource_once_in_its_latest_version() -> None:
    old = {"resourceType": "Observation", "id": "o1", "meta": {"lastUpdated": "2026-03-01T08:00:00Z"}}
    newer = {**old, "meta": {"lastUpdated": "2026-03-02T08:00:00Z"}}
    condition = {"resourceType": "Condition", "id": "c1"}
    bundle = record_bundle(
        "https://ehr/fhir", [(old, None), (condition, None), (newer, "https://ehr/fhir/Observation/o1")]
    )
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        "https://ehr/fhir/Observation/o1",
        "https://ehr/fhir/Condition/c1",
    ]
    assert bundle["entry"][0]["resource"]["meta"] == newer["meta"]


def test_push_is_a_transaction_of_conditional_updates_without_ids() -> None:
    exported = export("regorafenib-alt", "2026-03-12")
    transaction = push_transaction(
        exported, "gist-rego-alt", resolved_alerts=["hepatotoxicity", "kit_exon9_dose"]
    )
    read_sources(transaction)  # valid R4 (R4B models) as sent
    entries = transaction["entry"]
    assert all("id" not in e["resource"] for e in entries)
    assert all(e["request"]["method"] == "PUT" for e in entries)
    urls = [e["request"]["url"] for e in entries]
    assert len(set(urls)) == len(urls)  # one resource per identifier
    task = next(e for e in entries if e["resource"]["resourceType"] == "Task")
    key = task["resource"]["identifier"][0]["value"]
    assert key.startswith("gist-rego-alt:")  # unique across patients, whose reminder keys can be equal
    assert task["request"]["url"] == (
        f"Task?identifier=https://gist-scheduler.example.org/fhir/reminder-key|{key}"
    )
    assert task["resource"]["focus"]["reference"].startswith("urn:uuid:")  # resolved by the server
    issues = {e["resource"]["identifier"][0]["value"]: e["resource"]["status"] for e in entries
              if e["resource"]["resourceType"] == "DetectedIssue"}  # fmt: skip
    assert issues["gist-rego-alt:hepatotoxicity"] == "final"  # still active: not cancelled
    assert issues["gist-rego-alt:kit_exon9_dose"] == "cancelled"
    assert push_transaction(exported, "gist-rego-alt") == push_transaction(exported, "gist-rego-alt")


def test_push_names_the_servers_patient() -> None:
    exported = export("regorafenib-alt", "2026-03-12")
    system = "https://clinic.example.org/fhir/gist-patient-id"
    patient = patient_reference("gist-rego-alt", "srv-7", system)
    text = json.dumps(push_transaction(exported, "gist-rego-alt", ["kit_exon9_dose"], patient))
    assert "Patient/gist-rego-alt" not in text
    transaction = json.loads(text)
    read_sources(transaction)
    subjects = [e["resource"].get("subject") or e["resource"].get("for") or e["resource"].get("patient")
                for e in transaction["entry"]]  # fmt: skip
    assert subjects
    assert all(s == patient for s in subjects)
    assert patient == {
        "reference": "Patient/srv-7",
        "identifier": {"system": system, "value": "gist-rego-alt"},
    }
    assert patient_reference("P-1", "P-1", None) == {"reference": "Patient/P-1"}


def test_the_servers_patients_are_found_by_id_or_by_our_identifier() -> None:
    system = "https://clinic.example.org/fhir/gist-patient-id"
    ids = [f"P-{n}" for n in range(CHANGE_BATCH + 1)]
    by_id = patient_searches(ids, None, 100)
    assert len(by_id) == 2  # batches of CHANGE_BATCH
    assert by_id[1] == f"Patient?_id=P-{CHANGE_BATCH}&_count=100"
    [by_identifier] = patient_searches(["P-1", "P-2"], system, 10)
    assert by_identifier == f"Patient?identifier={system}|P-1,{system}|P-2&_count=10"
    found = [
        {"resourceType": "Patient", "id": "P-1"},
        {"resourceType": "Patient", "id": "s-1", "identifier": [{"system": system, "value": "P-1"}]},
        {"resourceType": "Patient", "id": "s-2", "identifier": [{"system": system, "value": "P-1"},
                                                               {"system": "urn:other", "value": "P-2"}]},
    ]  # fmt: skip
    assert server_patients(found, ["P-1", "P-2"], None) == {"P-1": ["P-1"], "P-2": []}
    assert server_patients(found, ["P-1", "P-2"], system) == {"P-1": ["s-1", "s-2"], "P-2": []}


def response(*statuses: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction-response",
            "entry": [{"response": {"status": s}} for s in statuses]}  # fmt: skip


def test_a_transaction_response_counts_creates_and_updates_and_refuses_a_failure() -> None:
    assert read_transaction_response(response("201 Created", "200 OK", "200"), 3) == (1, 2)
    with pytest.raises(FhirError, match=r"entry\[1\]: status 412"):
        read_transaction_response(response("200", "412"), 2)
    with pytest.raises(FhirError, match="2 entries for 3 sent"):
        read_transaction_response(response("200", "200"), 3)
    with pytest.raises(FhirError, match="refused: busy"):
        read_transaction_response({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "busy"}]}, 1)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://ehr.example.org/fhir/r4/", "https://ehr.example.org/fhir/r4"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080/fhir", "http://localhost:8080/fhir"),
        ("http://[::1]:8080/fhir", "http://[::1]:8080/fhir"),
    ],
)
def test_server_base_accepts_https_and_loopback_http(url: str, base: str) -> None:
    assert server_base(url) == base


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://ehr.example.org/fhir", "use https://"),
        ("ftp://ehr.example.org/fhir", "not an http\\(s\\) URL"),
        ("https://user:pw@ehr.example.org/fhir", "base URL only"),
        ("https://ehr.example.org/fhir?x=1", "base URL only"),
        ("ehr.example.org/fhir", "not an http\\(s\\) URL"),
    ],
)
def test_server_base_refuses_what_would_leak_or_mislead(url: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        server_base(url)


def test_links_off_the_server_are_not_followed() -> None:
    client = FhirClient("https://ehr.example.org/fhir", "token-123", 5)
    assert client.url("Observation?code=http://loinc.org|1742-6") == (
        "https://ehr.example.org/fhir/Observation?code=http://loinc.org|1742-6"
    )
    assert client.url("https://ehr.example.org/fhir/Observation?page=2").endswith("page=2")
    for elsewhere in (
        "https://evil.example.org/fhir/Observation",
        "https://ehr.example.org/fhirx/Observation",
    ):
        with pytest.raises(FhirServerError, match="not followed"):
            client.url(elsewhere)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-03-01", dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
        ("2026-03-01T08:30:00Z", dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)),
        ("2026-03-01T10:30:00+02:00", dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)),
    ],
)
def test_since_is_a_date_or_a_date_time_with_offset(text: str, moment: dt.datetime) -> None:
    assert parse_since(text) == moment


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-03-01T08:30", "2026-03-01T08:30:00", "2026-13-01", "2026-03-01T25:00:00Z"]
)
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_since(text)
