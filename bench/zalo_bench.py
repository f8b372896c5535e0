#!/usr/bin/env python3
"""Zalo benchmark: outbox reminders sent to the loopback stand-in of the Zalo Bot API
(tests/zalo_api.py, in its own process), beside bench/telegram_bench.py.

    .venv/bin/python bench/zalo_bench.py               # 10,000 unthrottled + 30 s limited
    .venv/bin/python bench/zalo_bench.py --quick       # 1,000 + 10 s, smoke run
    .venv/bin/python bench/zalo_bench.py --rate 20 --limited-seconds 60 --db sqlite

Side by side in one run (`--chats` linked people, one Zalo chat each, take the messages in
turn):

* channel, unthrottled: `ZaloChannel.send` (plain-text render, the httpx client posting
  sendMessage as JSON) from `--workers` threads, limiter off, no store: messages/s;
* baseline: a plain one-sender loop over one pooled `httpx.Client` posting sendMessage with
  the same texts (a simple script calling the API): messages/s, the channel's ratio to it;
* store.dispatch, unthrottled: the real dispatcher on a fresh SQLite file and a fresh
  PostgreSQL schema, `--workers` dispatcher threads; target ≥ 500/s, as for Telegram;
* limited: the stand-in answers 429 above `--rate` messages a second (the API's limit, also
  the channel's KEHOACH_ZALO_RATE): `--limited-seconds` worth of messages through
  store.dispatch; the achieved rate as a share of the configured rate (first to last
  message, and wall clock with start-up) and the 429s answered (target 0).

Targets are printed with PASS/FAIL, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx
from telegram_bench import CPU, FakeServer, measured, notes, send_all

from notifiers.zalo import Limiter, ZaloChannel
from notifiers.zalo_render import render

TOKEN = "1459232241454765289:BENCH"


def stand_in(rate: float | None = None) -> FakeServer:
    return FakeServer(rate is not None, "zalo_api", ("--rate", str(rate)))


def run_channel(messages: int, chats: int, workers: int) -> dict[str, Any]:
    """The channel alone (render + httpx send), from `workers` threads; no store."""
    server = stand_in()
    channel = ZaloChannel(TOKEN, server.base_url, limiter=Limiter(None))
    try:
        seconds = send_all(channel, notes(messages, chats), workers)
    finally:
        channel.close()
    stats = server.close()
    return {
        "messages": messages,
        "seconds": seconds,
        "rate": messages / seconds,
        "cpu_ms": CPU[0] * 1000 / messages,
        "server_ms": stats["cpu"] * 1000 / messages,
    }


def run_baseline(messages: int, chats: int) -> dict[str, Any]:
    """One sender, a plain loop over one pooled `httpx.Client` posting the same plain texts
    (what a simple script calling the API does, without the channel's threads)."""
    server = stand_in()
    todo = notes(messages, chats)
    url = f"{server.base_url}/bot{TOKEN}/sendMessage"
    with httpx.Client() as client:
        cpu, start = time.process_time(), time.perf_counter()
        for n in todo:
            for text in render(n):
                assert n.person is not None
                client.post(
                    url, json={"chat_id": n.person.address, "text": text}
                ).raise_for_status()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    server.close()
    return {
        "messages": messages,
        "seconds": seconds,
        "rate": messages / seconds,
        "cpu_ms": cpu * 1000 / messages,
    }


def run_dispatch(
    messages: int, chats: int, workers: int, rate: float | None, batch: int, db: str
) -> dict[str, Any]:
    """The real dispatcher to the stand-in (limiting at `rate` when given, the channel's
    limiter at the same rate)."""
    server = stand_in(rate)
    return measured(
        server,
        ZaloChannel(TOKEN, server.base_url, limiter=Limiter(rate)),
        messages,
        chats,
        workers,
        batch,
        db,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--baseline",
        type=int,
        default=None,
        help="messages for the httpx.post baseline (default: a fifth)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=10.0,
        help="the limited run's rate: the stand-in's and KEHOACH_ZALO_RATE",
    )
    parser.add_argument("--limited-seconds", type=float, default=30.0)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 10 s limited")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.limited_seconds = 1_000, 10.0
    baseline = args.baseline or max(200, args.messages // 5)

    print(
        f"Zalo bench on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at "
        f"start: {args.messages:,} reminders to {args.chats} chats, the Zalo stand-in in its "
        f"own process, {args.workers} sender/dispatcher thread(s)"
    )
    fast = run_channel(args.messages, args.chats, args.workers)
    print(
        f"  channel, unthrottled (httpx client): {fast['messages']:>6,} in "
        f"{fast['seconds']:6.2f} s = {fast['rate']:7.1f} msg/s; CPU per message: "
        f"{fast['cpu_ms']:.2f} ms sending, {fast['server_ms']:.2f} ms in the stand-in"
    )
    base = run_baseline(baseline, args.chats)
    print(
        f"  baseline: one httpx.Client, one sender: {base['messages']:>6,} in "
        f"{base['seconds']:6.2f} s = {base['rate']:7.1f} msg/s; {base['cpu_ms']:.2f} ms CPU "
        f"per message"
    )
    slowest = float("inf")
    for db in args.db:
        one = run_dispatch(args.messages, args.chats, args.workers, None, args.batch, db)
        print(
            f"  store.dispatch on {db}, unthrottled: {one['messages']:>6,} in "
            f"{one['seconds']:6.2f} s = {one['rate']:7.1f} msg/s; {one['cpu_ms']:.2f} ms CPU "
            f"per message; deliveries {one['outcomes']}"
        )
        slowest = min(slowest, one["rate"])
    count = int(args.rate * args.limited_seconds)
    slow = run_dispatch(count, args.chats, args.workers, args.rate, 10, args.db[0])
    share, steady = slow["rate"] / args.rate, slow["steady"] / args.rate
    too_many = slow["server"]["too_many"]
    print(
        f"  store.dispatch, stand-in enforcing {args.rate:g}/s: {count:,} in "
        f"{slow['seconds']:6.2f} s = {slow['rate']:5.2f} msg/s = {share:6.1%} of "
        f"{args.rate:g}/s (first to last message: {slow['steady']:5.2f} msg/s = "
        f"{steady:6.1%}); 429 answered: {too_many}; deliveries {slow['outcomes']}"
    )
    print()
    print(f"  channel: {fast['rate'] / base['rate']:.1f}× the one-sender httpx.Client baseline")
    print(
        f"  target ≥ 500 msg/s (dispatch): {'PASS' if slowest >= 500 else 'FAIL'} "
        f"(the slowest store: {slowest:.0f} msg/s)"
    )
    print(
        f"  share of the configured {args.rate:g}/s: {steady:.1%} first to last message "
        f"(the limiter's one-slot margin allows {args.rate / (args.rate + 1):.1%}); "
        f"wall clock with start-up {share:.1%}"
    )
    print(f"  target zero 429:               {'PASS' if too_many == 0 else 'FAIL'}")


if __name__ == "__main__":
    main()
