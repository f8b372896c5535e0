"""The clock under faults: the heartbeat and /healthz, the watchdog that rebuilds a scheduler
that stopped waking up (a real full disk under a real `kehoach serve`), and the daily digest
missed during downtime caught up at start (in process, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, column, select, table

from kehoach.clock import DIGEST_JOB, JOB_TABLE, Clock, missed_digest
from kehoach.store import make_engine, read_session, upgrade, write_session
from kehoach.store.heartbeat import clock_health, record_start, record_tick
from kehoach.store.models import clock_beats_table, outbox_table
from kehoach.web.app import health
from notifiers.base import Channel, DeliveryResult, Notification
from notifiers.testing import RecordingChannel
from tests.conftest import load
from tests.test_email import free_port
from tests.test_serve import MAY_18, enqueue, states, wait_for


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ── the heartbeat and /healthz ──────────────────────────────────────────────────────────────


def test_health_follows_the_clock_heartbeat(db: Engine) -> None:
    start = utc(2026, 12, 6, 8)
    status, body = health(db, lambda: start)
    assert status == 200 and "chưa chạy lần nào" in body["clock"]  # a fresh install
    with write_session(db) as s:
        record_start(s, "may-1:42", 1.0, start)
    assert health(db, lambda: start + timedelta(seconds=5))[0] == 200  # before the first tick
    status, body = health(db, lambda: start + timedelta(minutes=5))
    assert status == 503 and "chưa nhịp thành công lần nào" in body["clock"]
    with write_session(db) as s:
        record_tick(s, "may-1:42", start + timedelta(minutes=5))
    status, body = health(db, lambda: start + timedelta(minutes=5, seconds=3))
    assert status == 200 and body["status"] == "ok" and "3 giây trước" in body["clock"]
    status, body = health(db, lambda: start + timedelta(minutes=6))  # 60 s: > 3 periods + 10 s
    assert status == 503 and body["status"] == "error"
    assert body["clock"].startswith(
        "đồng hồ đã ngừng: nhịp thành công cuối lúc 15:05:00 06/12/2026, 60 giây trước"
    )
    with write_session(db) as s:  # a new leader starts: the last tick still counts
        record_start(s, "may-2:7", 60.0, start + timedelta(minutes=6))
    assert health(db, lambda: start + timedelta(minutes=6))[0] == 200  # 60 s period: fine
    with read_session(db) as s:
        assert clock_health(s, start + timedelta(minutes=9)).ok is False


# ── a real fault: the disk under a SQLite file fills up for a while ─────────────────────────


def mount_small_disk(folder: Path) -> bool:
    """A 16 MB tmpfs at `folder` (needs root, as in CI); False when mounting is not allowed."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    return mounted.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs (needs root, as in CI)."""
    folder = tmp_path / "dia-nho"
    if not mount_small_disk(folder):
        pytest.fail("cannot mount a tmpfs (the full-disk test needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def truncate_wal(database: Path) -> None:
    """A TRUNCATE checkpoint: the WAL is empty, so the next write needs new space (as after a
    restart)."""
    conn = sqlite3.connect(database, timeout=10)
    try:

        def truncated() -> bool:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return bool(busy == 0 and Path(f"{database}-wal").stat().st_size == 0)

        wait_for(truncated, 30, "the WAL to be truncated")
    finally:
        conn.close()


def fill(folder: Path) -> Path:
    """Write a filler file until the disk says ENOSPC (the SQLite WAL truncated first)."""
    truncate_wal(folder / "kehoach.sqlite3")
    filler = folder / "day-dia"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


class WriteFault:
    """Makes the writes of a SQLite file fail until `heal()`: the small tmpfs it lives on is
    filled (root), or else, where mounting is not allowed, the serving process's file size
    limit (RLIMIT_FSIZE, set with prlimit) is lowered to the size of the database file, so the
    WAL cannot grow past it."""

    def __init__(self, folder: Path, mounted: bool, pid: int):
        self.folder, self.mounted, self.pid = folder, mounted, pid
        self.filler: Path | None = None
        self.hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]

    def start(self) -> None:
        database = self.folder / "kehoach.sqlite3"
        if self.mounted:
            self.filler = fill(self.folder)
            return
        truncate_wal(database)
        size = database.stat().st_size
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (size, self.hard))

    def heal(self) -> None:
        if self.filler is not None:
            self.filler.unlink()
        else:
            resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (self.hard, self.hard))


def healthz(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.TransportError:
        return None
    return r.status_code, r.json()


def last_tick(engine: Engine) -> datetime | None:
    with read_session(engine) as s:
        return s.execute(select(clock_beats_table.c.ticked_at)).scalar_one_or_none()


def test_the_clock_recovers_from_a_full_disk_and_healthz_says_it_stopped(
    kehoach_bin: str, tmp_path: Path
) -> None:
    folder = tmp_path / "dia-nho"
    mounted = mount_small_disk(folder)  # else: a file size limit on the process (WriteFault)
    url = f"sqlite:///{folder / 'kehoach.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_TELEGRAM")}
    env.update(KEHOACH_DATABASE_URL=url, KEHOACH_HTTP_PORT=str(port))
    log = tmp_path / "serve.err"  # beside the small disk, not on it
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [kehoach_bin, "serve", "--tick-seconds", "1", "--poll-seconds", "0.2"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:

        def answer(status: int, said: str) -> Any:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            got = healthz(port)
            return got if got and got[0] == status and said in got[1].get("clock", "") else None

        wait_for(lambda: answer(200, "nhịp thành công cuối"), 60, "the clock's first ticks")
        fault = WriteFault(folder, mounted, proc.pid)
        fault.start()
        _, body = wait_for(lambda: answer(503, "đồng hồ đã ngừng"), 90, "/healthz to say 503")
        assert body["status"] == "error" and body["database"] == "ok"
        fault.heal()  # the disk is free again
        freed = datetime.now(UTC)
        wait_for(lambda: answer(200, "nhịp thành công cuối"), 60, "the clock to tick again")
        ticked = last_tick(engine)
        assert ticked is not None and ticked > freed
        print(
            f"the clock ticked again {(ticked - freed).total_seconds():.1f} s after the disk "
            "was freed"
        )  # a figure, not asserted
        wait_for(lambda: (last_tick(engine) or freed) > ticked, 30, "it to go on ticking")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        engine.dispose()
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    said = log.read_text(encoding="utf-8")
    assert "dựng lại bộ hẹn giờ" in said  # the watchdog rebuilt the stopped scheduler
    assert "không kết nối được" not in said
    if mounted:
        assert "đã đầy" in said  # told as a full disk


# ── the daily digest missed during downtime ─────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2022, 5, 30, 2), True),  # 09:00 local, 1 h 30 after the 07:30 digest
        (utc(2022, 5, 30, 4, 30), True),  # 11:30: the last minute of the 4 h grace
        (utc(2022, 5, 30, 4, 31), False),
        (utc(2022, 5, 30, 0, 29), False),  # 07:29: yesterday's was a day ago
    ],
    ids=["inside-grace", "grace-ends", "after-grace", "before-the-hour"],
)
def test_missed_digest(now: datetime, expected: bool) -> None:
    assert missed_digest(now, time_of_day(7, 30)) is expected


def digest_next_run(engine: Engine) -> float | None:
    jobs = table(JOB_TABLE, column("id"), column("next_run_time"))
    with read_session(engine) as s:
        return s.execute(
            select(jobs.c.next_run_time).where(jobs.c.id == DIGEST_JOB)
        ).scalar_one_or_none()


def restart_clock(db: Engine, db_url: str, now: datetime) -> RecordingChannel:
    """A clock started at `now` (injected) and stopped once its digest job is scheduled for a
    later day (it ran, or was never due)."""
    channel = RecordingChannel("console")
    clock = Clock(db, db_url, channel, now=lambda: now, tick_seconds=3600)

    async def run() -> None:
        clock.start()
        try:
            later = time.time() + 5  # not "immediately": the next digest hour
            deadline = time.monotonic() + 30
            # the digest job's next run is stored when it is handed to a thread, before it
            # runs: wait for the jobs in flight too, or a caught-up digest is cut by shutdown
            while (
                (digest_next_run(db) or 0) < later or clock.ticks == 0 or clock.in_flight
            ) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            clock.shutdown()
            await asyncio.sleep(0.05)

    asyncio.run(run())
    assert clock.ticks == 1 and not clock.errors
    return channel


def digest_keys(db: Engine) -> list[str]:
    with read_session(db) as s:
        return sorted(
            s.execute(
                select(outbox_table.c.idempotency_key).where(
                    outbox_table.c.purpose == "digest", outbox_table.c.state == "sent"
                )
            ).scalars()
        )


def test_a_digest_missed_during_downtime_is_sent_once_after_a_restart(
    db: Engine, db_url: str, plan_file: Path
) -> None:
    load(db, plan_file)
    wanted = [f"digest|{u}|2022-05-30" for u in ("doan-a", "doan-b", "quan-doan")]
    late = restart_clock(db, db_url, utc(2022, 5, 29, 5))  # 12:00 local: past the grace
    assert digest_keys(db) == [] and not [n for n in late.sent if n.purpose == "digest"]
    first = restart_clock(db, db_url, utc(2022, 5, 30, 2))  # down at 07:30, back at 09:00
    assert sorted(n.key for n in first.sent if n.purpose == "digest") == wanted
    assert digest_keys(db) == wanted
    again = restart_clock(db, db_url, utc(2022, 5, 30, 3))  # restarted again at 10:00
    assert not [n for n in again.sent if n.purpose == "digest"] and digest_keys(db) == wanted


# ── stopping the clock in the middle of a tick (SIGTERM) ────────────────────────────────────


class Held(Channel):
    """A console channel whose send waits until the test lets it go."""

    name = "console"

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def send(self, notification: Notification) -> DeliveryResult:
        self.entered.set()
        self.release.wait(30)
        return DeliveryResult(remote_id="giu")


def test_a_clock_stopped_during_a_tick_lets_it_finish_without_a_traceback(
    db: Engine, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    enqueue(db, 1, MAY_18)
    channel = Held()
    clock = Clock(db, db_url, channel, now=lambda: MAY_18, tick_seconds=3600)

    async def run() -> None:
        clock.start()
        deadline = time.monotonic() + 30
        while not channel.entered.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        clock.shutdown()  # what SIGTERM does (serve.lead_loop), the tick still sending
        await asyncio.sleep(0.2)

    asyncio.run(run())
    channel.release.set()
    wait_for(lambda: states(db) == {"sent": 1}, 30, "the running tick to finish its send")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "CancelledError" not in caplog.text and "Traceback" not in caplog.text
