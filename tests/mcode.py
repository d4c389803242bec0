"""The mCODE 4.0.0 FHIR package (CC0-1.0), fetched once with ``npm pack`` and checked by integrity.

Kept in ``.cache/mcode`` of the repository (git-ignored). Without npm or the registry the tests
that need it skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.guard import unavailable

PACKAGE = "hl7.fhir.us.mcode@4.0.0"
TARBALL = "hl7.fhir.us.mcode-4.0.0.tgz"
INTEGRITY = "sha512-HJogFi9rQetIUE8gqKFq2tt4I8ukdH3PUCQO5jBiKxYUgh+vrlXvkWkt/XuYOzpNPdfRmsj3LG4UJm5o1g2OlA=="
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "mcode"


def _unavailable(why: str) -> NoReturn:
    unavailable(f"mCODE package: {why}", what="the mCODE tests")


def mcode_examples() -> Path:
    """The package's ``example/`` folder (179 JSON resources)."""
    examples = CACHE / "package" / "example"
    if examples.is_dir():
        return examples
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / TARBALL
    if not tarball.exists():
        done = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=CACHE, capture_output=True, timeout=180,
                              check=False)  # fmt: skip
        if done.returncode != 0:
            _unavailable(f"npm pack failed: {done.stderr.decode(errors='replace')[-300:]}")
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        tarball.unlink()
        pytest.fail("mCODE package: sha512 integrity does not match the pinned value")
    with tarfile.open(tarball) as archive:
        archive.extractall(CACHE, filter="data")
    return examples
