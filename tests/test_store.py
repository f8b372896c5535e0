"""The store: one suite run against SQLite (a file in tmp_path) and the local PostgreSQL.

The databases (`db_url`, `empty`, `db`) and the test plan (`PLAN`, `plan_file`) are the shared
fixtures of conftest.py: on PostgreSQL a fresh schema per test; when the server cannot be
reached the tests fail, they are not skipped.
"""
from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, select, text, update

from engine.compiler import compile_plan
from engine.loader import load_plan
from engine.workdays import WorkingCalendar
from kehoach.store import (
    DatabaseBusy,
    SchemaOutdated,
    StepNotFound,
    StepStateError,
    SyncResult,
    check_schema_current,
    current_revision,
    head_revision,
    make_engine,
    mark_done,
    next_action_at,
    read_session,
    stored_counts,
    sync_plan,
    upgrade,
    write_session,
)
from kehoach.store.models import (
    Base,
    plans_table,
    steps_table,
    transitions_table,
    units_table,
    versions_table,
)
from kehoach.store.schema import alembic_config
from tests.conftest import NOW, PLAN, compiled, load, run, steps_by_id, transitions

NEW_OBLIGATION = """\
  - id: tap-huan
    kind: event
    title: Lớp tập huấn cán bộ Đoàn
    when: ngày 10/6/2022
    responsible: doan-a
"""
CONTRIBUTION = PLAN[PLAN.index("  - id: dong-gop"):PLAN.index("  - id: hoi-nghi")]
WITHOUT_CONTRIBUTION = PLAN.replace(CONTRIBUTION, "")


def snapshot(engine: Engine) -> tuple[Any, ...]:
    with read_session(engine) as s:
        return tuple(s.execute(select(t).order_by(*t.primary_key.columns)).all()
                     for t in (units_table, plans_table, versions_table, steps_table,
                               transitions_table))


def edit(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new), encoding="utf-8")


# ── schema ──────────────────────────────────────────────────────────────────────────────────

def test_upgrade_from_empty_creates_the_models_schema(empty: Engine) -> None:
    assert current_revision(empty) is None
    assert upgrade(empty) == (None, head_revision())
    check_schema_current(empty)
    assert {"units", "plans", "plan_versions", "steps", "transitions", "people", "outbox",
            "deliveries"} <= set(inspect(empty).get_table_names())
    with empty.connect() as conn:  # the migrations and the models say the same thing
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert upgrade(empty) == (head_revision(), head_revision())  # a second upgrade is a no-op


def test_empty_database_is_refused_with_the_fix(empty: Engine) -> None:
    with pytest.raises(SchemaOutdated, match=r"phiên bản trống .* cần chạy `kehoach db upgrade`"):
        check_schema_current(empty)


def test_database_behind_is_refused(db: Engine) -> None:
    config = alembic_config()
    with db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with pytest.raises(SchemaOutdated, match="cần chạy `kehoach db upgrade`") as caught:
        check_schema_current(db)
    assert caught.value.current is None and caught.value.head == head_revision()


def test_database_newer_than_the_program_is_refused(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaOutdated, match="phiên bản ffff, mới hơn chương trình"):
        check_schema_current(db)


# ── sync ────────────────────────────────────────────────────────────────────────────────────

def test_first_load_inserts_every_step_with_its_audit_row(db: Engine, plan_file: Path) -> None:
    steps = compiled(plan_file)
    result = load(db, plan_file)
    assert len(steps) == 27  # 2 units × 12 months + 2 contributions + 1 conference
    assert (result.added, result.changed, result.cancelled, result.kept) == (27, 0, 0, 0)
    assert result.version == 1 and result.new_version
    stored = steps_by_id(db)
    assert set(stored) == {s.id for s in steps}
    with read_session(db) as s:
        assert stored_counts(s) == {"pending": 27, "done": 0, "excused": 0, "cancelled": 0}
    audit = transitions(db)
    assert len(audit) == 27 and {(a.event, a.to_state, a.revision) for a in audit} == {
        ("created", "pending", 1)}
    for step in steps:
        row = stored[step.id]
        assert row.revision == 1 and row.state == "pending" and row.created_at == NOW
        assert row.due_at == step.occurrence.due_at and row.due_at.tzinfo == UTC
        assert row.due_date == step.occurrence.date and row.unit_id == step.unit
        assert row.next_action_at == next_action_at(
            step.occurrence.reminders, [r.at for r in step.escalation], "pending", NOW)


def test_stored_moments_are_utc_aware(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    conference = steps_by_id(db)["thu-nghiem/hoi-nghi/1/quan-doan"]
    assert conference.due_at == datetime(2022, 5, 13, 1, 0, tzinfo=UTC)  # 08:00 in Hồ Chí Minh
    assert conference.due_at.utcoffset() == timedelta(0)
    assert conference.reminders == ["2022-05-10T01:00:00+00:00", "2022-05-12T01:00:00+00:00"]
    assert conference.source["phrase"] == "08g00, ngày 13/5/2022"


def test_second_load_of_the_same_files_writes_nothing(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    before = snapshot(db)
    writes: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(db, "before_cursor_execute", spy)
    result = load(db, plan_file, NOW + timedelta(days=1))
    event.remove(db, "before_cursor_execute", spy)
    assert (result.added, result.changed, result.cancelled, result.kept) == (0, 0, 0, 27)
    assert not result.wrote and not result.new_version and result.version == 1
    assert writes == []
    assert snapshot(db) == before  # same rows, same updated_at, no new transition or version


def test_editing_a_plan_changes_cancels_and_adds(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    edit(plan_file, "08g00, ngày 13/5/2022", "08g00, ngày 16/5/2022")
    edit(plan_file, CONTRIBUTION, "")
    plan_file.write_text(plan_file.read_text(encoding="utf-8") + NEW_OBLIGATION, encoding="utf-8")
    later = NOW + timedelta(days=3)
    result = load(db, plan_file, later)
    assert (result.added, result.changed, result.cancelled, result.kept) == (1, 1, 2, 24)
    assert result.version == 2 and result.new_version
    stored = steps_by_id(db)
    moved = stored["thu-nghiem/hoi-nghi/1/quan-doan"]
    assert (moved.revision, moved.state, moved.due_date) == (2, "pending", date(2022, 5, 16))
    assert moved.updated_at == later and moved.created_at == NOW
    assert moved.next_action_at == datetime(2022, 5, 13, 1, 0, tzinfo=UTC)  # 3 days before
    change = transitions(db, moved.id)[-1]
    assert (change.event, change.from_state, change.to_state, change.revision) == (
        "changed", "pending", "pending", 2)
    assert "phiên bản 2" in change.note and "hạn 13/05/2022 → 16/05/2022" in change.note
    for unit in ("doan-a", "doan-b"):
        gone = stored[f"thu-nghiem/dong-gop/1/{unit}"]  # kept, not deleted
        assert gone.state == "cancelled" and gone.next_action_at is None and gone.revision == 2
        assert gone.cancel_reason == "không còn trong kế hoạch (phiên bản 2)"
        assert transitions(db, gone.id)[-1].event == "cancelled"
    added = stored["thu-nghiem/tap-huan/1/doan-a"]
    assert (added.state, added.revision, added.created_at) == ("pending", 1, later)
    untouched = stored["thu-nghiem/bao-cao-thang/2022-06/doan-b"]
    assert untouched.revision == 1 and untouched.updated_at == NOW


def test_a_removed_step_that_comes_back_is_restored(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    plan_file.write_text(WITHOUT_CONTRIBUTION, encoding="utf-8")
    assert load(db, plan_file).cancelled == 2
    plan_file.write_text(PLAN, encoding="utf-8")
    result = load(db, plan_file)
    assert (result.restored, result.added, result.cancelled, result.version) == (2, 0, 0, 3)
    back = steps_by_id(db)["thu-nghiem/dong-gop/1/doan-a"]
    assert (back.state, back.cancel_reason, back.revision) == ("pending", None, 3)
    assert back.next_action_at is not None
    assert transitions(db, back.id)[-1].event == "restored"


def test_a_done_step_stays_done_when_its_date_changes(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    done_id, other_id = "thu-nghiem/dong-gop/1/doan-a", "thu-nghiem/dong-gop/1/doan-b"
    paid_at = datetime(2022, 5, 10, 2, 30, tzinfo=UTC)
    with write_session(db) as s:
        assert mark_done(s, done_id, "Bí thư Đoàn phường A", "telegram", paid_at) == 2
    edit(plan_file, "ngày 19/5/2022", "ngày 20/5/2022")
    result = load(db, plan_file)
    assert (result.changed, result.cancelled) == (2, 0)
    stored = steps_by_id(db)
    done = stored[done_id]
    assert (done.state, done.done_at, done.revision, done.due_date) == (
        "done", paid_at, 3, date(2022, 5, 20))
    assert done.next_action_at is None
    events = [(t.event, t.from_state, t.to_state, t.actor) for t in transitions(db, done_id)]
    assert events == [("created", None, "pending", "test"),
                      ("done", "pending", "done", "Bí thư Đoàn phường A"),
                      ("changed", "done", "done", "test")]
    assert stored[other_id].state == "pending" and stored[other_id].revision == 2
    plan_file.write_text(WITHOUT_CONTRIBUTION, encoding="utf-8")  # removed: done stays done
    result = load(db, plan_file)
    assert result.cancelled == 1
    stored = steps_by_id(db)
    assert stored[done_id].state == "done" and stored[done_id].revision == 3
    assert stored[other_id].state == "cancelled"


def test_mark_done_refuses_unknown_and_finished_steps(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    step_id = "thu-nghiem/dong-gop/1/doan-b"
    with pytest.raises(StepNotFound, match="không có bước «khong-co»"), write_session(db) as s:
        mark_done(s, "khong-co", "x", "cli", NOW)
    with write_session(db) as s:
        mark_done(s, step_id, "x", "cli", NOW)
    refused = pytest.raises(StepStateError, match="«đã xong», không thể đánh dấu hoàn thành")
    with refused, write_session(db) as s:
        mark_done(s, step_id, "x", "cli", NOW)
    assert len(transitions(db, step_id)) == 2


def test_step_ids_are_stable_across_compiles_and_edits(db: Engine, plan_file: Path) -> None:
    first = [s.id for s in compiled(plan_file)]
    assert first == [s.id for s in compiled(plan_file)]
    assert "thu-nghiem/bao-cao-thang/2022-01/doan-a" in first
    load(db, plan_file)
    edit(plan_file, "title: Báo cáo tháng", "title: Báo cáo kết quả hoạt động tháng")
    result = load(db, plan_file)
    assert (result.added, result.changed, result.cancelled) == (0, 24, 0)
    assert set(steps_by_id(db)) == set(first)


def test_a_failed_sync_leaves_the_database_unchanged(db: Engine, plan_file: Path) -> None:
    plan = load_plan(plan_file)
    steps = compile_plan(plan, WorkingCalendar())
    before = snapshot(db)
    with pytest.raises(ValueError, match="bị lặp"), write_session(db) as s:
        sync_plan(s, plan, [*steps, steps[0]], now=NOW, content_hash="x")  # plan row written first
    assert snapshot(db) == before


def test_sqlite_takes_the_write_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "lock.sqlite3"
    engine = make_engine(f"sqlite:///{path}", busy_timeout=0.1)
    upgrade(engine)
    with engine.connect() as conn:
        pragmas = [conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                   for p in ("journal_mode", "foreign_keys", "busy_timeout")]
    assert pragmas == ["wal", 1, 100]
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with read_session(engine) as s:  # a reader does not block a writer
        s.execute(select(units_table))
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    with write_session(engine) as s:  # a read that leads to a write holds the write lock
        s.execute(select(units_table))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # another process writing: we wait, then say so
    busy = pytest.raises(DatabaseBusy, match="đang bị một tiến trình khác khóa")
    with busy, write_session(engine) as s:
        s.execute(update(units_table).values(name="x"))
    other.execute("ROLLBACK")
    other.close()
    engine.dispose()


@pytest.mark.parametrize(("state", "now", "expected"), [
    ("pending", datetime(2022, 5, 1, tzinfo=UTC), datetime(2022, 5, 8, tzinfo=UTC)),
    ("pending", datetime(2022, 5, 8, tzinfo=UTC), datetime(2022, 5, 10, tzinfo=UTC)),
    ("pending", datetime(2022, 6, 1, tzinfo=UTC), None),
    ("done", datetime(2022, 4, 1, tzinfo=UTC), None),
    ("cancelled", datetime(2022, 4, 1, tzinfo=UTC), None),
], ids=["next-reminder", "then-the-rung", "all-past", "done", "cancelled"])
def test_next_action_at(state: str, now: datetime, expected: datetime | None) -> None:
    reminders = [datetime(2022, 5, 1, tzinfo=UTC), datetime(2022, 5, 8, tzinfo=UTC)]
    rungs = [datetime(2022, 5, 10, tzinfo=UTC)]
    assert next_action_at(reminders, rungs, state, now) == expected


# ── the command line, as a user runs it ─────────────────────────────────────────────────────

def test_cli_db_upgrade_then_load(kehoach_bin: str, plan_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    res = run(kehoach_bin, "load", cwd=tmp_path, url=url)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "cần chạy `kehoach db upgrade`" in res.stderr
    res = run(kehoach_bin, "db", "upgrade", cwd=tmp_path, url=url)
    assert res.returncode == 0, res.stderr
    assert f"trống → {head_revision()}" in res.stdout
    res = run(kehoach_bin, "load", cwd=tmp_path, url=url)  # default: plans/
    assert res.returncode == 0, res.stderr
    assert "plans/thu-nghiem.yaml (phiên bản 1): thêm 27, đổi 0, hủy 0, giữ nguyên 0." in res.stdout
    res = run(kehoach_bin, "load", "plans", cwd=tmp_path, url=url)
    assert "thêm 0, đổi 0, hủy 0, giữ nguyên 27." in res.stdout
    assert run(kehoach_bin, "db", "status", cwd=tmp_path, url=url).returncode == 0


def test_cli_bad_plan_writes_nothing(kehoach_bin: str, db_url: str, db: Engine, plan_file: Path,
                                     tmp_path: Path) -> None:
    broken = plan_file.parent / "hong.yaml"
    broken.write_text(PLAN.replace("id: thu-nghiem", "id: hong").replace("19/5/2022", "31/6/2022")
                      .replace("responsible: quan-doan", "responsible: khong-co"), encoding="utf-8")
    res = run(kehoach_bin, "load", cwd=tmp_path, url=db_url)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "ngày 31/06/2022 không tồn tại" in res.stderr and "«khong-co»" in res.stderr
    assert snapshot(db) == ([], [], [], [], [])  # the good plan beside it was not stored either


def test_cli_unreachable_database(kehoach_bin: str, tmp_path: Path, plan_file: Path) -> None:
    for url in ("postgresql+psycopg://postgres@127.0.0.1:1/test",
                f"sqlite:///{tmp_path / 'khong-co' / 'x.sqlite3'}"):
        res = run(kehoach_bin, "load", cwd=tmp_path, url=url)
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert "không kết nối được cơ sở dữ liệu" in res.stderr


def test_concurrent_loads_of_one_plan_store_it_once(db_url: str, db: Engine,
                                                    plan_file: Path) -> None:
    def one_load() -> SyncResult:
        engine = make_engine(db_url)
        try:
            return load(engine, plan_file)
        finally:
            engine.dispose()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: one_load(), range(2)))
    assert sorted((r.added, r.kept) for r in results) == [(0, 27), (27, 0)]
    assert len(steps_by_id(db)) == 27 and len(transitions(db)) == 27
