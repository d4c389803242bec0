"""Log lines never carry an email address; JSON lines carry the ids (scheduler/config/logs.py)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from scheduler.config.logs import prepare, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.1.1 <maria.santos@example.org>: No such user", "550 5.1.1 <<email>>: No such user"),
        ("to a.b+c@x.example, o'neil@mail.co.uk", "to <email>, <email>"),
        ("patients.process P01: 3 event(s)", "patients.process P01: 3 event(s)"),
        ("no at sign @ here", "no at sign @ here"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_handlers_redact_messages_arguments_and_tracebacks(log_format: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    prepare(handler, log_format, "worker")
    logger = logging.getLogger(f"test.logs.{log_format}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "notification %d: %s", 7, "550 <ana@clinic.example> refused", extra={"patient_id": "P01"}
        )
        try:
            raise RuntimeError("cannot send to ben@clinic.example")
        except RuntimeError:
            logger.exception("failed for %s", "cleo@clinic.example")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "@clinic.example" not in out
    assert "<email>" in out
    if log_format == "json":
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert lines[0]["patient_id"] == "P01"
        assert lines[0]["process"] == "worker"
        assert "exception" in lines[1]
