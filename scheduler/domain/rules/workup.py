"""Work-up rules (clinical-rules §3–§4): from a tumour found to tissue, MDT review and mutation test.

One-offs are due ``oneoff_due_days`` after their trigger with a ``oneoff_window_days`` window; a
resection ends every work-up series (rectal, small-tumour, tissue, unresected rupture).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from scheduler.domain.case import GROWTH_ON_EUS, Case
from scheduler.domain.profile import Profile
from scheduler.domain.rules.base import (
    ADVANCED_ONSET,
    ESMO,
    NCCN,
    OSLO,
    SEED_SUMMARY,
    STARTS_AND_STOPS,
    TUMOUR_FACTS,
    AlertRule,
    Finding,
    Opening,
    SeriesRule,
    cite,
    on,
    on_field,
)
from scheduler.domain.series import Series
from scheduler.domain.stage import SMALL_TUMOUR_SITES, stage_of

EUS_SCAN = on_field("imaging", "modality", "eus")
GIST_BIOPSY = on_field("biopsy", "result", "gist")
RESECT_DECISION = on_field("mdt_review", "outcome", "resect")


def _resected(case: Case, profile: Profile, series: Series) -> bool:
    return case.is_resected


# ---- workup.rectal ---------------------------------------------------------------------------------


def needs_rectal_tissue(case: Case) -> bool:
    """A rectal tumour without tissue or resection, not advanced."""
    return (
        case.has_tumour
        and case.tumour_site() == "rectum"
        and not case.has_tissue
        and not case.is_resected
        and not case.is_advanced
    )


def _rectal(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if needs_rectal_tissue(case):
        for kind in ("eus", "mri", "biopsy"):
            yield Opening(kind, None, "rectal tumour without tissue")


RECTAL = SeriesRule(
    id="workup.rectal",
    kinds=("eus", "mri", "biopsy"),
    triggers=(*TUMOUR_FACTS, *ADVANCED_ONSET),
    condition=_rectal,
    schedule=lambda p, o: p.oneoff,
    ends=_resected,
    message="Rectal GIST of any size: surveillance is inappropriate; biopsy or excise after endorectal "
    "ultrasound and pelvic MRI.",
    citation=ESMO,
)

RECTAL_ALERT = AlertRule(
    id="workup.rectal",
    code="rectal_tumour_needs_tissue",
    rationale="Rectal GIST of any size: surveillance is inappropriate.",
    condition=lambda case, p, as_of: Finding("warning") if needs_rectal_tissue(case) else None,
    messages={
        "default": "Rectal tumour without tissue diagnosis: surveillance is inappropriate. Recommend "
        "endorectal ultrasound and pelvic MRI, then biopsy or excision, whatever the size.",
    },
    citation=ESMO,
)

# ---- workup.small_gastric -------------------------------------------------------------------------


def small_nodule(case: Case, p: Profile) -> bool:
    """The latest diagnosis is a gastric or duodenal nodule under the management threshold."""
    diagnosis = case.diagnosis
    return (
        diagnosis is not None
        and diagnosis[1].site in SMALL_TUMOUR_SITES
        and diagnosis[1].size_cm < p.small_tumour_cm
    )


def _grew_since_diagnosis(case: Case) -> bool:
    diagnosis = case.diagnosis
    return case.eus_growth_on is not None and diagnosis is not None and case.eus_growth_on >= diagnosis[0]


def _eus_since_diagnosis(case: Case) -> bool:
    """A diagnosis made by EUS, or an EUS on or after the diagnosis day (the initial EUS)."""
    diagnosis = case.diagnosis
    if diagnosis is None:
        return False
    last_eus = case.last_done.get("eus")
    return diagnosis[1].method == "eus" or (last_eus is not None and last_eus >= diagnosis[0])


def _under_eus_surveillance(case: Case, p: Profile) -> bool:
    return stage_of(case, p) == "small_tumour_surveillance" and not _grew_since_diagnosis(case)


def _small_gastric_chain(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if _under_eus_surveillance(case, p) and _eus_since_diagnosis(case):
        yield Opening("eus", None, "small gastric/duodenal nodule under EUS surveillance")


SMALL_GASTRIC = SeriesRule(
    id="workup.small_gastric",
    kinds=("eus",),
    triggers=(*TUMOUR_FACTS, *ADVANCED_ONSET, *STARTS_AND_STOPS, EUS_SCAN),
    condition=_small_gastric_chain,
    schedule=lambda p, o: p.small_gastric_eus,
    message="Gastric/duodenal nodule < {small_tumour_cm:g} cm without tissue: EUS at 3 months, then "
    "every 6–12 months; growth means resection.",
    citation=ESMO,
)


def _initial_eus(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    diagnosis = case.diagnosis
    if diagnosis is not None and _under_eus_surveillance(case, p) and diagnosis[1].method != "eus":
        yield Opening("eus", diagnosis[0], "small nodule found without EUS")


def _eus_series_ended(case: Case, p: Profile, series: Series) -> bool:
    return not _under_eus_surveillance(case, p)


SMALL_GASTRIC_INITIAL = SeriesRule(
    id="workup.small_gastric_initial",
    kinds=("eus",),
    triggers=(*TUMOUR_FACTS, *ADVANCED_ONSET, *STARTS_AND_STOPS, EUS_SCAN),
    condition=_initial_eus,
    schedule=lambda p, o: p.oneoff,
    ends=_eus_series_ended,
    message="Gastric/duodenal nodule < {small_tumour_cm:g} cm found without EUS: an initial EUS "
    "assessment comes first; surveillance then counts from it.",
    citation=cite(ESMO, SEED_SUMMARY),
)


def _small_gastric_review(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    """An EUS showing growth, or a biopsy showing GIST, today, in a small nodule not yet resected."""
    diagnosis = case.diagnosis
    if diagnosis is None or not small_nodule(case, p) or case.is_resected or case.is_advanced:
        return
    if case.pathology is not None or day < diagnosis[0]:
        return
    if case.eus_growth_on == day:
        yield Opening("mdt_review", day, "EUS shows growth: resection is the default")
    elif any(when == day and b.result == "gist" for when, b in case.biopsies) and not any(
        when < day and b.result == "gist" for when, b in case.biopsies
    ):
        yield Opening("mdt_review", day, "biopsy shows GIST: resection is the default")


SMALL_GASTRIC_REVIEW = SeriesRule(
    id="workup.small_gastric",
    kinds=("mdt_review",),
    triggers=(on_field("imaging", "result", *GROWTH_ON_EUS), GIST_BIOPSY, *on("resection")),
    condition=_small_gastric_review,
    schedule=lambda p, o: p.oneoff,
    ends=_resected,
    message="Gastric/duodenal nodule < {small_tumour_cm:g} cm without tissue: EUS at 3 months, then "
    "every 6–12 months; growth means resection.",
    citation=ESMO,
)

# ---- workup.confirmed -----------------------------------------------------------------------------


def _confirmed(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    """A biopsy showing GIST today, in a tumour not resected, not advanced, no neoadjuvant course."""
    biopsy_today = any(when == day and b.result == "gist" for when, b in case.biopsies)
    if biopsy_today and not case.is_resected and not case.is_advanced and case.running_neoadjuvant() is None:
        yield Opening("mdt_review", day, "biopsy confirms GIST: resection is the default")


CONFIRMED = SeriesRule(
    id="workup.confirmed",
    kinds=("mdt_review",),
    triggers=(GIST_BIOPSY, *on("resection")),
    condition=_confirmed,
    schedule=lambda p, o: p.oneoff,
    ends=_resected,
    message="GIST confirmed on biopsy: the MDT plans resection (the default when biopsy confirms GIST).",
    citation=cite(ESMO, SEED_SUMMARY),
    covered_by_open_review=True,
)

# ---- workup.tissue --------------------------------------------------------------------------------


def _resect_decided(case: Case) -> bool:
    """An MDT decided to resect (since the disease became advanced, for advanced disease)."""
    since = case.advanced_since
    return any(outcome == "resect" and (since is None or day >= since) for day, outcome in case.mdt_reviews)


def _lacks_tissue(case: Case, p: Profile) -> bool:
    """Any tumour other than a small nodule under surveillance or a rectal one (which has its own
    rule), without tissue and not resected; advanced disease included (tissue before a TKI)."""
    if not case.has_tumour or case.has_tissue or case.is_resected:
        return False
    if stage_of(case, p) == "small_tumour_surveillance":
        return False
    return not (case.tumour_site() == "rectum" and not case.is_advanced)


def _tissue(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if _lacks_tissue(case, p) and not _resect_decided(case):
        yield Opening("biopsy", None, "tumour without tissue diagnosis")


def _tissue_obtained_or_resection_decided(case: Case, p: Profile, series: Series) -> bool:
    return case.is_resected or case.pathology is not None or _resect_decided(case)


TISSUE = SeriesRule(
    id="workup.tissue",
    kinds=("biopsy",),
    triggers=(*TUMOUR_FACTS, *ADVANCED_ONSET, *STARTS_AND_STOPS, RESECT_DECISION),
    condition=_tissue,
    schedule=lambda p, o: p.oneoff,
    ends=_tissue_obtained_or_resection_decided,
    message="Tissue must confirm GIST (CD117/DOG1) before resection planning or a TKI: tissue, or an "
    "MDT decision to resect (biopsy or excision).",
    citation=ESMO,
)


def _tissue_review(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if _lacks_tissue(case, p) and not case.is_advanced:
        yield Opening("mdt_review", None, "tumour without tissue diagnosis")


TISSUE_REVIEW = SeriesRule(
    id="workup.tissue",
    kinds=("mdt_review",),
    triggers=(*TUMOUR_FACTS, *ADVANCED_ONSET, *STARTS_AND_STOPS),
    condition=_tissue_review,
    schedule=lambda p, o: p.oneoff,
    ends=_resected,
    message="The MDT plans the work-up of a tumour without tissue (biopsy, or resection when a "
    "biopsy is not needed).",
    citation=ESMO,
)

# ---- workup.mutation ------------------------------------------------------------------------------


def lacks_mutation_analysis(case: Case) -> bool:
    return case.is_gist_confirmed and not case.has_mutation


def mutation_test_optional(case: Case, p: Profile) -> bool:
    """The exception: a tumour < 2 cm outside the rectum (info alert only, no reminder)."""
    return case.small_tumour(p.small_tumour_cm) and case.tumour_site() != "rectum"


def _mutation(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    if lacks_mutation_analysis(case) and not mutation_test_optional(case, p):
        yield Opening("mutation_test", None, "GIST confirmed, no KIT/PDGFRA result")


MUTATION = SeriesRule(
    id="workup.mutation",
    kinds=("mutation_test",),
    triggers=(*TUMOUR_FACTS, *on("mutation")),
    condition=_mutation,
    schedule=lambda p, o: p.oneoff,
    message="KIT/PDGFRA mutational analysis is standard: it confirms the diagnosis, predicts drug "
    "sensitivity and guides dose.",
    citation=cite(ESMO, NCCN),
)


def _mutation_missing(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    if not lacks_mutation_analysis(case):
        return None
    return Finding("info", "optional") if mutation_test_optional(case, p) else Finding("warning")


MUTATION_ALERT = AlertRule(
    id="workup.mutation",
    code="mutation_analysis_missing",
    rationale="KIT/PDGFRA mutational analysis is standard.",
    condition=_mutation_missing,
    messages={
        "default": "GIST confirmed but no KIT/PDGFRA mutational analysis on record: request it (it "
        "guides adjuvant therapy, drug choice and dose).",
        "optional": "No KIT/PDGFRA result; for a GIST under {small_tumour_cm:g} cm outside the rectum "
        "mutational analysis is optional, as medical treatment is unlikely to be needed.",
    },
    citation=cite(ESMO, NCCN),
)

# ---- workup.bouin ---------------------------------------------------------------------------------

BOUIN_ALERT = AlertRule(
    id="workup.bouin",
    code="bouin_fixative",
    rationale="Bouin fixative prevents molecular analysis; ask for formalin-fixed material.",
    condition=lambda case, p, as_of: Finding("warning") if case.has_bouin and not case.has_mutation else None,
    messages={
        "default": "Specimen fixed in Bouin's solution: molecular analysis may fail. Ask pathology for "
        "formalin-fixed material.",
    },
    citation=ESMO,
)

# ---- workup.rupture_unresected --------------------------------------------------------------------


def _rupture_before_surgery(case: Case, p: Profile, day: dt.date) -> Iterator[Opening]:
    first_resection = case.first_resection_on
    if day in case.ruptures and (first_resection is None or first_resection > day):
        yield Opening("mdt_review", day, "tumour ruptured before surgery")


RUPTURE_UNRESECTED = SeriesRule(
    id="workup.rupture_unresected",
    kinds=("mdt_review",),
    triggers=on("rupture", "resection"),
    condition=_rupture_before_surgery,
    schedule=lambda p, o: p.oneoff_after_days(p.rupture_review_due_days),
    ends=_resected,
    message="A ruptured tumour before surgery needs prompt MDT review.",
    citation=OSLO + "; " + ESMO,
)

SERIES_RULES = (
    RECTAL,
    SMALL_GASTRIC_INITIAL,
    SMALL_GASTRIC,
    SMALL_GASTRIC_REVIEW,
    CONFIRMED,
    TISSUE,
    TISSUE_REVIEW,
    MUTATION,
    RUPTURE_UNRESECTED,
)
ALERT_RULES = (RECTAL_ALERT, MUTATION_ALERT, BOUIN_ALERT)
