"""A patient's notes and call log: what staff write about a patient outside the clinical record.

A note is added by anyone who may see the patient (a navigator: their own patients), with who and
when; it is never edited or deleted. Each one is audited (``note_add``, with the note's id, never
its text) in the same transaction; reading them is part of reading the record (``read_patient``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.rows import PatientNoteRow
from models.types import utcnow
from scheduler.patients import queries
from scheduler.staff import audit
from scheduler.staff.access import Principal, may_see

MAX_NOTE_CHARS = 2000
NOTE_KINDS: dict[str, str] = {  # kind → what the page calls it
    "note": "Note",
    "call_reached": "Call: reached the patient",
    "call_no_answer": "Call: no answer",
    "call_left_message": "Call: left a message",
}


class NoteError(ValueError):
    """A note that cannot be stored, naming the field (``kind`` or ``text``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def check_note(kind: str, text: str) -> tuple[str, str]:
    """The note's kind and trimmed text, or :class:`NoteError` naming the field at fault."""
    if kind not in NOTE_KINDS:
        raise NoteError("kind", f"must be one of {', '.join(NOTE_KINDS)} (got {kind[:40]!r})")
    text = text.strip()
    if not text:
        raise NoteError("text", "write what was said or done (e.g. 'booked the CT for 3 March')")
    if "\x00" in text:
        raise NoteError("text", "contains a NUL character")
    if len(text) > MAX_NOTE_CHARS:
        raise NoteError("text", f"at most {MAX_NOTE_CHARS} characters (got {len(text)})")
    return kind, text


def add_note(
    sessions: sessionmaker[Session],
    principal: Principal,
    patient_id: str,
    kind: str,
    text: str,
    client: str | None,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """Store a note about ``patient_id`` by ``principal``, audited; None when the caller may not
    see the patient (reported as not found). Raises :class:`NoteError` for a bad kind or text."""
    kind, text = check_note(kind, text)
    with sessions.begin() as session:
        if not may_see(session, principal, patient_id):
            return None
        row = queries.add_note(
            session,
            PatientNoteRow(
                patient_id=patient_id,
                kind=kind,
                text=text,
                user_id=principal.user_id,
                author=principal.username,
                created_at=now or utcnow(),
            ),
        )
        audit.record(session, principal.actor(client), "note_add", patient_id, detail=f"note {row.id}")
        return note_json(row)


def notes_of(session: Session, patient_id: str) -> list[dict[str, Any]]:
    """The patient's notes, newest first (callers check scope)."""
    return [note_json(row) for row in queries.notes_of(session, patient_id)]


def note_json(row: PatientNoteRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "text": row.text,
        "author": row.author,
        "created_at": row.created_at.isoformat(timespec="seconds"),
    }
