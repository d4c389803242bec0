"""What every task module and every publisher shares: the task names and queue, the app class that
carries the settings, the Celery configuration, and publishing a task by name.

The configuration (:func:`celery_config`):

* JSON only; no result backend (tasks pass ids, their effects are rows);
* ``acks_late`` + ``reject_on_worker_lost`` + prefetch 1 (except ``notifications.send``, whose
  outbox row brings it back, see :mod:`tasks.notifications`): a message is acknowledged only after
  its task ran, and a task whose process died is delivered again — capped, because
  ``patients.process`` retries a lost worker as a counted retry (Celery ≥ 5.7
  ``retry_on_worker_lost``) and gives up into a failure row after ``task_max_retries``;
* no long ETA/countdown anywhere (retries wait at most 30 s, far inside Redis's
  ``visibility_timeout``): what is due in days or weeks lives in database rows;
* Redis behind Sentinel: ``GIST_BROKER_URL`` lists the Sentinels (``sentinel://h1:26379;sentinel://h2:26379``)
  and ``GIST_REDIS_SENTINEL_MASTER`` becomes the transport's ``master_name``;
* ``GIST_BROKER_URL`` unset → the embedded broker (:mod:`tasks.embedded`), folders under
  ``<data_dir>/broker``, no server; real, separate worker processes consume it.

:mod:`tasks.app` builds the app and registers the tasks; the task modules import only this module,
so no module of ``tasks`` imports one that imports it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu.exceptions import KombuError

from scheduler.config.settings import Settings
from tasks.embedded import transport_options
from tasks.pending import PendingMarks

PROCESS = "patients.process"
PROCESS_BATCH = "patients.process_batch"
SEND = "notifications.send"
RECOMPUTE_ALL = "patients.recompute_all"
NOOP = "ops.noop"
QUEUE = "gistsched"

EMBEDDED_POLLING_SECONDS = 0.1  # kombu's default 1 s caps a virtual-transport worker at ~1 task/s/slot
REDIS_VISIBILITY_TIMEOUT_SECONDS = 900  # > longest task + retry countdown; a lost message returns in 15 min
TASK_SOFT_TIME_LIMIT_SECONDS = 120
TASK_TIME_LIMIT_SECONDS = 150
BROKER_DOWN_BACKOFF_SECONDS = 30.0
# At most this many patients per ``patients.process_batch`` message: a batch is processed with a
# handful of statements in all, so larger batches are cheaper per patient (docs/performance.md §2),
# while a batch's transaction (its patients' rows locked) stays well under a second even for long
# histories, and a submit of a few dozen patients still gives every worker a share.
PROCESS_BATCH_SIZE = 20

log = logging.getLogger(__name__)


class GistCelery(Celery):  # type: ignore[misc]  # celery is untyped
    """A Celery app that carries the settings its tasks read (database URL, retries, clinic day)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("gistsched")
        self.gist_settings = settings
        self.broker_down_until = 0.0  # monotonic time: skip publishing until then (see enqueue)
        self.pending = PendingMarks(settings)  # intake's "a message waits" keys (tasks.pending)


def celery_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": QUEUE,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT_SECONDS,
        "task_time_limit": TASK_TIME_LIMIT_SECONDS,
        "enable_utc": True,
    }
    if settings.is_embedded_broker:
        options = transport_options(settings.broker_folder)
        options["polling_interval"] = EMBEDDED_POLLING_SECONDS
        config |= {
            "broker_url": "filesystem://localhost/",  # host is unused; naming it avoids a kombu warning
            "broker_transport": "tasks.embedded:Transport",
            "broker_transport_options": options,
            # Remote control and events are fan-out exchanges, kept as shared files by this
            # transport; nothing here uses them, so no worker writes them.
            "worker_enable_remote_control": False,
        }
    else:
        config["broker_url"] = settings.broker_url
        if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://", "sentinel://")):
            config["broker_transport_options"] = {
                "visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS,
                **settings.broker_transport_options,  # the Sentinel master's name
            }
    return config


def send_process(app: GistCelery, patient_id: str, *, force: bool = False) -> bool:
    """Queue ``patients.process`` for one patient; False (logged) when the broker cannot be reached.

    The events are already stored, so a failed send loses nothing: the clock re-queues events left
    unprocessed. After a failure the app stops trying for a short while, so a burst of sends (a
    submit of many patients) does not wait out a connection timeout for each.
    """
    if time.monotonic() < app.broker_down_until:
        return False
    try:
        app.send_task(PROCESS, args=[patient_id], kwargs={"force": force}, ignore_result=True)
    except (KombuError, OSError) as exc:
        app.broker_down_until = time.monotonic() + BROKER_DOWN_BACKOFF_SECONDS
        log.warning("could not queue %s for %s (%s); the clock will queue it again", PROCESS, patient_id, exc)
        return False
    return True


def send_processing(app: GistCelery, patient_ids: Sequence[str]) -> int:
    """Queue the processing of ``patient_ids`` after intake's commit, coalesced: the patients with
    a message already waiting are left out (their marks set in one round trip, :mod:`tasks.pending`),
    one patient goes as ``patients.process``, several as ``patients.process_batch`` messages of up
    to :data:`PROCESS_BATCH_SIZE` patients each, of even sizes. Returns how many patients were
    queued; a failed send is logged and its marks cleared (the clock re-queues what stays
    unprocessed)."""
    if time.monotonic() < app.broker_down_until or not patient_ids:
        return 0
    todo = app.pending.mark_many(list(patient_ids))
    unsent = send_batches(app, todo)
    app.pending.clear_many(unsent)  # nothing was sent for them: a later submission sends
    return len(todo) - len(unsent)


def send_batches(app: GistCelery, patient_ids: Sequence[str], *, force: bool = False) -> list[str]:
    """Queue the processing of ``patient_ids`` (no coalescing: the clock's queueing): one patient as
    ``patients.process``, several as ``patients.process_batch`` messages of up to
    :data:`PROCESS_BATCH_SIZE` patients each, of even sizes. Returns the patients not queued (the
    broker could not be reached; logged), for the caller to try again."""
    if not patient_ids:
        return []
    if len(patient_ids) == 1:
        return [] if send_process(app, patient_ids[0], force=force) else list(patient_ids)
    for start, batch in _batches(patient_ids):
        if time.monotonic() < app.broker_down_until:
            return list(patient_ids[start:])
        try:
            app.send_task(PROCESS_BATCH, args=[batch], kwargs={"force": force}, ignore_result=True)
        except (KombuError, OSError) as exc:
            app.broker_down_until = time.monotonic() + BROKER_DOWN_BACKOFF_SECONDS
            log.warning(
                "could not queue %s for %d patient(s) (%s); the clock will queue them again",
                PROCESS_BATCH, len(patient_ids) - start, exc,
            )  # fmt: skip
            return list(patient_ids[start:])
    return []


def _batches(patient_ids: Sequence[str]) -> list[tuple[int, list[str]]]:
    """``patient_ids`` in as few batches of at most :data:`PROCESS_BATCH_SIZE` as possible, of
    sizes that differ by one at most (so the workers' shares do too): (start, batch) pairs."""
    count = -(-len(patient_ids) // PROCESS_BATCH_SIZE)
    size, extra = divmod(len(patient_ids), count)
    batches, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        batches.append((start, list(patient_ids[start:end])))
        start = end
    return batches


def send_notification_task(app: GistCelery, notification_id: int) -> bool:
    """Queue ``notifications.send`` for one outbox row; False when the broker cannot be reached
    (the clock then gives the row back and tries again next tick)."""
    if time.monotonic() < app.broker_down_until:
        return False
    try:
        app.send_task(SEND, args=[notification_id], ignore_result=True)
    except (KombuError, OSError) as exc:
        app.broker_down_until = time.monotonic() + BROKER_DOWN_BACKOFF_SECONDS
        log.warning("could not queue %s %d (%s); the clock will queue it again", SEND, notification_id, exc)
        return False
    return True
