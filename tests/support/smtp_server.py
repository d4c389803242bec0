"""A real SMTP server for the tests (style.md: "never mock what you can start").

:class:`SmtpServer` runs aiosmtpd's threaded ``Controller`` on 127.0.0.1 and keeps what it receives
(:class:`Received`: envelope, raw bytes, parsed message, whether it came over TLS, who logged in).
It can

* speak plain SMTP, offer STARTTLS (``tls=``) or use implicit TLS (``tls=``, ``implicit_tls=True``);
* require AUTH against a dict of users (``users=``; over TLS only unless ``auth_require_tls=False``);
* answer a RCPT (all recipients, or one address) or the DATA with a reply of your choice, e.g.
  ``"450 4.2.1 Mailbox busy"`` or ``"550 5.1.1 No such user"`` (:meth:`SmtpServer.fail_rcpt`,
  :meth:`SmtpServer.fail_data`; :meth:`SmtpServer.accept_all` undoes them);
* stop and start again on the same port (:meth:`SmtpServer.stop`, :meth:`SmtpServer.start`,
  :meth:`SmtpServer.restart`), keeping what it received.

:func:`make_certificate` writes a self-signed certificate for ``localhost`` and ``127.0.0.1`` with
the ``openssl`` command (:class:`OpensslMissingError` when there is none), usable as the client's
``cafile``.

aiosmtpd notes: a Controller cannot be started again after ``stop()`` (its event loop is closed),
so every start builds a new one; ``server_hostname`` is given so that aiosmtpd does not call
``socket.getfqdn()``; an ``authenticator`` must return ``AuthResult(success=False, handled=False)``
for aiosmtpd to answer 535 (``handled`` defaults to True, which sends no reply at all and leaves the
client waiting); ``auth_require_tls`` counts only STARTTLS, not implicit TLS, so with
``implicit_tls=True`` it is switched off (every connection is encrypted anyway).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.common import free_port

HOST = "127.0.0.1"


class OpensslMissingError(RuntimeError):
    """The ``openssl`` command is not installed."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # PEM; also the client's cafile (self-signed)
    key: Path


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    is_tls: bool
    login: str | None  # the user that authenticated, if any

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def make_certificate(directory: Path) -> TlsFiles:
    """A self-signed certificate (EC P-256, two days) for ``localhost`` and ``127.0.0.1``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OpensslMissingError("the openssl command is not installed (Debian: apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(cert=directory / "cert.pem", key=directory / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-sha256", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(files.key),
         "-out", str(files.cert), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    return files


def server_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no client certificates asked
    context.load_cert_chain(tls.cert, tls.key)
    return context


class Collector:
    """The aiosmtpd handler: keeps each message, or answers RCPT/DATA with a chosen reply."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.rcpt_reply: str | None = None  # for every recipient
        self.rcpt_replies: dict[str, str] = {}  # for one address
        self.data_reply: str | None = None
        self.quit_reply: str | None = None  # e.g. a 421: a server that must close may answer so
        self.quits = 0  # sessions the client ended with QUIT: nothing more comes on them

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address.lower(), self.rcpt_reply)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.lock:
            self.quits += 1
        return self.quit_reply or "221 Bye"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_reply is not None:
            return self.data_reply
        assert server.transport is not None
        content = envelope.original_content or envelope.content or b""
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=content if isinstance(content, bytes) else content.encode(),
            is_tls=server.transport.get_extra_info("ssl_object") is not None,
            login=login,
        )
        with self.lock:
            self.received.append(received)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on ``127.0.0.1:port`` (a free port unless given); a context manager."""

    def __init__(
        self,
        port: int | None = None,
        *,
        tls: TlsFiles | None = None,
        implicit_tls: bool = False,
        require_starttls: bool = False,
        users: Mapping[str, str] | None = None,
        auth_require_tls: bool = True,
    ) -> None:
        if implicit_tls and tls is None:
            raise ValueError("implicit_tls needs tls=")
        self.port = port or free_port()
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.require_starttls = require_starttls
        self.users = dict(users) if users is not None else None
        self.auth_require_tls = auth_require_tls
        self.handler = Collector()
        self.login_attempts: list[tuple[str, bool]] = []
        self._controller: Controller | None = None

    # -- life cycle

    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 10.0}
        if self.tls is not None:
            context = server_context(self.tls)
            if self.implicit_tls:
                kwargs["ssl_context"] = context
            else:
                kwargs |= {"tls_context": context, "require_starttls": self.require_starttls}
        if self.users is not None:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls: with implicit TLS every
            # connection is encrypted, so the check is switched off (else AUTH is never offered).
            require_tls = self.auth_require_tls and not self.implicit_tls
            kwargs |= {"authenticator": self._authenticate, "auth_require_tls": require_tls}
        controller = Controller(self.handler, hostname=HOST, port=self.port, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def is_running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what it answers

    def fail_rcpt(self, reply: str, address: str | None = None) -> None:
        """Answer RCPT TO (of ``address``, or everyone's) with ``reply``: ``"550 5.1.1 No such user"``."""
        if address is None:
            self.handler.rcpt_reply = reply
        else:
            self.handler.rcpt_replies[address.lower()] = reply

    def fail_data(self, reply: str) -> None:
        """Answer the end of DATA with ``reply``, e.g. ``"451 4.3.0 Try again later"``."""
        self.handler.data_reply = reply

    def accept_all(self) -> None:
        self.handler.rcpt_reply = None
        self.handler.rcpt_replies.clear()
        self.handler.data_reply = None

    # -- what it received

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """At least ``count`` messages received (AssertionError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(received := self.messages) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{len(received)} message(s) received in {timeout:g} s, expected {count}"
                )
            time.sleep(0.02)
        return received

    def url(self, *, user: str | None = None, password: str | None = None, **query: str) -> str:
        """The ``smtp://`` or ``smtps://`` URL of this server (user and password percent-encoded)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        credentials = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user is not None else ""
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{scheme}://{credentials}{HOST}:{self.port}{suffix}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.users is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(login) == password
        self.login_attempts.append((login, ok))
        # handled=False: let aiosmtpd answer 535 (the default, True, sends no reply at all).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
