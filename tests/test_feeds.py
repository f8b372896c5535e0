"""Calendar feeds: the events (pure), golden files, round trips through two parsers, tokens,
the CLI, and the HTTP route over real loopback HTTP, on SQLite and PostgreSQL.

Golden files: `UPDATE_GOLDEN=1 pytest tests/test_feeds.py` rewrites tests/golden/*.ics; read
the diff before committing it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
import recurring_ical_events
import uvicorn
from fastapi import FastAPI
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import Engine, select, update

from calendars.events import (
    CANCELLED_KEPT,
    FeedStep,
    last_change,
    mark,
    next_change,
    sequence,
    summary,
    uid,
)
from calendars.feed import Feed, build, event, feed_urls, render, step_url, timing
from kehoach.settings import Settings
from kehoach.store import feeds, mark_done, read_session, write_session
from kehoach.store.models import feed_tokens_table, people_table
from kehoach.store.people import add_person
from kehoach.web import feeds as web_feeds
from tests.conftest import load
from workflows.lifecycle import VN, StepFacts

GOLDEN = Path(__file__).parent / "golden"
LOADED = datetime(2022, 4, 1, 3, 0, tzinfo=UTC)  # when the plan is loaded
NOW = datetime(2022, 5, 20, 2, 0, tzinfo=UTC)  # 09:00 on 20/5/2022 in Hồ Chí Minh City
STAMP = datetime(2022, 5, 20, 0, 0, tzinfo=UTC)
PUBLIC = "https://lich.example.vn"

PLAN = """\
id: lich-thu
title: Kế hoạch thử lịch năm 2022
issuer: quan-doan
period: {from: 1/1/2022, to: 30/6/2022}
units:
  - id: quan-doan
    name: Ban Thường vụ Quận Đoàn
  - id: doan-a
    name: Đoàn phường A
  - id: doan-b
    name: Đoàn phường B
  - id: doan-c
    name: Đoàn phường C
clusters:
  - id: cum-1
    name: Cụm phường 1
    head: doan-a
    members: [doan-a, doan-b]
obligations:
  - id: bao-cao
    kind: deadline
    title: Báo cáo tháng
    when: ngày 25 hằng tháng
    responsible: [doan-a, doan-c]
  - id: dong-gop
    kind: contribution
    title: Đóng góp kinh phí Hội nghị
    when: ngày 19/5/2022
    responsible: [doan-a, doan-b]
    amount: 500.000 đồng
  - id: hoi-nghi
    kind: event
    title: Hội nghị sơ kết
    when: 08g00, ngày 13/5/2022
    place: Nhà Thiếu nhi Thành phố
    responsible: doan-b
  - id: he
    kind: phase
    title: Đợt hoạt động hè
    when: từ ngày 01/6 đến ngày 30/6/2022
    responsible: doan-a
  - id: tap-huan
    kind: event
    title: Lớp tập huấn
    when: Dự kiến tháng 6 năm 2022
    responsible: doan-b
"""


# ── pure: one step as an event ──────────────────────────────────────────────────────────────


def feed_step(
    kind: str = "deadline",
    due: date = date(2022, 5, 25),
    at: time | None = None,
    state: str = "pending",
    tentative: bool = False,
    start: date | None = None,
    updated: datetime = LOADED,
    done_at: datetime | None = None,
    extended_until: datetime | None = None,
    revision: int = 1,
) -> FeedStep:
    local = (
        datetime.combine(due, at, VN)
        if at
        else datetime.combine(due + timedelta(days=1), time(0), VN)
    )
    due_at = local.astimezone(UTC)
    facts = StepFacts(
        f"p/o/{due}/a",
        kind,
        due_at,
        due,
        tentative,
        state,
        done_at,
        (due_at - timedelta(days=7),),
        (),
        extended_until,
        unit="a",
    )
    return FeedStep(
        facts, "Báo cáo", "p", "Kế hoạch", "Đoàn A", at, start, None, {}, {}, revision, updated
    )


DUE_END = datetime(2022, 5, 25, 17, tzinfo=UTC)  # the end of 25/5/2022 in Hồ Chí Minh City


@pytest.mark.parametrize(
    "step, now, expected",
    [
        (feed_step(), DUE_END - timedelta(days=2), "Báo cáo"),
        (feed_step(), DUE_END + timedelta(hours=1), "⚠️ quá hạn 1 ngày: Báo cáo"),
        (feed_step(), DUE_END + timedelta(days=3, hours=1), "⚠️ quá hạn 4 ngày: Báo cáo"),
        (feed_step(state="done", done_at=DUE_END - timedelta(days=1)), DUE_END, "✅ Báo cáo"),
        (
            feed_step(state="done", done_at=DUE_END + timedelta(days=1)),
            DUE_END + timedelta(days=5),
            "✅ Báo cáo (xong trễ 1 ngày)",
        ),
        (feed_step(state="excused"), DUE_END, "✅ Báo cáo (được miễn)"),
        (feed_step(tentative=True), DUE_END - timedelta(days=2), "⏳ dự kiến: Báo cáo"),
        (feed_step(kind="event", tentative=True), DUE_END + timedelta(days=1), "Báo cáo"),
        (feed_step(state="cancelled"), DUE_END, "❌ đã hủy: Báo cáo"),
    ],
    ids=[
        "upcoming",
        "late-1",
        "late-4",
        "done",
        "done-late",
        "excused",
        "tentative",
        "event-happened",
        "cancelled",
    ],
)
def test_summary_marks_the_state(step: FeedStep, now: datetime, expected: str) -> None:
    assert summary(step, now, with_unit=False) == expected


def test_summary_names_the_unit_when_asked() -> None:
    assert summary(feed_step(), LOADED, with_unit=True) == "Báo cáo — Đoàn A"


@pytest.mark.parametrize(
    "step, expected",
    [
        (feed_step(), (date(2022, 5, 25), date(2022, 5, 26))),
        (feed_step(at=time(14, 30)), (datetime(2022, 5, 25, 14, 30, tzinfo=VN), None)),
        (feed_step(kind="phase", start=date(2022, 5, 1)), (date(2022, 5, 1), date(2022, 5, 26))),
        (
            feed_step(kind="deadline", start=date(2022, 5, 1)),
            (date(2022, 5, 25), date(2022, 5, 26)),
        ),
        (
            feed_step(extended_until=datetime(2022, 5, 30, 17, tzinfo=UTC)),
            (date(2022, 5, 30), date(2022, 5, 31)),
        ),
    ],
    ids=["all-day", "timed", "phase-range", "deadline-window-is-its-day", "extended"],
)
def test_timing(step: FeedStep, expected: tuple[Any, Any]) -> None:
    start, end = timing(step)
    assert (start, end) == expected
    if isinstance(start, datetime):
        assert start.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    "step",
    [
        feed_step(),
        feed_step(at=time(14, 30)),
        feed_step(kind="event", tentative=True),
        feed_step(kind="event"),
        feed_step(state="cancelled", updated=DUE_END),
        feed_step(state="done"),
    ],
    ids=["deadline", "timed", "tentative-event", "event", "cancelled", "done"],
)
def test_marker_holds_until_next_change_and_sequence_only_grows(step: FeedStep) -> None:
    """Sampled every 3 hours over 45 days: wherever the marker changes, `next_change` said so
    beforehand and `last_change` moved; SEQUENCE never goes back and grows at each change."""
    now = DUE_END - timedelta(days=10)

    def seen(now: datetime) -> tuple[Any, ...]:
        m, alarms = mark(step, now), event(step, now, LOADED, PUBLIC, False).walk("VALARM")
        return (m.emoji, m.text, len(alarms)), next_change(step, now), sequence(step, now)

    before = seen(now)
    while now < DUE_END + timedelta(days=35):
        now += timedelta(hours=3)
        current = seen(now)
        if current[0] != before[0]:
            assert before[1] is not None and before[1] <= now
            assert current[2] > before[2]
            assert last_change(step, now) > now - timedelta(hours=3)
        else:
            assert before[1] is None or before[1] > now - timedelta(hours=3)
        assert current[2] >= before[2]
        before = current


def test_uid_is_stable_and_opaque() -> None:
    assert uid("lich-thu/bao-cao/2022-05/doan-a") == uid("lich-thu/bao-cao/2022-05/doan-a")
    assert uid("lich-thu/bao-cao/2022-05/doan-a") != uid("lich-thu/bao-cao/2022-05/doan-c")
    assert "doan" not in uid("lich-thu/bao-cao/2022-05/doan-a")


def test_urls() -> None:
    assert step_url(PUBLIC + "/", "p/o/2022-1/a b") == PUBLIC + "/buoc/p/o/2022-1/a%20b"
    assert feed_urls("http://127.0.0.1:8080", "T") == (
        "http://127.0.0.1:8080/lich/T.ics",
        "webcal://127.0.0.1:8080/lich/T.ics",
    )


def test_alarms_at_the_reminders_and_only_while_pending() -> None:
    timed = feed_step(at=time(14, 30))
    cal = build([timed, feed_step(state="done", due=date(2022, 5, 26))], Feed("x", PUBLIC), LOADED)
    pending, done = cal.events
    assert [a.get("TRIGGER").dt for a in pending.walk("VALARM")] == [timedelta(days=-7)]
    assert done.walk("VALARM") == []
    allday = build([feed_step()], Feed("x", PUBLIC), LOADED).events[0]
    # 7 days before the end of the day, counted from the start of the day: -6 days
    assert [a.get("TRIGGER").dt for a in allday.walk("VALARM")] == [timedelta(days=-6)]


# ── from the store ──────────────────────────────────────────────────────────────────────────


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plans" / "lich-thu.yaml"
    path.parent.mkdir()
    path.write_text(PLAN, encoding="utf-8")
    return path


@pytest.fixture
def loaded(db: Engine, plan: Path) -> Engine:
    load(db, plan, LOADED)
    return db


def scope_of(engine: Engine, kind: str, scope_id: str) -> feeds.Scope:
    with read_session(engine) as session:
        return feeds.describe_scope(session, kind, scope_id)


def feed_bytes(
    engine: Engine, kind: str, scope_id: str, now: datetime = NOW, stamp: datetime | None = STAMP
) -> bytes:
    with read_session(engine) as session:
        scope = feeds.describe_scope(session, kind, scope_id)
        steps = feeds.feed_steps(session, scope)
    return render(steps, Feed(scope.name, PUBLIC), now, stamp)


def events_by_uid(body: bytes) -> dict[str, Any]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).events}


@pytest.mark.parametrize(
    "kind, scope_id, name",
    [
        ("plan", "lich-thu", "plan"),
        ("cluster", "lich-thu/cum-1", "cluster"),
        ("unit", "doan-b", "unit"),
    ],
    ids=["plan", "cluster", "unit"],
)
def test_golden(loaded: Engine, kind: str, scope_id: str, name: str) -> None:
    body = feed_bytes(loaded, kind, scope_id)
    path = GOLDEN / f"lich-thu-{name}.ics"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
    assert body == path.read_bytes(), f"{path.name} differs (UPDATE_GOLDEN=1 rewrites it)"


def test_feed_content(loaded: Engine) -> None:
    cal = icalendar.Calendar.from_ical(feed_bytes(loaded, "plan", "lich-thu"))
    assert str(cal["X-WR-CALNAME"]) == "Kế hoạch thử lịch năm 2022"
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Ho_Chi_Minh"
    assert cal["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert [tz.tz_name for tz in cal.timezones] == ["Asia/Ho_Chi_Minh"]
    assert cal.get_missing_tzids() == set()
    by_summary = {str(e["SUMMARY"]): e for e in cal.events}
    meeting = by_summary["Hội nghị sơ kết — Đoàn phường B"]
    assert meeting.start == datetime(2022, 5, 13, 8, tzinfo=VN)
    assert str(meeting["LOCATION"]) == "Nhà Thiếu nhi Thành phố"
    late = by_summary["⚠️ quá hạn 1 ngày: Đóng góp kinh phí Hội nghị — Đoàn phường A"]
    text = str(late["DESCRIPTION"])
    for line in (
        "Kế hoạch: Kế hoạch thử lịch năm 2022",
        "Đơn vị thực hiện: Đoàn phường A",
        "Kinh phí đóng góp: 500.000 đồng",
        "Theo kế hoạch: «ngày 19/5/2022»",
        f"{PUBLIC}/buoc/lich-thu/dong-gop/",
    ):
        assert line in text
    assert late.start == date(2022, 5, 19) and late.end == date(2022, 5, 20)
    summer = by_summary["Đợt hoạt động hè — Đoàn phường A"]
    assert (summer.start, summer.end) == (date(2022, 6, 1), date(2022, 7, 1))
    tentative = by_summary["⏳ dự kiến: Lớp tập huấn — Đoàn phường B"]
    assert str(tentative["STATUS"]) == "TENTATIVE"
    assert all(e["DTSTAMP"].dt == STAMP for e in cal.events)


def test_round_trip_with_two_parsers(loaded: Engine) -> None:
    """build → to_ical → parse (icalendar, and the independent `ical` package) → same events."""
    with read_session(loaded) as session:
        steps = feeds.feed_steps(session, scope_of(loaded, "plan", "lich-thu"))
    cal = build(steps, Feed("Thử", PUBLIC), NOW, STAMP)
    built = {str(e["UID"]): e for e in cal.events}
    body = cal.to_ical()
    again = events_by_uid(body)
    assert set(again) == set(built) and len(built) == len(steps)
    for key, ev in built.items():
        for prop in ("SUMMARY", "DESCRIPTION", "STATUS", "SEQUENCE", "URL"):
            assert again[key][prop] == ev[prop], (key, prop)
        assert (again[key].start, again[key].end) == (ev.start, ev.end)
    other = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert {e.uid for e in other.events} == set(built)
    for e in other.events:
        mine = built[e.uid]
        assert (e.summary, e.description, e.sequence) == (
            str(mine["SUMMARY"]),
            str(mine["DESCRIPTION"]),
            int(mine["SEQUENCE"]),
        )
        assert e.dtstart == mine.start
        assert e.status is not None and e.status.value == str(mine["STATUS"])
    occurrences = recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(
        date(2022, 1, 1), date(2022, 12, 31)
    )
    assert len(occurrences) == len(steps)


def test_uids_stay_and_sequence_grows_across_a_plan_change(loaded: Engine, plan: Path) -> None:
    before = events_by_uid(feed_bytes(loaded, "plan", "lich-thu", NOW, None))
    plan.write_text(PLAN.replace("ngày 19/5/2022", "ngày 24/5/2022"), encoding="utf-8")
    load(loaded, plan, NOW + timedelta(hours=1))
    after = events_by_uid(feed_bytes(loaded, "plan", "lich-thu", NOW + timedelta(hours=2), None))
    assert set(after) == set(before)
    moved = [k for k in after if after[k].start != before[k].start]
    assert len(moved) == 2  # the contribution of doan-a and of doan-b
    for k in after:
        if k in moved:
            assert after[k].start == date(2022, 5, 24)
            assert int(after[k]["SEQUENCE"]) > int(before[k]["SEQUENCE"])
            assert str(after[k]["SUMMARY"]).startswith("Đóng góp")  # no longer late
        else:
            assert int(after[k]["SEQUENCE"]) == int(before[k]["SEQUENCE"])
    # marking one done bumps it again, and the feed's stamp follows the last change
    step_id = "lich-thu/dong-gop/1/doan-a"
    with write_session(loaded) as session:
        mark_done(session, step_id, "test", "test", NOW + timedelta(hours=3))
    done = events_by_uid(feed_bytes(loaded, "plan", "lich-thu", NOW + timedelta(hours=4), None))
    assert int(done[uid(step_id)]["SEQUENCE"]) > int(after[uid(step_id)]["SEQUENCE"])
    assert str(done[uid(step_id)]["SUMMARY"]).startswith("✅ ")
    assert all(e["DTSTAMP"].dt == NOW + timedelta(hours=3) for e in done.values())


def test_cancelled_steps_shown_then_dropped(loaded: Engine, plan: Path) -> None:
    removed = PLAN[PLAN.index("  - id: he\n") : PLAN.index("  - id: tap-huan\n")]
    plan.write_text(PLAN.replace(removed, ""), encoding="utf-8")
    load(loaded, plan, NOW)
    key = uid("lich-thu/he/1/doan-a")
    soon = events_by_uid(feed_bytes(loaded, "plan", "lich-thu", NOW + timedelta(days=29)))
    assert str(soon[key]["STATUS"]) == "CANCELLED"
    assert str(soon[key]["SUMMARY"]).startswith("❌ đã hủy: ")
    assert "không còn trong kế hoạch" in str(soon[key]["DESCRIPTION"])
    later = events_by_uid(feed_bytes(loaded, "plan", "lich-thu", NOW + CANCELLED_KEPT))
    assert key not in later and len(later) == len(soon) - 1


# ── tokens ──────────────────────────────────────────────────────────────────────────────────


def test_tokens_are_stored_only_as_hashes(loaded: Engine) -> None:
    with write_session(loaded) as session:
        token_id, token = feeds.create(session, "unit", "doan-a", NOW, label="điện thoại")
    assert len(token) >= 43  # 32 random bytes: 256 bits
    with read_session(loaded) as session:
        rows = [tuple(r) for r in session.execute(select(feed_tokens_table))]
        assert not any(token in str(v) for row in rows for v in row)
        assert rows[0][1] == feeds.token_hash(token)
        scope = feeds.resolve(session, token)
    assert scope is not None and scope.units == {"doan-a"} and token_id == rows[0][0]


def test_resolve_revoke_rotate(loaded: Engine) -> None:
    with write_session(loaded) as session:
        first, token = feeds.create(session, "cluster", "lich-thu/cum-1", NOW)
        second, new = feeds.rotate(session, first, NOW)
    with read_session(loaded) as session:
        assert feeds.resolve(session, token) is None
        scope = feeds.resolve(session, new)
        assert scope is not None and scope.units == {"doan-a", "doan-b"}
        for bad in ("", "abc", token[:-1], token + "x", "../" + token[3:], "A" * 43):
            assert feeds.resolve(session, bad) is None
    with write_session(loaded) as session:
        feeds.revoke(session, second, NOW)
        with pytest.raises(feeds.FeedError, match="đã bị thu hồi"):
            feeds.revoke(session, second, NOW)
        with pytest.raises(feeds.FeedNotFound, match="không có lịch số 99"):
            feeds.revoke(session, 99, NOW)
    with read_session(loaded) as session:
        assert feeds.resolve(session, new) is None
        assert [v.revoked_at is not None for v in feeds.list_feeds(session)] == [True, True]


@pytest.mark.parametrize(
    "kind, scope_id, message",
    [
        ("unit", "doan-x", "không có đơn vị «doan-x»"),
        ("cluster", "lich-thu/cum-9", "không có cụm «lich-thu/cum-9»"),
        ("cluster", "cum-1", "không có cụm «cum-1»"),
        ("plan", "khong-co", "không có kế hoạch «khong-co»"),
        ("person", "Chị Hoa", "không có người «Chị Hoa»"),
        ("nhom", "x", "loại lịch «nhom» không có"),
    ],
    ids=["unit", "cluster", "cluster-without-plan", "plan", "person", "kind"],
)
def test_unknown_scopes_are_named(loaded: Engine, kind: str, scope_id: str, message: str) -> None:
    with write_session(loaded) as session, pytest.raises(feeds.FeedError, match=message):
        feeds.create(session, kind, scope_id, NOW)
    with read_session(loaded) as session:
        assert feeds.list_feeds(session) == []


def test_person_scope_follows_their_units(loaded: Engine) -> None:
    with write_session(loaded) as session:
        pid = add_person(session, "Chị Lan", "doan-a", NOW, board_role="cluster_head", login="lan")
        _, token = feeds.create(session, "person", "lan", NOW)
    with read_session(loaded) as session:
        scope = feeds.resolve(session, token)
    assert scope is not None and scope.scope_id == str(pid)
    assert scope.units == {"doan-a", "doan-b"} and scope.name == "Lịch của Chị Lan"
    with write_session(loaded) as session:  # someone who left keeps no feed
        session.execute(update(people_table).where(people_table.c.id == pid).values(active=False))
    with read_session(loaded) as session:
        assert feeds.resolve(session, token) is None


# ── HTTP, over real loopback ────────────────────────────────────────────────────────────────


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(loaded: Engine) -> Iterator[tuple[str, FastAPI, Clock]]:
    """The feed router in a minimal app (what create_app gives it: engine, settings, now)
    under uvicorn on a free loopback port."""
    app = FastAPI()
    app.include_router(web_feeds.router)
    now = Clock(NOW)
    app.state.engine, app.state.now = loaded, now
    app.state.settings = Settings.of({"KEHOACH_PUBLIC_URL": PUBLIC})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = clock.monotonic() + 20
    while not server.started:
        assert clock.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        clock.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app, now
    finally:
        server.should_exit = True
        thread.join(10)


def new_token(engine: Engine, kind: str = "cluster", scope_id: str = "lich-thu/cum-1") -> str:
    with write_session(engine) as session:
        return feeds.create(session, kind, scope_id, NOW)[1]


def test_http_feed_etag_and_304(served: tuple[str, FastAPI, Clock], loaded: Engine) -> None:
    base, app, now = served
    token = new_token(loaded)
    with httpx.Client(base_url=base) as client:
        first = client.get(f"/lich/{token}.ics")
        assert first.status_code == 200
        assert first.headers["content-type"] == "text/calendar; charset=utf-8"
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert modified == "Thu, 19 May 2022 17:00:00 GMT"  # the contribution fell due
        assert icalendar.Calendar.from_ical(first.content).events
        assert client.get(f"/lich/{token}").content == first.content
        cached = client.get(f"/lich/{token}.ics", headers={"If-None-Match": etag})
        assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)
        assert (
            client.get(
                f"/lich/{token}.ics", headers={"If-None-Match": f'"x", W/{etag}'}
            ).status_code
            == 304
        )
        assert (
            client.get(f"/lich/{token}.ics", headers={"If-Modified-Since": modified}).status_code
            == 304
        )
        assert (
            client.get(f"/lich/{token}.ics", headers={"If-None-Match": '"other"'}).status_code
            == 200
        )
        assert (
            client.get(
                f"/lich/{token}.ics", headers={"If-Modified-Since": "Thu, 31 Mar 2022 00:00:00 GMT"}
            ).status_code
            == 200
        )
        head = client.head(f"/lich/{token}.ics")
        assert head.status_code == 200 and head.headers["etag"] == etag
        # httpx asks for gzip, as calendar apps do; without it, the same calendar plain
        assert first.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in first.headers["vary"]
        plain = client.get(f"/lich/{token}.ics", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == first.content
        assert (
            plain.headers["etag"] != etag
            and int(plain.headers["content-length"]) > int(first.headers["content-length"]) * 3
        )
        again = client.get(
            f"/lich/{token}.ics",
            headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]},
        )
        assert again.status_code == 304
        assert app.state.feed_cache.builds == 1  # built once, served from the cache since

        with write_session(loaded) as session:  # a step written: rebuilt, new ETag
            mark_done(session, "lich-thu/dong-gop/1/doan-b", "t", "t", NOW)
        changed = client.get(f"/lich/{token}.ics", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert "✅ Đóng góp kinh phí Hội nghị — Đoàn phường B" in changed.text
        assert app.state.feed_cache.builds == 2

        now.now = NOW + timedelta(days=1)  # a day later: one day more late, rebuilt by time
        later = client.get(f"/lich/{token}.ics", headers={"If-None-Match": changed.headers["etag"]})
        assert later.status_code == 200 and "quá hạn 2 ngày: Đóng góp" in later.text
        assert app.state.feed_cache.builds == 3


def test_http_unknown_revoked_malformed_are_the_same_404(
    served: tuple[str, FastAPI, Clock], loaded: Engine
) -> None:
    base, _, _ = served
    token = new_token(loaded, "unit", "doan-a")
    with write_session(loaded) as session:
        feeds.revoke(session, feeds.list_feeds(session)[0].id, NOW)
    unknown = new_token(loaded)[::-1]
    with httpx.Client(base_url=base) as client:
        answers = [
            client.get(f"/lich/{t}.ics")
            for t in (token, unknown, "abc", "%00", "x" * 500, "' OR 1=1 --")
        ]
    assert {(r.status_code, r.content) for r in answers} == {(404, b"Not Found\n")}


# ── the CLI ─────────────────────────────────────────────────────────────────────────────────


def cli(bin_: str, *args: str, cwd: Path, engine: Engine) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KEHOACH_DATABASE_URL": engine.url.render_as_string(False),
        "KEHOACH_PUBLIC_URL": PUBLIC,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [bin_, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_create_list_rotate_revoke(kehoach_bin: str, loaded: Engine, tmp_path: Path) -> None:
    made = cli(
        kehoach_bin,
        "feed",
        "create",
        "--cluster",
        "lich-thu/cum-1",
        "--label",
        "điện thoại chị Lan",
        cwd=tmp_path,
        engine=loaded,
    )
    assert made.returncode == 0, made.stderr
    assert "Lịch Cụm phường 1" in made.stdout
    https = next(w for w in made.stdout.split() if w.startswith(PUBLIC + "/lich/"))
    webcal = next(w for w in made.stdout.split() if w.startswith("webcal://"))
    token = https.removeprefix(PUBLIC + "/lich/").removesuffix(".ics")
    assert webcal == "webcal://lich.example.vn/lich/" + token + ".ics"
    with read_session(loaded) as session:
        assert feeds.resolve(session, token) is not None
    listed = cli(kehoach_bin, "feed", "list", cwd=tmp_path, engine=loaded)
    assert listed.returncode == 0 and "lich-thu/cum-1" in listed.stdout
    assert "điện thoại chị Lan" in listed.stdout and token not in listed.stdout
    rotated = cli(kehoach_bin, "feed", "rotate", "1", cwd=tmp_path, engine=loaded)
    assert rotated.returncode == 0 and "lịch số 2" in rotated.stdout
    revoked = cli(kehoach_bin, "feed", "revoke", "2", cwd=tmp_path, engine=loaded)
    assert revoked.returncode == 0, revoked.stderr
    with read_session(loaded) as session:
        assert all(v.revoked_at is not None for v in feeds.list_feeds(session))
    assert (
        "Chưa có lịch nào" in cli(kehoach_bin, "feed", "list", cwd=tmp_path, engine=loaded).stdout
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("create", "--unit", "doan-x"), "không có đơn vị «doan-x»"),
        (("create", "--cluster", "lich-thu/cum-x"), "không có cụm «lich-thu/cum-x»"),
        (("create", "--person", "Chị Hoa"), "không có người «Chị Hoa»"),
        (("create", "--plan", "khong-co"), "không có kế hoạch «khong-co»"),
        (("revoke", "7"), "không có lịch số 7"),
        (("rotate", "7"), "không có lịch số 7"),
    ],
    ids=["unit", "cluster", "person", "plan", "revoke", "rotate"],
)
def test_cli_refuses_unknown(
    kehoach_bin: str, loaded: Engine, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli(kehoach_bin, "feed", *args, cwd=tmp_path, engine=loaded)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


# ── the board's help partial ────────────────────────────────────────────────────────────────


def test_help_partial_renders_with_and_without_links() -> None:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(web_feeds.__file__).parent / "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
    )
    plain = env.get_template("feeds_help.html").render()
    for client in ("Google Calendar", "Apple Lịch", "Outlook"):
        assert client in plain
    https, webcal = feed_urls(PUBLIC, "T<x>")
    shown = env.get_template("feeds_help.html").render(feed_https=https, feed_webcal=webcal)
    assert 'href="webcal://lich.example.vn/lich/T&lt;x&gt;.ics"' in shown
    assert "<x>" not in shown


# ── the benchmark stays runnable (no timing asserted) ───────────────────────────────────────


def test_feed_bench_quick_run() -> None:
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run(
        [sys.executable, str(root / "bench/feed_bench.py"), "--quick"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "feed of 102 events" in res.stdout and "errors 0" in res.stdout
    assert "(targets printed, not asserted)" in res.stdout


def test_doctests_of_the_calendars_package() -> None:
    """calendars/ is not in pytest's testpaths: its examples are run here."""
    import doctest

    import calendars.events
    import calendars.feed

    for module in (calendars.events, calendars.feed):
        assert doctest.testmod(module).failed == 0
