"""Calendar feeds (RFC 5545 + RFC 7986) and email invitations (RFC 5546 iTIP): pure renderers.

No database, clock or I/O: the caller passes every value, and the same input gives the same bytes.
Each reminder is one all-day VEVENT whose UID is derived from (patient, reminder key) with a hash, so
it is stable across recomputation and never shows the key's rule and drug words. A moved reminder
keeps its UID and bumps SEQUENCE; a gone one is sent again as STATUS:CANCELLED (never dropped), so
subscribed clients remove it.

Quirks of icalendar 7 handled here (tests/unit/test_ical.py checks the bytes):

* ``Calendar.new()`` / ``Event.new()`` draw random UIDs: components are built with ``add`` instead.
* The ``refresh_interval`` setter writes ``REFRESH-INTERVAL:PT12H`` without the ``VALUE=DURATION``
  that RFC 7986 requires, and ``add("X-PUBLISHED-TTL", timedelta)`` writes ``12:00:00`` (an
  X-property falls back to TEXT): both are added as explicit ``vDuration`` values.
* A zero duration comes out as ``P0D``; the alarm at the start is written ``PT0S``.
* The ``calendar_name`` setter writes NAME and X-WR-CALNAME unescaped (a comma stays bare, a line
  break raises): X-WR-CALNAME is added as escaped TEXT. (icalendar reads X-WR-CALNAME back raw.)
* Its TEXT escaping turns a literal backslash followed by ``N`` into a line break, and lets control
  characters through (invalid in TEXT): :func:`_escape_text` escapes backslashes first and drops
  them. It also drops a byte-order mark (U+FEFF) at the start of a value but not elsewhere:
  :func:`_escape_text` drops every one, so both writers agree.

A navigator's feed can hold 40,000 events and icalendar's component serialisation takes several
seconds per ten thousand, so :func:`render_feed` writes the fixed-shape VEVENT lines itself, with
icalendar's content-line folding; the tests check it byte for byte against the component built by
:func:`_event` (which the invitations use).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from icalendar import Alarm, Calendar, Event
from icalendar.parser import Contentline
from icalendar.prop import vCalAddress, vDuration, vText

PRODID: Final = "-//gist-scheduler//Follow-up reminders//EN"
DEFAULT_REFRESH: Final = dt.timedelta(hours=12)
_DAY: Final = dt.timedelta(days=1)
_FOLD_AT: Final = 75  # icalendar folds a line of 75 octets or more (RFC 5545 §3.1: at most 75)

# CTLs other than HTAB, LF and CR, and U+FEFF (a byte-order mark: icalendar drops one at the start
# of a value when it decodes with utf-8-sig, so the feed and the invitations drop it everywhere)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
_UNSAFE_URI = re.compile(r"[\x00-\x20\x7f]")  # a URI value is not escaped: no space, CR or LF
_EMAIL = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class CalendarItem:
    """One reminder as a calendar shows it; every text is already PHI-minimal (labels.py)."""

    uid: str  # from item_uid(); stable across recomputation
    summary: str  # "Scan" or "Scan · P01"
    due_on: dt.date  # all-day event on this date
    sequence: int  # the reminder's revision (SEQUENCE)
    stamp: dt.datetime  # aware: the reminder row's updated_at → DTSTAMP and LAST-MODIFIED (in UTC)
    is_cancelled: bool  # STATUS:CANCELLED, else CONFIRMED
    description: str = ""  # plain text
    url: str | None = None  # e.g. the dashboard page
    alarm_days_before: int = 1  # VALARM TRIGGER -P{n}D before the start; 0 → PT0S

    def __post_init__(self) -> None:
        if not self.uid:
            raise ValueError("CalendarItem.uid is empty")
        if isinstance(self.due_on, dt.datetime) or self.due_on == dt.date.max:
            raise ValueError(f"CalendarItem.due_on must be a date before date.max: {self.due_on!r}")
        if self.sequence < 0 or self.alarm_days_before < 0:
            raise ValueError("CalendarItem.sequence and alarm_days_before must not be negative")
        if self.stamp.utcoffset() is None:
            raise ValueError("CalendarItem.stamp must be timezone-aware")
        if self.url is not None and _UNSAFE_URI.search(self.url):
            raise ValueError("CalendarItem.url must not contain spaces or control characters")


def item_uid(patient_id: str, key: str, domain: str = "gist-scheduler") -> str:
    """A UID stable for (patient, reminder key) that shows neither: 32 hex digits of SHA-256, then @domain."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain: {domain!r}")
    digest = hashlib.sha256(f"{patient_id}\x1f{key}".encode()).hexdigest()[:32]
    return f"{digest}@{domain}"


def render_feed(
    name: str, items: Iterable[CalendarItem], *, refresh: dt.timedelta = DEFAULT_REFRESH
) -> bytes:
    """A subscribable METHOD:PUBLISH calendar with one VEVENT per item, in the given order."""
    if refresh <= dt.timedelta(0):
        raise ValueError("refresh must be a positive duration")
    head = bytes(_calendar("PUBLISH", name, refresh).to_ical(sorted=False))
    tail = b"END:VCALENDAR\r\n"
    return head.removesuffix(tail) + _FeedWriter().events(items).encode() + tail


def render_invitation(
    item: CalendarItem,
    method: Literal["REQUEST", "CANCEL"],
    *,
    organizer: str,
    attendee: str,
    calendar_name: str = "Follow-up reminders",
) -> bytes:
    """An iTIP object for an email attachment: the reminder as a REQUEST, or its CANCEL."""
    if method == "REQUEST" and item.is_cancelled:
        raise ValueError("a cancelled reminder is sent with method CANCEL, not REQUEST")
    if method not in {"REQUEST", "CANCEL"}:
        raise ValueError(f"unsupported iTIP method: {method!r}")
    event = _event(item, is_cancelled=method == "CANCEL")
    event.add("ORGANIZER", vCalAddress(_mailto(organizer)))
    event.add(
        "ATTENDEE",
        vCalAddress(_mailto(attendee)),
        parameters={"PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE"},
    )
    calendar = _calendar(method, calendar_name, None)
    calendar.add_component(event)
    return bytes(calendar.to_ical(sorted=False))


def _calendar(method: str, name: str, refresh: dt.timedelta | None) -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    calendar.add("X-WR-CALNAME", _Text(name))
    if refresh is not None:
        # Not the refresh_interval setter (no VALUE=DURATION) nor a bare timedelta for the X-property.
        calendar.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
        calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    return calendar


def _event(item: CalendarItem, *, is_cancelled: bool) -> Event:
    """The VEVENT as icalendar builds it: the invitations' path and the feed writer's reference."""
    event = Event()
    event.add("UID", _Text(item.uid))
    event.add("DTSTAMP", _utc(item.stamp))
    event.add("DTSTART", item.due_on)
    event.add("DTEND", item.due_on + _DAY)
    event.add("SUMMARY", _Text(item.summary))
    event.add("SEQUENCE", item.sequence)
    event.add("STATUS", "CANCELLED" if is_cancelled else "CONFIRMED")
    event.add("TRANSP", "TRANSPARENT")
    event.add("LAST-MODIFIED", _utc(item.stamp))
    if item.description:
        event.add("DESCRIPTION", _Text(item.description))
    if item.url:
        event.add("URL", item.url)
    if not is_cancelled:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", _Text(item.summary))
        alarm.add("TRIGGER", _Duration(-dt.timedelta(days=item.alarm_days_before)))
        event.add_component(alarm)
    return event


class _FeedWriter:
    """Writes VEVENTs line by line, caching what repeats across a feed (dates, summaries, texts)."""

    def __init__(self) -> None:
        self._dates: dict[dt.date, str] = {}
        self._texts: dict[tuple[str, str], str] = {}
        self._alarms: dict[tuple[str, int], str] = {}

    def events(self, items: Iterable[CalendarItem]) -> str:
        out: list[str] = []
        add = out.append
        for item in items:
            stamp = _utc_text(item.stamp)
            add("BEGIN:VEVENT\r\n")
            add(_line(f"UID:{_escape_text(item.uid)}"))
            add(f"DTSTAMP:{stamp}\r\n")
            add(self._date_lines(item.due_on))
            add(self._text_line("SUMMARY", item.summary))
            add(f"SEQUENCE:{item.sequence}\r\n")
            if item.is_cancelled:
                add("STATUS:CANCELLED\r\nTRANSP:TRANSPARENT\r\n")
            else:
                add("STATUS:CONFIRMED\r\nTRANSP:TRANSPARENT\r\n")
            add(f"LAST-MODIFIED:{stamp}\r\n")
            if item.description:
                add(self._text_line("DESCRIPTION", item.description))
            if item.url:
                add(_line(f"URL:{item.url}"))
            if not item.is_cancelled:
                add(self._alarm(item.summary, item.alarm_days_before))
            add("END:VEVENT\r\n")
        return "".join(out)

    def _date_lines(self, day: dt.date) -> str:
        lines = self._dates.get(day)
        if lines is None:
            lines = f"DTSTART;VALUE=DATE:{_date_text(day)}\r\nDTEND;VALUE=DATE:{_date_text(day + _DAY)}\r\n"
            self._dates[day] = lines
        return lines

    def _text_line(self, name: str, value: str) -> str:
        line = self._texts.get((name, value))
        if line is None:
            line = self._texts[name, value] = _line(f"{name}:{_escape_text(value)}")
        return line

    def _alarm(self, summary: str, days_before: int) -> str:
        block = self._alarms.get((summary, days_before))
        if block is None:
            trigger = _Duration(-dt.timedelta(days=days_before)).to_ical().decode()
            block = (
                "BEGIN:VALARM\r\nACTION:DISPLAY\r\n"
                + self._text_line("DESCRIPTION", summary)
                + f"TRIGGER:{trigger}\r\nEND:VALARM\r\n"
            )
            self._alarms[summary, days_before] = block
        return block


def _line(line: str) -> str:
    """One content line with its CRLF, folded by icalendar when it reaches 75 octets."""
    if len(line) < _FOLD_AT and (line.isascii() or len(line.encode()) < _FOLD_AT):
        return line + "\r\n"
    folded: bytes = Contentline(line).to_ical()  # type: ignore[no-untyped-call]  # unannotated in icalendar
    return folded.decode() + "\r\n"


def _escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT escaping: backslash first, so a literal ``\\N`` stays literal."""
    return (
        _CONTROL.sub("", value)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
    )


class _Text(vText):
    """icalendar's TEXT value with :func:`_escape_text` (see the module docstring)."""

    __slots__ = ()

    def to_ical(self) -> bytes:
        return _escape_text(str(self)).encode()


class _Duration(vDuration):
    """A DURATION that writes zero as ``PT0S`` (icalendar writes ``P0D``)."""

    def to_ical(self) -> bytes:
        if not self.td:
            return b"PT0S"
        return bytes(super().to_ical())  # type: ignore[no-untyped-call]  # unannotated in icalendar


def _utc(stamp: dt.datetime) -> dt.datetime:
    if stamp.utcoffset() is None:
        raise ValueError("a DTSTAMP needs a timezone-aware datetime")
    return stamp.astimezone(dt.UTC).replace(microsecond=0)


def _utc_text(stamp: dt.datetime) -> str:
    utc = _utc(stamp)
    return f"{_date_text(utc)}T{utc.hour:02d}{utc.minute:02d}{utc.second:02d}Z"


def _date_text(day: dt.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _mailto(address: str) -> str:
    if not _EMAIL.fullmatch(address):
        raise ValueError(f"not a plain email address: {address!r}")
    return f"mailto:{address}"
