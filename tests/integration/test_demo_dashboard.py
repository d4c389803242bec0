"""The first run leads somewhere: ``gistsched demo --data-dir var/demo`` (what ``make demo`` runs)
ends by printing one command, ``make dashboard``; that command serves the demo's data, and every
user the demo printed signs in with the printed password and sees the worklist; every address the
demo printed (the dashboard, the calendar feeds) names the host and port the dashboard serves on,
and a printed feed answers there."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from scheduler.app.demo import DASHBOARD_URL
from tests.support.common import GISTSCHED, ROOT, free_port, wait_until
from tests.support.services import stop_process_group

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def status(url: str, opener: urllib.request.OpenerDirector | None = None) -> int:
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_make_demo_ends_with_the_command_that_opens_its_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
    env |= {"GIST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/not-this"}  # the demo ignores it
    demo = subprocess.run(
        [str(GISTSCHED), "demo", "--data-dir", "var/demo", "--as-of", "2026-11-27"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    lines = demo.stdout.splitlines()
    command = next(line for line in lines if line.startswith("Open the dashboard on this demo's data"))
    assert command.endswith(":  make dashboard"), command
    assert lines.index(command) >= len(lines) - 6, "the command comes at the end"
    assert lines[-1].endswith(":  make run"), "and how to start the long-running service"
    sign_ins = dict(re.findall(r"^  (\S+) +password (\S+)$", demo.stdout, re.MULTILINE))
    assert {"admin", "nav-ana", "nav-ben"} <= set(sign_ins), demo.stdout
    urls = re.findall(r"https?://[^\s/]+", demo.stdout)
    assert urls
    assert set(urls) == {DASHBOARD_URL}, set(urls)  # one host: the dashboard's
    feeds = re.findall(rf"{re.escape(DASHBOARD_URL)}(/feeds/\S+\.ics)", demo.stdout)
    assert feeds

    port = free_port()  # 8000 may be taken on a shared machine: the same command on another port
    base = f"http://127.0.0.1:{port}"
    folder = tmp_path / "var" / "demo"
    log = (tmp_path / "dashboard.log").open("wb")
    dashboard = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(ROOT), "dashboard",
         f"DEMO_DIR={folder}", f"DASHBOARD_PORT={port}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(
            lambda: dashboard.poll() is None and status(base + "/healthz") == 200,
            timeout=90,
            interval=0.3,
            message=f"make dashboard to serve:\n{(tmp_path / 'dashboard.log').read_text(errors='replace')}",
        )
        for username, password in sorted(sign_ins.items()):
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            form = urllib.parse.urlencode({"username": username, "password": password, "next": "/"}).encode()
            with opener.open(base + "/login", data=form, timeout=10) as response:
                assert response.status == 200, username
                assert response.url == base + "/", (username, response.url)
                page = response.read().decode()
            assert f"Signed in as <strong>{username}</strong>" in page, page[:2000]
            assert "Worklist" in page
        assert status(base + feeds[0]) == 200  # a printed feed, on the dashboard's server
        printed = (tmp_path / "dashboard.log").read_text(errors="replace")
        assert f"{DASHBOARD_URL}/" in printed  # make dashboard repeats where to go and how to sign in
        assert all(password in printed for password in sign_ins.values())
    finally:
        stop_process_group(dashboard)
        log.close()
