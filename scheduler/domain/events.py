"""The patient events of event-contract.md §1: typed, validated, compared and read from JSON Lines.

Everything the clinical core knows about a patient arrives as one of these events, so this module
is the gate: it turns parsed JSON into frozen values or refuses it with an ``EventError`` that names
the field in words a nurse can act on. The top-level keys are checked by hand (for exact messages that
name the field); each type's ``data`` is a strict,
frozen pydantic model built once at import.

Identity follows the contract literally: two events are identical when equal after JSON parsing
(numbers by value, booleans never numbers). ``to_json`` therefore writes back exactly the optional
fields that were given (an explicit ``"metastatic": false`` stays, an omitted one stays out), so
``fingerprint(raw) == parse_event(raw).fingerprint()`` for every valid line.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

__all__ = [
    "DATA_MODELS",
    "EARLIEST_DATE",
    "EVENT_TYPES",
    "TYPE_ORDER",
    "BiopsyData",
    "DiagnosisData",
    "DoseChangedData",
    "Event",
    "EventData",
    "EventError",
    "FollowUpEndedData",
    "ImagingData",
    "LabResultData",
    "LineError",
    "MdtReviewData",
    "MetastasisData",
    "MutationData",
    "PathologyData",
    "PatientRegisteredData",
    "ProgressionData",
    "ReadResult",
    "ReminderBookedData",
    "ReminderSnoozedData",
    "ReminderWaivedData",
    "ResectionData",
    "RuptureData",
    "TherapyStartedData",
    "TherapyStoppedData",
    "VisitData",
    "collapse_duplicates",
    "fingerprint",
    "parse_event",
    "read_jsonl",
]

# Same-day replay order of clinical-rules.md §0 (the state a later type reads is set by an earlier one).
EVENT_TYPES: Final[tuple[str, ...]] = (
    "patient_registered",
    "diagnosis",
    "biopsy",
    "metastasis",
    "rupture",
    "resection",
    "pathology",
    "mutation",
    "progression",
    "imaging",
    "lab_result",
    "visit",
    "therapy_stopped",
    "therapy_started",
    "dose_changed",
    "mdt_review",
    "reminder_booked",
    "reminder_snoozed",
    "reminder_waived",
    "follow_up_ended",
)
TYPE_ORDER: Final[dict[str, int]] = {name: index for index, name in enumerate(EVENT_TYPES)}
EARLIEST_DATE: Final = dt.date(1900, 1, 1)
EVENT_ID_MAX_CHARS: Final = 128
PATIENT_ID_MAX_CHARS: Final = 64
DECISION_MAX_CHARS: Final = 500
PHONE_MAX_CHARS: Final = 32
# A phone number as people write it: an optional leading +, then digits, spaces and ( ) - . /
_PHONE = re.compile(r"\+?[0-9 ().\-/]+", re.ASCII)

Site = Literal[
    "stomach", "duodenum", "jejunum_ileum", "rectum", "colon", "esophagus", "mesentery", "omentum",
    "peritoneum", "other",
]  # fmt: skip
Drug = Literal["imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib", "other"]
Setting = Literal["neoadjuvant", "adjuvant", "advanced"]
Modality = Literal["ct", "mri", "eus", "pet"]
ImagingResult = Literal["no_evidence_of_disease", "stable", "response", "progression", "growth", "new_lesion"]
LabTest = Literal["alt", "ast", "bilirubin", "neutrophils", "platelets", "hemoglobin", "tsh", "lvef"]
DiagnosisMethod = Literal["imaging", "eus", "endoscopy", "surgery"]
BiopsyResult = Literal["gist", "not_gist", "inadequate"]
Fixative = Literal["formalin", "bouin", "other"]
Gene = Literal["KIT", "PDGFRA", "SDH", "NF1", "BRAF", "NTRK", "wild_type"]
Margin = Literal["R0", "R1", "R2"]
Approach = Literal["open", "laparoscopic", "endoscopic"]
Intent = Literal["curative", "cytoreductive"]
RuptureContext = Literal["spontaneous", "intraoperative", "perforation"]
StopReason = Literal["completed", "progression", "toxicity", "patient_choice", "other"]
ProgressionPattern = Literal["focal", "multifocal"]
VisitKind = Literal["clinic_visit", "skin_exam"]
EndReason = Literal["deceased", "transferred", "discharged", "declined"]
MdtOutcome = Literal[
    "resect", "biopsy", "surveil", "start_therapy", "change_therapy", "continue", "stop_therapy", "other"
]

WaiverReason = Literal["not_applicable", "done_elsewhere", "declined"]
PLACE_MAX_CHARS: Final = 200
NOTE_MAX_CHARS: Final = 500

# Liver tests are judged against their upper limit of normal, so a result without one is useless.
ULN_REQUIRED_TESTS: Final = frozenset({"alt", "ast", "bilirubin"})


def _show(value: object) -> str:
    """Render an offending input the way it looked in JSON, short enough for one error line."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:39] + "…")
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:39] + "…"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _whole_number(value: object) -> object:
    """Accept a JSON integer, or a float with no fraction (2.0 == 2 by the contract); never a bool."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("whole_number", "must be a whole number (got {got})", {"got": _show(value)})


def _list_as_tuple(value: object) -> object:
    """JSON arrays arrive as lists; store a tuple so events stay hashable and immutable."""
    return tuple(value) if isinstance(value, list) else value


def _iso_date(value: object) -> object:
    """A JSON ``YYYY-MM-DD`` text as a date (a date passes, for Python callers)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and _DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date", "{got} is not a calendar date", {"got": _show(value)}) from None
    else:
        raise PydanticCustomError("date", "must be a date as YYYY-MM-DD (got {got})", {"got": _show(value)})
    if day < EARLIEST_DATE:
        raise PydanticCustomError("date", "must be on or after 1900-01-01 (got {got})", {"got": _show(value)})
    return day


_REMINDER_KEY = re.compile(
    r"[a-z_]+(?:\.[a-z_0-9]+)*:[a-z_]+:[0-9]{4}-[0-9]{2}-[0-9]{2}:[1-9][0-9]{0,3}", re.ASCII
)


def _reminder_key(value: object) -> object:
    if not isinstance(value, str) or not _REMINDER_KEY.fullmatch(value):
        raise PydanticCustomError(
            "reminder_key",
            "must be a reminder key as the plan gives it, rule:kind:anchor:ordinal (got {got})",
            {"got": _show(value)},
        )
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
ReminderKey = Annotated[str, BeforeValidator(_reminder_key)]
SizeCm = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
DoseMg = Annotated[float, Field(gt=0, le=2000, allow_inf_nan=False)]
Mitoses = Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=1000)]
Exon = Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=30)]
LabValue = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Uln = Annotated[float, Field(gt=0, allow_inf_nan=False)]


@functools.cache
def _iana_zones() -> frozenset[str]:
    """The IANA names known to zoneinfo (read once from tzdata; 'localtime' is a machine, not a zone)."""
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules"}


_ZONE_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*", re.ASCII)


class _EventDataBase(BaseModel):
    """Common config of every ``data`` model: immutable, strict types, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def to_json(self) -> dict[str, Any]:
        """The contract form: the fields that were given, never ``null``, arrays as lists."""
        given = self.model_fields_set
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name in given:
                value = getattr(self, name)
                if isinstance(value, dt.date):
                    out[name] = value.isoformat()
                elif value is not None:
                    out[name] = list(value) if isinstance(value, tuple) else value
        return out


class PatientRegisteredData(_EventDataBase):
    name: str | None = None
    email: str | None = None
    navigator_id: str | None = None
    timezone: str = "UTC"
    phone: str | None = None  # an extension of the contract (README "Events")

    @field_validator("phone")
    @classmethod
    def _phone_number(cls, value: str | None) -> str | None:
        digits = sum(c.isdigit() for c in value or "")
        if value is not None and (
            len(value) > PHONE_MAX_CHARS or not _PHONE.fullmatch(value) or not 5 <= digits <= 20
        ):
            raise PydanticCustomError(
                "phone",
                "must be a phone number: 5 to 20 digits, an optional leading +, spaces and ( ) - . /"
                " (at most {n} characters; got {got})",
                {"n": PHONE_MAX_CHARS, "got": _show(value)},
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zones = _iana_zones()
        # Without any tzdata on the machine fall back to the shape of a name rather than refuse all.
        known = value in zones if zones else bool(_ZONE_SHAPE.fullmatch(value))
        if not known:
            raise PydanticCustomError(
                "timezone", "{got} is not an IANA time zone name (e.g. Europe/Paris)", {"got": _show(value)}
            )
        return value


class DiagnosisData(_EventDataBase):
    site: Site
    size_cm: SizeCm
    metastatic: bool = False
    method: DiagnosisMethod | None = None


class BiopsyData(_EventDataBase):
    result: BiopsyResult
    cd117: bool | None = None
    dog1: bool | None = None
    mitoses_per_5mm2: Mitoses | None = None


class PathologyData(_EventDataBase):
    size_cm: SizeCm
    mitoses_per_5mm2: Mitoses
    site: Site | None = None
    fixative: Fixative | None = None
    cd117: bool | None = None
    dog1: bool | None = None


class MutationData(_EventDataBase):
    gene: Gene
    exon: Exon | None = None
    variant: str | None = None


class ResectionData(_EventDataBase):
    margin: Margin
    approach: Approach | None = None
    intent: Intent | None = None


class RuptureData(_EventDataBase):
    context: RuptureContext | None = None


class TherapyStartedData(_EventDataBase):
    drug: Drug
    dose_mg: DoseMg
    setting: Setting


class TherapyStoppedData(_EventDataBase):
    drug: Drug
    reason: StopReason


class DoseChangedData(_EventDataBase):
    drug: Drug
    dose_mg: DoseMg


class ImagingData(_EventDataBase):
    modality: Modality
    result: ImagingResult | None = None


class ProgressionData(_EventDataBase):
    pattern: ProgressionPattern | None = None


class MetastasisData(_EventDataBase):
    sites: Annotated[tuple[str, ...], BeforeValidator(_list_as_tuple)] = ()


class LabResultData(_EventDataBase):
    test: LabTest
    value: LabValue
    uln: Uln | None = Field(default=None, validate_default=True)

    @field_validator("uln")
    @classmethod
    def _uln_for_liver_tests(cls, uln: float | None, info: ValidationInfo) -> float | None:
        test = info.data.get("test")  # absent when the test itself was invalid: that error is reported
        if uln is None and test in ULN_REQUIRED_TESTS:
            raise PydanticCustomError(
                "uln_required",
                "required for {article} {test} result",
                {"article": _article(test), "test": test},
            )
        return uln


class VisitData(_EventDataBase):
    kind: VisitKind


class MdtReviewData(_EventDataBase):
    decision: Annotated[str, Field(max_length=DECISION_MAX_CHARS)] | None = None
    outcome: MdtOutcome | None = None  # rules read only this, never the free text


class FollowUpEndedData(_EventDataBase):
    reason: EndReason


class ReminderBookedData(_EventDataBase):
    """A navigator booked the item ``reminder_key`` for ``appointment_on`` (optionally where)."""

    reminder_key: ReminderKey
    appointment_on: IsoDate
    place: Annotated[str, Field(min_length=1, max_length=PLACE_MAX_CHARS)] | None = None


class ReminderSnoozedData(_EventDataBase):
    """The item ``reminder_key`` leaves the navigators' worklist until ``until``."""

    reminder_key: ReminderKey
    until: IsoDate


class ReminderWaivedData(_EventDataBase):
    """The item ``reminder_key`` is not to be done: not applicable, done elsewhere (on ``done_on``,
    which that reason requires) or declined by the patient."""

    reminder_key: ReminderKey
    reason: WaiverReason
    done_on: IsoDate | None = None
    note: Annotated[str, Field(min_length=1, max_length=NOTE_MAX_CHARS)] | None = None

    @model_validator(mode="after")
    def _done_on_with_done_elsewhere(self) -> ReminderWaivedData:
        if self.reason == "done_elsewhere" and self.done_on is None:
            raise PydanticCustomError("done_on", "required when the reason is done_elsewhere", {})
        if self.reason != "done_elsewhere" and self.done_on is not None:
            raise PydanticCustomError("done_on", "only for the reason done_elsewhere", {})
        return self


EventData = (
    PatientRegisteredData | DiagnosisData | BiopsyData | PathologyData | MutationData | ResectionData
    | RuptureData | TherapyStartedData | TherapyStoppedData | DoseChangedData | ImagingData
    | ProgressionData | MetastasisData | LabResultData | VisitData | MdtReviewData | FollowUpEndedData
    | ReminderBookedData | ReminderSnoozedData | ReminderWaivedData
)  # fmt: skip

DATA_MODELS: Final[Mapping[str, type[EventData]]] = {
    "patient_registered": PatientRegisteredData,
    "diagnosis": DiagnosisData,
    "biopsy": BiopsyData,
    "metastasis": MetastasisData,
    "rupture": RuptureData,
    "resection": ResectionData,
    "pathology": PathologyData,
    "mutation": MutationData,
    "progression": ProgressionData,
    "imaging": ImagingData,
    "lab_result": LabResultData,
    "visit": VisitData,
    "therapy_stopped": TherapyStoppedData,
    "therapy_started": TherapyStartedData,
    "dose_changed": DoseChangedData,
    "mdt_review": MdtReviewData,
    "reminder_booked": ReminderBookedData,
    "reminder_snoozed": ReminderSnoozedData,
    "reminder_waived": ReminderWaivedData,
    "follow_up_ended": FollowUpEndedData,
}

# Optional fields of each model: a JSON null there means "left out", which the contract forbids.
_OPTIONAL_FIELDS: Final[dict[str, frozenset[str]]] = {
    event_type: frozenset(name for name, info in model.model_fields.items() if not info.is_required())
    for event_type, model in DATA_MODELS.items()
}

_TOP_KEYS: Final = ("event_id", "patient_id", "type", "occurred_on", "data")
_EXACT_KEYS: Final = "an event has exactly event_id, patient_id, type, occurred_on, data"
_PATIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class Event(BaseModel):
    """One contract event. ``parse_event`` builds it from JSON; Python callers may construct it directly.

    Direct construction takes a ``datetime.date`` and either a data model or a mapping for ``data``
    (validated against the model of ``type``), so tests and builders cannot make an event the JSON
    path would refuse.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    event_id: Annotated[str, Field(min_length=1, max_length=EVENT_ID_MAX_CHARS)]
    patient_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    type: str
    occurred_on: dt.date
    data: EventData

    @model_validator(mode="before")
    @classmethod
    def _data_of_its_type(cls, values: Any) -> Any:
        """Pick the data model from ``type``: a bare union would match ``{}`` to the wrong one."""
        if isinstance(values, Mapping) and isinstance(values.get("data"), Mapping):
            event_type = values.get("type")
            if isinstance(event_type, str) and event_type in DATA_MODELS:
                data = DATA_MODELS[event_type].model_validate(dict(values["data"]))
                return {**values, "data": data}
        return values

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        if self.type not in TYPE_ORDER:
            raise ValueError(f"type: {_show(self.type)} is not an event type")
        if type(self.data) is not DATA_MODELS[self.type]:
            raise ValueError(f"data: a {type(self.data).__name__} cannot be the data of a {self.type} event")
        if self.occurred_on < EARLIEST_DATE:  # strict mode already refused datetimes and strings
            raise ValueError("occurred_on: must be a date on or after 1900-01-01")
        try:
            _check_dates_against_occurred_on(self.data, self.occurred_on)
        except EventError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON object; ``parse_event(e.to_json()) == e``."""
        return {
            "event_id": self.event_id,
            "patient_id": self.patient_id,
            "type": self.type,
            "occurred_on": self.occurred_on.isoformat(),
            "data": self.data.to_json(),
        }

    def fingerprint(self) -> str:
        """Content hash equal to ``fingerprint`` of the JSON line this event was parsed from."""
        return fingerprint(self.to_json())


# One event unpacked for the planner's replay: (occurred_on, TYPE_ORDER[type], event_id, type, data,
# event). A pydantic model's attribute read costs several times a plain one, so the planner reads
# each field once (plan._replay_order) and passes these rows to the case and the book.
Replayed = tuple[dt.date, int, str, str, EventData, Event]


# Characters that would split an error line or reach a terminal as a command: C0/C1 controls,
# DEL, line and paragraph separators, unpaired surrogates.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


class EventError(ValueError):
    """An event the contract refuses: ``field`` is a dotted path, ``problem`` a readable reason."""

    def __init__(self, field: str, problem: str) -> None:
        if _UNSHOWABLE.search(field):  # a junk key must not break the one-line error or drive a terminal
            field = ascii(field)
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def __reduce__(self) -> tuple[type[EventError], tuple[str, str]]:
        # Keep the two-argument form when pickled (queues, worker processes).
        return (type(self), (self.field, self.problem))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _limit(value: object) -> str:
    """Show a bound as written in the contract: 0, not 0.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _describe(error: ErrorDetails, event_type: str, model: type[BaseModel]) -> str:
    """Turn one pydantic error into the contract's wording for a nurse."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    got = _show(error["input"])
    a_type = f"{_article(event_type)} {event_type} event"
    if kind == "missing":
        return f"required for {a_type}"
    if kind == "extra_forbidden":
        return f"unknown field for {a_type} (its fields are {', '.join(model.model_fields)})"
    if kind == "literal_error":
        return f"{got} is not one of {ctx['expected']}"
    if kind == "greater_than":
        return f"must be greater than {_limit(ctx['gt'])} (got {got})"
    if kind == "greater_than_equal":
        return f"must be at least {_limit(ctx['ge'])} (got {got})"
    if kind == "less_than_equal":
        return f"must be at most {_limit(ctx['le'])} (got {got})"
    if kind == "float_type":
        return f"must be a number (got {got})"
    if kind == "finite_number":
        return f"must be a finite number (got {got})"
    if kind == "bool_type":
        return f"must be true or false (got {got})"
    if kind == "string_type":
        return f"must be text (got {got})"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters (got {len(error['input'])})"
    if kind == "tuple_type":
        return f"must be a list of text (got {got})"
    return error["msg"]  # our own PydanticCustomError messages are already in this wording


def _data_error(exc: ValidationError, event_type: str, model: type[BaseModel]) -> EventError:
    """The first problem, unknown keys first: a misspelt key also shows up as a missing field."""
    errors = exc.errors(include_url=False)
    first = min(errors, key=lambda error: error["type"] != "extra_forbidden")
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
    if not first["loc"] and first["type"] in model.model_fields:  # a check across fields names its field
        path = f".{first['type']}"
    return EventError(f"data{path}", _describe(first, event_type, model))


def _parse_date(value: object) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise EventError("occurred_on", f"must be a date written YYYY-MM-DD (got {_show(value)})")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise EventError("occurred_on", f"{value!r} is not a real date (YYYY-MM-DD)") from None
    if day < EARLIEST_DATE:
        raise EventError("occurred_on", f"{value} is before {EARLIEST_DATE.isoformat()}")
    return day


def _parse_data(value: object, event_type: str) -> EventData:
    if not isinstance(value, Mapping):
        raise EventError("data", f"must be a JSON object (got {_show(value)})")
    model = DATA_MODELS[event_type]
    optional = _OPTIONAL_FIELDS[event_type]
    for key, item in value.items():
        if item is None and key in optional:
            raise EventError(
                f"data.{key}", "must be left out rather than null (an optional field is never null)"
            )
    try:
        return model.model_validate(value if isinstance(value, dict) else dict(value))
    except ValidationError as exc:
        raise _data_error(exc, event_type, model) from None


def _text_field(obj: Mapping[Any, Any], key: str, max_chars: int) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise EventError(key, f"must be text (got {_show(value)})")
    if not value:
        raise EventError(key, "must not be empty")
    if len(value) > max_chars:
        raise EventError(key, f"must be at most {max_chars} characters (got {len(value)})")
    return value


_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL and unpaired surrogates: not storable, not text
MAX_DEPTH = 16


def _check_text(value: object, path: str, depth: int = 0) -> None:
    """Every string (keys too) is real, storable text, and nothing is nested absurdly deep."""
    if depth > MAX_DEPTH:
        raise EventError(path or "event", f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if _BAD_TEXT.search(value):
            raise EventError(path, "contains a NUL character or an unpaired surrogate")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            if _BAD_TEXT.search(name):
                raise EventError(f"{path}.{name}" if path else name, "field names must be text without NUL")
            _check_text(item, f"{path}.{name}" if path else name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]", depth + 1)


def _check_dates_against_occurred_on(data: EventData, occurred_on: dt.date) -> None:
    """A test done elsewhere was done by the day the waiver was recorded; a snooze ends later."""
    if isinstance(data, ReminderWaivedData) and data.done_on is not None and data.done_on > occurred_on:
        raise EventError("data.done_on", f"{data.done_on.isoformat()} is after occurred_on ({occurred_on})")
    if isinstance(data, ReminderSnoozedData) and data.until <= occurred_on:
        raise EventError("data.until", f"{data.until.isoformat()} must be after occurred_on ({occurred_on})")


def parse_event(obj: object, *, received_on: dt.date | None = None) -> Event:
    """Validate one parsed JSON object as a contract event, or raise ``EventError`` naming the field.

    Checks run in a fixed order (unknown keys, then event_id, patient_id, type, occurred_on, data,
    then ``received_on``) so the same bad input always reports the same first problem.
    """
    if not isinstance(obj, Mapping):
        raise EventError("event", f"must be a JSON object (got {_show(obj)})")
    for key in obj:
        if key not in _TOP_KEYS:
            raise EventError(str(key), f"unknown field ({_EXACT_KEYS})")
    for key in _TOP_KEYS:
        if key not in obj:
            hint = "use {} when the type has no fields" if key == "data" else _EXACT_KEYS
            raise EventError(key, f"required ({hint})")
    event_id = _text_field(obj, "event_id", EVENT_ID_MAX_CHARS)
    _check_text(event_id, "event_id")
    patient_id = _text_field(obj, "patient_id", PATIENT_ID_MAX_CHARS)
    if not _PATIENT_ID.fullmatch(patient_id):
        raise EventError(
            "patient_id", f"{patient_id!r} may contain only letters A-Z a-z, digits, '.', '_' and '-'"
        )
    event_type = obj["type"]
    if not isinstance(event_type, str) or event_type not in TYPE_ORDER:
        raise EventError(
            "type", f"{_show(event_type)} is not an event type (expected one of {', '.join(EVENT_TYPES)})"
        )
    occurred_on = _parse_date(obj["occurred_on"])
    _check_text(obj["data"], "data")
    data = _parse_data(obj["data"], event_type)
    _check_dates_against_occurred_on(data, occurred_on)
    if received_on is not None and occurred_on > received_on:
        raise EventError(
            "occurred_on",
            f"{occurred_on.isoformat()} is after the day it was received ({received_on.isoformat()})",
        )
    # Every field is validated above; model_construct skips a second, slower pass through pydantic.
    return Event.model_construct(
        event_id=event_id, patient_id=patient_id, type=event_type, occurred_on=occurred_on, data=data
    )


def _canonical(value: Any) -> Any:
    """Numbers by value (2.0 -> 2, so 2 == 2.0); booleans stay booleans (true != 1)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def fingerprint(obj: Mapping[str, Any]) -> str:
    """SHA-256 of canonical JSON: equal exactly when the events are equal after JSON parsing.

    Keys are sorted, whitespace dropped, non-ASCII escaped; a float keeps its shortest repr, so
    1.5 and 1.50 (both parsed to 1.5) agree.
    """
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class LineError:
    """A refused line of a JSON Lines file; ``message`` starts with "line N:"."""

    line: int
    message: str


@dataclass(slots=True)
class ReadResult:
    events: list[Event]
    errors: list[LineError]
    duplicates: int


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


# Built once: json.loads with any keyword argument builds a new decoder on every call.
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)


def _load_line(text: str) -> object:
    """Parse one line, raising ValueError with a readable reason (Python's json also reads NaN)."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None


def read_jsonl(lines: Iterable[str], *, received_on: dt.date | None = None) -> ReadResult:
    """Read JSON Lines: valid events in file order, one error per refused line, duplicates collapsed.

    An identical repeat of an event_id is dropped and counted (the first is kept); a repeat with
    other content is an error naming the earlier line, and the earlier event stands.
    """
    result = ReadResult(events=[], errors=[], duplicates=0)
    # The first line and JSON object of each event_id; hashed only when the id repeats (rare).
    first_seen: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.removeprefix("\ufeff") if number == 1 else raw
        if not text.strip():
            continue
        try:
            obj = _load_line(text)
            event = parse_event(obj, received_on=received_on)
        except ValueError as exc:  # EventError is a ValueError too
            result.errors.append(LineError(number, f"line {number}: {exc}"))
            continue
        content = cast(Mapping[str, Any], obj)  # parse_event accepted it, so it is a JSON object
        earlier = first_seen.get(event.event_id)
        if earlier is None:
            first_seen[event.event_id] = (number, content)
            result.events.append(event)
        elif fingerprint(earlier[1]) == fingerprint(content):
            result.duplicates += 1
        else:
            result.errors.append(
                LineError(
                    number,
                    f"line {number}: event_id {event.event_id!r} conflicts with line {earlier[0]}"
                    " (same event_id, different content)",
                )
            )
    return result


def collapse_duplicates(events: Iterable[Event]) -> list[Event]:
    """Drop identical repeats of an event_id (first kept); a repeat with other content is an error.

    Fingerprints are computed only when an event_id repeats, which is rare.
    """
    kept: dict[str, Event] = {}
    for event in events:
        earlier = kept.get(event.event_id)
        if earlier is None:
            kept[event.event_id] = event
        elif earlier.fingerprint() != event.fingerprint():
            raise EventError("event_id", f"{event.event_id!r} appears twice with different content")
    return list(kept.values())
