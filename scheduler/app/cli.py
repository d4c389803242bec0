"""The ``gistsched`` command (event-contract.md §3): a thin shell around the pure core.

Errors are one clear line on stderr naming the field (and the line of the file), exit status 2,
never a traceback. This is the only layer of the clinical path that reads files or the clock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, get_args

from pydantic import ValidationError

from scheduler.app.cli_pipeline import StoreError
from scheduler.config.profiles import ProfileError, load_profile
from scheduler.domain.events import EventError, Site, read_jsonl
from scheduler.domain.profile import DEFAULT_PROFILE, Profile
from scheduler.domain.risk import assess_risk

if TYPE_CHECKING:
    from scheduler.config.settings import Settings

SITES: tuple[str, ...] = get_args(Site)  # the contract's site enumeration, from the event types
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cohort.jsonl"


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


_EARLIEST, _LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)  # the plan's horizon must stay a date


def _date(text: str, option: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text) if len(text) == 10 else _bad_date(text, option)
    except ValueError:
        _bad_date(text, option)
    if not _EARLIEST <= day <= _LATEST:
        raise UsageError(f"{option}: {text} is outside the supported range 1900-01-01 to 2999-12-31")
    return day


def _bad_date(text: str, option: str) -> NoReturn:
    raise UsageError(f"{option}: {text!r} is not a real date (YYYY-MM-DD)")


def _number(
    text: str, option: str, low: float, high: float, *, integer: bool = False, low_inclusive: bool = True
) -> float:
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise UsageError(f"{option}: {text!r} is not {kind}") from None
    if math.isnan(value) or value > high or value < low or (value == low and not low_inclusive):
        bound = f"greater than {low:g}" if not low_inclusive else f"at least {low:g}"
        raise UsageError(f"{option}: must be {bound} and at most {high:g} (got {text})")
    return value


def cmd_risk(args: argparse.Namespace) -> int:
    size = _number(args.size_cm, "--size-cm (tumour size in cm)", 0, 100, low_inclusive=False)
    mitoses = int(_number(args.mitoses, "--mitoses (count per 5 mm²)", 0, 1000, integer=True))
    if args.site not in SITES:
        raise UsageError(f"--site: {args.site!r} is not a site (expected one of {', '.join(SITES)})")
    risk = assess_risk(size, mitoses, args.site, args.ruptured)
    print(json.dumps(risk.to_json()))
    return 0


def _load_profile(spec: str | None) -> Profile:
    """``--profile``: a built-in name or a JSON file of overrides (the loader ``GIST_PROFILE``
    uses); without it the default, so that ``plan`` reads no setting."""
    if spec is None:
        return DEFAULT_PROFILE
    try:
        return load_profile(spec).profile
    except ProfileError as exc:
        raise UsageError(f"--profile: {exc}") from None


def _settings() -> Settings:
    from scheduler.config.settings import load_settings

    return load_settings()


def settings_error(exc: ValidationError) -> str:
    """One line naming the setting(s) a ``ValidationError`` of :class:`Settings` refused."""
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = error.get("loc") or ()
        problems.append(f"GIST_{str(loc[0]).upper()}: {message}" if loc else message)
    return "; ".join(problems)


def cmd_plan(args: argparse.Namespace) -> int:
    as_of = _date(args.as_of, "--as-of")
    profile = _load_profile(args.profile)
    try:
        with open(args.file, encoding="utf-8") as f:
            result = read_jsonl(f)
    except OSError as exc:
        raise UsageError(f"FILE: cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"FILE: {args.file} is not UTF-8 text") from None
    if result.errors:
        for error in result.errors:
            print(f"{args.file}: {error.message}", file=sys.stderr)
        return 2
    from scheduler.domain.plan import plan_patients  # not for the commands that do not plan

    try:
        plans = plan_patients(result.events, as_of, profile)
    except EventError as exc:
        raise UsageError(str(exc)) from None
    out = sys.stdout
    for plan in plans:
        out.write(json.dumps(plan.to_json(), ensure_ascii=False) + "\n")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """By default the end-to-end pipeline (scheduler/app/demo.py); ``--pure`` plans in memory only."""
    as_of = _date(args.as_of, "--as-of") if args.as_of else None
    path = Path(args.file) if args.file else EXAMPLES
    try:
        with path.open(encoding="utf-8") as f:
            result = read_jsonl(f)
    except OSError as exc:
        raise UsageError(f"--file: cannot read {path}: {exc.strerror}") from None
    if result.errors:
        for error in result.errors:
            print(f"{path}: {error.message}", file=sys.stderr)
        return 2
    if not args.pure:
        from scheduler.app.demo import run_demo

        if not math.isfinite(args.timeout) or args.timeout <= 0:
            raise UsageError(f"--timeout: must be greater than 0 (got {args.timeout:g})")
        return run_demo(path, as_of, Path(args.data_dir) if args.data_dir else None, args.timeout)

    from scheduler.domain.plan import plan_patients
    from scheduler.patients.summary import render_summary

    as_of = as_of or dt.date.today()  # noqa: DTZ011 — the shell reads the clinic's local date
    active = _settings().active_profile
    plans = plan_patients(result.events, as_of, active.profile)
    print(
        f"gist-scheduler demo: {len(plans)} patients from {path.name}, planned as of {as_of.isoformat()} "
        f"with profile {active.name} ({active.digest})\n"
    )
    for plan in plans:
        print(render_summary(plan))
        print()
    print("Decision support only: every item recommends and explains; the care team decides.")
    print(f"JSON plans: gistsched plan {path} --as-of {as_of.isoformat()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gistsched", description="Guideline-driven follow-up for patients with GIST.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    risk = sub.add_parser("risk", help="risk tiers (modified NIH, AFIP) for one tumour, as JSON")
    risk.add_argument("--size-cm", required=True, help="tumour size in cm (> 0, ≤ 100)")
    risk.add_argument("--mitoses", required=True, help="mitoses per 5 mm² (integer 0–1000)")
    risk.add_argument("--site", required=True, help=f"one of {', '.join(SITES)}")
    risk.add_argument("--ruptured", action="store_true", help="the tumour ruptured")
    risk.set_defaults(func=cmd_risk)

    plan = sub.add_parser("plan", help="pure: one JSON plan per patient in FILE (JSON Lines)")
    plan.add_argument("file", metavar="FILE")
    plan.add_argument("--as-of", required=True, help="plan as it stands on this date (YYYY-MM-DD)")
    plan.add_argument(
        "--profile",
        help="a built-in profile name or a JSON file of fields overriding esmo2022-seed (the default)",
    )
    plan.set_defaults(func=cmd_plan)

    demo = sub.add_parser(
        "demo", help="the example cohort through the pipeline (embedded database, broker, one worker)"
    )
    demo.add_argument("--as-of", help="plan as of this date (YYYY-MM-DD; default: today)")
    demo.add_argument("--file", help=f"default: {EXAMPLES}")
    demo.add_argument("--data-dir", help="keep the demo's database here (default: a temporary folder)")
    demo.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the worker (60)")
    demo.add_argument("--pure", action="store_true", help="in memory only: no database, broker or worker")
    demo.set_defaults(func=cmd_demo)

    from scheduler.app import cli_access, cli_fhir, cli_pipeline, cli_services

    cli_pipeline.add_commands(sub)
    cli_services.add_commands(sub)
    cli_access.add_commands(sub)
    cli_fhir.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code: int = args.func(args)
        return code
    except (UsageError, StoreError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ValidationError as exc:  # the settings (GIST_*) refused: the process does not start
        print(settings_error(exc), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `gistsched plan … | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
