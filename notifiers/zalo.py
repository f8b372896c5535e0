"""The Zalo channel: an outbox notification as one plain-text message (or a few, for a long
digest) to the person's Zalo chat, through the Zalo Bot API (docs/zalo.md): `POST
{base}/bot{token}/sendMessage` with `{"chat_id", "text"}`, answered `{"ok": true, "result":
{"message_id", "date"}}` or `{"ok": false, "error_code", "description"}`.

A small client on httpx (`ZaloAPI`): one pooled `httpx.Client` the dispatcher's threads share.
The rate limiter (`Limiter`, KEHOACH_ZALO_RATE messages a second) is shared by the channel and
the bot of the process; one process per token sends (`sender_key`), so it is the token's.

Faults, mapped to `DeliveryError` for the dispatcher (the documentation names no error code;
these are the HTTP meanings the answers carry, docs/zalo.md):

- 429, or an answer naming `retry_after` → retry after that wait;
- a connect or pool timeout, a refused connection (the request never left), 5xx, 401/404
  (a wrong token: fixed by the operator, then sent) → temporary;
- a timeout or a cut connection after the request left → unknown (never resent blindly);
- 403 (the user blocked the bot), or a 400 saying the user or chat is unknown → lost
  (`permanent` and `lost`: the contact is marked lost, the row goes to the next contact);
- any other 400 (a text the API refuses) → permanent.

Idempotent per outbox row: the parts of a message already delivered are remembered by
outbox id, so a retry after a failure halfway sends only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import httpx

from notifiers.base import (
    Channel,
    DeliveryError,
    DeliveryResult,
    Notification,
)
from notifiers.zalo_render import render

log = logging.getLogger("kehoach.zalo")
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
#: Messages a second for one bot: the documentation names no limit, so a setting (docs/zalo.md).
DEFAULT_RATE = 10.0
#: sendMessage takes "1 to 2000 characters" (counted here in UTF-16 units, the stricter count).
DEFAULT_MAX_CHARS = 2000
LOST_WORDS = re.compile(r"block|not found|không tồn tại|chặn|invalid (chat|user)", re.I)
RETRY_AFTER = re.compile(r"retry after (\d+(?:\.\d+)?)", re.I)


class ZaloError(Exception):
    """An answer `{"ok": false}` (or a non-JSON error page) from the Bot API."""

    def __init__(
        self, status: int, code: int, description: str, parameters: Mapping[str, Any] | None = None
    ):
        super().__init__(f"{code}: {description}")
        self.status, self.code, self.description = status, code, description
        self.parameters = dict(parameters or {})


class ZaloAPI:
    """The Bot API over one pooled httpx client (thread-safe)."""

    def __init__(
        self, token: str, base_url: str | None = None, *, timeout: float = 10.0, pool: int = 16
    ):
        self.token = token
        self.base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )

    def call(
        self, method: str, payload: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """POST `payload` as JSON to `method`; its `result`, or ZaloError / httpx errors."""
        url, body = f"{self.base}/bot{self.token}/{method}", dict(payload or {})
        res = (
            self.client.post(url, json=body)
            if timeout is None
            else self.client.post(url, json=body, timeout=httpx.Timeout(timeout))
        )
        try:
            body = res.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ZaloError(
                res.status_code, res.status_code, res.text[:200] or res.reason_phrase
            ) from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            body = body if isinstance(body, dict) else {}
            raise ZaloError(
                res.status_code,
                int(body.get("error_code") or res.status_code),
                str(body.get("description") or res.reason_phrase),
                body.get("parameters"),
            )
        return body.get("result")

    def close(self) -> None:
        self.client.close()


class Limiter:
    """At most `rate` sends a second for the whole process (all threads, the channel and the
    bot). Each send reserves the next slot 1/rate after the last one, then checks the sends
    actually started: at most `rate` in any 1 + 1/rate seconds (a thread woken late must not
    bunch up with the next one, and the API counts arrivals, which the network may bring
    closer than their starts: one slot of margin, so about rate²/(rate + 1) a second are
    sent, 91 % of 10/s, 97 % of 30/s). `rate=None`: no limit."""

    def __init__(self, rate: float | None = DEFAULT_RATE):
        self.rate = rate
        self.window = 1.0 + 1.0 / rate if rate else 1.0
        self.next_slot = 0.0
        self.started: deque[float] = deque()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait for this send's slot (taken)."""
        if self.rate is None:
            return 0.0
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_slot)
            self.next_slot = at + 1.0 / self.rate
            return at - now

    def admit(self) -> float:
        """0 and the send counted, or the seconds to wait before asking again."""
        if self.rate is None:
            return 0.0
        with self.lock:
            now = time.monotonic()
            while self.started and self.started[0] <= now - self.window:
                self.started.popleft()
            if len(self.started) >= max(1, int(self.rate)):
                return self.started[0] + self.window - now + 0.001
            self.started.append(now)
            return 0.0

    def wait(self) -> None:
        """Block the calling thread until a send may start."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)
        self.enter()

    def enter(self) -> None:
        """Block the calling thread until the send is admitted (after its reserved slot):
        call it in the thread that then sends, so nothing comes between the two."""
        while (delay := self.admit()) > 0:
            time.sleep(delay)


def sender_key(token: str) -> str:
    """One sending process per bot token (serve elects it): the token's hash, never itself."""
    return "zalo-" + hashlib.sha256(token.encode()).hexdigest()[:16]


def mapped(exc: Exception) -> DeliveryError:
    """A failed sendMessage as the dispatcher's DeliveryError (module doc)."""
    if isinstance(exc, ZaloError):
        text = f"Zalo: {exc.code}: {exc.description}"
        wait = exc.parameters.get("retry_after")
        found = RETRY_AFTER.search(exc.description)
        if exc.code == 429 or exc.status == 429 or wait is not None:
            seconds = float(wait if wait is not None else found.group(1) if found else 1)
            return DeliveryError(text, retry_after=seconds)
        if (
            exc.code == 403
            or exc.status == 403
            or (exc.code == 400 and LOST_WORDS.search(exc.description))
        ):
            return DeliveryError(
                text + " (người nhận đã chặn bot hoặc không còn chat này)",
                permanent=True,
                lost=True,
            )
        if exc.code == 400 or exc.status == 400:
            return DeliveryError(text, permanent=True)
        return DeliveryError(text)  # 401/404 (token), 5xx: later
    text = f"Zalo: {type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return DeliveryError(text)  # the request never left: safe to send again
    if isinstance(
        exc, httpx.TimeoutException | httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    ):
        return DeliveryError(text + " (không rõ tin đã đến chưa)", unknown=True)
    return DeliveryError(text, unknown=True)


class ZaloChannel(Channel):
    """Sends outbox notifications to `notification.person.address`, the Zalo chat id."""

    name = "zalo"
    thread_safe = True  # one httpx client and one limiter, both made for threads

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        *,
        limiter: Limiter | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        timeout: float = 10.0,
    ):
        self.token, self.max_chars = token, max_chars
        self.api = ZaloAPI(token, base_url, timeout=timeout)
        self.limiter = limiter if limiter is not None else Limiter()
        self.sender_key = sender_key(token)
        #: Parts already delivered, by outbox id: a retry sends only the rest.
        self._delivered: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.api.close()

    def send(self, notification: Notification) -> DeliveryResult:
        person = notification.person
        if person is None or not person.address:
            raise DeliveryError("người nhận chưa liên kết Zalo", permanent=True)
        try:
            parts = render(notification, self.max_chars, self.public_url)
        except Exception as exc:  # a template or a payload that cannot be said: no retry helps
            raise DeliveryError(
                f"không soạn được tin: {type(exc).__name__}: {exc}", permanent=True
            ) from exc
        with self._lock:
            done = list(self._delivered.get(notification.id, []))
        for text in parts[len(done) :]:
            self.limiter.wait()
            try:
                result = self.api.call("sendMessage", {"chat_id": person.address, "text": text})
            except (ZaloError, httpx.HTTPError) as exc:
                raise mapped(exc) from exc
            done.append(str((result or {}).get("message_id", "")))
            if len(parts) > 1:
                with self._lock:
                    self._delivered[notification.id] = list(done)
        with self._lock:
            self._delivered.pop(notification.id, None)
        return DeliveryResult(remote_id=",".join(done))
