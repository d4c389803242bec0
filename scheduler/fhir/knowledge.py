"""The rule catalogue as FHIR knowledge artefacts: one PlanDefinition per profile + ActivityDefinitions.

Generated from ``RULES`` (id, rationale, citation only): each rule is one ``action`` whose ``id`` is
the rule id (so every rule a plan names resolves to an action), with its rationale as the
description and its citation in ``documentation`` (R4 has no ``action.relatedArtifact``); every
distinct citation also appears once in the top-level ``relatedArtifact``. Shareable, not computable:
the rules run in Python, so there is no CQL.
"""

from __future__ import annotations

from typing import Any, Final

from scheduler.domain.rules.catalogue import RULES
from scheduler.fhir import terminology as t

PLAN_DEFINITION_URL: Final = f"{t.BASE}/PlanDefinition/gist-follow-up"


def plan_definition_canonical(profile: str) -> str:
    return f"{PLAN_DEFINITION_URL}|{profile}"


def activity_url(rule_id: str) -> str:
    return f"{t.BASE}/ActivityDefinition/{rule_id}"


def _citation(text: str) -> dict[str, str]:
    return {"type": "citation", "citation": text}


def plan_definition(profile: str) -> dict[str, Any]:
    rules = sorted(RULES.values(), key=lambda rule: rule.id)
    citations = sorted({rule.citation for rule in rules})
    return {
        "resourceType": "PlanDefinition",
        "id": "gist-follow-up-" + "".join(c if c.isalnum() else "-" for c in profile)[:40],
        "url": PLAN_DEFINITION_URL,
        "version": profile,
        "name": "GistFollowUp",
        "title": f"GIST follow-up rules ({profile})",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                    "code": "clinical-protocol",
                }
            ]
        },
        "status": "active",
        "description": "Decision support only: each action recommends and explains; the care team decides.",
        "relatedArtifact": [_citation(text) for text in citations],
        "action": [
            {
                "id": rule.id,
                "title": rule.id,
                "description": rule.rationale,
                "documentation": [_citation(rule.citation)],
                "definitionCanonical": activity_url(rule.id),
            }
            for rule in rules
        ],
    }


def activity_definitions(profile: str) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "ActivityDefinition",
            "id": "".join(c if c.isalnum() else "-" for c in rule.id)[:64],
            "url": activity_url(rule.id),
            "version": profile,
            "name": "".join(part.capitalize() for part in rule.id.replace(".", "_").split("_")),
            "status": "active",
            "kind": "ServiceRequest",
            "description": rule.rationale,
            "relatedArtifact": [_citation(rule.citation)],
        }
        for rule in sorted(RULES.values(), key=lambda rule: rule.id)
    ]


def knowledge_bundle(profile: str) -> dict[str, Any]:
    resources = [plan_definition(profile), *activity_definitions(profile)]
    return {
        "resourceType": "Bundle",
        "id": "gist-knowledge",
        "type": "collection",
        "entry": [{"fullUrl": f"{t.BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
