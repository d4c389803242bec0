"""How fast FHIR Bundles become stored plans, beside the JSON Lines ``submit`` path.

    .venv/bin/python benchmarks/import_bench.py [--patients 300] [--seed 1]
                                                [--backends sqlite,postgresql] [--postgres-url URL]
                                                [--repeat N]

1. The cohort: ``--patients`` synthetic histories (``synthetic.py``), each written as a FHIR twin
   (``fhir_twins.py``: one collection Bundle per patient, one ``.json`` file each). Every Bundle is
   imported once in this process and must give back exactly the events its twin expects (else
   exit 1): the benchmark measures a correct import.
2. The adapter alone: ``load_json`` + ``import_fhir`` over every file (validation with the R4B
   models and the mapping; no database), in bundles/s, resources/s and events/s.
3. For each backend (a temporary SQLite file; a throwaway PostgreSQL database on 127.0.0.1:5432 as
   ``postgres``, or on ``--postgres-url``), two fresh databases:
   - FHIR: ``gistsched fhir import DIR`` (a subprocess: each file validated, mapped and stored in
     a transaction of its own, one processing task queued per patient on the embedded broker);
   - JSON Lines: the same events (those the FHIR import read) in one file, ``gistsched submit FILE``;
   then in both, every patient processed in this process (``process_patient``, what a worker
   runs) into stored plans, timed apart. Both databases must end with the same reminders. With
   ``--repeat N`` each path runs N times on fresh databases and the fastest intake and the fastest
   processing are shown (a shared machine's load only ever slows a run down).

Process start-up (about a second of imports) is inside both subprocess timings; a ``submit`` of an
empty file, timed the same way, shows how much. Every database
and folder is removed at the end. Exit status: 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir_twins import fhir_twin
from pipeline_bench import DEFAULT_POSTGRES_URL, GISTSCHED, PostgresServer, safe_url
from plan_bench import cpu_model
from sqlalchemy import select
from synthetic import synthetic_histories

from models.db import make_engine, make_sessionmaker
from models.migrate import upgrade
from models.rows import ReminderRow
from scheduler.domain.events import parse_event
from scheduler.fhir import import_fhir, load_json
from scheduler.patients.processing import process_patient

AS_OF = dt.date(2026, 11, 27)  # the synthetic histories end the day before (as in plan_bench.py)


class BenchError(Exception):
    """A check failed: reported on one line, exit 1."""


@dataclass
class Cohort:
    folder: Path
    files: list[Path]
    events: list[dict[str, Any]]  # what the FHIR import reads, in contract JSON
    resources: int
    review: int


def build_cohort(patients: int, seed: int, folder: Path) -> Cohort:
    folder.mkdir(parents=True)
    files, events, resources, review = [], [], 0, 0
    for history in synthetic_histories(patients, seed):
        bundle, expected = fhir_twin(history)
        path = folder / f"{history[0]['patient_id']}.json"
        path.write_text(json.dumps(bundle))
        files.append(path)
        result = import_fhir(load_json(path.read_bytes()))
        got = sorted(((e.type, e.occurred_on.isoformat(), e.data) for e in result.events), key=repr)
        want = sorted(
            (
                (
                    kind,
                    day,
                    parse_event(
                        {
                            "event_id": "x",
                            "patient_id": history[0]["patient_id"],
                            "type": kind,
                            "occurred_on": day,
                            "data": data,
                        }
                    ).data,
                )
                for kind, day, data in expected
            ),
            key=repr,
        )
        if got != want:
            raise BenchError(f"{path.name}: the import does not give back the twin's events")
        events += [e.to_json() for e in result.events]
        resources += len(bundle["entry"])
        review += len(result.review)
    return Cohort(folder, files, events, resources, review)


def adapter_rate(cohort: Cohort) -> float:
    start = time.perf_counter()
    for path in cohort.files:
        import_fhir(load_json(path.read_bytes()))
    return time.perf_counter() - start


@dataclass
class PathRun:
    name: str
    intake_s: float
    process_s: float
    reminders: set[tuple[str, str, str, str]]


def run_path(name: str, url: str, data_dir: Path, argv: list[str], patients: list[str]) -> PathRun:
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
    env.update(
        GIST_ENV="development",
        GIST_DATABASE_URL=url,
        GIST_DATA_DIR=str(data_dir),
        GIST_AS_OF=AS_OF.isoformat(),
        PYTHONUNBUFFERED="1",
    )
    start = time.perf_counter()
    done = subprocess.run(
        [str(GISTSCHED), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    intake_s = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(
            f"{name}: gistsched {argv[0]} exited {done.returncode}: {done.stderr.strip()[-400:]}"
        )
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        start = time.perf_counter()
        for patient_id in patients:
            process_patient(sessions, patient_id, AS_OF)
        process_s = time.perf_counter() - start
        with sessions() as session:
            reminders = {
                (r.patient_id, r.key, r.status, r.due_on.isoformat())
                for r in session.scalars(select(ReminderRow))
            }
    finally:
        engine.dispose()
    return PathRun(name, intake_s, process_s, reminders)


@contextlib.contextmanager
def database(backend: str, folder: Path, name: str, postgres: PostgresServer | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.sqlite3'}"
        return
    assert postgres is not None
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per path; the fastest of each phase is shown"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("GIST_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    with tempfile.TemporaryDirectory(prefix="gist-import-bench-") as tmp:
        folder = Path(tmp)
        try:
            return _run(args, backends, folder)
        except BenchError as exc:
            print(f"import_bench: {exc}", file=sys.stderr)
            return 1


def _run(args: argparse.Namespace, backends: list[str], folder: Path) -> int:
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()}")
    cohort = build_cohort(args.patients, args.seed, folder / "bundles")
    patients = sorted({e["patient_id"] for e in cohort.events})
    print(
        f"cohort: {len(cohort.files)} bundles (one per patient), {cohort.resources:,} resources, "
        f"{len(cohort.events):,} events, {cohort.review} review items; "
        "every bundle gives back its twin's events"
    )
    adapter_s = adapter_rate(cohort)
    n, events = len(cohort.files), len(cohort.events)
    print(
        f"adapter alone (validate + map, no database): {adapter_s:.2f} s: {n / adapter_s:,.0f} bundles/s, "
        f"{cohort.resources / adapter_s:,.0f} resources/s, {events / adapter_s:,.0f} events/s"
    )
    lines = folder / "events.jsonl"
    lines.write_text("".join(json.dumps(e) + "\n" for e in cohort.events))
    empty = folder / "empty.jsonl"
    empty.write_text("")
    postgres = PostgresServer(args.postgres_url) if "postgresql" in backends else None
    print()
    print(
        "| backend | path | intake s | bundles/s | events/s (intake) | processing s "
        "| events/s into stored plans |"
    )
    print("|---|---|---|---|---|---|---|")
    for backend in backends:
        results = []
        for name, argv in (
            ("FHIR `fhir import DIR`", ["fhir", "import", str(cohort.folder)]),
            ("JSON Lines `submit FILE`", ["submit", str(lines)]),
        ):
            runs = []
            for attempt in range(args.repeat):  # each on a fresh database; the fastest phases are kept
                with database(backend, folder, f"{name.split()[0].lower()}{attempt}", postgres) as url:
                    data_dir = folder / f"data-{backend}-{len(results)}-{attempt}"
                    data_dir.mkdir()
                    runs.append(run_path(name, url, data_dir, argv, patients))
            best = PathRun(
                name, min(r.intake_s for r in runs), min(r.process_s for r in runs), runs[0].reminders
            )
            results.append(best)
        startup = []
        for attempt in range(args.repeat):
            with database(backend, folder, f"empty{attempt}", postgres) as url:
                data_dir = folder / f"data-{backend}-empty-{attempt}"
                data_dir.mkdir()
                startup.append(run_path("start-up", url, data_dir, ["submit", str(empty)], []).intake_s)
        if results[0].reminders != results[1].reminders:
            raise BenchError(f"{backend}: the two paths stored different reminders")
        for result in results:
            bundles = f"{n / result.intake_s:,.1f}" if result.name.startswith("FHIR") else "—"
            total = result.intake_s + result.process_s
            print(
                f"| {backend} | {result.name} | {result.intake_s:.2f} | {bundles} "
                f"| {events / result.intake_s:,.0f} "
                f"| {result.process_s:.2f} | {events / total:,.0f} |"
            )
        print(
            f"| {backend} | start-up alone (`submit` of an empty file) | {min(startup):.2f} | — | — | — | — |"
        )
    if postgres is not None:
        print(f"\nPostgreSQL: {postgres.version()} at {safe_url(args.postgres_url)}")
        postgres.engine.dispose()
    print(f"both paths stored the same {len(results[0].reminders):,} reminders for {len(patients)} patients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
