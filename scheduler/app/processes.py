"""Child processes for ``gistsched run`` and ``gistsched demo``: start, watch, stop — no orphans.

Each child gets its own process group, so a Ctrl-C at the terminal reaches only the parent, which
then sends exactly one SIGTERM to each child (a Celery worker's warm shutdown: finish the running
task, give back the rest; a second signal would make it cold). A child that does not stop in
time is killed with its whole group (a worker's pool processes too). On Linux each child also
asks the kernel for a SIGTERM if the parent dies, so even a SIGKILLed parent leaves no orphans.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

STOP_TIMEOUT_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def gistsched_command(*args: str) -> list[str]:
    """``gistsched ARGS`` with this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "scheduler.app.cli", *args]


def _die_with_parent(parent: int) -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes] | None = None

    @property
    def is_running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """One SIGTERM to the child itself (its own pool processes are its business)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def start_child(
    name: str, command: Sequence[str], env: Mapping[str, str] | None = None, log_path: Path | None = None
) -> Child:
    log = log_path.open("ab") if log_path is not None else None
    parent = os.getpid()
    process = subprocess.Popen(
        list(command),
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        process_group=0,
        preexec_fn=lambda: _die_with_parent(parent),  # noqa: PLW1509 — no threads run in the parent yet
    )
    return Child(name, process, log)


def stop_children(children: Sequence[Child], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM each, wait up to ``timeout`` for all, then SIGKILL what is left with its group."""
    for child in children:
        if child.is_running:
            child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        child.kill_group()  # stragglers, and pool processes a killed leader left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=10)
        child.close()


@dataclass
class Supervisor:
    """Runs children until a signal asks it to stop (exit 0) or one of them dies (exit 1)."""

    children: list[Child] = field(default_factory=list)
    stop_requested: int | None = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop_requested = signum

    def run(self, poll_seconds: float = 0.2) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.stop_requested is None:
                dead = [c for c in self.children if not c.is_running]
                if dead:
                    for child in dead:
                        status = child.process.returncode
                        print(
                            f"gistsched run: {child.name} exited unexpectedly (status {status})",
                            file=sys.stderr,
                        )
                    stop_children(self.children)
                    return 1
                time.sleep(poll_seconds)
            names = ", ".join(c.name for c in self.children)
            reason = signal.Signals(self.stop_requested).name
            print(f"gistsched run: {reason}: stopping {names}", file=sys.stderr)
            stop_children(self.children)
            return 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
