"""The daily digest: the pure grouping (workflows.digest), the store's once-a-day outbox rows
on SQLite and PostgreSQL (the fixtures of conftest.py), the clock's job and `kehoach digest`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kehoach.clock import Clock
from kehoach.settings import Settings, SettingsError
from kehoach.store import dispatch, make_engine, read_session, upgrade, write_session
from kehoach.store.digest import digest
from kehoach.store.models import outbox_table
from notifiers.console import ConsoleChannel
from notifiers.testing import RecordingChannel
from tests.conftest import load, run
from workflows.digest import digest_for
from workflows.lifecycle import Phase, RungFacts, StepFacts

MAY = "thu-nghiem/bao-cao-thang/2022-05"


def utc(y: int, m: int, d: int, h: int = 1, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=UTC)


def digests(engine: Engine) -> list[Any]:
    with read_session(engine) as s:
        return list(
            s.execute(
                select(outbox_table)
                .where(outbox_table.c.purpose == "digest")
                .order_by(outbox_table.c.id)
            )
        )


def run_digest(engine: Engine, now: datetime, at: time = time(7, 30)) -> Any:
    with write_session(engine) as s:
        return digest(s, now, at, channel="test")


# ── pure grouping ───────────────────────────────────────────────────────────────────────────


def step(
    name: str,
    due: datetime,
    *,
    unit: str = "a",
    reminders: tuple[datetime, ...] = (),
    rungs: tuple[RungFacts, ...] = (),
    kind: str = "deadline",
    **kw: Any,
) -> StepFacts:
    return StepFacts(
        f"p/{name}/{unit}",
        kind,
        due,
        (due - timedelta(hours=1)).date(),
        reminders=reminders,
        rungs=rungs,
        unit=unit,
        **kw,
    )


NOW = utc(2024, 3, 10, 1)  # 08:00 local, Sunday 10/3/2024


def ladder(due: datetime, unit: str = "a") -> tuple[RungFacts, ...]:
    """The default ladder: the unit 1 day late, the cluster head 3, the issuer 7."""
    return (
        RungFacts(1, due + timedelta(days=1), (unit,)),
        RungFacts(2, due + timedelta(days=3), ("head",)),
        RungFacts(3, due + timedelta(days=7), ("issuer",)),
    )


def steps_for_grouping() -> list[StepFacts]:
    soon_due = utc(2024, 3, 14, 17)
    later_due = utc(2024, 3, 12, 17)
    today_due = utc(2024, 3, 10, 17)
    late_due = utc(2024, 3, 8, 17)  # 2 days late, rung 1 heard
    very_late_due = utc(2024, 3, 5, 17)  # 5 days late, rung 2 heard (the head)
    return [
        step("soon", soon_due, reminders=(soon_due - timedelta(days=7),)),
        step("soon-earlier", later_due, reminders=(later_due - timedelta(days=3),)),
        step("upcoming", utc(2024, 4, 1, 17), reminders=(utc(2024, 3, 25, 1),)),  # not yet
        step("today", today_due),
        step("late", late_due, rungs=ladder(late_due)),
        step("very-late", very_late_due, rungs=ladder(very_late_due)),
        step("done", late_due, rungs=ladder(late_due), state="done", done_at=late_due),
        step("event", late_due, kind="event"),  # happened: nothing to do
        step("other", late_due, unit="b", rungs=ladder(late_due, "b")),
    ]


def test_digest_groups_by_urgency() -> None:
    d = digest_for({"a"}, steps_for_grouping(), NOW)
    assert d is not None and d.day == date(2024, 3, 10) and d.recipients == ("a",)
    assert [i.step_id for i in d.items] == [
        "p/very-late/a",
        "p/late/a",
        "p/today/a",
        "p/soon-earlier/a",
        "p/soon/a",
    ]
    assert [i.phase for i in d.late] == [Phase.ESCALATED, Phase.ESCALATED]
    assert [(i.days_late, i.level) for i in d.late] == [(5, 2), (2, 1)]
    assert [i.label for i in d.today + d.soon] == ["đến hạn hôm nay", "sắp đến hạn", "sắp đến hạn"]
    assert d.late[0].due_day == date(2024, 3, 5)  # 17:00 UTC: midnight ending 5/3 local
    assert all(i.own for i in d.items) and len(d) == 5


def test_digest_of_a_ladder_target_lists_only_the_late_steps_it_has_heard() -> None:
    head = digest_for({"head"}, steps_for_grouping(), NOW)
    assert head is not None and [(i.step_id, i.own, i.level) for i in head.items] == [
        ("p/very-late/a", False, 2)
    ]  # "late" has only reached rung 1, the unit itself
    later = digest_for({"head"}, steps_for_grouping(), NOW + timedelta(days=2))
    assert later is not None and {i.step_id for i in later.items} == {
        "p/very-late/a",
        "p/late/a",
        "p/other/b",
    }
    assert digest_for({"issuer"}, steps_for_grouping(), NOW) is None


def test_digest_is_none_when_empty() -> None:
    assert digest_for({"a"}, [], NOW) is None
    assert digest_for({"zzz"}, steps_for_grouping(), NOW) is None
    assert digest_for({"a"}, [step("upcoming", utc(2024, 4, 1, 17))], NOW) is None


def hour(text: str | None) -> time:
    return Settings.of({"KEHOACH_DIGEST_HOUR": text} if text is not None else {}).digest_hour


def test_the_digest_hour_setting() -> None:
    assert hour(None) == time(7, 30) == hour("7:30") == hour(" 07:30 ") == hour("07:30:00")
    assert hour("18:05") == time(18, 5)
    with pytest.raises(SettingsError, match=r"KEHOACH_DIGEST_HOUR .* «sáng» không phải giờ"):
        hour("sáng")
    with pytest.raises(SettingsError, match="«25:00»"):
        hour("25:00")


# ── the store ───────────────────────────────────────────────────────────────────────────────
# thu-nghiem (conftest.PLAN): «Báo cáo tháng» due the 25th, doan-a and doan-b; quan-doan
# issues it (rung 3, 7 days late). Loaded 1/4/2022.


def test_one_digest_per_recipient_per_day(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    morning = utc(2022, 5, 30, 1)  # 08:00 local
    first = run_digest(db, morning)
    assert first.day == date(2022, 5, 30) and first.queued == 3
    assert {r.idempotency_key for r in digests(db)} == {
        "digest|doan-a|2022-05-30",
        "digest|doan-b|2022-05-30",
        "digest|quan-doan|2022-05-30",
    }
    again = run_digest(db, morning + timedelta(hours=3))  # later the same day
    assert (again.queued, again.duplicates) == (0, 3)
    with ThreadPoolExecutor(2) as pool:  # two processes at the next day's hour
        results = list(pool.map(lambda _: run_digest(db, utc(2022, 5, 31, 0, 30)), range(2)))
    assert sorted(r.queued for r in results) == [0, 3]
    rows = digests(db)
    assert len(rows) == 6 and len({r.idempotency_key for r in rows}) == 6
    assert all(r.step_id is None and r.level is None and r.channel == "test" for r in rows)

    a = next(r for r in rows if r.idempotency_key == "digest|doan-a|2022-05-30").payload
    assert a["date"] == "Thứ Hai, 30/05/2022" and a["recipient_name"] == "Đoàn phường A"
    may = next(i for i in a["late"] if i["step_id"] == f"{MAY}/doan-a")
    assert may == {
        **may,
        "title": "Báo cáo tháng",
        "unit_name": "Đoàn phường A",
        "due_day": "Thứ Tư, 25/05/2022",
        "status": "quá hạn 5 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 1",
        "days_late": 5,
        "level": 1,
        "own": True,
    }
    assert a["late"][0]["days_late"] >= a["late"][-1]["days_late"]  # most urgent first
    # the issuer hears the steps the ladder has taken to it (7 days late), not May's yet
    issuer = next(r for r in rows if r.idempotency_key == "digest|quan-doan|2022-05-30").payload
    assert f"{MAY}/doan-a" not in {i["step_id"] for i in issuer["late"]}
    assert {i["unit"] for i in issuer["late"]} == {"doan-a", "doan-b"}
    assert not any(i["own"] for i in issuer["late"])

    channel = ConsoleChannel()
    text = channel.render(_note(rows[0]))
    assert text.startswith("[tin tổng hợp Thứ Hai, 30/05/2022] gửi Đoàn phường A:")
    assert "QUÁ HẠN: Đoàn phường A: «Báo cáo tháng», hạn Thứ Tư, 25/05/2022" in text


def _note(row: Any) -> Any:
    from notifiers.base import Notification

    return Notification(
        row.id, row.idempotency_key, row.unit_id, row.purpose, row.level, row.payload
    )


def test_nothing_before_the_hour_and_nothing_on_an_empty_day(
    db: Engine, plan_file: Path, tmp_path: Path
) -> None:
    assert run_digest(db, utc(2022, 5, 30, 1)).queued == 0  # no steps at all
    load(db, plan_file)
    early = run_digest(db, utc(2022, 5, 30, 0, 29))  # 07:29 local
    assert early.day is None and early.queued == 0 and digests(db) == []
    assert run_digest(db, utc(2022, 5, 30, 0, 29), at=time(7)).queued == 3  # its own hour
    quiet = tmp_path / "quiet" / "plans" / "yen.yaml"
    quiet.parent.mkdir(parents=True)
    quiet.write_text(_plan("yen", "ngày 20/12/2022", units=("doan-c",)), encoding="utf-8")
    load(db, quiet)
    before = len(digests(db))
    run_digest(db, utc(2022, 6, 2, 1))  # doan-c has nothing due soon: no digest for it
    assert "digest|doan-c|2022-06-02" not in {r.idempotency_key for r in digests(db)}
    assert len(digests(db)) > before  # the others still hear about their late steps


def _plan(
    plan_id: str, when: str, units: tuple[str, ...] = ("doan-x",), cluster: bool = False
) -> str:
    unit_lines = "".join(f"  - id: {u}\n    name: Đoàn {u}\n" for u in units)
    text = (
        f"id: {plan_id}\ntitle: Kế hoạch {plan_id}\nissuer: quan-doan-2\n"
        "period: {from: 1/1/2022, to: 31/12/2022}\nunits:\n"
        "  - id: quan-doan-2\n    name: Quận Đoàn 2\n"
        "  - id: truong-cum\n    name: Đoàn cụm trưởng\n" + unit_lines
    )
    if cluster:
        text += (
            "clusters:\n  - id: cum-1\n    name: Cụm 1\n    head: truong-cum\n"
            f"    members: [truong-cum, {', '.join(units)}]\n"
        )
    text += (
        "obligations:\n  - id: nop-bao-cao\n    kind: deadline\n    title: Nộp báo cáo cụm\n"
        f"    when: {when}\n    responsible: [{', '.join(units)}]\n"
    )
    return text


def test_a_cluster_head_receives_its_members_late_steps(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "plans" / "cum.yaml"
    path.parent.mkdir()
    path.write_text(
        _plan("cum", "ngày 10/6/2022", units=("doan-x", "doan-y"), cluster=True), encoding="utf-8"
    )
    load(db, path)
    # due Friday 10/6; the ladder: the unit 1 day late, the cluster head 3, the issuer 7
    run_digest(db, utc(2022, 6, 12, 1))  # 2 days late: the units only
    assert {r.unit_id for r in digests(db)} == {"doan-x", "doan-y"}
    run_digest(db, utc(2022, 6, 14, 1))  # 4 days late: the head hears both
    head = [r for r in digests(db) if r.unit_id == "truong-cum"]
    assert len(head) == 1 and head[0].idempotency_key == "digest|truong-cum|2022-06-14"
    items = head[0].payload["late"]
    assert {(i["unit"], i["title"], i["level"]) for i in items} == {
        ("doan-x", "Nộp báo cáo cụm", 2),
        ("doan-y", "Nộp báo cáo cụm", 2),
    }
    assert "digest|quan-doan-2|2022-06-14" not in {r.idempotency_key for r in digests(db)}
    run_digest(db, utc(2022, 6, 18, 1))  # 8 days late: the issuer too
    assert "digest|quan-doan-2|2022-06-18" in {r.idempotency_key for r in digests(db)}


def test_due_soon_and_today_are_in_the_unit_digest(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    run_digest(db, utc(2022, 5, 18, 2))  # reminder 7 days before 25/5 has fired
    a = next(r for r in digests(db) if r.unit_id == "doan-a").payload
    soon = {i["step_id"]: i["status"] for i in a["soon"]}
    assert soon[f"{MAY}/doan-a"] == "sắp đến hạn"
    run_digest(db, utc(2022, 5, 25, 2))
    a = next(r for r in digests(db) if r.idempotency_key == "digest|doan-a|2022-05-25").payload
    assert [i["status"] for i in a["today"]] == ["đến hạn hôm nay"]


def test_clock_runs_the_digest_and_dispatches(db: Engine, db_url: str, plan_file: Path) -> None:
    load(db, plan_file)
    channel = RecordingChannel("console")
    clock = Clock(db, db_url, channel, now=lambda: utc(2022, 5, 30, 1), digest_at=time(8))
    queued, sent = clock.run_digest()
    assert queued.queued == 3 and sent.sent == 3
    assert {n.key for n in channel.sent} == {
        f"digest|{u}|2022-05-30" for u in ("doan-a", "doan-b", "quan-doan")
    }
    assert clock.run_digest()[0].queued == 0  # once a day
    # the tick's dispatcher sends digests too (any outbox row of its channel)
    with write_session(db) as s:
        digest(s, utc(2022, 5, 31, 1), time(7, 30), channel="console")
    assert dispatch(lambda: write_session(db), channel, utc(2022, 5, 31, 1)).sent == 3


# ── the command line ────────────────────────────────────────────────────────────────────────


def test_cli_digest(kehoach_bin: str, plan_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    load(engine, plan_file)
    engine.dispose()
    res = run(kehoach_bin, "digest", "--now", "2022-05-30T08:00", cwd=tmp_path, url=url)
    assert res.returncode == 0, res.stderr
    assert "[tin tổng hợp Thứ Hai, 30/05/2022] gửi Đoàn phường A: 6 việc cần chú ý" in res.stdout
    assert (
        "QUÁ HẠN: Đoàn phường A: «Báo cáo tháng», hạn Thứ Tư, 25/05/2022 "
        "(quá hạn 5 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 1)"
    ) in res.stdout
    assert res.stdout.count("[tin tổng hợp") == 3 and "3 tin mới" in res.stderr
    again = run(kehoach_bin, "digest", "--now", "2022-05-30T17:00", cwd=tmp_path, url=url)
    assert again.returncode == 0 and again.stdout == ""  # once a day
    early = run(kehoach_bin, "digest", "--now", "2022-05-31T07:00", cwd=tmp_path, url=url)
    assert early.returncode == 0 and early.stdout == "" and "Chưa đến giờ" in early.stderr
    import os
    import subprocess

    env = {**os.environ, "KEHOACH_DATABASE_URL": url, "KEHOACH_DIGEST_HOUR": "06:45"}
    own = subprocess.run(
        [kehoach_bin, "digest", "--now", "2022-05-31T07:00"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert own.returncode == 0 and own.stdout.count("[tin tổng hợp Thứ Ba, 31/05/2022]") == 3
    env["KEHOACH_DIGEST_HOUR"] = "sáng sớm"
    bad = subprocess.run(
        [kehoach_bin, "digest"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "KEHOACH_DIGEST_HOUR" in bad.stderr
