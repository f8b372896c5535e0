"""Secretary actions on stored steps (kehoach.store.actions), on SQLite and PostgreSQL (the
fixtures of conftest.py): extensions, excuses, reopening, payments, achievements; their
refusals, their audit rows, their effect on the tick, a reload, and the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kehoach.store import ConcurrentChange, StepNotFound, read_session, tick, write_session
from kehoach.store.actions import (
    ActionNotAllowed,
    ActionResult,
    InvalidAction,
    excuse,
    extend,
    grant_extension,
    mark_done,
    record_achievement,
    record_payment,
    refuse_extension,
    reopen,
    request_extension,
)
from kehoach.store.models import outbox_table, steps_table
from kehoach.store.tick import facts
from tests.conftest import PLAN, load, run, steps_by_id, transitions
from workflows.lifecycle import Phase, status

TARGET = """\
  - id: ket-nap
    kind: target
    title: Kết nạp đoàn viên mới
    when: trong năm 2022
    responsible: [doan-a, doan-b]
    quantity: 20
    measure: đoàn viên
"""
MAY = "thu-nghiem/bao-cao-thang/2022-05/doan-a"  # due 25/5/2022 (late from 26/5 00:00 local)
PAY_A = "thu-nghiem/dong-gop/1/doan-a"  # 500.000 đồng by 19/5/2022
EVENT = "thu-nghiem/hoi-nghi/1/quan-doan"
GOAL = "thu-nghiem/ket-nap/1/doan-a"  # 20 đoàn viên in 2022
SECRETARY, APPROVER = "Bí thư Đoàn phường A", "Ban Thường vụ Quận Đoàn"


def utc(y: int, m: int, d: int, h: int = 3) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


T = utc(2022, 5, 20)  # when the actions are taken, unless a test says otherwise


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    path = tmp_path / "plans" / "thu-nghiem.yaml"
    path.parent.mkdir()
    path.write_text(PLAN + TARGET, encoding="utf-8")
    return path


@pytest.fixture
def loaded(db: Engine, plans: Path) -> Engine:
    load(db, plans)
    return db


def act(engine: Engine, action: Callable[..., ActionResult | int], *args: Any) -> Any:
    with write_session(engine) as s:
        return action(s, *args)


def step(engine: Engine, step_id: str) -> Any:
    return steps_by_id(engine)[step_id]


def audit(engine: Engine, step_id: str) -> list[tuple[str, str, str, str, str | None]]:
    """The transitions after `created`: (event, actor, channel, to_state, note)."""
    return [
        (t.event, t.actor, t.channel, t.to_state, t.note) for t in transitions(engine, step_id)[1:]
    ]


# ── extensions ──────────────────────────────────────────────────────────────────────────────


def test_request_then_grant_moves_the_deadline_and_the_rungs(loaded: Engine) -> None:
    r = act(
        loaded,
        request_extension,
        MAY,
        date(2022, 6, 4),
        "chờ số liệu các chi đoàn",
        SECRETARY,
        "telegram",
        T,
    )
    assert (r.revision, r.state) == (2, "pending")
    row = step(loaded, MAY)
    assert row.extension_requested_until == datetime(2022, 6, 4, 17, tzinfo=UTC)
    assert (row.extension_requested_by, row.extension_reason) == (
        SECRETARY,
        "chờ số liệu các chi đoàn",
    )
    assert row.extended_until is None  # asked, not granted: the deadline stays
    assert status(facts(row), utc(2022, 5, 27)).phase == Phase.ESCALATED
    g = act(loaded, grant_extension, MAY, None, APPROVER, "cli", utc(2022, 5, 21))
    assert (g.revision, g.state) == (3, "pending")
    row = step(loaded, MAY)
    assert row.extended_until == datetime(2022, 6, 4, 17, tzinfo=UTC)
    assert row.extension_requested_at is None and row.extension_requested_until is None
    # the reminders move with the deadline (10 days): 18/5 → 28/5, 24/5 → 3/6
    assert row.next_action_at == datetime(2022, 5, 28, 1, tzinfo=UTC)
    assert status(facts(row), utc(2022, 5, 27)).phase == Phase.UPCOMING
    assert status(facts(row), utc(2022, 5, 28, 2)).phase == Phase.DUE_SOON
    assert status(facts(row), utc(2022, 6, 5, 2)).label == (
        "quá hạn 1 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 1"
    )  # no tick sent it
    assert audit(loaded, MAY) == [
        (
            "extension_requested",
            SECRETARY,
            "telegram",
            "pending",
            "xin gia hạn đến 04/06/2022: chờ số liệu các chi đoàn",
        ),
        (
            "extension_granted",
            APPROVER,
            "cli",
            "pending",
            "cho gia hạn đến 04/06/2022 (hạn trước 25/05/2022)",
        ),
    ]


def test_grant_with_another_date_and_after_the_reminders(loaded: Engine) -> None:
    act(loaded, request_extension, MAY, date(2022, 6, 10), "lý do", SECRETARY, "cli", T)
    act(
        loaded,
        grant_extension,
        MAY,
        date(2022, 6, 1),
        APPROVER,
        "cli",
        utc(2022, 5, 27),
        "chỉ đến 01/6",
    )
    row = step(loaded, MAY)
    assert row.extended_until == datetime(2022, 6, 1, 17, tzinfo=UTC)
    # the 24/5 reminder, moved 7 days with the deadline (then rung 1 on 2/6)
    assert row.next_action_at == datetime(2022, 5, 31, 1, tzinfo=UTC)
    assert audit(loaded, MAY)[-1][-1] == (
        "cho gia hạn đến 01/06/2022 (hạn trước 25/05/2022): chỉ đến 01/6"
    )


def test_refuse_keeps_the_deadline_and_a_new_request_may_follow(loaded: Engine) -> None:
    act(loaded, request_extension, MAY, date(2022, 6, 4), "lý do", SECRETARY, "cli", T)
    act(loaded, refuse_extension, MAY, "đã nhắc nhiều lần", APPROVER, "cli", T)
    row = step(loaded, MAY)
    assert row.extended_until is None and row.extension_requested_at is None
    assert audit(loaded, MAY)[-1] == (
        "extension_refused",
        APPROVER,
        "cli",
        "pending",
        "từ chối gia hạn: đã nhắc nhiều lần",
    )
    act(loaded, request_extension, MAY, date(2022, 6, 2), "lần hai", SECRETARY, "cli", T)
    assert step(loaded, MAY).extension_requested_until is not None


def test_extend_records_the_request_and_the_grant(loaded: Engine) -> None:
    r = act(loaded, extend, MAY, date(2022, 6, 4), "ốm", "thư ký", "cli", T)
    assert r.revision == 3
    assert [a[0] for a in audit(loaded, MAY)] == ["extension_requested", "extension_granted"]
    # a request already waiting is granted with the date the secretary gives
    act(loaded, request_extension, MAY, date(2022, 6, 20), "thêm nữa", SECRETARY, "cli", T)
    act(loaded, extend, MAY, date(2022, 6, 10), "chỉ đến 10/6", "thư ký", "cli", T)
    assert step(loaded, MAY).extended_until == datetime(2022, 6, 10, 17, tzinfo=UTC)
    assert audit(loaded, MAY)[-1][-1].endswith("(hạn trước 04/06/2022): chỉ đến 10/6")


REFUSED = [
    (
        grant_extension,
        (MAY, None, APPROVER, "cli", T),
        ActionNotAllowed,
        "không có đề nghị gia hạn nào đang chờ, không thể cho gia hạn",
    ),
    (
        refuse_extension,
        (MAY, "x", APPROVER, "cli", T),
        ActionNotAllowed,
        "không có đề nghị gia hạn nào đang chờ, không thể từ chối gia hạn",
    ),
    (
        request_extension,
        (EVENT, date(2022, 6, 1), "x", SECRETARY, "cli", T),
        ActionNotAllowed,
        "là một sự kiện hay giai đoạn, diễn ra theo lịch",
    ),
    (
        request_extension,
        (MAY, date(2022, 5, 24), "x", SECRETARY, "cli", T),
        InvalidAction,
        "ngày gia hạn 24/05/2022 không sau hạn hiện tại 25/05/2022",
    ),
    (
        request_extension,
        (MAY, date(2022, 5, 28), "x", SECRETARY, "cli", utc(2022, 6, 1)),
        InvalidAction,
        "ngày gia hạn 28/05/2022 đã qua",
    ),
    (
        request_extension,
        (MAY, date(2022, 6, 1), "  ", SECRETARY, "cli", T),
        InvalidAction,
        "cần nêu lý do",
    ),
    (excuse, (MAY, "", APPROVER, "cli", T), InvalidAction, "cần nêu lý do"),
    (
        reopen,
        (MAY, "x", APPROVER, "cli", T),
        ActionNotAllowed,
        "chưa hoàn thành hay được miễn, không thể mở lại",
    ),
    (
        record_payment,
        (MAY, 1000, SECRETARY, "cli", T),
        ActionNotAllowed,
        "không phải một khoản đóng góp",
    ),
    (record_payment, (PAY_A, 0, SECRETARY, "cli", T), InvalidAction, "số tiền phải lớn hơn 0"),
    (
        record_achievement,
        (PAY_A, 3, SECRETARY, "cli", T),
        ActionNotAllowed,
        "không phải một chỉ tiêu",
    ),
    (record_achievement, (GOAL, -1, SECRETARY, "cli", T), InvalidAction, "không được âm"),
    (excuse, ("khong-co", "x", APPROVER, "cli", T), StepNotFound, "không có bước «khong-co»"),
]


@pytest.mark.parametrize(
    ("action", "args", "error", "message"),
    REFUSED,
    ids=[f"{a.__name__}-{m[:24]}" for a, _, _, m in REFUSED],
)
def test_refusals_write_nothing(
    loaded: Engine,
    action: Callable[..., Any],
    args: tuple[Any, ...],
    error: type[Exception],
    message: str,
) -> None:
    before = steps_by_id(loaded), transitions(loaded)
    with pytest.raises(error, match=message), write_session(loaded) as s:
        action(s, *args)
    assert (steps_by_id(loaded), transitions(loaded)) == before


def test_a_second_pending_request_and_a_cancelled_step_are_refused(
    loaded: Engine, plans: Path
) -> None:
    act(loaded, request_extension, MAY, date(2022, 6, 4), "lý do", SECRETARY, "cli", T)
    with pytest.raises(ActionNotAllowed, match="đã có một đề nghị gia hạn đang chờ"):
        act(loaded, request_extension, MAY, date(2022, 6, 5), "lại", SECRETARY, "cli", T)
    plans.write_text(PLAN.replace("ngày 19/5/2022", "ngày 20/5/2022"), encoding="utf-8")
    load(loaded, plans)  # the target obligation is gone: its steps are cancelled
    with pytest.raises(ActionNotAllowed, match="«đã hủy», không thể ghi nhận kết quả"):
        act(loaded, record_achievement, GOAL, 5, SECRETARY, "cli", T)
    with pytest.raises(ActionNotAllowed, match="«đã hủy», không thể mở lại"):
        act(loaded, reopen, GOAL, "nhầm", APPROVER, "cli", T)


def test_a_concurrent_change_is_refused(loaded: Engine) -> None:
    """Another process changes the step between our read and our write: we lose, cleanly."""
    from kehoach.store import actions

    stale = actions._read

    def read_then_lose_the_race(session: Any, step_id: str) -> Any:
        row = stale(session, step_id)
        session.execute(
            steps_table.update()
            .where(steps_table.c.id == step_id)
            .values(revision=row.revision + 1)
        )
        return row

    actions._read = read_then_lose_the_race  # type: ignore[assignment]
    try:
        with pytest.raises(ConcurrentChange, match="vừa được thay đổi"), write_session(loaded) as s:
            excuse(s, MAY, "lý do", APPROVER, "cli", T)
    finally:
        actions._read = stale  # type: ignore[assignment]
    assert step(loaded, MAY).state == "pending" and audit(loaded, MAY) == []


# ── excuse, reopen ──────────────────────────────────────────────────────────────────────────


def test_excuse_then_reopen(loaded: Engine) -> None:
    act(loaded, excuse, MAY, "đơn vị sáp nhập", APPROVER, "cli", T)
    row = step(loaded, MAY)
    assert (row.state, row.excuse_reason, row.next_action_at) == (
        "excused",
        "đơn vị sáp nhập",
        None,
    )
    assert status(facts(row), utc(2022, 7, 1)).label == "được miễn"
    r = act(loaded, reopen, MAY, "miễn nhầm", APPROVER, "cli", utc(2022, 5, 26, 0))
    assert (r.state, r.revision) == ("pending", 3)
    row = step(loaded, MAY)
    assert (row.excuse_reason, row.next_action_at) == (None, datetime(2022, 5, 26, 1, tzinfo=UTC))
    assert audit(loaded, MAY) == [
        ("excused", APPROVER, "cli", "excused", "miễn: đơn vị sáp nhập"),
        ("reopened", APPROVER, "cli", "pending", "mở lại: miễn nhầm"),
    ]


def test_reopen_a_done_step_clears_done_at(loaded: Engine) -> None:
    act(loaded, mark_done, MAY, SECRETARY, "cli", T)
    act(loaded, reopen, MAY, "báo cáo thiếu số liệu", APPROVER, "cli", T)
    row = step(loaded, MAY)
    assert (row.state, row.done_at) == ("pending", None)
    assert row.next_action_at == datetime(2022, 5, 24, 1, tzinfo=UTC)


# ── payments, achievements ──────────────────────────────────────────────────────────────────


def test_payments_add_up_until_the_amount_owed(loaded: Engine) -> None:
    r = act(loaded, record_payment, PAY_A, 300_000, SECRETARY, "cli", utc(2022, 5, 15))
    assert r.state == "pending"
    assert (
        r.note == "đã đóng 300.000 đồng; tổng 300.000 đồng / 500.000 đồng, còn thiếu 200.000 đồng"
    )
    assert step(loaded, PAY_A).paid_amount == 300_000
    r = act(
        loaded, record_payment, PAY_A, 200_000, SECRETARY, "cli", utc(2022, 5, 22), "chuyển khoản"
    )
    assert r.state == "done"
    assert r.note == "đã đóng 200.000 đồng; tổng 500.000 đồng / 500.000 đồng, đủ: chuyển khoản"
    row = step(loaded, PAY_A)
    assert (row.paid_amount, row.done_at, row.next_action_at) == (500_000, utc(2022, 5, 22), None)
    assert status(facts(row), utc(2022, 6, 1)).label == "xong trễ 3 ngày"
    assert [(a[0], a[3]) for a in audit(loaded, PAY_A)] == [
        ("payment", "pending"),
        ("payment", "done"),
    ]
    with pytest.raises(ActionNotAllowed, match="«đã xong»"):
        act(loaded, record_payment, PAY_A, 1_000, SECRETARY, "cli", T)


def test_achievement_is_a_total_reported(loaded: Engine) -> None:
    r = act(loaded, record_achievement, GOAL, 12, SECRETARY, "cli", utc(2022, 9, 1))
    assert r.state == "pending"
    assert r.note == "đạt 12 đoàn viên / chỉ tiêu 20 đoàn viên, chưa đạt chỉ tiêu"
    r = act(loaded, record_achievement, GOAL, 21.5, SECRETARY, "cli", utc(2022, 11, 1))
    assert r.state == "done"
    assert r.note == "đạt 21.5 đoàn viên / chỉ tiêu 20 đoàn viên, đạt chỉ tiêu"
    assert step(loaded, GOAL).achieved_quantity == 21.5


def test_a_plan_date_later_than_the_extension_wins(loaded: Engine) -> None:
    act(loaded, extend, MAY, date(2022, 6, 4), "chờ số liệu", "thư ký", "cli", T)
    later = replace(facts(step(loaded, MAY)), due_at=utc(2022, 6, 10, 17))  # the plan moved it
    assert later.deadline == utc(2022, 6, 10, 17) and later.effective_rungs == later.rungs


# ── with the tick and a reload ──────────────────────────────────────────────────────────────


def escalations(engine: Engine, step_id: str) -> list[tuple[int, str]]:
    """The rungs queued for the step: its own rows, and its place in grouped ones."""
    with read_session(engine) as s:
        rows = s.execute(
            select(outbox_table)
            .where(outbox_table.c.purpose.in_(("escalation", "escalation_group")))
            .order_by(outbox_table.c.id)
        ).all()
    return [
        (r.level, m["moment"])
        for r in rows
        for m in (r.payload["steps"] if r.purpose == "escalation_group" else [r.payload])
        if m["step_id"] == step_id
    ]


def test_an_extension_delays_escalation_in_the_tick(loaded: Engine) -> None:
    act(loaded, extend, MAY, date(2022, 6, 4), "chờ số liệu", "thư ký", "cli", T)
    with write_session(loaded) as s:
        tick(s, utc(2022, 5, 27), channel="test")  # late without the extension: nothing
    assert escalations(loaded, MAY) == []
    with write_session(loaded) as s:
        tick(s, utc(2022, 6, 5, 2), channel="test")  # a day after the new date: rung 1
    assert escalations(loaded, MAY) == [(1, "2022-06-05T01:00:00+00:00")]
    with read_session(loaded) as s:
        payload = (
            s.execute(select(outbox_table.c.payload).where(outbox_table.c.step_id == MAY))
            .scalars()
            .all()[-1]
        )
    assert (payload["due_day"], payload["status"]) == (
        "04/06/2022",
        "quá hạn 1 ngày, đã báo lên mức 1",
    )
    assert step(loaded, MAY).next_action_at == datetime(2022, 6, 11, 1, tzinfo=UTC)


def test_a_reload_keeps_extensions_payments_and_excuses(loaded: Engine, plans: Path) -> None:
    act(loaded, extend, MAY, date(2022, 6, 4), "chờ số liệu", "thư ký", "cli", T)
    act(loaded, record_payment, PAY_A, 100_000, SECRETARY, "cli", T)
    act(loaded, excuse, "thu-nghiem/bao-cao-thang/2022-06/doan-b", "sáp nhập", APPROVER, "cli", T)
    load(loaded, plans, now=utc(2022, 5, 21))  # same file: nothing written
    plans.write_text(
        (PLAN + TARGET)
        .replace("title: Báo cáo tháng", "title: Báo cáo tháng (mới)")
        .replace("title: Đóng góp kinh phí", "title: Đóng góp kinh phí tổ chức"),
        encoding="utf-8",
    )
    result = load(loaded, plans, now=utc(2022, 5, 21))
    assert result.changed > 0
    rows = steps_by_id(loaded)
    assert rows[MAY].title == "Báo cáo tháng (mới)"
    assert rows[MAY].extended_until == datetime(2022, 6, 4, 17, tzinfo=UTC)
    assert (rows[PAY_A].paid_amount, rows[PAY_A].state) == (100_000, "pending")
    excused = rows["thu-nghiem/bao-cao-thang/2022-06/doan-b"]
    assert (excused.state, excused.excuse_reason) == ("excused", "sáp nhập")
    with write_session(loaded) as s:
        tick(s, utc(2022, 5, 27), channel="test")
    assert escalations(loaded, MAY) == []  # still extended


def test_a_reload_after_the_old_rungs_still_escalates_an_extended_step(
    loaded: Engine, plans: Path
) -> None:
    act(loaded, extend, MAY, date(2022, 6, 4), "chờ số liệu", "thư ký", "cli", T)
    plans.write_text(
        (PLAN + TARGET).replace("title: Báo cáo tháng", "title: Báo cáo tháng (mới)"),
        encoding="utf-8",
    )
    load(loaded, plans, now=utc(2022, 6, 3))  # every rung of the plan's own date has passed
    assert step(loaded, MAY).next_action_at == datetime(2022, 6, 5, 1, tzinfo=UTC)
    with write_session(loaded) as s:
        tick(s, utc(2022, 6, 5, 2), channel="test")
    assert escalations(loaded, MAY) == [(1, "2022-06-05T01:00:00+00:00")]


# ── the command line ────────────────────────────────────────────────────────────────────────


@pytest.fixture
def cli(kehoach_bin: str, plans: Path, tmp_path: Path) -> Callable[..., Any]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert run(kehoach_bin, "db", "upgrade", cwd=tmp_path, url=url).returncode == 0
    res = run(kehoach_bin, "load", "plans", cwd=tmp_path, url=url)
    assert res.returncode == 0, res.stderr
    return lambda *args: run(kehoach_bin, *args, cwd=tmp_path, url=url)


def counts(tmp_path: Path) -> tuple[int, int]:
    with sqlite3.connect(tmp_path / "cli.sqlite3") as conn:
        return (
            conn.execute("SELECT count(*) FROM transitions").fetchone()[0],
            conn.execute("SELECT sum(revision) FROM steps").fetchone()[0],
        )


def test_cli_round_trip(cli: Callable[..., Any], tmp_path: Path) -> None:
    now = ("--now", "2022-05-20T10:00")
    res = cli("extend", MAY, "--until", "4/6/2022", "--reason", "chờ số liệu", *now)
    assert res.returncode == 0, res.stderr
    assert "cho gia hạn đến 04/06/2022 (hạn trước 25/05/2022)" in res.stdout
    res = cli("overdue", "--now", "2022-05-28T10:00")
    assert MAY not in res.stdout
    res = cli("agenda", "--unit", "doan-a", "--days", "10", "--now", "2022-05-28T10:00")
    assert MAY in res.stdout and "(gia hạn đến 04/06/2022)" in res.stdout
    res = cli("pay", PAY_A, "300.000", "đồng", *now)
    assert res.returncode == 0, res.stderr
    assert "còn thiếu 200.000 đồng" in res.stdout
    res = cli("pay", PAY_A, "200.000 đồng", *now)
    assert "đủ" in res.stdout
    res = cli("achieve", GOAL, "20", *now)
    assert res.returncode == 0 and "đạt chỉ tiêu" in res.stdout
    res = cli("excuse", "thu-nghiem/dong-gop/1/doan-b", "--reason", "miễn đóng", *now)
    assert res.returncode == 0 and "Đã miễn" in res.stdout
    res = cli(
        "reopen", "thu-nghiem/dong-gop/1/doan-b", "--reason", "nhầm", "--by", "Quận Đoàn", *now
    )
    assert res.returncode == 0 and "Đã mở lại" in res.stdout
    with sqlite3.connect(tmp_path / "cli.sqlite3") as conn:
        rows = conn.execute(
            "SELECT event, actor, channel FROM transitions WHERE event != 'created' ORDER BY id"
        ).fetchall()
    assert rows == [
        ("extension_requested", "thư ký", "cli"),
        ("extension_granted", "thư ký", "cli"),
        ("payment", "thư ký", "cli"),
        ("payment", "thư ký", "cli"),
        ("achievement", "thư ký", "cli"),
        ("excused", "thư ký", "cli"),
        ("reopened", "Quận Đoàn", "cli"),
    ]


CLI_REFUSED = [
    (("extend", "khong-co", "--until", "4/6/2022", "--reason", "x"), "không có bước «khong-co»"),
    (("extend", MAY, "--until", "31/2/2022", "--reason", "x"), "ngày 31/02/2022 không tồn tại"),
    (("extend", MAY, "--until", "1/5/2022", "--reason", "x"), "không sau hạn hiện tại"),
    (("extend", EVENT, "--until", "1/6/2022", "--reason", "x"), "là một sự kiện"),
    (("reopen", MAY, "--reason", "x"), "không thể mở lại"),
    (("pay", MAY, "500.000 đồng"), "không phải một khoản đóng góp"),
    (("pay", PAY_A, "năm trăm"), "số tiền không hợp lệ"),
    (("achieve", GOAL, "mười"), "«mười» không phải một số lượng"),
    (("excuse", MAY, "--reason", " "), "cần nêu lý do"),
]


@pytest.mark.parametrize(("args", "message"), CLI_REFUSED, ids=[m for _, m in CLI_REFUSED])
def test_cli_refusals_exit_1_and_write_nothing(
    cli: Callable[..., Any], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    before = counts(tmp_path)
    res = cli(*args, "--now", "2022-05-20T10:00")
    assert res.returncode == 1, res.stdout + res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert counts(tmp_path) == before
