"""The Telegram channel: an outbox notification as one message (or a few, for a long digest)
to the person's linked chat (`Recipient.address`: the chat id as text), through
python-telegram-bot's `Bot` (base_url from KEHOACH_TELEGRAM_BASE_URL, so tests point it at a
Bot API server on loopback).

The dispatcher calls `send` from worker threads; each calling thread gets an asyncio loop and
a `Bot` of its own (on aiohttp: notifiers/telegram_http.py), the rate limiter is shared.

Limits (client-side, so Telegram never has to say 429): `Limiter` spaces messages at most
`overall` per second for the bot, one per `private_gap` seconds per private chat and
`group_per_minute` per minute per group (negative chat ids).

Faults, mapped to `DeliveryError` for the dispatcher:

- RetryAfter → retry after the seconds Telegram names;
- NetworkError, 5xx, a connect/pool timeout (the request never left) → temporary;
- TimedOut while waiting for the answer → unknown (it may have arrived; never resent blindly);
- Forbidden (bot blocked, chat gone) or "chat not found" → `lost` (the dispatcher marks the
  contact lost, queues the notification on the person's next contact; the digest tells the
  secretary);
- ChatMigrated (a group became a supergroup) → `moved_to` the new chat id (the dispatcher
  moves the stored contact and sends the message there at once);
- "can't parse entities" (bad HTML) → sent again once as plain text; failing that, permanent.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import html
import logging
import os
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import httpx

# PTB 22 is moving its time periods (RetryAfter.retry_after, …) to timedelta; opt in now (its
# documented switch), so it does not warn on every 429. Set before telegram is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBUserWarning

from notifiers.base import Channel, DeliveryError, DeliveryResult, Notification
from notifiers.telegram_http import NOT_SENT, AiohttpRequest
from notifiers.telegram_render import Part, render

log = logging.getLogger("kehoach.telegram")
T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
TAG = re.compile(r"<[^>]+>")


def markup(buttons: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in buttons
        ]
    )


def markup_json(buttons: list[list[tuple[str, str]]]) -> dict[str, Any]:
    """`markup(buttons)` as the JSON the Bot API takes (what its `to_dict()` gives)."""
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": data} for label, data in row] for row in buttons
        ]
    }


NO_PREVIEW = {"is_disabled": True}  # LinkPreviewOptions(is_disabled=True).to_dict()


# Bot.do_api_request asks to call Bot.send_message instead: said for every send, not news.
warnings.filterwarnings("ignore", r"Please use 'Bot\.sendMessage'", PTBUserWarning)


async def send_message_json(bot: Bot, data: dict[str, Any]) -> dict[str, Any]:
    """sendMessage through PTB's public `Bot.do_api_request` (so PTB's errors, RetryAfter,
    Forbidden, BadRequest, TimedOut, NetworkError, are raised as by `Bot.send_message`), the
    parameters and the answer as JSON: building the answer's `Message` (`Message.de_json`, a
    few hundred attribute sets) was the largest CPU cost of a send, and the channel keeps
    only its id."""
    result: dict[str, Any] = await bot.do_api_request("sendMessage", api_kwargs=data)
    return result


def plain(text: str) -> str:
    """HTML as the plain text it shows (for the resend after a parse error)."""
    return html.unescape(TAG.sub("", text))


def seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Limiter:
    """Spaces sends: at most `overall`/s in all, one per `private_gap` s per private chat,
    `group_per_minute` per minute per group. Each send reserves its slot before waiting,
    so concurrent sends in the loop queue up fairly. `overall=None`: no limits at all."""

    def __init__(
        self, overall: float | None = 29.0, private_gap: float = 1.1, group_per_minute: float = 19.0
    ):
        self.overall, self.private_gap = overall, private_gap
        self.group_gap = 60.0 / group_per_minute
        self.slots: list[float] = []  # the send moments reserved, sorted
        self.next_chat: dict[int, float] = {}
        self.sent: deque[float] = deque()  # when the sends of the last second started
        self.last_sent: dict[int, float] = {}  # chat → when its last send started
        self.lock = threading.Lock()  # sends from several threads share the limits

    def reserve(self, chat_id: int, now: float | None = None) -> float:
        """Seconds to wait before sending to `chat_id` (the slot is taken): the earliest
        moment the chat's gap allows that is at least 1/overall s from every other send
        reserved (a message waiting for its chat does not hold the others back)."""
        if self.overall is None:
            return 0.0
        now = time.monotonic() if now is None else now
        gap = 1.0 / self.overall
        at = max(now, self.next_chat.get(chat_id, 0.0))
        self.slots = [t for t in self.slots if t > now - gap]
        for slot in self.slots:  # sorted: find the first free place from `at` on
            if slot + gap <= at:
                continue
            if slot - gap >= at:
                break
            at = slot + gap
        bisect.insort(self.slots, at)
        self.next_chat[chat_id] = at + (self.private_gap if chat_id > 0 else self.group_gap)
        if len(self.next_chat) > 10_000:  # forget chats whose gap has passed
            self.next_chat = {c: t for c, t in self.next_chat.items() if t > now}
        return at - now

    async def wait(self, chat_id: int) -> None:
        """Wait for the reserved slot, then check the sends actually made (a thread that woke
        late must not bunch up with the next one): fewer than `overall` in the last second
        and the chat's gap since its last send, else wait again. The send counts from here."""
        with self.lock:
            delay = self.reserve(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)
        if self.overall is None:
            return
        window = max(1, int(self.overall))
        while True:
            with self.lock:
                now = time.monotonic()
                while self.sent and self.sent[0] <= now - 1.0:
                    self.sent.popleft()
                gap = self.private_gap if chat_id > 0 else self.group_gap
                wait = max(
                    self.sent[0] + 1.0 - now if len(self.sent) >= window else 0.0,
                    self.last_sent.get(chat_id, -gap) + gap - now,
                )
                if wait <= 0:
                    self.sent.append(now)
                    self.last_sent[chat_id] = now
                    if len(self.last_sent) > 10_000:
                        self.last_sent = {c: t for c, t in self.last_sent.items() if t > now - 60.0}
                    return
            await asyncio.sleep(wait + 0.001)


def make_bot(
    token: str,
    base_url: str | None = None,
    *,
    timeout: float = 10.0,
    pool: int = 16,
    http: str = "aiohttp",
) -> Bot:
    """A Bot on notifiers/telegram_http.py's aiohttp layer, or PTB's default httpx one."""
    if http == "httpx":
        from telegram.request import HTTPXRequest

        return Bot(
            token,
            base_url=base_url or DEFAULT_BASE_URL,
            request=HTTPXRequest(
                connection_pool_size=pool,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            ),
        )
    request = AiohttpRequest(
        connection_pool_size=pool, read_timeout=timeout, connect_timeout=timeout
    )
    return Bot(token, base_url=base_url or DEFAULT_BASE_URL, request=request)


class ChatLost(DeliveryError):
    """Telegram refuses the chat for good (bot blocked, chat gone): the link is lost."""

    def __init__(self, message: str):
        super().__init__(message, lost=True)


class ChatMoved(DeliveryError):
    """The group became a supergroup with chat id `new_chat_id` (sent again there at once)."""

    def __init__(self, message: str, new_chat_id: int):
        super().__init__(message, moved_to=str(new_chat_id))
        self.new_chat_id = new_chat_id


def sender_key(token: str) -> str:
    """The key only one process sends under for a bot token (a hash: the token is a secret)."""
    return "telegram-" + hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass
class _ThreadState:
    loop: asyncio.AbstractEventLoop
    bot: Bot | None = None


class TelegramChannel(Channel):
    """Sends outbox notifications to the chat `notification.person.address` (module doc)."""

    name = "telegram"
    thread_safe = True  # serve needs no lock around it (kehoach.serve.OneAtATime)

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        *,
        limiter: Limiter | None = None,
        timeout: float = 10.0,
        http: str = "aiohttp",
    ):
        self.token, self.base_url, self.timeout, self.http = token, base_url, timeout, http
        self.sender_key = sender_key(token)  # one process per bot token sends (serve)
        self.limiter = limiter if limiter is not None else Limiter()
        self._local = threading.local()
        self._aside: ThreadPoolExecutor | None = None
        self._states: list[_ThreadState] = []
        self._lock = threading.Lock()
        #: Digest parts already delivered, by outbox id: a retry sends only the rest.
        self._delivered: dict[int, list[str]] = {}

    # ── one event loop and Bot per calling thread (no hop to another thread per send) ────
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_here(coro)
        # Called from a thread whose event loop is running (send blocks: the dispatcher calls
        # it from worker threads, but a caller may not): run it in a thread of the channel's.
        with self._lock:
            if self._aside is None:
                self._aside = ThreadPoolExecutor(1, thread_name_prefix="kehoach-telegram")
        return self._aside.submit(self._run_here, coro).result()

    def _run_here(self, coro: Coroutine[Any, Any, T]) -> T:
        state = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = _ThreadState(asyncio.new_event_loop())
            with self._lock:
                self._states.append(state)
        return state.loop.run_until_complete(coro)

    async def _ready_bot(self) -> Bot:
        state: _ThreadState = self._local.state
        if state.bot is None:
            bot = make_bot(self.token, self.base_url, timeout=self.timeout, http=self.http)
            await bot.initialize()  # getMe: a wrong token shows here
            state.bot = bot
        return state.bot

    def close(self) -> None:
        """Close every thread's Bot and loop (call when no send is running)."""
        with self._lock:
            states, self._states = self._states, []
            aside, self._aside = self._aside, None
        if aside is not None:
            aside.shutdown(wait=True)
        for state in states:
            try:
                if state.bot is not None:
                    state.loop.run_until_complete(state.bot.shutdown())
                state.loop.close()
            except (TelegramError, RuntimeError):
                log.debug("không đóng được bot Telegram gọn gàng", exc_info=True)

    # ── sending ─────────────────────────────────────────────────────────────────────────────
    def send(self, notification: Notification) -> DeliveryResult:
        person = notification.person
        if person is None or person.address is None:
            raise DeliveryError(
                "người nhận chưa liên kết Telegram", permanent=True, lost=person is not None
            )
        try:
            chat = int(person.address)
        except ValueError:
            raise DeliveryError(
                f"mã chat Telegram «{person.address}» không hợp lệ", lost=True
            ) from None
        try:
            parts = render(notification, public_url=self.public_url)
        except Exception as exc:  # a template or a payload that cannot be said: no retry helps
            raise DeliveryError(
                f"không soạn được tin: {type(exc).__name__}: {exc}", permanent=True
            ) from exc
        ids = self._run(self._send_parts(notification.id, chat, parts))
        return DeliveryResult(remote_id=",".join(ids))

    async def _send_parts(self, outbox_id: int, chat_id: int, parts: list[Part]) -> list[str]:
        bot = await self._ready_bot_mapped()
        done = self._delivered.get(outbox_id, [])
        for part in parts[len(done) :]:
            await self.limiter.wait(chat_id)
            done = [*done, f"{chat_id}:{await self._send_one(bot, chat_id, part)}"]
            if len(parts) > 1:
                self._delivered[outbox_id] = done
        self._delivered.pop(outbox_id, None)
        return done

    async def _ready_bot_mapped(self) -> Bot:
        try:
            return await self._ready_bot()
        except TelegramError as exc:  # getMe failed: nothing was sent, try again later
            error = mapped(exc)
            raise DeliveryError(f"Telegram (getMe): {exc}", retry_after=error.retry_after) from exc

    async def _send_one(self, bot: Bot, chat_id: int, part: Part) -> int:
        data: dict[str, Any] = {"chat_id": chat_id, "link_preview_options": NO_PREVIEW}
        if part.buttons:
            data["reply_markup"] = markup_json(part.buttons)
        try:
            message = await send_message_json(
                bot, {**data, "text": part.text, "parse_mode": ParseMode.HTML}
            )
        except BadRequest as exc:
            if "parse entities" not in str(exc).lower():
                raise mapped(exc) from exc
            log.warning("Telegram không đọc được HTML của tin (%s); gửi lại dạng chữ thường", exc)
            try:
                message = await send_message_json(bot, {**data, "text": plain(part.text)})
            except TelegramError as again:
                raise mapped(again) from again
        except TelegramError as exc:
            raise mapped(exc) from exc
        return int(message["message_id"])


def mapped(exc: TelegramError) -> DeliveryError:
    """A python-telegram-bot error as the dispatcher's DeliveryError (module doc)."""
    text = f"Telegram: {type(exc).__name__}: {exc}"
    if isinstance(exc, RetryAfter):  # a timedelta with PTB_TIMEDELTA (set above), else int
        return DeliveryError(text, retry_after=seconds(exc.retry_after))
    if isinstance(exc, Forbidden):
        return ChatLost(text)
    if isinstance(exc, ChatMigrated):
        return ChatMoved(text, int(exc.new_chat_id))
    if isinstance(exc, TimedOut):
        if (
            isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)
            or NOT_SENT in str(exc)
            or "pool timeout" in str(exc).lower()
        ):
            return DeliveryError(text)  # the request never left: safe to send again
        return DeliveryError(text + " (không rõ tin đã đến chưa)", unknown=True)
    if isinstance(exc, BadRequest):
        if "chat not found" in str(exc).lower():
            return ChatLost(text)
        return DeliveryError(text, permanent=True)
    if isinstance(exc, NetworkError | InvalidToken):
        return DeliveryError(text)
    return DeliveryError(text)
