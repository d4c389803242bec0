"""Imaging DiagnosticReport (+ ImagingStudy, CancerDiseaseStatus) → imaging.

A report is an imaging report when its category is radiology, it points at an ImagingStudy, or its
code is one we know for a scan. The modality comes from the ImagingStudy's DICOM modality (CT, MR,
PT; PET/CT counts as PET) or the report's code; plain ultrasound ("US") cannot tell an endoscopic
ultrasound from another and is held for review. The result comes from a CancerDiseaseStatus
among the report's results, else from ``conclusionCode``; a report with no result is still a scan
done (it fulfils imaging reminders).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import Source
from scheduler.fhir.context import Context, codings, effective_day, has_code

FINAL = ("final", "amended", "corrected", "appended")


def is_imaging_report(source: Source) -> bool:
    resource = source.resource
    categories = {pair for concept in resource.get("category", []) for pair in codings(concept)}
    return (
        bool(categories & t.RADIOLOGY_CATEGORIES)
        or bool(resource.get("imagingStudy"))
        or any(pair in t.IMAGING_REPORT_CODES for pair in codings(resource.get("code")))
    )


def _study_modalities(study: Source) -> Iterator[tuple[str, str]]:
    """(system, code) of ImagingStudy.modality and each series' modality (plain Codings in R4)."""
    resource = study.resource
    for coding in [
        *resource.get("modality", []),
        *(s.get("modality", {}) for s in resource.get("series", [])),
    ]:
        if isinstance(coding, dict) and "code" in coding:
            yield str(coding.get("system", "")), str(coding["code"])


def map_imaging_report(ctx: Context, source: Source) -> None:
    resource = source.resource
    status = resource.get("status")
    if status in ("entered-in-error", "cancelled"):
        ctx.review(source, f"imaging report {status}: an earlier version may have been imported")
        return
    if status not in FINAL:
        ctx.not_used(source, f"imaging report not final yet (status {status!r})")
        return
    day = effective_day(resource)
    if day is None:
        ctx.review(source, "imaging report without effectiveDateTime or issued (to the day)")
        return
    studies = [s for s in (ctx.resolve(r) for r in resource.get("imagingStudy", [])) if s is not None]
    dicom = {code for s in studies for system, code in _study_modalities(s) if system in (t.DICOM, "")}
    modalities = {t.DICOM_MODALITIES[c] for c in dicom if c in t.DICOM_MODALITIES}
    modalities |= {m for pair, m in t.IMAGING_REPORT_CODES.items() if pair in codings(resource.get("code"))}
    if modalities == {"pet", "ct"}:
        modalities = {"pet"}  # PET/CT
    if len(modalities) != 1:
        why = "ultrasound (DICOM US) cannot tell an EUS" if "US" in dicom else "no known modality"
        shown = ", ".join(sorted(modalities)) or why
        ctx.review(source, f"imaging report: expected one modality (CT, MRI, PET, EUS), got {shown}")
        return
    statuses = [
        r for r in (ctx.resolve(ref) for ref in resource.get("result", []))
        if r is not None and has_code(r.resource.get("code"), t.LOINC, t.DISEASE_STATUS.code)
    ]  # fmt: skip
    concepts: list[Any] = [s.resource.get("valueCodeableConcept") for s in statuses]
    concepts += list(resource.get("conclusionCode", [])) if not statuses else []
    results = {
        t.IMAGING_RESULTS[p] for concept in concepts for p in codings(concept) if p in t.IMAGING_RESULTS
    }
    if len(results) > 1:
        ctx.review(source, f"imaging report with several results ({', '.join(sorted(results))})")
        return
    data: dict[str, Any] = {"modality": modalities.pop()}
    if results:
        data["result"] = results.pop()
    ctx.event(source, "imaging", day, data, also=[*studies, *statuses])
