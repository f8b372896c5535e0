"""The store commands under real conditions: `tick` and `digest` from cron sending through the
configured channels (a real SMTP server on loopback), twenty `kehoach done` at once while
another process keeps taking SQLite's write lock, store errors told as what they are (a full
disk, a read-only database), and the edge cases of the options."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from kehoach.store import make_engine, read_session, upgrade, write_session
from kehoach.store.errors import DatabaseFull, DatabaseReadOnly, DatabaseUnavailable
from kehoach.store.models import outbox_table, steps_table, units_table
from kehoach.store.people import add_person
from tests.conftest import load
from tests.test_clock import fill, small_disk  # noqa: F401  (a fixture)
from tests.test_email import NOW as MAIL_NOW
from tests.test_email import PLAN as MAIL_PLAN
from tests.test_email import SENDER, Mailbox, Server
from tests.test_serve import wait_for


def kehoach(
    bin_: str, cwd: Path, url: str, *args: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KEHOACH_TELEGRAM", "KEHOACH_SMTP"))
    }
    env.update(KEHOACH_DATABASE_URL=url, **settings)
    return subprocess.run(
        [bin_, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


# ── `tick` and `digest` from cron: the configured channels, as `serve` ──────────────────────


@pytest.fixture
def mail_server() -> Iterator[Server]:
    server = Server(Mailbox()).start()
    yield server
    server.stop()


def test_cron_tick_and_digest_send_through_the_configured_channels(
    kehoach_bin: str, db: Engine, db_url: str, tmp_path: Path, mail_server: Server
) -> None:
    plan = tmp_path / "thu-thu.yaml"
    plan.write_text(MAIL_PLAN, encoding="utf-8")
    load(db, plan, MAIL_NOW - timedelta(days=30))
    with write_session(db) as s:
        add_person(s, "Nguyễn Thị Ánh", "doan-a", MAIL_NOW, email="anh@example.vn")
    smtp = {
        "KEHOACH_SMTP_HOST": "127.0.0.1",
        "KEHOACH_SMTP_PORT": str(mail_server.port),
        "KEHOACH_SMTP_SECURITY": "none",
        "KEHOACH_SMTP_FROM": SENDER,
    }
    now = MAIL_NOW.isoformat()
    ticked = kehoach(kehoach_bin, tmp_path, db_url, "tick", "--now", now, **smtp)
    assert ticked.returncode == 0, ticked.stderr
    assert "đã gửi 1" in ticked.stderr and ticked.stdout == ""  # by mail, not on the console
    digested = kehoach(kehoach_bin, tmp_path, db_url, "digest", "--now", now, **smtp)
    assert digested.returncode == 0, digested.stderr
    received = mail_server.mailbox.received
    assert [to for _, to, _, _ in received] == [["anh@example.vn"], ["anh@example.vn"]]
    subjects = [mail_server.mailbox.message(i)["Subject"] for i in range(2)]
    assert subjects[0].startswith("[Kế hoạch] Nhắc hạn:") and "tổng hợp" in subjects[1].lower()
    with read_session(db) as s:
        rows = list(
            s.execute(select(outbox_table.c.channel, outbox_table.c.purpose, outbox_table.c.state))
        )
    assert sorted(rows) == [("email", "digest", "sent"), ("email", "reminder", "sent")]
    for command in ("tick", "digest"):  # and they say so
        helped = kehoach(kehoach_bin, tmp_path, db_url, command, "--help")
        assert "Gửi ngay qua các kênh đã cấu hình, như `kehoach serve`" in " ".join(
            helped.stdout.split()
        )


# ── SQLite under contention: twenty `kehoach done` while another process writes ─────────────

HOLDER = textwrap.dedent("""\
    import os, sqlite3, sys, time
    path, stop, ready, waiting = sys.argv[1:5]
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # a long write transaction ...
    conn.execute("UPDATE units SET name = name WHERE id = 'doan-a'")
    open(ready, "w").close()
    while not os.path.exists(waiting):  # every `done` has opened the file: they queue
        time.sleep(0.05)
    time.sleep(12)  # longer than their 10 s busy timeout
    conn.execute("COMMIT")
    deadline = time.monotonic() + 240
    while not os.path.exists(stop) and time.monotonic() < deadline:
        conn.execute("BEGIN IMMEDIATE")  # ... then a service's short ones
        conn.execute("UPDATE units SET name = name WHERE id = 'doan-a'")
        time.sleep(0.2)
        conn.execute("COMMIT")
        time.sleep(0.1)
    """)


def has_open(pid: int, path: Path) -> bool:
    """Has process `pid` opened `path` (or ended)?"""
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_twenty_concurrent_done_succeed_while_another_process_writes(
    kehoach_bin: str, plan_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "dong-thoi.sqlite3"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    load(engine, plan_file)
    steps = sorted(s for s in steps_by_kind(engine, "deadline"))[:20]
    assert len(steps) == 20
    stop, ready, waiting = tmp_path / "dung", tmp_path / "san-sang", tmp_path / "dang-cho"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(stop), str(ready), str(waiting)]
    )
    env = {**os.environ, "KEHOACH_DATABASE_URL": url}
    try:
        while not ready.exists():
            time.sleep(0.05)
        started = time.monotonic()
        dones = [
            subprocess.Popen(
                [kehoach_bin, "done", step, "--now", "2022-06-01T08:00"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for step in steps
        ]
        wait_for(
            lambda: all(has_open(p.pid, path) for p in dones),
            120,
            "every `done` to open the database",
        )
        waiting.touch()
        results = [(p.wait(240), p.stderr.read() if p.stderr else "") for p in dones]
        print(f"20 × done: {time.monotonic() - started:.1f} s")  # a figure, not asserted
    finally:
        stop.touch()
        holder.wait(30)
    assert [rc for rc, _ in results] == [0] * 20, [e for rc, e in results if rc]
    with read_session(engine) as s:
        states = dict(
            s.execute(
                select(steps_table.c.id, steps_table.c.state).where(steps_table.c.id.in_(steps))
            ).all()
        )
    assert set(states.values()) == {"done"}
    engine.dispose()


def steps_by_kind(engine: Engine, kind: str) -> list[str]:
    with read_session(engine) as s:
        return list(s.execute(select(steps_table.c.id).where(steps_table.c.kind == kind)).scalars())


# ── store errors told as what they are ──────────────────────────────────────────────────────


def test_a_full_disk_is_told_as_a_full_disk(
    kehoach_bin: str, small_disk: Path, plan_file: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{small_disk / 'kehoach.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    load(engine, plan_file)
    engine.dispose()
    filler = fill(small_disk)
    step = "thu-nghiem/bao-cao-thang/2022-05/doan-a"
    full = kehoach(kehoach_bin, tmp_path, url, "done", step, "--now", "2022-06-01T08:00")
    assert full.returncode == 1 and "Traceback" not in full.stderr
    said = " ".join(full.stderr.split())
    assert "đĩa chứa cơ sở dữ liệu" in said and "đã đầy" in said
    assert "không kết nối được" not in said
    engine = make_engine(url)
    with pytest.raises(DatabaseFull), write_session(engine) as s:
        s.execute(insert(units_table).values(id="doan-moi", name="Đoàn mới"))
    engine.dispose()
    filler.unlink()
    freed = kehoach(kehoach_bin, tmp_path, url, "done", step, "--now", "2022-06-01T08:00")
    assert freed.returncode == 0, freed.stderr


def read_only_url(db_url: str, path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return db_url + "%20-cdefault_transaction_read_only%3Don"


def test_a_read_only_database_is_told_as_read_only(db: Engine, db_url: str) -> None:
    engine = make_engine(read_only_url(db_url, Path(db.url.database or "")))
    try:
        with (
            pytest.raises(DatabaseReadOnly, match="chỉ cho đọc, không ghi được"),
            write_session(engine) as s,
        ):
            s.execute(insert(units_table).values(id="doan-moi", name="Đoàn mới"))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////thu-muc-khong-co/kehoach.sqlite3",
        "postgresql+psycopg://postgres@127.0.0.1:1/test",
    ],
    ids=["sqlite-no-folder", "postgresql-closed-port"],
)
def test_an_unreachable_database_is_told_as_unreachable(url: str) -> None:
    engine = make_engine(url)
    with (
        pytest.raises(DatabaseUnavailable, match="không kết nối được cơ sở dữ liệu") as caught,
        write_session(engine) as s,
    ):
        s.execute(select(units_table))
    assert not isinstance(caught.value, DatabaseFull | DatabaseReadOnly)


# ── the options' edge cases: a clear message naming the option, never a traceback ──────────


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["tick", "--now", "0001-01-01T00:00"], "--now: «0001-01-01T00:00» ngoài khoảng cho phép"),
        (
            ["agenda", "--days", "100000000"],
            "--days: «100000000» không hợp lệ; cần một số nguyên từ 1 đến 3660",
        ),
        (["tick", "--now", "9999-12-31T23:59:59+14:00"], "đi trước đồng hồ thật hơn một ngày"),
        (["tick", "--now", "2999-01-01T08:00"], "thêm --force nếu thật sự muốn thế"),
        (["done", "x", "--now", "2999-01-01T08:00"], "đi trước đồng hồ thật hơn một ngày"),
        (["tick", "--now", "9999-12-31T23:59:59+14:00", "--force"], "ngoài khoảng cho phép"),
        (["tick", "--limit", "-5"], "--limit: «-5» không hợp lệ; cần một số nguyên từ 1"),
        (["digest", "--limit", "0"], "--limit: «0» không hợp lệ"),
        (["agenda", "--days", "-1"], "--days: «-1» không hợp lệ"),
        (
            ["serve", "--tick-seconds", "nan"],
            "--tick-seconds: «nan» không hợp lệ; cần một số từ 0,1",
        ),
        (["serve", "--poll-seconds", "1e400"], "--poll-seconds: «1e400» không hợp lệ"),
        (["worker", "--limit", "-1"], "--limit: «-1» không hợp lệ"),
        (
            ["invite", "ai-do", "--days", "0"],
            "--days: «0» không hợp lệ; cần một số nguyên từ 1 đến 90",
        ),
        (["pay", "x", "99999999999999999999999999", "đồng"], "số tiền quá lớn"),
    ],
    ids=[
        "now-year-1",
        "agenda-days-huge",
        "now-9999",
        "now-far-ahead",
        "done-far-ahead",
        "now-9999-forced",
        "limit-negative",
        "digest-limit-zero",
        "days-negative",
        "tick-seconds-nan",
        "poll-seconds-inf",
        "worker-limit",
        "invite-days",
        "pay-huge",
    ],
)
def test_bad_options_are_refused_naming_the_option(
    kehoach_bin: str, tmp_path: Path, args: list[str], said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'kehoach.sqlite3'}"
    upgrade(make_engine(url))
    result = kehoach(kehoach_bin, tmp_path, url, *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert said in " ".join(result.stderr.split())


def test_a_far_now_with_force_is_accepted(kehoach_bin: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kehoach.sqlite3'}"
    upgrade(make_engine(url))
    result = kehoach(kehoach_bin, tmp_path, url, "tick", "--now", "2999-01-01T08:00", "--force")
    assert result.returncode == 0 and "Đã xét 0 bước" in result.stderr
