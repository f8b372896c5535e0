"""A Zalo Bot API server on loopback, for tests and the benchmark (aiohttp, its own loop in a
thread, or its own process: `python -m tests.zalo_api --rate 10`).

Strict about what the documentation says (docs/zalo.md): `POST /bot<TOKEN>/<method>` only, a
JSON body, a wrong token answered 401; sendMessage needs `chat_id` and `text` (strings), the
text 1 to 2,000 characters; every error is `{"ok": false, "error_code", "description"}`;
getUpdates returns ONE update (`{"event_name", "message"}`) or 408 when none came within its
`timeout`, and refuses while a webhook is set; setWebhook needs an HTTPS `url` (loopback
http is the one exception, for tests) and a `secret_token` of 8 to 256 characters, sent back
in the `X-Bot-Api-Secret-Token` header of every update POSTed to the webhook.

Where the documentation is silent it plays what a careful client must survive:

    api = FakeZaloAPI(token="123:abc").start()
    api.fail("sendMessage", "500", count=2)   # also "429" (retry_after=…), "slow" (seconds=…),
                                              # "drop" (the connection cut after the request)
    api.block("u1")                           # the user blocked the bot: 403 from now on
    api.limits(rate=10)                       # 429 above 10 sendMessage a second
    api.message("u1", "1")                    # the user writes to the bot (queued or POSTed)
    api.sent()                                # the sendMessage calls that succeeded
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
from collections import deque
from typing import Any
from urllib.parse import urlparse

import aiohttp
from aiohttp import web

from tests.loopback import Call, Fault, LoopbackServer, utf16_len

TOKEN = "1459232241454765289:zalo-TEST-token"  # the tests' bot (a token's shape)
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000
BOT = {
    "id": "1459232241454765289",
    "account_name": "bot.KeHoach",
    "account_type": "BASIC",
    "can_join_groups": False,
}


class FakeZaloAPI(LoopbackServer):
    thread_name = "fake-zalo-api"

    def __init__(self, token: str | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(token, host, port)
        self.updates: deque[dict[str, Any]] = deque()
        self.blocked: set[str] = set()
        self.known: set[str] | None = None  # None: any chat id is a user of the bot
        self.webhook: dict[str, Any] = {}
        self.webhook_answers: list[int] = []  # the status our webhook POSTs got
        self.rate: float | None = None
        self.accepted: deque[float] = deque()
        self.too_many = 0  # 429 answered because of the rate limit
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None

    # ── the server ──────────────────────────────────────────────────────────────────────────
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    async def closing(self) -> None:
        if self._http is not None:
            await self._http.close()

    # ── what the tests say ──────────────────────────────────────────────────────────────────
    def limits(self, rate: float) -> None:
        """Answer 429 above `rate` sendMessage calls in any second."""
        self.rate = rate

    def block(self, chat_id: str) -> None:
        with self._lock:
            self.blocked.add(chat_id)

    def users(self, *chat_ids: str) -> None:
        """Only these chats (and those who write to the bot) exist; sendMessage to another
        one is 400 "chat not found"."""
        with self._lock:
            self.known = set(chat_ids) | (self.known or set())

    def sent(self) -> list[dict[str, Any]]:
        with self._lock:
            return [c.params for c in self.calls if c.method == "sendMessage" and c.status == 200]

    def texts_to(self, chat_id: str) -> list[str]:
        return [m["text"] for m in self.sent() if m["chat_id"] == chat_id]

    def message(self, chat_id: str, text: str, name: str = "Người dùng") -> dict[str, Any]:
        """The user `chat_id` writes `text` to the bot: an update queued for getUpdates, or
        POSTed to the webhook when one is set (from the server's loop, as Zalo would)."""
        update = {
            "event_name": "message.text.received",
            "message": {
                "message_id": f"m{next(self._ids)}",
                "date": int(time.time() * 1000),
                "text": text,
                "chat": {"id": chat_id, "chat_type": "PRIVATE"},
                "from": {"id": chat_id, "display_name": name, "is_bot": False},
            },
        }
        with self._lock:
            if self.known is not None:
                self.known.add(chat_id)
            hook = dict(self.webhook)
            if not hook:
                self.updates.append(update)
        assert self.loop is not None
        if hook:
            asyncio.run_coroutine_threadsafe(self._post_webhook(hook, update), self.loop)
        elif self._new_update is not None:
            self.loop.call_soon_threadsafe(self._new_update.set)
        return update

    async def _post_webhook(self, hook: dict[str, Any], update: dict[str, Any]) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        try:
            async with self._http.post(
                hook["url"], json=update, headers={SECRET_HEADER: hook["secret_token"]}
            ) as res:
                status = res.status
        except aiohttp.ClientError:
            status = 0
        with self._lock:
            self.webhook_answers.append(status)

    # ── the methods ─────────────────────────────────────────────────────────────────────────
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        bad = None
        if request.can_read_body:
            try:
                raw = await request.json()
                params = raw if isinstance(raw, dict) else {}
                bad = None if isinstance(raw, dict) else "body must be a JSON object"
            except (json.JSONDecodeError, UnicodeDecodeError):
                bad = "body must be JSON"
        call = Call(method, params, arrived)
        with self._lock:
            self.calls.append(call)
        if request.method != "POST":
            return self._error(call, 405, "Method Not Allowed")
        if self.token is not None and request.match_info["token"] != self.token:
            return self._error(call, 401, "Unauthorized")
        if bad:
            return self._error(call, 400, f"Bad Request: {bad}")
        fault = self._take_fault(method)
        if fault is not None:
            answer = await self._faulty(call, fault, request)
            if answer is not None:
                return answer
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(call, 404, "Not Found: method not found")
        result = await handler(call) if method == "getUpdates" else handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _faulty(
        self, call: Call, fault: Fault, request: web.Request
    ) -> web.StreamResponse | None:
        opts = fault.options
        if fault.kind == "429":
            after = int(opts.get("retry_after", 1))
            return self._error(call, 429, "Too Many Requests", {"retry_after": after})
        if fault.kind == "500":
            return self._error(call, int(opts.get("status", 500)), "Internal Server Error")
        if fault.kind == "drop":  # the request arrived (and is done), the answer never leaves
            result = self._m_sendMessage(call) if call.method == "sendMessage" else None
            call.status = 200 if not isinstance(result, web.Response) else call.status
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError
        if fault.kind == "slow":
            await asyncio.sleep(float(opts.get("seconds", 5)))
        return None

    def _over_limit(self, now: float) -> bool:
        if self.rate is None:
            return False
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.rate:
            return True
        self.accepted.append(now)
        return False

    def _m_getMe(self, call: Call) -> Any:
        return BOT

    def _m_sendMessage(self, call: Call) -> Any:
        chat, text = call.params.get("chat_id"), call.params.get("text")
        if not isinstance(chat, str) or not chat:
            return self._error(call, 400, "Bad Request: chat_id is required (a string)")
        if not isinstance(text, str) or not text:
            return self._error(call, 400, "Bad Request: text is required (a string)")
        if utf16_len(text) > MAX_TEXT:
            return self._error(call, 400, "Bad Request: text must be 1 to 2000 characters")
        with self._lock:
            if chat in self.blocked:
                return self._error(call, 403, "Forbidden: the user has blocked the bot")
            if self.known is not None and chat not in self.known:
                return self._error(call, 400, "Bad Request: chat not found")
            if self._over_limit(call.at):
                self.too_many += 1
                return self._error(call, 429, "Too Many Requests", {"retry_after": 1})
        return {"message_id": f"z{next(self._ids)}", "date": int(time.time() * 1000)}

    def _m_setWebhook(self, call: Call) -> Any:
        url, secret = call.params.get("url"), call.params.get("secret_token")
        parsed = urlparse(url if isinstance(url, str) else "")
        loopback = parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost")
        if parsed.scheme != "https" and not loopback:
            return self._error(call, 400, "Bad Request: url must be HTTPS")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return self._error(call, 400, "Bad Request: secret_token must be 8 to 256 characters")
        with self._lock:
            self.webhook = {"url": url, "secret_token": secret}
        return {"url": url, "updated_at": int(time.time() * 1000)}

    def _m_deleteWebhook(self, call: Call) -> Any:
        with self._lock:
            self.webhook = {}
        return {"url": "", "updated_at": int(time.time() * 1000)}

    def _m_getWebhookInfo(self, call: Call) -> Any:
        return {"url": self.webhook.get("url", ""), "updated_at": int(time.time() * 1000)}

    async def _m_getUpdates(self, call: Call) -> Any:
        if self.webhook:
            return self._error(call, 409, "Conflict: a webhook is set; delete it first")
        raw = call.params.get("timeout", "30")
        try:
            timeout = float(raw)
        except (TypeError, ValueError):
            return self._error(call, 400, "Bad Request: timeout must be a number of seconds")
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            with self._lock:
                update = self.updates.popleft() if self.updates else None
            if update is not None:
                return update
            left = deadline - time.monotonic()
            if left <= 0:
                return self._error(call, 408, "Request timeout")
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), left)


def main() -> None:
    """As a process (the benchmark): print the base URL, serve until stdin closes, then print
    what was sent as JSON (as tests/fake_bot_api.py does)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=None, help="429 above this many a second")
    args = parser.parse_args()
    api = FakeZaloAPI()
    if args.rate:
        api.limits(args.rate)

    async def run() -> None:
        cpu = time.process_time()
        await api.serve()
        print(api.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        ok = [c.at for c in api.calls_of("sendMessage") if c.status == 200]
        print(
            json.dumps(
                {
                    "sent": len(ok),
                    "too_many": api.too_many,
                    "why": {},
                    "span": (max(ok) - min(ok)) if len(ok) > 1 else 0.0,
                    "cpu": time.process_time() - cpu,
                }
            ),
            flush=True,
        )

    asyncio.run(run())


if __name__ == "__main__":
    main()
