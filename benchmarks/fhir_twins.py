"""FHIR twins of synthetic histories (benchmarks only): one collection Bundle per patient, as an EHR
would hold the same story, and the events the importer is expected to read back.

``fhir_twin(history)`` writes each contract event as the resources fhir-mapping.md §1.1 names
(Patient + EpisodeOfCare, Condition + TumorSize, a pathology DiagnosticReport with its size,
mitotic count and Specimen, MedicationRequests with priorPrescription for dose changes, imaging
reports, Encounters, ClinicalImpressions, …) and returns ``(bundle, expected)``: the expected
events are ``(type, occurred_on, data)`` with only what FHIR carries (no navigator or time zone,
no progression pattern, no ``method`` other than imaging, no cd117/dog1 on a pathology report;
ripretinib and avapritinib have no RxNorm code here, so their requests are review items).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scheduler.fhir import terminology as t

Obj = dict[str, Any]

SITES = {
    "stomach": "69695003",
    "duodenum": "38848004",
    "jejunum_ileum": "21306003",
    "rectum": "34402009",
    "colon": "71854001",
    "esophagus": "32849002",
    "peritoneum": "15425007",
    "mesentery": "67769001",
    "omentum": "27398004",
}
METASTASIS_SITES = {"liver": "10200004", "peritoneum": "15425007"}
GENES = {
    "KIT": "HGNC:6342",
    "PDGFRA": "HGNC:8803",
    "SDH": "HGNC:10681",
    "NF1": "HGNC:7765",
    "BRAF": "HGNC:1097",
    "NTRK": "HGNC:8031",
}
RXNORM = {d.display: code for code, d in t.DRUGS.items()}
SETTINGS = {
    "adjuvant": (t.SNOMED, "373846009"),
    "neoadjuvant": (t.SNOMED, "373847000"),
    "advanced": (t.LOCAL, "advanced"),
}
STOP_REASONS = {reason: code for code, reason in t.STOP_REASONS.items()}
MARGINS = {"R0": "1222638005", "R1": "1222639002", "R2": "1222640000"}
LAB_CODES = {
    "alt": ("1742-6", "U/L"),
    "ast": ("1920-8", "U/L"),
    "bilirubin": ("1975-2", "mg/dL"),
    "neutrophils": ("751-8", "10*9/L"),
    "platelets": ("777-3", "10*9/L"),
    "hemoglobin": ("718-7", "g/dL"),
    "tsh": ("3016-3", "m[IU]/L"),
    "lvef": ("10230-1", "%"),
}
RESULTS = {"no_evidence_of_disease": "no-evidence-of-disease", "new_lesion": "new-lesion"}


def _concept(system: str, code: str) -> Obj:
    return {"coding": [{"system": system, "code": code}]}


def _quantity(value: float, unit: str) -> Obj:
    return {"value": value, "unit": unit, "system": t.UCUM, "code": unit}


class _Twin:
    def __init__(self, patient_id: str) -> None:
        self.pid = patient_id
        self.subject = {"reference": f"Patient/{patient_id}"}
        self.entries: list[Obj] = []
        self.expected: list[tuple[str, str, Obj]] = []
        self.counter: defaultdict[str, int] = defaultdict(int)
        self.condition: str | None = None

    def add(self, resource: Obj) -> str:
        kind = resource["resourceType"]
        self.counter[kind] += 1
        rid = f"{self.pid}-{kind.lower()}-{self.counter[kind]}"
        resource = {"resourceType": kind, "id": rid, "meta": {"versionId": "1"}, **resource}
        self.entries.append({"fullUrl": f"https://ehr.example.org/fhir/{kind}/{rid}", "resource": resource})
        return f"{kind}/{rid}"

    def expect(self, kind: str, day: str, data: Obj) -> None:
        self.expected.append((kind, day, data))


def fhir_twin(history: list[Obj]) -> tuple[Obj, list[tuple[str, str, Obj]]]:
    twin = _Twin(history[0]["patient_id"])
    secondary_days = sorted(e["occurred_on"] for e in history if e["type"] == "metastasis")
    courses: dict[str, str] = {}  # drug → the reference of its current MedicationRequest
    episode: Obj | None = None
    for event in history:
        kind, day, data = event["type"], event["occurred_on"], event["data"]
        handler = HANDLERS[kind]
        result = handler(twin, day, data, courses)
        if kind == "patient_registered":
            episode = result
        if kind == "follow_up_ended" and episode is not None:
            episode["status"] = "finished"
            episode["period"]["end"] = day
            episode["extension"] = [
                {"url": t.EXT_END_REASON, "valueCodeableConcept": _concept(t.LOCAL, data["reason"])}
            ]
            twin.expect(kind, day, {"reason": data["reason"]})
    for kind, day, data in twin.expected:  # as the importer reads it: a metastasis known on the day
        if kind == "diagnosis":
            data.pop("metastatic", None)
            if any(d <= day for d in secondary_days):
                data["metastatic"] = True
    return {"resourceType": "Bundle", "type": "collection", "entry": twin.entries}, twin.expected


def _registered(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> Obj:
    patient: Obj = {"name": [{"text": data["name"]}]} if "name" in data else {}
    if "email" in data:
        patient["telecom"] = [{"system": "email", "value": data["email"]}]
    twin.entries.append(
        {
            "fullUrl": f"https://ehr.example.org/fhir/Patient/{twin.pid}",
            "resource": {"resourceType": "Patient", "id": twin.pid, "meta": {"versionId": "1"}, **patient},
        }
    )
    episode: Obj = {
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "patient": twin.subject,
        "period": {"start": day},
    }
    twin.add(episode)
    twin.expect("patient_registered", day, {k: data[k] for k in ("name", "email") if k in data})
    return twin.entries[-1]["resource"]


def _diagnosis(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    twin.condition = twin.add(
        {
            "clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
            "verificationStatus": _concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
            ),
            "code": _concept(t.SNOMED, "420120006"),
            "subject": twin.subject,
            "onsetDateTime": day,
            "bodySite": [_concept(t.SNOMED, SITES[data["site"]])],
            "resourceType": "Condition",
        }
    )
    size: Obj = {
        "resourceType": "Observation",
        "status": "final",
        "code": _concept(t.LOINC, "21889-1"),
        "subject": twin.subject,
        "effectiveDateTime": day,
        "focus": [{"reference": twin.condition}],
        "component": [
            {"code": _concept(t.LOINC, "33728-7"), "valueQuantity": _quantity(data["size_cm"], "cm")}
        ],
    }
    expected: Obj = {"site": data["site"], "size_cm": data["size_cm"]}
    if data.get("method") == "imaging":
        size["method"] = _concept(t.SNOMED, "77477000")
        expected["method"] = "imaging"
    twin.add(size)
    twin.expect("diagnosis", day, expected)


def _biopsy(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    code = {"gist": "gist", "not_gist": "not-gist", "inadequate": "inadequate"}[data["result"]]
    components = [
        {"code": _concept(t.LOCAL, k), "valueBoolean": data[k]} for k in ("cd117", "dog1") if k in data
    ]
    twin.add(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept(t.LOCAL, "biopsy-result"),
            "subject": twin.subject,
            "effectiveDateTime": day,
            "valueCodeableConcept": _concept(t.LOCAL, code),
            **({"component": components} if components else {}),
        }
    )
    twin.expect("biopsy", day, {k: data[k] for k in ("result", "cd117", "dog1") if k in data})


def _pathology(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    expected: Obj = {"size_cm": data["size_cm"], "mitoses_per_5mm2": data["mitoses_per_5mm2"]}
    specimen = None
    if "fixative" in data:
        additive = {"formalin": "formalin", "bouin": "bouin", "other": "other-fixative"}[data["fixative"]]
        specimen = twin.add(
            {
                "resourceType": "Specimen",
                "subject": twin.subject,
                "container": [{"additiveCodeableConcept": _concept(t.LOCAL, additive)}],
            }
        )
        expected["fixative"] = data["fixative"]
    size: Obj = {
        "resourceType": "Observation",
        "status": "final",
        "code": _concept(t.LOINC, "21889-1"),
        "subject": twin.subject,
        "effectiveDateTime": day,
        "method": _concept(t.SNOMED, "787377000"),
        "component": [
            {"code": _concept(t.LOINC, "33728-7"), "valueQuantity": _quantity(data["size_cm"], "cm")}
        ],
    }
    if specimen:
        size["specimen"] = {"reference": specimen}
    if "site" in data:
        size["bodySite"] = _concept(t.SNOMED, SITES[data["site"]])
        expected["site"] = data["site"]
    size_ref = twin.add(size)
    mitoses = twin.add(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept(t.LOCAL, "mitotic-count"),
            "subject": twin.subject,
            "effectiveDateTime": day,
            "valueQuantity": _quantity(data["mitoses_per_5mm2"], "/5.mm2"),
        }
    )
    twin.add(
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": _concept(t.LOINC, "22637-3"),
            "subject": twin.subject,
            "effectiveDateTime": day,
            "result": [{"reference": size_ref}, {"reference": mitoses}],
        }
    )
    twin.expect("pathology", day, expected)


def _mutation(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    gene = data["gene"]

    def studied(name: str) -> Obj:
        return {
            "code": _concept(t.LOINC, "48018-6"),
            "valueCodeableConcept": _concept("http://www.genenames.org/geneId", GENES[name]),
        }

    resource: Obj = {
        "resourceType": "Observation",
        "status": "final",
        "code": _concept(t.LOINC, "69548-6"),
        "subject": twin.subject,
        "effectiveDateTime": day,
    }
    if gene == "wild_type":
        resource["valueCodeableConcept"] = _concept(t.LOINC, "LA9634-2")
        resource["component"] = [studied("KIT"), studied("PDGFRA")]
    else:
        resource["valueCodeableConcept"] = _concept(t.LOINC, "LA9633-4")
        resource["component"] = [studied(gene)]
        if "exon" in data:
            resource["component"].append(
                {"code": _concept(t.LOINC, "47999-8"), "valueString": f"Exon {data['exon']}"}
            )
        if "variant" in data:
            resource["component"].append(
                {
                    "code": _concept(t.LOINC, "48005-3"),
                    "valueCodeableConcept": {
                        "coding": [{"system": "http://varnomen.hgvs.org", "code": data["variant"]}]
                    },
                }
            )
    twin.add(resource)
    twin.expect("mutation", day, dict(data))


def _resection(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    resource: Obj = {
        "resourceType": "Procedure",
        "status": "completed",
        "subject": twin.subject,
        "code": _concept(t.LOCAL, f"{data.get('approach', 'open')}-resection"),
        "performedDateTime": day,
        "outcome": _concept(t.SNOMED, MARGINS[data["margin"]]),
    }
    if twin.condition:
        resource["reasonReference"] = [{"reference": twin.condition}]
    expected: Obj = {"margin": data["margin"], "approach": data.get("approach", "open")}
    if data.get("intent") == "curative":
        resource["extension"] = [
            {"url": t.EXT_PROCEDURE_INTENT, "valueCodeableConcept": _concept(t.SNOMED, t.CURATIVE)}
        ]
        expected["intent"] = "curative"
    twin.add(resource)
    twin.expect("resection", day, expected)


def _rupture(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    resource: Obj = {
        "resourceType": "Observation",
        "status": "final",
        "code": _concept(t.LOCAL, "tumour-rupture"),
        "subject": twin.subject,
        "effectiveDateTime": day,
    }
    if "context" in data:
        resource["valueCodeableConcept"] = _concept(t.LOCAL, data["context"])
    twin.add(resource)
    twin.expect("rupture", day, dict(data))


def _request(twin: _Twin, drug: str, day: str, dose: float, **extra: Any) -> Obj:
    medication = _concept(t.RXNORM, RXNORM[drug]) if drug in RXNORM else {"text": drug}
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": twin.subject,
        "medicationCodeableConcept": medication,
        "authoredOn": day,
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {"boundsPeriod": {"start": day}, "frequency": 1, "period": 1, "periodUnit": "d"}
                },
                "doseAndRate": [{"doseQuantity": _quantity(dose, "mg")}],
            }
        ],
        **extra,
    }


def _started(twin: _Twin, day: str, data: Obj, courses: dict[str, str]) -> None:
    system, code = SETTINGS[data["setting"]]
    ext = [{"url": t.EXT_SETTING, "valueCodeableConcept": _concept(system, code)}]
    courses[data["drug"]] = twin.add(_request(twin, data["drug"], day, data["dose_mg"], extension=ext))
    if data["drug"] in RXNORM:
        twin.expect("therapy_started", day, dict(data))


def _dose_changed(twin: _Twin, day: str, data: Obj, courses: dict[str, str]) -> None:
    prior = courses.get(data["drug"])
    replaced = _resource(twin, prior)
    if replaced is not None:
        replaced["status"] = "stopped"  # replaced by the new dose
    extra = {"priorPrescription": {"reference": prior}} if prior else {}
    courses[data["drug"]] = twin.add(_request(twin, data["drug"], day, data["dose_mg"], **extra))
    if data["drug"] in RXNORM and prior:
        twin.expect("dose_changed", day, dict(data))


def _stopped(twin: _Twin, day: str, data: Obj, courses: dict[str, str]) -> None:
    request = _resource(twin, courses.pop(data["drug"], None))
    if request is None or data["drug"] not in RXNORM:
        return
    request["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"] = day
    if data["reason"] == "completed":
        request["status"] = "completed"
    else:
        request["status"] = "stopped"
        request["statusReason"] = _concept(t.SNOMED, STOP_REASONS[data["reason"]])
    twin.expect("therapy_stopped", day, dict(data))


def _resource(twin: _Twin, reference: str | None) -> Obj | None:
    for entry in twin.entries:
        resource = entry["resource"]
        if reference == f"{resource['resourceType']}/{resource['id']}":
            return resource  # type: ignore[no-any-return]
    return None


def _imaging(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    resource: Obj = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "subject": twin.subject,
        "category": [_concept("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")],
        "code": _concept(t.LOCAL, data["modality"]),
        "effectiveDateTime": day,
    }
    if "result" in data:
        resource["conclusionCode"] = [_concept(t.LOCAL, RESULTS.get(data["result"], data["result"]))]
    twin.add(resource)
    twin.expect("imaging", day, dict(data))


def _progression(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    twin.add(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept(t.LOINC, "97509-4"),
            "subject": twin.subject,
            "effectiveDateTime": day,
            "valueCodeableConcept": _concept(t.SNOMED, t.WORSENED),
        }
    )
    twin.expect("progression", day, {})


def _metastasis(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    sites = [s for s in data.get("sites", []) if s in METASTASIS_SITES]
    twin.add(
        {
            "resourceType": "Condition",
            "code": _concept(t.SNOMED, "128462008"),
            "subject": twin.subject,
            "onsetDateTime": day,
            "bodySite": [_concept(t.SNOMED, METASTASIS_SITES[s]) for s in sites],
        }
    )
    twin.expect("metastasis", day, {"sites": sites} if sites else {})


def _lab(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    code, unit = LAB_CODES[data["test"]]
    resource: Obj = {
        "resourceType": "Observation",
        "status": "final",
        "code": _concept(t.LOINC, code),
        "subject": twin.subject,
        "effectiveDateTime": day,
        "valueQuantity": _quantity(data["value"], unit),
    }
    if "uln" in data:
        resource["referenceRange"] = [{"high": _quantity(data["uln"], unit)}]
    twin.add(resource)
    twin.expect("lab_result", day, dict(data))


def _encounter(twin: _Twin, day: str, kind: str) -> str:
    return twin.add(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "type": [_concept(t.LOCAL, kind)],
            "subject": twin.subject,
            "period": {"start": day},
        }
    )


def _visit(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    _encounter(twin, day, data["kind"])
    twin.expect("visit", day, dict(data))


def _mdt(twin: _Twin, day: str, data: Obj, _: dict[str, str]) -> None:
    encounter = _encounter(twin, day, "mdt_review")
    expected: Obj = {}
    if data.get("decision") or data.get("outcome"):
        impression: Obj = {
            "resourceType": "ClinicalImpression",
            "status": "completed",
            "subject": twin.subject,
            "encounter": {"reference": encounter},
        }
        if data.get("decision"):
            impression["summary"] = data["decision"]
            expected["decision"] = data["decision"]
        if data.get("outcome"):
            impression["finding"] = [
                {"itemCodeableConcept": _concept(t.LOCAL, f"mdt-{data['outcome'].replace('_', '-')}")}
            ]
            expected["outcome"] = data["outcome"]
        twin.add(impression)
    twin.expect("mdt_review", day, expected)


HANDLERS: dict[str, Any] = {
    "patient_registered": _registered,
    "diagnosis": _diagnosis,
    "biopsy": _biopsy,
    "pathology": _pathology,
    "mutation": _mutation,
    "resection": _resection,
    "rupture": _rupture,
    "therapy_started": _started,
    "dose_changed": _dose_changed,
    "therapy_stopped": _stopped,
    "imaging": _imaging,
    "progression": _progression,
    "metastasis": _metastasis,
    "lab_result": _lab,
    "visit": _visit,
    "mdt_review": _mdt,
    "follow_up_ended": lambda *args: None,  # the registration's EpisodeOfCare is finished in fhir_twin
}
