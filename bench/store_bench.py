#!/usr/bin/env python3
"""Store benchmark: a national-scale plan stored, reloaded and ticked, on SQLite and PostgreSQL.

    .venv/bin/python bench/store_bench.py                      # 1,000,000 steps, both databases
    .venv/bin/python bench/store_bench.py --db sqlite --steps 200000
    .venv/bin/python bench/store_bench.py --quick --db sqlite  # ~5,000 steps, smoke run
    .venv/bin/python bench/store_bench.py --profile --db sqlite  # also cProfile the first load
                                                                 # and the busy tick

The plan is compile_bench.py's synthetic national plan (units in clusters of 20, a dozen
recurring obligations), with as many units as it takes to reach about `--steps` steps over
5 years. For each database (a fresh SQLite file in a temporary folder; a fresh PostgreSQL
database on 127.0.0.1 created and dropped by the run), side by side in the same run:

* load:    `store.sync_plan` on the compiled steps in one write transaction (what
           `kehoach load` does: steps + one "created" audit row per step), in steps/s;
* raw:     the floor: SQLAlchemy Core `insert(steps).execute(rows)` (executemany, chunks of
           5,000) of the very same step rows into the same table of a second fresh database,
           only the executes and the commit timed (not building the rows, no audit rows);
* reload:  the same plan again, nothing changed (every step read and compared, none written);
* tick (nothing due): `store.tick` in its own write transaction, median of many runs;
* tick (N due): N pending steps whose next moment has come → outbox rows, one transaction;
* naive:   one APScheduler 3 date job per reminder in SQLAlchemyJobStore (a SQLite file):
           time to add N jobs, then time to restart (a new scheduler started on the persisted
           store, and listing its jobs), next to what the store does for the same N.

Targets (issue 3) are printed with PASS/FAIL, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time as _time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from compile_bench import make_plan

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_LOAD = 40_000  # steps/s on SQLite
TARGET_IDLE_TICK_MS = 5.0
TARGET_DUE_TICK_S = 2.0
STEPS_PER_UNIT_YEAR = 20.3  # compile_bench's plan: 1,015,505 steps for 10,000 units × 5 years
YEARS = 5
CHUNK = 5_000
LOAD_NOW = datetime(2023, 12, 1, tzinfo=UTC)  # before the period: every reminder is ahead


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} steps/s" if seconds > 0 else "           ∞"


class Timer:
    """Wall time `s`, and `cpu`: this process's CPU time (the machine is shared: a wall time
    stretched by other work shows as wall ≫ cpu; the database server's CPU is not counted)."""

    def __enter__(self) -> Self:
        self.t0, self.c0 = _time.perf_counter(), _time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = _time.perf_counter() - self.t0
        self.cpu = _time.process_time() - self.c0


def machine_load() -> str:
    """The 1-minute load average and the number of cores, to judge how noisy a figure is."""
    try:
        return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    except OSError:
        return "load average unknown"


# --------------------------------------------------------------------------- databases


class Database:
    """A fresh, migrated database of one kind; `drop()` removes it."""

    def __init__(self, kind: str, tmp: Path, tag: str):
        from kehoach import store

        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / f'{tag}.sqlite3'}"
            self._admin = None
        else:
            from sqlalchemy import create_engine, text

            self.name = f"kehoach_bench_{os.getpid()}_{tag}"
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.engine = store.make_engine(self.url)
        store.upgrade(self.engine)

    def drop(self) -> None:
        self.engine.dispose()
        if self._admin is not None:
            from sqlalchemy import text

            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()


# --------------------------------------------------------------------------- one database


def bench_db(
    kind: str,
    plan: Any,
    steps: list[Any],
    digest: str,
    tmp: Path,
    due: int,
    idle_runs: int,
    profile: bool,
) -> dict[str, Any]:
    from sqlalchemy import bindparam, func, insert, select, update

    from kehoach import store
    from kehoach.store.models import outbox_table, plans_table, steps_table, units_table
    from kehoach.store.rows import RowMaker

    n = len(steps)
    out: dict[str, Any] = {"kind": kind, "steps": n}
    print(f"\n── {kind} " + "─" * 60, flush=True)

    # raw floor: the same rows, Core executemany into the same table (another fresh database)
    raw_db = Database(kind, tmp, "raw")
    try:
        with store.write_session(raw_db.engine) as s:
            s.execute(insert(units_table), [{"id": u, "name": nm} for u, nm in plan.units.items()])
            s.execute(
                insert(plans_table).values(
                    id=plan.id,
                    title=plan.title,
                    file=plan.file,
                    current_version=1,
                    created_at=LOAD_NOW,
                    updated_at=LOAD_NOW,
                )
            )
        maker = RowMaker(plan)
        spent = cpu = 0.0
        with raw_db.engine.execution_options(kehoach_write=True).connect() as conn:
            t0, c0 = _time.perf_counter(), _time.process_time()
            conn.begin()
            spent += _time.perf_counter() - t0
            cpu += _time.process_time() - c0
            for i in range(0, n, CHUNK):
                rows = [maker.make(s_, LOAD_NOW) for s_ in steps[i : i + CHUNK]]
                t0, c0 = _time.perf_counter(), _time.process_time()
                conn.execute(insert(steps_table), rows)
                spent += _time.perf_counter() - t0
                cpu += _time.process_time() - c0
            t0, c0 = _time.perf_counter(), _time.process_time()
            conn.commit()
            spent += _time.perf_counter() - t0
            cpu += _time.process_time() - c0
        out["raw_s"], out["raw_cpu"] = spent, cpu
        print(
            f"raw Core executemany      {spent:8.2f} s  {rate(n, spent)}   (cpu {cpu:.2f} s)",
            flush=True,
        )
    finally:
        raw_db.drop()
    del maker
    gc.collect()

    db = Database(kind, tmp, "store")
    try:
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        with Timer() as t, store.write_session(db.engine) as s:
            r = store.sync_plan(s, plan, steps, now=LOAD_NOW, content_hash=digest)
        if profiler is not None:
            profiler.disable()
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        assert r.added == n, r
        out["load_s"], out["load_cpu"] = t.s, t.cpu
        print(
            f"kehoach load (sync_plan)  {t.s:8.2f} s  {rate(n, t.s)}   "
            f"(cpu {t.cpu:.2f} s; +{n:,} audit rows)",
            flush=True,
        )

        with Timer() as t, store.write_session(db.engine) as s:
            r = store.sync_plan(
                s, plan, steps, now=LOAD_NOW + timedelta(minutes=1), content_hash=digest
            )
        assert r.kept == n and not r.wrote, r
        out["reload_s"] = t.s
        print(
            f"reload, nothing changed   {t.s:8.2f} s  {rate(n, t.s)}   (cpu {t.cpu:.2f} s)",
            flush=True,
        )

        # A serving process holds no compiled plan; this one still holds the million compiled
        # steps (for the next database and APScheduler), which every garbage collection during
        # a tick would walk (0.4 s of a 10,000-due tick): they are frozen out of the collector
        # for the ticks (gc.freeze), as they are not for the load, where `kehoach load` holds them.
        gc.collect()
        gc.freeze()
        # one tick when nothing is due (the load's moment: every next moment is later)
        for _ in range(3):  # warm up the statement cache and the connection pool
            with store.write_session(db.engine) as s:
                store.tick(s, LOAD_NOW)
        times = []
        for _ in range(idle_runs):
            t0 = _time.perf_counter()
            with store.write_session(db.engine) as s:
                res = store.tick(s, LOAD_NOW)
            times.append(_time.perf_counter() - t0)
            assert res.steps == 0, res
        out["idle_ms"] = statistics.median(times) * 1000
        print(
            f"tick, nothing due         {out['idle_ms']:8.2f} ms (median of {idle_runs}, "
            f"p90 {sorted(times)[int(idle_runs * 0.9)] * 1000:.2f} ms)",
            flush=True,
        )

        # a tick with `due` steps due: the first `due` steps by next moment; the steps tied
        # with the last one are moved 1 µs past it (bench database only), so exactly `due`
        with store.write_session(db.engine) as s:
            nxt = steps_table.c.next_action_at
            first = s.execute(
                select(steps_table.c.id, nxt)
                .where(nxt.is_not(None))
                .order_by(nxt, steps_table.c.id)
                .limit(due)
            ).all()
            at = first[-1].next_action_at
            chosen = {row.id for row in first}
            tied = [
                sid
                for (sid,) in s.execute(select(steps_table.c.id).where(nxt <= at))
                if sid not in chosen
            ]
            for i in range(0, len(tied), CHUNK):
                s.execute(
                    update(steps_table).where(steps_table.c.id == bindparam("_id")),
                    [
                        {"_id": sid, "next_action_at": at + timedelta(microseconds=1)}
                        for sid in tied[i : i + CHUNK]
                    ],
                )
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        with Timer() as t, store.write_session(db.engine) as s:
            res = store.tick(s, at)
        if profiler is not None:
            profiler.disable()
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        with store.read_session(db.engine) as s:
            queued = s.execute(select(func.count()).select_from(outbox_table)).scalar_one()
        out["due_s"], out["due_steps"], out["queued"] = t.s, res.steps, queued
        print(
            f"tick, {res.steps:,} steps due     {t.s:8.2f} s  → {res.queued:,} outbox rows "
            f"({res.notices:,} notices, {res.escalations:,} escalations)",
            flush=True,
        )
    finally:
        gc.unfreeze()
        db.drop()
    return out


# --------------------------------------------------------------------------- APScheduler


def remind(step_id: str) -> None:  # the naive job's function (never run: its date is ahead)
    print(step_id)


def bench_apscheduler(steps: list[Any], jobs: int, tmp: Path) -> dict[str, Any]:
    import logging

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    print("\n── APScheduler 3: one date job per reminder " + "─" * 26, flush=True)
    url = f"sqlite:///{tmp / 'jobs.sqlite3'}"
    now = datetime.now(UTC)
    # `jobs` reminders of real steps, in the future (a reminder is a date job at its moment)
    wanted = []
    for st in steps:
        for i, _moment in enumerate(st.occurrence.reminders):
            wanted.append((f"{st.id}|r{i}", now + timedelta(days=30 + len(wanted) % 300)))
            if len(wanted) == jobs:
                break
        if len(wanted) == jobs:
            break
    sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone=UTC)
    sched.start()
    with Timer() as t_add:
        for job_id, moment in wanted:
            sched.add_job(
                remind,
                "date",
                run_date=moment,
                args=[job_id],
                id=job_id,
                misfire_grace_time=None,
                coalesce=True,
            )
    sched.shutdown(wait=True)
    print(
        f"add {len(wanted):,} jobs                {t_add.s:8.2f} s  "
        f"({len(wanted) / t_add.s:,.0f} jobs/s)",
        flush=True,
    )

    with Timer() as t_start:
        sched = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone=UTC
        )
        sched.start()
    with Timer() as t_list:
        listed = len(sched.get_jobs())
    sched.shutdown(wait=True)
    assert listed == len(wanted), (listed, len(wanted))
    print(f"restart (start)           {t_start.s * 1000:8.1f} ms", flush=True)
    print(f"restart + list {listed:,} jobs  {(t_start.s + t_list.s):8.2f} s", flush=True)
    return {
        "jobs": len(wanted),
        "add_s": t_add.s,
        "start_s": t_start.s,
        "restart_s": t_start.s + t_list.s,
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--steps", type=int, default=None, help="about how many steps (1,000,000)")
    ap.add_argument("--due", type=int, default=None, help="steps due in the busy tick (10,000)")
    ap.add_argument("--jobs", type=int, default=None, help="APScheduler jobs (10,000)")
    ap.add_argument("--quick", action="store_true", help="~5,000 steps, 500 due, 300 jobs")
    ap.add_argument(
        "--profile", action="store_true", help="cProfile the first load and the busy tick"
    )
    args = ap.parse_args(argv)
    want = args.steps or (5_000 if args.quick else 1_000_000)
    due = args.due or (500 if args.quick else 10_000)
    jobs = args.jobs or (300 if args.quick else 10_000)
    idle_runs = 30 if args.quick else 200

    from engine.compiler import compile_plan
    from engine.loader import parse_plan
    from engine.workdays import WorkingCalendar
    from kehoach.store import file_digest

    units = max(CLUSTER_MIN, round(want / (STEPS_PER_UNIT_YEAR * YEARS)))
    text, _facts = make_plan(units, YEARS)
    with tempfile.TemporaryDirectory(prefix="kehoach-store-bench-") as tmpdir:
        tmp = Path(tmpdir)
        plan_file = tmp / "bench-quoc-gia.yaml"
        plan_file.write_text(text, encoding="utf-8")
        with Timer() as t:
            plan = parse_plan(text, str(plan_file))
            steps = compile_plan(plan, WorkingCalendar())
        n = len(steps)
        due = min(due, n)
        print(
            f"plan: {units:,} units × {YEARS} years → {n:,} steps "
            f"(parsed and compiled in {t.s:.1f} s, not part of any figure below; "
            f"{machine_load()})"
        )
        kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        results = [
            bench_db(k, plan, steps, file_digest(plan_file), tmp, due, idle_runs, args.profile)
            for k in kinds
        ]
        naive = bench_apscheduler(steps, jobs, tmp)

    print("\n── summary " + "─" * 59)
    for r in results:
        load_rate = r["steps"] / r["load_s"]
        print(f"{r['kind']}:")
        target = (
            f"target ≥ {TARGET_LOAD:,}/s on SQLite: {verdict(load_rate >= TARGET_LOAD)}"
            if r["kind"] == "sqlite"
            else "(target is for SQLite)"
        )
        print(
            f"  load    {load_rate:>10,.0f} steps/s   raw {r['steps'] / r['raw_s']:,.0f}/s   "
            f"load/raw time ×{r['load_s'] / r['raw_s']:.2f}   {target}"
        )
        print(
            f"          (this process's CPU: load {r['load_cpu']:.1f} s = "
            f"{r['steps'] / r['load_cpu']:,.0f} steps per CPU-second, raw {r['raw_cpu']:.1f} s)"
        )
        print(
            f"  reload  {r['steps'] / r['reload_s']:>10,.0f} steps/s   "
            f"(×{r['load_s'] / r['reload_s']:.1f} faster than the first load)"
        )
        print(
            f"  tick, nothing due   {r['idle_ms']:7.2f} ms   target ≤ {TARGET_IDLE_TICK_MS:g} ms: "
            f"{verdict(r['idle_ms'] <= TARGET_IDLE_TICK_MS)}"
        )
        print(
            f"  tick, {r['due_steps']:,} due   {r['due_s']:7.2f} s    target ≤ "
            f"{TARGET_DUE_TICK_S:g} s: {verdict(r['due_s'] <= TARGET_DUE_TICK_S)}"
            f"{'' if r['due_steps'] >= 10_000 else '  (target is for 10,000)'}"
        )
        per = naive["jobs"] / (r["steps"] / r["load_s"])
        print(
            f"  vs APScheduler ({naive['jobs']:,} jobs): adding takes {naive['add_s']:.2f} s, "
            f"storing {naive['jobs']:,} steps {per:.3f} s (×{naive['add_s'] / per:,.0f}); "
            f"restart + list {naive['restart_s']:.2f} s vs one idle tick "
            f"{r['idle_ms']:.2f} ms (×{naive['restart_s'] * 1000 / r['idle_ms']:,.0f})"
        )
    print(f"(targets printed, not asserted; {machine_load()} at the end)")


CLUSTER_MIN = 20

if __name__ == "__main__":
    main()
