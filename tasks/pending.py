"""Coalescing: at most one ``patients.process`` queued by intake waits per patient.

A burst of separate submissions for one patient (a lab system posting each result on its own, a
FHIR import in pieces) would otherwise queue one message per submission; each one after the first
would only lock the patient and find nothing left to do. Before intake queues a patient it sets
``gistsched:pending:<patient_id>`` in the broker's Redis (``SET NX`` with a time-to-live); when
the key is already there, a message for the patient is waiting and nothing more is sent. The task
deletes the key *before* it reads the patient's events.

Why nothing is missed: intake commits its events before it tries the key. If the key was there,
the waiting message's task has not deleted it yet, so it reads the events after that commit. If
not, intake sends a message of its own. A key whose message was lost expires after the stall
period, and the clock's sweep of unprocessed events, which sends without looking at keys, queues
the patient again anyway. Without a Redis broker (the embedded one) or when Redis errs, every
submission sends, as without coalescing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scheduler.config.settings import Settings
from scheduler.operations.broker_status import broker_client, is_redis_broker

if TYPE_CHECKING:
    import redis

PREFIX = "gistsched:pending:"
log = logging.getLogger(__name__)


class PendingMarks:
    """The per-patient "a message waits" keys of one process (a client per pid: safe after fork)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._enabled = is_redis_broker(settings)
        self._client: redis.Redis | None = None
        self._pid = 0

    def mark_many(self, patient_ids: Sequence[str]) -> list[str]:
        """Mark each of ``patient_ids`` as having a message waiting, in one round trip (a pipeline
        of ``SET NX`` with the stall period as time-to-live): those not marked already, for which a
        message is to be sent now, in the given order (all of them without Redis, or when it errs)."""
        if not self._enabled or not patient_ids:
            return list(patient_ids)
        import redis

        ttl = max(1, int(self._settings.stalled_after_seconds))
        try:
            with self._redis().pipeline(transaction=False) as pipe:
                for patient_id in patient_ids:
                    pipe.set(PREFIX + patient_id, b"1", nx=True, ex=ttl)
                marked = pipe.execute()
        except redis.RedisError as exc:
            log.debug("pending marks for %d patient(s): %s; sending anyway", len(patient_ids), exc)
            return list(patient_ids)
        return [patient_id for patient_id, new in zip(patient_ids, marked, strict=True) if new]

    def clear_many(self, patient_ids: Sequence[str]) -> None:
        """The patients' waiting messages are being handled (or were never sent): later submissions
        send again. One ``DEL``."""
        if not self._enabled or not patient_ids:
            return
        import redis

        try:
            self._redis().delete(*(PREFIX + patient_id for patient_id in patient_ids))
        except redis.RedisError as exc:  # the keys expire; later submissions then send again
            log.debug("pending clear for %d patient(s): %s", len(patient_ids), exc)

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            self._client, self._pid = broker_client(self._settings), os.getpid()
        return self._client
