#!/usr/bin/env python3
"""The summary pages right after a change to steps (issue 12): the board (board_bench's
server, kept warm as `kehoach serve` keeps it) answers the secretary's two summary pages;
then, again and again, another connection marks one late step done and the pages are asked
for `delay` seconds later. Last, under writes: another process marks a step done every
WRITE_EVERY seconds for WRITE_FOR seconds while the pages are asked for one after another
(p50, p95, max; target p95 ≤ 500 ms). And time: the secretary's aggregates kept at `now`,
then asked for a minute after each of the next four deadlines, by that board and by a
fresh one. The database is written: give it a copy.

    .venv/bin/python bench/summary_after_change.py sqlite:////tmp/copy.sqlite3
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from board_bench import Server, log_in

PAGES = ("/tong-hop/don-vi", "/tong-hop/cum")
DELAYS = (0, 0, 0.5, 1, 2, 3, 4)
WRITE_EVERY, WRITE_FOR = 0.25, 30.0


def main(url: str, now: str = "2026-10-01T03:00:00+00:00", settle: float = 8) -> None:
    from sqlalchemy import select, update

    from kehoach import store
    from kehoach.store.models import steps_table as t

    moment = datetime.fromisoformat(now)
    server = Server(url, moment)
    engine = store.make_engine(url)
    try:
        c = log_in(server.base, "thuky")
        time.sleep(settle)  # the start-up warm
        with store.read_session(engine) as s:
            ids = s.scalars(select(t.c.id).where(t.c.state == "pending").limit(len(DELAYS))).all()

        def ask(label: str) -> None:
            for path in PAGES:
                started = time.perf_counter()
                status = c.get(path).status_code
                ms = (time.perf_counter() - started) * 1000
                print(f"  {label:28} {path:18} {status} {ms:6.0f} ms", flush=True)

        ask("warm")
        for step, delay in zip(ids, DELAYS, strict=False):
            with store.write_session(engine) as s:
                s.execute(update(t).where(t.c.id == step).values(state="done", done_at=moment))
            time.sleep(delay)
            ask(f"{delay} s after a change")
            time.sleep(5)
        under_writes(c, url, moment)
        after_deadlines(url, moment)
    finally:
        server.stop()
        engine.dispose()


def under_writes(client: Any, url: str, moment: datetime) -> None:
    """The pages asked for one after another while a writer process marks a late step done
    every WRITE_EVERY seconds."""
    writer = subprocess.Popen(
        [sys.executable, __file__, "--write", url, moment.isoformat()], stdout=subprocess.PIPE
    )
    try:
        times: dict[str, list[float]] = {path: [] for path in PAGES}
        end = time.monotonic() + WRITE_FOR
        while time.monotonic() < end:
            for path in PAGES:
                started = time.perf_counter()
                assert client.get(path).status_code == 200
                times[path].append((time.perf_counter() - started) * 1000)
    finally:
        writer.terminate()
        written = writer.communicate()[0].decode().strip() or "?"
    for path, ms in times.items():
        ms.sort()
        p50, p95 = ms[len(ms) // 2], ms[min(len(ms) - 1, int(0.95 * len(ms)))]
        verdict = "PASS" if p95 <= 500 else "FAIL"
        print(
            f"  under writes (a step done every {WRITE_EVERY} s, {written} written) {path:18} "
            f"{len(ms)} requests p50 {p50:4.0f} ms p95 {p95:4.0f} ms max {ms[-1]:5.0f} ms "
            f"{verdict} (≤ 500)",
            flush=True,
        )


def after_deadlines(url: str, moment: datetime) -> None:
    """The secretary's summaries, monthly chart and two lists' totals kept at `moment`, then
    asked for a minute after each of the next four deadlines (caught up with time), and the
    same computed by a board that keeps nothing."""
    from datetime import timedelta

    from sqlalchemy import select

    from kehoach import store
    from kehoach.store.models import units_table
    from kehoach.web import queries as q
    from kehoach.web.params import DEFAULT_DAYS
    from kehoach.web.summary_cache import next_deadline

    def ask(engine: Any, at: datetime) -> float:
        with store.read_session(engine) as s:
            scope = set(s.scalars(select(units_table.c.id)))
            started = time.perf_counter()
            q.summaries(s, scope, at, "unit")
            q.summaries(s, scope, at, "cluster")
            q.monthly(s, scope, at, "plan")
            for which, f in (
                (q.OVERDUE, q.Filters()),
                (q.StepList(False, DEFAULT_DAYS), q.Filters()),
            ):
                q.step_page(s, scope, at, which, f)
            return (time.perf_counter() - started) * 1000

    kept = store.make_engine(url)
    try:
        print(f"  kept at {moment:%d/%m/%Y %H:%M}: {ask(kept, moment):.0f} ms", flush=True)
        at = moment
        for _ in range(4):
            with store.read_session(kept) as s:
                at = next_deadline(s, at) + timedelta(minutes=1)
            caught = ask(kept, at)
            fresh = store.make_engine(url)
            try:
                full = ask(fresh, at)
            finally:
                fresh.dispose()
            print(
                f"  a deadline passed, {at:%d/%m/%Y %H:%M}: caught up {caught:.0f} ms; "
                f"over every step {full:.0f} ms",
                flush=True,
            )
    finally:
        kept.dispose()


def write(url: str, now: str) -> None:
    """The writer process: a late step done every WRITE_EVERY seconds until terminated; prints
    how many on its way out."""
    import signal

    from sqlalchemy import select, update

    from kehoach import store
    from kehoach.store.models import steps_table as t

    moment, done = datetime.fromisoformat(now), 0
    engine = store.make_engine(url)

    def stop(*_: Any) -> None:
        print(done, flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with store.read_session(engine) as s:
        ids = s.scalars(select(t.c.id).where(t.c.state == "pending").limit(10_000)).all()
    for step in ids:
        with store.write_session(engine) as s:
            s.execute(update(t).where(t.c.id == step).values(state="done", done_at=moment))
        done += 1
        time.sleep(WRITE_EVERY)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(*sys.argv[2:4])
        raise SystemExit(0)
    main(*sys.argv[1:2])
