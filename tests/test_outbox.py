"""The tick (due steps → outbox rows) and the dispatcher (outbox → channel → delivery rows),
on SQLite and PostgreSQL (the fixtures of conftest.py), and a simulated year of the Bình Tân
plan with an injected clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, update

from engine.compiler import Step, compile_plan
from engine.loader import load_plan
from engine.workdays import WorkingCalendar
from kehoach.store import dispatch, mark_done, read_session, tick, write_session
from kehoach.store.digest import LOOKAHEAD, digest
from kehoach.store.dispatch import CLAIM_LEASE, LEASE, backoff
from kehoach.store.models import deliveries_table, outbox_table, steps_table
from notifiers.base import DeliveryError
from notifiers.console import ConsoleChannel
from notifiers.testing import RecordingChannel
from tests.conftest import load, run, transitions

ROOT = Path(__file__).resolve().parent.parent
BINH_TAN = ROOT / "plans" / "binh-tan-doi-2023-2028.yaml"
PLAN_ID = "binh-tan-doi-2023-2028"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def utc(y: int, m: int, d: int, h: int = 1, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=UTC)


def outbox(engine: Engine) -> list[Any]:
    with read_session(engine) as s:
        return list(s.execute(select(outbox_table).order_by(outbox_table.c.id)))


def deliveries(engine: Engine) -> list[Any]:
    with read_session(engine) as s:
        return list(s.execute(select(deliveries_table).order_by(deliveries_table.c.id)))


def notices(rows: list[Any]) -> list[dict[str, Any]]:
    """The outbox rows one per step told: a grouped escalation as its members (each with the
    key its own row would have had), with the row's recipient, purpose and level."""
    out = []
    for r in rows:
        members = (
            r.payload["steps"]
            if r.purpose == "escalation_group"
            else [{**r.payload, "key": r.idempotency_key, "step_id": r.step_id}]
        )
        out += [
            {
                **m,
                "purpose": r.purpose.removesuffix("_group"),
                "level": r.level,
                "unit_id": r.unit_id,
                "row": r,
            }
            for m in members
        ]
    return out


def do_tick(engine: Engine, now: datetime, channel: str = "test") -> Any:
    with write_session(engine) as s:
        return tick(s, now, channel=channel)


def sessions(engine: Engine) -> Callable[[], Any]:
    return lambda: write_session(engine)


# ── tick ────────────────────────────────────────────────────────────────────────────────────
# thu-nghiem (conftest.PLAN): «Báo cáo tháng» due the 25th, doan-a and doan-b; loaded 1/4/2022.
MAY = "thu-nghiem/bao-cao-thang/2022-05"


def test_tick_queues_the_due_reminders_once(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    with read_session(db) as s:
        before = s.execute(select(steps_table.c.id, steps_table.c.next_action_at)).all()
    first = do_tick(db, utc(2022, 5, 18, 2))  # 7 days before 25/5 (08:00 local = 01:00 UTC)
    keys = {r.idempotency_key for r in outbox(db)}
    assert {
        f"{MAY}/doan-a|reminder|0|2022-05-18T01:00:00+00:00|doan-a",
        f"{MAY}/doan-b|reminder|0|2022-05-18T01:00:00+00:00|doan-b",
    } <= keys
    assert first.queued == len(keys) and first.duplicates == 0
    again = do_tick(db, utc(2022, 5, 18, 2))
    assert (again.steps, again.queued) == (0, 0)  # next_action_at moved on: nothing to look at
    with write_session(db) as s:  # even if decided again, a notice is stored once
        for step_id, moment in before:
            s.execute(
                update(steps_table).where(steps_table.c.id == step_id).values(next_action_at=moment)
            )
    replay = do_tick(db, utc(2022, 5, 18, 2))
    assert replay.queued == 0 and replay.duplicates == first.queued
    assert len(outbox(db)) == first.queued


def test_tick_escalates_with_an_audit_row_and_not_for_done_steps(
    db: Engine, plan_file: Path
) -> None:
    load(db, plan_file)
    with write_session(db) as s:
        mark_done(s, f"{MAY}/doan-b", "thư ký", "cli", utc(2022, 5, 20))
    result = do_tick(db, utc(2022, 5, 27, 2))  # 1 day late: rung 1, the unit itself
    rows = [r for r in notices(outbox(db)) if r["step_id"].startswith(MAY)]
    assert [(r["step_id"], r["purpose"], r["level"], r["unit_id"]) for r in rows] == [
        (f"{MAY}/doan-a", "escalation", 1, "doan-a")
    ]
    assert rows[0]["status"] == "quá hạn 2 ngày, đã báo lên mức 1"
    assert rows[0]["unit_name"] == "Đoàn phường A"
    audit = transitions(db, f"{MAY}/doan-a")
    assert [(t.event, t.note) for t in audit[1:]] == [
        ("escalated", "đến lượt báo lên mức 1 (đã xếp hàng gửi): Đoàn phường A")
    ]
    assert result.escalations >= 1


def test_a_tick_after_downtime_coalesces_reminders(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    do_tick(db, utc(2022, 5, 24, 2))  # 18/5 and 24/5 missed since 1/4: only the latest, late
    rows = [r for r in outbox(db) if r.step_id == f"{MAY}/doan-a"]
    assert [
        (r.purpose, r.payload["moment"], r.payload["late"], r.payload["skipped"]) for r in rows
    ] == [("reminder", "2022-05-24T01:00:00+00:00", False, 1)]


# ── dispatch ────────────────────────────────────────────────────────────────────────────────


def test_dispatch_sends_and_records_each_row_once(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    do_tick(db, utc(2022, 5, 18, 2))
    channel = RecordingChannel()
    result = dispatch(sessions(db), channel, utc(2022, 5, 18, 2), limit=1000)
    assert result.sent == len(outbox(db)) == len(channel.sent) > 0
    assert {r.state for r in outbox(db)} == {"sent"}
    assert [d.outcome for d in deliveries(db)] == ["sent"] * result.sent
    assert dispatch(sessions(db), channel, utc(2022, 5, 19), limit=1000).claimed == 0


def test_dispatch_retries_with_backoff_then_parks_as_failed(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    do_tick(db, utc(2022, 5, 18, 2))
    key = f"{MAY}/doan-a|reminder|0|2022-05-18T01:00:00+00:00|doan-a"
    busy = [DeliveryError("máy chủ bận") for _ in range(10)]
    channel = RecordingChannel(failures={key: busy})
    now, rng = utc(2022, 5, 18, 2), random.Random(1)
    for _ in range(5):
        dispatch(sessions(db), channel, now, rng=rng, max_attempts=3)
        now += timedelta(days=1)
    row = next(r for r in outbox(db) if r.idempotency_key == key)
    assert (row.state, row.attempts) == ("failed", 3)
    assert [d.outcome for d in deliveries(db) if d.outbox_id == row.id] == ["temporary"] * 3
    assert all(n.key != key for n in channel.sent)


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    waits = [backoff(a, rng) for a in (1, 2, 3, 4)]
    assert all(
        60 * 2 ** (a - 1) / 2 <= w <= 60 * 2 ** (a - 1)
        for a, w in zip((1, 2, 3, 4), waits, strict=True)
    )
    assert backoff(3, rng, retry_after=12.5) == 12.5


@pytest.mark.parametrize(
    ("error", "state", "outcome"),
    [
        (DeliveryError("bot bị chặn", permanent=True), "failed", "permanent"),
        (DeliveryError("hết thời gian chờ", unknown=True), "unknown", "unknown"),
        (TimeoutError("đọc"), "unknown", "unknown"),
        (DeliveryError("chờ 30 giây", retry_after=30.0), "pending", "temporary"),
    ],
    ids=["permanent", "unknown", "timeout", "retry-after"],
)
def test_dispatch_outcomes(
    db: Engine, plan_file: Path, error: Exception, state: str, outcome: str
) -> None:
    load(db, plan_file)
    do_tick(db, utc(2022, 5, 18, 2))
    key = f"{MAY}/doan-a|reminder|0|2022-05-18T01:00:00+00:00|doan-a"
    channel = RecordingChannel(failures={key: [error]})  # type: ignore[list-item]
    now = utc(2022, 5, 18, 2)
    dispatch(sessions(db), channel, now)
    row = next(r for r in outbox(db) if r.idempotency_key == key)
    assert row.state == state
    assert [d.outcome for d in deliveries(db) if d.outbox_id == row.id] == [outcome]
    if state == "pending":
        assert row.not_before == now + timedelta(seconds=30)
    dispatch(sessions(db), channel, now + timedelta(days=1))  # not blindly resent
    assert sum(n.key == key for n in channel.sent) == (1 if state == "pending" else 0)


def test_a_dead_dispatchers_claims_go_back_and_its_sends_are_parked_as_unknown(
    db: Engine, plan_file: Path
) -> None:
    """A claim that was never handed to a channel is given back after CLAIM_LEASE; a row whose
    send had started is parked as unknown after LEASE. Both on the real clock."""
    load(db, plan_file)
    do_tick(db, utc(2022, 5, 18, 2))
    now, real = utc(2022, 5, 18, 2), datetime.now(UTC)
    rows = outbox(db)
    with write_session(db) as s:
        s.execute(update(outbox_table).values(state="claimed", claimed_by="dead", claimed_at=real))
        s.execute(
            update(outbox_table).where(outbox_table.c.id == rows[0].id).values(state="sending")
        )
    assert dispatch(sessions(db), RecordingChannel(), now + LEASE).claimed == 0
    channel = RecordingChannel()
    result = dispatch(sessions(db), channel, now, clock=lambda: real + 2 * CLAIM_LEASE)
    assert (result.released, result.abandoned, result.sent) == (len(rows) - 1, 0, len(rows) - 1)
    result = dispatch(sessions(db), channel, now, clock=lambda: real + 2 * LEASE)
    assert result.abandoned == 1 and [r.state for r in outbox(db)] == ["unknown"] + ["sent"] * (
        len(rows) - 1
    )
    assert rows[0].idempotency_key not in {n.key for n in channel.sent}


def test_concurrent_dispatchers_send_each_row_once(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    for day in range(1, 31):
        do_tick(db, utc(2022, 5, day, 2))
    total = len(outbox(db))
    channels = [RecordingChannel() for _ in range(4)]

    def work(i: int) -> None:
        while dispatch(sessions(db), channels[i], utc(2022, 6, 1), limit=3, worker=f"w{i}").claimed:
            pass

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    keys = [n.key for c in channels for n in c.sent]
    assert (
        len(keys) == len(set(keys)) >= 5
    )  # reminders gone stale on 1/6 are skipped; escalations grouped
    assert {r.idempotency_key for r in outbox(db) if r.state == "sent"} == set(keys)
    assert {r.state for r in outbox(db)} == {"sent", "skipped"} and len(outbox(db)) == total


def test_console_channel_renders_vietnamese(
    db: Engine, plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(db, plan_file)
    for day in (18, 26):
        do_tick(db, utc(2022, 5, day, 2), channel="console")
        dispatch(sessions(db), ConsoleChannel(), utc(2022, 5, day, 2), limit=1000)
    lines = capsys.readouterr().out.splitlines()
    assert "[nhắc việc] Đoàn phường A: «Báo cáo tháng» hạn 25/05/2022 (sắp đến hạn)." in lines
    # the unit's two steps late at once: one message listing both, with the board's link
    at = lines.index(
        "[báo trễ hạn mức 1, gửi muộn] gửi Đoàn phường A: 2 việc của «Kế hoạch "
        "thử nghiệm năm 2022» chưa hoàn thành:"
    )
    assert lines[at + 1 : at + 4] == [
        "  - Đoàn phường A: «Báo cáo tháng», hạn 25/05/2022 (quá hạn 1 ngày, đã báo lên mức 1)",
        # what was true when it was sent: the issuer's rung 3 of it goes out after this one
        "  - Đoàn phường A: «Đóng góp kinh phí Hội nghị», hạn 19/05/2022 (quá hạn 7 ngày, "
        "đã báo lên mức 1, đến lượt báo mức 3)",
        "  Xem trên bảng quản lý: http://127.0.0.1:8080/qua-han?plan=thu-nghiem",
    ]
    # April's report, sent late; its status is what was true when it was sent (issue 11)
    assert any(
        line.startswith(
            "[báo trễ hạn mức 1, gửi muộn] gửi Đoàn phường A: Đoàn phường A chưa hoàn thành «Báo "
            "cáo tháng», hạn 25/04/2022 (quá hạn 23 ngày, "
        )
        for line in lines
    ), lines


# ── a simulated year of the Bình Tân plan ───────────────────────────────────────────────────
LOADED = utc(2023, 12, 31, 17)  # 1/1/2024 00:00 in Hồ Chí Minh
DOWN = (utc(2024, 5, 20), utc(2024, 6, 1))  # the server is off: no tick in between
#: Steps marked done, and when (UTC).
DONE = {
    f"{PLAN_ID}/dang-ky-hoat-dong/2024-1/cum-truong-noi-chinh": utc(2024, 1, 26, 3),  # on time
    f"{PLAN_ID}/dang-ky-hoat-dong/2024-1/cum-truong-hcsn": utc(2024, 2, 2, 3),  # after rung 1
    f"{PLAN_ID}/xay-dung-ke-hoach/1/mang-thtn-hdd": utc(2024, 2, 20, 3),  # before its reminder
    f"{PLAN_ID}/bao-cao-ket-qua-cum/2024-2/cum-truong-cnld": utc(2024, 11, 25, 3),
}


def tick_times() -> list[datetime]:
    """08:30 in Hồ Chí Minh (01:30 UTC) every day of 2024, but for the downtime."""
    day, out = utc(2024, 1, 1, 1, 30), []
    while day.year == 2024:
        if not DOWN[0] < day < DOWN[1]:
            out.append(day)
        day += timedelta(days=1)
    return out


def digest_times() -> list[datetime]:
    """When the day's digest runs: 07:30 in Hồ Chí Minh (00:30 UTC, the default digest hour)
    every day of 2024 the server is up; the day it comes back after the hour, at its first
    tick (the clock's digest job catches a missed run up within its grace)."""
    out = []
    for tick_at in tick_times():
        at = tick_at - timedelta(hours=1)
        out.append(tick_at if DOWN[0] < at < DOWN[1] else at)
    return out


def expected_digests(plan_path: Path) -> dict[str, dict[str, set[str]]]:
    """Each day's digest per recipient, from the compiled steps and the rules alone: a unit
    hears its own open steps that are late, due that local day, or due soon (a reminder has
    fired; the digest looks LOOKAHEAD ahead at most), and the late steps of others once a rung
    naming it has been reached; events and phases are never late; a day with nothing to say
    has no digest. Key ``digest|unit|day`` → {"late"|"today"|"soon": step ids}."""
    steps: list[Step] = compile_plan(load_plan(plan_path), WorkingCalendar())
    out: dict[str, dict[str, set[str]]] = {}
    for now in digest_times():
        day = now.astimezone(ZONE).date()

        def hears(unit: str, group: str, step_id: str, day: date = day) -> None:
            key = f"digest|{unit}|{day.isoformat()}"
            out.setdefault(key, {"late": set(), "today": set(), "soon": set()})[group].add(step_id)

        for s in steps:
            occ = s.occurrence
            if (DONE.get(s.id) or now + timedelta(days=1)) <= now or occ.due_at > now + LOOKAHEAD:
                continue
            if now >= occ.due_at:
                if s.duty.kind in ("deadline", "contribution", "milestone", "target"):
                    hears(s.unit, "late", s.id)
                    for rung in s.escalation:
                        if rung.at <= now:
                            for unit in rung.units:
                                hears(unit, "late", s.id)
            elif (occ.due_at - timedelta(microseconds=1)).astimezone(ZONE).date() == day:
                hears(s.unit, "today", s.id)
            elif any(r <= now for r in occ.reminders):
                hears(s.unit, "soon", s.id)
    return out


def expected_keys(plan_path: Path) -> set[str]:
    """The notices the year should produce, from the compiled dates and the rules alone: at
    each tick, of the reminders since the previous tick only the latest, and only if the step
    is not yet late; every rung with recipients; nothing once the step is done; events and
    phases never escalated."""
    plan = load_plan(plan_path)
    ticks = tick_times()
    keys = set()
    for s in compile_plan(plan, WorkingCalendar()):
        done_at = DONE.get(s.id)
        for a, b in zip([LOADED, *ticks], ticks, strict=False):  # (LOADED, t1), (t1, t2), …
            if done_at is not None and done_at <= b:
                break
            missed = [r for r in s.occurrence.reminders if a < r <= b]
            if missed and b < s.occurrence.due_at:
                keys.add(f"{s.id}|reminder|0|{max(missed).isoformat()}|{s.unit}")
            if s.duty.kind in ("deadline", "contribution", "milestone", "target"):
                keys |= {
                    f"{s.id}|escalation|{r.level}|{r.at.isoformat()}|{u}"
                    for r in s.escalation
                    if a < r.at <= b
                    for u in r.units
                }
    return keys


@pytest.fixture
def binh_tan_from_2024(tmp_path: Path) -> Path:
    """The Bình Tân plan as if issued before 2024 (it was issued in 3/2024, and nothing falls
    due before that), so that the simulated year starts with January's registrations."""
    path = tmp_path / BINH_TAN.name
    text = BINH_TAN.read_text(encoding="utf-8")
    assert "\nissued: 3/2024" in text
    path.write_text(text.replace("\nissued: 3/2024", "\nissued: 1/2024"), encoding="utf-8")
    return path


def test_a_year_of_the_binh_tan_plan(db: Engine, binh_tan_from_2024: Path) -> None:
    load(db, binh_tan_from_2024, now=LOADED)
    channel = RecordingChannel()
    for now, digest_at in zip(tick_times(), digest_times(), strict=True):
        for step_id, at in DONE.items():
            if now - timedelta(days=1) < at <= now:
                with write_session(db) as s:
                    mark_done(s, step_id, "thư ký", "cli", at)
        with write_session(db) as s:
            if digest_at < now:
                assert digest(s, digest_at - timedelta(minutes=1), channel="test").day is None
            digest(s, digest_at, channel="test")  # the day's digests, at the digest hour
        do_tick(db, now)
        dispatch(sessions(db), channel, now, limit=10_000)
    everything = outbox(db)
    keys = [r.idempotency_key for r in everything]
    sent = [n.key for n in channel.sent]
    assert len(keys) == len(set(keys)) and sorted(sent) == sorted(keys)  # once each, all sent
    told = [n for n in notices(everything) if n["purpose"] != "digest"]
    assert sorted(n["key"] for n in told) == sorted(
        expected_keys(binh_tan_from_2024)
    )  # each once, grouped or not
    grouped = [r for r in everything if r.purpose == "escalation_group"]
    assert grouped and all(r.payload["count"] == len(r.payload["steps"]) > 1 for r in grouped)

    # one digest per recipient and local day with something due soon, due today or late
    digests = {r.idempotency_key: r for r in everything if r.purpose == "digest"}
    wanted = expected_digests(binh_tan_from_2024)
    assert set(digests) == set(wanted) and len(wanted) > 300
    for key, groups in wanted.items():
        row = digests[key]
        assert {g: {i["step_id"] for i in row.payload[g]} for g in groups} == groups, key
        unit, day = key.split("|")[1:]
        assert row.unit_id == unit and row.payload["day"] == day
        local = row.created_at.astimezone(ZONE)
        assert local.date().isoformat() == day
        assert local.time() == time(7, 30) or row.created_at in tick_times()  # the catch-up
    assert {"late", "today", "soon"} == {
        g for gs in wanted.values() for g, ids in gs.items() if ids
    }

    # and by hand, from the plan's text: «đăng ký hoạt động … 30/01», reminders 7 and 1 days
    # before at 08:00, the unit 1 day late, the issuer 7 days late (a cluster head is its own)
    by_step: dict[str, list[tuple[str, int, str, str, bool]]] = {}
    for n in sorted(told, key=lambda n: (n["row"].id, n["moment"])):
        by_step.setdefault(n["step_id"], []).append(
            (n["purpose"], n["level"], n["moment"][:16], n["unit_id"], n["late"])
        )
    reg = f"{PLAN_ID}/dang-ky-hoat-dong/2024-1/"
    assert by_step[reg + "cum-truong-y-te"] == [
        ("reminder", 0, "2024-01-23T01:00", "cum-truong-y-te", False),
        ("reminder", 0, "2024-01-29T01:00", "cum-truong-y-te", False),
        ("escalation", 1, "2024-01-31T01:00", "cum-truong-y-te", False),
        ("escalation", 3, "2024-02-06T01:00", "btv-quan-doan", False),
    ]
    assert by_step[reg + "cum-truong-noi-chinh"] == [
        ("reminder", 0, "2024-01-23T01:00", "cum-truong-noi-chinh", False)
    ]
    assert by_step[reg + "cum-truong-hcsn"] == [
        ("reminder", 0, "2024-01-23T01:00", "cum-truong-hcsn", False),
        ("reminder", 0, "2024-01-29T01:00", "cum-truong-hcsn", False),
        ("escalation", 1, "2024-01-31T01:00", "cum-truong-hcsn", False),
    ]
    assert f"{PLAN_ID}/xay-dung-ke-hoach/1/mang-thtn-hdd" not in by_step
    # the report due 30/5 fell in the downtime: no stale reminders, rung 1 sent late, rung 3 on time
    assert by_step[f"{PLAN_ID}/bao-cao-ket-qua-cum/2024-1/cum-truong-y-te"] == [
        ("escalation", 1, "2024-05-31T01:00", "cum-truong-y-te", True),
        ("escalation", 3, "2024-06-06T01:00", "btv-quan-doan", False),
    ]
    # phases are announced, never escalated
    assert {p for s, notes in by_step.items() if "/dot-0" in s for p, *_ in notes} == {"reminder"}
    with read_session(db) as s:
        escalated = s.execute(
            select(func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.purpose == "escalation")
        ).scalar_one()
    assert (
        escalated + sum(len(r.payload["steps"]) for r in grouped)
        == sum(1 for n in told if "|escalation|" in n["key"])
        > 0
    )


# ── the command line ────────────────────────────────────────────────────────────────────────


def test_cli_tick_overdue_agenda_done(
    kehoach_bin: str, db_url: str, db: Engine, plan_file: Path, tmp_path: Path
) -> None:
    load(db, plan_file)  # at 1/4/2022
    res = run(kehoach_bin, "tick", "--now", "2022-05-18T08:30", cwd=tmp_path, url=db_url)
    assert res.returncode == 0, res.stderr
    assert "[nhắc việc] Đoàn phường A: «Báo cáo tháng» hạn 25/05/2022 (sắp đến hạn)." in res.stdout
    assert "thông báo mới" in res.stderr
    again = run(kehoach_bin, "tick", "--now", "2022-05-18T08:30", cwd=tmp_path, url=db_url)
    assert again.returncode == 0 and again.stdout == ""  # nothing twice

    res = run(
        kehoach_bin, "agenda", "--days", "10", "--now", "2022-05-18T09:00", cwd=tmp_path, url=db_url
    )
    assert res.returncode == 0, res.stderr
    assert "Đóng góp kinh phí Hội nghị" in res.stdout and "sắp đến hạn" in res.stdout

    res = run(
        kehoach_bin,
        "done",
        f"{MAY}/doan-b",
        "--note",
        "đã nộp",
        "--now",
        "2022-05-24T10:00",
        cwd=tmp_path,
        url=db_url,
    )
    assert res.returncode == 0, res.stderr
    res = run(
        kehoach_bin,
        "overdue",
        "--unit",
        "doan-a",
        "--now",
        "2022-05-30T09:00",
        cwd=tmp_path,
        url=db_url,
    )
    assert res.returncode == 0, res.stderr
    # the tick of 18/5 sent the rungs of April; May's rung 1 is due, no tick sent it (issue 11)
    assert "quá hạn 35 ngày, đã báo lên mức 3" in res.stdout and f"{MAY}/doan-a" in res.stdout
    assert "quá hạn 5 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 1" in res.stdout
    res = run(
        kehoach_bin,
        "overdue",
        "--unit",
        "doan-b",
        "--now",
        "2022-05-30T09:00",
        cwd=tmp_path,
        url=db_url,
    )
    assert f"{MAY}/doan-b" not in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("done", "khong-co"), "không có bước «khong-co»"),
        (("done", f"{MAY}/doan-a"), "«đã xong», không thể đánh dấu hoàn thành"),
        (("tick", "--now", "hôm qua"), "«hôm qua» không phải thời điểm ISO"),
        (("overdue", "--cluster", "khong-co"), "không có cụm hay nhóm «khong-co»"),
    ],
    ids=["unknown-step", "done-twice", "bad-now", "unknown-cluster"],
)
def test_cli_refusals(
    kehoach_bin: str,
    db_url: str,
    db: Engine,
    plan_file: Path,
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    load(db, plan_file)
    assert run(kehoach_bin, "done", f"{MAY}/doan-a", cwd=tmp_path, url=db_url).returncode == 0
    res = run(kehoach_bin, *args, cwd=tmp_path, url=db_url)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert message in res.stderr
