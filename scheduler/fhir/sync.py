"""What ``gistsched fhir pull`` asks a FHIR server and what ``push`` sends it (pure: URLs and JSON).

Pull works in two steps. First, *who has changed*: for up to :data:`CHANGE_BATCH` patients that
share a sync point, one search per resource type with ``patient=a,b,c`` (FHIR's comma OR) and
``_lastUpdated=ge<since>`` (:func:`change_searches`), each changed resource attributed to its
patient by its subject (:func:`patient_of`); a type is asked only about the patients not yet
known to have changed. The navigator comes from Practitioners and PractitionerRoles that belong to
no patient, so CareTeams are read whole with the practitioners they name, and a patient has
changed when a CareTeam of theirs or a practitioner it names was updated
(:func:`changed_patients`). Then, for a changed (or never-read) patient, the whole record the
importer reads (:func:`record_searches`: Observations by code, the other types by patient, with
the resources reports, surgery and care teams point at), read page by page through ``next``
links and imported as one collection Bundle (:func:`record_bundle`). Reading the whole record
gives every mapper its context (a pathology report needs its size and mitotic count even when
only the report changed); what was read before comes back with the same event ids, as duplicates.

Push turns the export Bundle into a transaction of conditional updates
(``PUT ServiceRequest?identifier=system|value``) without ids, so the server keeps its own ids and
a second push updates the same resources in place.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import FhirError
from scheduler.fhir.export import ALERT_SYSTEM, rid

# The resource types of a patient's record, and the resources they point at that the mappers read.
RECORD_SEARCHES: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    ("Patient", ()),
    ("Condition", ()),
    ("Observation", ()),  # by code: see observation_codes()
    ("MedicationRequest", ()),
    ("MedicationStatement", ()),
    ("Procedure", (("_revinclude", "Observation:part-of"),)),  # margin Observations
    (
        "DiagnosticReport",
        (("_include", "DiagnosticReport:result"), ("_include", "DiagnosticReport:specimen")),
    ),
    ("ImagingStudy", ()),
    ("Specimen", ()),
    ("Encounter", ()),
    ("ClinicalImpression", ()),
    ("EpisodeOfCare", ()),
    (
        "CareTeam",
        (("_include", "CareTeam:participant"), ("_include:iterate", "PractitionerRole:practitioner")),
    ),
)
# The patients of one change search: short enough for any server's URL limit (64-character ids).
CHANGE_BATCH: Final = 50
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9._-]{1,64})(?:/_history/[^/]+)?$")
# Who a CareTeam names as its navigator (scheduler/fhir/navigators.py reads their identifiers).
_PRACTITIONER_REF = re.compile(
    r"(?:^|/)((?:Practitioner|PractitionerRole)/[A-Za-z0-9._-]{1,64})(?:/_history/[^/]+)?$"
)
# Change detection reads every Observation (a margin Observation has no code of ours).
CHANGE_TYPES: Final = tuple(name for name, _ in RECORD_SEARCHES)
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2}))?"
)


def observation_codes() -> str:
    """The Observation codes the importer maps, as one OR-list token search value."""
    pairs = [(t.LOINC, code) for code in t.LABS]
    pairs += [(c.system, c.code) for c in (t.TUMOR_SIZE, t.VARIANT, t.DISEASE_STATUS, t.MITOSES_PER_10HPF)]
    pairs += [(c.system, c.code) for c in (t.MITOTIC_COUNT, t.BIOPSY_RESULT, t.RUPTURE)]
    return ",".join(f"{system}|{_escape(code)}" for system, code in pairs)


def _escape(value: str) -> str:
    """A token search value with FHIR's special characters (``\\ , $ |``) escaped."""
    return re.sub(r"([\\,$|])", r"\\\1", value)


def instant(moment: dt.datetime) -> str:
    """A FHIR instant in UTC to the second (``2026-03-01T08:00:00Z``)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_since(text: str) -> dt.datetime:
    """``--since``: a date (midnight UTC) or a date-time with its offset; ``ValueError`` otherwise."""
    problem = ValueError(
        f"{text!r} is not a date (YYYY-MM-DD) or a date-time with seconds and offset (YYYY-MM-DDThh:mm:ssZ)"
    )
    if not _INSTANT.fullmatch(text) or ("T" in text and text.count(":") < 2):
        raise problem
    try:
        if "T" not in text:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        raise problem from None


def _query(params: Iterable[tuple[str, str]]) -> str:
    return urlencode(list(params), safe=":/|,")


def change_search(kind: str, patient_ids: Sequence[str], since: dt.datetime, page_size: int) -> str:
    """The relative search URL that finds every ``kind`` resource of these patients updated at or
    after ``since`` (patient ids are letters, digits, ``._-``: nothing to escape in the OR-list).

    CareTeams are the exception: every CareTeam of these patients with the Practitioners and
    PractitionerRoles it names (as the record search reads them), because a practitioner updated
    alone (a new identifier, a role moved to another practitioner) can change the navigator while
    the CareTeam stays as it was; :func:`changed_patients` compares their ``lastUpdated``.
    """
    who = ",".join(patient_ids)
    param = ("_id", who) if kind == "Patient" else ("patient", who)
    if kind == "CareTeam":
        return f"{kind}?{_query([param, *dict(RECORD_SEARCHES)[kind], ('_count', str(page_size))])}"
    return f"{kind}?{_query([param, ('_lastUpdated', 'ge' + instant(since)), ('_count', str(page_size))])}"


def change_searches(patient_ids: Sequence[str], since: dt.datetime, page_size: int) -> list[str]:
    """:func:`change_search` for every type of the record (each asked about all ``patient_ids``)."""
    return [change_search(kind, patient_ids, since, page_size) for kind in CHANGE_TYPES]


def patient_of(resource: Mapping[str, Any]) -> str | None:
    """The id of the Patient a resource of the record belongs to (``subject``, or ``patient`` of an
    EpisodeOfCare; a Patient's own id), or None when its reference names no Patient id."""
    if resource.get("resourceType") == "Patient":
        value = resource.get("id")
        return value if isinstance(value, str) else None
    for name in ("subject", "patient"):
        ref = resource.get(name)
        if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
            found = _PATIENT_REF.search(ref["reference"])
            return found.group(1) if found else None
    return None


def changed_patients(
    kind: str, found: Iterable[Mapping[str, Any]], asked: Sequence[str], since: dt.datetime
) -> set[str]:
    """Which of ``asked`` have changed, from the resources :func:`change_search` found for ``kind``.

    Each resource found counts for the patient it belongs to (:func:`patient_of`), or for every
    patient asked when that cannot be told. For CareTeams (found whole, with the practitioners
    they name) a CareTeam counts when it, a Practitioner or PractitionerRole among its
    participants, or the Practitioner of such a role was updated at or after ``since`` (to the
    second, as ``_lastUpdated=ge`` compares); a ``lastUpdated`` missing or unreadable counts as
    updated. A participant the server did not return is not looked at: the import cannot read a
    navigator from it either.
    """
    resources = list(found)
    changed: set[str] = set()
    if kind != "CareTeam":
        for resource in resources:
            changed |= _owners(resource, asked)
        return changed
    since = since.astimezone(dt.UTC).replace(microsecond=0)
    people = {
        f"{r['resourceType']}/{r.get('id')}": r
        for r in resources if r.get("resourceType") in ("Practitioner", "PractitionerRole")
    }  # fmt: skip

    def updated(resource: Mapping[str, Any]) -> bool:
        moment = _last_updated(resource)
        return moment is None or moment >= since

    def touched(member: object) -> bool:
        named = _named_practitioner(people, member)
        if named is None:
            return False
        role_of = _named_practitioner(people, named.get("practitioner"))
        return updated(named) or (role_of is not None and updated(role_of))

    for team in resources:
        if team.get("resourceType") != "CareTeam":
            continue
        members = [p.get("member") for p in team.get("participant", []) if isinstance(p, Mapping)]
        if updated(team) or any(touched(member) for member in members):
            changed |= _owners(team, asked)
    return changed


def _owners(resource: Mapping[str, Any], asked: Sequence[str]) -> set[str]:
    owner = patient_of(resource)
    return {owner} if owner is not None and owner in asked else set(asked)


def _named_practitioner(
    people: Mapping[str, Mapping[str, Any]], reference: object
) -> Mapping[str, Any] | None:
    """The Practitioner or PractitionerRole a reference names, among those the server returned."""
    if not isinstance(reference, Mapping) or not isinstance(reference.get("reference"), str):
        return None
    found = _PRACTITIONER_REF.search(reference["reference"])
    return people.get(found.group(1)) if found else None


def _last_updated(resource: Mapping[str, Any]) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(_updated(resource).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def record_searches(patient_id: str, page_size: int) -> list[str]:
    """Relative search URLs that read the patient's whole record (as far as the importer reads it)."""
    urls = []
    for name, extra in RECORD_SEARCHES:
        who = ("_id", patient_id) if name == "Patient" else ("patient", patient_id)
        params = [who, *extra]
        if name == "Observation":
            params.append(("code", observation_codes()))
        urls.append(f"{name}?{_query([*params, ('_count', str(page_size))])}")
    return urls


@dataclass(frozen=True, slots=True)
class Page:
    """One searchset page: its entries (resource and fullUrl), ``total`` if given, the next link."""

    entries: list[tuple[Mapping[str, Any], str | None]]
    total: int | None
    next_url: str | None


def read_page(obj: object, where: str) -> Page:
    """A searchset Bundle as a :class:`Page`; ``FhirError`` naming ``where`` for anything else."""
    if not isinstance(obj, Mapping):
        raise FhirError(where, "the answer is not a JSON object")
    if obj.get("resourceType") == "OperationOutcome":
        raise FhirError(where, f"the server answered an OperationOutcome: {outcome_text(obj)}")
    if obj.get("resourceType") != "Bundle" or obj.get("type") != "searchset":
        raise FhirError(where, f"expected a searchset Bundle, got {_kind(obj)}")
    entries: list[tuple[Mapping[str, Any], str | None]] = []
    raw = obj.get("entry", [])
    if not isinstance(raw, list):
        raise FhirError(where, "Bundle.entry must be a list")
    for index, entry in enumerate(raw):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
            raise FhirError(f"{where} entry[{index}]", "has no resource")
        if resource["resourceType"] == "OperationOutcome":
            continue  # search warnings (mode "outcome")
        if not isinstance(resource.get("id"), str):
            raise FhirError(f"{where} entry[{index}] {resource['resourceType']}", "a resource without an id")
        full_url = entry.get("fullUrl")
        entries.append((resource, full_url if isinstance(full_url, str) else None))
    links = obj.get("link", [])
    next_url = next(
        (str(link["url"]) for link in links if isinstance(link, Mapping) and link.get("relation") == "next"
         and isinstance(link.get("url"), str)),
        None,
    ) if isinstance(links, list) else None  # fmt: skip
    total = obj.get("total")
    return Page(entries, total if isinstance(total, int) else None, next_url)


def _kind(obj: Mapping[str, Any]) -> str:
    kind = obj.get("resourceType")
    if kind == "Bundle":
        return f"a {obj.get('type')!r} Bundle"
    return repr(kind) if isinstance(kind, str) else "JSON without resourceType"


def outcome_text(obj: Mapping[str, Any]) -> str:
    """The issues of an OperationOutcome, as one line."""
    texts = []
    for issue in obj.get("issue", []) if isinstance(obj.get("issue"), list) else []:
        if isinstance(issue, Mapping):
            details = issue.get("details")
            text = issue.get("diagnostics") or (details.get("text") if isinstance(details, Mapping) else None)
            texts.append(str(text or issue.get("code") or "error"))
    return "; ".join(texts)[:500] or "no issue given"


def record_bundle(base_url: str, entries: Iterable[tuple[Mapping[str, Any], str | None]]) -> dict[str, Any]:
    """One collection Bundle of a patient's record: each resource once (the latest ``lastUpdated``
    when searches returned two versions), in the order first seen."""
    chosen: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}
    for resource, full_url in entries:
        key = (str(resource["resourceType"]), str(resource["id"]))
        url = full_url or f"{base_url}/{key[0]}/{key[1]}"
        if key not in chosen or _updated(resource) > _updated(chosen[key][0]):
            chosen[key] = (resource, url)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": url, "resource": dict(resource)} for resource, url in chosen.values()],
    }


def _updated(resource: Mapping[str, Any]) -> str:
    meta = resource.get("meta")
    return str(meta.get("lastUpdated", "")) if isinstance(meta, Mapping) else ""


# --- push ------------------------------------------------------------------------------------


def patient_searches(patient_ids: Sequence[str], system: str | None, page_size: int) -> list[str]:
    """Searches that find the server's Patients for our patients, up to :data:`CHANGE_BATCH` a
    search: by identifier ``system|id`` when the server knows our ids as an identifier, else by
    ``_id`` (our id taken as the server's own)."""
    urls = []
    for first in range(0, len(patient_ids), CHANGE_BATCH):
        batch = patient_ids[first : first + CHANGE_BATCH]
        if system is None:
            param = ("_id", ",".join(batch))
        else:
            param = ("identifier", ",".join(f"{_escape(system)}|{pid}" for pid in batch))
        urls.append(f"Patient?{_query([param, ('_count', str(page_size))])}")
    return urls


def server_patients(
    found: Iterable[Mapping[str, Any]], patient_ids: Sequence[str], system: str | None
) -> dict[str, list[str]]:
    """Our patient id → the ids of the server's Patients that are that patient (by ``system``
    identifier, or by id when ``system`` is None), each list sorted."""
    wanted = set(patient_ids)
    matches: dict[str, set[str]] = {pid: set() for pid in patient_ids}
    for resource in found:
        server_id = resource.get("id")
        if resource.get("resourceType") != "Patient" or not isinstance(server_id, str):
            continue
        if system is None:
            if server_id in wanted:
                matches[server_id].add(server_id)
            continue
        for ident in resource.get("identifier", []):
            if isinstance(ident, Mapping) and ident.get("system") == system and ident.get("value") in wanted:
                matches[str(ident["value"])].add(server_id)
    return {pid: sorted(ids) for pid, ids in matches.items()}


def patient_reference(patient_id: str, server_id: str, system: str | None) -> dict[str, Any]:
    """How pushed resources name the patient: the server's Patient, with our identifier when the
    server holds our ids as one."""
    reference: dict[str, Any] = {"reference": f"Patient/{server_id}"}
    if system is not None:
        reference["identifier"] = {"system": system, "value": patient_id}
    return reference


def _named(obj: Any, old: str, new: Mapping[str, Any]) -> Any:
    """``obj`` with every reference ``{"reference": old}`` replaced by ``new``."""
    if isinstance(obj, Mapping):
        if obj.get("reference") == old and set(obj) == {"reference"}:
            return dict(new)
        return {k: _named(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_named(v, old, new) for v in obj]
    return obj


def push_transaction(
    export: Mapping[str, Any],
    patient_id: str,
    resolved_alerts: Sequence[str] = (),
    patient: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The export Bundle as a transaction of conditional PUTs by identifier, ids left to the server.

    ``resolved_alerts`` are alert codes no longer raised: each is written as a ``cancelled``
    DetectedIssue, so one pushed while it was active does not stay on the server as current.
    ``patient`` (:func:`patient_reference`) replaces the export's ``Patient/<our id>`` references.
    """
    entries = []
    for entry in export["entry"]:
        resource = {k: v for k, v in entry["resource"].items() if k != "id"}
        entries.append(_put(str(entry["fullUrl"]), resource))
    active = {
        str(e["resource"]["identifier"][0]["value"])
        for e in export["entry"] if e["resource"]["resourceType"] == "DetectedIssue"
    }  # fmt: skip
    for code in sorted(set(resolved_alerts)):
        value = f"{patient_id}:{code}"
        if value in active:
            continue
        issue = {
            "resourceType": "DetectedIssue",
            "identifier": [{"system": ALERT_SYSTEM, "value": value}],
            "status": "cancelled",
            "code": t.local(code, code).concept(),
            "patient": {"reference": f"Patient/{patient_id}"},
            "detail": "No longer raised by the follow-up rules.",
        }
        entries.append(_put(f"urn:uuid:{rid('detectedissue', patient_id, code)}", issue))
    if patient is not None:
        entries = _named(entries, f"Patient/{patient_id}", patient)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _put(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not identifiers:
        raise ValueError(f"{resource['resourceType']} has no identifier to update it by")
    system, value = identifiers[0]["system"], identifiers[0]["value"]
    url = (
        f"{resource['resourceType']}?identifier={quote(system, safe=':/')}|{quote(_escape(value), safe=':')}"
    )
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": url}}


def read_transaction_response(obj: object, sent: int) -> tuple[int, int]:
    """(created, updated) from a transaction-response; ``FhirError`` for a refusal or anything else."""
    if isinstance(obj, Mapping) and obj.get("resourceType") == "OperationOutcome":
        raise FhirError("transaction", f"refused: {outcome_text(obj)}")
    if (
        not isinstance(obj, Mapping)
        or obj.get("resourceType") != "Bundle"
        or obj.get("type") != ("transaction-response")
    ):
        raise FhirError("transaction", f"expected a transaction-response Bundle, got "
                        f"{_kind(obj) if isinstance(obj, Mapping) else 'no JSON object'}")  # fmt: skip
    entries = obj.get("entry")
    if not isinstance(entries, list) or len(entries) != sent:
        raise FhirError("transaction", f"the response has {len(entries or [])} entries for {sent} sent")
    created = updated = 0
    for index, entry in enumerate(entries):
        response = entry.get("response") if isinstance(entry, Mapping) else None
        status = str(response.get("status", "")) if isinstance(response, Mapping) else ""
        if status.startswith("201"):
            created += 1
        elif status.startswith("200"):
            updated += 1
        else:
            outcome = response.get("outcome") if isinstance(response, Mapping) else None
            why = f": {outcome_text(outcome)}" if isinstance(outcome, Mapping) else ""
            raise FhirError(f"transaction entry[{index}]", f"status {status or 'missing'}{why}")
    return created, updated
