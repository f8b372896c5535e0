"""The running engine: `kehoach serve` (clock when leader + dispatch) and `kehoach worker`
(dispatch only). This is the one place that wires store, clock and channels from settings.

Exactly one process runs the clock at a time (kehoach.leadership: a lock that is dropped when
its holder dies, so a successor takes over within `lead_poll` seconds); every process
dispatches (claiming outbox rows is safe with several dispatchers), except on a channel with
a `sender_key` (Telegram: a hash of the bot token): one process per key talks to the
service, elected the same way (`sender_loop`). The channels are the registry's
(kehoach/channels.py) whose settings are present.

    settings = {"KEHOACH_DATABASE_URL": "postgresql+psycopg://…"}   # os.environ at the CLI
    asyncio.run(serve(settings, stop=asyncio.Event(), tick_seconds=60))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine

from kehoach import store
from kehoach.channels import REGISTRY, build_all, label, spec
from kehoach.clock import Clock, worker_name
from kehoach.leadership import Leadership, leadership_for
from kehoach.settings import Settings
from notifiers.base import Channel, DeliveryError, DeliveryResult, Notification

log = logging.getLogger("kehoach.serve")
LEADER_LINE = "đang giữ đồng hồ"  # the log line a test (or an operator) looks for
SENDER_LINE = "đang giữ quyền gửi"  # + the channel's label: "… Telegram"
TELEGRAM_LINE = f"{SENDER_LINE} {label('telegram')}"
#: After taking a sender key over, wait this long: Telegram counts the last second, in which
#: the previous holder may still have sent.
SETTLE_SECONDS = 1.1


def utc_now() -> datetime:
    return datetime.now(UTC)


class OneAtATime(Channel):
    """Forwards to `channel`, one send at a time: the tick job and the dispatch loop run in
    two threads, and a stream channel must not interleave two messages on one line."""

    thread_safe = True

    def __init__(self, channel: Channel):
        self.channel, self.name, self.lock = channel, channel.name, threading.Lock()
        self.sender_key, self.limiter = channel.sender_key, channel.limiter

    def send(self, notification: Notification) -> DeliveryResult:
        with self.lock:
            return self.channel.send(notification)

    def close(self) -> None:
        self.channel.close()


class SenderGate(Channel):
    """Forwards to a channel with a `sender_key` while this process holds the key's lock
    (`sender_loop` sets `sending`); the dispatch loop and the clock skip it otherwise
    (`sending` False), and a send that comes anyway is refused before it leaves (deferred a
    second), so no message goes out of a process that does not hold the key."""

    thread_safe = True

    def __init__(self, channel: Channel):
        assert channel.sender_key is not None, channel.name
        self.channel, self.name, self.sender_key = channel, channel.name, channel.sender_key
        self.limiter = channel.limiter
        self.sending, self.busy, self.lock = False, 0, threading.Lock()

    def send(self, notification: Notification) -> DeliveryResult:
        with self.lock:
            if not self.sending:
                raise DeliveryError(
                    f"tiến trình này không giữ quyền gửi {label(self.name)}; gửi lại sau",
                    retry_after=1.0,
                )
            self.busy += 1
        try:
            return self.channel.send(notification)
        finally:
            with self.lock:
                self.busy -= 1

    async def close_gate(self) -> None:
        """Stop sending; returns once no send is in flight."""
        with self.lock:
            self.sending = False
        while self.busy:
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.channel.close()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def dispatch_loop(
    engine: Engine,
    channel: Channel,
    now: Callable[[], datetime],
    stop: asyncio.Event,
    *,
    poll_seconds: float,
    limit: int,
    worker: str,
    fallbacks: Sequence[str] = (),
) -> int:
    """Send due outbox rows until `stop`; sleeps `poll_seconds` when there is nothing to do.
    Returns after the batch in hand is done (its rows are claimed)."""
    sent = 0
    while not stop.is_set():
        try:
            result = await asyncio.to_thread(
                store.dispatch,
                lambda: store.write_session(engine),
                channel,
                now(),
                limit=limit,
                worker=worker,
                fallbacks=fallbacks,
            )
        except Exception as exc:  # noqa: BLE001  the database is away: log, wait, try again
            log.error("gửi tin lỗi: %s", exc)
            await _sleep(stop, poll_seconds)
            continue
        sent += result.sent
        if not result.claimed:
            await _sleep(stop, poll_seconds)
    return sent


async def lead_loop(
    leadership: Leadership,
    make_clock: Callable[[], Clock],
    stop: asyncio.Event,
    *,
    poll_seconds: float,
) -> None:
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
                log.error(
                    "đồng hồ không thức dậy đã %.0f giây; dựng lại bộ hẹn giờ",
                    time.monotonic() - clock.woke,
                )
                clock.shutdown()
                clock = None
            if held and clock is None:
                log.info("%s (%s): %s", LEADER_LINE, worker_name(), "chạy nhịp bù ngay")
                try:
                    clock = make_clock()
                    clock.start()
                except Exception as exc:  # logged; leadership given back
                    if isinstance(exc, store.StoreError):
                        log.error(
                            "không khởi động được đồng hồ (%s); nhường quyền và thử lại sau", exc
                        )
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


async def sender_loop(
    leadership: Leadership,
    gate: SenderGate,
    work: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, Any]]],
    stop: asyncio.Event,
    *,
    poll_seconds: float,
) -> None:
    """Talk to a service for a sender key (Telegram: a bot token) only while this process
    holds the key's lock: then run `work` (the channel's dispatch loops and its bot) until
    `stop` or the lock is lost.

    Why one process per token, not a limiter in the database: Telegram's limits are per bot
    (30 messages/s, 1/s per chat, 20/min per group), and the bot's own answers to presses
    and commands count against them too. One process that sends everything for the token,
    reminders and answers, keeps the in-process `Limiter` (exact, no database round trip
    per message, the same with SQLite and PostgreSQL), and it also makes it the one reader of
    getUpdates (two would make Telegram answer 409). One process sends ≥ 500 messages/s
    unthrottled (bench/telegram_bench.py), far above 30/s: more senders add nothing. The
    others wait and take over within `poll_seconds` (+ SETTLE_SECONDS) when it stops or dies.
    Handing over, the lock is released only once the holder's sends are done; only a group's
    per-minute count is not carried over. With a webhook, the bot listens in whichever
    process holds the token: run those where the webhook's proxy can reach them."""
    session: asyncio.Event | None = None
    running: list[asyncio.Task[Any]] = []

    async def end_session() -> None:
        nonlocal session, running
        if session is not None:
            session.set()
            await asyncio.gather(*running, return_exceptions=True)
        await gate.close_gate()  # a send of the clock's thread in flight ends first
        session, running = None, []

    try:
        while not stop.is_set():
            held = await asyncio.to_thread(leadership.try_acquire)
            if held and session is None:
                log.info("%s %s (%s)", SENDER_LINE, label(gate.name), worker_name())
                await _sleep(stop, SETTLE_SECONDS)
                if stop.is_set():
                    break
                gate.sending, session = True, asyncio.Event()
                running = [asyncio.create_task(w(session)) for w in work]
            elif not held and session is not None:
                log.warning("mất quyền gửi %s; ngừng gửi, sẽ thử lại", label(gate.name))
                gate.sending = False  # at once: another process may be sending now
                await end_session()
            await _sleep(stop, poll_seconds)
    finally:
        await end_session()
        await asyncio.to_thread(leadership.release)


def describe_start(settings: Settings, engine: Engine, *, clock: bool) -> list[str]:
    """What `serve` and `worker` print at start, in Vietnamese."""
    role = "máy chủ (đồng hồ khi được giữ quyền + gửi tin)" if clock else "tiến trình gửi tin"
    lines = [
        f"kehoach {role}, tiến trình {worker_name()}",
        f"Cơ sở dữ liệu: {store.describe(engine)}",
    ]
    # the console's line (what nobody can be reached for) last, the others in registry order
    lines += [s.describe(settings) for s in REGISTRY if s.address_kind is not None]
    lines += [s.describe(settings) for s in REGISTRY if s.address_kind is None]
    if settings.simulated_now:
        lines.append(f"Đồng hồ giả lập: {settings.simulated_now} (chỉ để thử).")
    return lines


def wired_channels(settings: Settings | Mapping[str, str]) -> list[Channel]:
    """The registry's channels whose settings are present (kehoach/channels.py), the console
    first (it takes what nobody can be reached for), each with the board's address."""
    settings = Settings.of(settings)
    channels = build_all(settings)
    for channel in channels:  # the board's address, for the links in messages
        channel.public_url = settings.public_address
    return channels


async def run_bot(
    settings: Settings,
    engine: Engine,
    now: Callable[[], datetime],
    gate: SenderGate,
    channels: Sequence[Channel],
    stop: asyncio.Event,
) -> None:
    """The channel's bot (commands, button presses), when its registry entry has one, in the
    process that holds its sender key, its answers paced by the channel's `limiter`."""
    found = spec(gate.name)
    bot = (
        None
        if found is None or found.bot is None
        else found.bot(settings, engine, now, gate.limiter, [c.name for c in channels])
    )
    if bot is not None:
        await bot.run(stop)


async def serve(
    settings: Settings | Mapping[str, str],
    stop: asyncio.Event,
    *,
    clock: bool = True,
    now: Callable[[], datetime] = utc_now,
    tick_seconds: float = 60.0,
    poll_seconds: float = 1.0,
    lead_poll: float = 2.0,
    limit: int = 100,
    channel: Channel | Sequence[Channel] | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run until `stop` is set. Raises SchemaOutdated (before doing anything) on an old schema,
    DatabaseUnavailable when the database cannot be reached.

    `channel`: the channels to run (default: the console); the first one also takes the
    notifications of units nobody can be reached in."""
    settings = Settings.of(settings)  # a wrong value is refused here, before anything starts
    url = store.database_url(settings.database_url)
    # feeds, bot, messages: one address
    settings = settings.model_copy(update={"public_url": settings.public_address})
    if settings.simulated_now and now is utc_now:
        now = settings.simulated_now.clock()
    engine = store.make_engine(url)
    try:
        store.check_schema_current(engine)
        for line in describe_start(settings, engine, clock=clock):
            announce(line)
        given = [channel] if isinstance(channel, Channel) else list(channel or ())
        channels = [
            c if c.thread_safe else OneAtATime(c) for c in given or wired_channels(settings)
        ]
        channels = [SenderGate(c) if c.sender_key is not None else c for c in channels]
        names = [c.name for c in channels]
        try:
            worker = worker_name()
            board = None
            if clock:  # the board and the feeds: in `serve` only (kehoach/web/server.py), bound
                from kehoach.web.server import board_task  # first: a busy port stops here

                board = board_task(settings, engine, now, stop, announce)

            def sending(c: Channel, stop: asyncio.Event) -> Coroutine[Any, Any, int]:
                return dispatch_loop(
                    engine,
                    c,
                    now,
                    stop,
                    poll_seconds=poll_seconds,
                    limit=limit,
                    worker=worker,
                    fallbacks=names,
                )

            tasks: list[asyncio.Task[Any]] = [
                asyncio.create_task(sending(c, stop))
                for c in channels
                if not isinstance(c, SenderGate)
            ]
            for gate in [c for c in channels if isinstance(c, SenderGate)]:
                # two senders: one's database work (claiming, recording) overlaps the other's
                work: list[Callable[[asyncio.Event], Coroutine[Any, Any, Any]]] = [
                    partial(sending, gate),
                    partial(sending, gate),
                    partial(run_bot, settings, engine, now, gate, channels),
                ]
                tasks.append(
                    asyncio.create_task(
                        sender_loop(
                            leadership_for(engine, gate.sender_key),
                            gate,
                            work,
                            stop,
                            poll_seconds=lead_poll,
                        )
                    )
                )
            if clock:

                def make_clock() -> Clock:
                    return Clock(
                        engine,
                        url,
                        channels,
                        now,
                        tick_seconds=tick_seconds,
                        dispatch_limit=limit,
                        worker=worker,
                        digest_at=settings.digest_hour,
                    )

                tasks.append(
                    asyncio.create_task(
                        lead_loop(leadership_for(engine), make_clock, stop, poll_seconds=lead_poll)
                    )
                )
            if board is not None:
                tasks.append(board)
            await asyncio.gather(*tasks)
        finally:
            for c in channels:  # a channel's own loops and connections (Telegram, e-mail)
                await asyncio.to_thread(c.close)
    finally:
        engine.dispose()
