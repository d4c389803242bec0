"""``gistsched demo``: the example cohort through the real pipeline, on embedded defaults.

A fresh data folder (``--data-dir``; a temporary one otherwise, removed at the end) gets a
migrated SQLite database; the file is submitted through the same intake as ``gistsched submit``
onto the embedded broker; ONE real worker process (``gistsched worker``) processes it; once every
event is processed the STORED plans are printed. Then the notifications run as the clock runs them:
a navigator user (with an email address) per navigator of the cohort, the outbox rows for every
reminder whose notice day has come and today's digests, one ``notifications.send`` per row through
the same worker, written as ``.eml`` files (no SMTP server needed); a patient's and each navigator's
calendar feed are written as ``.ics`` files. The demo prints where all of it went. Nothing of the
user's configuration (``GIST_DATABASE_URL``, ``GIST_BROKER_URL``, ``GIST_SMTP_URL``) is touched.

A kept folder (``--data-dir``; ``make demo`` keeps ``var/demo``) also gets what ``make dashboard``
needs to serve it: ``demo.env`` (the settings that point ``gistsched run`` at it) and
``sign-in.txt`` (the demo's users and their passwords). The demo ends by printing that one command.
Feed URLs and email links name :data:`DASHBOARD_URL`, the address ``make dashboard`` serves.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from scheduler.app.processes import Child, gistsched_command, start_child, stop_children
from scheduler.config.settings import Settings
from scheduler.domain.model import Alert, Plan, Reminder, RiskAssessment, Therapy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from scheduler.patients.intake import IntakeResult

POLL_SECONDS = 0.1
DASHBOARD_URL = "http://127.0.0.1:8000"  # where `make dashboard` (gistsched run's defaults) serves
DEFAULT_FOLDER = Path("var/demo")  # make demo's --data-dir: `make dashboard` serves it
ADMIN = "admin"  # the demo's admin user, beside one navigator user per navigator of the cohort
_RISK_FIELDS = tuple(f.name for f in fields(RiskAssessment))


class DemoError(Exception):
    """The pipeline did not finish: one line for stderr, exit 1."""


def plan_from_stored(data: Mapping[str, Any]) -> Plan:
    """The stored plan (``scheduler.patients.stored.stored_plan``) as the core's :class:`Plan`, so the
    terminal summary renders stored and pure plans alike."""
    risk = data["risk"]
    therapy = data.get("therapy")
    return Plan(
        patient_id=data["patient_id"],
        as_of=dt.date.fromisoformat(data["as_of"]),
        risk=RiskAssessment(**{name: risk.get(name) for name in _RISK_FIELDS}),
        stage=data["stage"],
        therapy=None
        if therapy is None
        else Therapy(
            therapy["drug"],
            therapy["dose_mg"],
            therapy["setting"],
            dt.date.fromisoformat(therapy["started_on"]),
            therapy.get("line"),
        ),
        alerts=tuple(
            Alert(a["code"], a["severity"], a["message"], a["rule"], a["citation"]) for a in data["alerts"]
        ),
        reminders=tuple(_reminder(r) for r in data["reminders"]),
        profile=data.get("profile") or "unknown",
    )


def _reminder(r: Mapping[str, Any]) -> Reminder:
    def day(value: Any) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    return Reminder(
        r["key"],
        r["kind"],
        dt.date.fromisoformat(r["due_on"]),
        r["window_days"],
        r["status"],
        r["rule"],
        r["rationale"],
        r["citation"],
        day(r.get("completed_on")),
        r.get("completed_by"),
        day(r.get("cancelled_on")),
        day(r.get("overdue_since")),
        int(r.get("missed") or 0),
        day(r.get("last_done_on")),
    )


def run_demo(path: Path, as_of: dt.date | None, data_dir: Path | None, timeout: float) -> int:
    started = time.monotonic()
    is_temporary = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="gistsched-demo-")) if data_dir is None else data_dir
    try:
        _fresh(folder)
    except DemoError as exc:
        print(f"gistsched demo: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        env="development",
        data_dir=folder,
        database_url=None,
        broker_url=None,
        smtp_url=None,
        as_of=as_of,
        base_url=DASHBOARD_URL,
    )
    worker: Child | None = None
    ok = False
    try:
        active = settings.active_profile
        print(
            f"gist-scheduler demo: {path.name} through the event pipeline, as of {settings.today()}, "
            f"profile {active.name} ({active.digest})"
        )
        print(f"  data folder  {folder}  (SQLite database, embedded broker, worker log)")
        worker, summary = _run_pipeline(settings, path, timeout)
        print(summary)
        print()
        print(_run_notifications(settings, worker, timeout, keep=not is_temporary))
        stop_children([worker], timeout=15)
        worker = None
        print(f"Done in {time.monotonic() - started:.1f} s.")
        print("Decision support only: every item recommends and explains; the care team decides.")
        if is_temporary:
            print("To open the dashboard on the demo's data, keep it: gistsched demo --data-dir var/demo")
        else:
            print(_hand_over(settings, folder))
        ok = True
        return 0
    except DemoError as exc:
        print(f"gistsched demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if worker is not None:
            stop_children([worker], timeout=15)
        if is_temporary and ok:
            shutil.rmtree(folder, ignore_errors=True)
        elif not ok:
            print(f"gistsched demo: kept {folder} for inspection", file=sys.stderr)


MARKER = ".gistsched-demo"
SIGN_INS: dict[str, str] = {}  # the demo's users and their passwords
ENV_FILE = "demo.env"
SIGN_IN_FILE = "sign-in.txt"


def _hand_over(settings: Settings, folder: Path) -> str:
    """Write what ``make dashboard`` needs into ``folder`` and say the one command to run."""
    pinned = {"GIST_AS_OF": settings.as_of.isoformat()} if settings.as_of else {}
    values = {
        "GIST_DATA_DIR": str(folder.resolve()),
        "GIST_DATABASE_URL": "",  # the demo's SQLite file and embedded broker, whatever the shell says
        "GIST_BROKER_URL": "",
        "GIST_SMTP_URL": "",  # emails go to <data dir>/mail as .eml files
        "GIST_ENV": "development",
        "GIST_BASE_URL": settings.base_url,
        **pinned,
    }
    lines = "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    (folder / ENV_FILE).write_text(lines, encoding="utf-8")  # sourced by a shell (make dashboard)
    users = "\n".join(f"  {name:<9} password {password}" for name, password in sorted(SIGN_INS.items()))
    sign_in = f"The dashboard: {settings.base_url}/ — sign in as one of\n{users}\n"
    target = folder / SIGN_IN_FILE
    target.write_text(sign_in, encoding="utf-8")
    target.chmod(0o600)
    command = "make dashboard" if _same(folder, DEFAULT_FOLDER) else f"make dashboard DEMO_DIR={folder}"
    own = "The long-running service on your own settings (GIST_* environment, not this demo):  make run"
    return f"Open the dashboard on this demo's data (Ctrl-C stops it):  {command}\n{sign_in.rstrip()}\n{own}"


def _same(one: Path, other: Path) -> bool:
    return one.resolve() == other.resolve()


def _fresh(folder: Path) -> None:
    """An empty demo folder: one left by an earlier demo (it has the marker) is emptied; any other
    non-empty folder is refused rather than overwritten."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise DemoError(f"--data-dir: {folder} is not empty and was not made by the demo; choose another")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by gistsched demo; emptied by the next demo run\n", encoding="utf-8")


def _run_pipeline(settings: Settings, path: Path, timeout: float) -> tuple[Child, str]:
    """Migrate, start the worker, submit the cohort, wait until every event is processed; the
    running worker and the stored plans' summary."""
    from models.store import sessions_for

    worker = _start_worker(settings)
    sessions = sessions_for(settings)
    submitted = time.monotonic()
    result = _submit(settings, sessions, path)
    _wait_processed(sessions, result.event_ids, worker, _worker_log(settings), submitted + timeout, timeout)
    print(f"  processed    every event in {time.monotonic() - submitted:.1f} s\n")
    return worker, _stored_summary(sessions, result)


def _start_worker(settings: Settings) -> Child:
    """The migrated database and one worker process (2 pool processes) logging to the folder."""
    from models.migrate import upgrade

    upgrade(settings.resolved_database_url)
    log_path = _worker_log(settings)
    worker = start_child(
        "worker", gistsched_command("worker", "--concurrency", "2"), _worker_env(settings), log_path
    )
    print(f"  worker       pid {worker.process.pid}, 2 pool processes, log {log_path.name}")
    return worker


def _worker_log(settings: Settings) -> Path:
    return settings.data_dir / "worker.log"


def _submit(settings: Settings, sessions: sessionmaker[Session], path: Path) -> IntakeResult:
    """The file's events through intake, as ``gistsched submit`` does (those after ``--as-of`` left
    out, as ``gistsched plan --as-of`` does; intake would reject them as future events)."""
    from scheduler.app.wiring import queue_processing
    from scheduler.patients.intake import parse_lines, record_events

    items = parse_lines(path.read_text(encoding="utf-8").split("\n"))
    later = [] if settings.as_of is None else [i for i in items if _occurs_after(i[1], settings.as_of)]
    if later:
        print(f"  left out     {len(later)} events after --as-of {settings.as_of}")
        items = [i for i in items if i not in later]
    result = record_events(sessions, items, settings.today(), queue_processing(settings))
    print(
        f"  submitted    {result.accepted} events accepted, {result.duplicates} duplicates, "
        f"{len(result.rejected)} rejected, for {len(result.patient_ids)} patients"
    )
    for rejection in result.rejected[:5]:
        print(f"               {path.name}: {rejection.error}")
    return result


def _wait_processed(
    sessions: sessionmaker[Session],
    event_ids: list[str],
    worker: Child,
    log_path: Path,
    deadline: float,
    timeout: float,
) -> None:
    """Poll until every one of ``event_ids`` is processed; :class:`DemoError` when the worker exits
    or ``deadline`` (of ``timeout`` seconds) passes first."""
    from scheduler.patients.repository import unprocessed

    while True:
        with sessions() as session:
            left = unprocessed(session, event_ids)
        if left == 0:
            return
        if not worker.is_running:
            raise DemoError(
                f"the worker exited (status {worker.process.returncode}) with {left} event(s) unprocessed; "
                f"see {log_path}"
            )
        if time.monotonic() >= deadline:
            raise DemoError(f"{left} event(s) still unprocessed after {timeout:g} s; see {log_path}")
        time.sleep(POLL_SECONDS)


def _stored_summary(sessions: sessionmaker[Session], result: IntakeResult) -> str:
    """Each submitted patient's stored plan in words, then the totals stored."""
    from models.rows import EventRow, PatientRow, ReminderRow
    from scheduler.patients.stored import stored_plan
    from scheduler.patients.summary import render_summary

    out: list[str] = []
    with sessions() as session:
        for patient_id in result.patient_ids:
            plan = stored_plan(session, patient_id)
            if plan is not None:
                out.append(render_summary(plan_from_stored(plan)))
        events = session.scalar(select(func.count()).select_from(EventRow)) or 0
        patients = session.scalar(select(func.count()).select_from(PatientRow)) or 0
        by_status = dict(
            session.execute(select(ReminderRow.status, func.count()).group_by(ReminderRow.status)).all()
        )
    reminders = sum(by_status.values())
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    out.append(
        f"Totals: {events} events stored for {patients} patients ({result.duplicates} duplicates, "
        f"{len(result.rejected)} rejected); {reminders} reminders stored ({statuses or 'none'})."
    )
    return "\n".join(out)


def _occurs_after(obj: object, day: dt.date) -> bool:
    occurred_on = obj.get("occurred_on") if isinstance(obj, dict) else None
    return isinstance(occurred_on, str) and len(occurred_on) == 10 and occurred_on > day.isoformat()


def _worker_env(settings: Settings) -> dict[str, str]:
    """This process's environment, pointed at the demo's folder and embedded defaults."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "GIST_DATABASE_URL",
            "GIST_BROKER_URL",
            "GIST_SMTP_URL",
            "GIST_MAIL_FOLDER",
            "GIST_ENV",
            "GIST_AS_OF",
            "GIST_WORKER_NAME",
        )
    }
    env["GIST_DATA_DIR"] = str(settings.data_dir)
    env["GIST_ENV"] = "development"
    env["GIST_BASE_URL"] = settings.base_url
    if settings.as_of is not None:
        env["GIST_AS_OF"] = settings.as_of.isoformat()
    return env


def _run_notifications(settings: Settings, worker: Child, timeout: float, *, keep: bool) -> str:
    """What the clock does for notifications, once, through the running worker; then the feeds."""
    from models.store import sessions_for

    sessions = sessions_for(settings)
    today = settings.today()
    navigators, feed_patient = _navigators_and_feed_patient(sessions)
    _create_users(sessions, navigators)
    notices, digests, sent = _send_due(settings, sessions, today)
    counts = _wait_sent(sessions, worker, timeout)
    out = [
        f"Notifications as of {today}: {notices} reminder notices and {digests} navigator digests written "
        f"to the outbox; {sent} sent through the worker "
        f"({', '.join(f'{n} {status}' for status, n in sorted(counts.items())) or 'none'})."
    ]
    out += _emails_written(settings, keep=keep)
    out += _failed(sessions)
    out += _write_feeds(settings, feed_patient, navigators, keep=keep)
    return "\n".join(out)


def _navigators_and_feed_patient(sessions: sessionmaker[Session]) -> tuple[list[str], str | None]:
    """The cohort's navigator ids, and the first patient with an email address (for a feed)."""
    from models.rows import PatientRow

    with sessions() as session:
        navigators = sorted(
            {n for n in session.scalars(select(PatientRow.navigator_id).distinct()) if n is not None}
        )
        feed_patient = session.scalar(
            select(PatientRow.patient_id).where(PatientRow.email.is_not(None)).order_by(PatientRow.patient_id)
        )
    return navigators, feed_patient


def _create_users(sessions: sessionmaker[Session], navigators: list[str]) -> None:
    """A navigator user (with an email address) per navigator and the admin, with passwords kept in
    :data:`SIGN_INS` for the dashboard."""
    import secrets

    from models.vocabulary import Role
    from scheduler.staff.users import create_user

    for navigator_id in navigators:
        password = secrets.token_urlsafe(9)
        create_user(
            sessions, navigator_id, Role.NAVIGATOR, password, navigator_id, f"{navigator_id}@clinic.example"
        )
        SIGN_INS[navigator_id] = password
    SIGN_INS[ADMIN] = secrets.token_urlsafe(9)
    create_user(sessions, ADMIN, Role.ADMIN, SIGN_INS[ADMIN], None, None)


def _send_due(settings: Settings, sessions: sessionmaker[Session], today: dt.date) -> tuple[int, int, int]:
    """The clock's notification step: today's notices and digests written to the outbox, claimed and
    published to the worker; (notices, digests, rows published)."""
    from scheduler.notifications import dispatch
    from tasks.app import get_app
    from tasks.base import send_notification_task

    notices = dispatch.create_due_notices(sessions, today, settings.active_profile.profile)
    digests = dispatch.create_digests(sessions, today)
    app = get_app(settings)
    ids = dispatch.claim_sendable(sessions, _utcnow(), dt.timedelta(seconds=settings.notify_stale_seconds))
    for notification_id in ids:
        send_notification_task(app, notification_id)
    return notices, digests, len(ids)


def _wait_sent(sessions: sessionmaker[Session], worker: Child, timeout: float) -> dict[str, int]:
    """Poll until no outbox row is left to send; the outbox's counts by status."""
    from models.statuses import SENDABLE_NOTIFICATION_STATUSES
    from scheduler.notifications.sending import outbox_counts

    deadline = time.monotonic() + timeout
    while True:
        with sessions() as session:
            counts = outbox_counts(session)
        if not any(counts.get(s, 0) for s in SENDABLE_NOTIFICATION_STATUSES):
            return counts
        if not worker.is_running or time.monotonic() >= deadline:
            raise DemoError(f"emails still waiting after {timeout:g} s: {counts}; see the worker log")
        time.sleep(POLL_SECONDS)


def _emails_written(settings: Settings, *, keep: bool) -> list[str]:
    """Where the emails went, and the first few recipients and subjects."""
    from email import message_from_bytes, policy

    folder = settings.resolved_mail_folder
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    out = [f"  emails       {len(files)} .eml files in {folder if keep else '(the temporary folder)'}"]
    for file in files[:8]:
        message = message_from_bytes(file.read_bytes(), policy=policy.default)
        out.append(f"               to {message['To']}: {message['Subject']}")
    if len(files) > 8:
        out.append(f"               … and {len(files) - 8} more")
    return out


def _failed(sessions: sessionmaker[Session]) -> list[str]:
    """One line per outbox row that finally failed."""
    from models.rows import NotificationRow
    from models.statuses import NotificationStatus

    with sessions() as session:
        failed = session.execute(
            select(NotificationRow.kind, NotificationRow.patient_id, NotificationRow.last_error).where(
                NotificationRow.status == NotificationStatus.FAILED
            )
        ).all()
    return [f"  failed       {kind} for {patient_id}: {error}" for kind, patient_id, error in failed]


def _write_feeds(
    settings: Settings, patient_id: str | None, navigators: list[str], *, keep: bool
) -> list[str]:
    from models.store import sessions_for
    from models.vocabulary import FeedScope
    from scheduler.notifications.feeds import create_feed, find_feed, render

    sessions = sessions_for(settings)
    out: list[str] = []
    feeds_dir = settings.data_dir / "feeds"
    feeds_dir.mkdir(parents=True, exist_ok=True)
    subjects = ([(FeedScope.PATIENT, patient_id)] if patient_id else []) + [
        (FeedScope.NAVIGATOR, n) for n in navigators
    ]
    for scope, subject in subjects:
        created = create_feed(sessions, scope, subject, settings.base_url)
        with sessions() as session:
            feed = find_feed(session, created.url.rsplit("/", 1)[1].removesuffix(".ics"))
            assert feed is not None
            body = render(session, feed, settings.today(), settings.active_profile.profile)
        target = feeds_dir / f"{scope}-{subject}.ics"
        target.write_bytes(body)
        out.append(
            f"  feed         {scope} {subject}: {body.count(b'BEGIN:VEVENT')} events, "
            f"{target if keep else target.name}"
        )
        out.append(f"               subscribe at {created.url} while `make dashboard` serves it")
    return out


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
