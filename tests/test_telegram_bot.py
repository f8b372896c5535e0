"""The bot over real HTTP: the `Application` of kehoach/chat/telegram_bot.py long-polls the
loopback Bot API of tests/fake_bot_api.py, which plays the users (messages, button presses); the
store is SQLite or PostgreSQL. Linking, every button, every command, refusals, the extension
round trip (request → approver → grant / refuse → the step in the database)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine, select, update

from kehoach import store
from kehoach.chat.links import code_hash, create_invite, set_contact
from kehoach.chat.telegram_bot import COMMANDS, KehoachBot
from kehoach.store.models import contacts_table, invites_table, outbox_table, steps_table
from kehoach.store.people import add_person
from notifiers.rendering import clip
from notifiers.telegram import Limiter, TelegramChannel
from tests.conftest import NOW, load, transitions
from tests.fake_bot_api import FakeBotAPI

TOKEN = "123456:TEST-token"
MAY_18 = datetime(2022, 5, 18, 2, tzinfo=UTC)
STEP = "thu-nghiem/bao-cao-thang/2022-05/doan-a"
A, B, BOSS = 4201, 4202, 4300  # chats: Đoàn phường A, Đoàn phường B, Quận Đoàn (the issuer)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Bot(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class Running:
    """A bot (Telegram's, Zalo's) on its own asyncio loop in a thread, as `kehoach serve` runs
    it."""

    def __init__(self, bot: Bot):
        self.bot, self.stop = bot, asyncio.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(bot.run(self.stop),), daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        assert not self.thread.is_alive()


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(token=TOKEN).start()
    yield server
    server.stop()


def people(
    db: Engine, plan_file: Path, channel: str, chats: tuple[Any, Any, Any]
) -> dict[str, int]:
    """The test plan; people of doan-a, doan-b and the issuer quan-doan, linked on `channel`
    to `chats` (in that order)."""
    load(db, plan_file)
    ids = {}
    with store.write_session(db) as s:
        for (key, unit, role), chat in zip(
            (
                ("Anh Ba", "doan-a", "member"),
                ("Chị Tư", "doan-b", "member"),
                ("Cô Năm", "quan-doan", "unit_secretary"),
            ),
            chats,
            strict=True,
        ):
            ids[key] = add_person(s, key, unit, NOW, board_role=role)
            set_contact(s, ids[key], channel, str(chat), NOW)
    return ids


@pytest.fixture
def world(db: Engine, plan_file: Path) -> dict[str, int]:
    return people(db, plan_file, "telegram", (A, B, BOSS))


@pytest.fixture
def bot(db: Engine, api: FakeBotAPI) -> Iterator[Running]:
    running = Running(
        KehoachBot(
            db,
            TOKEN,
            base_url=api.base_url,
            now=lambda: MAY_18,
            channels=["telegram"],
            poll_timeout=1,
            public_url="https://kh.example.vn",
        )
    )
    wait_for(lambda: api.calls_of("getUpdates"), "the bot to poll")
    yield running
    running.close()


@pytest.fixture
def channel(api: FakeBotAPI) -> Iterator[TelegramChannel]:
    ch = TelegramChannel(TOKEN, api.base_url, limiter=Limiter(None))
    yield ch
    ch.close()


def said(api: FakeBotAPI, chat: int, *, after: int = 0) -> list[str]:
    """The texts the bot sent to `chat`, from its `after`-th message on."""
    return [m["text"] for m in api.sent() if int(m["chat_id"]) == chat][after:]


def reply(api: FakeBotAPI, chat: int, text: str, contains: str) -> str:
    """Send `text` in `chat` and wait for the bot's answer containing `contains`."""
    before = len(said(api, chat))
    api.message(chat, text)
    return str(
        wait_for(
            lambda: next((t for t in said(api, chat, after=before) if contains in t), None),
            f"«{contains}» after {text}",
        )
    )


def step(db: Engine, step_id: str = STEP) -> Any:
    with store.read_session(db) as s:
        return s.execute(select(steps_table).where(steps_table.c.id == step_id)).one()


def chat_of(db: Engine, pid: int) -> Any:
    """The person's Telegram contact row, or None."""
    with store.read_session(db) as s:
        return s.execute(
            select(contacts_table).where(
                contacts_table.c.person_id == pid, contacts_table.c.channel == "telegram"
            )
        ).one_or_none()


def deliver(db: Engine, channel: TelegramChannel, now: datetime = MAY_18) -> None:
    store.dispatch(lambda: store.write_session(db), channel, now)


def reminders(db: Engine, channel: TelegramChannel) -> dict[str, int]:
    """Tick at MAY_18 (to the linked chats) and send: step id → its outbox row for chat A."""
    with store.write_session(db) as s:
        store.tick(s, MAY_18, channels=["telegram"])
    deliver(db, channel)
    with store.read_session(db) as s:
        return {
            r.step_id: r.id
            for r in s.execute(
                select(outbox_table).where(
                    outbox_table.c.purpose == "reminder", outbox_table.c.unit_id == "doan-a"
                )
            )
        }


def message_of(api: FakeBotAPI, chat: int, outbox_id: int) -> dict[str, Any]:
    """The bot's message in `chat` whose buttons name `outbox_id`."""
    for m in api.shown(chat):
        datas = [
            b["callback_data"]
            for row in m.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
        ]
        if any(d.endswith(f":{outbox_id}") for d in datas):
            return m
    raise AssertionError(f"no message for outbox row {outbox_id} in chat {chat}")


def press(api: FakeBotAPI, chat: int, message_id: int, data: str) -> dict[str, Any]:
    """Press a button; the bot's answerCallbackQuery."""
    query = api.press(chat, message_id, data)
    return dict(wait_for(lambda: api.answers.get(query), f"an answer to {data}"))


# ── start-up, linking ───────────────────────────────────────────────────────────────────────


def test_the_bot_registers_its_vietnamese_commands(bot: Running, api: FakeBotAPI) -> None:
    wait_for(lambda: api.commands, "setMyCommands")
    assert [c["command"] for c in api.commands] == [c for c, _ in COMMANDS]
    assert api.calls_of("deleteWebhook")  # long polling: any webhook is dropped first


def test_linking_with_a_good_code_then_used_wrong_and_expired_ones(
    db: Engine, world: dict[str, int], bot: Running, api: FakeBotAPI
) -> None:
    with store.write_session(db) as s:
        pid = add_person(s, "Bác Sáu", "doan-a", NOW)
        code = create_invite(s, pid, "thư ký", MAY_18 - timedelta(days=1))
        old = create_invite(s, pid, "thư ký", MAY_18 - timedelta(days=8))
        stored = s.execute(select(invites_table.c.code_hash)).scalars().all()
    assert len(code) >= 32 and code_hash(code) in stored and code not in stored
    assert "Bác Sáu" in reply(api, 501, f"/start {code}", "Đã liên kết")
    linked = chat_of(db, pid)
    assert linked.address == "501" and linked.linked_at == MAY_18

    for chat, text in ((502, f"/start {code}"), (503, "/start khong-dung"), (504, f"/start {old}")):
        assert "không đúng, đã được dùng hoặc đã hết hạn" in reply(api, chat, text, "Mã")
    assert chat_of(db, pid).address == "501"  # nothing else changed
    with store.read_session(db) as s:
        assert (
            s.execute(
                select(contacts_table.c.id).where(
                    contacts_table.c.address.in_(["502", "503", "504"])
                )
            ).first()
            is None
        )


def test_start_without_a_code_and_an_unlinked_chat(
    bot: Running, api: FakeBotAPI, world: dict[str, int]
) -> None:
    assert "chưa liên kết" in reply(api, 999, "/start", "/viec")
    assert "chưa liên kết" in reply(api, 999, "/viec", "chưa liên kết")
    assert "Xin chào Anh Ba" in reply(api, A, "/start", "Xin chào")


# ── buttons ─────────────────────────────────────────────────────────────────────────────────


def test_done_marks_the_step_and_edits_the_message(
    db: Engine, world: dict[str, int], bot: Running, channel: TelegramChannel, api: FakeBotAPI
) -> None:
    rows = reminders(db, channel)
    msg = message_of(api, A, rows[STEP])
    answer = press(api, A, msg["message_id"], f"d:{rows[STEP]}")
    assert "hoàn thành" in answer.get("text", "")
    wait_for(
        lambda: (
            "Đã hoàn thành" in api.shown(A)[api.shown(A).index(msg)]["text"]
            if msg in api.shown(A)
            else False
        ),
        "the edit",
    )
    assert step(db).state == "done" and step(db).done_at == MAY_18
    last = transitions(db, STEP)[-1]
    assert (last.event, last.actor, last.channel) == ("done", "Anh Ba", "telegram")
    edited = next(m for m in api.shown(A) if m["message_id"] == msg["message_id"])
    labels = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["📋 Chi tiết"] and "Báo cáo tháng" in edited["text"]
    # Pressing again: refused politely, nothing changes.
    again = press(api, A, msg["message_id"], f"d:{rows[STEP]}")
    assert again["show_alert"] and "đã xong" in again["text"]


def test_someone_outside_the_unit_is_refused(
    db: Engine, world: dict[str, int], bot: Running, channel: TelegramChannel, api: FakeBotAPI
) -> None:
    rows = reminders(db, channel)
    msg = message_of(api, A, rows[STEP])
    answer = press(api, B, msg["message_id"], f"d:{rows[STEP]}")  # B presses A's button
    assert answer["show_alert"] and "không phụ trách" in answer["text"]
    answer = press(api, 999, msg["message_id"], f"d:{rows[STEP]}")  # an unlinked chat
    assert answer["show_alert"] and "chưa liên kết" in answer["text"]
    answer = press(api, A, msg["message_id"], "d:abc")  # forged data
    assert answer["show_alert"]
    assert step(db).state == "pending" and not api.calls_of("editMessageText")


def test_details_shows_the_step(
    db: Engine, world: dict[str, int], bot: Running, channel: TelegramChannel, api: FakeBotAPI
) -> None:
    rows = reminders(db, channel)
    msg = message_of(api, A, rows[STEP])
    before = len(said(api, A))
    press(api, A, msg["message_id"], f"i:{rows[STEP]}")
    text = wait_for(lambda: said(api, A, after=before), "the details")[0]
    assert "📋 <b>Báo cáo tháng</b>" in text and "Thứ Tư, 25/05/2022" in text
    assert "Người duyệt gia hạn: Ban Thường vụ Quận Đoàn" in text
    assert "Kế hoạch thử nghiệm năm 2022" in text


def test_details_of_a_step_with_a_very_long_title_are_cut_like_reminders(
    db: Engine, world: dict[str, int], bot: Running, channel: TelegramChannel, api: FakeBotAPI
) -> None:
    title = "Báo cáo kết quả thực hiện chỉ tiêu " * 300  # «Message is too long» before
    with store.write_session(db) as s:
        s.execute(update(steps_table).where(steps_table.c.id == STEP).values(title=title))
    rows = reminders(db, channel)
    before = len(said(api, A))
    press(api, A, message_of(api, A, rows[STEP])["message_id"], f"i:{rows[STEP]}")
    text = wait_for(lambda: said(api, A, after=before), "the details")[0]
    assert text.startswith(f"📋 <b>{clip(title)}</b>\n") and "Thứ Tư, 25/05/2022" in text


def test_extension_round_trip_granted(
    db: Engine, world: dict[str, int], bot: Running, channel: TelegramChannel, api: FakeBotAPI
) -> None:
    rows = reminders(db, channel)
    msg = message_of(api, A, rows[STEP])
    press(api, A, msg["message_id"], f"x:{rows[STEP]}")
    wait_for(lambda: any("ngày hạn mới" in t for t in said(api, A)), "the date question")
    assert "không phải một ngày" in reply(api, A, "hôm nào đó", "không phải một ngày")
    # 20/05 is before the deadline: refused as soon as it is typed, asked again (not after
    # the reason).
    assert "không sau hạn hiện tại" in reply(api, A, "20/05/2022", "Xin gửi một ngày khác")
    assert not any("lý do" in t for t in said(api, A))
    reply(api, A, "05/06/2022", "lý do")
    text = reply(api, A, "Chờ số liệu <phường>", "Đã gửi đề nghị")
    assert "Chủ nhật, 05/06/2022" in text and "Ban Thường vụ Quận Đoàn" in text
    asked = step(db)
    assert (
        asked.extension_requested_by == "Anh Ba"
        and asked.extension_reason == "Chờ số liệu <phường>"
    )
    edited = next(m for m in api.shown(A) if m["message_id"] == msg["message_id"])
    assert "Đã xin gia hạn" in edited["text"]

    deliver(db, channel)  # the request reaches the approver's chat
    boss_msg = api.last_message(BOSS)
    assert boss_msg is not None and "Đề nghị gia hạn" in boss_msg["text"]
    assert "Chờ số liệu &lt;phường&gt;" in boss_msg["html"]
    datas = [b["callback_data"] for row in boss_msg["reply_markup"]["inline_keyboard"] for b in row]
    grant = next(d for d in datas if d.startswith("g:"))
    # The requesting unit cannot grant itself.
    assert "không phải người duyệt" in press(api, A, boss_msg["message_id"], grant)["text"]
    press(api, BOSS, boss_msg["message_id"], grant)
    wait_for(lambda: step(db).extended_until is not None, "the grant")
    granted = step(db)
    assert granted.extension_requested_at is None
    assert granted.extended_until.astimezone(UTC) == datetime(2022, 6, 5, 17, tzinfo=UTC)
    assert [t.event for t in transitions(db, STEP)][-2:] == [
        "extension_requested",
        "extension_granted",
    ]
    assert transitions(db, STEP)[-1].actor == "Cô Năm"
    wait_for(
        lambda: (
            "Đã đồng ý" in (api.last_message(BOSS) or {}).get("text", "")
            or any("Đã đồng ý" in m["text"] for m in api.shown(BOSS))
        ),
        "the approver's edit",
    )
    deliver(db, channel)  # the decision reaches the unit
    assert "Được gia hạn" in said(api, A)[-1] and "Chủ nhật, 05/06/2022" in said(api, A)[-1]


def test_extension_refused_with_a_reason(
    db: Engine, world: dict[str, int], bot: Running, channel: TelegramChannel, api: FakeBotAPI
) -> None:
    rows = reminders(db, channel)
    msg = message_of(api, A, rows[STEP])
    press(api, A, msg["message_id"], f"x:{rows[STEP]}")
    reply(api, A, "01/06/2022", "lý do")
    reply(api, A, "bận", "Đã gửi đề nghị")
    deliver(db, channel)
    boss_msg = api.last_message(BOSS)
    assert boss_msg is not None
    refuse = next(
        b["callback_data"]
        for row in boss_msg["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith("r:")
    )
    press(api, BOSS, boss_msg["message_id"], refuse)
    wait_for(lambda: any("lý do từ chối" in t for t in said(api, BOSS)), "the reason question")
    api.message(BOSS, "Cần nộp đúng hạn")
    wait_for(lambda: step(db).extension_requested_at is None, "the refusal")
    refused = step(db)
    assert refused.extended_until is None and refused.state == "pending"
    assert transitions(db, STEP)[-1].event == "extension_refused"
    assert "Cần nộp đúng hạn" in transitions(db, STEP)[-1].note
    deliver(db, channel)
    assert "Không được gia hạn" in said(api, A)[-1] and "Cần nộp đúng hạn" in said(api, A)[-1]
    # A second press on the old request: nothing is waiting any more.
    answer = press(api, BOSS, boss_msg["message_id"], refuse.replace("r:", "g:"))
    assert answer["show_alert"] and "không còn chờ" in answer["text"]


# ── commands ────────────────────────────────────────────────────────────────────────────────


def test_viec_and_quahan_list_my_units_steps(
    db: Engine, world: dict[str, int], bot: Running, api: FakeBotAPI
) -> None:
    text = reply(api, A, "/viec", "Việc cần làm")
    assert "Báo cáo tháng" in text and "Đóng góp kinh phí Hội nghị" in text
    assert "🔴" in text  # April's report is late on 18/5
    assert "Đoàn phường B" not in text  # not my unit
    late = reply(api, A, "/quahan", "Việc quá hạn")
    assert "quá hạn" in late and "🟡" not in late
    boss = reply(api, BOSS, "/quahan", "Việc quá hạn")  # the issuer's own steps only
    assert "Không có việc nào quá hạn" in boss


def test_lich_gives_a_feed_address(
    db: Engine, world: dict[str, int], bot: Running, api: FakeBotAPI
) -> None:
    first = reply(api, A, "/lich", "Lịch của bạn")
    assert "https://kh.example.vn/lich/" in first and "webcal://kh.example.vn/lich/" in first
    second = reply(api, A, "/lich", "Lịch của bạn")
    assert second != first  # a new address; the old one is revoked
    from kehoach.store.feeds import list_feeds

    with store.read_session(db) as s:
        feeds = [f for f in list_feeds(s) if f.scope == "person"]
    assert len(feeds) == 2 and sum(f.revoked_at is None for f in feeds) == 1


def test_huy_unlinks_and_help_and_unknown(
    db: Engine, world: dict[str, int], bot: Running, api: FakeBotAPI
) -> None:
    assert "/quahan" in reply(api, A, "/help", "/viec")
    assert "Không có lệnh này" in reply(api, A, "/khongco", "Không có lệnh")
    assert "Gõ /help" in reply(api, A, "xin chào", "/help")
    assert "Đã hủy liên kết của Anh Ba" in reply(api, A, "/huy", "hủy liên kết")
    assert chat_of(db, world["Anh Ba"]) is None
    assert "không liên kết với ai" in reply(api, A, "/huy", "không liên kết")


# ── webhook ─────────────────────────────────────────────────────────────────────────────────


def test_webhook_checks_the_secret_token_on_every_request(db: Engine, api: FakeBotAPI) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    running = Running(
        KehoachBot(
            db,
            TOKEN,
            base_url=api.base_url,
            now=lambda: MAY_18,
            webhook_url="https://kh.example.vn/telegram/hook",
            webhook_secret="bi-mat-123",
            webhook_listen=f"127.0.0.1:{port}",
        )
    )
    try:
        wait_for(lambda: api.webhook.get("url"), "setWebhook")
        assert api.webhook["secret_token"] == "bi-mat-123"
        assert not api.calls_of("getUpdates")

        def post(secret: str | None, text: str) -> int:
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 77, "type": "private"},
                    "from": {"id": 77, "is_bot": False, "first_name": "A"},
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
                },
            }
            return post_update(
                f"http://127.0.0.1:{port}/telegram/hook",
                update,
                "X-Telegram-Bot-Api-Secret-Token",
                secret,
            )

        wait_for(lambda: _listening(port), "the webhook server")
        assert post(None, "/help") == 403 and post("sai", "/help") == 403
        time.sleep(0.3)
        assert not said(api, 77)  # refused requests did nothing
        assert post("bi-mat-123", "/help") == 200
        wait_for(lambda: said(api, 77), "the answer to a genuine update")
    finally:
        running.close()


def post_update(url: str, update: dict[str, Any], header: str, secret: str | None) -> int:
    """POST `update` as JSON to a webhook, with `header: secret` when given; the status."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", **({header: secret} if secret else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False
