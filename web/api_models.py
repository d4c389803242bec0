"""The typed shapes of the JSON API (``/api``), as the OpenAPI document publishes them.

Every answer model forbids keys it does not name (``additionalProperties: false`` in the document),
so the property-based test that validates each answer against the document also catches a key
added to an answer without being declared here. JSON stored as the core wrote it (``risk``,
``therapy``, an event's ``data``) is typed by its known keys and allows more: a newer core may
add one.

The request body of ``POST /api/events`` is declared per event type from the core's own ``data``
models (:data:`scheduler.domain.events.DATA_MODELS`), so the document and the parser cannot
disagree about a field; the route still parses the body itself, to answer every invalid item with
its position and field in the contract's ``rejected`` list.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from scheduler.domain.events import (
    DATA_MODELS,
    EVENT_ID_MAX_CHARS,
    EVENT_TYPES,
    PATIENT_ID_MAX_CHARS,
)
from scheduler.domain.model import ReminderKind, Severity, Stage, Status, Tier

MAX_EVENTS = 5000  # per request


class Closed(BaseModel):
    """An answer object: exactly the keys it names."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """Stored JSON of the core: the keys it names, and any a newer core adds."""

    model_config = ConfigDict(extra="allow")


# ---- errors --------------------------------------------------------------------------------------


class Problem(Closed):
    """An error answer: what is wrong, naming the field."""

    detail: str


class ValidationIssue(Open):
    """One problem found by the request validator: where (``loc``), what (``msg``), its ``type``."""

    loc: list[str | int]
    msg: str
    type: str


class Refused(Closed):
    """A 422: the request validator's list of problems, or the route's own sentence naming the field."""

    detail: str | list[ValidationIssue]


# ---- events --------------------------------------------------------------------------------------


def _event_model(event_type: str) -> type[BaseModel]:
    data = DATA_MODELS[event_type]
    return create_model(
        "".join(part.title() for part in event_type.split("_")) + "Event",
        __config__=ConfigDict(extra="forbid", title=f"{event_type} event"),
        event_id=(str, Field(min_length=1, max_length=EVENT_ID_MAX_CHARS, description="unique per event")),
        patient_id=(
            str,
            Field(min_length=1, max_length=PATIENT_ID_MAX_CHARS, pattern=r"^[A-Za-z0-9._-]+$"),
        ),
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        occurred_on=(dt.date, Field(description="when it happened; not before 1900, not after today")),
        data=(data, Field(description=data.__doc__ or f"the fields of a {event_type} event")),
    )


EVENT_MODELS: tuple[type[BaseModel], ...] = tuple(_event_model(t) for t in EVENT_TYPES)
_ANY_EVENT: Any = Union[EVENT_MODELS]  # noqa: UP007 (a union built from a tuple)
Event: Any = Annotated[_ANY_EVENT, Field(discriminator="type")]
EventBatch: Any = Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS)]
EVENTS_BODY: TypeAdapter[Any] = TypeAdapter(Event | EventBatch)
"""The body of ``POST /api/events``: one event (event-contract.md §1) or a list of them."""


class Rejection(Closed):
    line: int = Field(description="the item's position in the body, from 1")
    error: str = Field(description="the field and what is wrong with it")


class SubmitResult(Closed):
    """As ``gistsched submit`` prints it."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]


# ---- patients ------------------------------------------------------------------------------------


class PatientSummary(Closed):
    patient_id: str
    name: str | None
    navigator_id: str | None
    stage: Stage | None = Field(description="the stage of the latest stored plan (none before the first)")
    is_active: bool
    overdue: int = Field(description="open reminders past their window or with missed items before them")
    critical_alerts: int = Field(description="active critical alerts")


class PatientPage(Closed):
    total: int = Field(description="patients matching, on every page")
    page: int
    per_page: int
    pages: int
    patients: list[PatientSummary]


class Risk(Open):
    nih_modified: Tier | None
    afip_group: str | None
    afip_progression_pct: float | None
    ruptured: bool
    nih_row: str | None = None
    afip_column: str | None = None
    size_cm: float | None = None
    mitoses_per_5mm2: int | None = None
    site: str | None = None


class TherapyNow(Open):
    drug: str
    dose_mg: float
    setting: str
    started_on: dt.date
    line: int | None = Field(description="1 for the first drug in advanced disease; null outside it")


class PlanAlert(Closed):
    code: str
    severity: Severity
    message: str
    rule: str
    citation: str


class ReminderBooking(Closed):
    appointment_on: dt.date
    place: str | None


class ReminderWaiver(Closed):
    reason: Literal["not_applicable", "done_elsewhere", "declined"]
    waived_on: dt.date
    done_on: dt.date | None
    note: str | None


class StoredReminder(Closed):
    key: str = Field(description="stable across recomputation")
    kind: ReminderKind
    due_on: dt.date
    window_days: int
    status: Status
    rule: str
    rationale: str
    citation: str
    completed_on: dt.date | None
    completed_by: str | None
    cancelled_on: dt.date | None
    overdue_since: dt.date | None = Field(
        default=None, description="open items only: the due date of the first missed item before it"
    )
    missed: int | None = Field(default=None, description="open items only: how many were missed")
    last_done_on: dt.date | None = Field(default=None, description="open items only")
    booking: ReminderBooking | None = Field(
        default=None, description="open items a navigator booked (reminder_booked): the latest booking"
    )
    snoozed_until: dt.date | None = Field(
        default=None, description="open items a navigator snoozed: off the worklist until this day"
    )
    waiver: ReminderWaiver | None = Field(
        default=None, description="a waived item (reminder_waived), cancelled on waived_on"
    )
    revision: int = Field(description="the calendar SEQUENCE: bumped each time the item moves")


class StoredPlan(Closed):
    """The plan the workers last stored (event-contract.md §2), with the reminders it cancelled."""

    patient_id: str
    as_of: dt.date
    profile: str | None
    profile_hash: str | None
    risk: Risk
    stage: Stage
    therapy: TherapyNow | None
    alerts: list[PlanAlert]
    reminders: list[StoredReminder]
    navigator_id: str | None
    computed_at: dt.datetime


class TimelineEvent(Closed):
    event_id: str
    type: str
    occurred_on: dt.date
    data: dict[str, Any]
    processed: bool


class RecordAlert(Closed):
    id: int
    code: str
    severity: Severity
    message: str
    rule: str
    citation: str
    is_active: bool
    first_seen_at: dt.datetime
    resolved_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledgement_note: str | None


class ReviewItem(Closed):
    source: str
    reason: str
    received_at: dt.datetime


class RecordNote(Closed):
    """A staff note or call about the patient (added on the dashboard; never edited)."""

    id: int
    kind: Literal["note", "call_reached", "call_no_answer", "call_left_message"]
    text: str
    author: str = Field(description="the username of who wrote it")
    created_at: dt.datetime


class PatientRecord(Closed):
    """Contact details, the stored plan (null before the first), the event timeline, every alert
    and the staff's notes, newest first."""

    patient_id: str
    name: str | None
    email: str | None
    phone: str | None = Field(description="from the latest patient_registered (an extension of the contract)")
    navigator_id: str | None
    timezone: str | None
    is_active: bool
    plan: StoredPlan | None
    pending_events: int = Field(description="events stored but not processed yet")
    events: list[TimelineEvent]
    alerts: list[RecordAlert]
    fhir_review: list[ReviewItem] = Field(description="FHIR resources that could not be mapped, to review")
    notes: list[RecordNote] = Field(description="notes and calls, newest first")


# ---- worklist ------------------------------------------------------------------------------------


class WorklistCounts(Closed):
    overdue: int
    due_soon: int
    alerts: int
    critical: int
    failed_notifications: int
    snoozed: int


class WorklistReminder(Closed):
    id: int
    patient_id: str
    key: str
    kind: ReminderKind
    label: str = Field(description="what emails and calendars call it")
    due_on: dt.date
    window_days: int
    days_overdue: int
    status: Status
    rule: str
    rationale: str
    citation: str
    overdue_since: dt.date | None
    missed: int
    last_done_on: dt.date | None
    missed_text: str | None
    booking: ReminderBooking | None = Field(description="the navigator's latest booking of the item")
    booking_text: str | None = Field(description='"Booked for 2026-12-04 at Radiology B; due 2026-11-20"')


class WorklistSnoozed(WorklistReminder):
    snoozed_until: dt.date = Field(description="off the other sections and counts until this day")


class WorklistAlert(Closed):
    id: int
    patient_id: str
    code: str
    severity: Severity
    message: str
    rule: str
    citation: str
    first_seen_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledgement_note: str | None


class FailedNotification(Closed):
    id: int
    patient_id: str | None
    kind: str
    audience: str
    due_on: dt.date | None
    attempts: int
    error: str | None
    failed_at: dt.datetime


class Worklist(Closed):
    as_of: dt.date
    counts: WorklistCounts = Field(description="complete, whatever `limit` lists")
    capped_counts: list[str] = Field(description="counts that stopped at 10,000 (callers who see everyone)")
    overdue: list[WorklistReminder]
    due_soon: list[WorklistReminder]
    alerts: list[WorklistAlert] = Field(description="critical first, then warning, then info")
    failed_notifications: list[FailedNotification]
    snoozed: list[WorklistSnoozed] = Field(
        description="snoozed items the sections would otherwise list, soonest back first"
    )


# ---- the rest ------------------------------------------------------------------------------------


# Some text that is not all blank (by Python's reckoning, which counts U+001C-U+001F as blank too)
# and holds no NUL.
NOTE_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"


class Acknowledgement(Closed):
    note: str = Field(
        min_length=1, max_length=2000, pattern=NOTE_PATTERN, description="what was done about the alert"
    )


class AcknowledgedAlert(Closed):
    id: int
    patient_id: str
    acknowledged_by: str


class CreatedFeed(Closed):
    id: str = Field(description="`feed_…`: what `gistsched feed revoke` and the patient page take")
    url: str = Field(description="the subscription address; its token is shown only here")


class UnassignedPatient(Closed):
    patient_id: str
    events: int
    first_received_at: dt.datetime | None
    open_reminders: int
    overdue: int
    active_alerts: int


class UnassignedPage(Closed):
    count: int = Field(description="every patient without a navigator")
    patients: list[UnassignedPatient] = Field(description="the oldest first, at most `limit`")


class AuditEntry(Closed):
    at: dt.datetime
    user: str | None
    action: str
    patient_id: str | None
    detail: str | None
    client: str | None
    subject: str | None


class Me(Closed):
    username: str
    role: Literal["navigator", "clinician", "admin", "integration"]
    navigator_id: str | None
