"""What the tests' stand-ins of chat APIs share (tests/fake_bot_api.py for Telegram,
tests/zalo_api.py for Zalo): an aiohttp server on loopback in its own loop (a daemon thread,
or the caller's loop), every call recorded, faults played on demand."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def utf16_len(text: str) -> int:
    """A text's length as the chat APIs count it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200


@dataclass
class Fault:
    kind: str  # what the stand-in plays ("429", "500", "slow", …)
    count: int = 1
    after: int = 0  # calls let through before it strikes
    options: dict[str, Any] = field(default_factory=dict)


class LoopbackServer:
    """Subclasses add their routes in `routes` and answer them."""

    thread_name = "loopback-api"

    def __init__(self, token: str | None = None, host: str = "127.0.0.1", port: int = 0):
        self.token, self.host, self.port = token, host, port  # token None: any is taken
        self.calls: list[Call] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def closing(self) -> None:
        """Called on the server's loop before it stops (close client sessions here)."""

    async def serve(self) -> None:
        """Start listening in the running loop (the caller keeps the loop running)."""
        self.loop = asyncio.get_running_loop()
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> Any:
        """Serve from a daemon thread; returns self once listening."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.serve())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self

    def stop(self) -> None:
        if self.loop is None or self._thread is None:
            return
        loop, runner = self.loop, self._runner

        async def down() -> None:
            await self.closing()
            if runner is not None:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(down(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    def fail(self, method: str, kind: str, count: int = 1, after: int = 0, **options: Any) -> None:
        """The next `count` calls of `method` fail with `kind` (the subclass says which kinds
        it plays); the first `after` calls go through untouched."""
        with self._lock:
            self.faults[method].append(Fault(kind, count, after, options))

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def _error(
        self, call: Call, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> web.Response:
        """Both APIs' error answer: `{"ok": false, "error_code", "description"}`, the HTTP
        status the same as the code (and `parameters`, e.g. `retry_after`, when given)."""
        call.status = status
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.count -= 1
            if fault.count <= 0:
                queue.popleft()
            return fault
