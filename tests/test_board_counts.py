"""The board keeps its summaries and charts between requests (kehoach.web.summary_cache,
migration 0011's change count): after a change by every path — time passing a deadline and
the tick, done, an extension, an excuse, a reopen, a plan reloaded without some steps and
with a unit moved to another cluster, a script's own UPDATE — what the board answers equals
what the lifecycle says step by step, and what a board with nothing kept computes. SQLite
and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
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
