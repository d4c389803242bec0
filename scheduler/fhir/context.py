"""What every resource mapper shares: the resources by reference, and the import's results.

A mapper reads plain FHIR JSON (already validated by ``bundle.read_sources``) and either adds a
contract event (validated by ``parse_event``: a value the contract refuses becomes a review item,
never a default), a review item naming the source resource and why, or a not-used note.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from scheduler.domain.events import EVENT_ID_MAX_CHARS, Event, EventError, parse_event
from scheduler.fhir.bundle import Source

_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PATIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
PREFIX: Final = "fhir:"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """Something that could not be mapped safely, for a navigator to resolve by hand."""

    patient_id: str | None
    source: str  # Type/id/_history/version of the resource (or its fullUrl)
    reason: str

    @property
    def key(self) -> str:
        """Stable identity: the same problem with the same resource version is stored once."""
        return hashlib.sha256(f"{self.source}\n{self.reason}".encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "source": self.source, "reason": self.reason}


@dataclass(slots=True)
class ImportResult:
    events: list[Event] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    not_used: list[tuple[str, str]] = field(default_factory=list)  # (source, why it carries nothing for us)
    patient_ids: list[str] = field(default_factory=list)


def canonical_hash(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Context:
    """The sources of one import, indexed for reference resolution, and the growing result."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.by_ref: dict[str, Source] = {}
        for source in sources:
            if source.full_url:
                self.by_ref[source.full_url] = source
            if source.id:
                self.by_ref[f"{source.type}/{source.id}"] = source
        self.result = ImportResult()
        self.consumed: set[int] = set()  # id() of sources another mapper has read into an event
        self.pending: list[tuple[Source, Event]] = []

    # --- references ------------------------------------------------------------------------
    def resolve(self, reference: object) -> Source | None:
        if not isinstance(reference, Mapping):
            return None
        ref = reference.get("reference")
        if not isinstance(ref, str):
            return None
        found = self.by_ref.get(ref)
        if found is None and "/" in ref and not ref.startswith("urn:"):
            parts = ref.rstrip("/").split("/")
            if len(parts) >= 2:
                found = self.by_ref.get("/".join(parts[-2:]))
        return found

    def patient_of(self, source: Source) -> str | None:
        """The patient id the resource is about (``subject``/``patient``, or the Patient itself)."""
        if source.type == "Patient":
            return source.id
        for key in ("subject", "patient", "for"):
            reference = source.resource.get(key)
            if not isinstance(reference, Mapping):
                continue
            target = self.resolve(reference)
            if target is not None and target.type == "Patient":
                return target.id
            ref = reference.get("reference")
            if isinstance(ref, str) and not ref.startswith("urn:"):
                parts = ref.split("/")
                if len(parts) >= 2 and parts[-2] == "Patient":
                    return parts[-1]
        return None

    def of_patient(self, patient_id: str, resource_type: str) -> Iterator[Source]:
        return (s for s in self.sources if s.type == resource_type and self.patient_of(s) == patient_id)

    # --- outcomes --------------------------------------------------------------------------
    def review(self, source: Source, reason: str, patient_id: str | None = None) -> None:
        pid = patient_id if patient_id is not None else self.patient_of(source)
        self.result.review.append(ReviewItem(pid, source.reference, reason))

    def not_used(self, source: Source, why: str) -> None:
        self.result.not_used.append((source.reference, why))

    def event(
        self,
        source: Source,
        event_type: str,
        day: dt.date,
        data: Mapping[str, Any],
        also: Iterable[Source] = (),
    ) -> bool:
        """Add one contract event built from ``source`` (and the ``also`` resources it read).

        The event_id is ``fhir:Type/id/_history/version#type``; when other resources contributed,
        a hash of their references is appended, so a new version of any of them is a new event
        rather than a conflict. Refused by the contract → a review item with the contract's words.
        """
        patient_id = self.patient_of(source)
        if patient_id is None or not _PATIENT_ID.fullmatch(patient_id):
            self.review(source, f"subject: no usable Patient id for a {event_type} event", patient_id)
            return False
        event_id = self._event_id(source, event_type, also)
        obj = {
            "event_id": event_id,
            "patient_id": patient_id,
            "type": event_type,
            "occurred_on": day.isoformat(),
            "data": dict(data),
        }
        try:
            event = parse_event(obj)
        except EventError as exc:
            self.review(source, f"would be a {event_type} event, but {exc}", patient_id)
            return False
        self.pending.append((source, event))
        for other in also:
            self.consumed.add(id(other))
        return True

    @staticmethod
    def _event_id(source: Source, event_type: str, also: Iterable[Source]) -> str:
        base = source.reference if source.id is not None else "sha256:" + canonical_hash(source.resource)[:32]
        event_id = f"{PREFIX}{base}#{event_type}"
        others = sorted({o.reference for o in also if o is not source})
        if others:
            event_id += "+" + hashlib.sha256("\n".join(others).encode()).hexdigest()[:12]
        if len(event_id) > EVENT_ID_MAX_CHARS:
            event_id = f"{PREFIX}sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"
        return event_id


# --- small readers of FHIR JSON -------------------------------------------------------------


def codings(concept: object) -> list[tuple[str, str]]:
    """(system, code) pairs of a CodeableConcept (displays are never read)."""
    if not isinstance(concept, Mapping):
        return []
    return [
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding", [])
        if isinstance(c, Mapping) and "code" in c
    ]


def has_code(concept: object, system: str, *codes: str) -> bool:
    return any(s == system and c in codes for s, c in codings(concept))


def concepts(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value] if value is not None else []


def profiles(source: Source) -> list[str]:
    meta = source.resource.get("meta", {})
    found = meta.get("profile", []) if isinstance(meta, Mapping) else []
    return [str(p).split("|")[0] for p in found]


def extension(resource: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    for ext in resource.get("extension", []):
        if isinstance(ext, Mapping) and ext.get("url") == url:
            return ext
    return None


def day_of(value: object) -> dt.date | None:
    """The calendar day of a FHIR date/dateTime/instant written to at least the day, else None."""
    if isinstance(value, str) and _FULL_DATE.match(value):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def effective_day(resource: Mapping[str, Any]) -> dt.date | None:
    for key in ("effectiveDateTime", "onsetDateTime", "performedDateTime", "recordedDate", "issued"):
        if key in resource:
            return day_of(resource[key])
    for key in ("effectivePeriod", "performedPeriod", "onsetPeriod", "period"):
        period = resource.get(key)
        if isinstance(period, Mapping):
            return day_of(period.get("start"))
    return None
