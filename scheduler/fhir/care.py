"""Encounter, ClinicalImpression, EpisodeOfCare, Patient → visit, mdt_review, follow_up_ended.

An Encounter counts only when it is ``finished`` and its ``type`` carries one of our local codes
(``clinic_visit``, ``skin_exam``, ``mdt_review``: the codes the export writes on the matching
reminders). An MDT review reads the ClinicalImpression whose ``encounter`` is that Encounter:
``summary`` is the decision (R4 Encounter has no note), a local ``finding`` code the outcome.
The follow-up ends with a ``finished`` EpisodeOfCare (``period.end``, the reason in a local
extension) or a Patient's ``deceasedDateTime``; a finished episode without a reason is held for
review, never read as an end.
"""

from __future__ import annotations

from typing import Any

from scheduler.fhir import terminology as t
from scheduler.fhir.bundle import Source
from scheduler.fhir.context import Context, codings, day_of, extension

DECISION_MAX_CHARS = 500
IN_ERROR = "entered-in-error"


def _local_types(source: Source) -> list[str]:
    found = [c for concept in source.resource.get("type", []) for s, c in codings(concept) if s == t.LOCAL]
    return [c for c in found if c in (*t.VISIT_KINDS, t.MDT_REVIEW.code)]


def map_encounter(ctx: Context, source: Source) -> None:
    resource = source.resource
    kinds = _local_types(source)
    if not kinds:
        ctx.not_used(source, "not a follow-up visit (no clinic_visit, skin_exam or mdt_review type)")
        return
    status = resource.get("status")
    if status in (IN_ERROR, "unknown"):
        ctx.review(source, f"visit with status {status!r}: an earlier version may have been imported")
        return
    if status != "finished":
        ctx.not_used(source, f"visit not held yet (status {status!r})")
        return
    day = day_of(resource.get("period", {}).get("start"))
    if day is None:
        ctx.review(source, "finished visit without period.start (to the day)")
        return
    visits = sorted({k for k in kinds if k in t.VISIT_KINDS})
    if len(visits) > 1:
        ctx.review(source, f"one Encounter typed as {' and '.join(visits)}: send one Encounter per kind")
    elif visits:
        ctx.event(source, "visit", day, {"kind": visits[0]})
    if t.MDT_REVIEW.code in kinds:
        _mdt_review(ctx, source, day)


def _mdt_review(ctx: Context, encounter: Source, day: Any) -> None:
    impressions = [
        s for s in ctx.sources
        if s.type == "ClinicalImpression" and ctx.resolve(s.resource.get("encounter")) is encounter
        and s.resource.get("status") != IN_ERROR
    ]  # fmt: skip
    if len(impressions) > 1:
        ctx.review(encounter, "MDT review with several ClinicalImpressions: which one holds the decision?")
        return
    data: dict[str, Any] = {}
    if impressions:
        impression = impressions[0].resource
        summary = str(impression.get("summary") or "").strip()
        if summary:
            data["decision"] = (
                summary if len(summary) <= DECISION_MAX_CHARS else summary[: DECISION_MAX_CHARS - 1] + "…"
            )
        outcomes = sorted({o for o in (_outcome(f) for f in impression.get("finding", [])) if o})
        if len(outcomes) > 1:
            ctx.review(impressions[0], f"MDT review with several outcomes ({', '.join(outcomes)})")
            return
        if outcomes:
            data["outcome"] = outcomes[0]
    ctx.event(encounter, "mdt_review", day, data, also=impressions)


def _outcome(finding: Any) -> str | None:
    return next(
        (t.MDT_OUTCOMES[c] for s, c in codings(finding.get("itemCodeableConcept")) if s == t.LOCAL
         and c in t.MDT_OUTCOMES),
        None,
    )  # fmt: skip


def map_clinical_impression(ctx: Context, source: Source) -> None:
    """Read by its MDT Encounter; an MDT outcome whose Encounter is not in the import is reviewed."""
    encounter = ctx.resolve(source.resource.get("encounter"))
    if (
        encounter is not None
        and encounter.type == "Encounter"
        and t.MDT_REVIEW.code in _local_types(encounter)
    ):
        return
    if any(_outcome(f) for f in source.resource.get("finding", [])):
        ctx.review(source, "MDT outcome without its mdt_review Encounter in this import")
    else:
        ctx.not_used(source, "not linked to an MDT review Encounter")


def map_episode(ctx: Context, source: Source) -> None:
    """A finished EpisodeOfCare ends the follow-up (its start is read by the registration)."""
    resource = source.resource
    status = resource.get("status")
    if status == IN_ERROR:
        ctx.review(source, "episode of care entered in error: an earlier version may have been imported")
        return
    if status != "finished":
        ctx.not_used(source, f"episode of care {status}: not an end of follow-up")
        return
    end = day_of(resource.get("period", {}).get("end"))
    ext = extension(resource, t.EXT_END_REASON)
    reason = next(
        (c for s, c in codings(ext.get("valueCodeableConcept") if ext else None)
         if s == t.LOCAL and c in t.END_REASONS),
        None,
    )  # fmt: skip
    if end is None or reason is None:
        ctx.review(
            source,
            "finished episode of care needs period.end and an end-reason extension "
            f"({', '.join(t.END_REASONS)}) to end the follow-up",
        )
        return
    ctx.event(source, "follow_up_ended", end, {"reason": reason})


def map_patient(ctx: Context, source: Source) -> None:
    """``deceasedDateTime`` ends the follow-up; ``deceasedBoolean`` alone has no day: reviewed."""
    resource = source.resource
    if "deceasedDateTime" in resource:
        day = day_of(resource["deceasedDateTime"])
        if day is None:
            ctx.review(source, "deceasedDateTime is not a full date")
        else:
            ctx.event(source, "follow_up_ended", day, {"reason": "deceased"})
    elif resource.get("deceasedBoolean") is True:
        ctx.review(source, "patient deceased without deceasedDateTime: the follow-up end needs a day")


def map_administration(ctx: Context, source: Source) -> None:
    ctx.review(
        source,
        "a MedicationAdministration records one dose; therapy starts, changes and stops are read "
        "from MedicationRequest: check the therapy is recorded",
    )
