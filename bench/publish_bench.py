"""Benchmark the browser path of a plan (issue 14): upload → answer → preview → publish.

    .venv/bin/python bench/publish_bench.py          # every seed in ../shared/seeds

For each seed, over real HTTP against the board on a loopback port (a fresh SQLite file, a
secretary logged in): the wall time from the upload to the published plan, with every review
question answered as it stands (the machine's share of the 5 minutes a person has), and the
number of form items a person must answer (fewer is better). Baseline: the terminal path for
the same text, `kehoach import` then `kehoach load` in-process (read, import, parse, compile,
store), printed as browser / terminal. Target: seed 000 ≤ 10 s of machine time (PASS/FAIL,
never asserted).
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
from sqlalchemy import insert, update

from engine.compiler import compile_plan
from engine.importing import import_lines, render
from engine.loader import parse_plan
from engine.workdays import WorkingCalendar
from kehoach import store
from kehoach.cli_import import read_lines
from kehoach.store.drafts import store_plan
from kehoach.store.models import people_table, units_table
from kehoach.store.people import add_person
from kehoach.web.app import create_app
from kehoach.web.passwords import hash_password
from kehoach.web.server import background

SEEDS = ROOT.parent / "shared" / "seeds"
TARGET = 10.0  # seconds, seed 000
PASSWORD = "mật khẩu bench 123"


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field"
    return found.group(1)


def browser_path(base: str, seed: Path) -> tuple[float, int]:
    """(seconds from upload to published, form items to answer)."""
    with httpx.Client(base_url=base, timeout=120) as c:
        c.post(
            "/dang-nhap",
            data={
                "login": "thuky",
                "password": PASSWORD,
                "csrf": csrf(c.get("/dang-nhap").text),
                "next": "/ke-hoach",
            },
        )
        token = csrf(c.get("/ke-hoach/moi").text)
        started = time.perf_counter()
        r = c.post(
            "/ke-hoach/moi", data={"csrf": token}, files={"tep": (seed.name, seed.read_bytes())}
        )
        assert r.status_code == 303, r.text[:500]
        draft = r.headers["location"].rsplit("/", 1)[1]
        html = c.get(r.headers["location"]).text
        asked = len(re.findall(r'name="answered-\d+"', html))
        data = {f"answered-{k}": "1" for k in range(asked)}
        data.update({"csrf": token, "revision": "1", "next": "preview"})
        r = c.post(f"/ke-hoach/nhap/{draft}", data=data)
        assert r.status_code == 303 and r.headers["location"].endswith("xem-truoc"), r.text[:800]
        c.get(r.headers["location"]).raise_for_status()
        r = c.post(f"/ke-hoach/nhap/{draft}/cong-bo", data={"csrf": token, "revision": "2"})
        assert r.status_code == 303, r.text[:500]
        return time.perf_counter() - started, asked


def terminal_path(seed: Path, url: str) -> float:
    """`kehoach import` then `kehoach load` of the draft, in-process, review left as it is."""
    started = time.perf_counter()
    draft = import_lines(read_lines(seed), seed.name)
    text = render(draft)
    plan = parse_plan(text, "draft.yaml")
    steps = compile_plan(plan, WorkingCalendar())
    engine = store.make_engine(url)
    store.upgrade(engine)
    with store.write_session(engine) as session:
        store_plan(session, plan, steps, text, now=datetime.now(UTC), actor="bench", channel="cli")
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    if not seeds:
        sys.exit(f"no seed texts in {SEEDS}")
    print(f"{'seed':<6} {'browser s':>10} {'terminal s':>11} {'ratio':>7} {'form items':>11}")
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/kehoach.sqlite3"
            engine = store.make_engine(url)
            store.upgrade(engine)
            with store.write_session(engine) as s:
                s.execute(insert(units_table).values(id="co-quan", name="Cơ quan thử"))
                add_person(
                    s, "Thư ký", "co-quan", datetime.now(UTC), board_role="secretary", login="thuky"
                )
                s.execute(update(people_table).values(password_hash=hash_password(PASSWORD)))
            app = create_app({"KEHOACH_SECRET_KEY": "bench"}, engine)
            with background(app) as base:
                seconds, asked = browser_path(base, seed)
            engine.dispose()
            terminal = terminal_path(seed, f"sqlite:///{folder}/terminal.sqlite3")
        verdict = (
            f"  target ≤ {TARGET:g} s: {'PASS' if seconds <= TARGET else 'FAIL'}"
            if seed.name.startswith("000")
            else ""
        )
        print(
            f"{seed.name[:3]:<6} {seconds:>10.2f} {terminal:>11.2f} {seconds / terminal:>6.1f}× "
            f"{asked:>11}{verdict}"
        )


if __name__ == "__main__":
    main()
