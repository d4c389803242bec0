"""Helpers of the integration suite: waiting, event files, and the stored-versus-pure comparison."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.rows import EventRow
from scheduler.domain.events import parse_event
from scheduler.domain.plan import plan_follow_up
from scheduler.patients.intake import IntakeResult, QueueProcessing, record_events
from scheduler.patients.stored import stored_plan

ROOT = Path(__file__).resolve().parents[2]
GISTSCHED = Path(sys.executable).parent / "gistsched"
COHORT = ROOT / "examples" / "cohort.jsonl"
PLAN_FIELDS = ("patient_id", "as_of", "risk", "stage", "therapy", "alerts")

T = TypeVar("T")
Obj = dict[str, Any]


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05, message: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message or predicate}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``gistsched`` process: this machine's, with our own ``GIST_*`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
    env.update(
        GIST_ENV="test", GIST_DATABASE_URL=database_url, GIST_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1"
    )
    env.update(extra)
    return env


def gistsched(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GISTSCHED), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def assert_cli_error(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 2, nothing on stdout, one clear line on stderr naming each of ``names``, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], f"{name!r} not named in {lines[0]!r}"
    return lines[0]


def utc_today() -> dt.date:
    """The clinic's date as the shells see it (``GIST_CLINIC_TIMEZONE`` defaults to UTC)."""
    return dt.datetime.now(dt.UTC).date()


# ---- events ---------------------------------------------------------------------------------------


def read_cohort(path: Path = COHORT) -> list[Obj]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def synthetic_events(n_patients: int, seed: int = 7) -> list[Obj]:
    from benchmarks.synthetic import synthetic_histories

    return [obj for history in synthetic_histories(n_patients, seed) for obj in history]


def write_jsonl(path: Path, lines: Iterable[Obj | str]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def by_patient(events: Iterable[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for obj in events:
        out.setdefault(obj["patient_id"], []).append(obj)
    return out


def histories_until_today(n: int, seed: int, prefix: str = "") -> dict[str, list[Obj]]:
    """``n`` synthetic histories by patient, each cut at today, their patient and event ids
    prefixed with ``prefix``."""
    today = utc_today()
    return {
        prefix + pid: [
            o | {"patient_id": prefix + pid, "event_id": prefix + o["event_id"]}
            for o in objs
            if dt.date.fromisoformat(o["occurred_on"]) <= today
        ]
        for pid, objs in by_patient(synthetic_events(n, seed)).items()
    }


def intake(
    sessions: sessionmaker[Session],
    objs: Sequence[Obj],
    received_on: dt.date,
    enqueue: QueueProcessing = lambda _ids: None,
) -> IntakeResult:
    """The service-level intake of ``objs`` (as lines 1…n of a file)."""
    return record_events(sessions, list(enumerate(objs, start=1)), received_on, enqueue)


def unprocessed_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.scalars(select(EventRow.id).where(EventRow.processed_at.is_(None))).all())


# ---- comparison -----------------------------------------------------------------------------------


def pure_plan(events: Sequence[Obj], as_of: dt.date) -> Obj:
    return plan_follow_up([parse_event(obj) for obj in events], as_of).to_json()


def assert_matches_pure(stored: Obj | None, pure: Obj) -> None:
    """The stored plan equals the pure one: same risk, stage, therapy and alerts; every pure reminder
    stored with equal fields, in the pure order; any other stored reminder is a cancelled one."""
    pid = pure["patient_id"]
    assert stored is not None, f"{pid}: no stored plan"
    for name in PLAN_FIELDS:
        assert stored[name] == pure[name], f"{pid}: {name} differs"
    stored_reminders = {r["key"]: r for r in stored["reminders"]}
    assert len(stored_reminders) == len(stored["reminders"]), f"{pid}: a reminder key is stored twice"
    for reminder in pure["reminders"]:
        row = stored_reminders.get(reminder["key"])
        assert row is not None, f"{pid}: reminder {reminder['key']} missing"
        assert {k: row[k] for k in reminder} == reminder, f"{pid}: reminder {reminder['key']} differs"
    wanted = {r["key"] for r in pure["reminders"]}
    extras = [r for r in stored["reminders"] if r["key"] not in wanted]
    assert all(r["status"] == "cancelled" and r["cancelled_on"] for r in extras), (
        f"{pid}: stored reminders the pure plan lacks must be cancelled: "
        f"{[(r['key'], r['status']) for r in extras if r['status'] != 'cancelled']}"
    )
    in_stored_order = [r["key"] for r in stored["reminders"] if r["key"] in wanted]
    assert in_stored_order == [r["key"] for r in pure["reminders"]], f"{pid}: reminders out of order"


def assert_all_converged(
    sessions: sessionmaker[Session], events: Iterable[Obj], days: Collection[dt.date]
) -> None:
    """Every patient of ``events`` has a stored plan equal to its pure plan, planned on one of
    ``days`` (the real clock's date: a run may cross midnight)."""
    with sessions() as session:
        for pid, objs in sorted(by_patient(events).items()):
            stored = stored_plan(session, pid)
            assert stored is not None, f"{pid}: no stored plan"
            as_of = dt.date.fromisoformat(stored["as_of"])
            assert as_of in days, f"{pid}: planned as of {as_of}, expected one of {sorted(days)}"
            assert_matches_pure(stored, pure_plan(objs, as_of))


def stored_as_of(sessions: sessionmaker[Session], patient_id: str) -> dt.date:
    with sessions() as session:
        plan = stored_plan(session, patient_id)
    assert plan is not None
    return dt.date.fromisoformat(plan["as_of"])
