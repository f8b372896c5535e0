"""The board hardened for the open internet, over real HTTP (uvicorn on loopback, `kehoach
serve` for memory), on SQLite and PostgreSQL: formula-free exports, server-side sessions,
bounded password hashing and per-address login limits, forwarded headers only from trusted
proxies, security headers, no leaks (database address, echoed input, CDN docs, file modes),
tokens masked in logs on any spelling of the path, relative redirects and allowed hosts."""

from __future__ import annotations

import base64
import csv
import http.client
import io
import json
import logging
import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openpyxl
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, update

from kehoach import store
from kehoach.store import feeds as store_feeds
from kehoach.store import write_session
from kehoach.store.models import people_table, steps_table
from kehoach.web.app import create_app
from kehoach.web.passwords import set_password
from kehoach.web.server import background
from tests.test_web import NOW, SCOPES, World, api_token, csrf_of, log_in
from tests.test_web import world as world_fixture
from tests.test_web_serve import free_port, wait_for
from tests.test_web_serve import loaded as loaded_fixture

world, loaded = world_fixture, loaded_fixture  # the fixtures, under the names tests ask for

# ── 1. formula injection in exports ─────────────────────────────────────────────────────────

PAYLOADS = [
    "=1+1+cmd|' /C calc'!A0",
    "-1+1+cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_exports_never_hold_a_formula(world: World) -> None:
    with write_session(world.engine) as s:
        for i, payload in enumerate(PAYLOADS):
            s.execute(
                update(steps_table)
                .where(
                    steps_table.c.id == SCOPES["thuky"][0].replace("2022-01", f"2022-{i + 1:02d}")
                )
                .values(title=payload)
            )
        s.execute(
            update(people_table).where(people_table.c.login == "bithu").values(name=PAYLOADS[0])
        )
        s.execute(
            update(people_table).where(people_table.c.login == "cumtruong").values(name=PAYLOADS[1])
        )
    c = world.client("thuky")
    seen: set[str] = set()
    for name in ("qua-han", "sap-den?days=366", "nguoi"):
        slug, _, query = name.partition("?")
        text = c.get(f"/xuat/{slug}.csv" + (f"?{query}" if query else "")).content
        for row in csv.reader(io.StringIO(text.decode("utf-8-sig"), newline="")):
            for cell in row:
                assert not cell.startswith(FORMULA_START), (name, cell)
                seen.add(cell)
        book = openpyxl.load_workbook(
            io.BytesIO(c.get(f"/xuat/{slug}.xlsx" + (f"?{query}" if query else "")).content)
        )
        for row in book.active.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (name, cell.coordinate, cell.value)
                seen.add(str(cell.value))
    for payload in PAYLOADS:  # each shown as text: quoted in CSV, as it is in XLSX
        assert "'" + payload in seen and payload in seen, payload


# ── 2. sessions end server-side ─────────────────────────────────────────────────────────────


def copy_of(c: httpx.Client, base: str) -> httpx.Client:
    """Another client holding the same cookie (a captured session)."""
    thief = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    thief.cookies.set("kehoach_phien", c.cookies["kehoach_phien"])
    return thief


def test_logout_password_and_admin_command_end_sessions_everywhere(
    world: World, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    own = SCOPES["thuky"][0]
    c = world.client("thuky")
    token = api_token(c)
    thief = copy_of(c, world.base)
    assert thief.get("/api/me").status_code == 200
    assert c.post("/dang-xuat", data={"csrf": token}).status_code == 303
    assert thief.get("/api/me").status_code == 401
    r = thief.post(f"/api/steps/{own}/done", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 401 and world.step(own).state == "pending"  # type: ignore[attr-defined]

    c = world.client("thuky")
    thief = copy_of(c, world.base)
    with write_session(world.engine) as s:
        set_password(s, "thuky", "mật khẩu mới 456")
    assert thief.get("/api/me").status_code == 401

    first, second = world.client("thuky", "mật khẩu mới 456"), world.client("cumtruong")
    done = subprocess.run(
        [kehoach_bin, "person", "logout", "thuky"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KEHOACH_DATABASE_URL": db_url},
    )
    assert done.returncode == 0 and "đã kết thúc 1 phiên đăng nhập của Chị Thư Ký" in done.stderr, (
        done.stderr
    )
    assert first.get("/api/me").status_code == 401
    assert second.get("/api/me").status_code == 200  # another person's session stays
    unknown = subprocess.run(
        [kehoach_bin, "person", "logout", "ai-do"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KEHOACH_DATABASE_URL": db_url},
    )
    assert unknown.returncode != 0 and "không có người «ai-do»" in unknown.stderr
    assert "Traceback" not in unknown.stderr


# ── 3. memory and per-address limits of logins ──────────────────────────────────────────────


def status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))  # type: ignore[union-attr]


#: 16 concurrent bad logins may add at most this to the server's peak RSS: two Argon2id
#: hashes at once (64 MiB each) and 64 MiB of slack; unbounded, they added about 1 GiB.
EXTRA_PEAK_MIB = 2 * 64 + 64


def test_concurrent_bad_logins_keep_the_server_memory_bounded(
    loaded: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    port = free_port()
    err = tmp_path / "serve.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_TELEGRAM")}
    env.update(KEHOACH_DATABASE_URL=db_url, KEHOACH_HTTP_PORT=str(port))
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            [kehoach_bin, "serve"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        wait_for(err, "nhịp lúc", proc)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as warm:  # one login: Argon2 loaded
            token = csrf_of(warm.get("/dang-nhap").text)
            warm.post("/dang-nhap", data={"login": "khong-co", "password": "x" * 10, "csrf": token})
        before = status_kib(proc.pid, "VmHWM")
        statuses: list[int] = []

        def bad_login(i: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                token = csrf_of(c.get("/dang-nhap").text)
                statuses.append(
                    c.post(
                        "/dang-nhap",
                        data={"login": f"ai-{i}", "password": "sai mật khẩu", "csrf": token},
                    ).status_code
                )

        threads = [threading.Thread(target=bad_login, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        peak = status_kib(proc.pid, "VmHWM")
        print(f"peak RSS before {before // 1024} MiB, after 16 bad logins {peak // 1024} MiB")
        assert sorted(set(statuses)) <= [401, 429] and len(statuses) == 16, statuses
        assert peak - before <= EXTRA_PEAK_MIB * 1024, (before, peak)
    finally:
        proc.kill()
        proc.wait(10)


def test_failed_logins_are_limited_per_address_across_logins(world: World) -> None:
    c = world.client()
    for i in range(20):
        r = log_in(c, f"ai-{i}", "sai mật khẩu")
        assert r.status_code == 401, i
    r = log_in(c, "cumtruong")  # a login never tried, with its right password: too late
    assert r.status_code == 429 and "thử lại sau 15 phút" in r.text


# ── 4. X-Forwarded-For only from trusted proxies ────────────────────────────────────────────


@contextmanager
def app_with(world: World, **settings: str) -> Iterator[str]:
    app = create_app(
        {"KEHOACH_SECRET_KEY": "khóa thử", **settings}, world.engine, now=lambda: world.clock[0]
    )
    with background(app) as base:
        yield base


def test_forwarded_for_is_believed_only_from_trusted_proxies(world: World) -> None:
    c = world.client()
    for i in range(5):
        c.headers["X-Forwarded-For"] = f"10.0.0.{i}"
        assert log_in(c, "thuky", "sai mật khẩu").status_code == 401
    c.headers["X-Forwarded-For"] = "10.0.0.99"
    assert log_in(c, "thuky").status_code == 429  # rotating the header changes nothing

    with app_with(world, KEHOACH_TRUSTED_PROXIES="127.0.0.1, ::1") as base:
        behind = httpx.Client(
            base_url=base,
            follow_redirects=False,
            timeout=30,
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        for _ in range(5):
            assert log_in(behind, "bithu", "sai mật khẩu").status_code == 401
        assert log_in(behind, "bithu").status_code == 429
        other = httpx.Client(
            base_url=base,
            follow_redirects=False,
            timeout=30,
            headers={"X-Forwarded-For": "203.0.113.8"},
        )
        assert log_in(other, "bithu").status_code == 303  # another client of the proxy


# ── 5. security headers ─────────────────────────────────────────────────────────────────────


def test_every_response_carries_the_security_headers(world: World) -> None:
    c = world.client("thuky")
    with write_session(world.engine) as s:
        feed = store_feeds.create(s, "unit", "doan-a", NOW)[1]
    paths = [
        "/qua-han",
        "/in/qua-han",
        "/dang-nhap",
        "/khong-co",
        "/api/me",
        "/healthz",
        "/tinh/style.css",
        "/tinh/print.js",
        f"/lich/{feed}.ics",
        "/lich/sai.ics",
        "/xuat/qua-han.csv",
        "/openapi.json",
        "/",
    ]
    for path in paths:
        r = c.get(path)
        assert r.status_code in (200, 303, 404), path
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "same-origin", path
        assert "strict-transport-security" not in r.headers, path
    for path in (
        "/qua-han",
        "/in/qua-han",
        f"/buoc/{SCOPES['thuky'][0]}",
        "/nguoi",
        "/tong-hop/cum",
        "/dang-nhap",
    ):
        html = c.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # no inline script
        assert not re.search(r"\son[a-z]+=|javascript:|\sstyle=|<style", html), path
    with app_with(world, KEHOACH_PUBLIC_URL="https://kehoach.example") as base:
        r = httpx.get(f"{base}/dang-nhap")
        assert r.headers["strict-transport-security"].startswith("max-age=")


# ── 6. information leaks ────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://bimatuser@127.0.0.1:1/bimatdb",
        "sqlite:////khong-co-thu-muc-bimat/bimatdb.sqlite3",
    ],
    ids=["postgresql", "sqlite"],
)
def test_a_database_down_is_told_without_its_address(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="kehoach.web")
    engine = store.make_engine(url)
    app = create_app({"KEHOACH_SECRET_KEY": "k"}, engine, now=lambda: NOW)
    with background(app) as base, httpx.Client(base_url=base) as c:
        health = c.get("/healthz")
        token = csrf_of(c.get("/dang-nhap").text)
        page = c.post("/dang-nhap", data={"login": "thuky", "password": "x" * 10, "csrf": token})
        c.cookies.set(
            "kehoach_phien",
            TimestampSigner("k")
            .sign(  # a session, as signed
                base64.b64encode(json.dumps({"sid": "x"}).encode())
            )
            .decode(),
        )
        api = c.get("/api/overdue")
    for r in (health, page, api):
        assert "bimat" not in r.text and "127.0.0.1:1" not in r.text, r.text
    assert health.status_code == 503 and health.json()["status"] == "error"
    assert page.status_code == 503 and "thử lại" in page.text
    assert api.status_code == 503 and "thử lại" in api.json()["detail"]
    assert "bimat" in caplog.text  # the detail is in the log, for whoever runs the server


def test_bodies_are_capped_and_inputs_are_not_echoed(world: World) -> None:
    c = world.client("thuky")
    headers = {"X-CSRF-Token": api_token(c)}
    sid = SCOPES["thuky"][0]
    big = c.post(f"/api/steps/{sid}/done", json={"note": "x" * 5_000_000}, headers=headers)
    assert big.status_code == 413 and len(big.content) < 1000
    assert "quá lớn" in big.json()["detail"]
    form = c.post(
        f"/buoc/{sid}",
        data={"csrf": headers["X-CSRF-Token"], "action": "done", "note": "y" * 200_000},
    )
    assert form.status_code == 413 and len(form.content) < 20_000

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body comes in chunks
        for _ in range(100):
            yield b"z" * 10_000

    chunked = c.post(
        f"/api/steps/{sid}/done",
        content=chunks(),
        headers={**headers, "content-type": "application/json"},
    )
    assert chunked.status_code == 413 and "quá lớn" in chunked.json()["detail"]
    long = c.post(f"/api/steps/{sid}/done", json={"note": "BIMAT" * 1000}, headers=headers)
    assert long.status_code == 422 and "note" in long.json()["detail"]
    assert len(long.content) < 1000 and "BIMAT" * 9 not in long.text
    anon = world.client()
    token = csrf_of(anon.get("/dang-nhap").text)
    secret = "MATKHAU-BI-MAT-" * 100
    r = anon.post("/dang-nhap", data={"login": "thuky", "password": secret, "csrf": token})
    assert r.status_code == 422 and "MATKHAU" not in r.text and "password" in r.text
    assert world.step(sid).state == "pending"  # type: ignore[attr-defined]


def test_no_swagger_page_from_a_cdn(world: World) -> None:
    c = world.client()
    assert c.get("/api/docs").status_code == 404
    assert c.get("/openapi.json").status_code == 200
    assert "cdn." not in world.client("thuky").get("/qua-han").text


def test_the_sqlite_file_and_the_secret_key_are_private(tmp_path: Path, kehoach_bin: str) -> None:
    url = f"sqlite:///{tmp_path / 'kehoach.sqlite3'}"
    done = subprocess.run(
        [kehoach_bin, "db", "upgrade"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
        env={**os.environ, "KEHOACH_DATABASE_URL": url},
    )
    assert done.returncode == 0, done.stderr
    engine = store.make_engine(url)
    create_app({}, engine)  # no KEHOACH_SECRET_KEY: one is made and kept beside the file
    engine.dispose()
    made = [p for p in tmp_path.iterdir() if p.name.startswith("kehoach.sqlite3")]
    assert {p.name for p in made} >= {"kehoach.sqlite3", "kehoach.sqlite3.secret-key"}
    for path in made:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


# ── 7. tokens in logs, NUL in a token ───────────────────────────────────────────────────────


def raw_get(base: str, path: str, host: str | None = None) -> http.client.HTTPResponse:
    """GET a path exactly as written (httpx would remove the dot segments)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("GET", path, skip_host=host is not None)
    if host is not None:
        conn.putheader("Host", host)
    conn.endheaders()
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_feed_tokens_never_reach_the_log_and_a_nul_token_is_a_bare_404(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kehoach.http")
    with write_session(world.engine) as s:
        token = store_feeds.create(s, "unit", "doan-a", NOW)[1]
    for path in (
        f"/lich/{token}.ics",
        f"//lich/{token}.ics",
        f"/lich//{token}.ics",
        f"/LICH/{token}.ics",
        f"/./lich/{token}.ics",
        f"/tinh/../lich/{token}.ics",
        f"/lich/{token}/x",
        f"/khong-co/{token}",
        f"/lich/{token}%00.ics",
    ):
        raw_get(world.base, path)
    for _ in range(500):  # a line is written once its response has gone
        paths = [
            json.loads(r.getMessage())["path"] for r in caplog.records if r.name == "kehoach.http"
        ]
        if len(paths) >= 9:
            break
        threading.Event().wait(0.02)
    assert len(paths) == 9 and all("***" in p for p in paths), paths
    assert token not in caplog.text and token[:12] not in caplog.text
    bad = httpx.get(f"{world.base}/lich/khong-co.ics")
    for nul in (f"/lich/{token}%00.ics", "/lich/a%00b.ics", f"/lich/{token}%00"):
        r = httpx.get(world.base + nul)
        assert (r.status_code, r.content, r.headers["content-type"]) == (
            404,
            bad.content,
            bad.headers["content-type"],
        ), nul


# ── 8. Host header ──────────────────────────────────────────────────────────────────────────


def test_redirects_are_relative_and_unknown_hosts_are_refused(world: World) -> None:
    r = raw_get(world.base, "/dang-nhap/", host="evil.example")
    assert r.status in (307, 308) and r.getheader("location") == "/dang-nhap"
    r = raw_get(world.base, "//evil.example/", host="evil.example")
    assert not (r.getheader("location") or "/").startswith(("//", "/\\", "http"))
    r = raw_get(world.base, "/qua-han", host="evil.example")
    assert r.status == 303 and r.getheader("location").startswith("/dang-nhap")
    with app_with(world, KEHOACH_ALLOWED_HOSTS="kehoach.example, *.kehoach.vn") as base:
        assert raw_get(base, "/dang-nhap", host="evil.example").status == 400
        assert raw_get(base, "/dang-nhap/", host="evil.example").status == 400
        assert raw_get(base, "/dang-nhap", host="kehoach.example").status == 200
        assert raw_get(base, "/dang-nhap", host="kehoach.example:8080").status == 200
        assert raw_get(base, "/dang-nhap", host="tinh.kehoach.vn").status == 200
        assert raw_get(base, "/dang-nhap", host="kehoach.vn.evil.example").status == 400
