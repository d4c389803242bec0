"""Observation → lab_result, mutation, progression (and dispatch of the GIST-local codes).

Labs are matched by LOINC code; value and upper limit of normal are converted into the contract's
unit by an explicit table (``terminology.LABS``), and held for review when a unit is unknown, the
two cannot be brought to one unit, the liver tests lack a ULN, or a value is implausible.
Genomic variants read the gene from the HGNC code (never the display). An SDHB immunostain is
always held for review: it is a tumour marker test, not a variant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import Source
from scheduler.fhir.conditions import is_mitotic_count, map_biopsy_result
from scheduler.fhir.context import Context, codings, effective_day, has_code
from scheduler.fhir.treatments import map_rupture

AMINO = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*",
}  # fmt: skip
_HGVS_SUBSTITUTION = re.compile(r"p\.\(?([A-Z][a-z]{2})(\d+)([A-Z][a-z]{2})\)?")
_EXON = re.compile(r"exon\s*(\d+)", re.IGNORECASE)


def map_observation(ctx: Context, source: Source) -> None:
    code = source.resource.get("code")
    if has_code(code, t.LOINC, t.TUMOR_SIZE.code) or is_mitotic_count(source):
        return  # read by the diagnosis or pathology report; unread ones are reviewed at the end
    if has_code(code, t.LOCAL, t.BIOPSY_RESULT.code):
        map_biopsy_result(ctx, source)
    elif has_code(code, t.LOCAL, t.RUPTURE.code):
        map_rupture(ctx, source)
    elif has_code(code, t.LOINC, t.VARIANT.code):
        map_variant(ctx, source)
    elif is_sdhb_ihc(source):
        map_sdhb_ihc(ctx, source)
    elif has_code(code, t.LOINC, t.DISEASE_STATUS.code):
        map_disease_status(ctx, source)
    elif any(s == t.LOINC and c in t.LABS for s, c in codings(code)):
        map_lab(ctx, source)
    elif "partOf" in source.resource:
        return  # e.g. a margin Observation, read with its Procedure
    else:
        ctx.not_used(source, "not an input of the GIST follow-up rules")


def _quantity(value: object, units: Mapping[str, float]) -> tuple[float | None, str]:
    if not isinstance(value, Mapping) or not isinstance(value.get("value"), int | float):
        return None, "no value"
    unit = str(value.get("code") or value.get("unit"))
    if unit not in units:
        return None, f"unit {unit!r} (expected one of {', '.join(units)})"
    return float(value["value"]) * units[unit], unit


def map_lab(ctx: Context, source: Source) -> None:
    resource = source.resource
    loinc = next(c for s, c in codings(resource.get("code")) if s == t.LOINC and c in t.LABS)
    test, units = t.LABS[loinc]
    day = effective_day(resource)
    if day is None:
        ctx.review(source, f"{test} result without effectiveDateTime (to the day)")
        return
    value, why = _quantity(resource.get("valueQuantity"), units)
    if value is None:
        ctx.review(source, f"{test} result: {why}")
        return
    if value > t.LAB_BOUNDS[test]:
        ctx.review(source, f"{test} result {value:g} is implausible in the expected unit: check the unit")
        return
    data: dict[str, Any] = {"test": test, "value": round(value, 4)}
    ranges = resource.get("referenceRange", [])
    high = ranges[0].get("high") if ranges else None
    if high is not None:
        uln, why = _quantity(high, units)
        if uln is None:
            ctx.review(source, f"{test} upper limit of normal: {why}")
            return
        data["uln"] = round(uln, 4)
    ctx.event(source, "lab_result", day, data)


def map_variant(ctx: Context, source: Source) -> None:
    resource = source.resource
    day = effective_day(resource)
    genes: list[str] = []
    unknown: list[str] = []
    exon: int | None = None
    variant: str | None = None
    for component in resource.get("component", []):
        ccode = component.get("code")
        if has_code(ccode, t.LOINC, t.GENE_STUDIED):
            for system, code in codings(component.get("valueCodeableConcept")):
                if system in t.HGNC_SYSTEMS:
                    (genes if code in t.GENES else unknown).append(t.GENES.get(code, code))
        elif has_code(ccode, t.LOINC, t.DNA_REGION):
            text = component.get("valueString") or (component.get("valueCodeableConcept") or {}).get(
                "text", ""
            )
            match = _EXON.search(str(text))
            exon = int(match.group(1)) if match else exon
        elif has_code(ccode, t.LOINC, t.PROTEIN_HGVS):
            variant = _short_hgvs(component.get("valueCodeableConcept"))
    value = {c for _, c in codings(resource.get("valueCodeableConcept"))}
    if day is None:
        ctx.review(source, "genomic variant without effectiveDateTime")
        return
    if t.ABSENT in value:
        if {"KIT", "PDGFRA"} <= set(genes):
            ctx.event(source, "mutation", day, {"gene": "wild_type"})
        else:
            ctx.review(source, "pertinent negative: wild type needs KIT and PDGFRA both absent in one result")
        return
    if len(genes) != 1 or unknown:
        shown = ", ".join(genes + unknown) or "no HGNC gene-studied component"
        ctx.review(source, f"genomic variant: expected one GIST gene, got {shown}")
        return
    data: dict[str, Any] = {"gene": genes[0]}
    if exon is not None:
        data["exon"] = exon
    if variant:
        data["variant"] = variant
    ctx.event(source, "mutation", day, data)


def _short_hgvs(concept: object) -> str | None:
    """p.Asp842Val → D842V (the short form the rules read); other HGVS text is kept as written."""
    if not isinstance(concept, Mapping):
        return None
    for coding in concept.get("coding", []):
        text = str(coding.get("code", ""))
        match = _HGVS_SUBSTITUTION.search(text)
        if match and match.group(1) in AMINO and match.group(3) in AMINO:
            return f"{AMINO[match.group(1)]}{match.group(2)}{AMINO[match.group(3)]}"
        if text:
            return text[:100]
    label = concept.get("text")
    return str(label)[:100] if label else None


def is_sdhb_ihc(source: Source) -> bool:
    """An SDHB immunostain: our local code, or the SDHB gene (HGNC) as the Observation's code."""
    code = source.resource.get("code")
    return has_code(code, t.SDHB_IHC.system, t.SDHB_IHC.code) or any(
        s in t.HGNC_SYSTEMS and c == t.SDHB_GENE for s, c in codings(code)
    )


def map_sdhb_ihc(ctx: Context, source: Source) -> None:
    """Always a review item: SDHB loss by IHC is not a variant, and its code is not verified.

    The contract's ``mutation`` with gene ``SDH`` is set from an SDHA–D variant (69548-6); a loss
    of SDHB staining suggests an SDH-deficient GIST but does not say which gene is altered.
    """
    why = "" if t.SDHB_IHC.verified else f"the code {t.SDHB_IHC.code} is not verified; "
    ctx.review(
        source,
        "SDHB immunohistochemistry (a tumour marker test, not a variant): "
        f"{why}not mapped to mutation SDH; record the SDHA–D variant result, or set SDH by hand",
    )


def map_disease_status(ctx: Context, source: Source) -> None:
    day = effective_day(source.resource)
    if has_code(source.resource.get("valueCodeableConcept"), t.SNOMED, t.WORSENED):
        if day is None:
            ctx.review(source, "disease status 'worsened' without effectiveDateTime")
            return
        ctx.event(source, "progression", day, {})
    else:
        ctx.not_used(source, "disease status other than worsened: not an event")
