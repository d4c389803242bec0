"""The clinical core stays pure: no framework, no I/O, no clock (style.md, "Functional core").

Every ``.py`` file under ``scheduler/domain`` is parsed (never imported) and checked for:

- imports of anything not on ``ALLOWED`` (the ``FORBIDDEN`` ones get a reason in the message);
- reads of the clock or the file system: ``date.today``, ``datetime.now``, ``datetime.utcnow``,
  ``datetime.today``, ``time.time`` (called or passed around) and calls of ``open(...)``.

A failure names ``file:line`` and what was found. To allow a new pure standard-library module,
add it to ``ALLOWED`` with a comment saying why it is pure.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "scheduler" / "domain"

FORBIDDEN: dict[str, str] = {
    "sqlalchemy": "database access belongs in models/",
    "celery": "tasks belong in tasks/",
    "kombu": "the broker belongs in tasks/",
    "redis": "the broker belongs in tasks/",
    "smtplib": "sending mail belongs in notifications/",
    "http": "HTTP belongs in web/",
    "urllib": "network access belongs in a shell",
    "requests": "network access belongs in a shell",
    "httpx": "network access belongs in a shell",
    "socket": "network access belongs in a shell",
    "fastapi": "HTTP belongs in web/",
    "os": "the environment and file system belong in a shell (settings.py)",
    "subprocess": "processes belong in a shell",
    "pathlib": "the file system belongs in a shell",
    "io": "I/O belongs in a shell",
    "time": "the core reads no clock: pass as_of",
    "random": "the core is deterministic",
}

ALLOWED: frozenset[str] = frozenset(
    {
        # named in the brief for the core
        "__future__",
        "datetime",  # types and arithmetic only; the clock reads are checked below
        "dataclasses",
        "typing",
        "enum",
        "functools",
        "itertools",
        "collections",
        "math",
        "re",
        "hashlib",
        "json",
        "bisect",
        "pydantic",
        "pydantic_core",  # pydantic's own validation core (ErrorDetails, PydanticCustomError)
        "zoneinfo",
        "scheduler.domain",
        # further pure standard-library modules: no I/O, no clock, no global state
        "abc",
        "annotated_types",  # pydantic's constraint types
        "calendar",  # monthrange() for month-end clamping
        "copy",
        "decimal",
        "fractions",
        "heapq",
        "numbers",
        "operator",
        "statistics",
        "string",
        "textwrap",
        "types",
        "typing_extensions",
    }
)

# Attribute reads that consult the clock. Matched on the resolved dotted name (import aliases
# followed) and, as a fallback for unresolved receivers, on the last two components.
CLOCK_READS: frozenset[str] = frozenset(
    {
        "datetime.date.today",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "time.time",
    }
)
CLOCK_TAILS: frozenset[str] = frozenset(".".join(name.split(".")[-2:]) for name in CLOCK_READS)
BUILTIN_CALLS: frozenset[str] = frozenset({"open"})


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _allowed(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in ALLOWED)


def _forbidden_reason(module: str) -> str | None:
    return FORBIDDEN.get(module.partition(".")[0])


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None when the chain does not start with a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def find_violations(source: str, path: str) -> list[Violation]:
    """Every impurity in one module's source, in line order."""
    tree = ast.parse(source, filename=path)
    found: list[Violation] = []
    aliases: dict[str, str] = {}  # local name -> fully qualified name

    def check_module(module: str, line: int) -> None:
        reason = _forbidden_reason(module)
        if reason is not None:
            found.append(Violation(path, line, f"imports {module!r}: {reason}"))
        elif not _allowed(module):
            found.append(Violation(path, line, f"imports {module!r}, which is not on the core's allow-list"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name, node.lineno)
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside scheduler.domain by construction
                continue
            module = node.module or ""
            check_module(module, node.lineno)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = _dotted(node)
            if parts is None:
                continue
            resolved = ".".join([aliases.get(parts[0], parts[0]), *parts[1:]])
            tail = ".".join(parts[-2:])
            if resolved in CLOCK_READS or tail in CLOCK_TAILS:
                found.append(
                    Violation(path, node.lineno, f"reads the clock with {'.'.join(parts)}: pass as_of")
                )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in BUILTIN_CALLS
            and node.func.id not in aliases
        ):
            found.append(Violation(path, node.lineno, f"calls {node.func.id}(): the core does no I/O"))

    return sorted(set(found), key=lambda v: (v.line, v.what))


def domain_files() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_the_domain_package_is_there() -> None:
    assert DOMAIN.is_dir(), f"{DOMAIN} is missing"
    assert domain_files(), f"no .py files under {DOMAIN}"


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_is_pure(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    violations = find_violations(path.read_text(encoding="utf-8"), rel)
    assert not violations, "the clinical core must stay pure:\n" + "\n".join(f"  {v}" for v in violations)


# The checker itself, on small sources: each row is (id, source, expected fragments or none).
CASES = [
    ("datetime types are fine", "import datetime as dt\nx: dt.date = dt.date(2026, 1, 1)\n", []),
    ("from-import of date is fine", "from datetime import date, timedelta\n", []),
    ("relative import is fine", "from .model import Plan\nfrom . import rules\n", []),
    ("own package is fine", "from scheduler.domain.model import Plan\n", []),
    ("pydantic is fine", "from pydantic import BaseModel, Field\n", []),
    ("os is forbidden", "import os\n", ["x.py:1: imports 'os'"]),
    ("os.path is forbidden", "import os.path\n", ["imports 'os.path'"]),
    ("http.client is forbidden", "from http import client\n", ["imports 'http'"]),
    ("httpx is forbidden", "import httpx\n", ["imports 'httpx'"]),
    ("sqlalchemy is forbidden", "from sqlalchemy.orm import Session\n", ["imports 'sqlalchemy.orm'"]),
    ("celery is forbidden", "from celery import shared_task\n", ["imports 'celery'"]),
    ("time is forbidden", "import time\n", ["imports 'time'"]),
    ("random is forbidden", "from random import choice\n", ["imports 'random'"]),
    ("unlisted module is refused", "import logging\n", ["not on the core's allow-list"]),
    ("sibling package is refused", "from scheduler.service import x\n", ["'scheduler.service'"]),
    ("date.today", "from datetime import date\nd = date.today()\n", ["x.py:2: reads the clock"]),
    ("dt.date.today", "import datetime as dt\nd = dt.date.today()\n", ["dt.date.today"]),
    ("datetime.now", "from datetime import datetime\nn = datetime.now()\n", ["datetime.now"]),
    ("datetime.datetime.utcnow", "import datetime\nn = datetime.datetime.utcnow()\n", ["utcnow"]),
    ("datetime.today", "from datetime import datetime\nn = datetime.today()\n", ["datetime.today"]),
    ("aliased class", "from datetime import date as D\nd = D.today()\n", ["reads the clock with D.today"]),
    ("clock passed as a value", "import datetime as dt\nclock = dt.date.today\n", ["reads the clock"]),
    ("open()", "def f(p):\n    return open(p).read()\n", ["x.py:2: calls open()"]),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_checker(source: str, expected: list[str]) -> None:
    messages = [str(v) for v in find_violations(source, "x.py")]
    if not expected:
        assert messages == []
    for fragment in expected:
        assert any(fragment in m for m in messages), f"{fragment!r} not in {messages}"
