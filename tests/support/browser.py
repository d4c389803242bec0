"""The browser tests' running stack: the cohort stored and planned in a migrated SQLite file, a
navigator, and ``gistsched worker`` and ``serve`` processes, for Playwright driving Debian's
chromium."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from scheduler.patients.processing import process_patient
from scheduler.staff.users import create_user
from tests.support.common import (
    GISTSCHED,
    ROOT,
    by_patient,
    cli_env,
    free_port,
    intake,
    read_cohort,
    wait_until,
)
from tests.support.guard import unavailable
from tests.support.services import stop_process_group
from tests.support.staff import AS_OF, PASSWORD

__all__ = ["AS_OF", "CHROMIUM", "CHROMIUM_ARGS", "NAVIGATOR", "NAVIGATOR_ID", "SCREENSHOTS", "Stack", "stack"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
NAVIGATOR, NAVIGATOR_ID = "nina", "nav-ana"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    unavailable(
        f"{CHROMIUM} is missing (Debian: apt-get install chromium); the browser tests need it",
        what="the browser tests",
    )


@dataclass
class Stack:
    base: str
    sessions: sessionmaker[Session]
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by name: worker, serve

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {name}\n{path.read_text(errors='replace')[-3000:]}" for name, path in self.logs.items()
        )


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The cohort stored and planned in a migrated SQLite file, a navigator, and the two processes."""
    require_chromium()
    url = f"sqlite:///{tmp_path / 'gist.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    events = read_cohort()
    intake(sessions, events, AS_OF)
    for patient_id in by_patient(events):
        process_patient(sessions, patient_id, AS_OF)
    create_user(sessions, NAVIGATOR, "navigator", PASSWORD, navigator_id=NAVIGATOR_ID)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = cli_env(url, data_dir, GIST_AS_OF=AS_OF.isoformat(), GIST_BASE_URL=base)  # embedded broker
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "serve")}
    commands = {
        "worker": ["worker", "--concurrency", "1", "--loglevel", "INFO"],
        "serve": ["serve", "--port", str(port)],
    }
    processes: list[subprocess.Popen[bytes]] = []
    files: list[IO[bytes]] = []
    try:
        for name, args in commands.items():
            log = logs[name].open("wb")
            files.append(log)
            processes.append(
                subprocess.Popen(
                    [str(GISTSCHED), *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        running = Stack(base, sessions, logs, dict(zip(commands, processes, strict=True)))

        def ready() -> bool:
            for process in processes:
                assert process.poll() is None, f"a process exited early:\n{running.log_tail()}"
            worker_ready = " ready." in logs["worker"].read_text(errors="replace")
            return worker_ready and _status(base + "/healthz") == 200

        wait_until(ready, timeout=90, interval=0.2, message="gistsched worker and serve to be ready")
        yield running
    finally:
        for process in processes:
            stop_process_group(process)
        for log in files:
            log.close()
        engine.dispose()
