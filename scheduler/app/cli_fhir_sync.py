"""``gistsched fhir pull --server URL [--since T]`` and ``gistsched fhir push --server URL [PATIENT...]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

from scheduler.app.cli_fhir_common import add_navigators_option, navigator_table
from scheduler.app.cli_pipeline import StoreError, _sessions, not_ready

if TYPE_CHECKING:
    from scheduler.config.settings import Settings
    from scheduler.patients.fhir_client import FhirClient


def _client(args: argparse.Namespace) -> tuple[Settings, FhirClient]:
    from scheduler.config.settings import load_settings
    from scheduler.patients.fhir_client import FhirClient, server_base

    settings = load_settings()
    try:
        base = server_base(args.server)
    except ValueError as exc:
        raise StoreError(f"--server: {exc}") from None
    return settings, FhirClient(base, settings.fhir_token, settings.fhir_timeout_seconds)


def cmd_fhir_pull(args: argparse.Namespace) -> int:
    """Prints the counts as one JSON object; review items and a refusal on stderr (exit 2)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.app.wiring import queue_processing
    from scheduler.fhir.sync import parse_since
    from scheduler.patients.fhir_sync import SyncError, pull

    since = None
    if args.since is not None:
        try:
            since = parse_since(args.since)
        except ValueError as exc:
            raise StoreError(f"--since: {exc}") from None
    if not 1 <= args.page_size <= 1000:
        raise StoreError("--page-size: between 1 and 1000")
    settings, client = _client(args)
    sessions = _sessions(settings)
    navigators = navigator_table(settings, args.navigators, sessions)
    try:
        result = pull(
            sessions,
            client,
            received_on=settings.today(),
            enqueue=queue_processing(settings),
            since=since,
            page_size=args.page_size,
            overlap=dt.timedelta(seconds=settings.fhir_sync_overlap_seconds),
            navigators=navigators,
        )
    except SyncError as exc:
        raise StoreError(f"fhir pull: {exc}; nothing was stored") from None
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    for item in result.intake.review:
        print(f"needs review: {item.source}: {item.reason}", file=sys.stderr)
    for rejection in result.intake.rejected:
        print(f"fhir pull: {rejection.error}; nothing was stored", file=sys.stderr)
    print(json.dumps(result.to_json()))
    return 2 if result.intake.rejected else 0


def cmd_fhir_push(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.patients.fhir_sync import SyncError, push

    settings, client = _client(args)
    sessions = _sessions(settings)
    try:
        result = push(sessions, client, args.patients, settings.fhir_patient_system)
    except SyncError as exc:
        raise StoreError(f"fhir push: {exc}") from None
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    print(json.dumps(result.to_json()))
    return 0


def add_commands(fhir_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pull = fhir_sub.add_parser(
        "pull", help="read enrolled patients' changed records from a FHIR server (token: GIST_FHIR_TOKEN)"
    )
    pull.add_argument(
        "--server", required=True, help="the server's base URL (https, or http on this machine)"
    )
    pull.add_argument(
        "--since",
        help="read what changed at or after this time (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ) "
        "instead of each patient's last sync point",
    )
    pull.add_argument("--page-size", type=int, default=100, help="_count of each search page (100)")
    add_navigators_option(pull)
    pull.set_defaults(func=cmd_fhir_pull)
    push = fhir_sub.add_parser(
        "push",
        help="write stored plans to a FHIR server as conditional updates (token: GIST_FHIR_TOKEN; the "
        "patients' Patients must be there: Patient/<id>, or by GIST_FHIR_PATIENT_SYSTEM identifier)",
    )
    push.add_argument(
        "--server", required=True, help="the server's base URL (https, or http on this machine)"
    )
    push.add_argument("patients", nargs="*", metavar="PATIENT", help="default: every patient with a plan")
    push.set_defaults(func=cmd_fhir_push)
