"""The e-mail channel: one message per notification over SMTP, to the person's address.

Each message is `multipart/alternative`: a plain-text part and an HTML part rendered from the
templates notifiers/templates/email/PURPOSE.txt and PURPOSE.html (generic.* for a purpose with
none of its own); the text template sets the Subject (`{% set subject %}`). The HTML is
autoescaped, so a title with `<script>` or `&` is shown, never run. Headers are built by
`email.message.EmailMessage` under the SMTP policy: Vietnamese display names and subjects are
encoded per RFC 2047 (`=?utf-8?…?=`; the Subject by the legacy encoder, see `message`),
bodies are UTF-8 in quoted-printable or base64 (7-bit safe on any server). The Message-ID
is derived from the outbox idempotency key, so a resend of the same notification carries the
same id and mail programs recognise it.

    channel = EmailChannel(host, port, security="starttls", user=…, password=…, sender=…)
    channel.send(notification)                        # DeliveryResult(remote_id=Message-ID)

One SMTP connection is kept and reused across sends (behind a lock, so one dispatch loop and
a shutdown can share the channel); it is dropped after any failure. A kept connection that the
server closed meanwhile (servers drop idle ones) is noticed before anything was sent and the
message goes once more on a new connection (also when it answers 421, closing).

What a failure means for the dispatcher (notifiers.base.DeliveryError):

- permanent, the row parked as failed: the person has no e-mail address, or a malformed one;
  the notification goes to no person; a 5xx answer (recipient refused: 550, 553 …; sender or
  message refused); an address that needs SMTPUTF8 on a server without it;
- temporary, retried with backoff: a 4xx answer (421, 451, 452 …); authentication refused
  (535 …: our login is wrong, not this message; retried until someone mends the settings or
  the attempts run out); connection refused or reset, the server gone
  (SMTPServerDisconnected), a TLS failure, a timeout, all before the DATA command went out;
- unknown, never resent blindly (a person looks): a timeout or a lost connection after the
  DATA command went out, since the server may have taken the message.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from typing import Any

from jinja2 import Environment, TemplateNotFound

from engine import vi
from engine.model import ZONE as VN

from .base import Channel, DeliveryError, DeliveryResult, Notification
from .rendering import board_url, environment

#: security → default port.
PORTS = {"starttls": 587, "ssl": 465, "none": 25}
TIMEOUT = 30.0  # seconds for connecting and for each answer of the server
#: Headers RFC 2047-encoded, bodies quoted-printable or base64 (whichever is shorter).
POLICY = SMTP.clone(cte_type="7bit")
GENERIC = "generic"


def vi_day(value: Any) -> str:
    """A day ("30/05/2025" or "2025-05-30") as people write it; a day already written so, as is.

    >>> vi_day("30/05/2025"), vi_day("2025-05-30"), vi_day("Thứ Sáu, 30/05/2025")
    ('Thứ Sáu, 30/05/2025', 'Thứ Sáu, 30/05/2025', 'Thứ Sáu, 30/05/2025')
    """
    text = str(value).strip()
    for form in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return vi.day(datetime.strptime(text, form).date())
        except ValueError:
            pass
    return text


def _environment(autoescape: bool) -> Environment:
    env = environment(autoescape=autoescape)
    env.filters.update(vi_day=vi_day, money=vi.money)
    return env


class _Utf8(str):
    """A str that smtplib's `.encode('ascii')` turns into UTF-8 (RFC 4954 credentials)."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, "utf-8", errors)


class _Client:
    """smtplib's client, two things added:

    - it remembers whether the DATA command went out: after it, a lost answer is an unknown
      outcome (the server may have queued the message), before it a plain temporary failure;
    - a login or password with Vietnamese letters works (smtplib encodes them as ASCII)."""

    data_started = False
    password: str

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)  # type: ignore[misc, no-any-return]

    def auth(
        self,
        mechanism: str,
        authobject: Callable[..., str | None],
        *,
        initial_response_ok: bool = True,
    ) -> tuple[int, bytes]:
        def utf8(challenge: bytes | None = None) -> str | None:
            said = authobject(challenge)
            return None if said is None else _Utf8(said)

        return super().auth(  # type: ignore[misc, no-any-return]
            mechanism, utf8, initial_response_ok=initial_response_ok
        )

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:
        if challenge is None:
            return None
        digest = hmac.HMAC(self.password.encode(), challenge, "md5").hexdigest()
        return f"{self.user} {digest}"  # type: ignore[attr-defined]


class _SMTP(_Client, smtplib.SMTP):  # type: ignore[misc]  # auth_cram_md5 may say None
    pass


class _SMTPSSL(_Client, smtplib.SMTP_SSL):  # type: ignore[misc]
    pass


class EmailChannel(Channel):
    name = "email"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: str = "starttls",
        user: str | None = None,
        password: str | None = None,
        sender: str | Address = "Kế hoạch <kehoach@localhost>",
        context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
        local_hostname: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        if security not in PORTS:
            raise ValueError(f"security must be one of {', '.join(PORTS)}: {security!r}")
        self.host, self.port, self.security = host, port or PORTS[security], security
        self.user, self.password = user, password
        self.sender = sender if isinstance(sender, Address) else parse_sender(sender)
        self.context = context or ssl.create_default_context()
        self.timeout, self.local_hostname = timeout, local_hostname
        self.clock = clock or (lambda: datetime.now(UTC))  # for the Date header
        self.text_env, self.html_env = _environment(False), _environment(True)
        self._smtp: _SMTP | _SMTPSSL | None = None
        self._lock = threading.Lock()

    # ── the message ─────────────────────────────────────────────────────────────────────────

    def _template(self, env: Environment, purpose: str, suffix: str) -> Any:
        try:
            return env.get_template(f"email/{purpose}.{suffix}")
        except TemplateNotFound:
            return env.get_template(f"email/{GENERIC}.{suffix}")

    def render(self, n: Notification) -> tuple[str, str, str]:
        """(subject, text, html) for `n`; the templates name the payload fields they need."""
        context = {
            **n.payload,
            "recipient": n.recipient,
            "level": n.level,
            "purpose": n.purpose,
            "person_name": n.person.name if n.person else "",
            "board_url": board_url(self.public_url, n.payload.get("board_path")),
        }
        text = self._template(self.text_env, n.purpose, "txt").make_module(context)
        subject = " ".join(str(text.subject).split())
        html = self._template(self.html_env, n.purpose, "html").render(context, subject=subject)
        return subject, str(text).strip() + "\n", html.strip() + "\n"

    def message_id(self, key: str) -> str:
        """The Message-ID of the notification with idempotency key `key`: the same on resend."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"<{digest}.kehoach@{self.sender.domain or 'localhost'}>"

    def message(self, n: Notification) -> EmailMessage:
        """The message for `n`; DeliveryError(permanent) when it has nowhere to go."""
        person = n.person
        if person is None:
            raise DeliveryError(
                "thông báo không gửi cho người cụ thể nào nên không có địa chỉ thư để gửi",
                permanent=True,
            )
        if not person.address:  # none, or lost since the row was queued: the next contact
            raise DeliveryError(f"{person.name} chưa có địa chỉ thư điện tử", lost=True)
        try:
            to = Address(display_name=person.name, addr_spec=person.address.strip())
        except (ValueError, HeaderParseError, IndexError):
            raise DeliveryError(
                f"địa chỉ thư «{person.address}» của {person.name} không hợp lệ", permanent=True
            ) from None
        subject, text, html = self.render(n)
        msg = EmailMessage(policy=POLICY)
        # Not msg["Subject"] = subject: the policy's own folding (CPython 3.11) may put the
        # space between two encoded words at a fold, where RFC 2047 readers drop it ("(mức
        # 1):Đoàn"). The legacy encoder keeps every space inside a word; set_raw keeps its folds.
        msg.set_raw(
            "Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
        )
        msg["From"] = self.sender
        msg["To"] = to
        msg["Date"] = format_datetime(self.clock().astimezone(VN))
        msg["Message-ID"] = self.message_id(n.key)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        msg["Content-Language"] = "vi"  # after the parts: set_content clears Content-*
        return msg

    # ── sending ─────────────────────────────────────────────────────────────────────────────

    def _connect(self) -> _SMTP | _SMTPSSL:
        smtp: _SMTP | _SMTPSSL
        if self.security == "ssl":
            smtp = _SMTPSSL(
                self.host,
                self.port,
                self.local_hostname,
                timeout=self.timeout,
                context=self.context,
            )
        else:
            smtp = _SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self.context)
            if self.user and self.password:
                smtp.login(self.user, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, notification: Notification) -> DeliveryResult:
        msg = self.message(notification)
        with self._lock:
            reused = self._smtp is not None
            while True:
                smtp = None
                try:
                    smtp = self._smtp = self._smtp or self._connect()
                    smtp.data_started = False
                    smtp.send_message(msg)
                    return DeliveryResult(remote_id=msg["Message-ID"])
                except Exception as exc:
                    self._drop()
                    data_started = smtp is not None and smtp.data_started
                    gone = isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError) or (
                        isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421
                    )
                    if reused and gone and not data_started:
                        reused = False  # the kept connection had been closed: once more, anew
                        continue
                    raise _delivery_error(exc, data_started, msg["To"]) from exc

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def close(self) -> None:
        """Say goodbye to the server (QUIT) and forget the connection."""
        with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()


def parse_sender(value: str) -> Address:
    """ "Kế hoạch <kehoach@example.vn>" or "kehoach@example.vn" as an Address; ValueError when
    it has no usable address."""
    name, addr = parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(value)
    try:
        return Address(display_name=name, addr_spec=addr)
    except (HeaderParseError, IndexError) as exc:
        raise ValueError(value) from exc


def _answer(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return f"{exc.smtp_code} {text}".strip()


def _delivery_error(exc: Exception, data_started: bool, to: str) -> DeliveryError:
    """What `exc`, raised while sending to `to`, means (the module doc's table)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, said = next(iter(exc.recipients.values()), (450, b""))
        text = said.decode("utf-8", "replace")
        return DeliveryError(
            f"máy chủ thư từ chối người nhận {to}: {code} {text}", permanent=500 <= code < 600
        )
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421:
        return DeliveryError(f"máy chủ thư tạm ngừng phục vụ và đóng kết nối: {_answer(exc)}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"máy chủ thư không chấp nhận đăng nhập (KEHOACH_SMTP_USER, "
            f"KEHOACH_SMTP_PASSWORD): {_answer(exc)}"
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            f"máy chủ thư từ chối người gửi {exc.sender}: {_answer(exc)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 400:
        return DeliveryError(
            f"máy chủ thư từ chối thư gửi {to}: {_answer(exc)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError) and "SMTPUTF8" in str(exc):
        return DeliveryError(
            f"địa chỉ {to} cần SMTPUTF8 mà máy chủ thư không hỗ trợ", permanent=True
        )
    if data_started and isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
        return DeliveryError(
            f"mất kết nối hoặc hết thời gian chờ sau khi đã gửi nội dung thư "
            f"tới {to}; không rõ máy chủ đã nhận chưa: {exc}",
            unknown=True,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"máy chủ thư đã ngắt kết nối: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(f"lỗi SMTP khi gửi tới {to}: {exc}")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return DeliveryError(f"lỗi TLS với máy chủ thư: {exc}")
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"máy chủ thư không trả lời kịp: {exc}")
    if isinstance(exc, OSError):
        return DeliveryError(f"không kết nối được máy chủ thư: {exc}")
    return DeliveryError(f"lỗi khi gửi thư tới {to}: {type(exc).__name__}: {exc}")
