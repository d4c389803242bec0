"""``gistsched worker``, ``clock`` and ``run``: the long-running processes (event-contract.md §3)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily so `gistsched risk` and `plan` start fast
    from scheduler.settings import Settings


def load_settings() -> Settings:
    from scheduler.settings import load_settings as load

    return load()


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 64 (got {text!r})")
    return value


def cmd_worker(args: argparse.Namespace) -> int:
    """A real Celery worker (prefork) on the configured broker; ``worker_main`` exits the process."""
    from tasks.app import get_app, worker_argv

    settings = load_settings()
    app = get_app(settings)
    app.worker_main(worker_argv(settings, concurrency=args.concurrency, loglevel=args.loglevel))
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    from tasks.clock import run_clock

    logging.basicConfig(
        level=args.loglevel, format="[%(asctime)s: %(levelname)s/clock] %(message)s", stream=sys.stderr
    )
    if args.loglevel != "DEBUG":  # APScheduler logs every run of the tick job at INFO
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return run_clock(load_settings())


def cmd_run(args: argparse.Namespace) -> int:
    """Worker and clock (and, later, the web server) as children; Ctrl-C/SIGTERM stops them all."""
    from scheduler.processes import Supervisor, gistsched_command, start_child

    settings = load_settings()
    migrate_embedded(settings)
    worker_args = ["worker", "--loglevel", args.loglevel]
    if args.concurrency:
        worker_args += ["--concurrency", str(args.concurrency)]
    supervisor = Supervisor()
    supervisor.children.append(start_child("worker", gistsched_command(*worker_args)))
    supervisor.children.append(start_child("clock", gistsched_command("clock", "--loglevel", args.loglevel)))
    broker = (
        "embedded (" + str(settings.broker_folder) + ")" if settings.is_embedded_broker else "GIST_BROKER_URL"
    )
    print(
        f"gistsched run: worker (pid {supervisor.children[0].process.pid}) and clock "
        f"(pid {supervisor.children[1].process.pid}) on broker {broker}; Ctrl-C stops them",
        file=sys.stderr,
    )
    return supervisor.run()


def migrate_embedded(settings: Settings) -> None:
    """On SQLite (the embedded default) bring the schema to head, so a fresh clone just runs.
    PostgreSQL is migrated by its own one-shot step (``gistsched db upgrade``), not by every start."""
    from scheduler.cli_pipeline import StoreError

    if not settings.resolved_database_url.startswith("sqlite"):
        return
    from sqlalchemy.exc import OperationalError

    from models.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.resolved_database_url)
    except OperationalError as exc:
        raise StoreError(f"GIST_DATABASE_URL: cannot migrate the SQLite database ({exc.orig})") from None


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    worker = sub.add_parser("worker", help="a Celery worker (prefork) processing patients")
    worker.add_argument(
        "--concurrency", type=_concurrency, help="pool processes (default GIST_WORKER_CONCURRENCY)"
    )
    worker.add_argument("--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS)
    worker.set_defaults(func=cmd_worker)

    clock = sub.add_parser("clock", help="re-queue stalled events and recompute daily (one process, leased)")
    clock.add_argument("--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS)
    clock.set_defaults(func=cmd_clock)

    run = sub.add_parser("run", help="worker and clock together on this machine; Ctrl-C stops them")
    run.add_argument("--concurrency", type=_concurrency, help="worker pool processes")
    run.add_argument("--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS)
    run.set_defaults(func=cmd_run)
