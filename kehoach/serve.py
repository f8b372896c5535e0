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
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
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
SIMULATED = "KEHOACH_SIMULATED_NOW"
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
    """Run the clock while this process holds leadership; try to take it over otherwise.

    The watchdog: a clock whose scheduler stopped waking up (Clock.stalled: APScheduler's job
    store write failed, a full disk) is shut down and built again; a clock that cannot start
    (the database still cannot be written) gives leadership back and is tried again at the
    next poll."""
    clock: Clock | None = None
    try:
        while not stop.is_set():
            held = await asyncio.to_thread(leadership.try_acquire)
            if clock is not None and held and clock.stalled():
                log.error("đồng hồ không thức dậy đã %.0f giây; dựng lại bộ hẹn giờ",
                          time.monotonic() - clock.woke)
                clock.shutdown()
                clock = None
            if held and clock is None:
                log.info("%s (%s): %s", LEADER_LINE, worker_name(), "chạy nhịp bù ngay")
                try:
                    clock = make_clock()
                    clock.start()
                except Exception as exc:  # logged; leadership given back
                    if isinstance(exc, store.StoreError):
                        log.error("không khởi động được đồng hồ (%s); nhường quyền và thử lại "
                                  "sau", exc)
                    else:
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
        mode = ("webhook " + settings["KEHOACH_TELEGRAM_WEBHOOK_URL"]
                if settings.get("KEHOACH_TELEGRAM_WEBHOOK_URL") else "long polling")
        bot = f"; bot nhận lệnh và nút bấm ({mode})" if clock else \
            "; bot chạy trong `kehoach serve`, không ở đây"
        lines.append(f"Telegram: bật (gửi tin cho người đã liên kết{bot}).")
    else:
        lines.append("Telegram: tắt (chưa đặt KEHOACH_TELEGRAM_TOKEN).")
    if settings.get("KEHOACH_SMTP_HOST"):
        lines.append(f"Thư điện tử: bật (SMTP {settings['KEHOACH_SMTP_HOST']}).")
    else:
        lines.append("Thư điện tử: tắt (chưa đặt KEHOACH_SMTP_HOST).")
    lines.append("Tin cho đơn vị chưa ai nhận được: in ra màn hình.")
    if settings.get(SIMULATED):
        lines.append(f"Đồng hồ giả lập: {settings[SIMULATED]} (chỉ để thử).")
    return lines


def simulated_clock(value: str) -> Callable[[], datetime]:
    """KEHOACH_SIMULATED_NOW="2022-05-18T08:59:50+07:00*60": the time starts there when the
    process starts and runs 60 times as fast (default 1). For trying a plan out and for the
    end-to-end tests; never set in production."""
    from kehoach.settings import SettingsError
    start_text, _, speed_text = value.partition("*")
    try:
        start = datetime.fromisoformat(start_text.strip())
        speed = float(speed_text or 1)
    except ValueError:
        start, speed = None, 0.0
    if start is None or start.tzinfo is None or speed <= 0:
        raise SettingsError(f"{SIMULATED}: «{value}» không hợp lệ; cần thời điểm có múi giờ và "
                            "tốc độ dương, ví dụ 2022-05-18T09:00+07:00*60")
    began = time.monotonic()
    return lambda: (start + timedelta(seconds=(time.monotonic() - began) * speed)).astimezone(UTC)


def wired_channels(settings: Mapping[str, str], engine: Engine,
                   now: Callable[[], datetime] = utc_now) -> list[Channel]:
    """The console (first: it takes what nobody can be reached for), then Telegram and
    e-mail when their settings are there."""
    channels: list[Channel] = [ConsoleChannel()]
    from notifiers.email import EmailChannel
    email = EmailChannel.from_settings(settings)  # None without KEHOACH_SMTP_HOST
    if settings.get(TELEGRAM):
        from notifiers.telegram import TelegramChannel
        from notifiers.telegram_links import mark_lost

        def lost(notification: Notification, reason: str) -> None:
            person = notification.person
            if person is None or person.telegram_chat_id is None:
                return
            with store.write_session(engine) as session:
                queued = mark_lost(session, person.id, person.telegram_chat_id, now(),
                                   reason, outbox_id=notification.id,
                                   email_running=email is not None)
            log.warning("Telegram từ chối chat của %s (%s): đã tắt liên kết%s", person.name,
                        reason, ", gửi lại bằng thư" if queued else "")
        channels.append(TelegramChannel.from_settings(settings, on_lost=lost))  # type: ignore[arg-type]
    if email is not None:
        channels.append(email)
    return channels


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
    if settings.get(SIMULATED) and now is utc_now:
        now = simulated_clock(settings[SIMULATED])
    digest_at = parse_hour(settings.get(DIGEST_SETTING))  # a bad hour is refused before start
    engine = store.make_engine(url)
    try:
        store.check_schema_current(engine)
        for line in describe_start(settings, engine, clock=clock):
            announce(line)
        given = [channel] if isinstance(channel, Channel) else list(channel or ())
        channels = [c if getattr(c, "thread_safe", False) else OneAtATime(c)
                    for c in given or wired_channels(settings, engine, now)]
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
            if settings.get(TELEGRAM):  # the bot: in `serve` only (one getUpdates reader)
                from notifiers.telegram_bot import KehoachBot
                shared = next((c.limiter for c in channels if c.name == "telegram"
                               and hasattr(c, "limiter")), None)  # one set of limits
                bot = KehoachBot.from_settings(settings, engine, now=now, limiter=shared,
                                               channels=[c.name for c in channels])
                if bot is not None:
                    tasks.append(asyncio.create_task(bot.run(stop)))
        if clock:  # the board and the calendar feeds: in `serve` only (kehoach/web/server.py)
            from kehoach.web.server import board_task
            board = board_task(settings, engine, now, stop, announce)
            if board is not None:
                tasks.append(board)
        await asyncio.gather(*tasks)
    finally:
        for c in channels if "channels" in locals() else []:
            close = getattr(getattr(c, "channel", c), "close", None)
            if callable(close):  # a channel's own loops and connections (Telegram, e-mail)
                await asyncio.to_thread(close)
        engine.dispose()
