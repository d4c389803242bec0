"""What every fault-injection test shares: events arriving in batches, real clock processes,
worker processes started without waiting, the wait for convergence, the final check and the row of
figures each test prints (docs/reliability.md).

The clinic's day is pinned (``GIST_AS_OF``) so that every plan, notice and email is a function of
the events alone: the synthetic histories end on 2026-11-26, the day before :data:`AS_OF`.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from models.rows import EventRow, NotificationRow, ProcessingFailureRow, ReminderRow
from scheduler.patients.processing import process_patient
from scheduler.patients.stored import stored_plan
from scheduler.staff.users import create_user
from tasks.base import GistCelery, send_processing
from tests.support.common import (
    GISTSCHED,
    assert_matches_pure,
    by_patient,
    intake,
    pure_plan,
    read_cohort,
    synthetic_events,
    wait_until,
)
from tests.support.services import Pipeline, WorkerProcess, Workers, kill_group, stop_process_group
from tests.support.smtp_server import Collector, SmtpServer
from tests.support.staff import AS_OF, PASSWORD

DOCUMENTED_GAP = (
    "the gap README.md documents under 'Exactly once': a task killed after the SMTP server accepted "
    "the message but before the `sent` commit; the row is sent again once stale (docs/reliability.md)"
)
# How far apart the SMTP server's acceptance of a message and the SIGKILL of the process that sent it
# may be for the kill to have fallen between the acceptance and the ``sent`` commit (one UPDATE on a
# local database: tens of milliseconds even on a loaded machine). Either side: a client killed right
# after its final "." can still have its message accepted a moment later.
RECORD_GAP_SECONDS = 0.05
FINAL = frozenset({"sent", "failed", "superseded", "skipped"})
NAVIGATORS = ("nav-ana", "nav-ben", "nav-cy")  # benchmarks/synthetic.py assigns these

Obj = dict[str, Any]


# ---- events arriving over time --------------------------------------------------------------------


def events_for(n_patients: int, seed: int) -> list[Obj]:
    return synthetic_events(n_patients, seed=seed)


def arrival_batches(events: Sequence[Obj], batch_size: int, seed: int) -> list[list[Obj]]:
    """The events as a clinic would send them: each patient's history in two parts (a fifth of them
    the later part first: out-of-order arrival), the parts of all patients interleaved at random,
    then cut into batches of ``batch_size``. A patient is thus recomputed several times and usually
    has events in two batches far apart.

    The registration always comes in the first part: a patient still without one has no navigator
    and no email address, and the emails about them fail for that reason alone (not a fault's
    doing; see docs/reliability.md, "Findings")."""
    rng = random.Random(seed)
    parts: list[list[list[Obj]]] = []
    for objs in by_patient(events).values():
        cut = rng.randint(1, len(objs) - 1)
        pair = [list(objs[:cut]), list(objs[cut:])]
        if rng.random() < 0.2:
            pair.reverse()
        registrations = [o for o in pair[1] if o["type"] == "patient_registered"]
        pair = [registrations + pair[0], [o for o in pair[1] if o["type"] != "patient_registered"]]
        parts.append([part for part in pair if part])
    stream: list[Obj] = []
    while parts:
        index = rng.randrange(len(parts))
        stream.extend(parts[index].pop(0))
        if not parts[index]:
            parts.pop(index)
    return [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]


class Feeder(threading.Thread):
    """Submits the batches through the intake (as ``gistsched submit`` and the API do), one every
    ``pause`` seconds, queueing each new patient through the test's Celery app after the commit. A
    batch the database refuses (it is down) is submitted again until it goes in: what was already
    stored comes back as harmless duplicates. ``unqueued_every=n`` stores every n-th batch without
    queueing anything, as if the broker had lost the messages (only the clock's sweep finds them)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        app: GistCelery,
        batches: list[list[Obj]],
        pause: float,
        unqueued_every: int = 0,
        deadline_seconds: float = 300,
    ) -> None:
        super().__init__(name="feeder", daemon=True)
        self.sessions = sessions
        self.app = app
        self.batches = batches
        self.pause = pause
        self.unqueued_every = unqueued_every
        self.deadline = time.monotonic() + deadline_seconds
        self.accepted = 0
        self.duplicates = 0
        self.rejected: list[str] = []
        self.refused = 0  # submissions the database refused (retried)
        self.unqueued = 0  # events stored without a message
        self.error: BaseException | None = None
        self.stopping = threading.Event()

    def stop(self, timeout: float = 60) -> None:
        """Stop after the batch in hand (a test that failed meanwhile)."""
        self.stopping.set()
        self.join(timeout)

    def run(self) -> None:
        try:
            for number, batch in enumerate(self.batches, start=1):
                if self.stopping.is_set():
                    return
                skip = bool(self.unqueued_every) and number % self.unqueued_every == 0
                self._submit(batch, skip)
                if skip:
                    self.unqueued += len(batch)
                time.sleep(self.pause)
        except BaseException as exc:  # re-raised by finish()
            self.error = exc

    def _submit(self, batch: list[Obj], skip_queue: bool) -> None:
        def enqueue(patient_ids: Sequence[str]) -> None:
            if not skip_queue:
                send_processing(self.app, patient_ids)

        while True:
            try:
                result = intake(self.sessions, batch, AS_OF, enqueue)
            except DBAPIError:
                if time.monotonic() > self.deadline:
                    raise
                self.refused += 1
                time.sleep(0.5)
                continue
            self.accepted += result.accepted
            self.duplicates += result.duplicates
            self.rejected += [r.error for r in result.rejected]
            return

    def finish(self, timeout: float = 300) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the feeder did not finish"
        if self.error is not None:
            raise self.error
        assert not self.rejected, self.rejected[:5]


# ---- processes ------------------------------------------------------------------------------------


def spawn_worker(workers: Workers, concurrency: int = 1, **env: str) -> WorkerProcess:
    """A ``gistsched worker`` started without waiting for it to be ready (a restart after a crash);
    registered with ``workers`` so the fixture stops it at teardown."""
    name = f"w{len(workers.started) + 1}"
    log_path = workers.folder / f"worker-{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(GISTSCHED), "worker", "--concurrency", str(concurrency), "--loglevel", "INFO"],
        env=workers.pipeline.env(GIST_WORKER_NAME=name, **env),
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    worker = WorkerProcess(name, process, log_path, log)
    workers.started.append(worker)
    return worker


@dataclass
class ClockProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, the lease is left to expire."""
        kill_group(self.process)
        self._log.close()

    def stop(self) -> None:
        stop_process_group(self.process)
        self._log.close()


class Clocks:
    """Real ``gistsched clock`` processes (APScheduler, the database lease); all stopped at teardown."""

    def __init__(self, pipeline: Pipeline, folder: Path) -> None:
        self.pipeline = pipeline
        self.folder = folder
        self.started: list[ClockProcess] = []

    def start(self, **env: str) -> ClockProcess:
        name = f"c{len(self.started) + 1}"
        log_path = self.folder / f"clock-{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [str(GISTSCHED), "clock", "--loglevel", "INFO"],
            env=self.pipeline.env(**env),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        clock = ClockProcess(name, process, log_path, log)
        self.started.append(clock)
        return clock

    def requeued(self) -> int:
        """Patients the clocks' stalled-event sweeps queued again (from their logs)."""
        return sum(
            int(n) for clock in self.started for n in re.findall(r"re-queued (\d+) patient", clock.log())
        )

    @property
    def running(self) -> list[ClockProcess]:
        return [c for c in self.started if c.is_running()]

    def stop_all(self) -> None:
        for clock in self.started:
            if clock.is_running():
                clock.stop()


def register_navigators(sessions: sessionmaker[Session]) -> None:
    """A navigator user with an email for each synthetic navigator (overdue escalations, digests)."""
    for navigator_id in NAVIGATORS:
        create_user(
            sessions, navigator_id, "navigator", PASSWORD, navigator_id,
            f"{navigator_id}@clinic.example",
        )  # fmt: skip


def plan_cohort(sessions: sessionmaker[Session]) -> None:
    """The example cohort stored and planned in the test process (no worker), with its navigators:
    due notices for the deterministic reproductions."""
    events = read_cohort()
    intake(sessions, events, AS_OF)
    for patient_id in by_patient(events):
        process_patient(sessions, patient_id, AS_OF)
    register_navigators(sessions)


def service_env(smtp: SmtpServer | None = None, **extra: str) -> dict[str, str]:
    """What the workers and clocks of a fault test run with: the pinned day, the SMTP server, and the
    outbox's timings compressed from hours to seconds (first retry 0.5 s doubling to 4 s; a queued
    or sending email left 10 s is queued again). With the backoff that short, the attempt cap is
    raised so that a few outages in a row do not exhaust it (by default 10 attempts span hours)."""
    env = {
        "GIST_AS_OF": AS_OF.isoformat(),
        "GIST_NOTIFY_RETRY_FIRST_SECONDS": "0.5",
        "GIST_NOTIFY_RETRY_MAX_SECONDS": "4",
        "GIST_NOTIFY_STALE_SECONDS": "10",
        "GIST_NOTIFY_MAX_ATTEMPTS": "40",
    }
    if smtp is not None:
        env["GIST_SMTP_URL"] = smtp.url()
    return env | extra


class TimedCollector(Collector):
    """The test SMTP server's handler, noting when each message arrived (``time.monotonic()``) and
    which process sent it (the owner of the client's socket), so that a duplicate can be set
    against the kill of the very process that held its row.

    ``candidates``: the pids that may own a client socket; the senders are looked up only when it
    is set (at RCPT, before the message is accepted: the look-up reads /proc, so a narrow list keeps
    it quick and the other tests' timings untouched)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived_at: list[float] = []  # parallel to ``received``
        self.sent_by: list[int | None] = []  # parallel to ``received``
        self.candidates: Callable[[], Iterable[int]] | None = None
        self._peers: dict[tuple[str, int], int | None] = {}

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        peer = tuple(session.peer[:2])
        if self.candidates is not None and peer not in self._peers:
            self._peers[peer] = socket_owner(peer[1], self.candidates())
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        at = time.monotonic()
        owner = self._peers.pop(tuple(session.peer[:2]), None)
        with self.lock:
            new = len(self.received) - len(self.arrived_at)
            self.arrived_at += [at] * new
            self.sent_by += [owner] * new
        return reply


def socket_owner(client_port: int, candidates: Iterable[int] | None = None) -> int | None:
    """The pid holding the local TCP socket on 127.0.0.1:``client_port`` (the client side of an
    SMTP connection), from /proc/net/tcp and the processes' file descriptors; None if gone."""
    inode = None
    with contextlib.suppress(OSError), open("/proc/net/tcp", encoding="ascii") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == client_port and fields[9] != "0":
                inode = fields[9]  # (inode 0: a closed connection that used the port before)
                break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    pids = candidates if candidates is not None else (int(p.name) for p in Path("/proc").glob("[0-9]*"))
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        return pid
    return None


def timed_smtp_server() -> SmtpServer:
    server = SmtpServer()
    server.handler = TimedCollector()
    return server


@dataclass(frozen=True)
class Copy:
    """One copy of a message as the SMTP server received it."""

    at: float  # when it was accepted (``time.monotonic()``)
    sender: int | None  # the pid that sent it (None: not known)


def arrivals(smtp: SmtpServer) -> dict[str, list[Copy]]:
    """Message-ID → each copy received, in order."""
    handler = smtp.handler
    assert isinstance(handler, TimedCollector)
    with handler.lock:
        received = list(zip(handler.received, handler.arrived_at, handler.sent_by, strict=True))
    out: dict[str, list[Copy]] = {}
    for message, at, sender in received:
        out.setdefault(str(message.message["Message-ID"]), []).append(Copy(at, sender))
    return out


# ---- faults ---------------------------------------------------------------------------------------


@dataclass
class FaultLog:
    """When each fault was injected (its window, from the first blow to the system being whole
    again) and when the last one was over."""

    windows: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, note), monotonic
    notes: list[str] = field(default_factory=list)
    kills: list[tuple[float, frozenset[int]]] = field(default_factory=list)  # (when, pids SIGKILLed)

    def killed(self, pids: Iterable[int]) -> None:
        """Note that ``pids`` are being SIGKILLed now (call right before the signal)."""
        self.kills.append((time.monotonic(), frozenset(pids)))

    def kill_of(self, pid: int | None, near: float) -> float | None:
        """Seconds from ``near`` to the SIGKILL of ``pid`` closest to it (negative: the kill came
        first); None when ``pid`` was never killed."""
        offsets = [at - near for at, pids in self.kills if pid in pids]
        return min(offsets, key=abs) if offsets else None

    @property
    def injected(self) -> int:
        return len(self.windows)

    @property
    def last_over_at(self) -> float:
        return self.windows[-1][1] if self.windows else 0.0

    @contextlib.contextmanager
    def fault(self, note: str = "") -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.windows.append((start, time.monotonic(), note))
            if note:
                self.notes.append(note)

    def nearest(self, at: float) -> tuple[float, str]:
        """Seconds from the start of the fault nearest to ``at`` (negative: ``at`` came first)."""
        if not self.windows:
            return float("inf"), ""
        start, _, note = min(self.windows, key=lambda w: abs(at - w[0]))
        return at - start, note


def inject_while_feeding(
    feeder: Feeder,
    inject: Callable[[FaultLog], None],
    gap: tuple[float, float],
    at_least: int,
    seed: int,
    log: FaultLog | None = None,
    at_most: int = 1000,
) -> FaultLog:
    """Start ``feeder``; call ``inject`` every ``gap`` seconds (uniform) while it feeds, and at
    least ``at_least`` times in all; then wait for the feeder to finish."""
    rng = random.Random(seed)
    log = log or FaultLog()
    feeder.start()
    try:
        while (feeder.is_alive() or log.injected < at_least) and log.injected < at_most:
            time.sleep(rng.uniform(*gap))
            inject(log)
    except BaseException:
        feeder.stop()  # a failed injection must not leave it storing events into the next test
        raise
    feeder.finish()
    return log


# ---- convergence ------------------------------------------------------------------------------------


def unprocessed(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(EventRow).where(EventRow.processed_at.is_(None))
        return session.scalar(query) or 0


def outbox(sessions: sessionmaker[Session]) -> Counter[str]:
    with sessions() as session:
        rows = session.execute(select(NotificationRow.status, func.count()).group_by(NotificationRow.status))
        return Counter(dict(rows.all()))


def sent_after_retry(sessions: sessionmaker[Session]) -> int:
    """Emails sent at a second attempt or later (they met a fault)."""
    with sessions() as session:
        query = select(func.count()).select_from(NotificationRow)
        return (
            session.scalar(query.where(NotificationRow.status == "sent", NotificationRow.attempts > 1)) or 0
        )


def notices_due(sessions: sessionmaker[Session]) -> int:
    """Reminders whose notice day has come but that the clock has not looked at yet."""
    with sessions() as session:
        query = select(func.count()).select_from(ReminderRow).where(ReminderRow.notice_on <= AS_OF)
        return session.scalar(query) or 0


def is_converged(pipeline: Pipeline, events: int) -> bool:
    sessions = pipeline.db.sessions
    try:
        with sessions() as session:
            stored = session.scalar(select(func.count()).select_from(EventRow)) or 0
        if stored < events or unprocessed(sessions) or pipeline.queued():
            return False
        return notices_due(sessions) == 0 and set(outbox(sessions)) <= FINAL
    except DBAPIError:  # the database is still coming back
        return False


def wait_converged(pipeline: Pipeline, events: int, timeout: float) -> float:
    """Wait until every event is stored and processed, the broker's queue is empty, every due
    notice is written and every outbox row final, twice in a row a second apart; returns
    the time of the first of the two checks (``time.monotonic()``)."""
    first: list[float] = []
    shown = [time.monotonic()]

    def settled() -> bool:
        if not is_converged(pipeline, events):
            first.clear()
            if time.monotonic() - shown[0] >= 15:  # a line now and then in a long wait (with -s)
                shown[0] = time.monotonic()
                print(f"  waiting for convergence: {describe_state(pipeline)}")
            return False
        first.append(time.monotonic())
        return len(first) >= 2

    try:
        wait_until(settled, timeout=timeout, interval=1.0, message="convergence")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {describe_state(pipeline)}") from None
    return first[0]


def describe_state(pipeline: Pipeline) -> str:
    sessions = pipeline.db.sessions
    try:
        return (
            f"unprocessed={unprocessed(sessions)} queued={pipeline.queued()} "
            f"notices_due={notices_due(sessions)} outbox={dict(outbox(sessions))}"
        )
    except Exception as exc:
        return f"(state unavailable: {exc!r})"


# ---- the final check -------------------------------------------------------------------------------


@dataclass
class Outcome:
    events: int
    unprocessed: int = 0
    missing: int = 0  # accepted events not stored
    wrong_plans: dict[str, str] = field(default_factory=dict)  # patient → how its plan differs
    lost_events: int = 0  # unprocessed + missing + the events of patients whose plan differs
    reminders: int = 0
    duplicate_reminders: int = 0  # extra rows for one (patient, key)
    open_failures: int = 0
    outbox: Counter[str] = field(default_factory=Counter)
    emails_received: int = 0
    duplicate_emails: int = 0  # extra copies of a Message-ID, or a message received for an unsent row
    lost_emails: int = 0  # rows failed or never final, and sent rows the server never received
    told_twice: int = 0  # sent rows telling the same (reminder, notice, date) again
    failures: list[str] = field(default_factory=list)  # why emails failed, and open processing failures
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def duplicated(self) -> int:
        return self.duplicate_reminders + self.duplicate_emails

    @property
    def lost(self) -> int:
        return self.lost_events + self.lost_emails


def check(pipeline: Pipeline, events: Sequence[Obj], smtp: SmtpServer | None, log: FaultLog) -> Outcome:
    sessions = pipeline.db.sessions
    outcome = Outcome(events=len(events))
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(EventRow)) or 0
        outcome.missing = max(0, len(events) - stored)
        outcome.unprocessed = unprocessed(sessions)
        for patient_id, objs in sorted(by_patient(events).items()):
            plan = stored_plan(session, patient_id)
            try:
                assert plan is not None, f"{patient_id}: no stored plan"
                assert plan["as_of"] == AS_OF.isoformat(), f"{patient_id}: planned as of {plan['as_of']}"
                assert_matches_pure(plan, pure_plan(objs, AS_OF))
            except AssertionError as exc:
                outcome.wrong_plans[patient_id] = str(exc)
                outcome.lost_events += len(objs)
        outcome.lost_events += outcome.unprocessed + outcome.missing
        outcome.reminders = session.scalar(select(func.count()).select_from(ReminderRow)) or 0
        pairs = select(ReminderRow.patient_id, ReminderRow.key).distinct().subquery()
        outcome.duplicate_reminders = outcome.reminders - (
            session.scalar(select(func.count()).select_from(pairs)) or 0
        )
        open_failures = session.scalars(
            select(ProcessingFailureRow).where(ProcessingFailureRow.resolved_at.is_(None))
        ).all()
        outcome.open_failures = len(open_failures)
        outcome.outbox = outbox(sessions)
        outcome.failures = [
            f"{row.kind} to {row.audience} after {row.attempts} attempt(s): {row.last_error}"
            for row in session.scalars(select(NotificationRow).where(NotificationRow.status == "failed"))
        ] + [
            f"processing {row.patient_id} after {row.attempts} attempt(s): {row.error}"
            for row in open_failures
        ]
        rows = {row.id: row for row in session.scalars(select(NotificationRow))}
    if smtp is None:
        return outcome
    sent = [row for row in rows.values() if row.status == "sent"]
    copies = arrivals(smtp)
    sent_ids = {str(row.message_id) for row in sent}
    outcome.emails_received = sum(len(received) for received in copies.values())
    outcome.duplicate_emails = sum(len(received) - 1 for received in copies.values()) + len(
        set(copies) - sent_ids
    )
    outcome.lost_emails = (
        outcome.outbox["failed"]
        + sum(n for status, n in outcome.outbox.items() if status not in FINAL)
        + len(sent_ids - set(copies))
    )
    told = Counter((row.reminder_id, row.kind, row.due_on) for row in sent if row.reminder_id is not None)
    outcome.told_twice = sum(n - 1 for n in told.values())
    for message_id, received in sorted(copies.items()):
        if len(received) > 1 or message_id not in sent_ids:
            outcome.duplicates.append(explain_duplicate(message_id, received, rows, log))
    return outcome


def explain_duplicate(
    message_id: str, received: list[Copy], rows: dict[int, NotificationRow], log: FaultLog
) -> Duplicate:
    """What is known about a Message-ID received more than once (or for a row not recorded sent)."""
    match = re.match(r"<n(\d+)\.", message_id)
    row = rows.get(int(match.group(1))) if match else None
    first = received[0]
    offset, note = log.nearest(first.at)
    return Duplicate(
        message_id=message_id,
        copies=len(received),
        status=row.status if row is not None else "?",
        attempts=row.attempts if row is not None else 0,
        apart_seconds=received[-1].at - first.at,
        first_copy_to_fault=offset,
        fault=note,
        senders=tuple(c.sender for c in received),
        killed_after=tuple(log.kill_of(c.sender, c.at) for c in received),
    )


@dataclass(frozen=True)
class Duplicate:
    message_id: str
    copies: int
    status: str  # the outbox row's final status
    attempts: int
    apart_seconds: float  # between the first copy and the last
    first_copy_to_fault: float  # seconds from the nearest fault's start to the first copy (negative: before)
    fault: str
    senders: tuple[int | None, ...]  # the process that sent each copy (it held the row then)
    killed_after: tuple[float | None, ...]  # per copy: seconds from its acceptance to its sender's kill

    @property
    def is_in_record_gap(self) -> bool:
        """Every copy the row does not record (all but the last when the row is ``sent``, else all)
        was sent by a process SIGKILLed within :data:`RECORD_GAP_SECONDS` of the server accepting
        it — between the acceptance and the ``sent`` commit, the gap sending.py documents — and the
        row, left ``sending``, was claimed again once stale (one attempt more per such copy)."""
        unrecorded = self.killed_after[:-1] if self.status == "sent" else self.killed_after
        return (
            bool(unrecorded)
            and all(k is not None and abs(k) <= RECORD_GAP_SECONDS for k in unrecorded)
            and self.attempts >= len(unrecorded) + (self.status == "sent")
        )

    def __str__(self) -> str:
        kills = ", ".join(
            f"pid {pid or '?'} " + ("never killed" if k is None else f"killed {k * 1000:+.0f} ms after")
            for pid, k in zip(self.senders, self.killed_after, strict=True)
        )
        return (
            f"{self.message_id}: {self.copies} copies {self.apart_seconds:.1f} s apart, row {self.status} "
            f"after {self.attempts} attempt(s); first copy {self.first_copy_to_fault:+.2f} s from a fault "
            f"({self.fault or 'unnamed'}); senders: {kills}"
        )


def assert_no_loss_no_duplicate(outcome: Outcome, *, known_email_gap: str | None = None) -> None:
    """Zero lost, zero duplicated. ``known_email_gap``: the gap sending.py documents (a kill between
    the SMTP server's acceptance and the ``sent`` commit); when every duplicate falls in it
    (:attr:`Duplicate.is_in_record_gap`: the process that sent each unrecorded copy was killed
    within :data:`RECORD_GAP_SECONDS` of its acceptance) and nothing else is wrong, the test is
    marked xfail with the figures instead of failing. Any other duplicate fails it."""
    assert outcome.missing == 0, f"{outcome.missing} accepted event(s) not stored"
    assert outcome.unprocessed == 0, f"{outcome.unprocessed} event(s) never processed"
    assert not outcome.wrong_plans, dict(list(outcome.wrong_plans.items())[:3])
    assert outcome.duplicate_reminders == 0, f"{outcome.duplicate_reminders} duplicate reminder row(s)"
    assert outcome.open_failures == 0, (outcome.open_failures, outcome.failures[:5])
    assert outcome.lost_emails == 0, (outcome.lost_emails, dict(outcome.outbox), outcome.failures[:5])
    assert outcome.told_twice == 0, f"{outcome.told_twice} notice(s) told twice"
    details = [str(d) for d in outcome.duplicates]
    if (
        known_email_gap is not None
        and outcome.duplicates
        and all(d.is_in_record_gap for d in outcome.duplicates)
    ):
        pytest.xfail(f"{known_email_gap}: {outcome.duplicate_emails} email(s) received twice: {details}")
    assert outcome.duplicate_emails == 0, f"{outcome.duplicate_emails} email(s) received twice: {details}"


# ---- the figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    fault: str
    injected: int
    events: int
    patients: int
    emails: int  # messages the SMTP server received (0: no SMTP in this test)
    lost: int
    duplicate_reminders: int
    duplicate_emails: int
    recovery_seconds: float
    total_seconds: float

    HEADER = (
        "| fault | injected | events (patients) | emails | lost | duplicated (reminders / emails) "
        "| time to recover | test time |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )

    def row(self) -> str:
        return (
            f"| {self.fault} | {self.injected} | {self.events:,} ({self.patients}) | {self.emails:,} "
            f"| {self.lost} | {self.duplicate_reminders} / {self.duplicate_emails} "
            f"| {self.recovery_seconds:.1f} s | {self.total_seconds:.0f} s |"
        )


RESULTS: list[Figures] = []


def report(
    fault: str,
    log: FaultLog,
    events: Sequence[Obj],
    outcome: Outcome,
    converged_at: float,
    started_at: float,
    clocks: Clocks,
    detail: str = "",
) -> Figures:
    """Print this test's row of the table and what lies behind it (and keep the row for the
    session's summary)."""
    figures = Figures(
        fault=fault,
        injected=log.injected,
        events=len(events),
        patients=len(by_patient(events)),
        emails=outcome.emails_received,
        lost=outcome.lost,
        duplicate_reminders=outcome.duplicate_reminders,
        duplicate_emails=outcome.duplicate_emails,
        recovery_seconds=max(0.0, converged_at - log.last_over_at),
        total_seconds=time.monotonic() - started_at,
    )
    RESULTS.append(figures)
    print(f"\nreliability: {figures.row()}")
    lines = [
        detail,
        f"outbox {dict(outcome.outbox)}; the stalled-event sweep queued {clocks.requeued()} patient(s) again",
        *(f"duplicate: {d}" for d in outcome.duplicates),
    ]
    for line in filter(None, lines):
        print(f"  {line}")
    return figures
