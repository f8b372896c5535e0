#!/usr/bin/env python3
"""Telegram benchmark: outbox reminders sent to the loopback fake Bot API.

    .venv/bin/python bench/telegram_bench.py                  # 10,000 unthrottled + 30 s limited
    .venv/bin/python bench/telegram_bench.py --quick          # 1,000 + 5 s, smoke run
    .venv/bin/python bench/telegram_bench.py --db sqlite --workers 2 --limited-seconds 60

The fake Bot API (tests/fake_bot_api.py) runs as a separate process on 127.0.0.1; `--chats`
linked people (one private chat each) take the messages in turn. Side by side in one run:

* channel, unthrottled: `TelegramChannel.send` (render, python-telegram-bot's request layer
  posting sendMessage as JSON, notifiers/telegram_http.py's aiohttp) from `--workers`
  threads, limiter off, no store: messages/s; target ≥ 500/s;
* baseline: a plain PTB loop, one sender, `Bot.send_message` on PTB's default HTTP layer
  (httpx `HTTPXRequest`), the same texts and buttons, on a fifth of the messages;
* store.dispatch, unthrottled: the real dispatcher on a fresh SQLite file and a fresh
  PostgreSQL schema (claim 20 rows at a time; per message one transaction recording the
  previous outcome with its delivery row and marking the next row «sending»), `--workers`
  dispatcher threads side by side as `kehoach worker`
  processes would; target ≥ 500/s;
* limited: the server answers 429 above Telegram's limits (30 messages/s overall, 1/s per
  chat), the channel's limiter is on (its default, 29/s): `--limited-seconds` worth of
  messages at 30/s through store.dispatch; the achieved rate as a share of 30/s, wall clock
  (start-up included) and first to last message, and the 429s answered (target 0);
* processes: `kehoach serve` and two `kehoach worker` processes on PostgreSQL sharing one bot
  token (one of them holds the token and sends, kehoach.serve.sender_loop), `--processes`
  reminders to `--chats` chats, the server enforcing the limits as above: the share of
  30/s (first to last message, and from the processes' start to the last row recorded) and
  the 429s answered (target 0).

Targets are printed with PASS/FAIL, never asserted. Figures depend on what else the machine
runs: the channel is CPU-bound on the client side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select

from kehoach import store
from kehoach.store.models import (
    contacts_table,
    deliveries_table,
    outbox_table,
    people_table,
    units_table,
)
from notifiers.base import Channel, Notification, Recipient
from notifiers.telegram import Limiter, TelegramChannel

TOKEN = "123456:BENCH"
NOW = datetime(2025, 5, 23, 1, tzinfo=UTC)
PAYLOAD = {
    "plan_id": "ke-hoach-2025",
    "title": "Báo cáo sơ kết 6 tháng đầu năm",
    "kind": "deadline",
    "event": False,
    "unit": "doan-a",
    "unit_name": "Đoàn phường A",
    "due_at": "2025-05-30T17:00:00+00:00",
    "due_day": "30/05/2025",
    "amount": None,
    "moment": "2025-05-23T01:00:00+00:00",
    "late": False,
    "skipped": 0,
    "status": "sắp đến hạn",
    "days_late": 0,
    "recipient_name": "Đoàn phường A",
}


class FakeServer:
    """tests/fake_bot_api.py (or another stand-in, the module `tests.<module>` with
    `options`) in its own process."""

    def __init__(
        self, limits: bool, module: str = "fake_bot_api", options: tuple[str, ...] = ("--limits",)
    ):
        args = [sys.executable, "-m", f"tests.{module}"]  # from ROOT: `tests` importable
        self.proc = subprocess.Popen(
            args + (list(options) if limits else []),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def close(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        stats = json.loads(self.proc.stdout.readline())
        self.proc.wait(10)
        return dict(stats)


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def database(kind: str, folder: Path) -> tuple[str, Any]:
    """A fresh database: (its URL, a function dropping it)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: None
    from sqlalchemy import create_engine

    admin = create_engine(POSTGRES)
    schema = f"tg_bench_{int(time.time() * 1000)}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    return f"{POSTGRES}?options=-csearch_path%3D{schema}", drop


def fresh_db(url: str, messages: int, chats: int, channel: str = "telegram") -> Any:
    engine = store.make_engine(url)
    store.upgrade(engine)
    with store.write_session(engine) as s:
        s.execute(insert(units_table).values(id="doan-a", name="Đoàn phường A"))
        s.execute(
            insert(people_table),
            [
                {
                    "name": f"Người {i}",
                    "unit_id": "doan-a",
                    "active": True,
                    "created_at": NOW,
                    "board_role": "member",
                }
                for i in range(chats)
            ],
        )
        ids = list(s.execute(select(people_table.c.id).order_by(people_table.c.id)).scalars())
        s.execute(
            insert(contacts_table),
            [
                {"person_id": pid, "channel": channel, "address": str(10_000 + i), "linked_at": NOW}
                for i, pid in enumerate(ids)
            ],
        )
        s.execute(
            insert(outbox_table),
            [
                {
                    "idempotency_key": f"bench|{i}",
                    "step_id": None,
                    "person_id": ids[i % chats],
                    "unit_id": "doan-a",
                    "channel": channel,
                    "purpose": "reminder",
                    "level": 0,
                    "payload": {
                        **PAYLOAD,
                        "step_id": f"ke-hoach-2025/bao-cao/{i}",
                        "person_name": f"Người {i % chats}",
                    },
                    "state": "pending",
                    "attempts": 0,
                    "not_before": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(messages)
            ],
        )
    return engine


def drain(engine: Any, channel: Channel, workers: int, batch: int) -> float:
    """`store.dispatch` in `workers` threads until nothing is due; the seconds it took."""

    def work(name: str) -> None:
        while store.dispatch(
            lambda: store.write_session(engine), channel, NOW, limit=batch, worker=name
        ).claimed:
            pass

    return threaded(work, workers)


CPU: list[float] = []  # the bench process's CPU seconds of the last `threaded` run


def threaded(work: Any, workers: int) -> float:
    threads = [threading.Thread(target=work, args=(f"bench-{i}",)) for i in range(workers)]
    cpu = time.process_time()
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    CPU[:] = [time.process_time() - cpu]
    return time.perf_counter() - start


def send_all(channel: Channel, todo: list[Notification], workers: int) -> float:
    """`channel.send` of every notification in `todo` from `workers` threads (no store);
    the seconds it took."""
    lock = threading.Lock()

    def work(name: str) -> None:
        while True:
            with lock:
                if not todo:
                    return
                n = todo.pop()
            channel.send(n)

    return threaded(work, workers)


def notes(messages: int, chats: int) -> list[Notification]:
    return [
        Notification(
            i,
            f"bench|{i}",
            "doan-a",
            "reminder",
            0,
            {**PAYLOAD, "step_id": f"ke-hoach-2025/bao-cao/{i}"},
            1,
            Recipient(i % chats, f"Người {i % chats}", str(10_000 + i % chats)),
        )
        for i in range(messages)
    ]


def outcomes(engine: Any) -> dict[str, int]:
    with store.read_session(engine) as s:
        return dict(
            s.execute(
                select(deliveries_table.c.outcome, func.count()).group_by(
                    deliveries_table.c.outcome
                )
            ).all()
        )


def run_channel(messages: int, chats: int, workers: int, http: str) -> dict[str, Any]:
    """The channel alone (render + PTB send), from `workers` threads; no store."""
    server = FakeServer(False)
    channel = TelegramChannel(TOKEN, server.base_url, limiter=Limiter(None), http=http)
    todo = notes(messages, chats)
    for _w in range(workers):  # each thread's Bot says getMe once: not timed
        threading.Thread(target=channel.send, args=(todo.pop(),)).start()
    time.sleep(1.0)

    try:
        count = len(todo)
        seconds = send_all(channel, todo, workers)
    finally:
        channel.close()
    stats = server.close()
    return {
        "messages": count,
        "seconds": seconds,
        "rate": count / seconds,
        "server": stats,
        "cpu_ms": CPU[0] * 1000 / count,
        "server_ms": stats["cpu"] * 1000 / count,
    }


def run_plain_ptb(messages: int, chats: int) -> dict[str, Any]:
    """The baseline: what a plain PTB bot sending in a loop does, one sender, PTB's default
    httpx layer, `Bot.send_message` (its answer built into a `Message`), the same texts and
    buttons as the channel (rendered in the loop)."""
    from telegram import Bot, LinkPreviewOptions
    from telegram.constants import ParseMode
    from telegram.request import HTTPXRequest

    from notifiers.telegram import markup
    from notifiers.telegram_render import render

    server = FakeServer(False)
    todo = notes(messages, chats)

    async def loop() -> float:
        async with Bot(TOKEN, base_url=server.base_url, request=HTTPXRequest()) as bot:
            cpu, start = time.process_time(), time.perf_counter()
            for n in todo:
                for part in render(n):
                    await bot.send_message(
                        int(n.person.address),  # type: ignore[union-attr,arg-type]
                        part.text,
                        parse_mode=ParseMode.HTML,
                        reply_markup=markup(part.buttons),
                        link_preview_options=LinkPreviewOptions(is_disabled=True),
                    )
            CPU[:] = [time.process_time() - cpu]
            return time.perf_counter() - start

    seconds = asyncio.run(loop())
    stats = server.close()
    return {
        "messages": messages,
        "seconds": seconds,
        "rate": messages / seconds,
        "server": stats,
        "cpu_ms": CPU[0] * 1000 / messages,
    }


def run_dispatch(
    messages: int, chats: int, workers: int, limits: bool, batch: int, db: str = "sqlite"
) -> dict[str, Any]:
    """The real dispatcher: claim, send, delivery row and outbox update per message."""
    server = FakeServer(limits)
    return measured(
        server,
        TelegramChannel(TOKEN, server.base_url, limiter=Limiter() if limits else Limiter(None)),
        messages,
        chats,
        workers,
        batch,
        db,
    )


def measured(
    server: FakeServer,
    channel: Channel,
    messages: int,
    chats: int,
    workers: int,
    batch: int,
    db: str,
) -> dict[str, Any]:
    """store.dispatch of `messages` fresh reminders on `channel` (closed after) to `server`
    (closed after), on a fresh `db`: the rates, the deliveries, the server's figures."""
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database(db, Path(folder))
        engine = fresh_db(url, messages, chats, channel.name)
        try:
            seconds = drain(engine, channel, workers, batch)
        finally:
            channel.close()
        seen = outcomes(engine)
        engine.dispose()
        drop()
    stats = server.close()
    steady = (stats["sent"] - 1) / stats["span"] if stats["span"] else 0.0
    return {
        "messages": messages,
        "seconds": seconds,
        "rate": messages / seconds,
        "steady": steady,
        "outcomes": seen,
        "server": stats,
        "cpu_ms": CPU[0] * 1000 / messages,
    }


def limited(args: argparse.Namespace) -> tuple[int, float, float]:
    """The run under Telegram's limits: (429s answered, steady share, wall-clock share)."""
    limited_n = int(30 * args.limited_seconds)
    # small batches: every dispatcher thread stays busy to the end (the limiter paces them)
    slow = run_dispatch(limited_n, args.chats, args.workers, True, 10, args.db[0])
    share, steady = slow["rate"] / 30.0, slow["steady"] / 30.0
    too_many = slow["server"]["too_many"]
    print(
        f"  store.dispatch, server enforcing 30/s and 1/s per chat: {limited_n:,} in "
        f"{slow['seconds']:6.2f} s = {slow['rate']:5.2f} msg/s = {share:6.1%} of 30/s "
        f"(first to last message: {slow['steady']:5.2f} msg/s = {steady:6.1%}); "
        f"429 answered: {too_many} {slow['server']['why']}; deliveries {slow['outcomes']}"
    )
    return too_many, steady, share


def run_processes(messages: int, chats: int, db: str = "postgresql") -> dict[str, Any]:
    """`kehoach serve` + two `kehoach worker` processes, one token, the server enforcing
    Telegram's limits; until every row is sent (or two minutes without progress)."""
    import socket

    server = FakeServer(True)
    kehoach = str(Path(sys.executable).parent / "kehoach")
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database(db, Path(folder))
        engine = fresh_db(url, messages, chats)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "KEHOACH_DATABASE_URL": url,
            "KEHOACH_TELEGRAM_TOKEN": TOKEN,
            "KEHOACH_TELEGRAM_BASE_URL": server.base_url,
            "KEHOACH_HTTP_PORT": str(port),
        }
        env.pop("KEHOACH_SMTP_HOST", None)
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [kehoach, role, "--poll-seconds", "0.2"],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for role in ("serve", "worker", "worker")
        ]
        done, last, progress = 0, -1, time.perf_counter()
        try:
            while done < messages and time.perf_counter() - progress < 120:
                time.sleep(0.2)
                with store.read_session(engine) as s:
                    done = s.execute(
                        select(func.count())
                        .select_from(outbox_table)
                        .where(outbox_table.c.state == "sent")
                    ).scalar_one()
                if done != last:
                    last, progress = done, time.perf_counter()
            seconds = time.perf_counter() - start
        finally:
            for proc in procs:
                proc.terminate()
            codes = [proc.wait(60) for proc in procs]
        seen = outcomes(engine)
        engine.dispose()
        drop()
    stats = server.close()
    steady = (stats["sent"] - 1) / stats["span"] if stats["span"] else 0.0
    return {
        "messages": messages,
        "sent": done,
        "seconds": seconds,
        "rate": done / seconds,
        "steady": steady,
        "outcomes": seen,
        "server": stats,
        "codes": codes,
    }


def processes(args: argparse.Namespace) -> tuple[int, float, bool]:
    """The multi-process run: (429s answered, steady share of 30/s, all delivered)."""
    run = run_processes(args.processes, args.chats)
    share, steady = run["rate"] / 30.0, run["steady"] / 30.0
    print(
        f"  serve + 2 workers on PostgreSQL, one token, server enforcing 30/s and 1/s per "
        f"chat: {run['sent']:,}/{run['messages']:,} sent in {run['seconds']:6.2f} s from the "
        f"processes' start = {share:6.1%} of 30/s (first to last message: "
        f"{run['steady']:5.2f} msg/s = {steady:6.1%}); 429 answered: "
        f"{run['server']['too_many']} {run['server']['why']}; deliveries {run['outcomes']}; "
        f"exit codes {run['codes']}"
    )
    return run["server"]["too_many"], steady, run["sent"] == run["messages"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--baseline",
        type=int,
        default=None,
        help="messages for the httpx baseline (default: a fifth)",
    )
    parser.add_argument("--limited-seconds", type=float, default=30.0)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--db",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
        help="stores for the dispatch runs (PostgreSQL: a fresh schema on "
        "127.0.0.1, dropped after)",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 5 s limited")
    parser.add_argument(
        "--limited-only", action="store_true", help="only the run under Telegram's limits"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1_000,
        help="reminders for serve + 2 workers sharing one token (0: skip)",
    )
    parser.add_argument(
        "--processes-only", action="store_true", help="only the serve + 2 workers run"
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.limited_seconds, args.processes = 1_000, 5.0, 150
    baseline = args.baseline or max(200, args.messages // 5)

    load = os.getloadavg()[0]
    print(
        f"Telegram bench on {os.cpu_count()} CPUs, load average {load:.1f} at start: "
        f"{args.messages:,} reminders to {args.chats} chats, fake Bot API "
        f"in its own process, {args.workers} sender/dispatcher thread(s)"
    )
    if args.limited_only:
        limited(args)
        return
    if args.processes_only:
        many_429, _many_steady, all_sent = processes(args)
        print(
            f"  target zero 429, all sent (serve + 2 workers): "
            f"{'PASS' if many_429 == 0 and all_sent else 'FAIL'}"
        )
        return
    fast = run_channel(args.messages, args.chats, args.workers, "aiohttp")
    print(
        f"  channel, unthrottled (PTB on aiohttp): {fast['messages']:>6,} in "
        f"{fast['seconds']:6.2f} s = {fast['rate']:7.1f} msg/s; "
        f"CPU per message: {fast['cpu_ms']:.2f} ms sending, {fast['server_ms']:.2f} ms in the "
        f"fake Bot API"
    )
    base = run_plain_ptb(baseline, args.chats)
    print(
        f"  baseline: plain PTB send_message (httpx), one sender: {base['messages']:>6,} in "
        f"{base['seconds']:6.2f} s = {base['rate']:7.1f} msg/s; "
        f"{base['cpu_ms']:.2f} ms CPU per message"
    )
    slowest = float("inf")  # the dispatch target holds for every store run
    for db in args.db:
        one = run_dispatch(args.messages, args.chats, args.workers, False, args.batch, db)
        print(
            f"  store.dispatch on {db}, unthrottled: {one['messages']:>6,} in "
            f"{one['seconds']:6.2f} s = {one['rate']:7.1f} msg/s; {one['cpu_ms']:.2f} ms CPU per "
            f"message; deliveries {one['outcomes']}"
        )
        slowest = min(slowest, one["rate"])
    too_many, steady, share = limited(args)
    many = processes(args) if args.processes else None
    print()
    print(
        f"  target ≥ 500 msg/s (channel):  {'PASS' if fast['rate'] >= 500 else 'FAIL'} "
        f"({fast['rate'] / base['rate']:.1f}× the PTB-httpx one-sender baseline; CPU-bound "
        f"ceiling with a free core each side: {1000 / max(fast['cpu_ms'], fast['server_ms']):.0f}"
        f" msg/s)"
    )
    print(
        f"  target ≥ 500 msg/s (dispatch): {'PASS' if slowest >= 500 else 'FAIL'} "
        f"(the slowest store: {slowest:.0f} msg/s)"
    )
    print(
        f"  target ≥ 95 % of 30/s:         {'PASS' if steady >= 0.95 else 'FAIL'} "
        f"(first to last message; wall clock with start-up: {share:.1%})"
    )
    print(f"  target zero 429:               {'PASS' if too_many == 0 else 'FAIL'}")
    if many is not None:
        print(
            f"  serve + 2 workers, one token:  "
            f"{'PASS' if many[0] == 0 and many[2] else 'FAIL'} (zero 429, all sent; "
            f"{many[1]:.1%} of 30/s first to last message)"
        )


if __name__ == "__main__":
    main()
