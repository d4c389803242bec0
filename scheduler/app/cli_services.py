"""``gistsched worker``, ``clock`` and ``run``: the long-running processes (event-contract.md §3)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily so `gistsched risk` and `plan` start fast
    from scheduler.config.settings import Settings


def load_settings() -> Settings:
    from scheduler.config.settings import load_settings as load

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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535 (got {text!r})")
    return value


def cmd_worker(args: argparse.Namespace) -> int:
    """A real Celery worker (prefork) on the configured broker; ``worker_main`` exits the process."""
    from tasks.app import get_app, worker_argv

    settings = load_settings()
    app = get_app(settings)
    app.worker_main(worker_argv(settings, concurrency=args.concurrency, loglevel=args.loglevel))
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    from scheduler.config.logs import configure
    from tasks.clock import run_clock

    settings = load_settings()
    configure(settings.log_format, "clock", args.loglevel)
    if args.loglevel != "DEBUG":  # APScheduler logs every run of the tick job at INFO
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return run_clock(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    """The HTTP API and feeds under uvicorn. Its access log is off: ours redacts feed tokens."""
    import uvicorn

    from scheduler.app.cli_pipeline import StoreError
    from scheduler.app.wiring import NavigatorSettingError, create_web_app
    from scheduler.config.logs import configure

    settings = load_settings()
    migrate_embedded(settings)
    configure(settings.log_format, "web", args.loglevel)
    try:
        app = create_web_app(settings)
    except NavigatorSettingError as exc:
        raise StoreError(f"gistsched serve: {exc}; not started") from None
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level=args.loglevel.lower(),
        log_config=None,  # keep our root handler (redaction, JSON) for uvicorn's own loggers
        proxy_headers=True,
        server_header=False,
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Worker, clock and web server as children; Ctrl-C/SIGTERM stops them all."""
    from scheduler.app.cli_pipeline import StoreError
    from scheduler.app.processes import Supervisor, gistsched_command, start_child
    from scheduler.app.wiring import NavigatorSettingError, fhir_navigators

    settings = load_settings()
    try:
        fhir_navigators(settings)  # the web child would refuse it: refuse before starting any
    except NavigatorSettingError as exc:
        raise StoreError(f"gistsched run: {exc}; not started") from None
    migrate_embedded(settings)
    worker_args = ["worker", "--loglevel", args.loglevel]
    if args.concurrency:
        worker_args += ["--concurrency", str(args.concurrency)]
    supervisor = Supervisor()
    supervisor.children.append(start_child("worker", gistsched_command(*worker_args)))
    supervisor.children.append(start_child("clock", gistsched_command("clock", "--loglevel", args.loglevel)))
    supervisor.children.append(
        start_child(
            "web",
            gistsched_command(
                "serve", "--host", args.host, "--port", str(args.port), "--loglevel", args.loglevel
            ),
        )
    )
    broker = (
        "embedded (" + str(settings.broker_folder) + ")" if settings.is_embedded_broker else "GIST_BROKER_URL"
    )
    worker, clock, web = (child.process.pid for child in supervisor.children)
    print(
        f"gistsched run: worker (pid {worker}), clock (pid {clock}) on broker {broker}, "
        f"web (pid {web}) on http://{args.host}:{args.port}; emails to "
        f"{'GIST_SMTP_URL' if settings.smtp_url else settings.resolved_mail_folder}; Ctrl-C stops them",
        file=sys.stderr,
    )
    return supervisor.run()


def migrate_embedded(settings: Settings) -> None:
    """On SQLite (the embedded default) bring the schema to head, so a fresh clone just runs.
    PostgreSQL is migrated by its own one-shot step (``gistsched db upgrade``), not by every start."""
    from scheduler.app.cli_pipeline import StoreError

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

    serve = sub.add_parser("serve", help="the HTTP API, calendar feeds and (later) the dashboard")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (8000)")
    serve.add_argument("--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS)
    serve.set_defaults(func=cmd_serve)

    run = sub.add_parser("run", help="worker, clock and web server on this machine; Ctrl-C stops them")
    run.add_argument("--concurrency", type=_concurrency, help="worker pool processes")
    run.add_argument("--host", default="127.0.0.1", help="the web server's address (127.0.0.1)")
    run.add_argument("--port", type=_port, default=8000, help="the web server's port (8000)")
    run.add_argument("--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS)
    run.set_defaults(func=cmd_run)
