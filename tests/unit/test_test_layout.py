"""The test tree keeps its layers (README "Layout"): no test module imports another test module or a
conftest (what two of them share lives in ``tests/support``), and ``tests/unit`` stays pure: no
process, socket or service helper imported, no temporary folder, database or service fixture asked
for (those tests belong in ``tests/integration``).

Every ``.py`` file under ``tests`` is parsed, never imported. A failure names ``file:line``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
UNIT = TESTS / "unit"

# Imports that bring a process, the network or a real service into a unit test.
NOT_IN_UNIT = frozenset(
    {
        "subprocess",
        "socket",
        "tests.support.browser",
        "tests.support.cohort",
        "tests.support.common",
        "tests.support.fixtures",
        "tests.support.services",
        "tests.support.smtp_server",
        "tests.support.stores",
    }
)
# Fixtures that make files or start services (tests/conftest.py and tests/support/fixtures.py).
SERVICE_FIXTURES = frozenset(
    {
        "tmp_path", "tmp_path_factory", "db", "stored", "staff_tokens", "postgres_server", "postgres_url",
        "redis_server", "redis", "redis_sentinel", "pipeline", "celery_app", "workers", "stack",
    }
)  # fmt: skip


def _imported(tree: ast.Module, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every module an import names, relative ones resolved against
    ``package``; ``from a import b`` names both ``a`` and ``a.b`` (``b`` may be a module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _test_module(name: str) -> str | None:
    """The test module or conftest a dotted name is in or under; None when it is neither."""
    parts = name.split(".")
    for end, part in enumerate(parts, start=1):
        if part.startswith("test_") or part == "conftest":
            return ".".join(parts[:end])
    return None


def imports_of_tests(source: str, path: str, package: str) -> list[str]:
    """Each import of a test module or a conftest in one module's source."""
    tree = ast.parse(source, filename=path)
    found = {(line, module) for line, name in _imported(tree, package) if (module := _test_module(name))}
    return [f"{path}:{line}: imports {module}" for line, module in sorted(found)]


def impurities(source: str, path: str) -> list[str]:
    """What keeps one unit test module from being pure: a forbidden import, a service fixture."""
    tree = ast.parse(source, filename=path)
    found = [
        f"{path}:{line}: imports {name}"
        for line, name in _imported(tree, "tests.unit")
        if any(name == bad or name.startswith(bad + ".") for bad in NOT_IN_UNIT)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            found += [
                f"{path}:{node.lineno}: {node.name} asks for the {arg.arg} fixture"
                for arg in arguments
                if arg.arg in SERVICE_FIXTURES
            ]
    return sorted(set(found))


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _package(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parent.parts)


def test_no_test_module_imports_another() -> None:
    found = [
        problem
        for path in _modules(TESTS)
        for problem in imports_of_tests(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), _package(path)
        )
    ]
    assert found == [], "move what test modules share into tests/support:\n" + "\n".join(found)


def test_the_unit_tests_are_pure() -> None:
    found = [
        problem
        for path in _modules(UNIT)
        for problem in impurities(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == [], "a unit test must be pure; move it to tests/integration:\n" + "\n".join(found)


# The checkers themselves, on small sources: (id, source, expected fragments; [] for none).
IMPORT_CASES = [
    ("support module", "from tests.support.web import sign_in\n", []),
    ("builders", "from tests.builders import History\n", []),
    ("the library", "import pytest\nfrom scheduler.domain.plan import plan_follow_up\n", []),
    ("a test module", "from tests.integration.test_dashboard import csrf_of\n", ["x.py:1: imports tests.in"]),
    ("a test module, plainly", "import tests.unit.test_mail\n", ["imports tests.unit.test_mail"]),
    ("a test module as a name", "from tests.unit import test_mail\n", ["imports tests.unit.test_mail"]),
    ("relative", "from .test_mail import envelope\n", ["imports tests.unit.test_mail"]),
    ("relative, as a name", "from . import test_mail\n", ["imports tests.unit.test_mail"]),
    ("a conftest", "\nfrom tests.conftest import as_of\n", ["x.py:2: imports tests.conftest"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "expected"), [c[1:] for c in IMPORT_CASES], ids=[c[0] for c in IMPORT_CASES]
)
def test_the_import_check(source: str, expected: list[str]) -> None:
    messages = imports_of_tests(source, "x.py", "tests.unit")
    if not expected:
        assert messages == []
    for fragment in expected:
        assert any(fragment in message for message in messages), f"{fragment!r} not in {messages}"


PURITY_CASES = [
    ("pure", "from tests.support.mail import envelope\ndef test_x(monkeypatch):\n    pass\n", []),
    ("subprocess", "import subprocess\n", ["x.py:1: imports subprocess"]),
    ("services", "from tests.support.services import Database\n", ["imports tests.support.services"]),
    ("a folder", "def test_x(tmp_path):\n    pass\n", ["x.py:1: test_x asks for the tmp_path fixture"]),
    ("a database", "def test_x(*, db):\n    pass\n", ["asks for the db fixture"]),
    ("a fixture on one", "def made(redis):\n    pass\n", ["made asks for the redis fixture"]),
]


@pytest.mark.parametrize(
    ("source", "expected"), [c[1:] for c in PURITY_CASES], ids=[c[0] for c in PURITY_CASES]
)
def test_the_purity_check(source: str, expected: list[str]) -> None:
    messages = impurities(source, "x.py")
    if not expected:
        assert messages == []
    for fragment in expected:
        assert any(fragment in message for message in messages), f"{fragment!r} not in {messages}"
