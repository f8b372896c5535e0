"""The bulk insert of a load (driver tuples, `RowMaker.insert_values`) stores exactly what the
Core insert of `RowMaker.make` rows stores, and fingerprints are those of the first version
(an upgrade must not make every stored step look changed)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from engine.compiler import Step, compile_plan
from engine.loader import load_plan, parse_plan
from engine.workdays import WorkingCalendar
from kehoach.store import make_engine, sync_plan, upgrade, write_session
from kehoach.store.models import plans_table, steps_table, units_table
from kehoach.store.rows import SEP, RowMaker
from tests.conftest import ROOT

NOW = datetime(2023, 12, 1, tzinfo=UTC)


def plans() -> list[tuple[object, list[Step]]]:
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from compile_bench import make_plan

    out = []
    for path in sorted((ROOT / "plans").glob("*.yaml")):
        plan = load_plan(path)
        out.append((plan, compile_plan(plan, WorkingCalendar())))
    text, _ = make_plan(45, 2)
    plan = parse_plan(text, "bench.yaml")
    out.append((plan, compile_plan(plan, WorkingCalendar())))
    return out


PLANS = plans()


def first_version_fingerprint(maker: RowMaker, step: Step) -> str:
    """The fingerprint as the first version of rows.py computed it."""
    duty, occ = step.duty, step.occurrence
    details = {
        k: v
        for k, v in (
            ("place", duty.place),
            ("quantity", duty.quantity),
            ("measure", duty.measure),
            ("percent", duty.percent),
        )
        if v is not None
    }
    duty_key = SEP.join(
        (
            duty.id,
            str(duty.kind),
            duty.title,
            SEP.join(f"{k}={v}" for k, v in sorted(details.items())),
        )
    )

    def iso(v: date | time | None) -> str:
        return v.isoformat() if v is not None else ""

    occ_key = SEP.join(
        (
            occ.key,
            occ.date.isoformat(),
            iso(occ.time),
            iso(occ.start),
            occ.due_at.isoformat(),
            "1" if occ.tentative else "0",
            occ.nominal.isoformat(),
            occ.shifted_because or "",
            ",".join(r.isoformat() for r in occ.reminders),
        )
    )
    escalation = json.dumps(
        [
            {"level": r.level, "at": r.at.isoformat(), "units": list(r.units)}
            for r in step.escalation
        ],
        ensure_ascii=False,
    )
    return hashlib.blake2b(
        SEP.join(
            (
                duty_key,
                occ_key,
                step.unit,
                "" if step.amount is None else str(step.amount),
                escalation,
            )
        ).encode(),
        digest_size=16,
    ).hexdigest()


@pytest.mark.parametrize("index", range(len(PLANS)))
def test_fingerprints_and_escalation_json_are_unchanged(index: int) -> None:
    plan, steps = PLANS[index]
    maker = RowMaker(plan)
    for step in steps:
        row = maker.make(step, NOW)
        value = [
            {"level": r.level, "at": r.at.isoformat(), "units": list(r.units)}
            for r in step.escalation
        ]
        assert row["escalation"].text == json.dumps(value, ensure_ascii=False)
        assert row["escalation"].value == value
        assert row["fingerprint"] == first_version_fingerprint(maker, step)
        assert maker.fingerprint(step) == row["fingerprint"]


def _core_insert(engine: Engine, plan: object, steps: list[Step]) -> None:
    maker = RowMaker(plan)  # type: ignore[arg-type]
    with write_session(engine) as s:
        s.execute(insert(units_table), [{"id": u, "name": n} for u, n in plan.units.items()])  # type: ignore[attr-defined]
        s.execute(
            insert(plans_table).values(
                id=plan.id,
                title=plan.title,  # type: ignore[attr-defined]
                file=plan.file,
                current_version=1,  # type: ignore[attr-defined]
                created_at=NOW,
                updated_at=NOW,
            )
        )
        s.execute(insert(steps_table), [maker.make(st, NOW) for st in steps])


def _shuffled(steps: list[Step]) -> list[Step]:
    import random

    out = list(steps)
    random.Random(3).shuffle(out)  # steps of one occurrence apart: one row per statement
    return out


@pytest.mark.parametrize(
    ("order", "per_insert"),
    [("compiled", None), ("compiled", 3), ("shuffled", None)],
    ids=["compiled", "three-rows-per-insert", "shuffled"],
)
def test_bulk_insert_stores_what_the_core_insert_stores_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str, per_insert: int | None
) -> None:
    """Rows go by multi-row INSERTs of the steps of one occurrence (its values bound once):
    whatever the order and the statement size, the stored text is Core's, column by column."""
    from kehoach.store import sync

    if per_insert is not None:
        monkeypatch.setattr(sync, "SQLITE_ROWS_PER_INSERT", per_insert)
    for i, (plan, compiled) in enumerate(PLANS):
        steps = _shuffled(compiled) if order == "shuffled" else compiled
        a, b = tmp_path / f"a{i}.sqlite3", tmp_path / f"b{i}.sqlite3"
        fast, core = make_engine(f"sqlite:///{a}"), make_engine(f"sqlite:///{b}")
        upgrade(fast)
        upgrade(core)
        with write_session(fast) as s:
            sync_plan(s, plan, steps, now=NOW, content_hash="x")  # type: ignore[arg-type]
        _core_insert(core, plan, steps)
        fast.dispose()
        core.dispose()
        rows = []
        for f in (a, b):
            with sqlite3.connect(f) as conn:
                rows.append(conn.execute("SELECT * FROM steps ORDER BY id").fetchall())
        assert len(rows[0]) == len(steps)
        assert rows[0] == rows[1]  # the very same stored text, column by column


def test_bulk_insert_reads_back_as_the_rows_made(db: Engine) -> None:
    plan, steps = PLANS[-1]
    with write_session(db) as s:
        sync_plan(s, plan, steps, now=NOW, content_hash="x")  # type: ignore[arg-type]
    maker = RowMaker(plan)  # type: ignore[arg-type]
    wanted = {st.id: maker.make(st, NOW) for st in steps}
    with write_session(db) as s:
        stored = s.execute(select(steps_table)).mappings().all()
    assert len(stored) == len(wanted)
    for row in stored:
        made = wanted[row["id"]]
        for column, value in row.items():
            expected = made.get(column)  # columns the load does not set stay NULL
            expected = getattr(expected, "value", expected)
            assert value == expected, (row["id"], column, value, expected)


def _sqlite_state(path: Path) -> tuple[object, ...]:
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("SELECT * FROM steps ORDER BY id").fetchall(),
            conn.execute(
                "SELECT step_id, at, actor, channel, event, from_state, to_state, "
                "revision, note FROM transitions ORDER BY step_id"
            ).fetchall(),
            sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")),
            conn.execute("PRAGMA integrity_check").fetchall(),
        )


def test_a_first_bulk_load_builds_the_indexes_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large first load on SQLite (indexes dropped, rows in id order, indexes made again in
    the same transaction) stores the very rows, audit and schema that row by row stores."""
    from kehoach.store import sync

    plan, steps = PLANS[-1]
    states = []
    for name, minimum in (("bulk", 1), ("rows", 10**9)):
        monkeypatch.setattr(sync, "SQLITE_BULK_MIN", minimum)
        engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite3")
        upgrade(engine)
        with write_session(engine) as s:
            result = sync_plan(s, plan, steps, now=NOW, content_hash="x")  # type: ignore[arg-type]
        assert result.added == len(steps)
        with write_session(engine) as s:  # a second load leaves everything as it is
            again = sync_plan(s, plan, steps, now=NOW, content_hash="x")  # type: ignore[arg-type]
        assert again.kept == len(steps) and not again.wrote
        engine.dispose()
        states.append(_sqlite_state(tmp_path / f"{name}.sqlite3"))
    assert states[0] == states[1] and states[0][3] == [("ok",)]
    assert any(row[0] == "index" and row[3] for row in states[0][2])  # the indexes are back


def test_a_failed_bulk_load_keeps_the_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load failing after its rows are in (indexes dropped, not made again yet) rolls back
    to the database it found, indexes included; a repeated step fails before any of that."""
    from kehoach.store import sync

    monkeypatch.setattr(sync, "SQLITE_BULK_MIN", 1)
    plan, steps = PLANS[-1]
    path = tmp_path / "failed.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    before = _sqlite_state(path)

    def fail(done: int) -> None:
        with engine.connect() as other:  # not visible outside the load's transaction
            assert other.exec_driver_sql("SELECT count(*) FROM steps").scalar() == 0
        with sqlite3.connect(path) as conn:
            assert conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                "AND name = 'ix_steps_next_action_at'"
            ).fetchone() == (1,)
        raise RuntimeError(f"failed after {done} steps")

    with pytest.raises(RuntimeError, match="failed after"), write_session(engine) as s:
        sync_plan(s, plan, steps, now=NOW, content_hash="x", progress=fail)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bị lặp"), write_session(engine) as s:
        sync_plan(s, plan, [*steps, steps[0]], now=NOW, content_hash="x")  # type: ignore[arg-type]
    engine.dispose()
    assert _sqlite_state(path) == before
