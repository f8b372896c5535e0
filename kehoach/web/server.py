"""Running the app under uvicorn inside `kehoach serve`'s event loop (or a test's thread).

The socket is bound here, before uvicorn starts, so a busy port is a clear Vietnamese error
instead of uvicorn's `sys.exit(1)`; uvicorn's own access log is off (it would write feed
tokens; app.AccessLog writes one JSON line per request instead), and signals stay with the
caller's loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import datetime

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from engine.vi import os_reason
from kehoach.settings import BOARD_OFF, Settings, env_name
from kehoach.store.errors import StoreError

from .summary_cache import Refresher

log = logging.getLogger("kehoach.web")


class HttpUnavailable(StoreError):
    """The board cannot listen where it was told to."""


class Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # SIGINT/SIGTERM belong to the caller (kehoach serve sets its stop event)


PORT_SETTING = env_name("http_port")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; HttpUnavailable (in Vietnamese) when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HttpUnavailable(
            f"không mở được trang quản lý ở {host}:{port}: {os_reason(exc)}; "
            f"đặt {PORT_SETTING} để dùng cổng khác, hoặc "
            f"{PORT_SETTING}={BOARD_OFF} để chạy không có trang quản lý"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def make_server(app: FastAPI) -> Server:
    """uvicorn's proxy headers are off: it would believe X-Forwarded-For from loopback; the
    app believes it only from KEHOACH_TRUSTED_PROXIES (app.create_app)."""
    return Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
        )
    )


async def run(app: FastAPI, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve on `sock` until `stop` is set, then finish the requests in flight; meanwhile
    the summaries are kept warm (`kept_warm`)."""
    server = make_server(app)
    warm = kept_warm(app)
    warm.start()
    try:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        await task
    finally:
        await asyncio.to_thread(warm.stop)


def kept_warm(app: FastAPI) -> Refresher:
    """The thread that computes the summary pages' aggregates when the board starts and
    again after each change (summary_cache.Refresher); start() and stop() it."""
    from .pages import warm_pages

    return Refresher(app.state.engine, app.state.now, warm_pages)


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


def json_lines(logger: logging.Logger) -> None:
    """Write the access log to stderr as bare JSON lines (one per request, for log
    collectors), not through the process's human-readable log format."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def login_hint(engine: Engine) -> str:
    """How to log in, or how to make someone able to, in Vietnamese."""
    from sqlalchemy import func, select

    from kehoach import store
    from kehoach.store.models import people_table as p

    from .auth import BOARD_ROLES
    from .demo import kehoach_command

    command = kehoach_command()  # .venv/bin/kehoach when `kehoach` is not on the PATH
    with store.read_session(engine) as session:
        ready = session.execute(
            select(func.count())
            .select_from(p)
            .where(
                p.c.active.is_(True),
                p.c.login.is_not(None),
                p.c.password_hash.is_not(None),
                p.c.board_role.in_([str(r) for r in BOARD_ROLES]),
            )
        ).scalar_one()
    if ready:
        return (
            f"Đăng nhập: {ready} người có tên đăng nhập và mật khẩu; đặt lại mật khẩu bằng "
            f"`{command} person password TÊN-ĐĂNG-NHẬP`."
        )
    return (
        f'Chưa ai đăng nhập được: thêm người bằng `{command} person add "Tên" --unit '
        f"ĐƠN-VỊ --board-role secretary --login thuky`, rồi `{command} person password "
        "thuky`."
    )


def board_task(
    settings: Settings,
    engine: Engine,
    now: Callable[[], datetime],
    stop: asyncio.Event,
    announce: Callable[[str], None],
) -> asyncio.Task[None] | None:
    """Start the board in the running loop (kehoach serve); None, said aloud, when it is off
    on purpose (KEHOACH_HTTP_PORT=off). HttpUnavailable when it cannot listen: a service
    whose board silently went missing is worse than one that refuses to start."""
    from .app import create_app

    if settings.http_port is None:
        announce(f"Trang quản lý: tắt ({PORT_SETTING}={BOARD_OFF}).")
        return None
    host, port = settings.http_host, settings.http_port
    sock = bind(host, port)
    app = create_app(settings, engine, now)
    json_lines(logging.getLogger("kehoach.http"))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    local = f"http://{shown}:{sock.getsockname()[1]}"
    public = settings.public_url or ""
    announce(
        f"Trang quản lý: {local}/"
        + (f" (công khai: {public})" if public and public != local else "")
    )
    announce(login_hint(engine))

    async def serving() -> None:
        try:
            await run(app, sock, stop)
        except Exception:  # the board failing must not stop the clock
            log.exception("trang quản lý dừng vì lỗi")
        finally:
            sock.close()

    return asyncio.create_task(serving())
