"""``gistsched run``, ``worker`` and ``demo --pure`` as real processes on embedded defaults (no
server): Ctrl-C stops every process it started and gives the clock lease back; a child that dies
takes the others down with exit status 1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from models.db import make_engine, make_sessionmaker
from models.rows import ClockLeaseRow
from tests.support.common import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "scheduler.app.cli"]


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
    env.update(
        GIST_ENV="test", GIST_DATA_DIR=str(data_dir), GIST_CLOCK_INTERVAL_SECONDS="1", PYTHONUNBUFFERED="1"
    )
    return env


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie: exited, only not yet reaped by its parent
    return True


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, set[int]]]:
    """``gistsched run`` started, its worker ready and its clock holding the lease."""
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*COMMAND, "run", "--concurrency", "1"], cwd=tmp_path, env=env_for(tmp_path / "var"),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    started: set[int] = set()
    try:
        wait_until(
            lambda: "ready." in log_path.read_text() and "holding the clock lease" in log_path.read_text(),
            timeout=60,
            interval=0.1,
            message="the worker and the clock",
        )
        started = descendants(process.pid)
        yield process, log_path, started
    finally:
        for pid in [process.pid, *started]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_ctrl_c_stops_worker_and_clock_and_releases_the_lease(
    service: tuple[subprocess.Popen[bytes], Path, set[int]], tmp_path: Path
) -> None:
    process, log_path, started = service
    assert len(started) >= 3  # worker, its pool process, clock
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, log_path.read_text()
    assert [pid for pid in started if is_alive(pid)] == [], log_path.read_text()
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'gistsched.sqlite3'}")
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(ClockLeaseRow)).all() == []
    engine.dispose()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_a_child_that_dies_stops_the_others_with_status_1(
    service: tuple[subprocess.Popen[bytes], Path, set[int]],
) -> None:
    process, log_path, started = service
    children = [pid for pid in started if _parent(pid) == process.pid]
    worker = next(pid for pid in children if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(worker, signal.SIGKILL)
    assert process.wait(timeout=60) == 1
    assert "worker exited unexpectedly" in log_path.read_text()
    assert [pid for pid in started if is_alive(pid)] == []


def _parent(pid: int) -> int:
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])


def test_worker_refuses_a_bad_concurrency(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "worker", "--concurrency", "0"], env=env_for(tmp_path), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--concurrency" in result.stderr
    assert "Traceback" not in result.stderr


def test_pure_demo_touches_no_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "demo", "--pure", "--as-of", "2026-11-27"], cwd=tmp_path, env=env_for(tmp_path / "var"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Patient P01" in result.stdout
    assert not (tmp_path / "var").exists()
