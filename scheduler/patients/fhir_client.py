"""A small FHIR REST client for ``gistsched fhir pull|push`` (standard library HTTP, JSON only).

Every failure is a ``FhirServerError`` of one line naming the request: the server cannot be
reached, answers an HTTP error (its OperationOutcome text quoted), something that is not JSON, or
more than ``max_bytes``. The bearer token goes only to the configured server: redirects are not
followed, a ``next`` link elsewhere is refused, and plain ``http://`` is accepted only for a
loopback address (anything else would carry the token and the records in clear).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

from scheduler.fhir.sync import outcome_text

FHIR_JSON: Final = "application/fhir+json"
MAX_BYTES: Final = 64 * 1024 * 1024


class FhirServerError(Exception):
    """The server could not be used for this request: one line, naming it."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx becomes an HTTPError: the token is never sent on to another address


def server_base(url: str) -> str:
    """The server's base URL, checked: http(s), a host, no credentials, query or fragment, and
    https unless the host is a loopback address. ``ValueError`` says what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL of a FHIR server")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: give the base URL only (no user, query or fragment)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{url!r}: use https:// (plain http is for a server on this machine only)")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class Answer:
    status: int
    body: object
    server_time: dt.datetime | None  # the HTTP Date header: the server's clock


@dataclass
class FhirClient:
    base: str  # from server_base()
    token: str | None
    timeout: float
    max_bytes: int = MAX_BYTES
    requests: int = 0
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(_NoRedirect), repr=False
    )

    def url(self, relative_or_absolute: str) -> str:
        """An absolute URL on this server; ``FhirServerError`` for one anywhere else."""
        if not relative_or_absolute.startswith(("http://", "https://")):
            return f"{self.base}/{relative_or_absolute.lstrip('/')}"
        link = relative_or_absolute
        if link != self.base and not link.startswith((self.base + "/", self.base + "?")):
            raise FhirServerError(f"{link[:200]}: a link off the server {self.base} is not followed")
        return relative_or_absolute

    def get(self, url: str) -> Answer:
        return self._send("GET", self.url(url), None)

    def post(self, url: str, body: Mapping[str, Any]) -> Answer:
        return self._send("POST", self.url(url), json.dumps(body, ensure_ascii=False).encode())

    def _send(self, method: str, url: str, data: bytes | None) -> Answer:
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", FHIR_JSON)
        if data is not None:
            request.add_header("Content-Type", f"{FHIR_JSON}; charset=utf-8")
        if self.token:
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        where = f"{method} {_shown(url)}"
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, headers, raw = response.status, response.headers, response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            raw = exc.read(64 * 1024)
            raise FhirServerError(f"{where}: HTTP {exc.code}{_why(raw)}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FhirServerError(f"{where}: cannot reach the server ({reason})") from None
        if len(raw) > self.max_bytes:
            raise FhirServerError(f"{where}: the answer is larger than {self.max_bytes} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            kind = headers.get("Content-Type", "no content type")
            raise FhirServerError(f"{where}: the answer is not JSON ({kind}, {len(raw)} bytes)") from None
        return Answer(status, body, _date(headers.get("Date")))


def _shown(url: str) -> str:
    """The URL, its middle elided when long (a code list), keeping the paging parameters at its end."""
    return url if len(url) <= 180 else f"{url[:110]}...{url[-60:]}"


def _why(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    if isinstance(body, Mapping) and body.get("resourceType") == "OperationOutcome":
        return f": {outcome_text(body)}"
    return ""


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
