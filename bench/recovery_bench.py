#!/usr/bin/env python3
"""Recovery benchmark: how long delivery takes to recover from a killed sender and from a
database outage (issue 11).

    .venv/bin/python bench/recovery_bench.py                      # 4,000 reminders, both stores
    .venv/bin/python bench/recovery_bench.py --db sqlite --messages 2000
    .venv/bin/python bench/recovery_bench.py --outage-seconds 15  # PostgreSQL only

A real `kehoach worker` process sends `--messages` reminders to the loopback Bot API
(tests/fake_bot_api.py, unthrottled; the worker's limiter off, as in
tests/test_delivery_processes.py, whose launcher, proxy and queue it reuses):

* kill: SIGKILL at a third, a new worker started at once. Printed: the seconds from the
  restart to the last reminder sent, the part of it that is waiting (that time minus what
  the remaining messages take at the rate measured before the kill: mostly CLAIM_LEASE, after
  which the dead worker's untried claims are sent), the rows parked unknown (the send in
  flight) and any key delivered twice (target 0);
* outage (PostgreSQL): the worker's connection goes through a TCP proxy, stopped for
  `--outage-seconds` at a quarter and started again. Printed: the seconds from the database's
  return to the next message sent and to the outcome held in memory being recorded, the time
  to finish, lost and doubled keys (target 0 and 0).

Figures depend on the machine's load; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from telegram_bench import database

from kehoach import store
from kehoach.store.dispatch import CLAIM_LEASE, LEASE, release_stale_claims
from tests import test_delivery_processes as proc
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram_bot import TOKEN


def wait(condition, seconds: float = 300.0) -> float:  # type: ignore[no-untyped-def]
    """Poll `condition` every 20 ms; the monotonic moment it became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)
    raise SystemExit("timed out")


def doubled(api: FakeBotAPI) -> int:
    return sum(n > 1 for n in proc.delivered(api).values())


def kill(kind: str, messages: int) -> None:
    api = FakeBotAPI(token=TOKEN).start()
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database(kind, Path(folder))
        engine = store.make_engine(url)
        store.upgrade(engine)
        proc.MESSAGES = messages
        proc.enqueue(engine)
        first = proc.Worker(url, api, Path(folder), "first")
        began = wait(lambda: len(api.sent()) >= 1)
        at_kill = wait(lambda: len(api.sent()) >= messages // 3)
        first.kill()
        sent = len(api.sent())
        rate = sent / (at_kill - began)
        in_flight = proc.states(engine)["sending"]
        restart = time.monotonic()
        second = proc.Worker(url, api, Path(folder), "second")
        done = wait(lambda: proc.settled(engine))
        second.stop()
        with store.write_session(engine) as s:
            release_stale_claims(s, datetime.now(UTC), datetime.now(UTC) + 2 * LEASE)
        final = proc.states(engine)
        took = done - restart
        print(
            f"  kill -9 on {kind}: {messages:,} reminders, killed after {sent:,} "
            f"({rate:.0f} msg/s); restart → all sent: {took:.2f} s, of which waiting "
            f"{max(0.0, took - (messages - sent) / rate):.2f} s (claim lease "
            f"{CLAIM_LEASE.total_seconds():.0f} s); in flight at the kill {in_flight}, "
            f"unknown {final['unknown']}, sent {final['sent']:,}, doubled {doubled(api)}"
        )
        engine.dispose()
        drop()
    api.stop()


def outage(messages: int, seconds: float) -> None:
    api = FakeBotAPI(token=TOKEN).start()
    with tempfile.TemporaryDirectory() as folder:
        url, drop = database("postgresql", Path(folder))
        engine = store.make_engine(url)
        store.upgrade(engine)
        proc.MESSAGES = messages
        proc.enqueue(engine)
        port = engine.url.port or 5432
        proxy = proc.Proxy(port).start()
        worker = proc.Worker(
            url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}"), api, Path(folder), "worker"
        )
        wait(lambda: len(api.sent()) >= messages // 4)
        proxy.stop()
        time.sleep(seconds)
        cut = len(api.sent())
        back = time.monotonic()
        proxy.start()
        resumed = wait(lambda: len(api.sent()) > cut)
        recorded = wait(lambda: not proc.states(engine)["sending"])
        done = wait(lambda: proc.settled(engine) and not proc.states(engine)["sending"])
        worker.stop()
        proxy.stop()
        final = proc.states(engine)
        got = proc.delivered(api)
        print(
            f"  database away {seconds:.0f} s on postgresql: {messages:,} reminders; back → "
            f"next message sent {resumed - back:.2f} s, outcome held in memory recorded "
            f"{recorded - back:.2f} s, all sent {done - back:.2f} s; sent {final['sent']:,}, "
            f"lost {messages - len(got)}, doubled {doubled(api)}, unknown {final['unknown']}"
        )
        engine.dispose()
        drop()
    api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4_000)
    parser.add_argument("--outage-seconds", type=float, default=15.0)
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    print(
        f"Recovery bench: {args.messages:,} reminders, one `kehoach worker`, fake Bot API "
        "unthrottled"
    )
    for kind in args.db:
        kill(kind, args.messages)
    if "postgresql" in args.db:
        outage(args.messages, args.outage_seconds)


if __name__ == "__main__":
    main()
