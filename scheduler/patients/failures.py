"""Processing failures: the worklist rows recorded when a patient could not be processed, and how
an error is described there (style.md "failures are visible").

A patient has at most one open failure per task: a repeat (the clock re-queues the patient's
stalled events, it fails again) adds to its ``attempts`` instead of flooding the worklist; the next
successful run resolves it, in the transaction that stores its plan
(:func:`scheduler.patients.processing.process_patient`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from models.rows import ProcessingFailureRow
from models.types import utcnow
from scheduler.patients import queries

MAX_ERROR_CHARS = 2000


def describe(exc: BaseException) -> str:
    """One line for the worklist: the exception's type and message, bounded."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:MAX_ERROR_CHARS]


def record_failure(
    sessions: sessionmaker[Session], patient_id: str, task: str, error: str, attempts: int
) -> None:
    """Open (or add to) the patient's failure for ``task``, in a transaction of its own."""
    with sessions.begin() as session:
        row = queries.open_failure(session, patient_id, task)
        if row is None:
            queries.add_failure(
                session,
                ProcessingFailureRow(
                    patient_id=patient_id, task=task, error=error, attempts=attempts, occurred_at=utcnow()
                ),
            )
        else:
            row.error, row.attempts = error, row.attempts + attempts
