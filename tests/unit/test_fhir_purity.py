"""The FHIR adapter is a pure package: no database, broker, web, network or file access.

Every ``.py`` file under ``scheduler/fhir`` is parsed (never imported); its imports must come from
the standard library's pure modules, pydantic, ``fhir.resources`` or ``scheduler.domain``/
``scheduler.fhir`` itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTER = Path(__file__).resolve().parents[2] / "scheduler" / "fhir"
ALLOWED = (
    "__future__", "base64", "collections", "dataclasses", "datetime", "hashlib", "json", "re", "typing",
    "uuid", "urllib.parse", "pydantic", "fhir", "scheduler.domain", "scheduler.fhir",
)  # fmt: skip


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", sorted(ADAPTER.glob("*.py")), ids=lambda p: p.name)
def test_adapter_imports_only_pure_modules(path: Path) -> None:
    bad = [
        f"{path.name}:{line} imports {name}"
        for line, name in _imports(path)
        if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED)
    ]
    assert bad == []
