"""The board keeps its summaries and charts between requests (kehoach.web.summary_cache,
migration 0011's change count): after a change by every path — time passing a deadline and
the tick, done, an extension, an excuse, a reopen, a plan reloaded without some steps and
with a unit moved to another cluster, a script's own UPDATE — what the board answers equals
what the lifecycle says step by step, and what a board with nothing kept computes. SQLite
and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from kehoach import store
from kehoach.store import actions, read_session, write_session
from kehoach.store.models import board_changes_table, steps_table
from kehoach.web import queries
from kehoach.web.params import DEFAULT_DAYS
from tests.conftest import load
from tests.test_web import NOW, PLAN, step_id
from workflows.lifecycle import LATE_KINDS, Phase, status

UNITS = {"tinh-doan", "doan-a", "doan-b", "doan-c"}
#: lifecycle phase → the summary's column
COLUMN = {
    Phase.DONE: "on_time",
    Phase.DONE_LATE: "done_late",
    Phase.EXCUSED: "excused",
    Phase.OVERDUE: "late",
    Phase.ESCALATED: "late",
}


def by_lifecycle(engine: Engine, now: datetime) -> dict[str, Counter[str]]:
    """unit → outcome → count, from each stored step's status (no SQL aggregate)."""
    out: dict[str, Counter[str]] = {}
    with read_session(engine) as s:
        for row in s.execute(select(steps_table)):
            if row.state == "cancelled" or row.kind not in LATE_KINDS:
                continue
            phase = status(store.facts(row), now).phase
            out.setdefault(row.unit_id, Counter())[COLUMN.get(phase, "upcoming")] += 1
    return out


def summary(engine: Engine, now: datetime, by: str) -> list[tuple[object, ...]]:
    with read_session(engine) as s:
        return [
            (c.key, c.name, c.on_time, c.late, c.done_late, c.upcoming, c.excused)
            for c in queries.summaries(s, UNITS, now, by)
        ]


def charts(engine: Engine, now: datetime) -> tuple[object, ...]:
    with read_session(engine) as s:
        return (queries.monthly(s, UNITS, now, "plan"), queries.monthly(s, UNITS, now, "cluster"))


def changes(engine: Engine) -> int:
    with read_session(engine) as s:
        return int(s.execute(select(board_changes_table.c.n)).scalar_one())


def check(kept: Engine, url: str, now: datetime) -> None:
    """The long-lived board's answers (`kept`, warm) equal a fresh board's and the lifecycle's."""
    fresh = store.make_engine(url)
    try:
        for by in ("unit", "cluster"):
            assert summary(kept, now, by) == summary(fresh, now, by)
        assert charts(kept, now) == charts(fresh, now)
    finally:
        fresh.dispose()
    expected = by_lifecycle(kept, now)
    names = ("on_time", "late", "done_late", "upcoming", "excused")
    got = {
        r[0]: Counter({n: v for n, v in zip(names, r[2:], strict=True) if v})
        for r in summary(kept, now, "unit")
    }
    assert {u: c for u, c in got.items() if c} == {u: c for u, c in expected.items() if c}


def test_summaries_stay_exact_after_every_kind_of_change(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    before = changes(db)
    load(db, path)
    assert changes(db) > before  # the load's steps, units and cluster were counted
    now = NOW
    check(db, db_url, now)  # kept from here on

    # time passes the 25 April deadline: late now, with no write; the tick writes its notices
    now = datetime(2022, 4, 26, 3, 0, tzinfo=now.tzinfo)
    late_before = summary(db, now - timedelta(days=1), "unit")
    with write_session(db) as s:
        store.tick(s, now)
    check(db, db_url, now)
    assert summary(db, now, "unit") != late_before

    changed = changes(db)
    with write_session(db) as s:
        store.mark_done(s, step_id("doan-a", 4), "test", "test", now)
    assert changes(db) > changed
    check(db, db_url, now)

    with write_session(db) as s:
        actions.extend(
            s,
            step_id("doan-b", 4),
            now.date() + timedelta(days=10),
            "xin thêm",
            "test",
            "test",
            now,
        )
    check(db, db_url, now)

    with write_session(db) as s:
        actions.excuse(s, step_id("doan-c", 4), "được miễn", "test", "test", now)
    check(db, db_url, now)

    with write_session(db) as s:
        actions.reopen(s, step_id("doan-c", 4), "làm lại", "test", "test", now)
    check(db, db_url, now)

    # the extension runs out: doan-b's step is late again, with no write
    now += timedelta(days=12)
    check(db, db_url, now)

    # a reload: doan-c no longer responsible (its pending steps cancelled), doan-c in cum-1
    reloaded = PLAN.replace(
        "responsible: [doan-a, doan-b, doan-c]", "responsible: [doan-a, doan-b]"
    ).replace("members: [doan-a, doan-b]", "members: [doan-a, doan-b, doan-c]")
    assert reloaded != PLAN
    path.write_text(reloaded, encoding="utf-8")
    load(db, path, now)
    check(db, db_url, now)

    # a script's own UPDATE, outside the store's functions
    with write_session(db) as s:
        s.execute(
            update(steps_table)
            .where(steps_table.c.id == step_id("doan-a", 5))
            .values(state="done", done_at=now)
        )
    check(db, db_url, now)


def test_a_bulk_first_load_counts_and_keeps_its_triggers(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large first load into SQLite sets the steps' triggers aside with their indexes
    (store.sync); it counts as a change, and the triggers are back for what follows."""
    from kehoach.store import sync

    monkeypatch.setattr(sync, "SQLITE_BULK_MIN", 1)  # this small plan takes the bulk path
    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    before = changes(db)
    load(db, path)
    loaded = changes(db)
    assert loaded > before
    check(db, db.url.render_as_string(hide_password=False), NOW)
    with write_session(db) as s:
        store.mark_done(s, step_id("doan-a", 1), "test", "test", NOW)
    assert changes(db) > loaded
    check(db, db.url.render_as_string(hide_password=False), NOW)


def test_a_list_total_is_kept_only_while_its_own_bounds_hold(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    """A list of steps at least 10 days late changes when a deadline becomes 10 days old,
    with no deadline and no write in between; the upcoming list when a deadline comes
    within its days. Each total equals a fresh board's at every moment."""
    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    lists = [
        (queries.OVERDUE, queries.Filters(min_days=10)),
        (queries.OVERDUE, queries.Filters()),
        (queries.StepList(False, 20), queries.Filters(sort="due")),
    ]

    def totals(engine: Engine, now: datetime) -> list[int]:
        with read_session(engine) as s:
            return [queries.step_page(s, UNITS, now, which, f).total for which, f in lists]

    seen = set()
    for day in range(12):  # 1 April 2022 (the 25 March deadlines are 7 days old) onwards
        now = NOW + timedelta(days=day)
        fresh = store.make_engine(db_url)
        try:
            assert totals(db, now) == totals(fresh, now), now
        finally:
            fresh.dispose()
        seen.add(tuple(totals(db, now)))
    assert len({t[0] for t in seen}) > 1 and len({t[2] for t in seen}) > 1  # they did change


def test_the_board_refreshes_what_it_keeps_after_a_change_and_serves_nothing_stale(
    db: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """summary_cache.refresh (the board's Refresher thread) computes again what a change
    made out of date, so the next request is answered from memory with the new truth; a
    request before the refresh still computes, and warm_pages computes the summary
    pages and the lists' totals of a secretary who sees every unit before anyone asks."""
    from kehoach.web import summary_cache
    from kehoach.web.pages import warm_pages

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    with read_session(db) as s:
        warm_pages(s, NOW)
        lists = [k[1] for k in summary_cache.cache_of(s).entries if k[0] == "count"]
    assert sorted(lists, key=repr) == [queries.StepList(False, DEFAULT_DAYS), queries.OVERDUE]
    asked: list[str] = []  # what the long-lived board (db) computed, not a fresh one
    real = queries._summaries, queries._monthly

    def counting(name: str, compute: Any) -> Any:
        def wrapped(session: Any, *args: Any) -> Any:
            if session.get_bind() is db:
                asked.append(name)
            return compute(session, *args)

        return wrapped

    monkeypatch.setattr(queries, "_summaries", counting("summaries", real[0]))
    monkeypatch.setattr(queries, "_monthly", counting("monthly", real[1]))
    with read_session(db) as s:  # the summary pages' aggregates, computed ahead
        for by in ("unit", "cluster"):
            queries.summaries(s, UNITS, NOW, by)
        queries.monthly(s, UNITS, NOW, "plan")
    assert asked == []
    check(db, db_url, NOW)
    asked.clear()

    # nothing changed: nothing to refresh
    assert summary_cache.refresh(db, NOW, slow=0) == 0
    with write_session(db) as s:
        store.mark_done(s, step_id("doan-a", 4), "test", "test", NOW)
    # a request before the refresh computes the new truth itself
    check(db, db_url, NOW)
    assert "summaries" in asked
    asked.clear()

    with write_session(db) as s:
        actions.excuse(s, step_id("doan-c", 4), "được miễn", "test", "test", NOW)
    later = NOW + timedelta(days=30)  # past more deadlines too
    assert summary_cache.refresh(db, later, slow=0) > 0
    assert summary_cache.refresh(db, later, slow=0) == 0  # all current now
    assert "summaries" in asked
    asked.clear()
    check(db, db_url, later)  # from memory, equal to a fresh board's and the lifecycle's
    assert asked == []


def test_a_result_of_an_older_count_never_replaces_a_newer_one() -> None:
    """A request reading an older snapshot computes at the count it read; what the
    refresher kept at a later count stays (the count only grows)."""
    from kehoach.web.summary_cache import NEVER, Cache, Kept

    cache = Cache()

    def entry(count: int, value: str) -> Kept:
        return Kept(count, NOW, NEVER, value, lambda s, at: value, (timedelta(0),), 1.0)

    cache.put(("k",), entry(5, "refreshed"))
    cache.put(("k",), entry(4, "older"))
    kept = cache.get(("k",), 5, NOW)
    assert kept is not None and kept.value == "refreshed"
    assert cache.get(("k",), 4, NOW) is None
    cache.put(("k",), entry(6, "newer"))
    kept = cache.get(("k",), 6, NOW)
    assert kept is not None and kept.value == "newer"


def test_the_refresher_keeps_warm_only_what_people_still_ask_for(
    db: Engine, tmp_path: Path
) -> None:
    """The refresher's own look at an entry is not a request: an entry nobody asked for in
    the last RECENT seconds is left to go out of date (it was refreshed after every change
    for ever, each refresh counting as a use)."""
    from kehoach.web import summary_cache

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    with read_session(db) as s:
        queries.summaries(s, UNITS, NOW, "unit")
        cache = summary_cache.cache_of(s)
    page = next(k for k in cache.used if k[0] == "summaries")  # what the page asked for
    asked = cache.used[page]
    for day in (4, 5):
        with write_session(db) as s:
            store.mark_done(s, step_id("doan-a", day), "test", "test", NOW)
        assert summary_cache.refresh(db, NOW, slow=0) > 0
        assert cache.used[page] == asked  # refreshing is not asking
    with write_session(db) as s:
        actions.excuse(s, step_id("doan-c", 4), "được miễn", "test", "test", NOW)
    assert summary_cache.refresh(db, NOW, slow=0, recent=0) == 0  # nobody asked lately


def kept_answers(engine: Engine, now: datetime) -> tuple[object, ...]:
    """Every aggregate the board keeps: both summaries, both charts, three list totals."""
    lists = [
        (queries.OVERDUE, queries.Filters()),
        (queries.OVERDUE, queries.Filters(min_days=3, cluster="cum-1")),
        (queries.StepList(False, DEFAULT_DAYS), queries.Filters(sort="due")),
    ]
    with read_session(engine) as s:
        totals = [queries.step_page(s, UNITS, now, which, f).total for which, f in lists]
    by_unit, by_cluster = summary(engine, now, "unit"), summary(engine, now, "cluster")
    return (by_unit, by_cluster, charts(engine, now), totals)


def sql_of(engine: Engine, run: Any) -> list[str]:
    """The statements `engine` ran while `run()` ran."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def fresh_answers(url: str, now: datetime) -> tuple[object, ...]:
    fresh = store.make_engine(url)
    try:
        return kept_answers(fresh, now)
    finally:
        fresh.dispose()


def test_a_change_is_caught_up_from_the_log_without_reading_every_step(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    """After a change, the kept sums add up the board's log of that change (0014) instead of
    summing every step again (1.2–1.5 s at a million steps), and equal a fresh board's."""
    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    kept_answers(db, NOW)  # kept from here on
    changes_made = [
        lambda s: store.mark_done(s, step_id("doan-a", 4), "test", "test", NOW),
        lambda s: actions.excuse(s, step_id("doan-c", 4), "được miễn", "test", "test", NOW),
        lambda s: actions.extend(
            s, step_id("doan-b", 4), NOW.date() + timedelta(days=40), "xin", "test", "test", NOW
        ),
        lambda s: s.execute(  # a script's own UPDATE of several steps
            update(steps_table)
            .where(steps_table.c.unit_id == "doan-b", steps_table.c.state == "pending")
            .values(state="done", done_at=NOW)
        ),
    ]
    for change in changes_made:
        with write_session(db) as s:
            change(s)
        answered: list[tuple[object, ...]] = []
        statements = sql_of(db, partial(lambda into: into.append(kept_answers(db, NOW)), answered))
        assert answered[0] == fresh_answers(db_url, NOW)
        assert any("board_log" in q for q in statements)
        summed = [q for q in statements if "sum(" in q.lower() and "FROM steps" in q]
        assert summed == []


def test_a_deadline_a_change_brings_nearer_ends_what_was_caught_up(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    """A kept sum is exact until the first deadline after it was computed; a change that
    moves a step's deadline before that moment brings the end nearer, so when time passes
    the new deadline the step is counted late, not still upcoming."""
    from kehoach.web.summary_cache import next_deadline

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    kept_answers(db, NOW)
    with read_session(db) as s:
        first = next_deadline(s, NOW)
        later = (
            s.execute(
                select(steps_table.c.id).where(
                    steps_table.c.state == "pending", steps_table.c.due_at > first
                )
            )
            .scalars()
            .first()
        )
    assert later is not None
    soon = NOW + (first - NOW) / 2
    with write_session(db) as s:
        s.execute(update(steps_table).where(steps_table.c.id == later).values(due_at=soon))
    assert kept_answers(db, NOW) == fresh_answers(db_url, NOW)  # caught up
    after = NOW + (first - NOW) * 3 / 4  # past the moved deadline, before the old first
    assert kept_answers(db, after) == fresh_answers(db_url, after)
    assert kept_answers(db, after) != kept_answers(db, NOW)


def test_a_pruned_log_or_a_large_load_makes_the_board_compute_again(
    db: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tick prunes the log (tick.LOG_KEEP); a kept sum older than what is left is
    computed again, not caught up from part of its changes. A large load logs nothing (it
    would log every step) and counts as a change the log does not replay."""
    import importlib

    from kehoach.store import models, sync
    from kehoach.store.models import board_log_table

    tick = importlib.import_module("kehoach.store.tick")  # the package names a function so

    def logged() -> int:
        with read_session(db) as s:
            return len(s.execute(select(board_log_table.c.id)).all())

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    kept_answers(db, NOW)
    monkeypatch.setattr(tick, "LOG_KEEP", 1)
    loaded = logged()  # the load's new steps (+1 each)
    with write_session(db) as s:
        store.mark_done(s, step_id("doan-a", 4), "test", "test", NOW)
    with write_session(db) as s:
        store.mark_done(s, step_id("doan-b", 4), "test", "test", NOW)
    assert logged() == loaded + 4  # before and after of each
    with write_session(db) as s:
        store.tick(s, NOW)  # keeps only the last count's rows
    assert logged() == 2
    assert kept_answers(db, NOW) == fresh_answers(db_url, NOW)

    monkeypatch.setattr(sync, "UNLOGGED_MIN", 1)
    assert models.UNLOGGED_MIN > 1
    reloaded = PLAN.replace("responsible: [doan-a, doan-b, doan-c]", "responsible: [doan-a]")
    path.write_text(reloaded, encoding="utf-8")
    load(db, path, NOW)
    assert logged() == 2  # the load's changes are not logged
    with read_session(db) as s:
        assert s.execute(select(board_changes_table.c.unlogged)).scalar_one() is False
    assert kept_answers(db, NOW) == fresh_answers(db_url, NOW)


def test_a_change_committed_while_the_sums_are_read_is_not_counted_twice(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL each statement of a read sees what was committed before it: a change
    committed after the board read the count but before it summed the steps is in the sums
    already. Those sums must not be caught up from that count (the change would be added a
    second time); on SQLite the read's snapshot leaves the change out, to be caught up."""
    from sqlalchemy import event

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    other = store.make_engine(db_url)
    fired: list[str] = []

    def meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "sum(" in statement.lower() and "FROM steps" in statement and not fired:
            fired.append(statement)
            with write_session(other) as s:  # committed before the sum runs (a late step)
                store.mark_done(s, step_id("doan-a", 3), "test", "test", NOW)

    event.listen(db, "before_cursor_execute", meanwhile)
    try:
        kept_answers(db, NOW)
    finally:
        event.remove(db, "before_cursor_execute", meanwhile)
        other.dispose()
    assert fired
    with write_session(db) as s:  # a later change: the kept sums catch up, if they may
        store.mark_done(s, step_id("doan-b", 4), "test", "test", NOW)
    assert kept_answers(db, NOW) == fresh_answers(db_url, NOW)


def test_time_passing_a_deadline_reads_only_the_steps_near_it(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    """When `now` passes deadlines, the kept sums add what the steps whose deadlines were
    passed count now less what they counted then (every other step counts the same), and
    equal a fresh board's; no statement sums every step."""
    from kehoach.web.summary_cache import next_deadline

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    now = NOW
    kept_answers(db, now)
    for _ in range(3):  # three deadlines passed, one after another
        with read_session(db) as s:
            now = next_deadline(s, now) + timedelta(minutes=1)
        answered: list[tuple[object, ...]] = []
        statements = sql_of(
            db, partial(lambda into, at: into.append(kept_answers(db, at)), answered, now)
        )
        assert answered[0] == fresh_answers(db_url, now)
        summed = [q for q in statements if "sum(" in q.lower() and "FROM steps" in q]
        assert summed and [q for q in summed if "BETWEEN" not in q] == []


def test_a_step_at_the_edge_of_two_bounds_is_caught_up_once(
    db: Engine, db_url: str, tmp_path: Path
) -> None:
    """The upcoming list's total compares deadlines with `now` and `now` + days: when time
    passes more than those days, the two stretches of deadlines passed overlap. A step due
    exactly `days` after the kept moment is in both; it is caught up once, not twice."""
    from kehoach.web.summary_cache import next_deadline

    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    load(db, path)
    with read_session(db) as s:
        due = next_deadline(s, NOW + timedelta(days=DEFAULT_DAYS))
    since = due - timedelta(days=DEFAULT_DAYS)  # `due` is the last moment it counts up to
    board = store.make_engine(db_url)  # nothing kept yet
    try:
        kept_answers(board, since)
        later = due + timedelta(minutes=1)
        assert kept_answers(board, later) == fresh_answers(db_url, later)
    finally:
        board.dispose()
