"""The Zalo bot over real HTTP: kehoach/chat/zalo_bot.py long-polls the loopback stand-in of
tests/zalo_api.py (one update per getUpdates), which plays the users; reminders reach them
through store.dispatch and the Zalo channel. Linking with a typed code, the numbered replies
1/2/3 (done, the extension round trip to the approver and back, details), the commands, a
blocked user's reminder going to their next contact, and the webhook on the board's server
(its secret header checked)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from kehoach import store
from kehoach.chat.links import create_invite, set_contact
from kehoach.chat.zalo_bot import HELP, ZaloBot
from kehoach.store.models import contacts_table, outbox_table
from kehoach.store.people import add_person
from notifiers.zalo import Limiter, ZaloAPI, ZaloChannel
from notifiers.zalo_render import DECISION_REPLIES, STEP_REPLIES
from tests.conftest import NOW, transitions
from tests.test_telegram_bot import MAY_18, Running, people, post_update, step, wait_for
from tests.zalo_api import SECRET_HEADER, TOKEN, FakeZaloAPI

A, B, BOSS = "za-ba", "zb-tu", "zq-nam"  # Zalo users: Đoàn phường A, B, Quận Đoàn (issuer)


@pytest.fixture
def world(db: Engine, plan_file: Path) -> dict[str, int]:
    return people(db, plan_file, "zalo", (A, B, BOSS))


def zalo_bot(db: Engine, zalo_api: FakeZaloAPI, **kwargs: Any) -> ZaloBot:
    return ZaloBot(
        db,
        ZaloAPI(TOKEN, zalo_api.base_url),
        now=lambda: MAY_18,
        limiter=Limiter(None),
        channels=["zalo"],
        poll_timeout=1,
        public_url="https://kh.example.vn",
        **kwargs,
    )


@pytest.fixture
def bot(db: Engine, zalo_api: FakeZaloAPI) -> Iterator[Running]:
    running = Running(zalo_bot(db, zalo_api))
    wait_for(lambda: zalo_api.calls_of("getUpdates"), "the bot to poll")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def channel(zalo_api: FakeZaloAPI) -> Iterator[ZaloChannel]:
    sender = ZaloChannel(TOKEN, zalo_api.base_url, limiter=Limiter(None))
    try:
        yield sender
    finally:
        sender.close()


def said(zalo_api: FakeZaloAPI, chat: str, *, after: int = 0) -> list[str]:
    return zalo_api.texts_to(chat)[after:]


def reply(zalo_api: FakeZaloAPI, chat: str, text: str, contains: str) -> str:
    """Write `text` in `chat`; the bot's first answer containing `contains`."""
    before = len(said(zalo_api, chat))
    zalo_api.message(chat, text)
    return str(
        wait_for(
            lambda: next((t for t in said(zalo_api, chat, after=before) if contains in t), None),
            f"«{contains}» after {text}",
        )
    )


def deliver(db: Engine, channel: ZaloChannel, **kwargs: Any) -> store.DispatchResult:
    return store.dispatch(lambda: store.write_session(db), channel, MAY_18, **kwargs)


def remind(db: Engine, channel: ZaloChannel) -> Any:
    """Tick at MAY_18 and send the reminders on Zalo: the last one sent to Anh Ba (the one a
    reply answers)."""
    with store.write_session(db) as s:
        store.tick(s, MAY_18, channels=["zalo"])
    deliver(db, channel)
    with store.read_session(db) as s:
        return s.execute(
            select(outbox_table)
            .where(
                outbox_table.c.unit_id == "doan-a",
                outbox_table.c.channel == "zalo",
                outbox_table.c.state == "sent",
                outbox_table.c.step_id.is_not(None),
            )
            .order_by(outbox_table.c.id.desc())
            .limit(1)
        ).one()


def contact(db: Engine, pid: int, channel: str = "zalo") -> Any:
    with store.read_session(db) as s:
        return s.execute(
            select(contacts_table).where(
                contacts_table.c.person_id == pid, contacts_table.c.channel == channel
            )
        ).one_or_none()


# ── linking ─────────────────────────────────────────────────────────────────────────────────


def test_a_code_typed_in_the_chat_links_it_once(
    db: Engine, world: dict[str, int], bot: Running, zalo_api: FakeZaloAPI
) -> None:
    with store.write_session(db) as s:
        pid = add_person(s, "Bác Sáu", "doan-a", NOW)
        code = create_invite(s, pid, "thư ký", MAY_18 - timedelta(days=1))
    assert "chưa liên kết" in reply(zalo_api, "z-sau", "xin chào", "kehoach invite --channel zalo")
    assert "Bác Sáu" in reply(zalo_api, "z-sau", code, "Đã liên kết")
    linked = contact(db, pid)
    assert linked.address == "z-sau" and linked.linked_at == MAY_18
    assert "đã được dùng" in reply(zalo_api, "z-khac", f"/start {code}", "Mã liên kết")
    assert contact(db, pid).address == "z-sau"
    assert "/viec" in reply(zalo_api, "z-sau", "/help", "/quahan")


# ── the numbered replies ────────────────────────────────────────────────────────────────────


def test_a_reminder_ends_with_the_replies_and_1_marks_its_step_done(
    db: Engine, world: dict[str, int], bot: Running, channel: ZaloChannel, zalo_api: FakeZaloAPI
) -> None:
    last = remind(db, channel)
    assert said(zalo_api, A) and all(t.endswith(STEP_REPLIES) for t in said(zalo_api, A))
    assert said(zalo_api, A)[-1].startswith("🔔") or "Hạn" in said(zalo_api, A)[-1]
    text = reply(zalo_api, A, "1", "Đã hoàn thành")
    assert "Anh Ba" in text and "<b>" not in text
    assert step(db, last.step_id).state == "done"
    done = transitions(db, last.step_id)[-1]
    assert (done.event, done.actor, done.channel) == ("done", "Anh Ba", "zalo")
    assert "đã xong" in reply(zalo_api, A, "1", "Không thể")  # again: refused, nothing changes


def test_someone_else_cannot_answer_for_a_unit_and_3_shows_details(
    db: Engine, world: dict[str, int], bot: Running, channel: ZaloChannel, zalo_api: FakeZaloAPI
) -> None:
    last = remind(db, channel)
    assert "Chưa có tin nhắc" in reply(zalo_api, BOSS, "1", "Chưa có tin nhắc")
    details = reply(zalo_api, A, "3", "Tình trạng")
    assert "Người duyệt gia hạn: Ban Thường vụ Quận Đoàn" in details
    assert step(db, last.step_id).state == "pending"
    assert "Gõ 1, 2 hoặc 3" in reply(zalo_api, A, "chào bot", "Gõ 1, 2 hoặc 3")


def test_2_asks_for_an_extension_the_approver_grants_it_with_1(
    db: Engine, world: dict[str, int], bot: Running, channel: ZaloChannel, zalo_api: FakeZaloAPI
) -> None:
    last = remind(db, channel)
    if step(db, last.step_id).kind == "event":
        pytest.skip("the plan's last reminder is an event")  # pragma: no cover
    reply(zalo_api, A, "2", "ngày hạn mới")
    assert "không phải một ngày" in reply(zalo_api, A, "hôm nào đó", "không phải một ngày")
    reply(zalo_api, A, "30/06/2022", "lý do")
    text = reply(zalo_api, A, "Chờ số liệu <phường>", "Đã gửi đề nghị")
    assert "Ban Thường vụ Quận Đoàn" in text and "<b>" not in text
    assert step(db, last.step_id).extension_reason == "Chờ số liệu <phường>"

    deliver(db, channel)  # the request reaches the approver on Zalo
    asked = said(zalo_api, BOSS)[-1]
    assert "Đề nghị gia hạn" in asked and "Chờ số liệu <phường>" in asked
    assert asked.endswith(DECISION_REPLIES)
    reply(zalo_api, BOSS, "1", "Đã đồng ý")
    granted = step(db, last.step_id)
    assert granted.extended_until.astimezone(UTC) == datetime(2022, 6, 30, 17, tzinfo=UTC)
    assert transitions(db, last.step_id)[-1].event == "extension_granted"
    deliver(db, channel)  # the decision reaches the unit
    assert "Được gia hạn" in said(zalo_api, A)[-1]


def test_2_from_the_approver_refuses_with_a_reason(
    db: Engine, world: dict[str, int], bot: Running, channel: ZaloChannel, zalo_api: FakeZaloAPI
) -> None:
    last = remind(db, channel)
    reply(zalo_api, A, "2", "ngày hạn mới")
    reply(zalo_api, A, "30/06/2022", "lý do")
    reply(zalo_api, A, "bận", "Đã gửi đề nghị")
    deliver(db, channel)
    reply(zalo_api, BOSS, "2", "lý do từ chối")
    reply(zalo_api, BOSS, "Cần nộp đúng hạn", "Đã từ chối")
    refused = step(db, last.step_id)
    assert refused.extended_until is None and refused.extension_requested_at is None
    assert "Cần nộp đúng hạn" in transitions(db, last.step_id)[-1].note


# ── commands ────────────────────────────────────────────────────────────────────────────────


def test_the_commands_of_the_telegram_bot(
    db: Engine, world: dict[str, int], bot: Running, zalo_api: FakeZaloAPI
) -> None:
    text = reply(zalo_api, A, "/viec", "Việc cần làm")
    assert "Báo cáo tháng" in text and "Đoàn phường B" not in text and "<b>" not in text
    assert "Việc quá hạn" in reply(zalo_api, A, "/quahan", "Việc quá hạn")
    assert "https://kh.example.vn/lich/" in reply(zalo_api, A, "/lich", "Lịch của bạn")
    assert "Không có lệnh này" in reply(zalo_api, A, "/khongco", "Không có lệnh")
    assert HELP.splitlines()[0] in reply(zalo_api, A, "/help", "/viec")
    assert "Đã hủy liên kết của Anh Ba" in reply(zalo_api, A, "/huy", "hủy liên kết")
    assert contact(db, world["Anh Ba"]) is None
    assert "chưa liên kết" in reply(zalo_api, A, "/viec", "chưa liên kết")


def test_a_person_who_prefers_zalo_gets_reminders_there(db: Engine, world: dict[str, int]) -> None:
    from kehoach.store.people import prefer

    with store.write_session(db) as s:
        set_contact(s, world["Anh Ba"], "telegram", "4201", NOW)  # Telegram comes first
        prefer(s, world["Anh Ba"], "zalo")
        store.tick(s, MAY_18, channels=["telegram", "zalo"])
    with store.read_session(db) as s:
        used = set(
            s.execute(
                select(outbox_table.c.channel).where(outbox_table.c.person_id == world["Anh Ba"])
            ).scalars()
        )
    assert used == {"zalo"}


# ── a blocked user ──────────────────────────────────────────────────────────────────────────


def test_a_user_who_blocked_the_bot_gets_the_reminder_on_their_next_contact(
    db: Engine, world: dict[str, int], channel: ZaloChannel, zalo_api: FakeZaloAPI
) -> None:
    with store.write_session(db) as s:
        store.tick(s, MAY_18, channels=["zalo"])  # Zalo first, Telegram linked since
        set_contact(s, world["Anh Ba"], "telegram", "4201", NOW)
    zalo_api.block(A)
    result = deliver(db, channel, fallbacks=("zalo", "telegram"))
    assert result.failed >= 1
    lost = contact(db, world["Anh Ba"])
    assert lost.lost_at == MAY_18 and "chặn bot" in lost.lost_reason
    with store.read_session(db) as s:
        rows = s.execute(
            select(outbox_table).where(outbox_table.c.person_id == world["Anh Ba"])
        ).all()
    failed = [r for r in rows if r.channel == "zalo" and r.state == "failed"]
    moved = {r.idempotency_key for r in rows if r.channel == "telegram"}
    assert failed and {f"{r.idempotency_key}|telegram" for r in failed} <= moved
    assert not zalo_api.texts_to(A)  # nothing reached the blocked chat


# ── the webhook on the board ────────────────────────────────────────────────────────────────


def test_the_webhook_route_checks_the_secret_then_answers(
    db: Engine, world: dict[str, int], zalo_api: FakeZaloAPI
) -> None:
    from kehoach.web.app import create_app
    from kehoach.web.server import background

    settings = {
        "KEHOACH_ZALO_TOKEN": TOKEN,
        "KEHOACH_ZALO_BASE_URL": zalo_api.base_url,
        "KEHOACH_ZALO_WEBHOOK_URL": "https://kh.example.vn/zalo/webhook",
        "KEHOACH_ZALO_WEBHOOK_SECRET": "bi-mat-zalo-123",
        "KEHOACH_SECRET_KEY": "k",
    }
    with background(create_app(settings, db, now=lambda: MAY_18)) as base:
        update = zalo_api.message(A, "/help")  # queued (no webhook at the stand-in yet)

        def post(secret: str | None) -> int:
            return post_update(f"{base}/zalo/webhook", update, SECRET_HEADER, secret)

        assert post(None) == 403 and post("sai-ma-bi-mat") == 403
        assert not said(zalo_api, A)  # refused requests did nothing
        assert post("bi-mat-zalo-123") == 200
        wait_for(lambda: said(zalo_api, A), "the answer to a genuine update")
        assert post("bi-mat-zalo-123") == 200  # Zalo delivering it again: answered once
        assert len(said(zalo_api, A)) == 1
        # The bot in webhook mode registers the board's address; Zalo then POSTs there.
        running = Running(
            zalo_bot(
                db, zalo_api, webhook_url=f"{base}/zalo/webhook", webhook_secret="bi-mat-zalo-123"
            )
        )
        try:
            wait_for(lambda: zalo_api.webhook.get("url"), "setWebhook")
            assert zalo_api.webhook["secret_token"] == "bi-mat-zalo-123"
            assert "Việc cần làm" in reply(zalo_api, A, "/viec", "Việc cần làm")
            assert zalo_api.webhook_answers == [200] and not zalo_api.calls_of("getUpdates")
        finally:
            running.close()


def test_an_answer_zalo_refuses_for_a_while_is_sent_again_and_one_it_never_takes_is_not(
    db: Engine, world: dict[str, int], bot: Running, zalo_api: FakeZaloAPI
) -> None:
    """The bot's answers read a failure as the dispatcher does (notifiers.zalo.mapped): a
    429 is waited out and a 5xx tried again a second later, up to ANSWER_ATTEMPTS; a chat
    that blocked the bot is told nothing more (one try)."""
    first_line = HELP.splitlines()[0]
    zalo_api.fail("sendMessage", "429", retry_after=0.2)
    assert first_line in reply(zalo_api, A, "/help", first_line)
    zalo_api.fail("sendMessage", "500")
    assert first_line in reply(zalo_api, A, "/help", first_line)
    tried = [c.status for c in zalo_api.calls_of("sendMessage")]
    assert tried == [429, 200, 500, 200]
    zalo_api.block(B)
    zalo_api.message(B, "/help")
    wait_for(lambda: len(zalo_api.calls_of("sendMessage")) == 5, "the answer to the blocked chat")
    time.sleep(1.5)  # longer than a retry's wait
    assert [c.status for c in zalo_api.calls_of("sendMessage")][4:] == [403]
