"""Intake: validate submitted events, store the new ones, queue processing after the commit.

Shared by ``gistsched submit`` and the HTTP API. Every line is validated with the core's parser;
a valid event whose ``event_id`` is already stored with the same content is a duplicate, with other
content a conflict (rejected). Valid new events are stored in one transaction; a rejected line
leaves no trace but its error. Processing is queued only after the commit (style.md "send after
commit"); if queueing fails, the clock's stalled-event sweep queues them again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.types import utcnow
from scheduler.domain.events import EventError, fingerprint, parse_event
from scheduler.patients import repository


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    error: str


@dataclass(slots=True)
class IntakeResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)  # accepted and duplicate ids, for --wait
    patient_ids: list[str] = field(default_factory=list)  # patients queued for processing

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"line": r.line, "error": r.error} for r in self.rejected],
        }


@dataclass(frozen=True, slots=True)
class _Valid:
    line: int
    raw: dict[str, Any]
    event_id: str
    patient_id: str
    type: str
    occurred_on: dt.date
    fingerprint: str


def parse_lines(lines: Iterable[str]) -> list[tuple[int, object]]:
    """JSON Lines → (line number, parsed object or a JSON error string); blank lines skipped."""
    out: list[tuple[int, object]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            out.append((number, json.loads(text)))
        except json.JSONDecodeError as exc:
            out.append((number, _JsonError(f"not valid JSON ({exc.msg} at column {exc.colno})")))
        except (ValueError, RecursionError) as exc:  # a number of thousands of digits, deep nesting
            out.append((number, _JsonError(f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})")))
    return out


@dataclass(frozen=True, slots=True)
class _JsonError:
    message: str


QueueProcessing = Callable[[Sequence[str]], object]  # queue these patients' processing, after the commit
Gate = Callable[[Session, str], str | None]  # (session, patient_id) → why it may not be written, or None
Audit = Callable[[Session, list[str]], None]  # (session, patient ids written) inside the transaction


def record_events(
    sessions: sessionmaker[Session],
    items: Sequence[tuple[int, object]],
    received_on: dt.date,
    enqueue: QueueProcessing,
    *,
    all_or_nothing: bool = False,
    gate: Gate | None = None,
    audit: Audit | None = None,
) -> IntakeResult:
    """Store the valid new events of ``items`` ((line, parsed JSON) pairs) and queue their patients.

    ``all_or_nothing`` (the HTTP API): one rejected item and nothing is stored. ``gate`` refuses
    events of patients the caller may not write (a navigator and another navigator's patient);
    ``audit`` records the write in the same transaction.
    """
    result = IntakeResult()
    valid: list[_Valid] = []
    for line, obj in items:
        if isinstance(obj, _JsonError):
            result.rejected.append(Rejection(line, f"line {line}: {obj.message}"))
            continue
        try:
            event = parse_event(obj, received_on=received_on)
        except EventError as exc:
            result.rejected.append(Rejection(line, f"line {line}: {exc}"))
            continue
        assert isinstance(obj, dict)
        valid.append(
            _Valid(
                line, obj, event.event_id, event.patient_id, event.type, event.occurred_on, fingerprint(obj)
            )
        )

    for attempt in range(3):  # a concurrent submit of the same event_id: re-read and classify again
        try:
            new, duplicates, conflicts = _store(
                sessions,
                valid,
                refuse=all_or_nothing and bool(result.rejected),
                all_or_nothing=all_or_nothing,
                gate=gate,
                audit=audit,
            )
            break
        except IntegrityError:
            if attempt == 2:
                raise
    result.accepted += len(new)
    result.duplicates += len(duplicates)
    result.rejected.extend(conflicts)
    result.rejected.sort(key=lambda r: r.line)
    result.event_ids = list(dict.fromkeys([v.event_id for v in new] + [v.event_id for v in duplicates]))
    result.patient_ids = sorted({v.patient_id for v in new} | {v.patient_id for v in duplicates})
    if new:
        enqueue(sorted({v.patient_id for v in new}))  # after the commit; the clock re-queues a lost one
    return result


def _classify(
    valid: list[_Valid], stored: dict[str, str]
) -> tuple[list[_Valid], list[_Valid], list[Rejection]]:
    """New, duplicate and conflicting lines. The reference for an event_id is the stored event if
    there is one, else its first valid line in the file — so a conflicting line never makes a later
    identical copy of the stored event a conflict too."""
    new: list[_Valid] = []
    duplicates: list[_Valid] = []
    conflicts: list[Rejection] = []
    first_line: dict[str, _Valid] = {}
    for item in valid:
        known = stored.get(item.event_id)
        if known is not None:
            if known == item.fingerprint:
                duplicates.append(item)
            else:
                conflicts.append(_conflict(item, "the stored event"))
            continue
        earlier = first_line.get(item.event_id)
        if earlier is None:
            first_line[item.event_id] = item
            new.append(item)
        elif earlier.fingerprint == item.fingerprint:
            duplicates.append(item)
        else:
            conflicts.append(_conflict(item, f"line {earlier.line}"))
    return new, duplicates, conflicts


def _conflict(item: _Valid, reference: str) -> Rejection:
    return Rejection(
        item.line,
        f"line {item.line}: event_id {item.event_id!r} conflicts with {reference} "
        "(same event_id, different content)",
    )


def _store(
    sessions: sessionmaker[Session],
    valid: list[_Valid],
    *,
    refuse: bool = False,
    all_or_nothing: bool = False,
    gate: Gate | None = None,
    audit: Audit | None = None,
) -> tuple[list[_Valid], list[_Valid], list[Rejection]]:
    """Classify against the stored events and store the new ones, in one transaction. With
    ``refuse`` (all-or-nothing and something was already rejected), or when a conflict or the gate
    rejects anything under ``all_or_nothing``, nothing is stored: the caller gets every reason."""
    with sessions.begin() as session:
        stored = repository.event_fingerprints(session, sorted({v.event_id for v in valid}))
        new, duplicates, conflicts = _classify(valid, stored)
        if gate is not None:
            closed = {p: why for p in sorted({v.patient_id for v in valid}) if (why := gate(session, p))}
            conflicts += [Rejection(v.line, f"line {v.line}: patient_id: {closed[v.patient_id]}")
                          for v in new + duplicates if v.patient_id in closed]  # fmt: skip
            new = [v for v in new if v.patient_id not in closed]
            duplicates = [v for v in duplicates if v.patient_id not in closed]
        if refuse or (all_or_nothing and conflicts):
            return [], [], conflicts
        patient_ids = sorted({v.patient_id for v in new})
        repository.enrol(session, patient_ids)
        events = [
            repository.NewEvent(v.event_id, v.patient_id, v.type, v.occurred_on, v.raw, v.fingerprint)
            for v in new
        ]
        repository.add_events(session, events, utcnow())
        if audit is not None and new:
            audit(session, patient_ids)
    return new, duplicates, conflicts
