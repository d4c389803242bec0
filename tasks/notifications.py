"""``notifications.send(notification_id)``: a thin task over
:func:`scheduler.notifications.sending.send_notification`.

Every outcome is written to the outbox row by the use case (sent, retry later, failed,
superseded), so the task itself never retries through the broker: a transient SMTP failure puts
the row back to ``pending`` with a backoff and the clock queues it again when that has passed. A
redelivered or duplicated message finds the row already taken and does nothing.

Unlike ``patients.process``, this task is acknowledged when it starts (``acks_late=False``): the
outbox row, not the broker message, is what brings a lost send back (a row left ``queued`` or
``sending`` is queued again once stale), and a late-acknowledged task is *terminated* by the worker
when it loses the broker (``worker_cancel_long_running_tasks_on_connection_loss``) — which, after
the SMTP server has taken the message, would send it twice (docs/reliability.md, finding 3).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Protocol

from models.store import sessions_for
from notifications.smtp import Sender, sender_for
from scheduler.notifications.sending import send_notification
from tasks.base import SEND, GistCelery

log = logging.getLogger(__name__)


class BoundTask(Protocol):
    app: GistCelery


@cache
def _sender(smtp_url: str | None, folder: str) -> Sender:
    from pathlib import Path

    return sender_for(smtp_url, Path(folder))


def send(task: BoundTask, notification_id: int) -> str:
    settings = task.app.gist_settings
    sender = _sender(settings.smtp_url, str(settings.resolved_mail_folder))
    status = send_notification(
        sessions_for(settings), notification_id, sender, settings, profile=settings.active_profile.profile
    )
    log.info("%s %d: %s", SEND, notification_id, status)
    return status


def register(app: GistCelery) -> None:
    app.task(shared=False, name=SEND, bind=True, acks_late=False, reject_on_worker_lost=False)(send)
