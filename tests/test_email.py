"""The e-mail channel against a real SMTP server on loopback (aiosmtpd, in this process): the
message as received (headers, both parts, UTF-8), STARTTLS with a certificate made here, SSL,
AUTH, faults, and the real dispatcher with outbox rows on SQLite and PostgreSQL (the `db`
fixture)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, select

from kehoach import settings as settings_mod
from kehoach.channels import spec
from kehoach.serve import wired_channels
from kehoach.settings import Settings, SettingsError
from kehoach.store import dispatch, read_session, tick, write_session
from kehoach.store.digest import digest
from kehoach.store.models import deliveries_table, outbox_table
from kehoach.store.people import add_person
from notifiers.base import DeliveryError, Notification, Recipient
from notifiers.email import EmailChannel
from tests.conftest import ROOT, load

NOW = datetime(2025, 5, 23, 2, 0, tzinfo=UTC)  # 09:00 in Hồ Chí Minh, 7 days before 30/5
TITLE = "Báo cáo <script>alert(1)</script> & tổng kết"
PLAN = f"""\
id: thu-thu
title: Kế hoạch thử thư điện tử
issuer: tinh-doan
period: {{from: 1/1/2025, to: 31/12/2025}}
units:
  - {{id: tinh-doan, name: Tỉnh Đoàn}}
  - {{id: doan-a, name: Đoàn phường An Lạc}}
obligations:
  - id: bao-cao
    kind: deadline
    title: "{TITLE}"
    when: ngày 30/5/2025
    responsible: doan-a
"""
PERSON = Recipient(7, "Nguyễn Thị Ánh", "anh@example.vn")
SENDER = "Kế hoạch Quận Đoàn <kehoach@quandoan.vn>"
REMINDER = {
    "step_id": "thu-thu/bao-cao/2025/doan-a",
    "plan_id": "thu-thu",
    "title": TITLE,
    "kind": "deadline",
    "event": False,
    "unit": "doan-a",
    "unit_name": "Đoàn phường An Lạc",
    "due_at": "2025-05-30T17:00:00+00:00",
    "due_day": "30/05/2025",
    "amount": None,
    "moment": NOW.isoformat(),
    "late": False,
    "skipped": 0,
    "status": "sắp đến hạn",
    "days_late": 0,
    "recipient_name": "Đoàn phường An Lạc",
    "person_name": PERSON.name,
}


def note(
    key: str = "thu-thu/bao-cao|reminder|0|2025-05-23|doan-a|p7",
    purpose: str = "reminder",
    payload: dict[str, Any] | None = None,
    person: Recipient | None = PERSON,
    level: int | None = None,
) -> Notification:
    return Notification(1, key, "doan-a", purpose, level, payload or REMINDER, 1, person)


# ── the loopback SMTP server ────────────────────────────────────────────────────────────────


class Mailbox:
    """An aiosmtpd handler: keeps what arrives; answers RCPT or DATA with a given refusal, or
    stalls after DATA, on demand."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes, Any]] = []
        self.rcpt_answer: str | None = None
        self.data_answer: str | None = None
        self.stall = 0.0
        self.mail_answers: list[str] = []  # answered to MAIL FROM, one each, before accepting
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.mail_answers:
            return self.mail_answers.pop(0)
        envelope.mail_from, envelope.mail_options = address, list(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall:
            await asyncio.sleep(self.stall)
        if self.data_answer:
            return self.data_answer
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session)
        )
        return "250 2.0.0 Ok: queued"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"thu.ky",
            "mật-khẩu".encode(),
        )
        if isinstance(data, LoginPassword):
            self.logins.append((data.login, data.password))
        return AuthResult(success=ok, handled=False)

    def message(self, i: int = -1) -> EmailMessage:
        msg = message_from_bytes(self.received[i][2], policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """An aiosmtpd Controller on a free loopback port (kept across stop and start)."""

    def __init__(self, mailbox: Mailbox, **smtp: Any):
        self.mailbox, self.smtp, self.port = mailbox, smtp, free_port()
        self.controller: Controller | None = None

    def start(self) -> Server:
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self.smtp
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(auth: bool = False, **smtp: Any) -> Server:
        mailbox = Mailbox()
        if auth:  # AUTH required, checked by the mailbox
            smtp.update(authenticator=mailbox.authenticate, auth_required=True)
        started.append(Server(mailbox, **smtp).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    return serve()


def plain(server: Server, **kw: Any) -> EmailChannel:
    return EmailChannel(
        "127.0.0.1",
        server.port,
        security="none",
        sender=SENDER,
        local_hostname="kehoach.test",
        clock=lambda: NOW,
        **kw,
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kehoach test SMTP")])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


# ── the message as received ─────────────────────────────────────────────────────────────────


def test_reminder_arrives_with_vietnamese_headers_and_both_parts(server: Server) -> None:
    channel = plain(server)
    result = channel.send(note())
    mail_from, rcpt_tos, raw, _session = server.mailbox.received[0]
    assert (mail_from, rcpt_tos) == ("kehoach@quandoan.vn", ["anh@example.vn"])
    head = raw.split(b"\r\n\r\n", 1)[0]
    raw.decode("ascii")  # 7-bit on the wire: RFC 2047 headers, base64/QP bodies
    assert b"From: =?utf-8?" in head and b"To: =?utf-8?" in head and b"Subject: =?utf-8?" in head
    msg = server.mailbox.message()
    assert msg["Subject"] == ("[Kế hoạch] Nhắc hạn: " + TITLE + " — hạn Thứ Sáu, 30/05/2025")
    assert msg["From"].addresses[0].display_name == "Kế hoạch Quận Đoàn"
    assert msg["To"].addresses[0].display_name == "Nguyễn Thị Ánh"
    assert msg["To"].addresses[0].addr_spec == "anh@example.vn"
    assert msg["Message-ID"] == result.remote_id == channel.message_id(note().key)
    assert msg["Message-ID"].endswith("@quandoan.vn>")
    assert msg["Date"].datetime == NOW and msg["Date"].datetime.utcoffset() == timedelta(hours=7)
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Content-Language"] == "vi"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = (part for part in msg.iter_parts())
    assert text.get_content_type() == "text/plain" and text.get_content_charset() == "utf-8"
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    body = text.get_content()
    assert "Kính gửi Nguyễn Thị Ánh," in body
    assert TITLE in body and "Hạn: Thứ Sáu, 30/05/2025" in body  # plain text: as written
    assert "Tình trạng: sắp đến hạn" in body
    page = html.get_content()
    assert "<script>" not in page and "&amp; tổng kết" in page  # HTML: shown, never run
    assert "Báo cáo &lt;script&gt;alert(1)&lt;/script&gt; &amp; tổng kết" in page
    assert "<strong>Đoàn phường An Lạc</strong>" in page and "Thứ Sáu, 30/05/2025" in page


def test_a_resend_carries_the_same_message_id(server: Server) -> None:
    channel = plain(server)
    first = channel.send(note())
    again = channel.send(note())
    other = channel.send(note(key="thu-thu/bao-cao|reminder|1|2025-05-29|doan-a|p7"))
    assert first.remote_id == again.remote_id != other.remote_id
    ids = [server.mailbox.message(i)["Message-ID"] for i in range(3)]
    assert ids == [first.remote_id, first.remote_id, other.remote_id]


@pytest.mark.parametrize(
    ("purpose", "level", "payload", "subject", "said"),
    [
        (
            "escalation",
            1,
            {**REMINDER, "status": "quá hạn 2 ngày"},
            f"[Kế hoạch] Báo trễ hạn (mức 1): Đoàn phường An Lạc — {TITLE}, "
            "hạn Thứ Sáu, 30/05/2025",
            "Đây là báo trễ hạn mức 1.",
        ),
        (
            "reminder",
            None,
            {**REMINDER, "event": True, "title": "Hội nghị sơ kết"},
            "[Kế hoạch] Nhắc lịch: Hội nghị sơ kết — diễn ra Thứ Sáu, 30/05/2025",
            "Diễn ra: Thứ Sáu, 30/05/2025",
        ),
        (
            "digest",
            None,
            {
                "recipient_name": "Đoàn phường An Lạc",
                "day": "2025-05-30",
                "date": "Thứ Sáu, 30/05/2025",
                "count": 1,
                "today": [],
                "soon": [],
                "late": [
                    {
                        "unit_name": "Đoàn B",
                        "title": TITLE,
                        "status": "quá hạn 1 ngày",
                        "due_day": "Thứ Năm, 29/05/2025",
                    }
                ],
            },
            "[Kế hoạch] Tin tổng hợp Thứ Sáu, 30/05/2025: 1 việc cần chú ý",
            f"Đoàn B: {TITLE}, hạn Thứ Năm, 29/05/2025 (quá hạn 1 ngày)",
        ),
        (
            "extension_decided",
            None,
            {"title": "Báo cáo quý", "due_day": "30/05/2025"},
            "[Kế hoạch] Thông báo: Báo cáo quý — hạn Thứ Sáu, 30/05/2025",
            "Báo cáo quý",
        ),
    ],
    ids=["escalation", "event", "digest", "generic"],
)
def test_each_purpose_has_its_subject_and_text(
    server: Server,
    purpose: str,
    level: int | None,
    payload: dict[str, Any],
    subject: str,
    said: str,
) -> None:
    plain(server).send(note(purpose=purpose, payload=payload, level=level))
    msg = server.mailbox.message()
    text, html = msg.iter_parts()
    assert msg["Subject"] == subject
    assert said in text.get_content()
    assert "<script>" not in html.get_content() and "Kính gửi Nguyễn Thị Ánh," in html.get_content()


# ── the connection ──────────────────────────────────────────────────────────────────────────


def test_one_connection_is_reused_and_renewed_when_the_server_dropped_it(server: Server) -> None:
    channel = plain(server)
    channel.send(note(key="a"))
    channel.send(note(key="b"))
    sessions = {id(r[3]) for r in server.mailbox.received}
    assert len(sessions) == 1  # one connection for both
    server.stop()  # the server goes away, closing the kept connection; then comes back
    server.start()
    channel.send(note(key="c"))  # noticed before anything was sent: sent anew, not an error
    assert [m["Message-ID"] for m in map(server.mailbox.message, range(3))] == [
        channel.message_id(k) for k in "abc"
    ]
    channel.close()


def test_a_connection_closed_while_idle_or_closing_with_421_is_renewed(
    serve: Callable[..., Server],
) -> None:
    srv = serve(timeout=0.3)  # the server closes a connection idle for 0.3 s
    channel = plain(srv)
    channel.send(note(key="a"))
    time.sleep(0.8)
    channel.send(note(key="b"))
    srv.mailbox.mail_answers = ["421 4.4.2 Closing connection"]
    channel.send(note(key="c"))  # on the kept connection: 421; so once more, anew
    assert len({id(r[3]) for r in srv.mailbox.received}) == 3  # three connections
    assert [m["Message-ID"] for m in map(srv.mailbox.message, range(3))] == [
        channel.message_id(k) for k in "abc"
    ]
    srv.mailbox.mail_answers = ["421 4.4.2 Closing connection"] * 2
    channel.close()
    with pytest.raises(DeliveryError, match="421") as caught:  # on a new connection: an error
        channel.send(note(key="d"))
    assert not caught.value.permanent and not caught.value.unknown


def test_starttls_and_login_with_a_trusted_ca_file(
    serve: Callable[..., Server], certificate: tuple[Path, Path]
) -> None:
    srv = serve(auth=True, tls_context=server_tls(certificate), require_starttls=True)
    channel = email_channel(
        {
            "KEHOACH_SMTP_HOST": "127.0.0.1",
            "KEHOACH_SMTP_PORT": str(srv.port),
            "KEHOACH_SMTP_USER": "thu.ky",
            "KEHOACH_SMTP_PASSWORD": "mật-khẩu",
            "KEHOACH_SMTP_FROM": SENDER,
            "KEHOACH_SMTP_CA_FILE": str(certificate[0]),
        }
    )
    assert channel is not None and channel.security == "starttls"
    channel.send(note())
    session = srv.mailbox.received[0][3]
    assert session.ssl is not None and session.authenticated  # TLS first, then AUTH
    assert srv.mailbox.logins == [(b"thu.ky", "mật-khẩu".encode())]
    assert srv.mailbox.message()["To"].addresses[0].display_name == "Nguyễn Thị Ánh"


def test_a_wrong_password_is_a_temporary_failure(
    serve: Callable[..., Server], certificate: tuple[Path, Path]
) -> None:
    srv = serve(auth=True, tls_context=server_tls(certificate), require_starttls=True)
    context = ssl.create_default_context(cafile=str(certificate[0]))
    channel = EmailChannel(
        "127.0.0.1", srv.port, user="thu.ky", password="sai", sender=SENDER, context=context
    )
    with pytest.raises(DeliveryError, match="không chấp nhận đăng nhập") as caught:
        channel.send(note())
    assert not caught.value.permanent and not caught.value.unknown  # our login, not the message
    assert srv.mailbox.received == []


def test_ssl_on_connect(serve: Callable[..., Server], certificate: tuple[Path, Path]) -> None:
    srv = serve(ssl_context=server_tls(certificate))
    channel = EmailChannel(
        "127.0.0.1",
        srv.port,
        security="ssl",
        sender=SENDER,
        context=ssl.create_default_context(cafile=str(certificate[0])),
    )
    channel.send(note())
    assert srv.mailbox.message()["Subject"].startswith("[Kế hoạch] Nhắc hạn")
    clear = EmailChannel("127.0.0.1", srv.port, security="none", sender=SENDER, timeout=0.5)
    with pytest.raises(DeliveryError) as caught:  # the server speaks only TLS
        clear.send(note())
    assert not caught.value.permanent and not caught.value.unknown
    assert len(srv.mailbox.received) == 1


def test_an_untrusted_certificate_is_refused_as_a_temporary_failure(
    serve: Callable[..., Server], certificate: tuple[Path, Path]
) -> None:
    srv = serve(tls_context=server_tls(certificate), require_starttls=True)
    channel = EmailChannel("127.0.0.1", srv.port, sender=SENDER)  # the system's CAs only
    with pytest.raises(DeliveryError, match="TLS") as caught:
        channel.send(note())
    assert not caught.value.permanent and not caught.value.unknown
    assert srv.mailbox.received == []


def test_a_person_without_an_address_is_a_permanent_failure(server: Server) -> None:
    channel = plain(server)
    for person, said in [
        (Recipient(8, "Trần Văn Bình"), "Trần Văn Bình chưa có địa chỉ thư"),
        (Recipient(9, "Lê Cúc", "le cuc@@"), "«le cuc@@» của Lê Cúc không hợp lệ"),
        (None, "không gửi cho người cụ thể nào"),
    ]:
        with pytest.raises(DeliveryError, match=said) as caught:
            channel.send(note(person=person))
        assert caught.value.permanent
    assert server.mailbox.received == []


# ── through the dispatcher, with outbox rows in a real database ──────────────────────────────


def queue(db: Engine, tmp_path: Path, email: str = "anh@example.vn") -> int:
    """The plan loaded, Nguyễn Thị Ánh (doan-a) reachable by e-mail, the reminder and the digest
    of NOW queued for her; her person id."""
    plan = tmp_path / "thu-thu.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    load(db, plan, NOW - timedelta(days=30))
    with write_session(db) as s:
        person = add_person(s, "Nguyễn Thị Ánh", "doan-a", NOW, email=email)
        tick(s, NOW, channel="console", channels=("email",))
        digest(s, NOW, time_of_day(7, 30), channel="console", channels=("email",))
    return person


def rows(db: Engine) -> tuple[list[Any], list[Any]]:
    with read_session(db) as s:
        return (
            list(
                s.execute(
                    select(outbox_table)
                    .where(outbox_table.c.channel == "email")
                    .order_by(outbox_table.c.id)
                )
            ),
            list(s.execute(select(deliveries_table).order_by(deliveries_table.c.id))),
        )


def test_dispatch_sends_the_queued_mail_and_records_it(
    db: Engine, tmp_path: Path, server: Server
) -> None:
    person = queue(db, tmp_path)
    channel = plain(server)
    result = dispatch(lambda: write_session(db), channel, NOW)
    outbox, deliveries = rows(db)
    assert {r.purpose for r in outbox} == {"reminder", "digest"}
    assert all(r.person_id == person and r.state == "sent" for r in outbox)
    assert (result.sent, result.failed) == (2, 0)
    got = {m["Message-ID"]: m for m in map(server.mailbox.message, range(2))}
    for row in outbox:
        delivery = next(d for d in deliveries if d.outbox_id == row.id)
        assert (delivery.outcome, delivery.channel) == ("sent", "email")
        assert delivery.remote_id == channel.message_id(row.idempotency_key)
        msg = got[delivery.remote_id]
        assert msg["To"].addresses[0].display_name == "Nguyễn Thị Ánh"
        page = msg.get_body(("html",)).get_content()
        assert "&lt;script&gt;" in page and "<script>" not in page
    reminder = got[
        channel.message_id(next(r for r in outbox if r.purpose == "reminder").idempotency_key)
    ]
    assert reminder["Subject"] == f"[Kế hoạch] Nhắc hạn: {TITLE} — hạn Thứ Sáu, 30/05/2025"
    assert "Đoàn phường An Lạc" in reminder.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("fault", "state", "outcome", "permanent", "said"),
    [
        (
            "550",
            "failed",
            "permanent",
            True,
            "từ chối người nhận Nguyễn Thị Ánh <anh@example.vn>: 550 5.1.1",
        ),
        ("451", "pending", "temporary", False, "451"),
        ("down", "pending", "temporary", False, "không kết nối được máy chủ thư"),
        ("stall", "unknown", "unknown", False, "không rõ máy chủ đã nhận chưa"),
    ],
    ids=["550-permanent", "451-temporary", "server-down-temporary", "stall-after-data-unknown"],
)
def test_dispatch_records_each_fault(
    db: Engine,
    tmp_path: Path,
    server: Server,
    fault: str,
    state: str,
    outcome: str,
    permanent: bool,
    said: str,
) -> None:
    queue(db, tmp_path)
    mailbox = server.mailbox
    if fault == "550":
        mailbox.rcpt_answer = "550 5.1.1 <anh@example.vn>: mailbox unavailable"
    elif fault == "451":
        mailbox.data_answer = "451 4.3.0 Try again later"
    elif fault == "stall":
        mailbox.stall = 2.0
    channel = plain(server, timeout=0.5)
    if fault == "down":
        server.stop()
    result = dispatch(lambda: write_session(db), channel, NOW, limit=1)
    assert result.claimed == 1
    outbox, deliveries = rows(db)
    row = outbox[0] if outbox[0].attempts else outbox[1]
    assert row.state == state and row.attempts == 1
    assert said in row.last_error
    assert [(d.outbox_id, d.outcome, d.permanent) for d in deliveries] == [
        (row.id, outcome, permanent)
    ]
    assert mailbox.received == []
    if state != "pending":
        return
    assert row.not_before >= NOW + timedelta(seconds=30)  # retried later, with backoff
    mailbox.data_answer = None
    if fault == "down":
        server.start()
    again = dispatch(lambda: write_session(db), channel, row.not_before)
    assert (again.sent, again.failed, again.unknown) == (2, 0, 0)  # it, and the row left over
    outbox, deliveries = rows(db)
    retried = next(r for r in outbox if r.id == row.id)
    assert (retried.state, retried.attempts, retried.last_error) == ("sent", 2, None)
    assert [d.outcome for d in deliveries if d.outbox_id == row.id] == [outcome, "sent"]
    ids = [mailbox.message(i)["Message-ID"] for i in range(len(mailbox.received))]
    assert channel.message_id(row.idempotency_key) in ids


# ── settings ────────────────────────────────────────────────────────────────────────────────


def email_channel(settings: Mapping[str, str]) -> EmailChannel | None:
    """The e-mail channel kehoach builds from these settings (kehoach/channels.py)."""
    found = spec("email")
    assert found is not None
    channel = found.build(Settings.of(settings))
    assert channel is None or isinstance(channel, EmailChannel)
    return channel


def test_the_channel_built_from_the_deploy_guides_example_of_kehoach_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert email_channel({}) is None  # no host: no e-mail channel
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = guide[guide.index("## E-mail") :]
    config = tmp_path / "kehoach.toml"
    config.write_text(section.split("```toml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    monkeypatch.setenv("KEHOACH_CONFIG", str(config))
    settings = settings_mod.Settings.load().names()
    assert "mật khẩu" not in str(settings_mod.Settings.load())  # a secret, never printed
    channel = email_channel(settings)
    assert channel is not None
    assert (channel.host, channel.port, channel.security, channel.user, channel.password) == (
        "smtp.example.vn",
        587,
        "starttls",
        "kehoach@example.vn",
        "mật khẩu",
    )
    assert str(channel.sender) == "Kế hoạch Quận Đoàn <kehoach@example.vn>"
    over = email_channel(
        {**settings, "KEHOACH_SMTP_SECURITY": "ssl", "KEHOACH_SMTP_PORT": ""}
    )  # the environment wins
    assert over is not None and (over.security, over.port) == ("ssl", 465)
    for security, port in [("starttls", 587), ("none", 25), ("", 587)]:
        ch = email_channel(
            {
                "KEHOACH_SMTP_HOST": "h",
                "KEHOACH_SMTP_FROM": "a@b.vn",
                "KEHOACH_SMTP_SECURITY": security,
            }
        )
        assert ch is not None and ch.port == port
    only_user = email_channel(
        {"KEHOACH_SMTP_HOST": "h", "KEHOACH_SMTP_USER": "a@b.vn", "KEHOACH_SMTP_PASSWORD": "x"}
    )
    assert only_user is not None and only_user.sender.addr_spec == "a@b.vn"  # From: the login


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (
            {"KEHOACH_SMTP_PORT": "cổng"},
            "KEHOACH_SMTP_PORT ([smtp] port) «cổng» không phải số cổng",
        ),
        ({"KEHOACH_SMTP_PORT": "70000"}, "KEHOACH_SMTP_PORT ([smtp] port) «70000»"),
        (
            {"KEHOACH_SMTP_SECURITY": "tls"},
            "KEHOACH_SMTP_SECURITY ([smtp] security) «tls» không hợp lệ; chọn một trong: "
            "starttls, ssl, none",
        ),
        ({"KEHOACH_SMTP_USER": "thu.ky"}, "KEHOACH_SMTP_PASSWORD ([smtp] password) chưa đặt"),
        ({"KEHOACH_SMTP_PASSWORD": "x"}, "KEHOACH_SMTP_USER ([smtp] user) chưa đặt"),
        ({"KEHOACH_SMTP_FROM": ""}, "KEHOACH_SMTP_FROM ([smtp] from) chưa đặt"),
        (
            {"KEHOACH_SMTP_FROM": "Kế hoạch"},
            "KEHOACH_SMTP_FROM ([smtp] from) «Kế hoạch» không phải",
        ),
        ({"KEHOACH_SMTP_TIMEOUT": "lâu"}, "KEHOACH_SMTP_TIMEOUT ([smtp] timeout) «lâu»"),
        ({"KEHOACH_SMTP_CA_FILE": "/không/có.pem"}, "KEHOACH_SMTP_CA_FILE ([smtp] ca_file)"),
    ],
    ids=[
        "port-word",
        "port-range",
        "security",
        "user-alone",
        "password-alone",
        "no-from",
        "from-no-address",
        "timeout",
        "ca-file",
    ],
)
def test_bad_smtp_settings_are_refused_naming_them(extra: dict[str, str], said: str) -> None:
    settings = {"KEHOACH_SMTP_HOST": "smtp.example.vn", "KEHOACH_SMTP_FROM": SENDER, **extra}
    with pytest.raises(SettingsError) as caught:
        email_channel(settings)
    assert said in str(caught.value)
    with pytest.raises(SettingsError) as wired:  # as kehoach reports it: no traceback
        wired_channels(settings)
    assert said in str(wired.value)


def test_the_smtp_settings_are_known() -> None:
    for name in ("HOST", "PORT", "SECURITY", "USER", "PASSWORD", "FROM", "CA_FILE", "TIMEOUT"):
        assert f"KEHOACH_SMTP_{name}" in settings_mod.KNOWN
    assert "KEHOACH_SMTP_PASSWORD" in settings_mod.SECRET
