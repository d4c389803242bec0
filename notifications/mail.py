"""Emails to patients and nurse navigators, composed as values (no I/O, no clock: style.md).

Each composer takes an :class:`Envelope` (From, To, a stable Message-ID and the Date, all chosen by
the caller) and returns an ``EmailMessage`` (``policy=SMTP``): a text and an HTML alternative
rendered from ``notifications/templates``, plus the calendar invitation when one is given.
:mod:`notifications.smtp` sends them.

Minimum necessary (:mod:`notifications.labels`): a patient email or any subject line names the
reminder only by ``label(kind).phrase`` / ``.summary``, never the raw kind, a diagnosis, a drug or a
result; a kind that is not ``patient_facing`` is never sent to a patient (``ValueError``). Staff
bodies link to the dashboard for the details instead of quoting them.

Every header value is checked: CR, LF or any other control character is a ``ValueError``, so
header injection cannot happen; addresses must pass :func:`is_valid_address`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Sequence
from email import errors as email_errors
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from typing import Any, Literal, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.labels import KindLabel, label, missed_text

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 atext: one dot-atom part
LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")  # one DNS label
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
NAVIGATOR_STAGE = {"advance": "Upcoming", "due": "Due today", "overdue": "Overdue"}


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends to whom, under which stable Message-ID and Date (checked on construction)."""

    sender: str  # From, e.g. "Follow-up team <noreply@clinic.example>"
    to: tuple[str, ...]
    message_id: str  # stable, e.g. "<n-42.abc@gist-scheduler>", so a resend can be recognised
    date: dt.datetime  # aware: the Date header

    def __post_init__(self) -> None:
        _mailbox("sender", self.sender)
        if not self.to:
            raise ValueError("envelope: no recipient")
        for address in self.to:
            _mailbox("recipient", address)
        _header_safe("Message-ID", self.message_id)
        if not MESSAGE_ID.fullmatch(self.message_id):
            raise ValueError(f"envelope: Message-ID {self.message_id!r} is not of the form <left@right>")
        if self.date.tzinfo is None or self.date.utcoffset() is None:
            raise ValueError("envelope: date must be timezone-aware")


class DigestAlert(NamedTuple):
    """An active alert as the digest shows it: whose, how severe, since when. Its code and message
    (they name mutations and drugs) stay behind the dashboard's sign-in."""

    patient_code: str
    severity: str
    first_seen_on: dt.date
    is_new: bool = False  # first seen since the previous digest


class DigestCounts(NamedTuple):
    """The worklist's counts (the lists may show fewer)."""

    critical: int
    overdue: int
    due_soon: int
    alerts: int  # every active alert, critical ones included
    failed: int
    snoozed: int = 0  # off the other lists until a day the navigator chose; listed, never hidden


class DigestItem(NamedTuple):
    patient_code: str
    kind: str
    due_on: dt.date
    overdue_since: dt.date | None = None  # an open item with missed ones before it (labels.missed_text)
    missed: int = 0
    last_done_on: dt.date | None = None


class DigestSnoozed(NamedTuple):
    item: DigestItem
    until: dt.date  # back on the worklist that day


class Appointment(NamedTuple):
    """A navigator booked the item: the day and, if given, where (``reminder_booked``)."""

    on: dt.date
    place: str | None = None


class DigestFailure(NamedTuple):
    patient_code: str | None  # None: not about one patient (e.g. an event that could not be parsed)
    what: str
    error: str


def long_date(day: dt.date) -> str:
    """``12 March 2027``, the same whatever the locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def is_valid_address(address: str) -> bool:
    """Is ``address`` a plain ASCII ``local@domain.tld`` (no display name, quotes, spaces or CRLF)?

    Stricter than RFC 5322 on purpose: one ``@``, a dot-atom local part, a domain of at least two
    DNS labels, ASCII only (smtplib needs SMTPUTF8 otherwise), and it must parse as an addr-spec
    with no defects by :class:`email.headerregistry.Address`.
    """
    if not address.isascii() or len(address) > 254 or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if not 0 < len(local) <= 64 or not all(ATEXT.fullmatch(part) for part in local.split(".")):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(LABEL.fullmatch(part) for part in labels):
        return False
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, email_errors.HeaderParseError):
        return False
    return parsed.addr_spec == address


# ---- composers -----------------------------------------------------------------------------------


def compose_patient_notice(
    env: Envelope,
    *,
    kind: str,
    due_on: dt.date,
    stage: Literal["advance", "due", "due_since"],
    ics: bytes | None,
    clinic_name: str,
    clinic_phone: str | None,
    today: dt.date | None = None,
    appointment: Appointment | None = None,
) -> EmailMessage:
    """The advance notice or the due-day reminder to a patient, with the invitation (REQUEST).
    A ``due`` notice sent after its day (the clinic's ``today``: a late event, a clock that was
    down) says the item is due now, since that date, rather than "today". A booked item's notice
    is about its ``appointment`` instead: "Reminder: an MRI scan is booked for 5 March 2027" (the
    place only in the body)."""
    phrase = _patient_label(kind).phrase
    when = long_date(due_on)
    if appointment is not None:
        if stage not in ("advance", "due", "due_since"):
            raise ValueError(f"unknown patient notice stage {stage!r}")
        subject = f"Reminder: {phrase} is booked for {long_date(appointment.on)}"
        context = {
            "phrase": phrase,
            "when": when,
            "stage": "booked",
            "has_invitation": ics is not None,
            "appointment_when": long_date(appointment.on),
            "appointment_place": appointment.place,
        }
        message = _compose(env, subject, "patient_notice", context | _contact(clinic_name, clinic_phone))
        if ics is not None:
            _attach_calendar(message, ics, "REQUEST")
        return message
    if stage == "advance":
        subject = f"Reminder: {phrase} is due on {when}"
    elif stage == "due" and today is not None and due_on < today:
        stage = "due_since"
        subject = f"{_capitalise(phrase)} is now due (since {when})"
    elif stage == "due":
        subject = f"{_capitalise(phrase)} is due today, {when}"
    else:
        raise ValueError(f"unknown patient notice stage {stage!r}")
    context = {
        "phrase": phrase,
        "when": when,
        "stage": stage,
        "has_invitation": ics is not None,
        "appointment_when": None,
        "appointment_place": None,
    }
    context |= _contact(clinic_name, clinic_phone)
    message = _compose(env, subject, "patient_notice", context)
    if ics is not None:
        _attach_calendar(message, ics, "REQUEST")
    return message


def compose_patient_cancellation(
    env: Envelope,
    *,
    kind: str,
    due_on: dt.date,
    ics: bytes | None,
    clinic_name: str,
    clinic_phone: str | None,
) -> EmailMessage:
    """A reminder sent earlier no longer stands; the invitation's CANCEL removes the calendar entry."""
    phrase = _patient_label(kind).phrase
    when = long_date(due_on)
    subject = f"A reminder was withdrawn: {phrase} on {when}"
    context = {"phrase": phrase, "when": when, "has_invitation": ics is not None}
    context |= _contact(clinic_name, clinic_phone)
    message = _compose(env, subject, "patient_cancellation", context)
    if ics is not None:
        _attach_calendar(message, ics, "CANCEL")
    return message


def compose_navigator_notice(
    env: Envelope,
    *,
    patient_code: str,
    kind: str,
    due_on: dt.date,
    stage: Literal["advance", "due", "overdue"],
    reason: str,
    dashboard_url: str,
    appointment: Appointment | None = None,
) -> EmailMessage:
    """One reminder brought to a navigator (``reason`` says why: overdue, no patient email, …);
    a booked one says for when (and where) it is booked."""
    if stage not in NAVIGATOR_STAGE:
        raise ValueError(f"unknown navigator notice stage {stage!r}")
    _header_safe("patient code", patient_code)
    summary = label(kind).summary
    when = long_date(due_on)
    booked = f", booked for {long_date(appointment.on)}" if appointment is not None else ""
    subject = f"{NAVIGATOR_STAGE[stage]}: {summary} for patient {patient_code} (due {when}{booked})"
    context = {
        "appointment_when": long_date(appointment.on) if appointment is not None else None,
        "appointment_place": appointment.place if appointment is not None else None,
        "stage_title": NAVIGATOR_STAGE[stage],
        "summary": summary,
        "patient_code": patient_code,
        "when": when,
        "reason": reason.strip().rstrip("."),
        "dashboard_url": _web_url(dashboard_url),
    }
    return _compose(env, subject, "navigator_notice", context)


def compose_digest(
    env: Envelope,
    *,
    navigator_name: str,
    day: dt.date,
    counts: DigestCounts,
    alerts: Sequence[DigestAlert],
    overdue: Sequence[DigestItem],
    due_this_week: Sequence[DigestItem],
    failed: Sequence[DigestFailure],
    dashboard_url: str,
    snoozed: Sequence[DigestSnoozed] = (),
) -> EmailMessage:
    """A navigator's daily digest, critical alerts first: the worklist's ``counts`` and the first
    items of each of its lists (each in the caller's order; "and N more" when a list is shorter
    than its count), the snoozed ones last with the day each comes back. Patients by code, items
    by label, alerts by severity and date only."""
    critical = [alert for alert in alerts if alert.severity == "critical"]
    others = [alert for alert in alerts if alert.severity != "critical"]
    parts = [_plural(counts.critical, "critical alert")] if counts.critical else []
    parts += [f"{counts.overdue} overdue", f"{counts.due_soon} due this week"]
    if counts.alerts > counts.critical:
        parts.append(_plural(counts.alerts - counts.critical, "other alert"))
    if counts.failed:
        parts.append(_plural(counts.failed, "failed notification"))
    if counts.snoozed:
        parts.append(f"{counts.snoozed} snoozed")
    subject = f"Daily follow-up digest for {long_date(day)}: {', '.join(parts)}"
    context = {
        "navigator_name": navigator_name,
        "day": long_date(day),
        "sections": [
            _section("Critical alerts", counts.critical, [_alert_row(a) for a in critical]),
            _section("Overdue", counts.overdue, [_digest_row(item, day) for item in overdue]),
            _section("Due this week", counts.due_soon, [_digest_row(item, day) for item in due_this_week]),
            _section("Other alerts", counts.alerts - counts.critical, [_alert_row(a) for a in others]),
        ],
        "failed": _section("Failed notifications", counts.failed, [_failure_row(f) for f in failed]),
        "snoozed": _section("Snoozed", counts.snoozed, [_snoozed_row(s, day) for s in snoozed]),
        "dashboard_url": _web_url(dashboard_url),
    }
    return _compose(env, subject, "digest", context)


# ---- helpers -------------------------------------------------------------------------------------


@functools.cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _compose(env: Envelope, subject: str, template: str, context: dict[str, Any]) -> EmailMessage:
    templates = _templates()
    text = templates.get_template(f"{template}.txt").render(subject=subject, **context)
    html = templates.get_template(f"{template}.html").render(subject=subject, **context)
    message = EmailMessage(policy=SMTP)
    for name, value in (
        ("From", env.sender),
        ("To", ", ".join(env.to)),
        ("Subject", subject),
        ("Date", format_datetime(env.date)),
        ("Message-ID", env.message_id),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no out-of-office replies to this
    ):
        message[name] = _header_safe(name, value)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def _attach_calendar(message: EmailMessage, ics: bytes, method: Literal["REQUEST", "CANCEL"]) -> None:
    found = re.search(rb"^METHOD:([A-Za-z-]+)\r?$", ics, re.MULTILINE)
    if not ics.startswith(b"BEGIN:VCALENDAR") or found is None or found.group(1).upper() != method.encode():
        raise ValueError(f"the attached calendar must be a VCALENDAR with METHOD:{method}")
    params = {"method": method, "charset": "utf-8", "name": "invite.ics"}
    message.add_attachment(ics, maintype="text", subtype="calendar", filename="invite.ics", params=params)


def _patient_label(kind: str) -> KindLabel:
    kind_label = label(kind)
    if not kind_label.patient_facing:
        raise ValueError(f"reminders of kind {kind!r} are for the care team, never emailed to the patient")
    return kind_label


def _contact(clinic_name: str, clinic_phone: str | None) -> dict[str, str | None]:
    """The signature and the one contact sentence's number (``tel`` for the HTML link)."""
    tel = None
    if clinic_phone:
        tel = ("+" if clinic_phone.lstrip().startswith("+") else "") + re.sub(r"\D", "", clinic_phone)
    return {"clinic_name": clinic_name, "clinic_phone": clinic_phone, "clinic_tel": tel}


def _section(title: str, count: int, rows: list[dict[str, str]]) -> dict[str, Any]:
    return {"title": title, "count": count, "rows": rows, "more": max(0, count - len(rows))}


def _alert_row(alert: DigestAlert) -> dict[str, str]:
    new = " (new)" if alert.is_new else ""
    what = f"{alert.severity} alert since {long_date(alert.first_seen_on)}{new}"
    return {"patient_code": alert.patient_code, "what": _capitalise(what)}


def _digest_row(item: DigestItem, day: dt.date) -> dict[str, str]:
    """An item's line: a missed run says since when; an item whose window opened before ``day``
    is "due since" its date."""
    summary = label(item.kind).summary
    if item.overdue_since:
        missed = missed_text(item.overdue_since, item.missed, item.last_done_on)
        what = f"{summary}, {missed}, next due {long_date(item.due_on)}"
    else:
        what = f"{summary}, {'due since' if item.due_on < day else 'due'} {long_date(item.due_on)}"
    return {"patient_code": item.patient_code, "what": what}


def _snoozed_row(snoozed: DigestSnoozed, day: dt.date) -> dict[str, str]:
    row = _digest_row(snoozed.item, day)
    return row | {"what": f"{row['what']}; snoozed until {long_date(snoozed.until)}"}


def _failure_row(failure: DigestFailure) -> dict[str, str]:
    return {
        "patient_code": failure.patient_code or "(no patient)",
        "what": f"{failure.what}: {failure.error}",
    }


def _header_safe(name: str, value: str) -> str:
    """``value`` unchanged, or ValueError if it holds a line break or another control character."""
    if any(unicodedata.category(c) in {"Cc", "Zl", "Zp"} for c in value):
        raise ValueError(f"{name}: line breaks and control characters are not allowed in a header")
    return value


def _mailbox(role: str, value: str) -> None:
    """One address, optionally with a display name (``Team <a@b.example>``), or ValueError."""
    _header_safe(role, value)
    parsed = getaddresses([value])
    if len(parsed) != 1 or not is_valid_address(parsed[0][1]):
        raise ValueError(f"envelope: {role} {value!r} is not one valid email address")


def _web_url(url: str) -> str:
    if not re.fullmatch(r"https?://[^\s<>\"']+", url):
        raise ValueError(f"dashboard URL {url!r} must be an http(s) URL without spaces or quotes")
    return url


def _capitalise(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


__all__ = [
    "DigestAlert",
    "DigestCounts",
    "DigestFailure",
    "DigestItem",
    "Envelope",
    "compose_digest",
    "compose_navigator_notice",
    "compose_patient_cancellation",
    "compose_patient_notice",
    "is_valid_address",
    "long_date",
]
