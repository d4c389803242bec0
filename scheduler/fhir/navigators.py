"""CareTeam → the patient's ``navigator_id``, through an explicit table of EHR practitioners.

An EHR names its practitioners by its own identifiers; our navigators have our ids. The caller
(a shell reading a setting or a file) passes a table from practitioner identifier (system, value)
to navigator id, checked by :func:`navigator_table`, and the ids of the active navigator
accounts. A CareTeam of the patient names the navigator when exactly one navigator id is found
among the participants of the patient's active CareTeams and an account has it; without a table,
with no known participant, with two different navigators, or with a navigator id no account has,
every CareTeam of that patient is a review item. A navigator id is never guessed or defaulted.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Final

from scheduler.fhir.bundle import FhirError, Source
from scheduler.fhir.context import Context

NavigatorTable = Mapping[tuple[str, str], str]
NAVIGATOR_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_TEXT_MAX: Final = 1000


def navigator_table(obj: object, where: str = "navigators") -> dict[tuple[str, str], str]:
    """Check a table given as ``[{"system": …, "value": …, "navigator_id": …}, …]``.

    Raises ``FhirError`` naming the row and field: a missing or empty ``system``/``value``, a
    navigator id that is not 1–64 letters, digits, ``.``, ``_`` or ``-``, an unknown field, or one
    practitioner identifier given twice.
    """
    if not isinstance(obj, list):
        raise FhirError(where, "must be a list of {system, value, navigator_id} objects")
    table: dict[tuple[str, str], str] = {}
    for index, row in enumerate(obj):
        at = f"{where}[{index}]"
        if not isinstance(row, Mapping):
            raise FhirError(at, "must be an object with system, value and navigator_id")
        extra = sorted(set(row) - {"system", "value", "navigator_id"})
        if extra:
            raise FhirError(f"{at}.{extra[0]}", "unknown field (expected system, value, navigator_id)")
        for name in ("system", "value"):
            text = row.get(name)
            if not isinstance(text, str) or not text.strip() or len(text) > _TEXT_MAX:
                raise FhirError(
                    f"{at}.{name}", f"must be a non-empty string of at most {_TEXT_MAX} characters"
                )
        navigator = row.get("navigator_id")
        if not isinstance(navigator, str) or not NAVIGATOR_ID.fullmatch(navigator):
            raise FhirError(
                f"{at}.navigator_id", f"must be 1-64 letters, digits, '.', '_' or '-' (got {navigator!r})"
            )
        key = (row["system"], row["value"])
        if key in table:
            raise FhirError(f"{at}.value", f"practitioner {key[0]}|{key[1]} is listed twice")
        table[key] = navigator
    return table


def _identifiers(ctx: Context, member: object, read: list[Source]) -> list[tuple[str, str]]:
    """The identifiers of a participant's member: on the reference, or of the resource it names
    (added to ``read``). A PractitionerRole stands for its ``practitioner``.
    """
    if not isinstance(member, Mapping):
        return []
    found: list[tuple[str, str]] = []
    given = member.get("identifier")
    if isinstance(given, Mapping) and "system" in given and "value" in given:
        found.append((str(given["system"]), str(given["value"])))
    target = ctx.resolve(member)
    if target is not None and target.type in ("Practitioner", "PractitionerRole"):
        read.append(target)
    if target is not None and target.type == "PractitionerRole":
        found.extend(_identifiers(ctx, target.resource.get("practitioner"), read))
    elif target is not None and target.type == "Practitioner":
        found.extend(
            (str(i["system"]), str(i["value"]))
            for i in target.resource.get("identifier", [])
            if isinstance(i, Mapping) and "system" in i and "value" in i
        )
    return found


def care_team_navigator(
    ctx: Context, patient_id: str, table: NavigatorTable | None, accounts: Collection[str]
) -> tuple[str | None, list[Source]]:
    """The navigator id named by the patient's active CareTeams, and the CareTeams and
    practitioners read for it (a new version of any of them is a new registration).

    Reviews every CareTeam of the patient (and returns no id) when the id cannot be told safely,
    or when it is not among ``accounts`` (the active navigator accounts' ids).
    """
    teams = [
        s for s in ctx.of_patient(patient_id, "CareTeam") if s.resource.get("status", "active") == "active"
    ]
    for team in ctx.of_patient(patient_id, "CareTeam"):
        if team not in teams:
            ctx.not_used(team, f"CareTeam status {team.resource.get('status')}: not the current team")
    if not teams:
        return None, []
    if not table:
        for team in teams:
            ctx.review(team, "CareTeam: no practitioner-to-navigator table was given, navigator not set")
        return None, []
    named: dict[str, list[str]] = {}
    read: list[Source] = []
    for team in teams:
        for participant in team.resource.get("participant", []):
            if not isinstance(participant, Mapping):
                continue
            for system, value in _identifiers(ctx, participant.get("member"), read):
                navigator = table.get((system, value))
                if navigator is not None:
                    named.setdefault(navigator, []).append(f"{system}|{value}")
    if len(named) == 1:
        navigator, ids = next(iter(named.items()))
        if navigator in accounts:
            return navigator, [*teams, *read]
        why = (
            f"CareTeam: the navigator table gives {', '.join(sorted(set(ids)))} the navigator id "
            f"{navigator!r}, which no active navigator account has: navigator not set (add the "
            "account or correct the table)"
        )
    elif named:
        shown = "; ".join(f"{n} ({', '.join(sorted(set(ids)))})" for n, ids in sorted(named.items()))
        why = f"CareTeam names more than one navigator: {shown}"
    else:
        why = "CareTeam: the participants' practitioner identifiers are not in the navigator table"
    for team in teams:
        ctx.review(team, why)
    return None, []
