"""Logging for the long-running processes: text for people, JSON lines for machines
(``GIST_LOG_FORMAT=json``), never an email address, and no raw control character.

Log lines carry ids (patient, event, notification) and counts, not names, emails or clinical
text; the code logs no such thing, but an SMTP server's reply or a driver's error can quote an
address, so every handler gets :class:`RedactEmails`, which rewrites any address to ``<email>``
and escapes control characters (a newline in a username must not forge a second log line).
The feed token never reaches a log at all (web/app.py's access log redacts the path).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
EXTRA_FIELDS = ("patient_id", "event_id", "notification_id", "task")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Control characters as ``\\xNN`` / ``\\uNNNN``, so text from a request (a username, a
    path) cannot forge a log line or move the terminal's cursor. Newlines and tabs of a traceback
    are kept by :class:`RedactEmails`, which escapes the message only."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def redact(text: str) -> str:
    return EMAIL.sub("<email>", text)


class RedactEmails(logging.Filter):
    """Formats the message once, redacted, so no handler sees the address."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = escape_controls(redact(message)).replace("\n", "\\n").replace("\r", "\\r")
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter(log_format: str, process: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(process)
    return logging.Formatter(f"[%(asctime)s: %(levelname)s/{process}] %(message)s")


def prepare(handler: logging.Handler, log_format: str, process: str) -> None:
    """Give ``handler`` our formatter and the redaction filter (idempotent)."""
    handler.setFormatter(formatter(log_format, process))
    if not any(isinstance(f, RedactEmails) for f in handler.filters):
        handler.addFilter(RedactEmails())


def configure(log_format: str, process: str, level: str = "INFO") -> None:
    """The root logger of a clock or web process: one stderr handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    prepare(handler, log_format, process)
    root.addHandler(handler)
    root.setLevel(level)
