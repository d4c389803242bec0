"""The wiring: what the use cases and the web application are handed, built in one place.

The use cases and ``web`` take their collaborators as arguments — sessions, and a callable that
queues a patient's processing — and know no broker. This module builds them from the settings:
the sessions from :func:`models.store.sessions_for`, the queueing from :mod:`tasks.app`. The CLI
commands and the demo import it lazily, so the commands that need neither start fast.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from models.store import sessions_for
from scheduler.config.settings import Settings, load_settings
from scheduler.patients.intake import QueueProcessing
from tasks.app import enqueue_process
from web.app import create_app


def queue_processing(settings: Settings) -> QueueProcessing:
    """Queue ``patients.process`` on the broker ``settings`` name, unless a message for the patient
    already waits (a failed send is logged; the clock re-queues what stays unprocessed)."""

    def enqueue(patient_id: str) -> None:
        enqueue_process(patient_id, settings, coalesce=True)

    return enqueue


def create_web_app(
    settings: Settings | None = None, sessions: sessionmaker[Session] | None = None
) -> FastAPI:
    """The web application on ``settings`` (default: the environment's) and ``sessions`` (default:
    the process's engine for the settings' database), queueing through the settings' broker."""
    settings = settings or load_settings()
    return create_app(settings, sessions or sessions_for(settings), queue_processing(settings))
