"""Sending composed emails: over SMTP (:class:`SmtpSender`) or into a folder (:class:`FolderSender`).

This is a shell: it does I/O and holds no clinical logic. Failures are sorted for the outbox:

* :class:`TransientSendError` — worth retrying later: connection refused, reset or timed out, the
  server disconnected, DNS failure, any 4xx reply (greylisting, "mailbox busy", 454 temporary
  authentication failure, 421 service closing).
* :class:`PermanentSendError` — retrying the same message will fail the same way: any 5xx reply,
  including recipients refused with 5xx and **535 authentication failed** (a wrong user name or
  password is a configuration fault; retrying it only risks locking the account), an invalid
  address, and the other configuration faults: STARTTLS required but not offered (or not offered
  when a password would go in clear: only ``starttls=off`` allows that), AUTH not offered,
  a certificate that does not verify. ``code`` carries the SMTP reply code when there is one, so the
  outbox can tell a configuration fault (530/534/535) from a refused message.

When some recipients are refused and others accepted, the server has taken the message for the
others: the error (by the worst code: any 5xx → permanent) says so in ``detail``.

The password never appears in ``description``, in ``repr(SmtpConfig)`` or in an error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from notifications.mail import is_valid_address

log = logging.getLogger(__name__)

StartTls = Literal["auto", "require", "off"]
STARTTLS_MODES: dict[str, StartTls] = {"auto": "auto", "require": "require", "off": "off"}
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
QUERY_KEYS = ("starttls", "timeout", "cafile", "verify")


class SendError(Exception):
    """A message was not sent; ``detail`` says why (never with a password)."""

    def __init__(self, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code  # the SMTP reply code, when the server gave one


class TransientSendError(SendError):
    """Try again later: the network or the server is (for now) unavailable, or a 4xx reply."""


class PermanentSendError(SendError):
    """Retrying will not help: a 5xx reply, an invalid address or a configuration fault."""


class Sender(Protocol):
    description: str  # for logs: where the messages go, WITHOUT the password

    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    scheme: Literal["smtp", "smtps"]
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: StartTls = "auto"
    timeout: float = 10.0
    cafile: str | None = None
    verify: bool = True

    @property
    def description(self) -> str:
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        tls = "implicit TLS" if self.scheme == "smtps" else f"starttls={self.starttls}"
        checked = "" if self.verify else ", certificate NOT verified"
        return f"{self.scheme}://{user}{host}:{self.port} ({tls}{checked})"


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:587?starttls=require&timeout=10&cafile=/ca.pem&verify=true``.

    ``smtps://`` is implicit TLS (default port 465, no ``starttls``); ``smtp://`` defaults to
    port 25 and ``starttls=auto``. User and password are percent-decoded (encode ``@ : / ? #``
    in them). A bad URL raises ValueError naming the problem, never echoing the password.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP URL: the scheme must be smtp:// or smtps://")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(
            "SMTP URL: unexpected path or fragment (percent-encode '/', '?', '#' and '@' in the password)"
        )
    host = parts.hostname
    if not host:
        raise ValueError("SMTP URL: no host")
    try:
        port = DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError("SMTP URL: the port must be a number from 1 to 65535")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None):
        raise ValueError("SMTP URL: give both a user name and a password, or neither")
    query = _query(parts.query)
    starttls = query.get("starttls", "off" if scheme == "smtps" else "auto")
    if scheme == "smtps" and "starttls" in query:
        raise ValueError("SMTP URL: starttls does not apply to smtps:// (implicit TLS)")
    if starttls not in STARTTLS_MODES:
        raise ValueError(f"SMTP URL: starttls must be auto, require or off, not {starttls!r}")
    return SmtpConfig(
        scheme="smtps" if scheme == "smtps" else "smtp",
        host=host,
        port=port,
        username=username,
        password=password,
        starttls=STARTTLS_MODES[starttls],
        timeout=_timeout(query.get("timeout", "10")),
        cafile=query.get("cafile") or None,
        verify=_boolean("verify", query.get("verify", "true")),
    )


class SmtpSender:
    """One connection per message: connect, STARTTLS (auto/require), login, send, quit.

    ``starttls=auto`` upgrades when the server offers STARTTLS and goes on in clear text when it
    does not, except with a user name: the password is only sent in clear with ``starttls=off``.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.description = config.description
        self._tls = _tls_context(config)  # a missing cafile fails here, at start-up

    def send(self, message: EmailMessage) -> None:
        check_addresses(message)
        try:
            refused = self._deliver(message)
        except SendError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(self.description, exc.recipients, accepted=False) from None
        except smtplib.SMTPAuthenticationError as exc:
            what = f"{self.description}: authentication as {self.config.username!r} failed"
            raise _reply(exc.smtp_code, exc.smtp_error, what) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, connect refused…
            raise _reply(exc.smtp_code, exc.smtp_error, f"{self.description}: refused") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentSendError(f"{self.description}: not supported by the server: {exc}") from None
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientSendError(f"{self.description}: the server disconnected: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentSendError(
                f"{self.description}: the server's certificate does not verify ({exc.verify_message}); "
                "set cafile= or fix the certificate"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timeout, DNS, TLS handshake
            raise TransientSendError(f"{self.description}: {type(exc).__name__}: {exc}") from None
        if refused:
            raise _refused(self.description, refused, accepted=True)

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        config = self.config
        client: smtplib.SMTP
        if config.scheme == "smtps":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=self._tls)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            client.ehlo()
            if config.scheme == "smtp" and config.starttls != "off":
                self._starttls(client)
            if config.username is not None:
                client.login(config.username, config.password or "")
            refused = client.send_message(message)
        except BaseException:
            client.close()  # the error to report is this one, not QUIT's
            raise
        _say_goodbye(client)
        return refused

    def _starttls(self, client: smtplib.SMTP) -> None:
        if client.has_extn("starttls"):
            client.starttls(context=self._tls)
            client.ehlo()
        elif self.config.starttls == "require":
            raise PermanentSendError(f"{self.description}: the server does not offer STARTTLS")
        elif self.config.username is not None:
            raise PermanentSendError(
                f"{self.description}: the server does not offer STARTTLS, and the password is not sent "
                "unencrypted (starttls=off allows it)"
            )

    def __repr__(self) -> str:
        return f"SmtpSender({self.description})"


def _say_goodbye(client: smtplib.SMTP) -> None:
    """QUIT and close, whatever the server answers. Once the server has taken the message (250
    after DATA), its reply to QUIT changes nothing: a 421 or a reset there must not count as a
    failed send, or the message would be sent again (docs/reliability.md, finding 2)."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.debug("SMTP QUIT: %s (ignored)", exc)
    finally:
        client.close()


class FolderSender:
    """Writes each message to ``<folder>/<UTC date>-<message-id>.eml`` (for development and tests).

    The time stamp is the message's Date header (in UTC), so the name is stable; writing is atomic
    (a temporary file, then ``os.replace``) and a message with the same Message-ID replaces the
    earlier file instead of adding a second one.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.description = f"folder {self.folder}"

    def send(self, message: EmailMessage) -> None:
        check_addresses(message)
        message_id = message.get("Message-ID")
        if not message_id:
            raise PermanentSendError("the message has no Message-ID (needed to write it once)")
        stem = _safe_name(str(message_id))
        name = f"{_utc_stamp(message.get('Date'))}-{stem}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(message.as_bytes())
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.folder / name)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
            for earlier in self.folder.glob(f"*-{stem}.eml"):  # the same message, another Date
                if earlier.name != name and earlier.name.partition("-")[2] == f"{stem}.eml":
                    earlier.unlink(missing_ok=True)
        except OSError as exc:
            raise TransientSendError(f"{self.description}: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"FolderSender({self.folder})"


def sender_for(smtp_url: str | None, folder: Path) -> Sender:
    """SMTP when a URL is configured, else the folder (development)."""
    if smtp_url and smtp_url.strip():
        return SmtpSender(parse_smtp_url(smtp_url))
    return FolderSender(folder)


def check_addresses(message: EmailMessage) -> None:
    """PermanentSendError unless From is one valid address and there is at least one valid recipient."""
    senders = getaddresses([str(v) for v in message.get_all("From", [])])
    if len(senders) != 1 or not is_valid_address(senders[0][1]):
        raise PermanentSendError("the message needs exactly one valid From address")
    recipients = getaddresses([str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])])
    if not recipients:
        raise PermanentSendError("the message has no recipient")
    for _, address in recipients:
        if not is_valid_address(address):
            raise PermanentSendError(f"invalid recipient address {address!r}")


# ---- helpers -------------------------------------------------------------------------------------


def _query(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValueError("SMTP URL: the query string is malformed") from None
    values: dict[str, str] = {}
    for key, value in pairs:
        if key not in QUERY_KEYS:
            raise ValueError(f"SMTP URL: unknown parameter {key!r} (known: {', '.join(QUERY_KEYS)})")
        if key in values:
            raise ValueError(f"SMTP URL: parameter {key!r} given twice")
        values[key] = value
    return values


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"SMTP URL: timeout must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= 3600:
        raise ValueError("SMTP URL: timeout must be more than 0 and at most 3600 seconds")
    return seconds


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"SMTP URL: {name} must be true or false, not {value!r}")


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    if config.cafile is not None and not Path(config.cafile).is_file():
        raise ValueError(f"SMTP URL: cafile {config.cafile!r} is not a file")
    context = ssl.create_default_context(cafile=config.cafile)
    if not config.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reply(code: int, reply: bytes | str, what: str) -> SendError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    detail = f"{what}: {code} {text}".strip()
    return PermanentSendError(detail, code) if 500 <= code < 600 else TransientSendError(detail, code)


def _refused(where: str, recipients: dict[str, tuple[int, bytes]], *, accepted: bool) -> SendError:
    listed = "; ".join(
        f"{address}: {code} {reply.decode('utf-8', 'replace')}"
        for address, (code, reply) in recipients.items()
    )
    worst = max(code for code, _ in recipients.values())
    others = " (the message was accepted for the other recipients)" if accepted else ""
    detail = f"{where}: recipients refused: {listed}{others}"
    if 500 <= worst < 600:
        return PermanentSendError(detail, worst)
    return TransientSendError(detail, worst)


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]")


def _safe_name(message_id: str) -> str:
    """The Message-ID as a file-name part: ``<n-42.abc@host>`` → ``n-42.abc@host``.

    A Message-ID that had to be changed (unsafe characters, length) gets a short hash of the
    original, so two different ids never share a file name.
    """
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    safe = _UNSAFE.sub("_", bare)[:120].lstrip(".")
    if safe != bare:
        safe = f"{safe}_{hashlib.sha256(message_id.encode()).hexdigest()[:10]}"
    return safe


def _utc_stamp(date_header: object) -> str:
    when: dt.datetime | None = None
    if date_header:
        with contextlib.suppress(TypeError, ValueError):
            when = parsedate_to_datetime(str(date_header))
    if when is None or when.tzinfo is None:
        when = dt.datetime.now(dt.UTC)  # no usable Date: the moment of writing
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


__all__ = [
    "FolderSender",
    "PermanentSendError",
    "SendError",
    "Sender",
    "SmtpConfig",
    "SmtpSender",
    "TransientSendError",
    "check_addresses",
    "parse_smtp_url",
    "sender_for",
]
