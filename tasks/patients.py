"""``patients.process``, ``patients.process_batch`` and ``patients.recompute_all``: thin tasks over
the use cases.

``patients.process(patient_id, force=False)`` calls :func:`scheduler.patients.processing.process_patient`
(one transaction, idempotent, a no-op when nothing is left to process unless ``force``).

Failure policy, so nothing loops and nothing is silent:

* a transient database error (lock/busy timeout, serialization failure, deadlock, lost
  connection) is retried with exponential backoff and jitter, at most ``task_max_retries`` times,
  never waiting more than 30 s;
* a worker process that dies mid-task (SIGKILL, OOM) counts as a retry too (Celery's
  ``retry_on_worker_lost``), so a poison message is tried a bounded number of times instead of
  being re-queued forever by ``reject_on_worker_lost``;
* when retries run out, or on any other error, the task records a failure row for the worklist
  (its own transaction) and returns: the message is acknowledged. The events stay unprocessed, so
  the clock's stalled-event sweep tries the patient again later, at its slow pace. The run that
  next succeeds closes the failure in the transaction that stores its plan (``process_patient``).

``patients.process_batch(patient_ids)`` (what intake queues for a submit of several patients)
processes them in one transaction (``process_patients``). It has no failure policy of its own:
when the batch fails, or a worker died running it, it queues a ``patients.process`` per patient,
so each patient meets the policy above on its own and one patient's failure never holds back the
others' plans.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Protocol

from celery.signals import task_failure

from models.db import is_transient
from models.store import sessions_for
from scheduler.patients.failures import describe, record_failure
from scheduler.patients.processing import process_patient, process_patients
from tasks.base import PROCESS, PROCESS_BATCH, RECOMPUTE_ALL, GistCelery, send_batches, send_process

MAX_BACKOFF_SECONDS = 30.0
LOST_WORKER_RETRY_DELAY_SECONDS = 2

log = logging.getLogger(__name__)


class Request(Protocol):
    retries: int


class BoundTask(Protocol):
    """The part of a bound Celery task these functions use."""

    name: str
    app: GistCelery
    request: Request

    def retry(self, *, countdown: float, exc: BaseException) -> Exception: ...


def backoff_seconds(retries: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": 1–2 s, 2–4 s, 4–8 s … capped at 30 s. The random
    half spreads workers that failed together (one lock holder) so they do not collide again."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2.0 ** (retries + 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def process(task: BoundTask, patient_id: str, force: bool = False) -> None:
    settings = task.app.gist_settings
    sessions = sessions_for(settings)
    retries = task.request.retries
    task.app.pending.clear_many([patient_id])  # before the events are read: see tasks.pending
    try:
        active = settings.active_profile
        result = process_patient(
            sessions, patient_id, settings.today(), active.profile, force=force, digest=active.digest
        )
    except Exception as exc:
        if is_transient(exc) and retries < settings.task_max_retries:
            countdown = backoff_seconds(retries)
            log.warning(
                "%s %s: %s; retry %d in %.1f s", PROCESS, patient_id, describe(exc), retries + 1, countdown
            )
            raise task.retry(countdown=countdown, exc=exc) from exc
        log.exception("%s %s failed after %d attempt(s)", PROCESS, patient_id, retries + 1)
        _record(task.app, patient_id, describe(exc), retries + 1)
        return
    if not result.skipped:
        log.info(
            "%s %s: %d event(s); reminders +%d ~%d -%d; alerts +%d -%d",
            PROCESS, patient_id, result.events, result.inserted, result.updated, result.cancelled,
            result.alerts_raised, result.alerts_resolved,
        )  # fmt: skip


def process_batch(task: BoundTask, patient_ids: list[str], force: bool = False) -> None:
    settings = task.app.gist_settings
    task.app.pending.clear_many(patient_ids)  # before the events are read: see tasks.pending
    if task.request.retries:  # a worker died running this batch: isolate whoever killed it
        _split(task, patient_ids, "a worker was lost running the batch", force)
        return
    try:
        active = settings.active_profile
        results = process_patients(
            sessions_for(settings),
            patient_ids,
            settings.today(),
            active.profile,
            force=force,
            digest=active.digest,
        )
    except Exception as exc:
        _split(task, patient_ids, describe(exc), force)
        return
    done = [r for r in results if not r.skipped]
    log.info(
        "%s: %d patient(s), %d processed; %d event(s); reminders +%d ~%d -%d; alerts +%d -%d",
        PROCESS_BATCH, len(patient_ids), len(done), sum(r.events for r in done),
        sum(r.inserted for r in done), sum(r.updated for r in done), sum(r.cancelled for r in done),
        sum(r.alerts_raised for r in done), sum(r.alerts_resolved for r in done),
    )  # fmt: skip


def _split(task: BoundTask, patient_ids: list[str], why: str, force: bool) -> None:
    """Queue ``patients.process`` for each patient of a batch that could not be processed as one.
    A send that fails leaves that patient's events unprocessed: the clock's sweep queues it again."""
    log.warning("%s of %d patient(s): %s; queueing each on its own", PROCESS_BATCH, len(patient_ids), why)
    for patient_id in patient_ids:
        send_process(task.app, patient_id, force=force)


def recompute_all(task: BoundTask) -> int:
    """Queue a forced ``patients.process`` for every active patient (what the clock's daily run does
    with ``GIST_DAILY_RECOMPUTE=all``)."""
    from scheduler.patients.repository import active_patient_ids

    with sessions_for(task.app.gist_settings)() as session:
        patients = active_patient_ids(session)
    send_batches(task.app, patients, force=True)
    return len(patients)


def _record(app: GistCelery, patient_id: str, error: str, attempts: int) -> None:
    try:
        record_failure(sessions_for(app.gist_settings), patient_id, PROCESS, error, attempts)
    except Exception:  # the database is gone too: the clock's sweep is the safety net
        log.exception("%s %s: could not record the failure", PROCESS, patient_id)


def _on_task_failure(sender: Any = None, exception: BaseException | None = None, **kwargs: Any) -> None:
    """A failure that escaped the task body: in practice the worker process died on the last
    allowed attempt (the worker's main process reports it). Recorded like any other failure."""
    if getattr(sender, "name", None) != PROCESS or not isinstance(getattr(sender, "app", None), GistCelery):
        return
    args, call_kwargs = kwargs.get("args") or [], kwargs.get("kwargs") or {}
    patient_id = args[0] if args else call_kwargs.get("patient_id")
    if not isinstance(patient_id, str):
        return
    attempts = int(getattr(sender.request, "retries", 0) or 0) + 1
    _record(sender.app, patient_id, describe(exception or RuntimeError("unknown failure")), attempts)


def register(app: GistCelery) -> None:
    app.task(
        shared=False,  # each app owns its tasks: a shared task would leak settings across apps
        name=PROCESS,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        retry_on_worker_lost=True,
        max_retries=app.gist_settings.task_max_retries,
        default_retry_delay=LOST_WORKER_RETRY_DELAY_SECONDS,
    )(process)
    app.task(
        shared=False,
        name=PROCESS_BATCH,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        retry_on_worker_lost=True,  # delivered again with retries = 1: the batch is then split
        max_retries=1,
        default_retry_delay=LOST_WORKER_RETRY_DELAY_SECONDS,
    )(process_batch)
    app.task(shared=False, name=RECOMPUTE_ALL, bind=True, acks_late=True)(recompute_all)
    task_failure.connect(_on_task_failure, weak=False, dispatch_uid="gistsched.patients.task_failure")
