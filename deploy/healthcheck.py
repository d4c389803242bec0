"""Container health checks for docker-compose.yml (python:3.11-slim has no curl or wget).

    python /opt/gist/healthcheck.py web [URL]  GET URL (default http://127.0.0.1:8000/healthz):
                                               healthy on 200, i.e. database and broker reachable
    python /opt/gist/healthcheck.py worker     this container's Celery worker answers a ping over
                                               the broker (needs GIST_WORKER_NAME: the node is
                                               ``$GIST_WORKER_NAME@<container hostname>``)

Exit status 0 when healthy, 1 when not, with one line on stdout (``docker inspect`` shows it).
Only the standard library for ``web``; ``worker`` uses the installed project (Celery, settings).
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"
TIMEOUT_SECONDS = 5.0
USAGE = "usage: healthcheck.py web [URL] | worker"


def check_web(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return (
                response.status == 200,
                f"{url}: {response.status} {response.read(200).decode(errors='replace')}",
            )
    except urllib.error.HTTPError as exc:  # 503: the database or the broker is unreachable
        return False, f"{url}: {exc.code} {exc.read(200).decode(errors='replace')}"
    except (OSError, ValueError) as exc:  # refused, timed out, DNS, a malformed URL
        return False, f"{url}: {type(exc).__name__}: {exc}"


def check_worker() -> tuple[bool, str]:
    from celery import Celery

    from scheduler.config.settings import load_settings

    settings = load_settings()
    if not settings.worker_name:
        return False, "GIST_WORKER_NAME is not set: the worker's node name is unknown"
    if settings.is_embedded_broker:
        return False, "the embedded broker has no remote control: set GIST_BROKER_URL"
    node = f"{settings.worker_name}@{socket.gethostname()}"
    app = Celery("gistsched-healthcheck", broker=settings.broker_url)  # no tasks: a quick start
    app.conf.broker_transport_options = settings.broker_transport_options  # a Sentinel master's name
    try:
        replies = app.control.ping(destination=[node], timeout=TIMEOUT_SECONDS, limit=1)
    except Exception as exc:  # the broker is down: kombu/redis raise their own types
        return False, f"{node}: cannot reach the broker ({type(exc).__name__}: {exc})"
    finally:
        app.close()
    if any(node in reply for reply in replies):
        return True, f"{node}: pong"
    return False, f"{node}: no answer within {TIMEOUT_SECONDS:g} s"


def main(argv: list[str]) -> int:
    if argv[:1] == ["web"] and len(argv) <= 2:
        healthy, detail = check_web(argv[1] if len(argv) == 2 else DEFAULT_URL)
    elif argv == ["worker"]:
        healthy, detail = check_worker()
    else:
        sys.stderr.write(USAGE + "\n")
        return 1  # Docker reserves exit status 2
    sys.stdout.write(("healthy: " if healthy else "unhealthy: ") + detail + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
