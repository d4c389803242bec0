"""The browser tests' running stack: the cohort stored and planned in a migrated SQLite file, a
navigator, and ``gistsched worker`` and ``serve`` processes, for Playwright driving Debian's
chromium; the browser itself, a signed-in page, screenshots, and the checks that a page fits a
phone's width."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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

__all__ = [
    "AS_OF", "CHROMIUM", "CHROMIUM_ARGS", "NAVIGATOR", "NAVIGATOR_ID", "PHONE", "SCREENSHOTS", "Stack",
    "assert_inside", "assert_nothing_off_screen", "browser", "shoot", "signed_in", "stack",
]  # fmt: skip

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
PHONE = {"width": 390, "height": 844}


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


# ---- the browser ------------------------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, launched by Playwright for one test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot ``name``.png in :data:`SCREENSHOTS`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def signed_in(browser: Any, stack: Stack, username: str, **context: Any) -> Any:
    """A new page of ``browser`` (1280 × 900 unless ``context`` says otherwise) with ``username``
    signed in, on the worklist."""
    page = browser.new_context(**({"viewport": {"width": 1280, "height": 900}} | context)).new_page()
    page.set_default_timeout(20_000)
    page.goto(stack.base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack.base + "/")
    return page


def assert_inside(box: dict[str, float] | None, what: str) -> None:
    """``box`` (a bounding box) is rendered within a phone's width."""
    assert box is not None, f"{what} is not rendered"
    assert box["x"] >= 0, f"{what} starts left of the screen: {box}"
    assert box["x"] + box["width"] <= PHONE["width"] + 0.5, f"{what} ends past the right edge: {box}"


OFF_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const element of document.querySelectorAll("body *")) {
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || style.display === "none") continue;
    if (element.closest(".visually-hidden, thead, .skip-link")) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      out.push(`${element.tagName.toLowerCase()}${element.id ? "#" + element.id : ""}.${element.className} ` +
               `${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {width, scroll: document.documentElement.scrollWidth, out: out.slice(0, 10)};
}"""


def assert_nothing_off_screen(page: Any, path: str) -> None:
    """``page`` (at ``path``) is a phone's width and nothing on it reaches past the screen's edges."""
    found = page.evaluate(OFF_SCREEN)
    assert found["width"] == PHONE["width"], found
    assert found["scroll"] <= PHONE["width"], f"{path} scrolls sideways: {found}"
    assert found["out"] == [], f"{path}: elements past the screen's edge: {found['out']}"
