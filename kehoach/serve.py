"""The running engine: `kehoach serve` (clock when leader + dispatch) and `kehoach worker`
(dispatch only). This is the one place that wires store, clock and channels from settings.

Exactly one process runs the clock at a time (kehoach.leadership: a lock that is dropped when
its holder dies, so a successor takes over within `lead_poll` seconds); every process
dispatches (claiming outbox rows is safe with several dispatchers).

    settings = {"KEHOACH_DATABASE_URL": "postgresql+psycopg://…"}   # os.environ at the CLI
    asyncio.run(serve(settings, stop=asyncio.Event(), tick_seconds=60))
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from kehoach import store
from kehoach.clock import Clock, worker_name
from kehoach.leadership import Leadership, leadership_for
from kehoach.store.digest import SETTING as DIGEST_SETTING
from kehoach.store.digest import parse_hour
from notifiers.base import Channel, DeliveryResult, Notification
from notifiers.console import ConsoleChannel

log = logging.getLogger("kehoach.serve")
TELEGRAM = "KEHOACH_TELEGRAM_TOKEN"
LEADER_LINE = "đang giữ đồng hồ"  # the log line a test (or an operator) looks for


def utc_now() -> datetime:
    return datetime.now(UTC)


class OneAtATime(Channel):
    """Forwards to `channel`, one send at a time: the tick job and the dispatch loop run in
    two threads, and a stream channel must not interleave two messages on one line."""

    def __init__(self, channel: Channel):
        self.channel, self.name, self.lock = channel, channel.name, threading.Lock()

    def send(self, notification: Notification) -> DeliveryResult:
        with self.lock:
            return self.channel.send(notification)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def dispatch_loop(engine: Engine, channel: Channel, now: Callable[[], datetime],
                        stop: asyncio.Event, *, poll_seconds: float, limit: int,
                        worker: str) -> int:
    """Send due outbox rows until `stop`; sleeps `poll_seconds` when there is nothing to do."""
    sent = 0
    while not stop.is_set():
        try:
            result = await asyncio.to_thread(store.dispatch, lambda: store.write_session(engine),
                                             channel, now(), limit=limit, worker=worker)
        except Exception as exc:  # noqa: BLE001  the database is away: log, wait, try again
            log.error("gửi tin lỗi: %s", exc)
            await _sleep(stop, poll_seconds)
            continue
        sent += result.sent
        if not result.claimed:
            await _sleep(stop, poll_seconds)
    return sent


async def lead_loop(leadership: Leadership, make_clock: Callable[[], Clock],
                    stop: asyncio.Event, *, poll_seconds: float) -> None:
    """Run the clock while this process holds leadership; try to take it over otherwise."""
    clock: Clock | None = None
    try:
        while not stop.is_set():
            held = await asyncio.to_thread(leadership.try_acquire)
            if held and clock is None:
                log.info("%s (%s): %s", LEADER_LINE, worker_name(), "chạy nhịp bù ngay")
                try:
                    clock = make_clock()
                    clock.start()
                except Exception:
                    log.exception("không khởi động được đồng hồ; nhường quyền và thử lại sau")
                    clock = None
                    await asyncio.to_thread(leadership.release)
            elif not held and clock is not None:
                log.warning("mất quyền giữ đồng hồ; dừng đồng hồ, sẽ thử lại")
                clock.shutdown()
                clock = None
            await _sleep(stop, poll_seconds)
    finally:
        if clock is not None:
            clock.shutdown()
            await asyncio.sleep(0)  # let the scheduler's shutdown run in the loop
        await asyncio.to_thread(leadership.release)


def describe_start(settings: Mapping[str, str], engine: Engine, *, clock: bool) -> list[str]:
    """What `serve` and `worker` print at start, in Vietnamese."""
    role = "máy chủ (đồng hồ khi được giữ quyền + gửi tin)" if clock else "tiến trình gửi tin"
    lines = [f"kehoach {role}, tiến trình {worker_name()}",
             f"Cơ sở dữ liệu: {store.describe(engine)}"]
    if settings.get(TELEGRAM):
        lines.append("Telegram: đã có KEHOACH_TELEGRAM_TOKEN, nhưng kênh Telegram chưa có trong "
                     "bản này; tin được in ra màn hình.")
    else:
        lines.append("Telegram: tắt (chưa đặt KEHOACH_TELEGRAM_TOKEN); tin được in ra màn hình.")
    return lines


async def serve(settings: Mapping[str, str], stop: asyncio.Event, *, clock: bool = True,
                now: Callable[[], datetime] = utc_now, tick_seconds: float = 60.0,
                poll_seconds: float = 1.0, lead_poll: float = 2.0, limit: int = 100,
                channel: Channel | Sequence[Channel] | None = None,
                announce: Callable[[str], None] = print) -> None:
    """Run until `stop` is set. Raises SchemaOutdated (before doing anything) on an old schema,
    DatabaseUnavailable when the database cannot be reached.

    `channel`: the channels to run (default: the console); the first one also takes the
    notifications of units nobody can be reached in."""
    url = store.database_url(settings)
    digest_at = parse_hour(settings.get(DIGEST_SETTING))  # a bad hour is refused before start
    engine = store.make_engine(url)
    try:
        store.check_schema_current(engine)
        for line in describe_start(settings, engine, clock=clock):
            announce(line)
        given = [channel] if isinstance(channel, Channel) else list(channel or ())
        channels = [OneAtATime(c) for c in given or [ConsoleChannel()]]
        worker = worker_name()
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(dispatch_loop(engine, c, now, stop, poll_seconds=poll_seconds,
                                              limit=limit, worker=worker)) for c in channels]
        if clock:
            def make_clock() -> Clock:
                return Clock(engine, url, channels, now, tick_seconds=tick_seconds,
                             dispatch_limit=limit, worker=worker, digest_at=digest_at)
            tasks.append(asyncio.create_task(lead_loop(leadership_for(engine), make_clock, stop,
                                                       poll_seconds=lead_poll)))
        if clock:  # the board and the calendar feeds: in `serve` only (kehoach/web/server.py)
            from kehoach.web.server import board_task
            board = board_task(settings, engine, now, stop, announce)
            if board is not None:
                tasks.append(board)
        await asyncio.gather(*tasks)
    finally:
        engine.dispose()
