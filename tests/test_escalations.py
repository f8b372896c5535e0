"""Escalations that fall due together are grouped (issue 11, item 8), and the status says
what was sent up the ladder apart from what is due (item 9): a plan whose 300 units all miss
the same deadline, its issuer's secretary linked to a chat of the loopback Bot API and reached
by e-mail on a loopback SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kehoach import store
from kehoach.chat.links import set_contact
from kehoach.store.models import outbox_table, steps_table
from kehoach.store.people import add_person
from kehoach.store.tick import COLUMNS
from notifiers.base import Notification, Recipient
from notifiers.email import EmailChannel
from notifiers.telegram import Limiter, TelegramChannel
from notifiers.telegram_render import LIMIT, render, utf16_len
from tests.conftest import NOW, load
from tests.fake_bot_api import FakeBotAPI, parse_html
from tests.test_email import SENDER, Mailbox, Server
from workflows.lifecycle import Phase, status

TOKEN = "123456:TEST-token"
UNITS = 300
CHAT = 4242
#: «Báo cáo» due 25/5/2022; rung 1 (the unit) the day after, rung 3 (the issuer) a week after.
LATE = datetime(2022, 6, 3, 2, tzinfo=UTC)
TITLE = "Báo cáo kết quả <triển khai> & «tổng hợp» " + "nội dung rất dài " * 20


def plan_text() -> str:
    units = "\n".join(
        f"  - id: doan-{i:03d}\n    name: Đoàn phường số {i:03d} <&>" for i in range(UNITS)
    )
    return f"""\
id: nhieu-don-vi
title: Kế hoạch có {UNITS} đơn vị
issuer: quan-doan
period: {{from: 1/1/2022, to: 31/12/2022}}
units:
  - id: quan-doan
    name: Ban Thường vụ Quận Đoàn
{units}
obligations:
  - id: bao-cao
    kind: deadline
    title: "{TITLE}"
    when: ngày 25/5/2022
    responsible: [{", ".join(f"doan-{i:03d}" for i in range(UNITS))}]
"""


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def mail() -> Iterator[Server]:
    server = Server(Mailbox()).start()
    yield server
    server.stop()


@pytest.fixture
def late(db: Engine, tmp_path: Path) -> Engine:
    return prepare(db, tmp_path, ["telegram", "email"])


def prepare(db: Engine, tmp_path: Path, channels: list[str]) -> Engine:
    """The plan loaded on 1/4/2022, the issuer's secretary linked on Telegram, with an e-mail
    address, and the tick a week after the deadline with `channels` running: every unit's
    rung 1 and the issuer's rung 3 are due."""
    path = tmp_path / "plans" / "nhieu-don-vi.yaml"
    path.parent.mkdir()
    path.write_text(plan_text(), encoding="utf-8")
    load(db, path, NOW)
    with store.write_session(db) as s:
        pid = add_person(s, "Chị Thư Ký", "quan-doan", NOW, email="thuky@example.vn")
        set_contact(s, pid, "telegram", str(CHAT), NOW)
        result = store.tick(
            s, LATE, channel="console", channels=channels, batch=128
        )  # the steps in several batches of one tick
    assert result.escalations == 2 * UNITS
    return db


def rows(db: Engine, channel: str) -> list[Any]:
    with store.read_session(db) as s:
        return list(
            s.execute(
                select(outbox_table)
                .where(outbox_table.c.channel == channel)
                .order_by(outbox_table.c.id)
            )
        )


def test_three_hundred_late_steps_are_a_handful_of_complete_telegram_messages(
    late: Engine, api: FakeBotAPI
) -> None:
    [row] = rows(late, "telegram")  # one row for the issuer: plan «nhieu-don-vi», rung 3
    assert (row.purpose, row.level, row.step_id, row.unit_id) == (
        "escalation_group",
        3,
        None,
        "quan-doan",
    )
    assert row.payload["count"] == UNITS == len({s["step_id"] for s in row.payload["steps"]})
    channel = TelegramChannel(TOKEN, api.base_url, limiter=Limiter(None), timeout=5.0)
    channel.public_url = "https://kehoach.example.vn/"
    try:
        result = store.dispatch(lambda: store.write_session(late), channel, LATE, limit=100)
    finally:
        channel.close()
    assert (result.sent, result.failed, result.unknown) == (1, 0, 0)
    messages = [m for m in api.sent() if int(m["chat_id"]) == CHAT]
    assert 2 <= len(messages) <= 8
    listed: list[str] = []
    for i, m in enumerate(messages, 1):
        text = m["text"]
        _shown, error = parse_html(text)
        assert error is None and utf16_len(text) <= LIMIT
        assert text.startswith("📣 <b>Báo trễ hạn, mức 3</b> — gửi Ban Thường vụ Quận Đoàn")
        assert f"{UNITS} việc chưa hoàn thành (phần {i}/{len(messages)}):" in text
        assert text.endswith("https://kehoach.example.vn/qua-han?plan=nhieu-don-vi")
        assert "reply_markup" not in m  # no buttons for 300 steps: the board instead
        # the title once a message (again, "tiếp", when the list goes on), escaped and clipped
        title = text.split("\n")[3]
        assert title.startswith("<b>Báo cáo kết quả &lt;triển khai&gt; &amp; «tổng hợp»")
        assert title.endswith("…</b>" if i == 1 else "…</b> (tiếp)")
        listed += re.findall(
            r"\n• Đoàn phường số (\d{3}) &lt;&amp;&gt; — hạn 25/05/2022, "
            r"quá hạn 9 ngày(?=\n)",
            text,
        )
    assert sorted(listed) == [f"{i:03d}" for i in range(UNITS)]  # every step exactly once


def test_the_same_grouping_reaches_email(db: Engine, tmp_path: Path, mail: Server) -> None:
    late = prepare(db, tmp_path, ["email"])
    [row] = rows(late, "email")
    assert row.purpose == "escalation_group" and row.payload["count"] == UNITS
    channel = EmailChannel(
        "127.0.0.1",
        mail.port,
        security="none",
        sender=SENDER,
        local_hostname="kehoach.test",
        clock=lambda: LATE,
    )
    try:
        result = store.dispatch(lambda: store.write_session(late), channel, LATE, limit=100)
    finally:
        channel.close()
    assert result.sent == 1 and len(mail.mailbox.received) == 1
    msg = mail.mailbox.message(0)
    assert msg["Subject"] == (
        "[Kế hoạch] Báo trễ hạn (mức 3): 300 việc chưa hoàn thành — Kế hoạch có 300 đơn vị"
    )
    text = msg.get_body(("plain",)).get_content()
    assert all(text.count(f"Đoàn phường số {i:03d} <&>:") == 1 for i in range(UNITS))
    assert "http://127.0.0.1:8080/qua-han?plan=nhieu-don-vi" in text
    page = msg.get_body(("html",)).get_content()
    assert page.count("<li>") == UNITS and "&lt;triển khai&gt;" in page


def test_a_single_late_step_keeps_its_own_message_with_buttons() -> None:
    payload = {
        "step_id": "p/s/1/a",
        "plan_id": "p",
        "title": "Báo cáo",
        "kind": "deadline",
        "event": False,
        "unit": "a",
        "unit_name": "Đoàn A",
        "due_at": "2022-05-25T17:00:00+00:00",
        "due_day": "25/05/2022",
        "amount": None,
        "moment": "2022-06-01T01:00:00+00:00",
        "late": False,
        "skipped": 0,
        "status": "quá hạn 7 ngày, đã báo lên mức 3",
        "days_late": 7,
        "recipient_name": "Quận Đoàn",
        "person_name": "Chị Thư Ký",
    }
    [part] = render(
        Notification(
            9, "k", "quan-doan", "escalation", 3, payload, 1, Recipient(1, "Chị Thư Ký", str(CHAT))
        )
    )
    assert part.buttons and "Báo trễ hạn, mức 3" in part.text


# ── what the status says was sent (item 9) ──────────────────────────────────────────────────


def escalated(db: Engine) -> dict[int | None, int]:
    with store.read_session(db) as s:
        counts: dict[int | None, int] = {}
        for (level,) in s.execute(
            select(steps_table.c.escalated_level).where(steps_table.c.plan_id == "nhieu-don-vi")
        ):
            counts[level] = counts.get(level, 0) + 1
        return counts


def labels(db: Engine, now: datetime) -> set[str]:
    with store.read_session(db) as s:
        return {
            status(store.facts(r), now).label
            for r in s.execute(
                select(*(steps_table.c[c] for c in COLUMNS)).where(
                    steps_table.c.plan_id == "nhieu-don-vi"
                )
            )
        }


def test_the_status_says_what_was_sent_and_what_is_due(late: Engine, api: FakeBotAPI) -> None:
    # the tick decided rungs 1 and 3, nothing was sent yet: due, not "đã báo"
    assert escalated(late) == {None: UNITS}
    assert labels(late, LATE) == {"quá hạn 9 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 3"}
    # rung 1 (to each unit, on the console: nobody of theirs is reachable) is delivered
    console = list(rows(late, "console"))
    assert len(console) == UNITS and {r.purpose for r in console} == {"escalation"}
    from notifiers.testing import RecordingChannel

    recorder = RecordingChannel("console")
    store.dispatch(lambda: store.write_session(late), recorder, LATE, limit=1000)
    assert escalated(late) == {1: UNITS}
    assert labels(late, LATE) == {"quá hạn 9 ngày, đã báo lên mức 1, đến lượt báo mức 3"}
    # the issuer's grouped rung 3 is delivered: every step of the list says so
    channel = TelegramChannel(TOKEN, api.base_url, limiter=Limiter(None), timeout=5.0)
    try:
        store.dispatch(lambda: store.write_session(late), channel, LATE, limit=100)
    finally:
        channel.close()
    assert escalated(late) == {3: UNITS}
    assert labels(late, LATE) == {"quá hạn 9 ngày, đã báo lên mức 3"}
    with store.read_session(late) as s:
        row = s.execute(select(*(steps_table.c[c] for c in COLUMNS)).limit(1)).one()
    assert status(store.facts(row), LATE).phase == Phase.ESCALATED


@pytest.mark.parametrize("limit", [330, 400, 700, LIMIT], ids=lambda n: f"limit-{n}")
def test_a_split_list_keeps_each_title_with_its_steps(limit: int) -> None:
    steps = [
        {
            "step_id": f"s{i}",
            "title": "Báo cáo tháng" if i < 7 else "Đóng góp",
            "unit_name": f"Đoàn phường {i}",
            "due_day": "25/05/2022",
            "days_late": 3,
            "status": "quá hạn 3 ngày",
            "late": False,
            "moment": "m",
            "key": f"k{i}",
        }
        for i in range(12)
    ]
    payload = {
        "plan_id": "p",
        "plan_title": "Kế hoạch thử",
        "level": 3,
        "count": 12,
        "recipient_name": "Quận Đoàn",
        "person_name": "Chị A",
        "late": False,
        "moment": "m",
        "board_path": "/qua-han?plan=p",
        "steps": steps,
    }
    parts = render(
        Notification(
            1, "k", "q", "escalation_group", 3, payload, 1, Recipient(1, "Chị A", str(CHAT))
        ),
        limit=limit,
    )
    units: list[str] = []
    for p in parts:
        assert utf16_len(p.text) <= limit and parse_html(p.text)[1] is None
        lines = p.text.split("\n")[3:-2]
        assert lines[0].startswith("<b>") and not lines[-1].startswith("<b>")  # no orphan title
        units += [line.split(" — ")[0][2:] for line in lines if line.startswith("• ")]
    assert units == [f"Đoàn phường {i}" for i in range(12)]
    assert (len(parts) == 1) == (limit == LIMIT)


def test_the_migration_fills_what_was_sent_before_it(db: Engine, plan_file: Path) -> None:
    """Rows sent before 0007 (one per step) fill `escalated_level` at the upgrade."""
    from alembic import command

    from kehoach.store.schema import alembic_config, upgrade
    from notifiers.testing import RecordingChannel

    load(db, plan_file)
    with store.write_session(db) as s:  # April's report: rung 1 to each unit, 3 to the issuer
        store.tick(s, datetime(2022, 5, 18, 2, tzinfo=UTC), channel="test")
    store.dispatch(
        lambda: store.write_session(db),
        RecordingChannel("test"),
        datetime(2022, 5, 18, 2, tzinfo=UTC),
        limit=100,
    )
    april = ["thu-nghiem/bao-cao-thang/2022-04/doan-a", "thu-nghiem/bao-cao-thang/2022-04/doan-b"]

    def levels() -> list[int | None]:
        with store.read_session(db) as s:
            return list(
                s.execute(
                    select(steps_table.c.escalated_level)
                    .where(steps_table.c.id.in_(april))
                    .order_by(steps_table.c.id)
                ).scalars()
            )

    assert levels() == [3, 3]  # the issuer's grouped rung 3 reached them
    config = alembic_config()
    with db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")  # before 0007_outbox
    upgrade(db)
    assert levels() == [1, 1]  # from the rows of one step each (no grouped rows before 0007)
