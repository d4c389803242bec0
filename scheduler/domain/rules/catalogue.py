"""Every rule of clinical-rules.md, in one index: the declarations of each family, and each rule
id's one-line rationale and citation (``RULES``) for the plan's readers, exports and tests.

Rule ids are part of reminder keys: never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.profile import DEFAULT_PROFILE
from scheduler.domain.rules import adjuvant, advanced, monitoring, risk_alerts, surveillance, workup
from scheduler.domain.rules.base import ESMO, JOENSUU_2008, MIETTINEN_2006, AlertRule, SeriesRule, render

# Reminder rules in evaluation order: a rule that replaces another's items comes after it.
SERIES_RULES: tuple[SeriesRule, ...] = (
    *workup.SERIES_RULES,
    *adjuvant.SERIES_RULES,
    *surveillance.SERIES_RULES,
    *advanced.SERIES_RULES,
    *monitoring.SERIES_RULES,
)

ALERT_RULES: tuple[AlertRule, ...] = (
    *workup.ALERT_RULES,
    *risk_alerts.ALERT_RULES,
    *adjuvant.ALERT_RULES,
    *surveillance.ALERT_RULES,
    *advanced.ALERT_RULES,
    *monitoring.ALERT_RULES,
)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    rationale: str
    citation: str


_OTHER_RULES = (
    Rule("risk.nih_modified", "Modified NIH consensus risk of recurrence after resection.", JOENSUU_2008),
    Rule("risk.afip", "AFIP risk of progression by size, mitoses and site.", MIETTINEN_2006),
    Rule("stage", "Where the patient is on the care pathway.", ESMO),
    Rule("advanced.lines", "Lines of treatment: imatinib, sunitinib, regorafenib, ripretinib.", ESMO),
    Rule("completion", "Which events fulfil which reminders.", ESMO),
)


def _index() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for series_rule in SERIES_RULES:
        message = render(series_rule.message, DEFAULT_PROFILE)
        rules.setdefault(series_rule.id, Rule(series_rule.id, message, series_rule.citation))
    for alert_rule in ALERT_RULES:
        rules.setdefault(alert_rule.id, Rule(alert_rule.id, alert_rule.rationale, alert_rule.citation))
    for rule in _OTHER_RULES:
        rules.setdefault(rule.id, rule)
    return rules


RULES: dict[str, Rule] = _index()
