"""The production topology: ``docker-compose.yml``, ``Dockerfile``, ``.env.example`` and the
container healthchecks (``deploy/healthcheck.py``), checked without a Docker engine.

* ``docker-compose config`` (Debian's docker-compose 1.29) or ``docker compose config`` (the v2
  plugin; ``GIST_TEST_COMPOSE`` names another command) resolves the file with a ``.env`` made from
  ``.env.example``; the resolved services are checked: one-shot migration, healthchecks, one clock,
  scalable workers, no secret defaults, required values refused when missing;
* the Dockerfile is parsed (non-root user, ``ENTRYPOINT ["gistsched"]``, nothing secret);
* the image ships every data file the packages need (``pip install .`` installs only package-data);
* the healthcheck script against a real HTTP server and a real worker on a private redis-server.

No compose command → skipped with the reason, except with ``CI=true``, where it fails.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from notifications.smtp import parse_smtp_url
from scheduler.config.settings import Settings
from tests.support.common import ROOT
from tests.support.guard import unavailable
from tests.support.services import Workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WHAT = "the compose tests"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"
IMAGE_HEALTHCHECK = "/opt/gist/healthcheck.py"  # where the Dockerfile copies it

APP_SERVICES = ("migrate", "web", "worker", "clock")
SERVICES = ("postgres", "redis", *APP_SERVICES, "mailpit", "flower")
REQUIRED = ("POSTGRES_PASSWORD", "GIST_SMTP_URL", "GIST_BASE_URL", "GIST_CLINIC_TIMEZONE")
TEST_VALUES = {
    "POSTGRES_PASSWORD": "compose0test0password0not0real",
    "GIST_SMTP_URL": "smtp://mailpit:1025?starttls=off",
    "GIST_BASE_URL": "https://gist.test.invalid",
    "GIST_CLINIC_TIMEZONE": "Europe/Paris",
}
# The only variables the compose file may default (neither secret nor site-specific).
DEFAULTED = {"GIST_IMAGE", "WEB_PUBLISH", "GIST_LOG_FORMAT", "GIST_PROFILE"}  # not secrets: safe defaults
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)

Obj = dict[str, Any]


# ---- running compose --------------------------------------------------------------------------


def _works(command: list[str]) -> bool:
    try:
        result = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=60, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The compose command: ``$GIST_TEST_COMPOSE``, else ``docker compose``, else ``docker-compose``."""
    if os.environ.get("GIST_TEST_COMPOSE"):
        command = shlex.split(os.environ["GIST_TEST_COMPOSE"])
        if not _works(command):
            unavailable(f"GIST_TEST_COMPOSE={os.environ['GIST_TEST_COMPOSE']!r} does not run", what=WHAT)
        return command
    if shutil.which("docker") and _works(["docker", "compose"]):
        return ["docker", "compose"]
    if shutil.which("docker-compose") and _works(["docker-compose"]):
        return ["docker-compose"]
    return unavailable(
        "no compose command: apt-get install docker-compose (or the docker compose plugin)", what=WHAT
    )


def env_text(**values: str | None) -> str:
    """``.env.example`` with the required values filled in (``None``: left as in the example)."""
    values = {**TEST_VALUES, **values}
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        is_assignment = not line.startswith("#") and "=" in line
        lines.append(f"{name}={values[name]}" if is_assignment and values.get(name) is not None else line)
    return "\n".join(lines) + "\n"


def copy_project(folder: Path) -> Path:
    """A copy of the files compose reads (so the test's .env never touches the checkout)."""
    folder.mkdir()
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "deploy", folder / "deploy")
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "gist")


def run_config(compose: list[str], project: Path, env_file: str) -> subprocess.CompletedProcess[str]:
    (project / ".env").write_text(env_file, encoding="utf-8")
    # A clean environment: a POSTGRES_PASSWORD or GIST_* of this machine must not fill in for .env.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(project)}
    return subprocess.run(
        [*compose, "--project-name", "gisttest", "--profile", "monitoring", "config"],
        cwd=project, env=env, capture_output=True, text=True, timeout=90, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved(compose: list[str], tmp_path_factory: pytest.TempPathFactory) -> Obj:
    """The configuration compose resolves from .env.example with test values (once: it is slow)."""
    project = copy_project(tmp_path_factory.mktemp("compose") / "gist")
    result = run_config(compose, project, env_text())
    assert result.returncode == 0, result.stderr
    config: Obj = yaml.safe_load(result.stdout)
    return config


def services(config: Obj) -> dict[str, Obj]:
    found: dict[str, Obj] = config["services"]
    return found


def published(service: Obj) -> list[tuple[str, int, int]]:
    """(host address, published port, container port) of each port, from v1 or v2 output."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):  # v2: long syntax
            ports.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:  # v1: "127.0.0.1:8000:8000/tcp"
            *host, outside, inside = str(port).split("/")[0].split(":")
            ports.append((host[0] if host else "", int(outside), int(inside)))
    return ports


# ---- the resolved compose file ------------------------------------------------------------------


def test_every_service_is_defined(resolved: Obj) -> None:
    assert set(SERVICES) <= set(services(resolved))
    assert services(resolved)["flower"]["profiles"] == ["monitoring"]
    assert set(resolved["volumes"]) >= {"postgres-data", "redis-data"}


def test_app_services_run_one_image_in_production(resolved: Obj) -> None:
    found = services(resolved)
    images = {found[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, images
    commands = {name: found[name]["command"] for name in APP_SERVICES}
    assert commands == {
        "migrate": ["db", "upgrade"],
        "web": ["serve", "--host", "0.0.0.0", "--port", "8000"],
        "worker": ["worker"],
        "clock": ["clock"],
    }
    for name in APP_SERVICES:
        env = found[name]["environment"]
        assert env["GIST_ENV"] == "production", name
        assert env["GIST_DATABASE_URL"] == (
            f"postgresql://gist:{TEST_VALUES['POSTGRES_PASSWORD']}@postgres:5432/gist"
        ), name
        assert env["GIST_BROKER_URL"] == "redis://redis:6379/0", name
        for variable in ("GIST_SMTP_URL", "GIST_BASE_URL", "GIST_CLINIC_TIMEZONE"):
            assert env[variable] == TEST_VALUES[variable], (name, variable)


def test_the_app_accepts_the_resolved_environment(resolved: Obj, monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose hands the containers passes the production checks of settings.py, and the
    staging SMTP URL parses as plain SMTP without a login (mailpit offers no TLS)."""
    for name in list(os.environ):
        if name.startswith("GIST_"):
            monkeypatch.delenv(name)
    for name, value in services(resolved)["worker"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    settings = Settings()
    assert settings.env == "production"
    assert settings.worker_name == "worker"
    assert settings.smtp_url is not None
    smtp = parse_smtp_url(settings.smtp_url)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username) == ("mailpit", 1025, "off", None)
    monkeypatch.delenv("GIST_SMTP_URL")
    with pytest.raises(ValueError, match="GIST_SMTP_URL must be set"):
        Settings()


def test_migrate_is_one_shot_and_the_others_wait_for_it(resolved: Obj) -> None:
    found = services(resolved)
    migrate = found["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in migrate
    assert "healthcheck" not in migrate
    for name in ("web", "worker", "clock"):
        depends = found[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert found[name]["restart"] == "unless-stopped", name


def test_healthchecks(resolved: Obj) -> None:
    found = services(resolved)
    tests = {
        name: found[name]["healthcheck"]["test"] for name in ("postgres", "redis", "web", "worker", "mailpit")
    }
    assert tests["postgres"][:2] == ["CMD", "pg_isready"]
    assert tests["redis"] == ["CMD-SHELL", "redis-cli ping | grep -q PONG"]
    assert tests["web"] == ["CMD", "python", IMAGE_HEALTHCHECK, "web", "http://127.0.0.1:8000/healthz"]
    assert tests["worker"] == ["CMD", "python", IMAGE_HEALTHCHECK, "worker"]
    assert tests["mailpit"] == ["CMD", "/mailpit", "readyz"]


def test_redis_persists_and_postgres_keeps_its_data(resolved: Obj) -> None:
    found = services(resolved)
    assert found["redis"]["image"].startswith("redis:7")
    assert found["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    assert found["postgres"]["image"] == "postgres:16"
    volumes = {name: [str(v) for v in found[name]["volumes"]] for name in ("postgres", "redis")}
    assert any(
        "postgres-data" in str(v) and "/var/lib/postgresql/data" in str(v)
        for v in found["postgres"]["volumes"]
    ), volumes
    assert any("redis-data" in str(v) and "/data" in str(v) for v in found["redis"]["volumes"]), volumes


def test_web_is_on_port_8000(resolved: Obj) -> None:
    assert published(services(resolved)["web"]) == [("127.0.0.1", 8000, 8000)]


def test_clock_is_exactly_one(resolved: Obj) -> None:
    assert services(resolved)["clock"]["deploy"]["replicas"] == 1
    assert "ports" not in services(resolved)["clock"]


def test_worker_scales(resolved: Obj) -> None:
    worker = services(resolved)["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["environment"]["GIST_WORKER_NAME"] == "worker"
    assert "replicas" not in worker.get("deploy", {})
    for name, service in services(resolved).items():
        assert "container_name" not in service, name


def test_only_the_ui_of_mailpit_and_flower_is_published_on_loopback(resolved: Obj) -> None:
    found = services(resolved)
    assert published(found["mailpit"]) == [("127.0.0.1", 8025, 8025)]
    assert published(found["flower"]) == [("127.0.0.1", 5555, 5555)]
    for name in ("postgres", "redis", "migrate", "worker", "clock"):
        assert published(found[name]) == [], name
    assert "redis://redis:6379/0" in " ".join(found["flower"]["command"])


@pytest.mark.parametrize("variable", REQUIRED)
def test_a_missing_required_value_stops_compose(compose: list[str], project: Path, variable: str) -> None:
    result = run_config(compose, project, env_text(**{variable: ""}))
    assert result.returncode != 0, result.stdout
    assert f"set {variable} in .env" in result.stderr, result.stderr


def test_the_example_as_is_is_refused(compose: list[str], project: Path) -> None:
    """A copied .env.example whose required values were not filled in never starts."""
    result = run_config(compose, project, ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert result.returncode != 0, result.stdout
    # compose names the first empty one it meets (v1 and v2 meet them in a different order)
    assert any(f"set {variable} in .env" in result.stderr for variable in REQUIRED), result.stderr


# ---- the compose file and .env.example as text ------------------------------------------------------


def test_no_secret_has_a_default_in_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    references = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?", text)
    assert references
    for name, operator in references:
        if name in DEFAULTED:
            assert operator == ":-", name
        else:
            assert operator == ":?", f"${{{name}}} must be required (${{{name}:?…}}), not defaulted"
    assert not SECRET_NAME.search(" ".join(DEFAULTED))
    config = yaml.safe_load(text)
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )


def test_the_example_sets_no_secret_and_lists_every_setting() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assigned = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert assigned == dict.fromkeys(REQUIRED, ""), "only the required values, all empty"
    for field in Settings.model_fields:
        assert f"GIST_{field.upper()}" in text, f"GIST_{field.upper()} is not in .env.example"


# ---- Dockerfile and .dockerignore ---------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, continuation lines joined."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        found.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "a continuation line at the end of the Dockerfile"
    return found


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    start = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[start:]


def test_dockerfile_runs_gistsched_as_a_non_root_user() -> None:
    steps = instructions(DOCKERFILE)
    assert all(args.split()[0] == "python:3.11-slim" for keyword, args in steps if keyword == "FROM")
    final = final_stage(steps)
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "the runtime stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert [json.loads(args) for keyword, args in final if keyword == "ENTRYPOINT"] == [["gistsched"]]
    [cmd] = [json.loads(args) for keyword, args in final if keyword == "CMD"]
    assert cmd[:3] == ["serve", "--host", "0.0.0.0"]
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PYTHONUNBUFFERED=1" in env


def test_dockerfile_installs_the_project_without_dev_extras_or_secrets() -> None:
    steps = instructions(DOCKERFILE)
    runs = " ".join(args for keyword, args in steps if keyword == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs), runs
    assert "[dev]" not in runs
    for keyword, args in steps:
        if keyword in ("ENV", "ARG", "LABEL"):
            assert not SECRET_NAME.search(args), (keyword, args)
            assert "GIST_DATABASE_URL" not in args, args
            assert "GIST_SMTP_URL" not in args, args
    assert "GIST_ENV" not in " ".join(args for keyword, args in steps if keyword == "ENV")


def test_dockerfile_copies_every_package_and_the_healthcheck() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copies = [args.split() for keyword, args in instructions(DOCKERFILE) if keyword == "COPY"]
    sources = {part for args in copies if not args[0].startswith("--from") for part in args[:-1]}
    assert packages <= sources, f"not copied into the image: {packages - sources}"
    assert {"pyproject.toml", "README.md"} <= sources
    assert ["deploy/healthcheck.py", IMAGE_HEALTHCHECK] in copies
    for source in sources:
        assert (ROOT / source).exists(), source


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_sources() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("!")
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch(path, p) or fnmatch(path, p.removeprefix("**/")) for p in patterns)

    for path in (".env", ".env.production", ".venv", ".git", "var", "tests", "gist_scheduler.egg-info"):
        assert ignored(path), path
    copied = [args.split()[:-1] for keyword, args in instructions(DOCKERFILE) if keyword == "COPY"]
    for source in (part for args in copied if not args[0].startswith("--from") for part in args):
        assert not ignored(source), f"{source} is copied by the Dockerfile but excluded by .dockerignore"


def test_the_image_ships_every_data_file_of_its_packages() -> None:
    """``pip install .`` (the Dockerfile) installs only the package-data globs of pyproject.toml: a
    template, stylesheet or migration outside them is missing from the image."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    globs: dict[str, list[str]] = setuptools.get("package-data", {})
    missing = []
    for package in (pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]):
        folder = ROOT / package
        shipped = {path for pattern in globs.get(package, []) for path in folder.glob(pattern)}
        for path in sorted(folder.rglob("*")):
            is_data = (
                path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
            )
            if is_data and path not in shipped:
                missing.append(path.relative_to(ROOT).as_posix())
    assert not missing, f"not in [tool.setuptools.package-data], so not in the image: {missing}"


def test_the_compose_healthchecks_use_the_copied_script() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert text.count(IMAGE_HEALTHCHECK) == 2
    assert HEALTHCHECK.is_file()


# ---- the healthcheck script -----------------------------------------------------------------------------


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok" if self.status == 200 else "unavailable"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz", handler
    server.shutdown()
    server.server_close()
    thread.join(5)


def healthcheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args], env=env, capture_output=True, text=True, timeout=60,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_web_healthcheck_follows_healthz(health_server: tuple[str, type[_Health]]) -> None:
    url, handler = health_server
    healthy = healthcheck("web", url)
    assert (healthy.returncode, healthy.stdout.split(":")[0]) == (0, "healthy"), healthy
    handler.status = 503
    unhealthy = healthcheck("web", url)
    assert unhealthy.returncode == 1, unhealthy
    assert "503" in unhealthy.stdout
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/healthz"
    refused = healthcheck("web", closed)
    assert refused.returncode == 1, refused
    assert healthcheck("nonsense").returncode == 1


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_worker_healthcheck_pings_its_own_worker(workers: Workers) -> None:
    [worker] = workers.start(1)
    env = workers.pipeline.env(GIST_WORKER_NAME=worker.name)
    answered = healthcheck("worker", env=env)
    assert answered.returncode == 0, (answered.stdout, answered.stderr)
    assert f"{worker.name}@{socket.gethostname()}: pong" in answered.stdout
    silent = healthcheck("worker", env=workers.pipeline.env(GIST_WORKER_NAME="nobody"))
    assert silent.returncode == 1, (silent.stdout, silent.stderr)
    assert "no answer" in silent.stdout
