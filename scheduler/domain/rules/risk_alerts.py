"""Risk after neoadjuvant therapy (clinical-rules §1, rule id ``risk.after_neoadjuvant``).

The specimen of a tumour treated before surgery understates its risk, so ``Case.risk`` takes the
larger of the specimen's and the pre-treatment size and count; this alert says so on the plan.
"""

from __future__ import annotations

import datetime as dt

from scheduler.domain.case import Case
from scheduler.domain.profile import Profile
from scheduler.domain.rules.base import ESMO, JOENSUU_2008, AlertRule, Finding, cite


def _after_neoadjuvant(case: Case, p: Profile, as_of: dt.date) -> Finding | None:
    course = case.neoadjuvant_before_resection()
    if course is None or case.pathology is None:
        return None
    return Finding("info", facts={"drug": course.drug, "start": course.start.isoformat()})


AFTER_NEOADJUVANT_ALERT = AlertRule(
    id="risk.after_neoadjuvant",
    code="risk_after_neoadjuvant",
    rationale="After neoadjuvant therapy the specimen understates the risk: use pre-treatment facts.",
    condition=_after_neoadjuvant,
    messages={
        "default": "Neoadjuvant {drug} from {start}: the risk tier rests on the larger of the pre-treatment "
        "and specimen size and mitotic count; a mitotic count after imatinib may understate the risk.",
    },
    citation=cite(JOENSUU_2008, ESMO),
)

ALERT_RULES = (AFTER_NEOADJUVANT_ALERT,)
