#!/usr/bin/env python3
"""Board benchmark (issue 12): the board, the API and the CLI on a national-scale plan.

    .venv/bin/python bench/board_bench.py                      # 5,000 units × 3 years, SQLite
    .venv/bin/python bench/board_bench.py --units 10000 --years 5 --db both    # ≈ 1M steps
    .venv/bin/python bench/board_bench.py --quick             # small smoke run
    .venv/bin/python bench/board_bench.py --baseline DIR      # also time the code in DIR

The plan is bench/compile_bench.py's synthetic plan, loaded with `kehoach load` into a fresh
database; "now" is late in the plan's period, so most steps are late. Three people log in: the
issuer's secretary, the head of the first cluster, the secretary of one unit. The board runs
in its own process (uvicorn); this process is the client: for every page and API list, p50
and p95 of `--requests` requests, the answer's size and the server's RSS afterwards. Then a
full CSV export of every late step (rows/s, the server's RSS growth while it streams) and
`kehoach overdue --format csv --limit 0` (rows/s, peak RSS). Targets are printed with
PASS/FAIL, never asserted.

`--baseline DIR` runs the same requests (fewer: `--baseline-requests`) against the code in DIR
(e.g. `git archive <commit> kehoach engine workflows notifiers calendars | tar -x -C DIR`)
on the same database, for the issuer's secretary: the figures of the code before the change.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
PG_URL = os.environ.get(
    "KEHOACH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "mật khẩu bench 123"
PAGE_P95_MS, PAGE_MAX_BYTES, SUMMARY_P95_MS = 300, 1_000_000, 500
EXPORT_ROWS_S, EXPORT_RSS_MB, CLI_ROWS_S, CLI_RSS_MB = 50_000, 100, 50_000, 300
#: path → is a summary (its own target)
PATHS = [
    ("/qua-han", False),
    ("/qua-han?sort=unit", False),
    ("/qua-han?min_days=30&sort=due&desc=true", False),
    ("/qua-han (trang 2)", False),
    ("/sap-den?days=30", False),
    ("/nguoi", False),
    ("/tong-hop/don-vi", True),
    ("/tong-hop/cum", True),
    ("/api/overdue", False),
    ("/api/overdue (trang 2)", False),
    ("/api/overdue?sort=unit", False),
    ("/api/upcoming?days=30", False),
    ("/api/people", False),
    ("/api/summary/units", True),
    ("/api/summary/clusters", True),
]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ── the server process ─────────────────────────────────────────────────────────────────────


def serve(url: str, port: int, now: str, code: str | None) -> None:
    """Run the board on 127.0.0.1:port (this process is the server)."""
    if code:
        sys.path.insert(0, code)
    import uvicorn

    from kehoach import store
    from kehoach.web import server
    from kehoach.web.app import create_app

    moment = datetime.fromisoformat(now)
    app = create_app({"KEHOACH_SECRET_KEY": "bench"}, store.make_engine(url), now=lambda: moment)
    print("code:", sys.modules["kehoach"].__file__, file=sys.stderr, flush=True)
    # as `kehoach serve` does (server.run): the summaries kept warm, when the code does it;
    # serve computes them in the background while it already answers, the bench before it
    # answers (its first path is then not timed against the warm-up), timed on its own line
    if hasattr(server, "kept_warm"):
        from kehoach.web.pages import warm_pages
        from kehoach.web.summary_cache import Refresher

        started = time.perf_counter()
        with store.read_session(app.state.engine) as session:
            warm_pages(session, moment)
        print(
            f"  warm-up: the summary pages computed at start in "
            f"{time.perf_counter() - started:.1f} s (kehoach serve: in the background)",
            file=sys.stderr,
            flush=True,
        )
        Refresher(app.state.engine, app.state.now).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Server:
    def __init__(self, url: str, now: datetime, code: str | None = None):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        args = [sys.executable, __file__, "--serve", url, str(self.port), now.isoformat()]
        self.proc = subprocess.Popen(args + (["--code", code] if code else []))
        self.base = f"http://127.0.0.1:{self.port}"
        import httpx

        for _ in range(600):
            try:
                httpx.get(self.base + "/dang-nhap", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the board did not start")

    @property
    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def count_steps(url: str) -> int:
    from sqlalchemy import func, select

    from kehoach import store
    from kehoach.store.models import steps_table

    engine = store.make_engine(url)
    try:
        with store.read_session(engine) as s:
            return int(s.execute(select(func.count()).select_from(steps_table)).scalar_one())
    finally:
        engine.dispose()


# ── the data ───────────────────────────────────────────────────────────────────────────────


def prepare(url: str, units: int, years: int, tmp: Path) -> tuple[dict[str, str], int]:
    """Load the plan with `kehoach load`; add the three people. (logins → unit, steps)."""
    from compile_bench import ISSUER, make_plan
    from sqlalchemy import update

    from kehoach import store
    from kehoach.store.models import people_table
    from kehoach.store.people import add_person
    from kehoach.web.passwords import hash_password

    text, _ = make_plan(units, years)
    plan = tmp / "plans" / "bench.yaml"
    plan.parent.mkdir(exist_ok=True)
    plan.write_text(text, encoding="utf-8")
    env = {**os.environ, "KEHOACH_DATABASE_URL": url}
    kehoach = str(Path(sys.executable).parent / "kehoach")
    for args in (["db", "upgrade"], ["load", str(plan)]):
        started = time.perf_counter()
        done = subprocess.run(
            [kehoach, *args], env=env, cwd=tmp, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(done.stderr)
        print(f"  kehoach {' '.join(args)}: {time.perf_counter() - started:.1f} s")
    engine = store.make_engine(url)
    people = {
        "thuky": (ISSUER, "secretary"),
        "cumtruong": ("u00001", "cluster_head"),
        "bithu": ("u00002", "unit_secretary"),
    }
    now = datetime.now(UTC)
    with store.write_session(engine) as s:
        for login, (unit, role) in people.items():
            add_person(s, login, unit, now, board_role=role, login=login)
        s.execute(update(people_table).values(password_hash=hash_password(PASSWORD)))
    engine.dispose()
    return {k: v[0] for k, v in people.items()}, count_steps(url)


# ── the client ─────────────────────────────────────────────────────────────────────────────


def log_in(base: str, login: str) -> Any:
    import httpx

    c = httpx.Client(base_url=base, timeout=600)
    found = re.search(r'name="csrf" value="([^"]+)"', c.get("/dang-nhap").text)
    assert found, "no CSRF field on the login page"
    token = found.group(1)
    r = c.post(
        "/dang-nhap", data={"login": login, "password": PASSWORD, "csrf": token, "next": "/"}
    )
    assert r.status_code == 303, r.text[:300]
    return c


def resolve(c: Any, path: str) -> str:
    """A page-2 path: the first page's next cursor (from the API, or the page's link)."""
    if path == "/api/overdue (trang 2)":
        nxt = c.get("/api/overdue").json().get("next")
        return f"/api/overdue?after={nxt}" if nxt else "/api/overdue"
    if path == "/qua-han (trang 2)":
        found = re.search(r'href="(/qua-han\?[^"]+)" rel="next"', c.get("/qua-han").text)
        return found.group(1).replace("&amp;", "&") if found else "/qua-han"
    return path


def time_path(c: Any, path: str, n: int) -> tuple[float, float, int, int]:
    """p50, p95 (ms), size of the answer (bytes), status."""
    times, size, status = [], 0, 0
    for _ in range(n):
        started = time.perf_counter()
        r = c.get(path)
        times.append((time.perf_counter() - started) * 1000)
        size, status = len(r.content), r.status_code
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, size, status


#: The baseline's paths: its lists have no pages, so one of each kind.
BASELINE_PATHS = [
    ("/qua-han", False),
    ("/api/overdue", False),
    ("/tong-hop/don-vi", True),
    ("/tong-hop/cum", True),
]


def bench_pages(
    server: Server, logins: list[str], n: int, label: str, paths: list[tuple[str, bool]] = PATHS
) -> list[str]:
    lines, failures = [], []
    for login in logins:
        c = log_in(server.base, login)
        for path, summary in paths:
            real = resolve(c, path)
            cpu = server.cpu
            p50, p95, size, status = time_path(c, real, n)
            cpu_ms = (server.cpu - cpu) * 1000 / n
            target = SUMMARY_P95_MS if summary else PAGE_P95_MS
            ok = status == 200 and p95 <= target and size <= PAGE_MAX_BYTES
            if not ok:
                failures.append(f"{login} {path}")
            line = (
                f"  {label:8} {login:9} {path:42} p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  "
                f"CPU {cpu_ms:6.0f} ms  {size / 1024:7.1f} KB  RSS {server.rss:4.0f} MB  "
                f"{status}  "
                f"{verdict(ok) if login == 'thuky' else ''}"
            )
            print(line, flush=True)
            lines.append(line)
    return lines


def bench_export(server: Server, label: str) -> None:
    c = log_in(server.base, "thuky")
    before, peak, done = server.rss, [server.rss], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.rss)
            time.sleep(0.02)

    watcher = threading.Thread(target=sample)
    watcher.start()
    rows, size = 0, 0
    cpu = server.cpu
    started = time.perf_counter()
    with c.stream("GET", "/xuat/qua-han.csv") as r:
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
            size += len(chunk)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    rows -= 1  # the header
    rate, growth = rows / seconds, peak[0] - before
    cpu_rate = rows / max(server.cpu - cpu, 1e-9)
    print(
        f"  {label:8} CSV export of every late step: {rows:,} rows, {size / 1e6:.0f} MB in "
        f"{seconds:.1f} s = {rate:,.0f} rows/s ({verdict(rate >= EXPORT_ROWS_S)} ≥ "
        f"{EXPORT_ROWS_S:,}; {cpu_rate:,.0f} rows per CPU second); "
        f"server RSS {before:.0f} → {peak[0]:.0f} MB, +{growth:.0f} MB "
        f"({verdict(growth <= EXPORT_RSS_MB)} ≤ {EXPORT_RSS_MB})",
        flush=True,
    )


def bench_cli(url: str, now: datetime, tmp: Path) -> None:
    env = {**os.environ, "KEHOACH_DATABASE_URL": url}
    kehoach = str(Path(sys.executable).parent / "kehoach")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [kehoach, "overdue", "--format", "csv", "--limit", "0", "--now", now.isoformat()],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    rows = sum(1 for _ in proc.stdout) - 1
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    seconds = time.perf_counter() - started
    peak = usage.ru_maxrss / 1024
    rate = rows / seconds
    cpu_rate = rows / max(usage.ru_utime + usage.ru_stime, 1e-9)
    print(
        f"  CLI      kehoach overdue --format csv --limit 0: {rows:,} rows in {seconds:.1f} s "
        f"= {rate:,.0f} rows/s ({verdict(rate >= CLI_ROWS_S)} ≥ {CLI_ROWS_S:,}; "
        f"{cpu_rate:,.0f} rows per CPU second); peak RSS "
        f"{peak:.0f} MB ({verdict(peak <= CLI_RSS_MB)} ≤ {CLI_RSS_MB})",
        flush=True,
    )


def database(kind: str, tmp: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'board.sqlite3'}", None
    from sqlalchemy import create_engine

    schema = f"board_bench_{os.getpid()}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--requests", type=int, default=50, help="requests per path (50)")
    ap.add_argument(
        "--now",
        default="2026-10-01T03:00:00+00:00",
        help="the board's now (default: late in the plan's last year)",
    )
    ap.add_argument("--baseline", metavar="DIR", help="also time the code in DIR")
    ap.add_argument("--baseline-requests", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="200 units × 3 years, 10 requests")
    ap.add_argument(
        "--url",
        help="a database a previous run loaded (kept with --keep): measure again without loading",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the database (SQLite file, PostgreSQL schema; its URL is printed) for --url",
    )
    ap.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--code", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(*args.serve, args.code)
        return
    if args.quick:
        args.units, args.requests = 200, 10
    now = datetime.fromisoformat(args.now)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    size = "the database at --url" if args.url else f"{args.units:,} units × {args.years} years"
    print(
        f"board bench: {size}, now {now:%Y-%m-%d %H:%M} UTC,"
        f" {args.requests} requests per path; load {os.getloadavg()[0]:.1f}"
    )
    for kind in kinds:
        tmp = Path(tempfile.mkdtemp(prefix="board-bench-"))
        url, drop = (args.url, None) if args.url else database(kind, tmp)
        try:
            if not args.url:
                _, steps = prepare(url, args.units, args.years, tmp)
                print(f"{kind}: {steps:,} steps" + (f" ({url})" if args.keep else ""))
            else:
                print(f"{url}: {count_steps(url):,} steps")
            run(url, now, tmp, args)
        finally:
            if drop and not args.keep:
                drop()
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, now: datetime, tmp: Path, args: argparse.Namespace) -> None:
    server = Server(url, now)
    try:
        bench_pages(server, ["thuky", "cumtruong", "bithu"], args.requests, "new")
        bench_export(server, "new")
    finally:
        server.stop()
    bench_cli(url, now, tmp)
    if args.baseline:
        base = Server(url, now, args.baseline)
        try:
            bench_pages(base, ["thuky"], args.baseline_requests, "baseline", BASELINE_PATHS)
            bench_export(base, "baseline")
        finally:
            base.stop()


if __name__ == "__main__":
    main()
