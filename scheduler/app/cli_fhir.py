"""``gistsched fhir import FILE|DIR``, ``gistsched fhir export PATIENT_ID`` and ``gistsched fhir
knowledge`` (``pull`` and ``push``: ``cli_fhir_sync``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scheduler.app.cli_fhir_common import add_navigators_option, navigator_table
from scheduler.app.cli_pipeline import StoreError, _sessions, not_ready


def _bundle_files(target: Path) -> list[Path]:
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise StoreError(f"FILE: no .json files in {target}")
        return files
    return [target]


def cmd_fhir_import(args: argparse.Namespace) -> int:
    """Each file is validated and stored whole; a refused file leaves nothing stored (exit 2)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.app.wiring import queue_processing
    from scheduler.config.settings import load_settings
    from scheduler.fhir import FhirError, load_json
    from scheduler.patients.fhir_intake import map_bundle, store_import

    settings = load_settings()
    sessions = _sessions(settings)
    navigators = navigator_table(settings, args.navigators, sessions)
    totals = {"files": 0, "accepted": 0, "duplicates": 0, "needs_review": 0, "not_used": 0, "rejected": 0}
    status = 0
    for path in _bundle_files(Path(args.target)):
        try:
            obj = load_json(path.read_bytes())
            mapped = map_bundle(sessions, obj, navigators)
            result = store_import(sessions, mapped, settings.today(), queue_processing(settings))
        except OSError as exc:
            raise StoreError(f"FILE: cannot read {path}: {exc.strerror}") from None
        except FhirError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            totals["rejected"] += 1
            status = 2
            continue
        except (OperationalError, ProgrammingError) as exc:
            raise not_ready(exc) from None
        totals["files"] += 1
        for key in ("accepted", "duplicates", "needs_review", "not_used"):
            totals[key] += getattr(result, key)
        for rejection in result.rejected:
            print(f"{path}: {rejection.error}", file=sys.stderr)
        if result.rejected:
            totals["rejected"] += 1
            status = 2
        for item in result.review:
            print(f"{path}: needs review: {item.source}: {item.reason}", file=sys.stderr)
    print(json.dumps(totals))
    return status


def cmd_fhir_export(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from scheduler.config.settings import load_settings
    from scheduler.fhir.export import export_plan
    from scheduler.patients.stored import stored_plan

    settings = load_settings()
    try:
        with _sessions(settings)() as session:
            plan = stored_plan(session, args.patient_id)
    except (OperationalError, ProgrammingError) as exc:
        raise not_ready(exc) from None
    if plan is None:
        raise StoreError(f"PATIENT_ID: no stored plan for {args.patient_id!r}")
    print(json.dumps(export_plan(plan), ensure_ascii=False, indent=1))
    return 0


def cmd_fhir_knowledge(args: argparse.Namespace) -> int:
    """The rules as a FHIR collection Bundle: the PlanDefinition that exported CarePlans name in
    ``instantiatesCanonical`` (``url|version``, the version being the profile's name) and one
    ActivityDefinition per rule (what each ServiceRequest's ``instantiatesCanonical`` names)."""
    from scheduler.config.profiles import ProfileError, load_profile
    from scheduler.config.settings import load_settings
    from scheduler.fhir.knowledge import knowledge_bundle

    if args.profile is None:
        name = load_settings().active_profile.name
    else:
        try:
            name = load_profile(args.profile).name
        except ProfileError as exc:
            raise StoreError(f"--profile: {exc}") from None
    print(json.dumps(knowledge_bundle(name), ensure_ascii=False, indent=1))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fhir = sub.add_parser(
        "fhir", help="FHIR R4 / mCODE: import Bundles, export plans, pull from and push to a server"
    )
    fhir_sub = fhir.add_subparsers(dest="fhir_command", required=True, parser_class=type(fhir))
    imp = fhir_sub.add_parser("import", help="store the events of FHIR Bundles (a .json file or a folder)")
    imp.add_argument("target", metavar="FILE|DIR")
    add_navigators_option(imp)
    imp.set_defaults(func=cmd_fhir_import)
    exp = fhir_sub.add_parser("export", help="the stored plan of a patient as a FHIR R4 Bundle")
    exp.add_argument("patient_id", metavar="PATIENT_ID")
    exp.set_defaults(func=cmd_fhir_export)
    knowledge = fhir_sub.add_parser(
        "knowledge",
        help="the rules as a FHIR Bundle: the PlanDefinition exported CarePlans name, and an "
        "ActivityDefinition per rule",
    )
    knowledge.add_argument(
        "--profile", help="a built-in profile name or a JSON file of overrides (default: GIST_PROFILE)"
    )
    knowledge.set_defaults(func=cmd_fhir_knowledge)
    from scheduler.app import cli_fhir_sync

    cli_fhir_sync.add_commands(fhir_sub)
