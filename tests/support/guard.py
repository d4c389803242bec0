"""The service-availability guard: a test that needs something this machine lacks (PostgreSQL,
redis-server, openssl, a compose command, chromium, the shared contract checker) is skipped with
the reason — except under ``CI=true``, where it fails: CI must run every such test, never skip it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str, *, what: str = "the service-backed tests") -> NoReturn:
    """Skip outside CI; fail in CI, where ``what`` must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: {what} must run, not skip)", pytrace=False)
    pytest.skip(reason)
