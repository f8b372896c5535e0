#!/usr/bin/env python3
"""Feed benchmark: build a 500-event calendar feed, serve it from the cache, and load the HTTP
route at a constant rate from a second process on loopback.

    .venv/bin/python bench/feed_bench.py                  # 510 events, 200 req/s for 60 s
    .venv/bin/python bench/feed_bench.py --duration 10    # a shorter load run
    .venv/bin/python bench/feed_bench.py --quick          # 102 events, 2 s at 50 req/s (smoke)

A generated plan (one cluster of 10 units; a monthly report, a yearly event with a time and a
place, a summer phase and a contribution, January 2024 to May 2027: 51 steps a unit, 510 for
the cluster; "now" is 16/06/2025: the earlier ones late, the later ones ahead) is loaded
into a fresh SQLite file, and one feed token is made per unit and one for the cluster. Then:

* cold build: what a request costs when the feed must be built: token, change marker, the
  500 steps read and turned into a calendar (`FeedCache.get` on an empty cache), median of
  10; and the pure part alone (`calendars.feed.render` of the 500 steps);
* cached: the same request once built (token, change marker, cache hit), p50 of 300;
* load: the app (kehoach.web.app.create_app when there, else a bare app with the feed
  router) under uvicorn in this process on a free loopback port; a second process sends GETs
  at a constant rate (open loop, wrk2-style: request i leaves at start + i/rate whether or not
  the earlier ones have come back, and its latency counts from that planned moment, so a
  stalled server cannot hide its queue) on at most 64 keep-alive HTTP/1.1 connections of its
  own (asyncio streams: httpx costs more CPU per request than the server does, and the
  generator would measure itself), round-robin over the cluster feed and the 10 unit feeds,
  without conditional headers (every answer carries the whole calendar; gzipped, as calendar
  apps ask, unless --encoding identity), after one warm-up GET per feed (the cold build is
  the figure above).

Targets (issue 5) are printed with ratios and PASS/FAIL, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_BUILD_MS = 400.0
TARGET_CACHED_P50_MS = 5.0
TARGET_P99_MS = 100.0
NOW = datetime(2025, 6, 16, 2, 0, tzinfo=UTC)
LOADED = datetime(2024, 1, 2, tzinfo=UTC)
PUBLIC = "https://lich.example.vn"


def make_plan(units: int, years: int) -> str:
    """The plan: 51 steps a unit over `years` + 5 months (2024 – May 2027 for 4)."""
    ids = [f"doan-{i:02d}" for i in range(1, units + 1)]
    unit_lines = "".join(f"  - id: {u}\n    name: Đoàn cơ sở số {u[-2:]}\n" for u in ids)
    last = 2024 + years - 1
    return f"""\
id: bench-lich
title: Kế hoạch đo lịch {2024} - {last}
issuer: quan-doan
period: {{from: 1/1/2024, to: 31/5/{last}}}
units:
  - id: quan-doan
    name: Ban Thường vụ Quận Đoàn
{unit_lines}clusters:
  - id: cum-1
    name: Cụm đo
    head: {ids[0]}
    members: [{", ".join(ids)}]
obligations:
  - id: bao-cao
    kind: deadline
    title: Báo cáo tháng
    when: ngày 25 hằng tháng
    responsible: cum-1
  - id: so-ket
    kind: event
    title: Hội nghị sơ kết
    when: 08g00, ngày 19/5 hằng năm
    place: Nhà Thiếu nhi Thành phố
    responsible: cum-1
  - id: he
    kind: phase
    title: Đợt hoạt động hè
    when: dịp hè hằng năm
    responsible: cum-1
  - id: dong-gop
    kind: contribution
    title: Đóng góp kinh phí
    when: ngày 30/9 hằng năm
    amount: 500.000 đồng
    responsible: cum-1
"""


def setup(folder: Path, units: int, years: int) -> tuple[Any, list[str], str]:
    """A fresh SQLite database with the plan loaded: (engine, unit tokens, cluster token)."""
    from engine.compiler import compile_plan
    from engine.loader import load_plan
    from engine.workdays import WorkingCalendar
    from kehoach import store
    from kehoach.store import feeds

    path = folder / "bench-lich.yaml"
    path.write_text(make_plan(units, years), encoding="utf-8")
    engine = store.make_engine(f"sqlite:///{folder / 'kehoach.sqlite3'}")
    store.upgrade(engine)
    plan = load_plan(path)
    with store.write_session(engine) as session:
        store.sync_plan(
            session,
            plan,
            compile_plan(plan, WorkingCalendar()),
            now=LOADED,
            content_hash=store.file_digest(path),
            actor="bench",
            channel="bench",
        )
    with store.write_session(engine) as session:
        unit_tokens = [
            feeds.create(session, "unit", f"doan-{i:02d}", LOADED)[1] for i in range(1, units + 1)
        ]
        cluster = feeds.create(session, "cluster", "bench-lich/cum-1", LOADED)[1]
    return engine, unit_tokens, cluster


def ms(seconds: float) -> float:
    return seconds * 1000


def time_builds(engine: Any, token: str) -> dict[str, Any]:
    from calendars.feed import Feed, render
    from kehoach import store
    from kehoach.store import feeds
    from kehoach.web.feeds import FeedCache

    with store.read_session(engine) as session:
        scope = feeds.resolve(session, token)
        assert scope is not None
        steps = feeds.feed_steps(session, scope)
    render(steps, Feed(scope.name, PUBLIC), NOW)  # warm the imports and the VTIMEZONE
    pure = []
    for _ in range(10):
        started = time.perf_counter()
        body = render(steps, Feed(scope.name, PUBLIC), NOW)
        pure.append(time.perf_counter() - started)
    cold, cpu = [], []
    for _ in range(10):
        cache = FeedCache()
        started, used = time.perf_counter(), time.process_time()
        built = cache.get(engine, token, NOW, PUBLIC)
        cold.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        assert built is not None and cache.builds == 1
    warm = []
    for _ in range(300):
        started = time.perf_counter()
        again = cache.get(engine, token, NOW, PUBLIC)
        warm.append(time.perf_counter() - started)
        assert again is built
    assert cache.builds == 1
    return {
        "events": len(steps),
        "bytes": len(body),
        "pure_ms": ms(statistics.median(pure)),
        "cold_ms": ms(statistics.median(cold)),
        "cold_cpu_ms": ms(statistics.median(cpu)),
        "cached_p50_ms": ms(statistics.median(warm)),
        "cached_p99_ms": ms(sorted(warm)[int(len(warm) * 0.99) - 1]),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(engine: Any) -> tuple[Any, str]:
    """The app under uvicorn in a thread of this process: (server, base URL)."""
    import uvicorn
    from fastapi import FastAPI

    settings = {"KEHOACH_PUBLIC_URL": PUBLIC}
    try:
        from kehoach.web.app import create_app

        app = create_app(settings, engine, now=lambda: NOW)
    except ImportError:
        from kehoach.web import feeds

        app = FastAPI()
        app.include_router(feeds.router)
        app.state.engine, app.state.settings, app.state.now = engine, settings, lambda: NOW
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


# ── the load generator: run in a second process ────────────────────────────────────────────


class Connections:
    """Keep-alive HTTP/1.1 connections to the server, each carrying one request at a time, at
    most CONNECTIONS of them (like wrk2's -c): a request finding them all busy waits for one,
    and that wait counts in its latency (measured from its planned moment), so the generator
    stays open-loop without drowning a slow server in new connections. The most recently
    used idle one is taken first; one idle longer than the server keeps it (uvicorn: 5 s) is
    closed, and a request whose reused connection turns out closed before any answer is sent
    again once on a new one, as HTTP clients do with idempotent requests."""

    IDLE = 4.0  # seconds
    CONNECTIONS = 64

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.slots = asyncio.Semaphore(self.CONNECTIONS)
        self.idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.retried = 0

    async def _connection(self) -> tuple[bool, asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle:
            used, reader, writer = self.idle.pop()
            if now - used < self.IDLE:
                return True, reader, writer
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1
        return False, reader, writer

    async def request(self, raw: bytes) -> int:
        """Send one request, read the whole answer; its status."""
        async with self.slots:
            return await self._request(raw)

    async def _request(self, raw: bytes) -> int:
        reused, reader, writer = await self._connection()
        writer.write(raw)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            writer.close()
            self.retried += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened += 1
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in lines
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        self.idle.append((time.monotonic(), reader, writer))
        return status


async def _load(
    base: str, paths: list[str], rate: float, duration: float, encoding: str
) -> dict[str, Any]:
    """Request i leaves at start + i/rate (open loop); latency from that planned moment."""
    host, port = base.removeprefix("http://").split(":")
    pool = Connections(host, int(port))
    raws = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: feed_bench\r\n"
        f"Accept-Encoding: {encoding}\r\n\r\n".encode()
        for p in paths
    ]
    total = int(rate * duration)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def one(i: int) -> None:
        planned = start + i / rate
        await asyncio.sleep(max(0.0, planned - loop.time()))
        try:
            status = await asyncio.wait_for(pool.request(raws[i % len(raws)]), 30)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        latencies.append(loop.time() - planned)

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = loop.time() - start
    latencies.sort()
    return {
        "requests": total,
        "elapsed_s": elapsed,
        "errors": errors,
        "connections": pool.opened,
        "retried": pool.retried,
        "p50_ms": ms(latencies[len(latencies) // 2]),
        "p99_ms": ms(latencies[max(0, int(len(latencies) * 0.99) - 1)]),
        "max_ms": ms(latencies[-1]),
    }


def load_client(argv: list[str]) -> None:
    """`feed_bench.py --load-client BASE RATE DURATION ENCODING PATH…`: the figures as JSON."""
    base, rate, duration, encoding, *paths = argv
    print(json.dumps(asyncio.run(_load(base, paths, float(rate), float(duration), encoding))))


def run_load(
    base: str, paths: list[str], rate: float, duration: float, encoding: str
) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load-client",
            base,
            str(rate),
            str(duration),
            encoding,
            *paths,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=duration + 300,
    )
    if result.returncode != 0:
        raise SystemExit(f"the load process failed:\n{result.stderr}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def warm_up(base: str, paths: list[str]) -> None:
    """One GET per feed before the timed run: the feeds built, as a running server has them
    (the cold build is measured above, on its own)."""
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        for path in paths:
            client.get(path).raise_for_status()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--load-client"]:
        load_client(argv[1:])
        return
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=60, help="seconds of load (60)")
    ap.add_argument("--rate", type=float, default=200, help="requests per second (200)")
    ap.add_argument(
        "--encoding",
        default="gzip",
        choices=["gzip", "identity"],
        help="Accept-Encoding of the load's requests (gzip, as calendar apps send)",
    )
    ap.add_argument("--quick", action="store_true", help="102 events, 2 s at 50 req/s")
    args = ap.parse_args(argv)
    units, years = 10, 4
    if args.quick:
        units, years, args.duration, args.rate = 2, 4, 2, 50
    with tempfile.TemporaryDirectory(prefix="feed_bench_") as folder:
        engine, unit_tokens, cluster = setup(Path(folder), units, years)
        b = time_builds(engine, cluster)
        print(
            f"feed of {b['events']} events ({b['bytes'] / 1024:.0f} KiB), SQLite, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"  cold build (request)   {b['cold_ms']:8.1f} ms   target ≤ {TARGET_BUILD_MS:g} ms "
            f"(×{b['cold_ms'] / TARGET_BUILD_MS:.2f}): {verdict(b['cold_ms'] <= TARGET_BUILD_MS)}"
            + ("" if b["events"] >= 500 else "   (target is for 500 events)")
        )
        print(
            f"    CPU time             {b['cold_cpu_ms']:8.1f} ms   (this process's, of the same "
            "builds: the wall time less the waits for a busy machine's CPUs)"
        )
        print(f"    of which render      {b['pure_ms']:8.1f} ms   (calendars.feed.render alone)")
        print(
            f"  cached (request)  p50  {b['cached_p50_ms']:8.2f} ms   target ≤ "
            f"{TARGET_CACHED_P50_MS:g} ms (×{b['cached_p50_ms'] / TARGET_CACHED_P50_MS:.2f}): "
            f"{verdict(b['cached_p50_ms'] <= TARGET_CACHED_P50_MS)}   p99 "
            f"{b['cached_p99_ms']:.2f} ms"
        )
        server, base = serve(engine)
        try:
            paths = [f"/lich/{t}.ics" for t in [cluster, *unit_tokens]]
            warm_up(base, paths)
            r = run_load(base, paths, args.rate, args.duration, args.encoding)
        finally:
            server.should_exit = True
        failed = sum(r["errors"].values())
        print(
            f"  load {args.rate:g} req/s × {args.duration:g} s from a second process "
            f"({r['requests']} requests in {r['elapsed_s']:.1f} s, {len(paths)} feeds, "
            f"Accept-Encoding: {args.encoding}, {r['connections']} connections, "
            f"{r['retried']} requests sent again on a new one):"
        )
        print(
            f"    p50 {r['p50_ms']:7.1f} ms   p99 {r['p99_ms']:7.1f} ms   target < "
            f"{TARGET_P99_MS:g} ms (×{r['p99_ms'] / TARGET_P99_MS:.2f}): "
            f"{verdict(r['p99_ms'] < TARGET_P99_MS)}   max {r['max_ms']:.1f} ms"
        )
        print(
            f"    errors {failed}{' ' + json.dumps(r['errors']) if failed else ''}   target 0: "
            f"{verdict(failed == 0)}"
        )
        engine.dispose()
    print("(targets printed, not asserted)")


if __name__ == "__main__":
    main()
