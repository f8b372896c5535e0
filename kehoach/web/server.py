"""Running the app under uvicorn inside `kehoach serve`'s event loop (or a test's thread).

The socket is bound here, before uvicorn starts, so a busy port is a clear Vietnamese error
instead of uvicorn's `sys.exit(1)`; uvicorn's own access log is off (it would write feed
tokens; app.AccessLog writes one JSON line per request instead), and signals stay with the
caller's loop.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from kehoach.store.errors import StoreError

HOST_SETTING, PORT_SETTING = "KEHOACH_HTTP_HOST", "KEHOACH_HTTP_PORT"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


class HttpUnavailable(StoreError):
    """The board cannot listen where it was told to."""


class Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # SIGINT/SIGTERM belong to the caller (kehoach serve sets its stop event)


def address(settings: Mapping[str, str]) -> tuple[str, int]:
    """(host, port) from KEHOACH_HTTP_HOST / KEHOACH_HTTP_PORT."""
    host = settings.get(HOST_SETTING) or DEFAULT_HOST
    text = (settings.get(PORT_SETTING) or str(DEFAULT_PORT)).strip()
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise HttpUnavailable(f"{PORT_SETTING}=«{text}» không phải một cổng (0–65535)")
    return host, int(text)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; HttpUnavailable (in Vietnamese) when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HttpUnavailable(f"không mở được trang quản lý ở {host}:{port}: {exc.strerror}; "
                              f"đặt {PORT_SETTING} để dùng cổng khác") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def make_server(app: FastAPI) -> Server:
    return Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                 server_header=False))


async def run(app: FastAPI, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve on `sock` until `stop` is set, then finish the requests in flight."""
    server = make_server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await task


@contextmanager
def background(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yields its base URL (tests, bench)."""
    sock = bind(host, 0)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn stopped while starting")
            threading.Event().wait(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
