"""The senders (notifications/smtp.py) against a real aiosmtpd server (tests/support/smtp_server.py).

Plain SMTP, AUTH (right and wrong password), STARTTLS and implicit TLS with a self-signed
certificate made by the ``openssl`` command (skipped without it, failed when ``CI=true``), 4xx and
5xx replies, a server that is down or silent, a restart on the same port, the folder sender, and
``parse_smtp_url``. Classification under test: a 4xx reply or a network fault is transient; a 5xx
reply — **535 authentication failed** included — an invalid address or a configuration fault
(STARTTLS or AUTH not offered, an untrusted certificate) is permanent.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import quote

import pytest

from notifications.mail import Envelope, compose_navigator_notice, compose_patient_notice
from notifications.smtp import (
    FolderSender,
    PermanentSendError,
    SendError,
    SmtpConfig,
    SmtpSender,
    TransientSendError,
    parse_smtp_url,
    sender_for,
)
from tests.support.common import wait_until
from tests.support.guard import unavailable
from tests.support.smtp_server import (
    HOST,
    OpensslMissingError,
    SmtpServer,
    TlsFiles,
    free_port,
    make_certificate,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PASSWORD = "s3cret p@ss/w:rd?#"  # every character that needs percent-encoding in a URL
SENT = dt.datetime(2027, 3, 5, 8, 30, tzinfo=dt.UTC)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    try:
        return make_certificate(tmp_path_factory.mktemp("tls"))
    except OpensslMissingError as exc:
        unavailable(str(exc))


def notice(message_id: str = "<n-42.abc@gist-scheduler>", *to: str, date: dt.datetime = SENT) -> EmailMessage:
    env = Envelope(
        "Follow-up team <noreply@clinic.example>", to or ("patient@example.org",), message_id, date
    )
    return compose_patient_notice(
        env, kind="ct", due_on=dt.date(2027, 3, 12), stage="advance", ics=ICS,
        clinic_name="Riverside Hospital", clinic_phone="01234 567890",
    )  # fmt: skip


def smtp(url: str) -> SmtpSender:
    return SmtpSender(parse_smtp_url(url))


def assert_no_password(error: SendError, sender: SmtpSender) -> None:
    for shown in (str(error), error.detail, sender.description, repr(sender), repr(sender.config)):
        assert PASSWORD not in shown
        assert "s3cret" not in shown


# ---- delivery ---------------------------------------------------------------------------------------


def test_plain_delivery_arrives_once_and_parses_back(server: SmtpServer) -> None:
    message = notice()
    smtp(server.url()).send(message)

    (received,) = server.wait_for(1)
    wait_until(lambda: server.handler.quits == 1, timeout=10, message="the client's QUIT")
    assert len(server.messages) == 1  # the session is over: no second copy can follow
    assert received.mail_from == "noreply@clinic.example"
    assert received.rcpt_tos == ("patient@example.org",)
    assert not received.is_tls
    parsed = received.message
    assert parsed["Subject"] == "Reminder: a CT scan is due on 12 March 2027"
    assert parsed["Message-ID"] == "<n-42.abc@gist-scheduler>"
    assert parsed.get_content_type() == "multipart/mixed"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "a CT scan is due on 12 March 2027" in text.get_content()
    assert "please call us on 01234 567890" in text.get_content()
    assert "<strong>12 March 2027</strong>" in html.get_content()
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == ICS


def test_every_recipient_gets_it(server: SmtpServer) -> None:
    env = Envelope(
        "Team <noreply@clinic.example>", ("one@clinic.example", "two@clinic.example"), "<d-1@g>", SENT
    )
    message = compose_navigator_notice(
        env, patient_code="P01", kind="ct", due_on=dt.date(2027, 3, 12), stage="overdue", reason="overdue",
        dashboard_url="https://gist.clinic.example/patients/P01",
    )  # fmt: skip
    smtp(server.url(starttls="off")).send(message)
    (received,) = server.wait_for(1)
    assert received.rcpt_tos == ("one@clinic.example", "two@clinic.example")


# ---- AUTH -------------------------------------------------------------------------------------------


def test_auth_with_the_right_password() -> None:
    with SmtpServer(users={"mailer": PASSWORD}, auth_require_tls=False) as server:
        smtp(server.url(user="mailer", password=PASSWORD, starttls="off")).send(notice())
        (received,) = server.wait_for(1)
    assert received.login == "mailer"
    assert server.login_attempts[-1] == ("mailer", True)


def test_auth_with_a_wrong_password_is_permanent_535() -> None:
    with SmtpServer(users={"mailer": "another one"}, auth_require_tls=False) as server:
        sender = smtp(server.url(user="mailer", password=PASSWORD, starttls="off"))
        with pytest.raises(PermanentSendError) as caught:
            sender.send(notice())
        assert server.messages == []
    assert caught.value.code == 535
    assert "authentication as 'mailer' failed: 535" in caught.value.detail
    assert f"127.0.0.1:{server.port}" in caught.value.detail
    assert_no_password(caught.value, sender)
    assert ("mailer", False) in server.login_attempts


def test_no_password_in_clear_text_unless_starttls_is_off() -> None:
    with SmtpServer(users={"mailer": PASSWORD}, auth_require_tls=False) as server:
        with pytest.raises(PermanentSendError, match="password is not sent unencrypted"):
            smtp(server.url(user="mailer", password=PASSWORD)).send(notice())  # starttls=auto
        assert server.login_attempts == []
        assert server.messages == []


def test_auth_not_offered_is_permanent(server: SmtpServer) -> None:
    sender = smtp(server.url(user="mailer", password=PASSWORD, starttls="off"))
    with pytest.raises(PermanentSendError, match="not supported by the server"):
        sender.send(notice())
    assert server.messages == []


# ---- TLS --------------------------------------------------------------------------------------------


def test_starttls_with_a_self_signed_certificate_and_auth(tls: TlsFiles) -> None:
    # auth_require_tls (the default): AUTH is only offered once STARTTLS has run.
    with SmtpServer(tls=tls, require_starttls=True, users={"mailer": PASSWORD}) as server:
        url = server.url(user="mailer", password=PASSWORD, starttls="require", cafile=str(tls.cert))
        smtp(url).send(notice())
        (received,) = server.wait_for(1)
    assert received.is_tls
    assert received.login == "mailer"


def test_starttls_auto_uses_it_when_offered(tls: TlsFiles) -> None:
    with SmtpServer(tls=tls) as server:
        smtp(server.url(cafile=str(tls.cert))).send(notice())
        (received,) = server.wait_for(1)
    assert received.is_tls


def test_starttls_with_an_untrusted_certificate_is_permanent(tls: TlsFiles) -> None:
    with SmtpServer(tls=tls) as server:
        with pytest.raises(PermanentSendError, match="certificate does not verify"):
            smtp(server.url(starttls="require")).send(notice())
        assert server.messages == []


def test_starttls_unverified_when_asked(tls: TlsFiles) -> None:
    with SmtpServer(tls=tls) as server:
        sender = smtp(server.url(verify="false"))
        assert "NOT verified" in sender.description
        sender.send(notice())
        assert server.wait_for(1)[0].is_tls


def test_starttls_required_but_not_offered_is_permanent(server: SmtpServer) -> None:
    with pytest.raises(PermanentSendError, match="does not offer STARTTLS"):
        smtp(server.url(starttls="require")).send(notice())
    assert server.messages == []


def test_smtps_implicit_tls(tls: TlsFiles) -> None:
    with SmtpServer(tls=tls, implicit_tls=True, users={"mailer": PASSWORD}) as server:
        url = server.url(user="mailer", password=PASSWORD, cafile=str(tls.cert))
        assert url.startswith("smtps://")
        smtp(url).send(notice())
        (received,) = server.wait_for(1)
    assert received.is_tls
    assert received.login == "mailer"


# ---- replies and faults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "reply", "error", "code"),
    [
        pytest.param("rcpt", "450 4.2.1 Mailbox busy", TransientSendError, 450, id="rcpt-450"),
        pytest.param("rcpt", "550 5.1.1 No such user", PermanentSendError, 550, id="rcpt-550"),
        pytest.param("data", "451 4.3.0 Try again later", TransientSendError, 451, id="data-451"),
        pytest.param("data", "554 5.6.0 Message refused", PermanentSendError, 554, id="data-554"),
    ],
)
def test_replies_are_classified(
    server: SmtpServer, where: str, reply: str, error: type[SendError], code: int
) -> None:
    if where == "rcpt":
        server.fail_rcpt(reply)
    else:
        server.fail_data(reply)
    with pytest.raises(error) as caught:
        smtp(server.url()).send(notice())
    assert type(caught.value) is error
    assert caught.value.code == code
    assert reply.split(" ", 1)[1] in caught.value.detail
    assert server.messages == []

    server.accept_all()  # and the same sender works again afterwards
    smtp(server.url()).send(notice())
    assert len(server.wait_for(1)) == 1


def test_one_recipient_refused_the_other_served(server: SmtpServer) -> None:
    server.fail_rcpt("550 5.1.1 No such user", address="gone@example.org")
    with pytest.raises(PermanentSendError, match="accepted for the other recipients") as caught:
        smtp(server.url()).send(notice("<n-1@g>", "gone@example.org", "here@example.org"))
    assert "gone@example.org: 550" in caught.value.detail
    assert server.wait_for(1)[0].rcpt_tos == ("here@example.org",)


@pytest.mark.parametrize("quit_reply", ["421 4.3.0 Service shutting down", "500 5.5.1 Unknown"])
def test_a_refused_quit_after_the_message_was_taken_is_a_send(server: SmtpServer, quit_reply: str) -> None:
    """The server said 250 after DATA: its answer to QUIT changes nothing, or the message would be
    sent again (docs/reliability.md, finding 2)."""
    server.handler.quit_reply = quit_reply
    smtp(server.url()).send(notice())  # no error
    assert len(server.wait_for(1)) == 1


def test_invalid_address_is_permanent_without_connecting() -> None:
    message = notice()
    message.replace_header("To", "patient@localhost")
    port = free_port()  # nothing listens: a connection attempt would be transient instead
    with pytest.raises(PermanentSendError, match="invalid recipient address 'patient@localhost'"):
        smtp(f"smtp://{HOST}:{port}").send(message)


def test_server_not_listening_is_transient() -> None:
    with pytest.raises(TransientSendError, match="ConnectionRefusedError"):
        smtp(f"smtp://{HOST}:{free_port()}?timeout=5").send(notice())


def test_silent_server_times_out_transient() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen()  # accepts the TCP connection, never says hello
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TransientSendError, match=r"[Tt]imeout|timed out"):
            smtp(f"smtp://{HOST}:{port}?timeout=0.5").send(notice())
    assert time.monotonic() - started < 5


def test_server_stopped_then_restarted_on_the_same_port(server: SmtpServer) -> None:
    sender = smtp(server.url())
    port = server.port
    server.stop()
    with pytest.raises(TransientSendError):
        sender.send(notice())
    server.start()
    assert server.port == port
    sender.send(notice())
    assert len(server.wait_for(1)) == 1


# ---- the folder -------------------------------------------------------------------------------------


def test_folder_sender_writes_one_file_per_message_id(tmp_path: Path) -> None:
    folder = tmp_path / "outbox" / "mail"  # created on first send
    sender = FolderSender(folder)
    sender.send(notice("<n-42.abc@gist-scheduler>"))
    (first,) = folder.iterdir()
    assert first.name == "20270305T083000Z-n-42.abc@gist-scheduler.eml"

    sender.send(notice("<n-42.abc@gist-scheduler>"))  # a resend: the same file, not a second one
    sender.send(notice("<n-42.abc@gist-scheduler>", date=SENT + dt.timedelta(hours=1)))  # even re-dated
    (only,) = folder.iterdir()
    assert only.name == "20270305T093000Z-n-42.abc@gist-scheduler.eml"

    sender.send(notice("<2-n-42.abc@gist-scheduler>"))  # another id that ends like the first
    sender.send(notice("<odd/id?x@gist-scheduler>"))
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3
    assert "20270305T093000Z-n-42.abc@gist-scheduler.eml" in names
    assert not any(name.startswith(".") for name in names)  # no temporary file left
    odd = next(name for name in names if name.startswith("20270305T083000Z-odd_id"))
    assert "/" not in odd
    assert "?" not in odd


def test_folder_sender_file_parses_back(tmp_path: Path) -> None:
    FolderSender(tmp_path).send(notice())
    (path,) = tmp_path.iterdir()
    parsed = message_from_bytes(path.read_bytes(), policy=default)
    assert parsed["Subject"] == "Reminder: a CT scan is due on 12 March 2027"
    assert b"\r\n" in path.read_bytes()  # policy=SMTP: CRLF line ends


def test_folder_sender_needs_a_message_id(tmp_path: Path) -> None:
    message = notice()
    del message["Message-ID"]
    with pytest.raises(PermanentSendError, match="Message-ID"):
        FolderSender(tmp_path).send(message)


def test_sender_for(tmp_path: Path) -> None:
    assert isinstance(sender_for(None, tmp_path), FolderSender)
    assert isinstance(sender_for("  ", tmp_path), FolderSender)
    sender = sender_for(f"smtp://mailer:{quote(PASSWORD, safe='')}@mail.example:587", tmp_path)
    assert isinstance(sender, SmtpSender)
    assert sender.description == "smtp://mailer@mail.example:587 (starttls=auto)"


# ---- parse_smtp_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("smtp://mail.example", SmtpConfig("smtp", "mail.example", 25), id="defaults"),
        pytest.param(
            "smtps://mail.example", SmtpConfig("smtps", "mail.example", 465, starttls="off"), id="smtps"
        ),
        pytest.param(
            "smtp://u%40x:p%2Fa%3Fs%23s%40w%3Ad@mail.example:587?starttls=require&timeout=2.5&cafile=/ca.pem&verify=false",
            SmtpConfig("smtp", "mail.example", 587, "u@x", "p/a?s#s@w:d", "require", 2.5, "/ca.pem", False),
            id="everything-percent-decoded",
        ),
        pytest.param("SMTP://[::1]:2525", SmtpConfig("smtp", "::1", 2525), id="ipv6"),
        pytest.param("smtp://u:@mail.example", SmtpConfig("smtp", "mail.example", 25, "u", ""), id="blank"),
    ],
)  # fmt: skip
def test_parse_smtp_url(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example", "scheme"),
        ("mail.example:25", "scheme"),
        ("smtp://", "no host"),
        ("smtp://mail.example:0", "port"),
        ("smtp://mail.example:70000", "port"),
        ("smtp://mail.example:abc", "port"),
        ("smtp://user@mail.example", "both a user name and a password"),
        ("smtp://mail.example?starttls=maybe", "starttls must be"),
        ("smtps://mail.example?starttls=require", "does not apply to smtps"),
        ("smtp://mail.example?timeout=0", "timeout"),
        ("smtp://mail.example?timeout=soon", "timeout"),
        ("smtp://mail.example?verify=perhaps", "verify"),
        ("smtp://mail.example?tls=1", "unknown parameter 'tls'"),
        ("smtp://mail.example?timeout=1&timeout=2", "given twice"),
        ("smtp://mail.example/inbox", "unexpected path"),
    ],
)
def test_parse_smtp_url_rejects(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_smtp_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://mailer:s3cret/pass@mail.example",  # '/' not encoded: the password looks like a path
        "smtp://mailer:s3cret?pass@mail.example",
        "smtp://mailer:s3cret#pass@mail.example",
        "smtp://mailer:s3cret@mail.example:notaport",
    ],
)
def test_url_errors_never_echo_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL") as caught:
        parse_smtp_url(url)
    assert "s3cret/" not in str(caught.value)
    assert "s3cret?" not in str(caught.value)
    assert "s3cret#" not in str(caught.value)
    assert "mailer:s3cret" not in str(caught.value)


def test_config_repr_and_description_hide_the_password() -> None:
    config = parse_smtp_url("smtps://mailer:s3cret@mail.example")
    assert "s3cret" not in repr(config)
    assert "s3cret" not in config.description
    assert "s3cret" not in repr(SmtpSender(config))


def test_missing_cafile_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cafile"):
        smtp(f"smtp://mail.example?cafile={tmp_path / 'missing.pem'}")
