"""A real FHIR R4 server for the tests (fhir-mapping.md §3.1 item 7): Medplum's FHIR engine from npm.

``server.mjs`` serves ``@medplum/fhir-router``'s in-memory repository over HTTP on 127.0.0.1. The
npm packages are installed once with ``npm ci`` (versions and sha512 integrity pinned in
``package-lock.json``) into ``.cache/fhir-server`` of the repository (git-ignored). Without node or
npm, or the registry, the tests that need the server skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from tests.support.guard import unavailable

HERE = Path(__file__).resolve().parent
CACHE = HERE.parent.parent / ".cache" / "fhir-server"
FILES = ("package.json", "package-lock.json", "server.mjs")


def _unavailable(why: str) -> NoReturn:
    unavailable(f"test FHIR server: {why}", what="the FHIR server tests")


def install() -> Path:
    """The folder holding ``server.mjs`` and its ``node_modules`` (``npm ci`` when the lock changed)."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        _unavailable("node and npm are needed (Debian: apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    stale = any(
        not (CACHE / name).exists() or (CACHE / name).read_bytes() != (HERE / name).read_bytes()
        for name in ("package.json", "package-lock.json")
    )
    if stale or not (CACHE / "node_modules" / "@medplum" / "fhir-router").is_dir():
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, CACHE / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CACHE, capture_output=True, timeout=600, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            _unavailable(f"npm ci failed: {done.stderr.decode(errors='replace')[-400:]}")
    shutil.copyfile(HERE / "server.mjs", CACHE / "server.mjs")
    return CACHE


@dataclass(frozen=True, slots=True)
class FhirServer:
    base_url: str
    token: str


@contextmanager
def running(token: str) -> Iterator[FhirServer]:
    """Start the server on a free port of 127.0.0.1; it is stopped (and waited for) on exit."""
    folder = install()
    node = shutil.which("node")
    assert node is not None
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [node, str(folder / "server.mjs"), "--token", token],
            cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                process.wait(timeout=10)
                log.seek(0)
                error = log.read().decode(errors="replace")[-800:]
                raise RuntimeError(f"the test FHIR server did not start: {error}")
            port = int(json.loads(line)["port"])
            yield FhirServer(f"http://127.0.0.1:{port}", token)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Closing its standard input ends the server; a server that hangs is killed."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()
