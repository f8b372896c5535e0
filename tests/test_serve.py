"""The clock and the long-running processes: `Clock` in process with an injected `now`, the
leadership locks, and real `kehoach serve` processes on SQLite and PostgreSQL (started from
the installed console script, stopped in `finally`)."""

from __future__ import annotations

import asyncio
import os
import pickle
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, column, func, insert, inspect, select, table, text

from kehoach.clock import DIGEST_GRACE, DIGEST_JOB, HOUSEKEEPING_JOB, JOB_TABLE, TICK_JOB, Clock
from kehoach.leadership import FileLeadership, PostgresLeadership, leadership_for, lock_key
from kehoach.serve import LEADER_LINE
from kehoach.store import make_engine, read_session, write_session
from kehoach.store.dispatch import LEASE, _abandon_stale_claims
from kehoach.store.models import deliveries_table, outbox_table
from notifiers.testing import RecordingChannel
from tests.conftest import load

MAY_18 = datetime(2022, 5, 18, 2, tzinfo=UTC)  # test_store.PLAN: reminders for 25/5 are due


# ── helpers ─────────────────────────────────────────────────────────────────────────────────


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Proc:
    """A `kehoach` process whose stdout and stderr go to files (never a full pipe)."""

    def __init__(self, kehoach_bin: str, url: str, folder: Path, name: str, *args: str):
        self.out, self.err = folder / f"{name}.out", folder / f"{name}.err"
        env = {k: v for k, v in os.environ.items() if k != "KEHOACH_TELEGRAM_TOKEN"}
        env["KEHOACH_DATABASE_URL"] = url
        env["KEHOACH_HTTP_PORT"] = "off"  # no board: two serves would want one port
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.popen = subprocess.Popen(
                [kehoach_bin, *args], stdout=out, stderr=err, cwd=folder, env=env
            )

    def log(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        return self.out.read_text(encoding="utf-8").splitlines()

    def leads(self) -> bool:
        return LEADER_LINE in self.log()

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait(10)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        if p.popen.poll() is None:
            p.popen.kill()
            p.popen.wait(10)


def enqueue(engine: Engine, count: int, now: datetime) -> None:
    """`count` console reminders, due now, straight into the outbox (one executemany per
    5,000 rows); row i says «Việc số i» and has the idempotency key ``tai|i``."""
    payload = {
        "unit_name": "Đoàn phường A",
        "event": False,
        "due_day": "25/05/2022",
        "status": "còn 7 ngày",
        "late": False,
    }
    rows = [
        {
            "idempotency_key": f"tai|{i}",
            "channel": "console",
            "purpose": "reminder",
            "level": 0,
            "payload": {**payload, "title": f"Việc số {i}"},
            "state": "pending",
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with write_session(engine) as s:
        for start in range(0, count, 5_000):
            s.execute(insert(outbox_table), rows[start : start + 5_000])


def states(engine: Engine, purpose: str | None = None) -> dict[str, int]:
    """The outbox rows by state (of `purpose` only, when given)."""
    query = select(outbox_table.c.state, func.count()).group_by(outbox_table.c.state)
    if purpose is not None:
        query = query.where(outbox_table.c.purpose == purpose)
    with read_session(engine) as s:
        return dict(s.execute(query).all())


def deliveries_per_row(engine: Engine, purpose: str | None = None) -> dict[int, list[str]]:
    """Outbox row → the outcomes of its deliveries (rows of `purpose` only, when given)."""
    query = select(deliveries_table.c.outbox_id, deliveries_table.c.outcome)
    if purpose is not None:
        query = query.join(outbox_table, outbox_table.c.id == deliveries_table.c.outbox_id)
        query = query.where(outbox_table.c.purpose == purpose)
    seen: dict[int, list[str]] = {}
    with read_session(engine) as s:
        for outbox_id, outcome in s.execute(query):
            seen.setdefault(outbox_id, []).append(outcome)
    return seen


def deliveries_per_key(engine: Engine) -> dict[str, list[str]]:
    """Idempotency key → the outcomes of its deliveries, from the database."""
    seen: dict[str, list[str]] = {}
    with read_session(engine) as s:
        for key, outcome in s.execute(
            select(outbox_table.c.idempotency_key, deliveries_table.c.outcome).join(
                deliveries_table, deliveries_table.c.outbox_id == outbox_table.c.id
            )
        ):
            seen.setdefault(key, []).append(outcome)
    return seen


def printed_per_key(procs: list[Proc]) -> Counter[str]:
    """Idempotency key → how many times the console channels printed it (``tai|i`` is the
    reminder titled «Việc số i»)."""
    return Counter(
        f"tai|{m.group(1)}" for p in procs for line in p.lines() if (m := PRINTED.search(line))
    )


PRINTED = re.compile(r"«Việc số (\d+)»")


def due_soon_plan(folder: Path, today: date) -> Path:
    """A deadline three days from now: its 7-days-before reminder is already due."""
    due = today + timedelta(days=3)
    path = folder / "plans" / "sap-den-han.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"""\
id: sap-den-han
title: Kế hoạch có hạn sắp đến
issuer: quan-doan
period: {{from: 1/1/{today.year}, to: 31/12/{today.year + 1}}}
units:
  - id: quan-doan
    name: Ban Thường vụ Quận Đoàn
  - id: doan-a
    name: Đoàn phường A
  - id: doan-b
    name: Đoàn phường B
obligations:
  - id: bao-cao
    kind: deadline
    title: Báo cáo sơ kết
    when: ngày {due.day}/{due.month}/{due.year}
    responsible: [doan-a, doan-b]
""",
        encoding="utf-8",
    )
    return path


# ── the clock, in process ───────────────────────────────────────────────────────────────────


def test_the_clock_ticks_at_the_injected_time_and_stores_its_jobs(
    db: Engine, db_url: str, plan_file: Path
) -> None:
    load(db, plan_file)
    channel = RecordingChannel(name="console")
    clock = Clock(db, db_url, channel, now=lambda: MAY_18, tick_seconds=3600)

    async def run() -> None:
        clock.start()
        try:
            deadline = time.monotonic() + 10
            while clock.ticks == 0 and time.monotonic() < deadline:  # the catch-up tick
                await asyncio.sleep(0.02)
        finally:
            clock.shutdown()
            await asyncio.sleep(0.05)

    asyncio.run(run())
    assert clock.ticks == 1 and not clock.errors
    assert channel.sent
    # 09:00 local is inside the 07:30 digest's grace: the missed digest is caught up too
    wait_for(
        lambda: (
            any(n.purpose == "digest" for n in channel.sent)
            and states(db) == {"sent": len(channel.sent)}
        ),
        30,
        "the catch-up digest",
    )
    with read_session(db) as s:  # decided and sent at the injected moment, not the machine's
        assert set(s.execute(select(outbox_table.c.created_at, outbox_table.c.updated_at))) == {
            (MAY_18, MAY_18)
        }
    with read_session(db) as s:
        jobs = {
            r.id: pickle.loads(r.job_state)
            for r in s.execute(select(table(JOB_TABLE, column("id"), column("job_state"))))
        }
    assert set(jobs) == {TICK_JOB, HOUSEKEEPING_JOB, DIGEST_JOB}
    digest = jobs[DIGEST_JOB]  # daily at 07:30 local, a missed run caught up within hours
    assert digest["func"] == "kehoach.clock:digest_job" and digest["args"] == (clock.id,)
    assert (digest["coalesce"], digest["misfire_grace_time"]) == (True, DIGEST_GRACE)
    assert "hour='7', minute='30'" in repr(digest["trigger"])
    tick = jobs[TICK_JOB]
    assert tick["func"] == "kehoach.clock:tick_job" and tick["args"] == (clock.id,)
    assert (tick["coalesce"], tick["misfire_grace_time"], tick["max_instances"]) == (True, 3600, 1)


def test_clock_errors_are_logged_and_recorded_never_raised(db: Engine, db_url: str) -> None:
    heard: list[str] = []
    clock = Clock(
        db,
        db_url,
        RecordingChannel(),
        now=lambda: MAY_18,
        on_error=lambda e, exc: heard.append(e.job),
    )
    assert clock.guard("tick", lambda: 1 / 0) is None
    assert [e.job for e in clock.errors] == ["tick"] == heard
    assert "ZeroDivisionError" in clock.errors[0].message
    broken = Clock(
        make_engine("sqlite:////nonexistent/folder/x.sqlite3"),
        db_url,
        RecordingChannel(),
        now=lambda: MAY_18,
    )
    assert broken.guard("tick", broken.run_tick) is None and len(broken.errors) == 1


def test_housekeeping_parks_stale_claims(db: Engine, db_url: str) -> None:
    """A dead dispatcher's claims go back to pending, its send in flight is parked unknown."""
    enqueue(db, 3, MAY_18)
    with write_session(db) as s:
        s.execute(
            outbox_table.update().values(state="claimed", claimed_by="dead", claimed_at=MAY_18)
        )
        s.execute(
            outbox_table.update()
            .where(outbox_table.c.idempotency_key == "tai|0")
            .values(state="sending")
        )
    clock = Clock(db, db_url, RecordingChannel(), now=lambda: MAY_18 + 2 * LEASE)
    assert clock.run_housekeeping() == {"pending": 2, "unknown": 1, "parked": 3}


# ── leadership ──────────────────────────────────────────────────────────────────────────────


def test_one_file_lock_holder_and_take_over(tmp_path: Path) -> None:
    first, second = FileLeadership(tmp_path / "x.clock"), FileLeadership(tmp_path / "x.clock")
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire() and second.still_held()
    second.release()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_advisory_lock_holder_and_take_over(db: Engine, db_url: str) -> None:
    other = make_engine(db_url)
    first, second = PostgresLeadership(db), PostgresLeadership(other)
    try:
        assert first.try_acquire() and not second.try_acquire()
        assert first.try_acquire() and first.still_held()  # asking again keeps it
        assert first.conn is not None
        first.conn.invalidate()  # the holder's connection dies
        assert not first.still_held()
        wait_for(second.try_acquire, 5, "the server to drop the dead session's lock")
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()
        other.dispose()


def test_a_topic_is_a_lock_of_its_own(db: Engine, db_url: str) -> None:
    """The clock's lock and a bot token's (kehoach.serve.sender_loop) are independent."""
    other = make_engine(db_url)
    clock, token = leadership_for(db), leadership_for(db, "telegram-abc")
    rival = leadership_for(other, "telegram-abc")
    try:
        assert clock.try_acquire() and token.try_acquire() and not rival.try_acquire()
        token.release()
        assert rival.try_acquire() and clock.still_held()
    finally:
        for lock in (clock, token, rival):
            lock.release()
        other.dispose()


# ── real processes ──────────────────────────────────────────────────────────────────────────


def test_serve_refuses_an_outdated_schema(
    kehoach_bin: str, empty: Engine, db_url: str, tmp_path: Path, procs: list[Proc]
) -> None:
    procs.append(Proc(kehoach_bin, db_url, tmp_path, "serve", "serve"))
    assert procs[0].popen.wait(30) == 1
    assert "cần chạy `kehoach db upgrade`" in procs[0].log()
    assert "Traceback" not in procs[0].log() and LEADER_LINE not in procs[0].log()
    assert JOB_TABLE not in inspect(empty).get_table_names()  # nothing written


def test_serve_sends_the_reminders_due_now(
    kehoach_bin: str, db: Engine, db_url: str, tmp_path: Path, procs: list[Proc]
) -> None:
    now = datetime.now(UTC)
    load(db, due_soon_plan(tmp_path, now.date()), now=now - timedelta(days=10))
    procs.append(Proc(kehoach_bin, db_url, tmp_path, "serve", "serve", "--tick-seconds", "1"))
    # reminders only: after 07:30 (the digest hour) serve also catches up today's digests
    wait_for(lambda: states(db, "reminder").get("sent", 0) >= 2, 20, "the two reminders to be sent")
    time.sleep(1.5)  # a few more ticks: nothing is sent again
    assert procs[0].stop() == 0
    log = procs[0].log()
    assert "Cơ sở dữ liệu:" in log and "Telegram: tắt" in log and LEADER_LINE in log
    assert "Đã dừng." in log and "Traceback" not in log
    assert states(db, "reminder") == {"sent": 2}
    assert sorted(deliveries_per_row(db, "reminder").values()) == [["sent"], ["sent"]]
    sent = [line for line in procs[0].lines() if line.startswith("[nhắc việc")]
    assert len(sent) == 2 and all("Báo cáo sơ kết" in line for line in sent)
    assert {"Đoàn phường A", "Đoàn phường B"} == {
        line.split("] ")[1].split(":")[0] for line in sent
    }
    with read_session(db) as s:
        assert {r for (r,) in s.execute(select(table(JOB_TABLE, column("id")).c.id))} == {
            TICK_JOB,
            HOUSEKEEPING_JOB,
            DIGEST_JOB,
        }


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_serve_processes_one_leader_each_row_sent_once(
    kehoach_bin: str, db: Engine, db_url: str, tmp_path: Path, procs: list[Proc]
) -> None:
    procs += [
        Proc(
            kehoach_bin,
            db_url,
            tmp_path,
            name,
            "serve",
            "--tick-seconds",
            "1",
            "--poll-seconds",
            "0.1",
            "--limit",
            "200",
        )
        for name in ("a", "b")
    ]
    wait_for(lambda: any(p.leads() for p in procs), 20, "a leader")
    wait_for(lambda: all("Cơ sở dữ liệu:" in p.log() for p in procs), 20, "both processes")
    total = TWO_PROCESS_TOTAL
    enqueue(db, total, datetime.now(UTC))
    wait_for(lambda: states(db) == {"sent": total}, 150, "every row to be sent")
    time.sleep(1)
    assert sum(p.leads() for p in procs) == 1 and clock_lock_holders(db) == 1
    assert [p.stop() for p in procs] == [0, 0]
    keys = {f"tai|{i}" for i in range(total)}
    # no duplicate, no miss: in the database (one delivery per row, "sent") …
    per_row = deliveries_per_row(db)
    assert len(per_row) == total and all(v == ["sent"] for v in per_row.values())
    per_key = deliveries_per_key(db)
    assert set(per_key) == keys and all(v == ["sent"] for v in per_key.values())
    # … and in what the channels said: every key printed exactly once, by one process
    printed = printed_per_key(procs)
    assert set(printed) == keys and set(printed.values()) == {1}
    assert all(printed_per_key([p]) for p in procs)  # both dispatched


#: Notifications the two `kehoach serve` processes share (issue 3: 10,000).
TWO_PROCESS_TOTAL = 10_000


def clock_lock_holders(engine: Engine) -> int:
    """How many sessions hold this schema's clock lock (pg_locks splits the bigint key)."""
    with read_session(engine) as s:
        name = "/".join(s.execute(text("SELECT current_database(), current_schema()")).one())
        key = lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
        return int(
            s.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objsubid = 1 AND classid::bigint = :hi AND objid::bigint = :lo"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFF_FFFF},
            ).scalar_one()
        )


def test_killing_the_leader_mid_dispatch_loses_nothing(
    kehoach_bin: str, db: Engine, db_url: str, tmp_path: Path, procs: list[Proc]
) -> None:
    args = ("serve", "--tick-seconds", "1", "--poll-seconds", "0.1", "--limit", "50")
    procs.append(Proc(kehoach_bin, db_url, tmp_path, "a", *args))
    wait_for(procs[0].leads, 20, "the first process to lead")
    procs.append(Proc(kehoach_bin, db_url, tmp_path, "b", *args))
    wait_for(lambda: "Cơ sở dữ liệu:" in procs[1].log(), 20, "the second process")
    postgres = db.dialect.name == "postgresql"
    total = 3_000 if postgres else 1_500
    enqueue(db, total, datetime.now(UTC))
    wait_for(lambda: states(db).get("sent", 0) >= total // 10, 20, "dispatch to be under way")
    procs[0].popen.send_signal(signal.SIGKILL)
    procs[0].popen.wait(10)
    wait_for(procs[1].leads, 15, "the second process to take the clock over")
    procs.append(Proc(kehoach_bin, db_url, tmp_path, "a2", *args))  # restarted: dispatches
    wait_for(lambda: not {"pending", "claimed"} & set(states(db)), 90, "the rest to be sent")
    # SIGTERM before the restarted process has set up its handlers would just kill it
    wait_for(lambda: "Cơ sở dữ liệu:" in procs[2].log(), 20, "the restarted process to start")
    if postgres:
        assert clock_lock_holders(db) == 1
    assert not procs[2].leads()
    # the restarted one first: were the leader stopped first, it could take the clock over
    assert [p.stop() for p in reversed(procs[1:])] == [0, 0]
    assert not procs[2].leads()
    # The dead process's sends in flight are parked as "unknown" once their lease runs out:
    # one per dispatcher (its dispatch loop and its clock's tick).
    with write_session(db) as s:
        _abandon_stale_claims(s, datetime.now(UTC), datetime.now(UTC) + 2 * LEASE)
    final = states(db)
    assert set(final) <= {"sent", "unknown"} and final.get("unknown", 0) <= 2
    assert final.get("sent", 0) + final.get("unknown", 0) == total
    per_row = deliveries_per_row(db)
    assert all(v == ["sent"] for v in per_row.values())  # never sent twice
    assert len(per_row) == final["sent"]
    per_key = deliveries_per_key(db)
    assert all(v == ["sent"] for v in per_key.values()) and len(per_key) == final["sent"]
    printed = printed_per_key(procs[1:])  # the survivors' output (the killed one's may be cut)
    assert set(printed.values()) <= {1} and set(printed) <= set(per_key)


def test_a_worker_dispatches_without_a_clock(
    kehoach_bin: str, db: Engine, db_url: str, tmp_path: Path, procs: list[Proc]
) -> None:
    enqueue(db, 50, datetime.now(UTC))
    procs.append(Proc(kehoach_bin, db_url, tmp_path, "worker", "worker", "--poll-seconds", "0.1"))
    wait_for(lambda: states(db) == {"sent": 50}, 20, "the worker to send every row")
    assert procs[0].stop() == 0
    assert "tiến trình gửi tin" in procs[0].log() and not procs[0].leads()
    assert JOB_TABLE not in inspect(db).get_table_names()  # no clock, no job store
    assert sum("Việc số" in line for line in procs[0].lines()) == 50
