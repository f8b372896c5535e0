"""A Telegram Bot API server on loopback, for tests and the benchmark (aiohttp, its own loop in a
thread, or its own process: `python -m tests.fake_bot_api --limits`).

It answers the methods python-telegram-bot uses (getMe, sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, getUpdates with long polling, setMyCommands,
deleteWebhook, setWebhook, getWebhookInfo, close, logOut), checks what Telegram checks (the
4,096-character limit after entities, callback data ≤ 64 bytes, well-formed HTML), records
every call, injects user messages and button presses as updates, and fails on demand:

    api = FakeBotAPI().start()
    api.fail("sendMessage", "429", retry_after=3)     # also "403", "500", "slow", "parse", "chat"
    api.limits(overall=30, per_chat=1.0)              # 429 above Telegram's rates
    api.message(chat_id=42, text="/start abc")        # a user writes to the bot
    api.press(chat_id=42, message_id=7, data="d:12")  # a user presses a button
    api.sent("sendMessage")                           # what the bot sent
    api.stop()
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import defaultdict, deque
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from tests.loopback import Call, Fault, LoopbackServer, utf16_len

BOT = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "Kế hoạch",
    "username": "kehoach_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
JSON_FIELDS = {
    "chat_id",
    "message_id",
    "reply_markup",
    "offset",
    "limit",
    "timeout",
    "allowed_updates",
    "commands",
    "show_alert",
    "drop_pending_updates",
    "link_preview_options",
    "max_connections",
}
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
}


class _Entities(HTMLParser):
    """Checks Telegram's HTML subset the way the Bot API does, and keeps the shown text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unexpected end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> tuple[str, str | None]:
    """(the text shown, the parse error or None)."""
    parser = _Entities()
    parser.feed(text)
    parser.close()
    if parser.stack and not parser.error:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    return "".join(parser.text), parser.error


class FakeBotAPI(LoopbackServer):
    thread_name = "fake-bot-api"

    def __init__(self, token: str | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(token, host, port)
        self.updates: list[dict[str, Any]] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self.rate: dict[str, float] | None = None
        self.accepted: deque[float] = deque()
        self.last_by_chat: dict[int, deque[float]] = defaultdict(deque)
        self.too_many = 0  # 429 answered because of the rate limits
        self.too_many_why: dict[str, int] = {"overall": 0, "chat": 0}
        self._ids = itertools.count(1)
        self._updates = itertools.count(1)
        self._queries = itertools.count(1)

    # ── the server ──────────────────────────────────────────────────────────────────────────
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    # ── what the tests say ──────────────────────────────────────────────────────────────────
    def limits(
        self, overall: float = 30, per_chat: float = 1.0, group_per_minute: float = 20
    ) -> None:
        """Answer 429 above `overall` messages a second, one per `per_chat` seconds in a
        private chat, `group_per_minute` a minute in a group."""
        self.rate = {"overall": overall, "per_chat": per_chat, "group": group_per_minute}

    def sent(self, method: str = "sendMessage", ok: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            return [
                c.params for c in self.calls if c.method == method and (not ok or c.status == 200)
            ]

    def _push(self, update: dict[str, Any]) -> int:
        with self._lock:
            update["update_id"] = next(self._updates)
            self.updates.append(update)
        if self.loop is not None and self._new_update is not None:
            self.loop.call_soon_threadsafe(self._new_update.set)
        return int(update["update_id"])

    @staticmethod
    def user(user_id: int, name: str = "Người dùng") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "vi"}

    @staticmethod
    def chat(chat_id: int) -> dict[str, Any]:
        return (
            {"id": chat_id, "type": "private", "first_name": "Người dùng"}
            if chat_id > 0
            else {"id": chat_id, "type": "group", "title": "Nhóm"}
        )

    def message(self, chat_id: int, text: str, user_id: int | None = None) -> int:
        """A user writes `text` in `chat_id`; a leading /command is marked as Telegram does."""
        msg: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": self.user(user_id or abs(chat_id)),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._push({"message": msg})

    def press(self, chat_id: int, message_id: int, data: str, user_id: int | None = None) -> str:
        """A user presses the button with `data` under the bot's message; the query's id."""
        with self._lock:
            shown = self.messages.get((chat_id, message_id))
        message = (
            dict(shown)
            if shown
            else {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self.chat(chat_id),
                "text": "…",
            }
        )
        query_id = f"q{next(self._queries)}"
        self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user(user_id or abs(chat_id)),
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                    "message": message,
                }
            }
        )
        return query_id

    def last_message(self, chat_id: int) -> dict[str, Any] | None:
        with self._lock:
            mine = [m for (c, _), m in self.messages.items() if c == chat_id]
        return max(mine, key=lambda m: m["message_id"]) if mine else None

    def shown(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat as they look now (edits applied), oldest first."""
        with self._lock:
            return sorted(
                (m for (c, _), m in self.messages.items() if c == chat_id),
                key=lambda m: m["message_id"],
            )

    # ── the methods ─────────────────────────────────────────────────────────────────────────
    async def _params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if request.content_type == "application/json":
            raw = await request.json()
        elif request.can_read_body:
            raw = dict(await request.post())
        raw.update(request.query)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            params[key] = value
            if key in JSON_FIELDS and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    def _ok(self, result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()  # before the body is read: as close to the wire as it gets
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, arrived)
        with self._lock:
            self.calls.append(call)
        if self.token is not None and request.match_info["token"] != self.token:
            return self._error(call, 401, "Unauthorized")
        fault = self._take_fault(method)
        if fault is not None:
            answer = await self._faulty(call, fault)
            if answer is not None:
                return answer
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(call, 404, "Not Found: method not found")
        result = handler(call) if method != "getUpdates" else await self._m_getUpdates(call)
        return result if isinstance(result, web.StreamResponse) else self._ok(result)

    async def _faulty(self, call: Call, fault: Fault) -> web.Response | None:
        opts = fault.options
        if fault.kind == "429":
            after = int(opts.get("retry_after", 1))
            return self._error(
                call, 429, f"Too Many Requests: retry after {after}", {"retry_after": after}
            )
        if fault.kind == "403":
            return self._error(
                call, 403, opts.get("description", "Forbidden: bot was blocked by the user")
            )
        if fault.kind == "500":
            return self._error(call, int(opts.get("status", 500)), "Internal Server Error")
        if fault.kind == "chat":
            return self._error(call, 400, "Bad Request: chat not found")
        if fault.kind == "migrate":
            return self._error(
                call,
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": int(opts["to"])},
            )
        if fault.kind == "parse" and call.params.get("parse_mode") == "HTML":
            return self._error(
                call,
                400,
                'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
            )
        if fault.kind == "slow":
            await asyncio.sleep(float(opts.get("seconds", 5)))
        return None

    def _over_limit(self, chat_id: int, now: float) -> float | None:
        """Seconds to wait when this message (arrived at `now`) would break the rate limits;
        None if it may go."""
        if self.rate is None:
            return None
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.rate["overall"]:
            self.too_many_why["overall"] += 1
            return 1.0
        mine = self.last_by_chat[chat_id]
        window, allowed = (
            (1.0 * self.rate["per_chat"], 1) if chat_id > 0 else (60.0, self.rate["group"])
        )
        while mine and mine[0] <= now - window:
            mine.popleft()
        if len(mine) >= allowed:
            self.too_many_why["chat"] += 1
            return window
        self.accepted.append(now)
        mine.append(now)
        return None

    def _check_text(self, call: Call, text: str) -> tuple[str, web.Response | None]:
        shown, error = parse_html(text) if call.params.get("parse_mode") == "HTML" else (text, None)
        if error:
            return shown, self._error(call, 400, f"Bad Request: can't parse entities: {error}")
        if not shown.strip():
            return shown, self._error(call, 400, "Bad Request: message text is empty")
        if utf16_len(shown) > 4096:
            return shown, self._error(call, 400, "Bad Request: message is too long")
        for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    return shown, self._error(call, 400, "Bad Request: BUTTON_DATA_INVALID")
        return shown, None

    def _m_getMe(self, call: Call) -> Any:
        return BOT

    def _m_sendMessage(self, call: Call) -> Any:
        chat_id = int(call.params["chat_id"])
        shown, bad = self._check_text(call, str(call.params.get("text", "")))
        if bad is not None:
            return bad
        with self._lock:
            wait = self._over_limit(chat_id, call.at)
            if wait is not None:
                self.too_many += 1
                return self._error(
                    call,
                    429,
                    f"Too Many Requests: retry after {int(wait)}",
                    {"retry_after": max(1, int(wait))},
                )
            message = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": self.chat(chat_id),
                "from": BOT,
                "text": shown,
                "html": call.params.get("text"),
            }
            if call.params.get("reply_markup"):
                message["reply_markup"] = call.params["reply_markup"]
            self.messages[(chat_id, message["message_id"])] = message
        return {k: v for k, v in message.items() if k != "html"}

    def _edited(self, call: Call, change: dict[str, Any]) -> Any:
        key = (int(call.params["chat_id"]), int(call.params["message_id"]))
        with self._lock:
            message = self.messages.get(key)
            if message is None:
                return self._error(call, 400, "Bad Request: message to edit not found")
            message.update(change)
            if "reply_markup" not in call.params:
                message.pop("reply_markup", None)
            return {k: v for k, v in message.items() if k != "html"}

    def _m_editMessageText(self, call: Call) -> Any:
        shown, bad = self._check_text(call, str(call.params.get("text", "")))
        if bad is not None:
            return bad
        change = {"text": shown, "html": call.params.get("text")}
        if call.params.get("reply_markup"):
            change["reply_markup"] = call.params["reply_markup"]
        return self._edited(call, change)

    def _m_editMessageReplyMarkup(self, call: Call) -> Any:
        change = (
            {"reply_markup": call.params["reply_markup"]} if call.params.get("reply_markup") else {}
        )
        return self._edited(call, change)

    def _m_answerCallbackQuery(self, call: Call) -> Any:
        with self._lock:
            self.answers[str(call.params["callback_query_id"])] = call.params
        return True

    def _m_setMyCommands(self, call: Call) -> Any:
        self.commands = list(call.params.get("commands") or [])
        return True

    def _m_getMyCommands(self, call: Call) -> Any:
        return self.commands

    def _m_deleteWebhook(self, call: Call) -> Any:
        self.webhook = {}
        return True

    def _m_setWebhook(self, call: Call) -> Any:
        self.webhook = dict(call.params)
        return True

    def _m_getWebhookInfo(self, call: Call) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    def _m_close(self, call: Call) -> Any:
        return True

    def _m_logOut(self, call: Call) -> Any:
        return True

    async def _m_getUpdates(self, call: Call) -> Any:
        offset = int(call.params.get("offset") or 0)
        timeout = float(call.params.get("timeout") or 0)
        limit = int(call.params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            with self._lock:
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                ready = self.updates[:limit]
            if ready or time.monotonic() >= deadline:
                return ready
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())


def main() -> None:
    """Run as a process (the benchmark): print the base URL, serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--limits", action="store_true", help="429 above Telegram's rates")
    args = parser.parse_args()
    api = FakeBotAPI(port=args.port)
    if args.limits:
        api.limits()

    async def run() -> None:
        cpu_start = time.process_time()
        await api.serve()
        print(api.base_url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # the parent closes stdin to stop us
        ok = [c.at for c in api.calls_of("sendMessage") if c.status == 200]
        cpu = time.process_time() - cpu_start
        print(
            json.dumps(
                {
                    "sent": len(ok),
                    "too_many": api.too_many,
                    "why": api.too_many_why,
                    "calls": len(api.calls),
                    "span": (max(ok) - min(ok)) if len(ok) > 1 else 0.0,
                    "cpu": cpu,
                }
            ),
            flush=True,
        )

    asyncio.run(run())


if __name__ == "__main__":
    main()
