"""A stored plan (the plan's JSON shape) → one FHIR R4 collection Bundle (fhir-mapping.md §2).

One CarePlan (``instantiatesCanonical`` = the rule set's PlanDefinition ``url|version``), a risk
Observation, a ServiceRequest + Task per reminder (FHIR has no "overdue" status: it goes in
``Task.businessStatus``, with ``overdue_since`` as an extension) and a DetectedIssue per active
alert (``reference`` = the rule's action in the PlanDefinition, whose documentation holds the
citation). Ids are UUIDv5 of the patient and reminder key or alert code, and every resource has an
``identifier`` of our own that is unique across patients (what ``push`` updates by); nothing reads a
clock, so exporting the same plan twice gives identical JSON. Every code comes from ``terminology``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Final

from scheduler.fhir import terminology as t
from scheduler.fhir.knowledge import activity_url, plan_definition_canonical

NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, t.BASE)
KEY_SYSTEM: Final = f"{t.BASE}/reminder-key"  # value: patient id, ':', reminder key
ALERT_SYSTEM: Final = f"{t.BASE}/alert"  # value: patient id, ':', alert code
RISK_SYSTEM: Final = f"{t.BASE}/risk"  # value: patient id
TASK_CODE: Final = {"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}
EXT_OVERDUE_SINCE: Final = f"{t.BASE}/StructureDefinition/overdue-since"
TASK_STATUS: Final = {"planned": "requested", "due": "requested", "overdue": "requested",
                      "completed": "completed", "cancelled": "cancelled"}  # fmt: skip
REQUEST_STATUS: Final = {"planned": "active", "due": "active", "overdue": "active",
                         "completed": "completed", "cancelled": "revoked"}  # fmt: skip
KIND_NAMES: Final = {
    "ct": "CT scan", "mri": "MRI scan", "eus": "Endoscopic ultrasound", "lab_lft": "Liver function tests",
    "lab_cbc": "Blood count", "lab_tsh": "Thyroid function (TSH)", "echo": "Echocardiogram",
    "skin_exam": "Skin examination", "biopsy": "Biopsy", "mutation_test": "Mutation analysis",
    "mdt_review": "Multidisciplinary team review", "therapy_review": "Therapy review",
    "clinic_visit": "Clinic visit",
}  # fmt: skip


def rid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def export_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    pid = str(plan["patient_id"])
    subject = {"reference": f"Patient/{pid}"}
    as_of = str(plan["as_of"])
    entries: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    for reminder in plan["reminders"]:
        request, task = _reminder(pid, subject, reminder)
        entries += [_entry(request), _entry(task)]
        activities.append({"reference": {"reference": f"urn:uuid:{task['id']}"}})
    for alert in plan["alerts"]:
        entries.append(_entry(_issue(pid, as_of, alert)))
    risk = _risk(pid, subject, as_of, plan["risk"])
    if risk is not None:
        entries.insert(0, _entry(risk))
    care_plan = {
        "resourceType": "CarePlan",
        "id": rid("careplan", pid),
        "identifier": [{"system": f"{t.BASE}/careplan", "value": pid}],
        "instantiatesCanonical": [plan_definition_canonical(str(plan["profile"]))],
        "status": "completed" if plan["stage"] == "ended" else "active",
        "intent": "plan",
        "category": [t.local(f"stage-{plan['stage']}", f"Pathway stage: {plan['stage']}").concept()],
        "title": "GIST follow-up plan",
        "subject": subject,
        "activity": activities,
    }
    if activities == []:
        care_plan.pop("activity")
    entries.insert(0, _entry(care_plan))
    return {"resourceType": "Bundle", "id": rid("bundle", pid, as_of), "type": "collection", "entry": entries}


def _reminder(
    pid: str, subject: dict[str, str], r: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    key, status = str(r["key"]), str(r["status"])
    due = dt.date.fromisoformat(r["due_on"])
    period = {"start": due.isoformat(), "end": (due + dt.timedelta(days=int(r["window_days"]))).isoformat()}
    identifier = [{"system": KEY_SYSTEM, "value": f"{pid}:{key}"}]
    name = KIND_NAMES.get(r["kind"], r["kind"])
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": rid("servicerequest", pid, key),
        "identifier": identifier,
        "instantiatesCanonical": [activity_url(str(r["rule"]))],
        "status": REQUEST_STATUS[status],
        "intent": "proposal",
        "code": {"coding": t.order_codes(str(r["kind"]), name), "text": name},
        "subject": subject,
        "occurrencePeriod": period,
        "note": [{"text": f"{r['rationale']} Source: {r['citation']}"}],
    }
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": rid("task", pid, key),
        "identifier": identifier,
        "status": TASK_STATUS[status],
        "intent": "plan",
        "code": {"coding": [TASK_CODE]},
        "focus": {"reference": f"urn:uuid:{request['id']}"},
        "for": subject,
        "restriction": {"period": period},
    }
    if status in ("planned", "due", "overdue"):
        task["businessStatus"] = t.local(status, status.capitalize()).concept()
        if status == "overdue":
            task["priority"] = "urgent"
        if r.get("overdue_since"):
            task["extension"] = [{"url": EXT_OVERDUE_SINCE, "valueDate": r["overdue_since"]}]
    if status == "cancelled":
        task["statusReason"] = {"text": f"no longer indicated by rule {r['rule']}"}
    if r.get("completed_on"):
        task["executionPeriod"] = {"end": r["completed_on"]}
    return request, task


def _risk(pid: str, subject: dict[str, str], as_of: str, risk: Mapping[str, Any]) -> dict[str, Any] | None:
    tier = risk.get("nih_modified")
    if tier not in t.RISK_VALUES:
        return None
    return {
        "resourceType": "Observation",
        "id": rid("risk", pid),
        "identifier": [{"system": RISK_SYSTEM, "value": pid}],
        "status": "final",
        "code": t.RISK_CODE.concept(),
        "subject": subject,
        "effectiveDateTime": as_of,
        "valueCodeableConcept": t.RISK_VALUES[str(tier)].concept(),
        "method": {"text": "NIH-modified consensus criteria (Joensuu 2008)"},
    }


def _issue(pid: str, as_of: str, alert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "DetectedIssue",
        "id": rid("detectedissue", pid, str(alert["code"])),
        "identifier": [{"system": ALERT_SYSTEM, "value": f"{pid}:{alert['code']}"}],
        "status": "final",
        "code": t.local(str(alert["code"]), str(alert["code"])).concept(),
        "severity": t.SEVERITY[str(alert["severity"])],
        "patient": {"reference": f"Patient/{pid}"},
        "identifiedDateTime": as_of,
        "detail": f"{alert['message']} Source: {alert['citation']}",
        "reference": f"{plan_definition_canonical_url()}#{alert['rule']}",
    }


def plan_definition_canonical_url() -> str:
    return plan_definition_canonical("").split("|")[0]
