"""The wiring: what the use cases and the web application are handed, built in one place.

The use cases and ``web`` take their collaborators as arguments — sessions, and a callable that
queues a patient's processing — and know no broker. This module builds them from the settings:
the sessions from :func:`models.store.sessions_for`, the queueing from :mod:`tasks.app`. The CLI
commands and the demo import it lazily, so the commands that need neither start fast.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.store import sessions_for
from scheduler.config.settings import Settings, load_settings
from scheduler.patients.intake import QueueProcessing
from scheduler.patients.unassigned import navigator_ids
from tasks.app import enqueue_processing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from scheduler.patients.fhir_navigators import NavigatorFile


log = logging.getLogger(__name__)


def queue_processing(settings: Settings) -> QueueProcessing:
    """Queue the patients' processing on the broker ``settings`` name, in batches, leaving out the
    patients with a message already waiting (a failed send is logged; the clock re-queues what
    stays unprocessed)."""

    def enqueue(patient_ids: Sequence[str]) -> int:
        return enqueue_processing(patient_ids, settings)

    return enqueue


class NavigatorSettingError(Exception):
    """The navigator table a setting or option names cannot be used (one line, naming the file)."""


def fhir_navigators(settings: Settings, override: str | None = None) -> NavigatorFile | None:
    """The practitioner → navigator table of ``--navigators`` (``override``) or, without it,
    ``GIST_FHIR_NAVIGATORS``; None when neither names a file. ``NavigatorSettingError`` for a bad one."""
    from scheduler.patients.fhir_navigators import NavigatorFileError, load_navigators  # FHIR only

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


def navigators_without_account(
    navigators: NavigatorFile, sessions: sessionmaker[Session], override: str | None = None
) -> list[str]:
    """One warning line per navigator id of the table that no active navigator account has (an
    import leaves the CareTeams naming it for review), naming the setting, file and row."""
    where = "--navigators" if override is not None else "GIST_FHIR_NAVIGATORS"
    with sessions() as session:
        accounts = navigator_ids(session)
    return [f"{where}: {line}" for line in navigators.without_account(accounts)]


def create_web_app(
    settings: Settings | None = None, sessions: sessionmaker[Session] | None = None
) -> FastAPI:
    """The web application on ``settings`` (default: the environment's) and ``sessions`` (default:
    the process's engine for the settings' database), queueing through the settings' broker, with
    the FHIR navigator table of ``GIST_FHIR_NAVIGATORS`` (``NavigatorSettingError`` for a bad one:
    the service does not start; a warning per navigator id no active navigator account has)."""
    from web.app import create_app  # only the commands that serve pay for importing the web stack

    settings = settings or load_settings()
    sessions = sessions or sessions_for(settings)
    navigators = fhir_navigators(settings)
    if navigators is not None:
        try:
            for line in navigators_without_account(navigators, sessions):
                log.warning("%s", line)
        except SQLAlchemyError as exc:  # the database is checked by /health; the table by each import
            log.warning("GIST_FHIR_NAVIGATORS: navigator accounts not checked (%s)", type(exc).__name__)
    return create_app(
        settings,
        sessions,
        queue_processing(settings),
        navigators=navigators.table if navigators is not None else None,
    )
