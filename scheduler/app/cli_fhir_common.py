"""What the FHIR commands share: the practitioner → navigator table option and its loading."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from scheduler.app.cli_pipeline import StoreError

if TYPE_CHECKING:
    from scheduler.config.settings import Settings
    from scheduler.fhir.navigators import NavigatorTable


def navigator_table(settings: Settings, option: str | None) -> NavigatorTable | None:
    """The table of ``--navigators FILE`` or ``GIST_FHIR_NAVIGATORS``; a bad file is a usage error."""
    from scheduler.app.wiring import NavigatorSettingError, fhir_navigators

    try:
        return fhir_navigators(settings, option)
    except NavigatorSettingError as exc:
        raise StoreError(str(exc)) from None


def add_navigators_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--navigators",
        metavar="FILE",
        help="practitioner → navigator table (.json or .csv) that sets navigator_id from CareTeams "
        "(default: GIST_FHIR_NAVIGATORS; without either, CareTeams are left for review)",
    )
