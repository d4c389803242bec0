"""What the FHIR commands share: the practitioner → navigator table option and its loading."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from scheduler.app.cli_pipeline import StoreError, not_ready

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from scheduler.config.settings import Settings
    from scheduler.fhir.navigators import NavigatorTable


def navigator_table(
    settings: Settings, option: str | None, sessions: sessionmaker[Session]
) -> NavigatorTable | None:
    """The table of ``--navigators FILE`` or ``GIST_FHIR_NAVIGATORS``; a bad file is a usage error.

    Each navigator id of the table that no active navigator account has is a warning on stderr
    naming the file and row (the imports leave the CareTeams naming it for review).
    """
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.app.wiring import NavigatorSettingError, fhir_navigators, navigators_without_account

    try:
        navigators = fhir_navigators(settings, option)
    except NavigatorSettingError as exc:
        raise StoreError(str(exc)) from None
    if navigators is None:
        return None
    try:
        for line in navigators_without_account(navigators, sessions, option):
            print(f"warning: {line}", file=sys.stderr)
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    return navigators.table


def add_navigators_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--navigators",
        metavar="FILE",
        help="practitioner → navigator table (.json or .csv) that sets navigator_id from CareTeams "
        "(default: GIST_FHIR_NAVIGATORS; without either, CareTeams are left for review)",
    )
