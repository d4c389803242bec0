"""Read FHIR R4 JSON into validated resources: a Bundle's entries, or one resource.

Every resource is validated with the ``fhir.resources`` R4B model of its type (R4B has R4's shapes
for every resource read here), which refuses unknown elements, wrong types and missing required
elements. Any problem refuses the whole input with a ``FhirError`` that names the entry, so a
caller never imports half a Bundle. The mapping itself then reads the plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

MAX_ENTRIES: Final = 5000
BUNDLE_TYPES: Final = ("collection", "transaction", "batch", "searchset")


class FhirError(ValueError):
    """Input refused as a whole: ``where`` names the entry (``entry[3] Observation/x``), ``problem`` why."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Source:
    """One resource of the input: its position, its ``fullUrl`` (if any) and its JSON."""

    index: int | None  # entry index in the Bundle; None for a lone resource
    full_url: str | None
    resource: Mapping[str, Any]

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str | None:
        value = self.resource.get("id")
        return str(value) if value is not None else None

    @property
    def reference(self) -> str:
        """``Type/id/_history/version`` (as much of it as the resource has), else the fullUrl."""
        if self.id is None:
            return self.full_url or f"{self.type} (entry {self.index})"
        version = self.resource.get("meta", {}).get("versionId")
        base = f"{self.type}/{self.id}"
        return f"{base}/_history/{version}" if version else base

    @property
    def where(self) -> str:
        label = f"{self.type}/{self.id}" if self.id else self.type
        return f"entry[{self.index}] {label}" if self.index is not None else label


def load_json(text: str | bytes) -> object:
    """Parse JSON, refusing NaN/Infinity, absurd nesting and bad UTF-8 with a ``FhirError``."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FhirError(
            "body", f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise FhirError("body", f"not valid JSON ({str(exc)[:120] or type(exc).__name__})") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def read_sources(obj: object) -> list[Source]:
    """The validated resources of a Bundle (collection, transaction, batch or searchset) or of one
    resource. Raises ``FhirError`` naming the first bad entry; nothing is returned partially."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("resourceType"), str):
        raise FhirError("body", "must be a FHIR resource or Bundle (a JSON object with resourceType)")
    if obj["resourceType"] != "Bundle":
        source = Source(None, None, obj)
        _validate(source)
        return [source]
    kind = obj.get("type")
    if kind not in BUNDLE_TYPES:
        raise FhirError(
            "Bundle.type", f"{kind!r} cannot be imported (expected one of {', '.join(BUNDLE_TYPES)})"
        )
    entries = obj.get("entry", [])
    if not isinstance(entries, list):
        raise FhirError("Bundle.entry", "must be a list")
    if len(entries) > MAX_ENTRIES:
        raise FhirError(
            "Bundle.entry", f"at most {MAX_ENTRIES} entries per Bundle (got {len(entries)}); split it"
        )
    shell = {key: value for key, value in obj.items() if key != "entry"}
    _validate(Source(None, None, shell))
    sources: list[Source] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise FhirError(f"entry[{index}]", "must be a JSON object")
        resource = entry.get("resource")
        if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
            method = (
                entry.get("request", {}).get("method") if isinstance(entry.get("request"), Mapping) else None
            )
            hint = f" (a {method} request)" if method else ""
            raise FhirError(f"entry[{index}]", f"has no resource to import{hint}")
        if resource["resourceType"] == "Bundle":
            raise FhirError(f"entry[{index}] Bundle", "nested Bundles are not imported; send them one by one")
        full_url = entry.get("fullUrl")
        source = Source(index, full_url if isinstance(full_url, str) else None, resource)
        _validate(source)
        sources.append(source)
    return sources


def _validate(source: Source) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(source.type)
    except (ValueError, KeyError):
        raise FhirError(source.where, f"{source.type!r} is not an R4 resource type") from None
    try:
        model.model_validate(dict(source.resource))
    except ValidationError as exc:
        error = min(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        path = ".".join(str(part) for part in error["loc"]) or "resource"
        problem = "unknown element" if error["type"] == "extra_forbidden" else error["msg"]
        raise FhirError(source.where, f"{path}: {problem}") from None
    except (ValueError, TypeError) as exc:  # a validator raising outside pydantic's error protocol
        raise FhirError(source.where, str(exc)[:200]) from None
