"""Hypothesis strategies for valid contract events, shared by every test layer.

Each strategy builds events through the real models, so whatever it yields is valid by construction;
bounds are drawn right up to the contract's edges (size just above 0 and exactly 100, mitoses 0 and
1000, ...). Optional fields are sometimes given and sometimes left out, because identity depends on
which keys were present.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any, get_args

from hypothesis import strategies as st

from scheduler.domain import events as ev
from scheduler.domain.events import DATA_MODELS, EVENT_TYPES, Event, EventData

__all__ = [
    "st_event",
    "st_event_data",
    "st_event_id",
    "st_event_of_each_type",
    "st_events",
    "st_patient_id",
]

DEFAULT_MIN_DATE = dt.date(2000, 1, 1)
DEFAULT_MAX_DATE = dt.date(2030, 12, 31)

# A few real IANA names (drawing from the machine's tzdata would make examples machine-dependent).
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Argentina/Buenos_Aires")


def _one_of(literal: Any) -> st.SearchStrategy[str]:
    return st.sampled_from(get_args(literal))


def _positive(max_value: float) -> st.SearchStrategy[float | int]:
    """Numbers in (0, max_value], as floats or JSON integers (both are valid contract numbers)."""
    return st.floats(min_value=0, max_value=max_value, exclude_min=True, allow_nan=False) | st.integers(
        min_value=1, max_value=int(max_value)
    )


# Any text the contract accepts: every character but NUL and unpaired surrogates (not storable).
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_text = st.text(_chars, max_size=40)
_size_cm = _positive(100)
_dose_mg = _positive(2000)
_lab_value = st.floats(min_value=0, allow_nan=False, allow_infinity=False) | st.integers(0, 10**6)
_uln = st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False) | st.integers(1, 10**6)
_bool = st.booleans()


def _fields(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


def _lab_fields() -> st.SearchStrategy[dict[str, Any]]:
    """``uln`` is required for liver tests and optional for the others."""

    def for_test(test: str) -> st.SearchStrategy[dict[str, Any]]:
        required: dict[str, st.SearchStrategy[Any]] = {"test": st.just(test), "value": _lab_value}
        if test in ev.ULN_REQUIRED_TESTS:
            return _fields({**required, "uln": _uln}, {})
        return _fields(required, {"uln": _uln})

    return _one_of(ev.LabTest).flatmap(for_test)


_DATA_FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "patient_registered": _fields(
        {},
        {
            "name": _text,
            "email": st.emails(),
            "navigator_id": _text,
            "timezone": st.sampled_from(TIMEZONES),
            "phone": st.from_regex(r"\+?[0-9]{5,8}( [0-9]{2,3}){0,3}", fullmatch=True),
        },
    ),
    "diagnosis": _fields(
        {"site": _one_of(ev.Site), "size_cm": _size_cm},
        {"metastatic": _bool, "method": _one_of(ev.DiagnosisMethod)},
    ),
    "biopsy": _fields(
        {"result": _one_of(ev.BiopsyResult)},
        {"cd117": _bool, "dog1": _bool, "mitoses_per_5mm2": st.integers(0, 1000)},
    ),
    "pathology": _fields(
        {"size_cm": _size_cm, "mitoses_per_5mm2": st.integers(0, 1000)},
        {"site": _one_of(ev.Site), "fixative": _one_of(ev.Fixative), "cd117": _bool, "dog1": _bool},
    ),
    "mutation": _fields({"gene": _one_of(ev.Gene)}, {"exon": st.integers(1, 30), "variant": _text}),
    "resection": _fields(
        {"margin": _one_of(ev.Margin)}, {"approach": _one_of(ev.Approach), "intent": _one_of(ev.Intent)}
    ),
    "rupture": _fields({}, {"context": _one_of(ev.RuptureContext)}),
    "therapy_started": _fields(
        {"drug": _one_of(ev.Drug), "dose_mg": _dose_mg, "setting": _one_of(ev.Setting)}, {}
    ),
    "therapy_stopped": _fields({"drug": _one_of(ev.Drug), "reason": _one_of(ev.StopReason)}, {}),
    "dose_changed": _fields({"drug": _one_of(ev.Drug), "dose_mg": _dose_mg}, {}),
    "imaging": _fields({"modality": _one_of(ev.Modality)}, {"result": _one_of(ev.ImagingResult)}),
    "progression": _fields({}, {"pattern": _one_of(ev.ProgressionPattern)}),
    "metastasis": _fields({}, {"sites": st.lists(st.text(_chars, max_size=20), max_size=4).map(tuple)}),
    "lab_result": _lab_fields(),
    "visit": _fields({"kind": _one_of(ev.VisitKind)}, {}),
    "mdt_review": _fields(
        {},
        {"decision": st.text(_chars, max_size=ev.DECISION_MAX_CHARS), "outcome": _one_of(ev.MdtOutcome)},
    ),
    "follow_up_ended": _fields({"reason": _one_of(ev.EndReason)}, {}),
}


def _iso(days: st.SearchStrategy[dt.date]) -> st.SearchStrategy[str]:
    return days.map(dt.date.isoformat)


_reminder_key = st.builds(
    lambda rule, kind, anchor, ordinal: f"{rule}:{kind}:{anchor.isoformat()}:{ordinal}",
    st.sampled_from(
        ("surveillance.high", "monitoring.regorafenib_liver", "workup.tissue", "advanced.imaging")
    ),
    st.sampled_from(("ct", "lab_lft", "biopsy", "mdt_review")),
    st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)),
    st.integers(1, 9999),
)


def _action_fields(event_type: str, occurred_on: dt.date) -> st.SearchStrategy[dict[str, Any]]:
    """Navigator actions: a snooze ends after ``occurred_on``, a test done elsewhere was done by it."""
    if event_type == "reminder_booked":
        return _fields(
            {"reminder_key": _reminder_key, "appointment_on": _iso(st.dates(dt.date(1990, 1, 1)))},
            {"place": st.text(_chars, min_size=1, max_size=ev.PLACE_MAX_CHARS)},
        )
    if event_type == "reminder_snoozed":
        later = st.integers(1, 400).map(lambda n: occurred_on + dt.timedelta(days=n))
        return _fields({"reminder_key": _reminder_key, "until": _iso(later)}, {})
    done_elsewhere = _fields(
        {
            "reminder_key": _reminder_key,
            "reason": st.just("done_elsewhere"),
            "done_on": _iso(st.integers(0, 400).map(lambda n: occurred_on - dt.timedelta(days=n))),
        },
        {"note": st.text(_chars, min_size=1, max_size=ev.NOTE_MAX_CHARS)},
    )
    other = _fields(
        {"reminder_key": _reminder_key, "reason": st.sampled_from(("not_applicable", "declined"))},
        {"note": st.text(_chars, min_size=1, max_size=ev.NOTE_MAX_CHARS)},
    )
    return done_elsewhere | other


_ACTION_TYPES = ("reminder_booked", "reminder_snoozed", "reminder_waived")
assert set(_DATA_FIELDS) | set(_ACTION_TYPES) == set(EVENT_TYPES), "a strategy is missing for an event type"


def st_event_data(event_type: str, occurred_on: dt.date = DEFAULT_MAX_DATE) -> st.SearchStrategy[EventData]:
    """Valid ``data`` of one type for an event on ``occurred_on``; only the optional fields drawn are
    set (and so written by to_json)."""
    model = DATA_MODELS[event_type]
    fields = (
        _action_fields(event_type, occurred_on) if event_type in _ACTION_TYPES else _DATA_FIELDS[event_type]
    )
    return fields.map(model.model_validate)


def st_patient_id() -> st.SearchStrategy[str]:
    return st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=64)


def st_event_id() -> st.SearchStrategy[str]:
    """Mostly short readable ids, sometimes any text up to the 128-character limit."""
    readable = st.text(alphabet=string.ascii_letters + string.digits + "-_:", min_size=1, max_size=12)
    return readable | st.text(_chars, min_size=1, max_size=ev.EVENT_ID_MAX_CHARS)


def st_event(
    event_type: str | None = None,
    patient_id: str | None = "P1",
    min_date: dt.date = DEFAULT_MIN_DATE,
    max_date: dt.date = DEFAULT_MAX_DATE,
    event_id: str | None = None,
) -> st.SearchStrategy[Event]:
    """One valid event; ``None`` for event_type, patient_id or event_id means "draw one"."""
    types = st.sampled_from(EVENT_TYPES) if event_type is None else st.just(event_type)

    @st.composite
    def build(draw: st.DrawFn) -> Event:
        chosen = draw(types)
        occurred_on = draw(st.dates(min_value=min_date, max_value=max_date))
        return Event(
            event_id=event_id if event_id is not None else draw(st_event_id()),
            patient_id=patient_id if patient_id is not None else draw(st_patient_id()),
            type=chosen,
            occurred_on=occurred_on,
            data=draw(st_event_data(chosen, occurred_on)),
        )

    return build()


def st_events(
    patient_id: str | None = "P1",
    types: tuple[str, ...] | None = None,
    *,
    min_size: int = 0,
    max_size: int = 20,
    min_date: dt.date = DEFAULT_MIN_DATE,
    max_date: dt.date = DEFAULT_MAX_DATE,
) -> st.SearchStrategy[list[Event]]:
    """A list of valid events with distinct event_ids, of the given types (all types by default)."""
    one = st.sampled_from(types or EVENT_TYPES).flatmap(
        lambda event_type: st_event(event_type, patient_id, min_date, max_date)
    )
    return st.lists(one, min_size=min_size, max_size=max_size, unique_by=lambda event: event.event_id)


def st_event_of_each_type(
    patient_id: str | None = "P1",
    min_date: dt.date = DEFAULT_MIN_DATE,
    max_date: dt.date = DEFAULT_MAX_DATE,
) -> st.SearchStrategy[list[Event]]:
    """One event of every type, in EVENT_TYPES order, with distinct ids ``<type>-1``."""
    return st.tuples(
        *(
            st_event(event_type, patient_id, min_date, max_date, event_id=f"{event_type}-1")
            for event_type in EVENT_TYPES
        )
    ).map(list)
