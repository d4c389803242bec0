"""Condition, TumorSize, pathology report and biopsy → diagnosis, metastasis, pathology, biopsy.

A biopsy result comes from a local biopsy-result Observation or from a GIST Condition whose
evidence is a histologic test (confirmed → gist, refuted → not_gist).

Site: ICD-O-3 topography or SNOMED ``bodySite`` first, the ICD-10-CM code last (C49.A3 cannot
tell duodenum from jejunum/ileum; C49.A0/A9 name no site); an unresolved site holds the diagnosis
for review. Sizes are converted mm → cm explicitly; any other unit is held for review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import Source
from scheduler.fhir.context import (
    Context,
    codings,
    concepts,
    day_of,
    effective_day,
    extension,
    has_code,
    profiles,
)

HISTOLOGY_EXT = t.MCODE_SD + "mcode-histology-morphology-behavior"
RELATED_EXT = "http://hl7.org/fhir/StructureDefinition/condition-related"
SIZE_UNITS = {"cm": 1.0, "mm": 0.1}


def is_gist(condition: Mapping[str, Any]) -> bool:
    code = condition.get("code")
    if has_code(code, t.SNOMED, *(c.code for c in t.GIST_CONDITION)):
        return True
    if any(s == t.ICD10CM and c.startswith(t.ICD10_GIST_PREFIX) for s, c in codings(code)):
        return True
    histology = extension(condition, HISTOLOGY_EXT)
    return histology is not None and has_code(
        histology.get("valueCodeableConcept"), t.ICDO3, *t.GIST_MORPHOLOGY
    )


def is_secondary(source: Source) -> bool:
    code = source.resource.get("code")
    return (
        t.MCODE_SD + "mcode-secondary-cancer-condition" in profiles(source)
        or has_code(code, t.SNOMED, t.SECONDARY_CANCER.code)
        or any(s == t.ICD10CM and c[:3] in ("C77", "C78", "C79") for s, c in codings(code))
    )


def resolve_site(resource: Mapping[str, Any]) -> str | None:
    """Body site first (ICD-O-3 topography, SNOMED), then the condition's own ICD-10-CM code."""
    for concept in [*concepts(resource.get("bodySite")), resource.get("code")]:
        for system, code in codings(concept):
            site = t.SITE_CODES.get((system, code)) or t.SITE_PREFIXES.get((system, code[:3]))
            if site:
                return site
    return None


def size_cm(ctx: Context, observation: Source) -> tuple[float | None, str | None]:
    """The longest dimension in cm, or (None, why not)."""
    quantity = None
    for component in observation.resource.get("component", []):
        if has_code(component.get("code"), t.LOINC, t.TUMOR_LONGEST.code):
            quantity = component.get("valueQuantity")
    if quantity is None:
        quantity = observation.resource.get("valueQuantity")
    if not isinstance(quantity, Mapping) or not isinstance(quantity.get("value"), int | float):
        return None, "tumour size: no longest dimension (component 33728-7 valueQuantity)"
    unit = quantity.get("code") or quantity.get("unit")
    factor = SIZE_UNITS.get(str(unit))
    if factor is None:
        return None, f"tumour size: unit {unit!r} is not cm or mm"
    return round(float(quantity["value"]) * factor, 4), None


def is_pathology_size(observation: Source) -> bool:
    resource = observation.resource
    return "specimen" in resource or has_code(resource.get("method"), t.SNOMED, t.GROSS_PATHOLOGY.code)


def map_condition(ctx: Context, source: Source) -> None:
    resource = source.resource
    if is_secondary(source):
        _metastasis(ctx, source)
        return
    primary = t.MCODE_SD + "mcode-primary-cancer-condition" in profiles(source)
    if not is_gist(resource):
        if primary:
            shown = ", ".join(f"{s}|{c}" for s, c in codings(resource.get("code"))) or "no code"
            ctx.review(source, f"primary cancer condition is not a GIST ({shown})")
        else:
            ctx.not_used(source, "not a cancer condition")
        return
    status = {c for _, c in codings(resource.get("verificationStatus"))}
    histologic = has_histologic_evidence(resource)
    if histologic:
        _condition_biopsy(ctx, source, status)
    if status & {"refuted", "entered-in-error"}:
        if not (histologic and "refuted" in status and "entered-in-error" not in status):
            reason = f"GIST condition with verificationStatus {', '.join(sorted(status))}"
            if "entered-in-error" in status:
                reason += ": an erroneous record is not a not-GIST biopsy result; check by hand"
            ctx.review(source, reason)
        return
    day = day_of(resource.get("onsetDateTime")) or day_of(resource.get("recordedDate"))
    if day is None:
        ctx.review(source, "GIST condition without onsetDateTime or recordedDate (to the day)")
        return
    site = resolve_site(resource)
    if site is None:
        shown = ", ".join(f"{s}|{c}" for s, c in codings(resource.get("code")))
        ctx.review(source, f"site cannot be resolved ({shown}): add an ICD-O-3 or SNOMED bodySite")
        return
    patient = ctx.patient_of(source) or ""
    sizes = _clinical_sizes(ctx, source, patient)
    if not sizes:
        ctx.review(source, "GIST condition without a clinical TumorSize (21889-1): size is required")
        return
    measured = sizes[0]
    size, why = size_cm(ctx, measured)
    if size is None:
        ctx.review(measured, str(why))
        return
    data: dict[str, Any] = {"site": site, "size_cm": size}
    secondaries = [s for s in ctx.of_patient(patient, "Condition") if is_secondary(s)]
    early = [s for s in secondaries if (effective_day(s.resource) or dt.date.max) <= day]
    if early:
        data["metastatic"] = True
    method = next((t.DIAGNOSIS_METHODS[c] for s, c in codings(measured.resource.get("method"))
                   if s == t.SNOMED and c in t.DIAGNOSIS_METHODS), None)  # fmt: skip
    if method:
        data["method"] = method
    ctx.event(source, "diagnosis", day, data, also=[measured, *early])


def _clinical_sizes(ctx: Context, condition: Source, patient: str) -> list[Source]:
    """Clinical (not pathology) TumorSizes: those whose focus is this Condition, else the patient's."""
    sizes = [
        s
        for s in ctx.of_patient(patient, "Observation")
        if has_code(s.resource.get("code"), t.LOINC, t.TUMOR_SIZE.code) and not is_pathology_size(s)
    ]
    focused = [s for s in sizes if any(ctx.resolve(f) is condition for f in s.resource.get("focus", []))]
    chosen = focused or sizes
    return sorted(chosen, key=lambda s: effective_day(s.resource) or dt.date.max)


def _metastasis(ctx: Context, source: Source) -> None:
    day = effective_day(source.resource)
    if day is None:
        ctx.review(source, "metastasis without onsetDateTime or recordedDate (to the day)")
        return
    related = extension(source.resource, RELATED_EXT)
    primary = ctx.resolve(related.get("valueReference")) if related else None
    if primary is not None and not is_gist(primary.resource):
        ctx.review(source, f"metastasis of a non-GIST primary ({primary.reference})")
        return
    sites: list[str] = []
    for concept in [*concepts(source.resource.get("bodySite")), source.resource.get("code")]:
        for pair in codings(concept):
            name = t.METASTASIS_SITES.get(pair)
            if name and name not in sites:
                sites.append(name)
    ctx.event(source, "metastasis", day, {"sites": sites} if sites else {})


def map_pathology_report(ctx: Context, source: Source) -> None:
    """DiagnosticReport 22637-3 with a pathology TumorSize and a mitotic count among its results."""
    resource = source.resource
    day = effective_day(resource)
    results = [r for r in (ctx.resolve(ref) for ref in resource.get("result", [])) if r is not None]
    size_obs = next(
        (r for r in results if has_code(r.resource.get("code"), t.LOINC, t.TUMOR_SIZE.code)), None
    )
    mitosis_obs = next((r for r in results if is_mitotic_count(r)), None)
    if day is None or size_obs is None or mitosis_obs is None:
        ctx.review(source, "pathology report needs effectiveDateTime, a TumorSize and a mitotic count result")
        return
    size, why = size_cm(ctx, size_obs)
    mitoses, why_m = mitoses_per_5mm2(mitosis_obs)
    if size is None or mitoses is None:
        ctx.review(source, str(why or why_m))
        return
    data: dict[str, Any] = {"size_cm": size, "mitoses_per_5mm2": mitoses}
    site = resolve_site({"bodySite": size_obs.resource.get("bodySite")})
    if site:
        data["site"] = site
    used = [size_obs, mitosis_obs]
    specimen = ctx.resolve(size_obs.resource.get("specimen")) or next(
        (s for s in (ctx.resolve(r) for r in resource.get("specimen", [])) if s is not None), None
    )
    if specimen is not None:
        for container in specimen.resource.get("container", []):
            for system, code in codings(container.get("additiveCodeableConcept")):
                if system == t.LOCAL and code in t.FIXATIVES:
                    data["fixative"] = t.FIXATIVES[code]
                    used.append(specimen)
    ctx.event(source, "pathology", day, data, also=used)


def is_mitotic_count(source: Source) -> bool:
    code = source.resource.get("code")
    return has_code(code, t.LOCAL, t.MITOTIC_COUNT.code) or has_code(code, t.SNOMED, t.MITOSES_PER_10HPF.code)


def mitoses_per_5mm2(source: Source) -> tuple[int | None, str | None]:
    """Count per 5 mm² (50 HPF taken as 5 mm²); per 10 HPF is never converted."""
    resource = source.resource
    if has_code(resource.get("code"), t.SNOMED, t.MITOSES_PER_10HPF.code):
        return None, "mitotic count per 10 HPF: cannot be converted to per 5 mm² safely"
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, Mapping) or not isinstance(quantity.get("value"), int | float):
        return None, "mitotic count without valueQuantity"
    area = t.MITOSIS_AREAS.get(str(quantity.get("code") or quantity.get("unit")))
    if area != "5mm2":
        return (
            None,
            f"mitotic count unit {quantity.get('code') or quantity.get('unit')!r}: need a count per 5 mm²",
        )
    value = float(quantity["value"])
    if not value.is_integer():
        return None, f"mitotic count {value:g} is not a whole number"
    return int(value), None


def has_histologic_evidence(condition: Mapping[str, Any]) -> bool:
    """``evidence.code`` names a histologic test (SNOMED 714797009)."""
    return any(
        has_code(concept, t.SNOMED, t.HISTOLOGIC_TEST.code)
        for evidence in condition.get("evidence", [])
        if isinstance(evidence, Mapping)
        for concept in concepts(evidence.get("code"))
    )


def _condition_biopsy(ctx: Context, source: Source, status: set[str]) -> None:
    """A biopsy result from a GIST Condition with histologic evidence (fhir-mapping.md §1.1).

    ``confirmed`` → gist, ``refuted`` → not_gist; any other status gives no result. The day is
    the earliest day of the evidence ``detail`` resources in the import, else the Condition's
    onset or recorded day. Whether it agrees with a local biopsy-result Observation is checked
    once everything is read (``importer``).
    """
    resource = source.resource
    if status & {"entered-in-error"} or len(status & {"confirmed", "refuted"}) != 1:
        return
    result = "gist" if "confirmed" in status else "not_gist"
    details = [
        found
        for evidence in resource.get("evidence", [])
        if isinstance(evidence, Mapping)
        for ref in evidence.get("detail", [])
        if (found := ctx.resolve(ref)) is not None
    ]
    days = [d for s in details if (d := effective_day(s.resource)) is not None]
    day = (
        min(days, default=None)
        or day_of(resource.get("onsetDateTime"))
        or day_of(resource.get("recordedDate"))
    )
    if day is None:
        ctx.review(
            source, f"histologic {result} result without a day (evidence detail, onset or recordedDate)"
        )
        return
    ctx.event(source, "biopsy", day, {"result": result}, also=details)


def biopsy_result_of(source: Source) -> str | None:
    """The contract result of a local biopsy-result Observation (None when it has none)."""
    return next((t.BIOPSY_RESULTS[c] for s, c in codings(source.resource.get("valueCodeableConcept"))
                 if s == t.LOCAL and c in t.BIOPSY_RESULTS), None)  # fmt: skip


def map_biopsy_result(ctx: Context, source: Source) -> None:
    resource = source.resource
    day = effective_day(resource)
    result = biopsy_result_of(source)
    if day is None or result is None:
        ctx.review(source, "biopsy result needs effectiveDateTime and a gist/not-gist/inadequate value")
        return
    data: dict[str, Any] = {"result": result}
    for component in resource.get("component", []):
        for system, code in codings(component.get("code")):
            if (
                system == t.LOCAL
                and code in ("cd117", "dog1")
                and isinstance(component.get("valueBoolean"), bool)
            ):
                data[code] = component["valueBoolean"]
    ctx.event(source, "biopsy", day, data)
