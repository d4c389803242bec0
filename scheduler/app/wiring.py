"""The wiring: what the use cases and the web application are handed, built in one place.

The use cases and ``web`` take their collaborators as arguments — sessions, and a callable that
queues a patient's processing — and know no broker. This module builds them from the settings:
the sessions from :func:`models.store.sessions_for`, the queueing from :mod:`tasks.app`. The CLI
commands and the demo import it lazily, so the commands that need neither start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from models.store import sessions_for
from scheduler.config.settings import Settings, load_settings
from scheduler.fhir.navigators import NavigatorTable
from scheduler.patients.fhir_navigators import NavigatorFileError, load_navigators
from scheduler.patients.intake import QueueProcessing
from tasks.app import enqueue_process

if TYPE_CHECKING:
    from fastapi import FastAPI


def queue_processing(settings: Settings) -> QueueProcessing:
    """Queue ``patients.process`` on the broker ``settings`` name, unless a message for the patient
    already waits (a failed send is logged; the clock re-queues what stays unprocessed)."""

    def enqueue(patient_id: str) -> None:
        enqueue_process(patient_id, settings, coalesce=True)

    return enqueue


class NavigatorSettingError(Exception):
    """The navigator table a setting or option names cannot be used (one line, naming the file)."""


def fhir_navigators(settings: Settings, override: str | None = None) -> NavigatorTable | None:
    """The practitioner → navigator table of ``--navigators`` (``override``) or, without it,
    ``GIST_FHIR_NAVIGATORS``; None when neither names a file. ``NavigatorSettingError`` for a bad one."""
    if override is not None:
        where, path = "--navigators", Path(override)
    elif settings.fhir_navigators is not None:
        where, path = "GIST_FHIR_NAVIGATORS", settings.fhir_navigators
    else:
        return None
    try:
        return load_navigators(path)
    except NavigatorFileError as exc:
        raise NavigatorSettingError(f"{where}: {exc}") from None


def create_web_app(
    settings: Settings | None = None, sessions: sessionmaker[Session] | None = None
) -> FastAPI:
    """The web application on ``settings`` (default: the environment's) and ``sessions`` (default:
    the process's engine for the settings' database), queueing through the settings' broker, with
    the FHIR navigator table of ``GIST_FHIR_NAVIGATORS`` (``NavigatorSettingError`` for a bad one:
    the service does not start)."""
    from web.app import create_app  # only the commands that serve pay for importing the web stack

    settings = settings or load_settings()
    navigators = fhir_navigators(settings)
    return create_app(
        settings, sessions or sessions_for(settings), queue_processing(settings), navigators=navigators
    )
