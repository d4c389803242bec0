"""Stage of the care pathway (clinical-rules §3, rule id ``stage``): first match wins."""

from __future__ import annotations

from scheduler.domain.case import Case
from scheduler.domain.model import Stage

_SMALL_TUMOUR_SITES = frozenset({"stomach", "duodenum"})


def stage_of(case: Case, small_tumour_cm: float = 2.0) -> Stage:
    if case.is_ended:
        return "ended"
    if case.is_advanced:
        return "advanced"
    neoadjuvant = adjuvant = False  # of the running courses (one loop: this runs every event day)
    for c in case.courses:
        if c.stop is None:
            neoadjuvant = neoadjuvant or c.setting == "neoadjuvant"
            adjuvant = adjuvant or c.adjuvant_from is not None
    if neoadjuvant:
        return "neoadjuvant"
    if case.is_resected:
        return "adjuvant" if adjuvant else "post_treatment_surveillance"
    if (
        case.diagnosis_site in _SMALL_TUMOUR_SITES
        and case.diagnosis_size_cm is not None
        and case.diagnosis_size_cm < small_tumour_cm
        and not case.is_gist_confirmed
    ):
        return "small_tumour_surveillance"
    return "workup"
