"""Stage of the care pathway (clinical-rules §3, rule id ``stage``): first match wins."""

from __future__ import annotations

from scheduler.domain.case import Case
from scheduler.domain.model import Stage
from scheduler.domain.profile import Profile

SMALL_TUMOUR_SITES = frozenset({"stomach", "duodenum"})


def stage_of(case: Case, profile: Profile) -> Stage:
    return case.remember(("stage", profile.small_tumour_cm), lambda: _stage(case, profile))


def _stage(case: Case, profile: Profile) -> Stage:
    if case.is_ended:
        return "ended"
    if case.is_advanced:
        return "advanced"
    if case.running_neoadjuvant() is not None:
        return "neoadjuvant"
    if case.is_resected:
        return "adjuvant" if case.running_adjuvant() is not None else "post_treatment_surveillance"
    diagnosis = case.diagnosis
    if (
        diagnosis is not None
        and diagnosis[1].site in SMALL_TUMOUR_SITES
        and diagnosis[1].size_cm < profile.small_tumour_cm
        and not case.is_gist_confirmed
    ):
        return "small_tumour_surveillance"
    return "workup"
