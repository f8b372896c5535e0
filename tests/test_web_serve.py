"""The board inside real processes: `kehoach serve` serving it (and carrying on when its port
is taken), `kehoach person password`, and `make demo`'s logins; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from kehoach.store import read_session, write_session
from kehoach.store.models import people_table
from kehoach.store.people import add_person
from kehoach.web.passwords import verify
from tests.conftest import NOW, load
from tests.test_web import PLAN


@pytest.fixture
def loaded(db: Engine, tmp_path: Path) -> Engine:
    (tmp_path / "cum-thu.yaml").write_text(PLAN, encoding="utf-8")
    load(db, tmp_path / "cum-thu.yaml")
    with write_session(db) as s:
        add_person(s, "Chị Thư Ký", "tinh-doan", NOW, board_role="secretary", login="thuky")
        add_person(s, "Người không đăng nhập", "doan-a", NOW)
    return db


def kehoach(
    bin_: str, url: str, cwd: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KEHOACH_DATABASE_URL": url, **env},
    )


def password_hash(engine: Engine, login: str) -> str | None:
    with read_session(engine) as s:
        return s.execute(
            select(people_table.c.password_hash).where(people_table.c.login == login)
        ).scalar_one()


def test_person_password_sets_an_argon2_hash(
    loaded: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    done = kehoach(
        kehoach_bin,
        db_url,
        tmp_path,
        "person",
        "password",
        "thuky",
        "--stdin",
        stdin="mật khẩu đủ dài\n",
    )
    assert done.returncode == 0, done.stderr
    assert "đã đặt mật khẩu cho Chị Thư Ký (thuky)" in done.stderr
    stored = password_hash(loaded, "thuky")
    assert stored and stored.startswith("$argon2id$") and verify(stored, "mật khẩu đủ dài")
    generated = kehoach(kehoach_bin, db_url, tmp_path, "person", "password", "thuky", "--generate")
    password = re.search(r"Mật khẩu của thuky: (\S+)", generated.stdout)
    assert generated.returncode == 0 and password
    assert verify(password_hash(loaded, "thuky"), password.group(1))


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (("thuky", "--stdin"), "ngắn\n", "mật khẩu phải có ít nhất 8 ký tự (đã nhập 4)"),
        (("ai-do", "--stdin"), "mật khẩu đủ dài\n", "không có người «ai-do»"),
        (("Người không đăng nhập", "--stdin"), "mật khẩu đủ dài\n", "chưa có tên đăng nhập"),
        (("thuky",), "một mật khẩu\nmột mật khẩu khác\n", "lỗi hai lần nhập mật khẩu không giống"),
    ],
    ids=["short", "unknown", "no-login", "confirmation-differs"],
)
def test_person_password_refusals_write_nothing(
    loaded: Engine,
    db_url: str,
    tmp_path: Path,
    kehoach_bin: str,
    args: tuple[str, ...],
    stdin: str,
    says: str,
) -> None:
    done = kehoach(kehoach_bin, db_url, tmp_path, "person", "password", *args, stdin=stdin)
    assert done.returncode != 0 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert password_hash(loaded, "thuky") is None


def test_demo_logins_are_made_once_and_work(loaded: Engine, db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "KEHOACH_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    first = subprocess.run(
        [sys.executable, "-m", "kehoach.web.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # the issuer's secretary exists already (thuky, without a password): it gets one
    found = re.search(r"thuky\s+mật khẩu (\S+)\s+— Tỉnh Đoàn", first)
    assert found, first
    assert verify(password_hash(loaded, "thuky"), found.group(1))
    again = subprocess.run(
        [sys.executable, "-m", "kehoach.web.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "mật khẩu đã đặt trước đây (đặt lại: " in again
    command = str(Path(sys.executable).parent / "kehoach")  # not on the PATH tests run with
    assert f"(đặt lại: {command} person password thuky)" in again
    assert f"gõ `{command} --help` (hoặc chạy `. {Path(command).parent}/activate`" in again
    assert verify(password_hash(loaded, "thuky"), found.group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serving(
    loaded: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    port = free_port()
    err = tmp_path / "serve.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_TELEGRAM")}
    env.update(KEHOACH_DATABASE_URL=db_url, KEHOACH_HTTP_PORT=str(port))
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            [kehoach_bin, "serve"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        yield proc, err, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_for(path: Path, text: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log = path.read_text(encoding="utf-8", errors="replace")
        if text in log:
            return log
        assert proc.poll() is None, log
        time.sleep(0.1)
    raise AssertionError(f"«{text}» never came:\n{path.read_text(encoding='utf-8')}")


def test_serve_runs_the_board_and_says_how_to_log_in(
    serving: tuple[subprocess.Popen[bytes], Path, int], kehoach_bin: str
) -> None:
    proc, err, port = serving
    # the login hint comes after a database query, later than the address: wait for it
    wait_for(err, f"Trang quản lý: http://127.0.0.1:{port}/", proc)
    on_path = shutil.which("kehoach")  # as the user types it: the full path when not on PATH
    command = (
        "kehoach"
        if on_path and Path(on_path).resolve() == Path(kehoach_bin).resolve()
        else kehoach_bin
    )
    wait_for(err, f"Chưa ai đăng nhập được: thêm người bằng `{command} person add", proc)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):  # the socket listens before uvicorn's loop takes requests
        try:
            health = httpx.get(f"{base}/healthz", timeout=5)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    page = httpx.get(f"{base}/qua-han")
    assert page.status_code == 303 and page.headers["location"].startswith("/dang-nhap")
    assert "dang-nhap" in httpx.get(f"{base}/dang-nhap").text
    log = wait_for(err, '"path": "/qua-han", "status": 303', proc)
    access = [json.loads(line) for line in log.splitlines() if '"path": "/qua-han"' in line]
    assert access[0]["method"] == "GET" and access[0]["ts"].endswith("+00:00")
    wait_for(err, "nhịp lúc", proc)  # a stop during the catch-up tick is the clock's story
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert "Traceback" not in err.read_text(encoding="utf-8")


def test_serve_refuses_to_start_when_the_boards_port_is_taken(
    loaded: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_TELEGRAM")}
        done = subprocess.run(
            [kehoach_bin, "serve"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**env, "KEHOACH_DATABASE_URL": db_url, "KEHOACH_HTTP_PORT": str(port)},
        )
    assert done.returncode == 1, done.stderr
    assert f"lỗi không mở được trang quản lý ở 127.0.0.1:{port}" in done.stderr
    assert "đặt KEHOACH_HTTP_PORT để dùng cổng khác, hoặc KEHOACH_HTTP_PORT=off" in done.stderr
    assert "đang giữ đồng hồ" not in done.stderr and "Traceback" not in done.stderr


def test_serve_without_the_board_on_purpose(
    loaded: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    err = tmp_path / "serve.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_TELEGRAM")}
    env.update(KEHOACH_DATABASE_URL=db_url, KEHOACH_HTTP_PORT="off")
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            [kehoach_bin, "serve"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        log = wait_for(err, "đang giữ đồng hồ", proc)
        assert "Trang quản lý: tắt (KEHOACH_HTTP_PORT=off)." in log
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def test_feed_addresses_follow_the_boards_port(
    loaded: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    """Only KEHOACH_HTTP_PORT set: the feed is where `serve` will serve it, not on 8080."""
    done = kehoach(
        kehoach_bin,
        db_url,
        tmp_path,
        "feed",
        "create",
        "--unit",
        "doan-a",
        KEHOACH_HTTP_PORT="9123",
    )
    assert done.returncode == 0, done.stderr
    assert (
        "http://127.0.0.1:9123/lich/" in done.stdout
        and "webcal://127.0.0.1:9123/lich/" in done.stdout
    )
    public = kehoach(
        kehoach_bin,
        db_url,
        tmp_path,
        "feed",
        "create",
        "--unit",
        "doan-a",
        KEHOACH_HTTP_PORT="9123",
        KEHOACH_PUBLIC_URL="https://kh.example.vn/",
    )
    assert "https://kh.example.vn/lich/" in public.stdout
