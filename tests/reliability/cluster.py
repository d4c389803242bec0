"""A private PostgreSQL cluster for one test: ``initdb`` in a temporary folder, a free port, and
``pg_ctl`` to stop it (fast, or immediate as a crash would) and start it again — never the machine's
shared server, which other tests and people use.

``initdb`` refuses to run as root: as root the cluster is created and run as the ``postgres``
system user (``runuser -u postgres``), which owns the temporary folder; as anyone else, as oneself.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.common import free_port


class ClusterUnavailableError(RuntimeError):
    """No PostgreSQL server binaries, or no unprivileged user to run them as."""


def find_bindir() -> Path:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``: the one ``pg_ctl`` on PATH lives
    in (Debian links it from /usr/local/bin), else the newest /usr/lib/postgresql/*/bin."""
    candidates = []
    if (on_path := shutil.which("pg_ctl")) is not None:
        candidates.append(Path(on_path).resolve().parent)

    def version(folder: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", Path(folder).parent.name))

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise ClusterUnavailableError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin "
        "(Debian: apt-get install postgresql)"
    )


def run_as() -> pwd.struct_passwd | None:
    """The user to run the cluster as: ``postgres`` when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterUnavailableError(
            "initdb refuses to run as root and there is no postgres user to run it as"
        ) from None


class PrivateCluster:
    """``initdb`` on creation; :meth:`start`, :meth:`stop` (``fast`` or ``immediate``), :meth:`destroy`."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.user = run_as()
        if self.user is not None and shutil.which("runuser") is None:
            raise ClusterUnavailableError("running as root needs runuser to start PostgreSQL as postgres")
        self.root = Path(tempfile.mkdtemp(prefix="gist-reliability-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        self.port = free_port()
        self.is_running = False
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        try:
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--no-sync", "--no-instructions")  # fmt: skip
        except BaseException:
            self.destroy()
            raise

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, program: str, *args: str, timeout: float = 120) -> str:
        command = [str(self.bindir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
            cwd=self.root,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
                f"\n{self.log()[-3000:]}"
            )
        return result.stdout

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100 -c shared_buffers=32MB"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60",
                 "start")  # fmt: skip
        self.is_running = True

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clients are disconnected, a clean shutdown; ``immediate``: every process is
        killed, as in a crash (the next start replays the WAL)."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.is_running = False

    def destroy(self) -> None:
        if self.is_running:
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
