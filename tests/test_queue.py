"""Undelivered messages, visible and recoverable (issue 11, item 10): `kehoach outbox
list|retry|drop` run as a subprocess, and the board's «Tin chưa gửi được» page over real
HTTP, on SQLite and PostgreSQL. A tick queues the reminders of 18/5/2022; a channel refuses
one for good (failed) and times out on another (unknown); people look and decide."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from kehoach.store import dispatch, read_session, tick, write_session
from kehoach.store.models import outbox_actions_table, outbox_table, people_table
from kehoach.store.people import add_person
from kehoach.web.app import create_app
from kehoach.web.server import background
from notifiers.base import DeliveryError
from notifiers.testing import RecordingChannel
from tests.conftest import NOW, load, run
from tests.test_web import HASH, csrf_of, log_in

MAY_18 = datetime(2022, 5, 18, 2, tzinfo=UTC)
LATER = datetime(2022, 5, 18, 3, tzinfo=UTC)
REPORT = "thu-nghiem/bao-cao-thang/2022-05/"
PAY = "thu-nghiem/dong-gop/1/"


def rows(engine: Engine) -> dict[str, Any]:
    """The outbox rows by step id."""
    with read_session(engine) as s:
        return {r.step_id: r for r in s.execute(select(outbox_table))}


def audit(engine: Engine) -> list[Any]:
    with read_session(engine) as s:
        return list(s.execute(select(outbox_actions_table).order_by(outbox_actions_table.c.id)))


@pytest.fixture
def queued(db: Engine, plan_file: Path) -> dict[str, int]:
    """Reminders of 18/5 for doan-a and doan-b: doan-a's report failed (refused), doan-b's
    report unknown (a timeout after sending), the contributions sent. Ids by name."""
    load(db, plan_file)
    with write_session(db) as s:
        tick(s, MAY_18, channel="test")
    by_step = rows(db)
    fail, lost = by_step[REPORT + "doan-a"], by_step[REPORT + "doan-b"]
    channel = RecordingChannel(
        "test",
        failures={
            fail.idempotency_key: [DeliveryError("bị từ chối", permanent=True)],
            lost.idempotency_key: [DeliveryError("hết giờ chờ", unknown=True)],
        },
    )
    dispatch(lambda: write_session(db), channel, MAY_18)
    states = {k: r.state for k, r in rows(db).items() if k and "2022-04" not in k}
    assert states == {
        REPORT + "doan-a": "failed",
        REPORT + "doan-b": "unknown",
        PAY + "doan-a": "sent",
        PAY + "doan-b": "sent",
    }
    return {"failed": fail.id, "unknown": lost.id, "sent": by_step[PAY + "doan-a"].id}


# ── the command line ────────────────────────────────────────────────────────────────────────


def test_cli_lists_retries_and_drops_with_an_audit(
    kehoach_bin: str, db_url: str, db: Engine, queued: dict[str, int], tmp_path: Path
) -> None:
    def kehoach(*args: str) -> Any:
        res = run(kehoach_bin, "outbox", *args, cwd=tmp_path, url=db_url)
        assert "Traceback" not in res.stderr
        return res

    res = kehoach("list")
    assert res.returncode == 0, res.stderr
    assert "thất bại" in res.stdout and "không rõ đã đến chưa" in res.stdout
    assert "bị từ chối" in res.stdout and "Báo cáo tháng" in res.stdout and "2 tin." in res.stdout
    assert "Đóng góp" not in res.stdout  # sent
    only_a = kehoach("list", "--unit", "doan-a", "--state", "failed", "--state", "unknown")
    assert "Đoàn phường A" in only_a.stdout and "Đoàn phường B" not in only_a.stdout
    assert "1 tin." in only_a.stdout
    assert "Đóng góp" in kehoach("list", "--unit", "doan-a", "--state", "sent").stdout
    assert "Không có tin nào" in kehoach("list", "--channel", "email").stdout
    assert "Không có tin nào" in kehoach("list", "--plan", "khac").stdout
    assert "2 tin." in kehoach("list", "--plan", "thu-nghiem").stdout
    for args, said in (
        (("list", "--state", "mat"), "trạng thái «mat» không có"),
        (("list", "--limit", "0"), "giới hạn số dòng phải từ 1 đến 10000"),
        (("list", "--limit", "nhiều"), "--limit: «nhiều» không phải một số"),
        (("retry",), "nêu số của các tin, hoặc ít nhất một bộ lọc"),
    ):
        bad = kehoach(*args)
        assert bad.returncode == 2 and said in bad.stderr, bad.stderr

    res = kehoach("retry", str(queued["failed"]), "--by", "Chị Lan", "--now", "2022-05-18T10:00")
    assert res.returncode == 0, res.stderr
    assert f"tin số {queued['failed']} (thất bại): đã đưa lại vào hàng chờ gửi" in res.stdout
    row = rows(db)[REPORT + "doan-a"]
    assert (row.state, row.attempts, row.not_before) == ("pending", 0, LATER)
    [a] = audit(db)
    assert (a.outbox_id, a.actor, a.via, a.action, a.from_state, a.to_state, a.at) == (
        queued["failed"],
        "Chị Lan",
        "cli",
        "retry",
        "failed",
        "pending",
        LATER,
    )
    sent = RecordingChannel("test")
    dispatch(lambda: write_session(db), sent, LATER)
    assert [n.id for n in sent.sent] == [queued["failed"]]  # sent again, once
    assert rows(db)[REPORT + "doan-a"].state == "sent"

    res = kehoach("retry", str(queued["sent"]))  # a sent row is not resent
    assert res.returncode == 1 and f"bỏ qua {queued['sent']}" in res.stdout
    res = kehoach("drop", "--state", "unknown", "--by", "Anh Tú")
    assert res.returncode == 0 and "1 tin đã bỏ (người làm: Anh Tú)" in res.stdout
    assert rows(db)[REPORT + "doan-b"].state == "dropped"
    assert [(a.action, a.from_state, a.to_state, a.actor) for a in audit(db)][1:] == [
        ("drop", "unknown", "dropped", "Anh Tú")
    ]
    assert "Không có tin nào" in kehoach("list").stdout  # nothing undelivered left
    assert "Đoàn phường B" in kehoach("list", "--state", "dropped").stdout
    helped = kehoach("--help")
    assert "Tin chưa gửi được" in helped.stdout and "retry" in helped.stdout


# ── the board ───────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def board(db: Engine, queued: dict[str, int]) -> Any:
    with write_session(db) as s:
        for login, unit, role in (
            ("thuky", "quan-doan", "secretary"),
            ("bithu", "doan-b", "unit_secretary"),
        ):
            add_person(s, login, unit, NOW, board_role=role, login=login)
        s.execute(update(people_table).values(password_hash=HASH))
    app = create_app({"KEHOACH_SECRET_KEY": "khóa thử"}, db, now=lambda: LATER)
    with background(app) as base:
        yield base


def client(base: str, login: str) -> Any:
    import httpx

    c = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    assert log_in(c, login).status_code == 303
    return c


def test_the_board_lists_undelivered_notices_of_the_units_in_scope_and_resends(
    db: Engine, board: str, queued: dict[str, int]
) -> None:
    c = client(board, "thuky")  # the issuer's secretary: both units
    page = c.get("/tin-chua-gui")
    assert page.status_code == 200
    html = page.text
    assert "Tin chưa gửi được" in html and f'value="{queued["failed"]}"' in html
    assert f'value="{queued["unknown"]}"' in html and f'value="{queued["sent"]}"' not in html
    assert "thất bại" in html and "không rõ đã đến chưa" in html and "bị từ chối" in html
    only = c.get("/tin-chua-gui?state=unknown").text
    assert f'value="{queued["failed"]}"' not in only and f'value="{queued["unknown"]}"' in only
    assert c.get("/tin-chua-gui?state=sent").status_code == 422

    b = client(board, "bithu")  # doan-b's secretary: doan-b's notices only
    mine = b.get("/tin-chua-gui").text
    assert f'value="{queued["unknown"]}"' in mine and f'value="{queued["failed"]}"' not in mine
    token = csrf_of(mine)
    r = b.post("/tin-chua-gui/gui-lai", data={"csrf": token, "id": [str(queued["failed"])]})
    assert r.status_code == 303  # another unit's notice: not resent
    assert rows(db)[REPORT + "doan-a"].state == "failed" and audit(db) == []
    assert "0 tin" in b.get("/tin-chua-gui").text

    r = b.post("/tin-chua-gui/gui-lai", data={"id": [str(queued["unknown"])]})  # no CSRF
    assert r.status_code == 403 and rows(db)[REPORT + "doan-b"].state == "unknown"

    token = csrf_of(c.get("/tin-chua-gui").text)
    r = c.post(
        "/tin-chua-gui/gui-lai",
        data={"csrf": token, "id": [str(queued["failed"]), str(queued["unknown"])]},
    )
    assert r.status_code == 303 and r.headers["location"] == "/tin-chua-gui"
    after = c.get("/tin-chua-gui").text
    assert "Đã đưa 2 tin vào hàng chờ gửi lại." in after
    assert "Không có tin nào chưa gửi được" in after
    assert {r.state for r in rows(db).values()} == {"pending", "sent"}
    assert [(a.actor, a.via, a.action, a.from_state) for a in audit(db)] == [
        ("thuky", "web", "retry", "failed"),
        ("thuky", "web", "retry", "unknown"),
    ]
    bad = c.post("/tin-chua-gui/gui-lai", data={"csrf": token, "id": ["mười"]})
    assert bad.status_code == 422 and "Số của tin phải là số nguyên" in bad.text
