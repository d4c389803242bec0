"""``gistsched fhir pull`` and ``push`` against a real FHIR server (Medplum's engine, started on
127.0.0.1 by :mod:`tests.fhir_server`), on SQLite and PostgreSQL: records read page by page into
the same plans as the event files, incremental pulls, nothing stored after a bad answer, and a
second push updating the same server resources in place."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from models.rows import EventRow, FhirReviewRow, FhirSyncPointRow, PatientRow
from scheduler.domain.events import parse_event, read_jsonl
from scheduler.domain.plan import plan_follow_up
from scheduler.fhir.sync import CHANGE_BATCH, CHANGE_TYPES
from scheduler.patients.processing import process_patient
from scheduler.patients.stored import stored_plan
from scheduler.staff.users import create_user
from tasks.pending import PREFIX as PENDING_PREFIX
from tests.fhir_server import FhirServer, running
from tests.support.common import assert_cli_error
from tests.support.services import Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir"
TOKEN = "test-token-0123456789"
TWINS = {"high-risk-adjuvant": "gist-high-adjuvant", "regorafenib-alt": "gist-rego-alt"}
NPI = "http://hl7.org/fhir/sid/us-npi"


@pytest.fixture
def server() -> Iterator[FhirServer]:
    with running(TOKEN) as started:
        yield started


def call(server: FhirServer, method: str, path: str, body: Any = None, **headers: str) -> Any:
    request = urllib.request.Request(
        f"{server.base_url}/{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {server.token}",
            "Content-Type": "application/fhir+json",
            **headers,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def seed(server: FhirServer, name: str) -> None:
    """A twin Bundle's resources on the server under their own ids (as an EHR holds them)."""
    bundle = json.loads((FIXTURES / f"{name}.json").read_text())
    entries = []
    for entry in bundle["entry"]:
        resource = {k: v for k, v in entry["resource"].items() if k != "meta"}
        entries.append(
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
        )
    call(server, "POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})


def enroll(pipeline: Pipeline, tmp_path: Path, *patient_ids: str) -> None:
    lines = [
        json.dumps({"event_id": f"reg-{pid}", "patient_id": pid, "type": "patient_registered",
                    "occurred_on": "2024-01-10", "data": {"email": f"{pid}@example.org"}})
        for pid in patient_ids
    ]  # fmt: skip
    path = tmp_path / "enrol.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = pipeline.gistsched("submit", str(path))
    assert done.returncode == 0, done.stderr


def pull(pipeline: Pipeline, server: FhirServer, *args: str, **env: str) -> Any:
    done = pipeline.gistsched(
        "fhir", "pull", "--server", server.base_url, *args, GIST_FHIR_TOKEN=server.token, **env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def stored_events(pipeline: Pipeline, patient_id: str) -> list[Any]:
    with pipeline.db.sessions() as session:
        rows = session.query(EventRow).filter(EventRow.patient_id == patient_id).all()
        return [parse_event(row.payload) for row in rows]


def comparable_plan(events: list[Any], as_of: dt.date) -> dict[str, Any]:
    """The plan's JSON with each ``completed_by`` event id replaced by that event's (type, day)."""
    by_id = {e.event_id: f"{e.type}@{e.occurred_on}" for e in events}
    plan = plan_follow_up([e for e in events if e.type != "patient_registered"], as_of).to_json()
    for reminder in plan["reminders"]:
        if reminder["completed_by"]:
            reminder["completed_by"] = by_id[reminder["completed_by"]]
    return plan


def test_pull_reads_enrolled_records_page_by_page_into_the_event_files_plans(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    for name in (*TWINS, "pdgfra-d842v"):
        seed(server, name)
    enroll(pipeline, tmp_path, *TWINS.values())  # gist-d842v is on the server but not enrolled here

    # A worker has taken the enrolment messages: its tasks clear the patients' "a message waits"
    # marks before they read, so the pull's events need messages of their own. (While a mark
    # lives, intake queues nothing more: tests/integration/test_coalescing.py.)
    with pipeline.redis.client() as client:
        client.delete(*(PENDING_PREFIX + patient_id for patient_id in TWINS.values()))
    queued = pipeline.queued()
    first = pull(pipeline, server, "--page-size", "2")
    assert pipeline.queued() == queued + 1  # both patients in one patients.process_batch, as submit queues
    assert (first["patients"], first["read"], first["rejected"], first["needs_review"]) == (2, 2, 0, 0)
    assert first["resources"] == 18  # both records, each resource once
    assert first["requests"] > 2 * 12  # searches of more than two results went on through next links
    assert first["accepted"] == 11
    assert stored_events(pipeline, "gist-d842v") == []
    for name, patient_id in TWINS.items():
        twin = read_jsonl((FIXTURES / f"{name}.jsonl").read_text().splitlines()).events
        as_of = dt.date(2026, 3, 12)
        assert comparable_plan(stored_events(pipeline, patient_id), as_of) == comparable_plan(twin, as_of)
    assert pipeline.db.count(FhirSyncPointRow, FhirSyncPointRow.server == server.base_url) == 2


def test_pull_is_incremental_from_each_patients_sync_point_or_since(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    for name in TWINS:
        seed(server, name)
    enroll(pipeline, tmp_path, *TWINS.values())
    no_overlap = {"GIST_FHIR_SYNC_OVERLAP_SECONDS": "0"}
    time.sleep(1.1)  # the sync point is the server's Date header, to the second
    assert pull(pipeline, server, **no_overlap)["read"] == 2
    time.sleep(1.1)
    quiet = pull(pipeline, server, **no_overlap)
    assert (quiet["read"], quiet["accepted"], quiet["duplicates"]) == (0, 0, 0)
    # one _lastUpdated search per resource type for both patients (patient=a,b), not one per patient
    assert quiet["requests"] == len(CHANGE_TYPES)

    alt = call(server, "GET", "Observation/gra-alt-1")
    alt["valueQuantity"]["value"] = 95  # a corrected result: a new version of the same resource
    call(server, "PUT", "Observation/gra-alt-1", alt)
    changed = pull(pipeline, server, **no_overlap)
    assert (changed["read"], changed["accepted"]) == (1, 1)  # only the rego patient's record is read
    assert changed["duplicates"] == 4  # the record's other events, read again
    values = [
        e.data.to_json()["value"] for e in stored_events(pipeline, "gist-rego-alt") if e.type == "lab_result"
    ]
    assert 95 in values

    assert pull(pipeline, server, "--since", "2020-01-01")["read"] == 2
    assert pull(pipeline, server, "--since", "2999-01-01")["read"] == 0


def test_an_unchanged_patient_costs_a_fraction_of_a_request(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    """Change detection asks each resource type once for up to CHANGE_BATCH patients that share a
    sync point, instead of one search per type and patient (12 per patient)."""
    for name in TWINS:
        seed(server, name)
    quiet_ones = [f"gist-quiet-{n:02d}" for n in range(58)]  # enrolled, nothing on the server
    enroll(pipeline, tmp_path, *TWINS.values(), *quiet_ones)
    patients = len(TWINS) + len(quiet_ones)  # 60: two batches of change searches
    no_overlap = {"GIST_FHIR_SYNC_OVERLAP_SECONDS": "0"}
    time.sleep(1.1)
    first = pull(pipeline, server, **no_overlap)
    assert (first["patients"], first["read"]) == (patients, patients)  # never read: read whole
    time.sleep(1.1)
    quiet = pull(pipeline, server, **no_overlap)
    assert (quiet["read"], quiet["accepted"]) == (0, 0)
    batches = -(-patients // CHANGE_BATCH)
    assert quiet["requests"] == batches * len(CHANGE_TYPES)  # 26 requests for 60 patients
    assert quiet["requests"] / patients < 0.5  # per unchanged patient (12 if asked one by one)

    alt = call(server, "GET", "Observation/gra-alt-1")
    alt["valueQuantity"]["value"] = 96
    call(server, "PUT", "Observation/gra-alt-1", alt)
    changed = pull(pipeline, server, **no_overlap)
    assert (changed["read"], changed["accepted"]) == (1, 1)
    record = len(CHANGE_TYPES)  # the changed record: one search per type (each one page)
    assert changed["requests"] == batches * len(CHANGE_TYPES) + record


def put(server: FhirServer, *resources: dict[str, Any]) -> None:
    for resource in resources:
        call(server, "PUT", f"{resource['resourceType']}/{resource['id']}", resource)


def care_team(patient_id: str, member: str) -> dict[str, Any]:
    return {"resourceType": "CareTeam", "id": f"ct-{patient_id}", "status": "active",
            "subject": {"reference": f"Patient/{patient_id}"},
            "participant": [{"member": {"reference": member}}]}  # fmt: skip


def practitioner(rid: str, system: str, value: str) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": rid, "identifier": [{"system": system, "value": value}]}


def navigator_accounts(pipeline: Pipeline) -> None:
    """The navigator accounts of tests/fixtures/fhir/navigators.json (a table's navigator id is
    set only when an active navigator account has it)."""
    for name in ("ana", "ben"):
        create_user(pipeline.db.sessions, name, "navigator", "correct horse battery", f"nav-{name}")


def navigator_and_email(pipeline: Pipeline, patient_id: str) -> tuple[str | None, str | None]:
    process_patient(pipeline.db.sessions, patient_id, dt.datetime.now(dt.UTC).date())
    with pipeline.db.sessions() as session:
        row = session.get(PatientRow, patient_id)
        assert row is not None
        return row.navigator_id, row.email


def test_pull_sets_the_navigator_a_care_team_names_through_the_table(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    npi = NPI
    for name in TWINS:
        seed(server, name)
    put(
        server,
        practitioner("pr-ana", npi, "1111111111"),
        {
            "resourceType": "PractitionerRole",
            "id": "role-ana",
            "practitioner": {"reference": "Practitioner/pr-ana"},
        },
        care_team("gist-high-adjuvant", "PractitionerRole/role-ana"),  # Practitioner read via its role
        practitioner("pr-other", npi, "5555555555"),
        care_team("gist-rego-alt", "Practitioner/pr-other"),  # not in the table
    )
    enroll(pipeline, tmp_path, *TWINS.values())
    navigator_accounts(pipeline)
    table = {"GIST_FHIR_NAVIGATORS": str(FIXTURES / "navigators.json"), "GIST_FHIR_SYNC_OVERLAP_SECONDS": "0"}

    without = pipeline.gistsched("fhir", "pull", "--server", server.base_url, "--since", "2020-01-01",
                                 GIST_FHIR_TOKEN=TOKEN)  # fmt: skip
    assert without.returncode == 0, without.stderr
    assert "no practitioner-to-navigator table" in without.stderr
    assert navigator_and_email(pipeline, "gist-high-adjuvant") == (None, "gist-high-adjuvant@example.org")

    time.sleep(1.1)
    first = pull(pipeline, server, "--since", "2020-01-01", **table)
    assert first["accepted"] == 1  # the one registration: the rest was read before
    with pipeline.db.sessions() as session:
        reviewed = [
            r.reason for r in session.query(FhirReviewRow) if r.source.startswith("CareTeam/ct-gist-rego")
        ]
    assert any("not in the navigator table" in reason for reason in reviewed)
    # the navigator changes; the contact details stay those of the patient's registration
    assert navigator_and_email(pipeline, "gist-high-adjuvant") == (
        "nav-ana",
        "gist-high-adjuvant@example.org",
    )
    assert navigator_and_email(pipeline, "gist-rego-alt") == (None, "gist-rego-alt@example.org")

    again = pull(pipeline, server, "--since", "2020-01-01", **table)
    assert (again["accepted"], again["rejected"]) == (0, 0)  # the same care team is applied once

    put(
        server,
        practitioner("pr-ben", "urn:ehr:staff", "42"),
        care_team("gist-high-adjuvant", "Practitioner/pr-ben"),
    )
    time.sleep(1.1)
    moved = pull(pipeline, server, **table)
    assert (moved["read"], moved["accepted"]) == (1, 1)
    assert navigator_and_email(pipeline, "gist-high-adjuvant") == (
        "nav-ben",
        "gist-high-adjuvant@example.org",
    )

    refused = pipeline.gistsched("fhir", "pull", "--server", server.base_url, "--navigators", str(tmp_path),
                                 GIST_FHIR_TOKEN=TOKEN)  # fmt: skip
    assert_cli_error(refused, "--navigators", "a navigator table is a .json or .csv file")


def test_a_practitioner_changed_alone_is_seen_by_the_incremental_pull(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    """The CareTeams stay as they were while the Practitioner or PractitionerRole they name
    changes: the CareTeam change search reads the teams with their practitioners, so the patient
    is read again and the navigator follows, at no extra request when nothing changed."""
    for name in TWINS:
        seed(server, name)
    ana = {"reference": "Practitioner/pr-ana"}
    role = {"resourceType": "PractitionerRole", "id": "role-1", "practitioner": ana}
    put(
        server,
        practitioner("pr-ana", NPI, "1111111111"),
        role,
        care_team("gist-high-adjuvant", "PractitionerRole/role-1"),
        practitioner("pr-other", NPI, "5555555555"),  # not in the table
        care_team("gist-rego-alt", "Practitioner/pr-other"),
    )
    enroll(pipeline, tmp_path, *TWINS.values())
    navigator_accounts(pipeline)
    table = {"GIST_FHIR_NAVIGATORS": str(FIXTURES / "navigators.json"), "GIST_FHIR_SYNC_OVERLAP_SECONDS": "0"}
    high, rego = TWINS.values()

    def pulled_after_a_second() -> tuple[int, int, int]:
        time.sleep(1.1)  # the sync point is the server's Date header, to the second
        done = pull(pipeline, server, **table)
        return done["read"], done["accepted"], done["requests"]

    assert pulled_after_a_second()[0] == 2
    assert navigator_and_email(pipeline, high)[0] == "nav-ana"
    assert navigator_and_email(pipeline, rego)[0] is None
    assert pulled_after_a_second() == (0, 0, len(CHANGE_TYPES))  # the teams come whole in one search

    # the EHR adds Ben's staff number to the practitioner the rego patient's team names
    staff = [{"system": NPI, "value": "5555555555"}, {"system": "urn:ehr:staff", "value": "42"}]
    put(server, {**practitioner("pr-other", NPI, "5555555555"), "identifier": staff})
    assert pulled_after_a_second()[:2] == (1, 1)  # only that patient is read, and moved
    assert navigator_and_email(pipeline, rego) == ("nav-ben", f"{rego}@example.org")

    put(server, practitioner("pr-ben", "urn:ehr:staff", "42"))  # named by no team: nobody changed
    assert pulled_after_a_second()[:2] == (0, 0)
    put(server, {**role, "practitioner": {"reference": "Practitioner/pr-ben"}})  # the role moves to Ben
    assert pulled_after_a_second()[:2] == (1, 1)
    assert navigator_and_email(pipeline, high) == ("nav-ben", f"{high}@example.org")

    put(server, practitioner("pr-ben", NPI, "1111111111"))  # the role's practitioner, read via the role
    assert pulled_after_a_second()[:2] == (1, 1)
    assert navigator_and_email(pipeline, high)[0] == "nav-ana"
    assert navigator_and_email(pipeline, rego)[0] == "nav-ben"


def test_a_bad_answer_stores_nothing_and_keeps_the_sync_points(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    for name in TWINS:
        seed(server, name)
    enroll(pipeline, tmp_path, *TWINS.values())
    before = pipeline.db.count(EventRow)

    wrong = pipeline.gistsched("fhir", "pull", "--server", server.base_url, GIST_FHIR_TOKEN="not-the-token")
    assert_cli_error(wrong, "HTTP 401", "a valid bearer token is required", "nothing was stored")
    assert "not-the-token" not in wrong.stderr

    bad = {"resourceType": "Observation", "id": "bad-1", "status": "final", "valueQuantiti": {"value": 1},
           "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
           "subject": {"reference": "Patient/gist-rego-alt"}}  # fmt: skip
    call(server, "PUT", "Observation/bad-1", bad, **{"X-Test-Unvalidated": "1"})
    refused = pipeline.gistsched("fhir", "pull", "--server", server.base_url, GIST_FHIR_TOKEN=TOKEN)
    assert_cli_error(refused, "patient gist-rego-alt", "Observation/bad-1: valueQuantiti: unknown element")
    assert pipeline.db.count(EventRow) == before  # not even the other patient's record
    assert pipeline.db.count(FhirReviewRow) == 0
    assert pipeline.db.count(FhirSyncPointRow) == 0

    with failing_pages(server) as proxy:
        broken = pipeline.gistsched(
            "fhir", "pull", "--server", proxy, "--page-size", "2", GIST_FHIR_TOKEN=TOKEN
        )
    assert_cli_error(broken, "HTTP 502", "_offset=2", "nothing was stored")
    assert pipeline.db.count(EventRow) == before

    nowhere = pipeline.gistsched("fhir", "pull", "--server", "http://127.0.0.1:9", GIST_FHIR_TOKEN=TOKEN)
    assert_cli_error(nowhere, "cannot reach the server")
    insecure = pipeline.gistsched("fhir", "pull", "--server", "http://ehr.example.org/fhir")
    assert_cli_error(insecure, "--server", "use https://")
    assert_cli_error(
        pipeline.gistsched("fhir", "pull", "--server", server.base_url, "--since", "yesterday"), "--since"
    )
    bad_token = pipeline.gistsched(
        "fhir", "pull", "--server", server.base_url, GIST_FHIR_TOKEN="has space in it"
    )
    assert_cli_error(bad_token, "GIST_FHIR_TOKEN")


class _FailingPages(http.server.BaseHTTPRequestHandler):
    """Forwards to the FHIR server, except that every page after the first answers 502 (HTML)."""

    upstream = ""

    def do_GET(self) -> None:
        if "_offset=" in self.path:
            self._answer(502, b"<html>Bad Gateway</html>", "text/html")
            return
        headers = {"Authorization": self.headers.get("Authorization", ""), "Host": self.headers["Host"]}
        request = urllib.request.Request(self.upstream + self.path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                self._answer(answer.status, answer.read(), "application/fhir+json")
        except urllib.error.HTTPError as exc:
            self._answer(exc.code, exc.read(), "application/fhir+json")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class failing_pages:  # noqa: N801 - used as a context manager, like contextlib's
    def __init__(self, server: FhirServer) -> None:
        handler = type("Handler", (_FailingPages,), {"upstream": server.base_url})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _imported(pipeline: Pipeline, tmp_path: Path, bundles: dict[str, dict[str, Any]]) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir(exist_ok=True)
    for name, bundle in bundles.items():
        (folder / f"{name}.json").write_text(json.dumps(bundle))
    done = pipeline.gistsched("fhir", "import", str(folder))
    assert done.returncode == 0, done.stderr


def server_resources(server: FhirServer, kind: str, query: str = "") -> list[dict[str, Any]]:
    found = call(server, "GET", f"{kind}?_count=1000{query}")
    return [e["resource"] for e in found.get("entry", [])]


def test_a_second_push_updates_the_same_resources_in_place(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    high = json.loads((FIXTURES / "high-risk-adjuvant.json").read_text())
    twin = json.loads(json.dumps(high).replace("gist-high-adjuvant", "gist-high-2").replace('"gha-', '"gh2-')
                      .replace("/gha-", "/gh2-"))  # fmt: skip
    rego = json.loads((FIXTURES / "regorafenib-alt.json").read_text())
    _imported(pipeline, tmp_path, {"high": high, "twin": twin, "rego": rego})
    as_of = dt.date(2026, 3, 12)
    for patient_id in ("gist-high-adjuvant", "gist-high-2", "gist-rego-alt"):
        process_patient(pipeline.db.sessions, patient_id, as_of)

    push = ("fhir", "push", "--server", server.base_url)
    absent = pipeline.gistsched(*push, GIST_FHIR_TOKEN=TOKEN)
    assert_cli_error(absent, "no Patient/<patient id>", "gist-high-2", "GIST_FHIR_PATIENT_SYSTEM")
    assert server_resources(server, "CarePlan") == []  # nothing written
    put(server, *({"resourceType": "Patient", "id": pid} for pid in ("gist-high-adjuvant", "gist-high-2")))
    partly = pipeline.gistsched(*push, GIST_FHIR_TOKEN=TOKEN)
    assert_cli_error(partly, "for gist-rego-alt;", "nothing was written")
    assert server_resources(server, "CarePlan") == []
    put(server, {"resourceType": "Patient", "id": "gist-rego-alt"})  # our ids are the server's

    first = pipeline.gistsched(*push, GIST_FHIR_TOKEN=TOKEN)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert (created["patients"], created["updated"]) == (3, 0)
    with pipeline.db.sessions() as session:
        plans = [stored_plan(session, pid) for pid in ("gist-high-adjuvant", "gist-high-2", "gist-rego-alt")]
    reminders = sum(len(plan["reminders"]) for plan in plans if plan)
    alerts = sum(len(plan["alerts"]) for plan in plans if plan)
    counts = {
        kind: len(server_resources(server, kind)) for kind in ("CarePlan", "DetectedIssue", "Observation")
    }
    assert counts == {
        "CarePlan": 3,
        "DetectedIssue": alerts,
        "Observation": 2,
    }  # rego: no risk tier (advanced)
    assert created["created"] == 2 * reminders + sum(counts.values())  # a ServiceRequest and a Task each
    tasks = {t["identifier"][0]["value"]: (t["id"], t["status"]) for t in server_resources(server, "Task")}
    assert len(tasks) == len(server_resources(server, "ServiceRequest")) == reminders
    # the two twins share every reminder key, and still have their own Tasks
    high_keys = {k.split(":", 1)[1] for k in tasks if k.startswith("gist-high-adjuvant:")}
    assert high_keys
    assert high_keys == {k.split(":", 1)[1] for k in tasks if k.startswith("gist-high-2:")}

    second = pipeline.gistsched(*push, GIST_FHIR_TOKEN=TOKEN)
    assert json.loads(second.stdout) == {**created, "created": 0, "updated": created["created"]}
    assert {
        t["identifier"][0]["value"]: (t["id"], t["status"]) for t in server_resources(server, "Task")
    } == tasks
    [care_plan] = server_resources(
        server, "CarePlan", "&identifier=https://gist-scheduler.example.org/fhir/careplan|gist-rego-alt"
    )
    assert all(a["reference"]["reference"].startswith("Task/") for a in care_plan["activity"])

    # regorafenib stopped and the ALT back to normal: the hepatotoxicity alert resolves, and the
    # next push marks its DetectedIssue cancelled (the same server resource)
    recovered = [
        {"event_id": "rego-stop", "patient_id": "gist-rego-alt", "type": "therapy_stopped",
         "occurred_on": "2026-03-12", "data": {"drug": "regorafenib", "reason": "toxicity"}},
        {"event_id": "rego-alt-ok", "patient_id": "gist-rego-alt", "type": "lab_result",
         "occurred_on": "2026-03-12", "data": {"test": "alt", "value": 30, "uln": 40}},
    ]  # fmt: skip
    (tmp_path / "recovered.jsonl").write_text("".join(json.dumps(e) + "\n" for e in recovered))
    assert pipeline.gistsched("submit", str(tmp_path / "recovered.jsonl")).returncode == 0
    before = {i["identifier"][0]["value"]: i["id"] for i in server_resources(server, "DetectedIssue")}
    process_patient(pipeline.db.sessions, "gist-rego-alt", as_of)
    third = pipeline.gistsched(*push, "gist-rego-alt", GIST_FHIR_TOKEN=TOKEN)
    assert third.returncode == 0, third.stderr
    issues = {
        i["identifier"][0]["value"]: (i["id"], i["status"]) for i in server_resources(server, "DetectedIssue")
    }
    assert issues["gist-rego-alt:hepatotoxicity"] == (before["gist-rego-alt:hepatotoxicity"], "cancelled")
    assert (
        before.items() <= {value: ident for value, (ident, _) in issues.items()}.items()
    )  # updated in place

    assert_cli_error(pipeline.gistsched(*push, "nobody", GIST_FHIR_TOKEN=TOKEN), "PATIENT", "nobody")
    assert_cli_error(pipeline.gistsched(*push, GIST_FHIR_TOKEN="wrong-token-000"), "HTTP 401")


def test_push_finds_the_patient_by_identifier_when_the_server_has_its_own_ids(
    pipeline: Pipeline, server: FhirServer, tmp_path: Path
) -> None:
    system = "https://clinic.example.org/fhir/gist-patient-id"
    rego = json.loads((FIXTURES / "regorafenib-alt.json").read_text())
    _imported(pipeline, tmp_path, {"rego": rego})
    process_patient(pipeline.db.sessions, "gist-rego-alt", dt.date(2026, 3, 12))
    push = ("fhir", "push", "--server", server.base_url)
    env = {"GIST_FHIR_TOKEN": TOKEN, "GIST_FHIR_PATIENT_SYSTEM": system}

    assert_cli_error(
        pipeline.gistsched(*push, **env), f"no Patient with the identifier {system}|", "gist-rego-alt"
    )
    created = call(server, "POST", "Patient", {"resourceType": "Patient", "identifier": [
        {"system": system, "value": "gist-rego-alt"}]})  # fmt: skip
    assert created["id"] != "gist-rego-alt"  # the server chose its own id
    put(server, {"resourceType": "Patient", "id": "gist-rego-alt"})  # another Patient, without our identifier

    done = pipeline.gistsched(*push, **env)
    assert done.returncode == 0, done.stderr
    [care_plan] = server_resources(server, "CarePlan")
    assert care_plan["subject"] == {
        "reference": f"Patient/{created['id']}",
        "identifier": {"system": system, "value": "gist-rego-alt"},
    }
    assert {t["for"]["reference"] for t in server_resources(server, "Task")} == {f"Patient/{created['id']}"}
    assert server_resources(server, "CarePlan", f"&subject=Patient/{created['id']}") == [care_plan]

    call(server, "POST", "Patient", {"resourceType": "Patient", "identifier": [
        {"system": system, "value": "gist-rego-alt"}]})  # fmt: skip
    twice = pipeline.gistsched(*push, **env)
    assert_cli_error(twice, f"the identifier {system}|gist-rego-alt names 2 Patients", "nothing was written")
    assert pipeline.gistsched(*push, GIST_FHIR_TOKEN=TOKEN, GIST_FHIR_PATIENT_SYSTEM="no uri").returncode == 2


class _Redirect(http.server.BaseHTTPRequestHandler):
    """Answers every request with a redirect to ``target`` (another address)."""

    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        self.wfile.write(b'{"resourceType": "Bundle", "type": "searchset", "total": 0}')

    def log_message(self, *args: Any) -> None:
        pass


def test_the_token_never_follows_a_redirect(pipeline: Pipeline, tmp_path: Path) -> None:
    enroll(pipeline, tmp_path, "gist-rego-alt")
    recorder = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    target = f"http://127.0.0.1:{recorder.server_address[1]}"
    redirect = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("R", (_Redirect,), {"target": target}))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (recorder, redirect)]
    for thread in threads:
        thread.start()
    try:
        done = pipeline.gistsched(
            "fhir",
            "pull",
            "--server",
            f"http://127.0.0.1:{redirect.server_address[1]}",
            GIST_FHIR_TOKEN=TOKEN,
        )
    finally:
        for served in (recorder, redirect):
            served.shutdown()
            served.server_close()
    assert_cli_error(done, "HTTP 302", "nothing was stored")
    assert _Recorder.seen == []  # the other address never heard from us, let alone the token
    assert TOKEN not in done.stderr
