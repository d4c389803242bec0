"""The Celery app of a process: built once per settings from :mod:`tasks.base`'s configuration,
with every task registered by explicit name (:mod:`tasks.patients`, :mod:`tasks.notifications`,
:mod:`tasks.ops`); queueing a patient's processing by name; the worker's arguments.

``celery -A tasks.app worker`` works too: the module-level ``app`` is built on first access from
the environment.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from scheduler.config.settings import Settings, load_settings
from tasks.base import NOOP, QUEUE, GistCelery, celery_config, send_process, send_processing


def make_celery(settings: Settings, *, with_tasks: bool = True) -> GistCelery:
    """A new app for ``settings`` with every task registered (by explicit name); without
    ``with_tasks``, an app that only queues tasks by name (:func:`sender_app`)."""
    app = GistCelery(settings)
    app.conf.update(celery_config(settings))
    if not with_tasks:
        return app
    from tasks import notifications, ops, patients

    _connect_logging(settings)
    patients.register(app)
    notifications.register(app)
    ops.register(app)
    return app


def _connect_logging(settings: Settings) -> None:
    """Celery sets up the worker's logging itself; give its handlers our format and redaction."""
    from celery.signals import after_setup_logger, after_setup_task_logger

    from scheduler.config.logs import prepare

    def adopt(logger: logging.Logger | None = None, **_: Any) -> None:
        for handler in logger.handlers if logger is not None else []:
            prepare(handler, settings.log_format, "worker")

    after_setup_logger.connect(adopt, weak=False, dispatch_uid="gistsched.logs.worker")
    after_setup_task_logger.connect(adopt, weak=False, dispatch_uid="gistsched.logs.task")


_apps: dict[str, GistCelery] = {}
_apps_lock = threading.Lock()


def get_app(settings: Settings | None = None) -> GistCelery:
    """The process's app for ``settings`` (default: the environment's), built once."""
    settings = settings or load_settings()
    key = settings.model_dump_json()
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            app = _apps[key] = make_celery(settings)
        return app


_senders: dict[str, GistCelery] = {}


def sender_app(settings: Settings | None = None) -> GistCelery:
    """An app to queue tasks by name with: the process's full app when it has one for ``settings``,
    else one without the task modules (the same configuration and messages). A process that only
    queues — ``gistsched submit``, the web service — then does not import the whole notification
    and processing stack (about 0.2 s of a one-shot command's start)."""
    settings = settings or load_settings()
    key = settings.model_dump_json()
    with _apps_lock:
        app = _apps.get(key) or _senders.get(key)
        if app is None:
            app = _senders[key] = make_celery(settings, with_tasks=False)
        return app


def __getattr__(name: str) -> Any:
    if name == "app":  # `celery -A tasks.app …`
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def enqueue_process(patient_id: str, settings: Settings | None = None, force: bool = False) -> None:
    """Queue ``patients.process(patient_id, force)`` by name, with JSON arguments."""
    send_process(sender_app(settings), patient_id, force=force)


def enqueue_processing(patient_ids: Sequence[str], settings: Settings | None = None) -> int:
    """Queue the processing of patients whose events intake has just committed, coalesced and in
    batches (:func:`tasks.base.send_processing`); returns how many patients were queued."""
    return send_processing(sender_app(settings), patient_ids)


def enqueue_noop(settings: Settings | None = None) -> None:
    """Queue ``ops.noop`` (the benchmark's baseline for the broker and worker overhead)."""
    sender_app(settings).send_task(NOOP, ignore_result=True)


def worker_argv(settings: Settings, concurrency: int | None = None, loglevel: str = "INFO") -> list[str]:
    """Arguments for ``app.worker_main``: a prefork worker on our queue, without the gossip,
    mingle and heartbeat chatter (no events are used; they would only add broker traffic)."""
    name = settings.worker_name or f"gist-{os.getpid()}"
    return [
        "worker",
        f"--hostname={name}@%h",
        "--pool=prefork",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--loglevel={loglevel}",
        f"--queues={QUEUE}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
