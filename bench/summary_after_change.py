#!/usr/bin/env python3
"""The summary pages right after a change to steps (issue 12): the board (board_bench's
server, kept warm as `kehoach serve` keeps it) answers the secretary's two summary pages;
then, again and again, another connection marks one late step done and the pages are asked
for `delay` seconds later. The database is written: give it a copy.

    .venv/bin/python bench/summary_after_change.py sqlite:////tmp/copy.sqlite3
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from board_bench import Server, log_in

PAGES = ("/tong-hop/don-vi", "/tong-hop/cum")
DELAYS = (0, 0, 0.5, 1, 2, 3, 4)


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
    finally:
        server.stop()
        engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:2])
