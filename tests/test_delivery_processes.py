"""Delivery under faults with real processes (issue 11, item 1): a `kehoach worker` sending
2,000 reminders to the loopback Bot API (tests/fake_bot_api.py, unthrottled) is killed with
SIGKILL in the middle and restarted; on PostgreSQL its database is cut off for 15 s in the
middle of a batch by a TCP proxy between the worker and the server. Every idempotency key is
delivered (the fake API records what it got), none twice; `unknown` only for a send in flight
at the kill.

The worker runs with the channel's own rate limiter off (the fake API does not limit either),
so 2,000 messages take seconds: a launcher makes TelegramChannel's limiter an unlimited one in the
process before running the `kehoach` command line."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from kehoach import store
from kehoach.store.dispatch import LEASE, release_stale_claims
from kehoach.store.models import contacts_table, outbox_table, people_table, units_table
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram_bot import TOKEN, wait_for

MESSAGES, CHATS = 2_000, 50
AT = datetime(2025, 5, 23, 1, tzinfo=UTC)
KEY = re.compile(r"mã (K\d{4,})")
LAUNCH = """
import sys
import notifiers.telegram as telegram
made = telegram.TelegramChannel.__init__
telegram.TelegramChannel.__init__ = (  # type: ignore[method-assign]
    lambda self, *args, **kw: made(self, *args, **{"limiter": telegram.Limiter(None), **kw}))
from kehoach.cli import main
sys.argv = ["kehoach", *sys.argv[1:]]
main()
"""


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(token=TOKEN).start()
    yield server
    server.stop()


def enqueue(engine: Engine) -> None:
    """MESSAGES reminders to CHATS linked people, their keys K0000… in their titles."""
    with store.write_session(engine) as s:
        s.execute(insert(units_table).values(id="doan-a", name="Đoàn phường A"))
        s.execute(
            insert(people_table),
            [
                {
                    "name": f"Người {i}",
                    "unit_id": "doan-a",
                    "active": True,
                    "created_at": AT,
                    "board_role": "member",
                }
                for i in range(CHATS)
            ],
        )
        people = list(s.execute(select(people_table.c.id).order_by(people_table.c.id)).scalars())
        s.execute(
            insert(contacts_table),
            [
                {
                    "person_id": pid,
                    "channel": "telegram",
                    "address": str(10_000 + i),
                    "linked_at": AT,
                }
                for i, pid in enumerate(people)
            ],
        )
        s.execute(
            insert(outbox_table),
            [
                {
                    "idempotency_key": f"K{i:04d}",
                    "person_id": people[i % CHATS],
                    "unit_id": "doan-a",
                    "channel": "telegram",
                    "purpose": "reminder",
                    "level": 0,
                    "payload": {
                        "step_id": f"ke-hoach/bao-cao/{i}",
                        "plan_id": "ke-hoach",
                        "kind": "deadline",
                        "title": f"Báo cáo mã K{i:04d}",
                        "event": False,
                        "unit": "doan-a",
                        "unit_name": "Đoàn phường A",
                        "due_at": "2025-05-30T17:00:00+00:00",
                        "due_day": "30/05/2025",
                        "amount": None,
                        "moment": AT.isoformat(),
                        "late": False,
                        "skipped": 0,
                        "status": "sắp đến hạn",
                        "days_late": 0,
                        "recipient_name": "Đoàn phường A",
                        "person_name": f"Người {i % CHATS}",
                    },
                    "state": "pending",
                    "attempts": 0,
                    "not_before": AT,
                    "created_at": AT,
                    "updated_at": AT,
                }
                for i in range(MESSAGES)
            ],
        )


class Worker:
    """`kehoach worker` in its own process, its log in a file."""

    def __init__(self, url: str, api: FakeBotAPI, folder: Path, name: str):
        env = {
            **os.environ,
            "KEHOACH_DATABASE_URL": url,
            "KEHOACH_TELEGRAM_TOKEN": TOKEN,
            "KEHOACH_TELEGRAM_BASE_URL": api.base_url,
        }
        env.pop("KEHOACH_SMTP_HOST", None)
        env.pop("KEHOACH_SIMULATED_NOW", None)
        self.path = folder / f"{name}.log"
        self.file = self.path.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "worker", "--poll-seconds", "0.1"],
            cwd=folder,
            env=env,
            stdout=self.file,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait(10)
        self.file.close()
        return code

    def kill(self) -> None:
        self.popen.kill()  # SIGKILL
        self.popen.wait(10)
        self.file.close()


def states(engine: Engine) -> Counter[str]:
    with store.read_session(engine) as s:
        return Counter(s.execute(select(outbox_table.c.state)).scalars())


def delivered(api: FakeBotAPI) -> Counter[str]:
    """How many times the fake Bot API got each key."""
    return Counter(m.group(1) for sent in api.sent() if (m := KEY.search(sent["text"])))


def settled(engine: Engine) -> bool:
    left = states(engine)
    return not (left["pending"] or left["claimed"])


def check(engine: Engine, api: FakeBotAPI, in_flight: int) -> None:
    """Every key delivered once, but for at most `in_flight` parked as unknown."""
    with store.write_session(engine) as s:  # the dead dispatcher's send, after its lease
        release_stale_claims(s, AT, datetime.now(UTC) + 2 * LEASE)
    final = states(engine)
    got = delivered(api)
    assert set(final) <= {"sent", "unknown"}, final
    assert final["unknown"] <= in_flight
    assert max(got.values()) == 1, [k for k, n in got.items() if n > 1]  # none twice
    with store.read_session(engine) as s:
        unknown = set(
            s.execute(
                select(outbox_table.c.idempotency_key).where(outbox_table.c.state == "unknown")
            ).scalars()
        )
    everything = {f"K{i:04d}" for i in range(MESSAGES)}
    assert everything - set(got) <= unknown  # only a send in flight may be missing


def test_a_worker_killed_mid_batch_and_restarted_delivers_every_key_once(
    db: Engine, db_url: str, api: FakeBotAPI, tmp_path: Path
) -> None:
    enqueue(db)
    first = Worker(db_url, api, tmp_path, "first")
    try:
        wait_for(lambda: len(api.sent()) >= MESSAGES // 3, "a third of the messages", 120)
    finally:
        first.kill()
    in_flight = states(db)["sending"]
    assert in_flight <= 2  # one process: its two Telegram senders, one send on its way each
    assert 0 < len(api.sent()) < MESSAGES
    second = Worker(db_url, api, tmp_path, "second")
    try:
        wait_for(lambda: settled(db), "the rest to be sent", 120)
    finally:
        assert second.stop() == 0, second.log()
    assert "Traceback" not in second.log(), second.log()
    check(db, api, in_flight)


class Proxy:
    """A TCP proxy on loopback to `port`; `stop` cuts every connection and refuses new ones
    (the database is unreachable) until `start`."""

    def __init__(self, port: int):
        self.target = port
        self.port = 0
        self.listener: socket.socket | None = None
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> Proxy:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        with self.lock:
            if self.listener is not None:
                # wakes the thread blocked in accept() (closing alone does not on Linux)
                with contextlib.suppress(OSError):
                    self.listener.shutdown(socket.SHUT_RDWR)
                self.listener.close()
                self.listener = None
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            with self.lock:
                if self.listener is not listener:  # stopped meanwhile
                    client.close()
                    return
                server = socket.create_connection(("127.0.0.1", self.target))
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no connection to cut
def test_a_database_outage_mid_batch_loses_and_doubles_nothing(
    db: Engine, db_url: str, api: FakeBotAPI, tmp_path: Path
) -> None:
    enqueue(db)
    port = db.url.port or 5432
    proxy = Proxy(port).start()
    through = db_url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}")
    assert through != db_url
    worker = Worker(through, api, tmp_path, "worker")
    try:
        wait_for(lambda: len(api.sent()) >= MESSAGES // 4, "a quarter of the messages", 120)
        proxy.stop()
        cut = len(api.sent())
        time.sleep(15)
        during = len(api.sent())
        assert during - cut <= 1  # nothing is sent without its "sending" mark
        assert "gửi tin lỗi" in worker.log()
        proxy.start()
        wait_for(lambda: settled(db) and not states(db)["sending"], "the rest to be sent", 120)
    finally:
        code = worker.stop()
        proxy.stop()
    assert code == 0, worker.log()
    assert states(db) == Counter({"sent": MESSAGES})  # nothing lost, nothing unknown
    got = delivered(api)
    assert len(got) == MESSAGES and max(got.values()) == 1
    check(db, api, 0)
