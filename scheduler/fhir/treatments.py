"""MedicationRequest/Statement → therapy events; Procedure → resection (and rupture).

Drugs are matched by RxNorm ingredient code only (the display is never read). Doses become
mg/day explicitly: dose × frequency ÷ period (``timing.repeat``), in mg or g; anything else is held
for review. The treatment setting (adjuvant, neoadjuvant, advanced) is a local extension because
mCODE's intent value set leaves it out on purpose: without it the request is held, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import Source
from scheduler.fhir.conditions import is_gist
from scheduler.fhir.context import Context, codings, day_of, effective_day, extension, has_code, profiles

MASS_TO_MG = {"mg": 1.0, "g": 1000.0}
PERIOD_DAYS = {"d": 1.0, "wk": 7.0, "h": 1 / 24}


def drug_of(resource: Mapping[str, Any]) -> str | None:
    for system, code in codings(resource.get("medicationCodeableConcept")):
        if system == t.RXNORM and code in t.DRUGS:
            return t.DRUGS[code].display
    return None


def daily_dose_mg(resource: Mapping[str, Any]) -> tuple[float | None, str | None]:
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    if isinstance(dosages, Mapping):
        dosages = [dosages]
    if len(dosages) != 1:
        return None, f"dose: expected one dosage instruction (got {len(dosages)})"
    dosage = dosages[0]
    rates = dosage.get("doseAndRate", [])
    quantity = rates[0].get("doseQuantity") if len(rates) == 1 else None
    if not isinstance(quantity, Mapping) or not isinstance(quantity.get("value"), int | float):
        return None, "dose: no single doseAndRate.doseQuantity"
    unit = str(quantity.get("code") or quantity.get("unit"))
    if unit not in MASS_TO_MG:
        return None, f"dose: unit {unit!r} is not mg or g"
    repeat = dosage.get("timing", {}).get("repeat", {})
    frequency, period, period_unit = (
        repeat.get("frequency", 1),
        repeat.get("period"),
        repeat.get("periodUnit"),
    )
    if period is None or period_unit not in PERIOD_DAYS:
        return None, "dose: timing.repeat needs period and periodUnit (h, d or wk) to give mg/day"
    per_day = (
        float(quantity["value"]) * MASS_TO_MG[unit] * frequency / (float(period) * PERIOD_DAYS[period_unit])
    )
    return round(per_day, 3), None


def setting_of(resource: Mapping[str, Any]) -> str | None:
    ext = extension(resource, t.EXT_SETTING)
    if ext is None:
        return None
    return next((t.SETTINGS[p] for p in codings(ext.get("valueCodeableConcept")) if p in t.SETTINGS), None)


def _bounds(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or [{}]
    dosage = dosages[0] if isinstance(dosages, list) else dosages
    bounds = dosage.get("timing", {}).get("repeat", {}).get("boundsPeriod", {})
    return bounds if isinstance(bounds, Mapping) else {}


def map_medication(ctx: Context, source: Source) -> None:
    resource = source.resource
    drug = drug_of(resource)
    if drug is None:
        shown = ", ".join(f"{s}|{c}" for s, c in codings(resource.get("medicationCodeableConcept")))
        ctx.review(source, f"drug not recognised by code ({shown or 'no medicationCodeableConcept'})")
        return
    status = resource.get("status")
    if status in ("entered-in-error", "cancelled", "draft", "not-taken", "unknown", "on-hold"):
        ctx.review(source, f"{drug} request with status {status!r}: not read as a start or stop")
        return
    bounds = _bounds(resource)
    start = (
        day_of(bounds.get("start"))
        or day_of(resource.get("authoredOn"))
        or day_of(resource.get("effectiveDateTime"))
    )
    if start is None:
        ctx.review(source, f"{drug}: no start day (boundsPeriod.start or authoredOn)")
        return
    dose, why = daily_dose_mg(resource)
    if dose is None:
        ctx.review(source, f"{drug}: {why}")
        return
    prior = ctx.resolve(resource.get("priorPrescription"))
    if "priorPrescription" in resource:
        if prior is not None and drug_of(prior.resource) != drug:
            ctx.review(source, f"{drug}: priorPrescription is another drug; send a stop and a start")
            return
        ctx.event(source, "dose_changed", start, {"drug": drug, "dose_mg": dose})
    else:
        setting = setting_of(resource)
        if setting is None:
            ctx.review(source, f"{drug}: no treatment-setting extension (adjuvant, neoadjuvant or advanced)")
            return
        ctx.event(source, "therapy_started", start, {"drug": drug, "dose_mg": dose, "setting": setting})
    if status in ("stopped", "completed") and _superseded(ctx, source):
        return  # replaced by a new dose (priorPrescription): the course goes on, nothing stopped
    if status in ("stopped", "completed"):
        end = day_of(bounds.get("end")) or day_of(resource.get("effectivePeriod", {}).get("end"))
        reason = (
            "completed"
            if status == "completed"
            else next(
                (
                    t.STOP_REASONS[c]
                    for s, c in codings(resource.get("statusReason"))
                    if s == t.SNOMED and c in t.STOP_REASONS
                ),
                None,
            )
        )
        if end is None or reason is None:
            ctx.review(source, f"{drug} {status}: needs boundsPeriod.end and a statusReason we know")
            return
        ctx.event(source, "therapy_stopped", end, {"drug": drug, "reason": reason})


def _superseded(ctx: Context, source: Source) -> bool:
    return any(
        other.type == source.type and ctx.resolve(other.resource.get("priorPrescription")) is source
        for other in ctx.sources
    )


def map_procedure(ctx: Context, source: Source) -> None:
    resource = source.resource
    local_code = next(
        (c for s, c in codings(resource.get("code")) if s == t.LOCAL and c in t.APPROACHES), None
    )
    surgical = t.SURGICAL_PROCEDURE_PROFILE in profiles(source)
    reasons = [ctx.resolve(r) for r in resource.get("reasonReference", [])]
    for_gist = any(r is not None and r.type == "Condition" and is_gist(r.resource) for r in reasons)
    if local_code is None and not surgical:
        ctx.not_used(source, "not a cancer-related surgical procedure")
        return
    if local_code is None and not for_gist:
        ctx.review(source, "cancer surgery not linked to a GIST Condition (reasonReference)")
        return
    day = effective_day(resource)
    if day is None or resource.get("status") != "completed":
        ctx.review(source, "resection must be completed with performedDateTime/performedPeriod.start")
        return
    margin_sources = [
        s for s in ctx.sources
        if s.type == "Observation" and any(ctx.resolve(p) is source for p in s.resource.get("partOf", []))
    ]  # fmt: skip
    margin = None
    for concept in [
        resource.get("outcome"),
        *(s.resource.get("valueCodeableConcept") for s in margin_sources),
    ]:
        margin = margin or next(
            (t.MARGINS[c] for s, c in codings(concept) if s == t.SNOMED and c in t.MARGINS), None
        )
    if margin is None:
        ctx.review(
            source, "resection without a residual-tumour class (R0/R1/R2) in outcome or a margin Observation"
        )
        return
    data: dict[str, Any] = {"margin": margin}
    if local_code:
        data["approach"] = t.APPROACHES[local_code]
    intent = extension(resource, t.EXT_PROCEDURE_INTENT)
    if intent is not None:
        if has_code(intent.get("valueCodeableConcept"), t.SNOMED, t.CURATIVE):
            data["intent"] = "curative"
        else:
            ctx.review(source, "procedure intent other than curative: is it cytoreductive? (left out)")
    ctx.event(source, "resection", day, data, also=margin_sources)
    for complication in resource.get("complication", []):
        if has_code(complication, t.LOCAL, t.RUPTURE.code):
            ctx.event(source, "rupture", day, {"context": "intraoperative"})


def map_rupture(ctx: Context, source: Source) -> None:
    day = effective_day(source.resource)
    if day is None:
        ctx.review(source, "tumour rupture without effectiveDateTime")
        return
    context = next((t.RUPTURE_CONTEXTS[c] for s, c in codings(source.resource.get("valueCodeableConcept"))
                    if s == t.LOCAL and c in t.RUPTURE_CONTEXTS), None)  # fmt: skip
    ctx.event(source, "rupture", day, {"context": context} if context else {})
