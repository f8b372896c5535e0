"""The Telegram channel over real HTTP: python-telegram-bot, pointed at the loopback Bot API
of tests/fake_bot_api.py, sends what the dispatcher claims; every fault the server can play
lands in the right outbox/delivery state (on SQLite and PostgreSQL where the store is used)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from telegram import LinkPreviewOptions

from kehoach import store
from kehoach.chat.links import set_contact
from kehoach.serve import wired_channels
from kehoach.store.digest import digest
from kehoach.store.models import contacts_table, deliveries_table, outbox_table
from kehoach.store.people import add_person
from notifiers.base import DeliveryError, Notification, Recipient
from notifiers.telegram import (
    NO_PREVIEW,
    ChatLost,
    Limiter,
    TelegramChannel,
    markup,
    markup_json,
)
from notifiers.telegram_render import LIMIT, render, utf16_len, vn_deadline
from tests.conftest import NOW, load
from tests.fake_bot_api import FakeBotAPI, parse_html

TOKEN = "123456:TEST-token"
MAY_18 = datetime(2022, 5, 18, 2, tzinfo=UTC)  # the reminders for 25/5 are due
REMINDER = {
    "step_id": "thu-nghiem/bao-cao-thang/2025-05/doan-a",
    "plan_id": "thu-nghiem",
    "title": "Báo cáo <tháng> & «quý»",
    "kind": "deadline",
    "event": False,
    "unit": "doan-a",
    "unit_name": "Đoàn <b>phường</b> A",
    "due_at": "2025-05-30T17:00:00+00:00",
    "due_day": "30/05/2025",
    "amount": None,
    "moment": "2025-05-23T01:00:00+00:00",
    "late": False,
    "skipped": 0,
    "status": "sắp đến hạn",
    "days_late": 0,
    "recipient_name": "Đoàn phường A",
    "person_name": "Anh <Ba>",
}


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(token=TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def channel(api: FakeBotAPI) -> Iterator[TelegramChannel]:
    ch = TelegramChannel(TOKEN, api.base_url, limiter=Limiter(None), timeout=2.0)
    yield ch
    ch.close()


def note(
    purpose: str = "reminder",
    payload: dict[str, Any] | None = None,
    chat: int = 42,
    outbox_id: int = 5,
    recipient: str = "doan-a",
    level: int | None = 0,
) -> Notification:
    return Notification(
        outbox_id,
        f"k{outbox_id}",
        recipient,
        purpose,
        level,
        payload or REMINDER,
        1,
        Recipient(1, "Anh <Ba>", str(chat)),
    )


# ── rendering ───────────────────────────────────────────────────────────────────────────────


def test_a_reminder_is_html_with_every_value_escaped_a_vietnamese_date_and_three_buttons(
    channel: TelegramChannel, api: FakeBotAPI
) -> None:
    assert channel.send(note()).remote_id == "42:1"
    [sent] = api.sent()
    assert sent["parse_mode"] == "HTML" and int(sent["chat_id"]) == 42
    text = sent["text"]
    assert (
        "Báo cáo &lt;tháng&gt; &amp; «quý»" in text and "Đoàn &lt;b&gt;phường&lt;/b&gt; A" in text
    )
    assert "Anh &lt;Ba&gt;" in text
    assert "Hạn: <b>Thứ Sáu, 30/05/2025</b>" in text  # 31/5 00:00 local is the end of 30/5
    assert parse_html(text)[1] is None
    buttons = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["✅ Đã hoàn thành", "⏳ Xin gia hạn", "📋 Chi tiết"]
    assert [b["callback_data"] for b in buttons] == ["d:5", "x:5", "i:5"]


def test_the_json_sent_is_what_ptbs_objects_give_and_the_ids_are_telegrams(
    channel: TelegramChannel, api: FakeBotAPI
) -> None:
    """The channel posts sendMessage as JSON (no `Message` built from the answer): the buttons
    and link preview as PTB's own objects would say them, and each remote id the one the
    Bot API answered."""
    buttons = render(note())[0].buttons
    assert markup_json(buttons) == markup(buttons).to_dict()  # type: ignore[union-attr]
    assert LinkPreviewOptions(is_disabled=True).to_dict() == NO_PREVIEW
    assert [channel.send(note(chat=c)).remote_id for c in (42, 43, 42)] == ["42:1", "43:2", "42:3"]
    assert all(s["link_preview_options"] == NO_PREVIEW for s in api.sent())


def test_each_purpose_has_its_template() -> None:
    day = {**REMINDER, "moment": "2025-05-30T01:00:00+00:00"}  # the last day
    assert "Đến hạn hôm nay" in render(note(payload=day))[0].text
    assert "Nhắc việc" in render(note())[0].text
    late = {**REMINDER, "status": "quá hạn 2 ngày"}
    assert "Đã quá hạn" in render(note("escalation", late, level=1))[0].text  # its own unit
    up = render(note("escalation", late, recipient="quan-doan", level=3))[0]
    assert "Báo trễ hạn, mức 3" in up.text
    event = render(note(payload={**REMINDER, "event": True}))[0]
    assert [label for row in event.buttons for label, _ in row] == [
        "✅ Đã hoàn thành",
        "📋 Chi tiết",
    ]
    asked = {
        **REMINDER,
        "requested_until": "2025-06-05T17:00:00+00:00",
        "requested_by": "Chị <Tư>",
        "reason": "chờ số liệu & ý kiến",
    }
    part = render(note("extension_asked", asked, outbox_id=9))[0]
    assert "Chị &lt;Tư&gt;" in part.text and "Thứ Năm, 05/06/2025" in part.text
    assert part.buttons[0] == [("Đồng ý", "g:9"), ("Từ chối", "r:9")]
    decided = {
        **REMINDER,
        "granted": False,
        "until": "2025-06-05T17:00:00+00:00",
        "reason": "không đủ lý do",
        "decided_by": "Quận Đoàn",
    }
    assert "Không được gia hạn" in render(note("extension_decided", decided))[0].text


def test_callback_data_stays_short_whatever_the_step_id() -> None:
    long_id = "k/" + "x" * 400
    parts = render(note(payload={**REMINDER, "step_id": long_id}, outbox_id=10**15))
    for row in parts[0].buttons:
        for _, data in row:
            assert len(data.encode()) < 64


def test_vietnamese_deadline_with_a_time() -> None:
    assert vn_deadline("2025-05-30T10:00:00+00:00") == "Thứ Sáu, 30/05/2025, 17g00"


def digest_payload(items: int, title_len: int = 250) -> dict[str, Any]:
    item = {
        "step_id": "s",
        "title": "",
        "plan_id": "p",
        "kind": "deadline",
        "unit": "doan-a",
        "unit_name": "Đoàn phường A",
        "due_at": "2025-05-30T17:00:00+00:00",
        "due_day": "Thứ Sáu, 30/05/2025",
        "status": "quá hạn 3 ngày",
        "phase": "overdue",
        "days_late": 3,
        "level": 1,
        "own": True,
    }
    late = [{**item, "title": f"Việc {i} <{'x' * title_len}>"} for i in range(items)]
    return {
        "recipient_name": "Đoàn phường A",
        "day": "2025-06-02",
        "date": "Thứ Hai, 02/06/2025",
        "count": items,
        "late": late,
        "today": [],
        "soon": [],
        "person_name": "Anh Ba",
        "lost_links": [{"name": "Chị <Năm>", "email": None}],
    }


def test_a_long_digest_is_split_into_messages_under_4096_characters(
    channel: TelegramChannel, api: FakeBotAPI
) -> None:
    payload = digest_payload(120)
    remote = channel.send(note("digest", payload, level=None)).remote_id
    sent = api.sent()
    assert len(sent) >= 8 and remote is not None and len(remote.split(",")) == len(sent)
    shown = [parse_html(m["text"]) for m in sent]
    assert all(error is None and utf16_len(text) <= LIMIT for text, error in shown)
    assert all(utf16_len(m["text"]) <= LIMIT for m in sent)
    everything = "\n".join(text for text, _ in shown)
    assert all(f"Việc {i} <" in everything for i in range(120))
    assert (
        f"(phần 1/{len(sent)})" in sent[0]["text"]
        and f"(phần {len(sent)}/{len(sent)})" in sent[-1]["text"]
    )
    assert "Chị &lt;Năm&gt;" in sent[-1]["text"]  # the lost link, for the secretary


def test_a_digest_that_fails_half_way_sends_only_the_rest_when_retried(
    channel: TelegramChannel, api: FakeBotAPI
) -> None:
    digest_note = note("digest", digest_payload(60), level=None)
    parts = render(digest_note)
    assert len(parts) >= 3
    api.fail("sendMessage", "500", after=2)
    with pytest.raises(DeliveryError):
        channel.send(digest_note)
    assert len(api.sent()) == 2
    channel.send(digest_note)  # the retry: the third part on
    assert [m["text"] for m in api.sent()] == [p.text for p in parts]


# ── faults through the dispatcher ───────────────────────────────────────────────────────────


@pytest.fixture
def linked(db: Engine, plan_file: Path) -> dict[str, int]:
    """The test plan, a person of doan-a linked to chat 42 (with an e-mail address), and
    today's reminders queued for Telegram."""
    load(db, plan_file)
    with store.write_session(db) as s:
        pid = add_person(s, "Anh Ba", "doan-a", NOW, email="ba@example.vn")
        set_contact(s, pid, "telegram", str(42), NOW)
        store.tick(s, MAY_18, channels=["telegram", "email"])
    return {"person": pid}


def rows(db: Engine) -> list[Any]:
    with store.read_session(db) as s:
        return list(
            s.execute(
                select(outbox_table)
                .where(outbox_table.c.channel == "telegram")
                .order_by(outbox_table.c.id)
            )
        )


def deliveries(db: Engine) -> list[Any]:
    with store.read_session(db) as s:
        return list(s.execute(select(deliveries_table).order_by(deliveries_table.c.id)))


def dispatch(
    db: Engine, channel: Any, now: datetime = MAY_18, fallbacks: tuple[str, ...] = ()
) -> store.DispatchResult:
    return store.dispatch(
        lambda: store.write_session(db), channel, now, limit=100, fallbacks=fallbacks
    )


def test_reminders_queued_by_the_tick_reach_the_linked_chat(
    db: Engine, linked: dict[str, int], channel: TelegramChannel, api: FakeBotAPI
) -> None:
    queued = rows(db)
    assert queued and all(r.person_id == linked["person"] for r in queued)
    result = dispatch(db, channel)
    assert result.sent == len(queued) and len(api.sent()) == len(queued)
    assert {r.state for r in rows(db)} == {"sent"}
    assert all(d.remote_id.startswith("42:") for d in deliveries(db))


def test_retry_after_waits_the_time_telegram_names(
    db: Engine, linked: dict[str, int], channel: TelegramChannel, api: FakeBotAPI
) -> None:
    api.fail("sendMessage", "429", retry_after=17)
    dispatch(db, channel)
    first = rows(db)[0]
    assert first.state == "pending" and first.not_before == MAY_18 + timedelta(seconds=17)
    assert deliveries(db)[0].outcome == "temporary" and "RetryAfter" in deliveries(db)[0].error


def test_a_5xx_is_retried_later_with_backoff(
    db: Engine, linked: dict[str, int], channel: TelegramChannel, api: FakeBotAPI
) -> None:
    api.fail("sendMessage", "500", status=502)
    dispatch(db, channel)
    first = rows(db)[0]
    assert first.state == "pending" and first.not_before > MAY_18 + timedelta(seconds=29)
    assert deliveries(db)[0].outcome == "temporary" and not deliveries(db)[0].permanent


def test_a_timeout_while_waiting_is_unknown_never_resent(
    db: Engine, linked: dict[str, int], api: FakeBotAPI
) -> None:
    slow = TelegramChannel(TOKEN, api.base_url, limiter=Limiter(None), timeout=0.5)
    try:
        api.fail("sendMessage", "slow", seconds=1.5)
        dispatch(db, slow)
    finally:
        slow.close()
    first = rows(db)[0]
    assert first.state == "unknown" and deliveries(db)[0].outcome == "unknown"
    time.sleep(1.2)  # the server finished the slow send meanwhile: it did arrive
    dispatch(db, slow, MAY_18 + timedelta(days=1))
    assert rows(db)[0].state == "unknown"  # not resent blindly


def test_a_blocked_bot_deactivates_the_link_and_falls_back_to_email(
    db: Engine, db_url: str, linked: dict[str, int], api: FakeBotAPI
) -> None:
    settings = {
        "KEHOACH_TELEGRAM_TOKEN": TOKEN,
        "KEHOACH_TELEGRAM_BASE_URL": api.base_url,
        "KEHOACH_SMTP_HOST": "127.0.0.1",
        "KEHOACH_SMTP_FROM": "kehoach@example.vn",
        "KEHOACH_DATABASE_URL": db_url,
    }
    console, telegram, email = wired_channels(settings)
    assert (console.name, telegram.name, email.name) == ("console", "telegram", "email")
    try:
        api.fail("sendMessage", "403")
        result = dispatch(db, telegram, fallbacks=("console", "telegram", "email"))
    finally:
        telegram.close()  # type: ignore[attr-defined]
    assert result.failed >= 1
    first = rows(db)[0]
    assert first.state == "failed" and deliveries(db)[0].permanent
    with store.read_session(db) as s:
        chat = s.execute(
            select(contacts_table).where(
                contacts_table.c.person_id == linked["person"],
                contacts_table.c.channel == "telegram",
            )
        ).one()
        fallback = s.execute(select(outbox_table).where(outbox_table.c.channel == "email")).all()
    assert chat.lost_at is not None and chat.address == "42"
    assert chat.lost_reason.startswith("Telegram: Forbidden")
    assert [r.idempotency_key for r in fallback] == [first.idempotency_key + "|email"]
    assert fallback[0].payload["fallback_from"] == "telegram"
    # The rows still pending for that chat fail without a request each? No: the next tick
    # routes the person to e-mail; and the unit's next digest tells the secretary.
    with store.write_session(db) as s:
        queued = digest(s, MAY_18 + timedelta(hours=6), time_of_day(7, 30), channels=["email"])
    assert queued.queued
    with store.read_session(db) as s:
        digests = s.execute(
            select(outbox_table.c.payload).where(
                outbox_table.c.purpose == "digest", outbox_table.c.unit_id == "doan-a"
            )
        ).scalars()
        assert any(
            p["lost_links"]
            == [{"name": "Anh Ba", "channel": "Telegram", "fallback": "Thư điện tử ba@example.vn"}]
            for p in digests
        )


def test_a_group_become_supergroup_moves_the_stored_chat_and_is_sent_there_at_once(
    db: Engine, db_url: str, linked: dict[str, int], api: FakeBotAPI
) -> None:
    settings = {
        "KEHOACH_TELEGRAM_TOKEN": TOKEN,
        "KEHOACH_TELEGRAM_BASE_URL": api.base_url,
        "KEHOACH_DATABASE_URL": db_url,
    }
    telegram = wired_channels(settings)[1]
    telegram.limiter = Limiter(None)  # type: ignore[attr-defined]
    api.fail("sendMessage", "migrate", to=-1001234567890)
    try:
        result = dispatch(db, telegram)
    finally:
        telegram.close()  # type: ignore[attr-defined]
    assert result.sent == result.claimed and not result.retrying and not result.failed
    with store.read_session(db) as s:
        chat = s.execute(
            select(contacts_table.c.address)
            .where(contacts_table.c.person_id == linked["person"])
            .where(contacts_table.c.channel == "telegram")
        ).scalar_one()
    assert chat == "-1001234567890"
    to = [int(c.params["chat_id"]) for c in api.calls_of("sendMessage")]
    assert to[0] == 42 and set(to[1:]) == {-1001234567890}  # the old id asked once
    assert all(
        d.outcome == "sent" and d.remote_id.startswith("-1001234567890:") for d in deliveries(db)
    )


def test_chat_not_found_is_a_lost_link_too(channel: TelegramChannel, api: FakeBotAPI) -> None:
    api.fail("sendMessage", "chat")
    with pytest.raises(ChatLost) as caught:
        channel.send(note())
    assert caught.value.permanent and caught.value.lost


def test_malformed_html_is_sent_again_as_plain_text(
    channel: TelegramChannel, api: FakeBotAPI
) -> None:
    api.fail("sendMessage", "parse")
    channel.send(note())
    failed, ok = api.calls_of("sendMessage")
    assert failed.status == 400 and ok.status == 200 and "parse_mode" not in ok.params
    assert "Báo cáo <tháng> & «quý»" in ok.params["text"]  # unescaped, tags gone


def test_a_wrong_token_is_a_temporary_failure(api: FakeBotAPI) -> None:
    wrong = TelegramChannel("999:wrong", api.base_url, limiter=Limiter(None))
    try:
        with pytest.raises(DeliveryError) as caught:
            wrong.send(note())
    finally:
        wrong.close()
    assert not caught.value.permanent and not caught.value.unknown


def test_no_linked_chat_is_permanent(channel: TelegramChannel) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel.send(Notification(1, "k", "doan-a", "reminder", 0, REMINDER, 1, None))
    assert caught.value.permanent and not caught.value.lost  # to no person: nothing to mark
    with pytest.raises(DeliveryError) as caught:  # a person with no chat (or a lost one) left
        channel.send(
            Notification(1, "k", "doan-a", "reminder", 0, REMINDER, 1, Recipient(1, "Anh Ba"))
        )
    assert caught.value.permanent and caught.value.lost  # the dispatcher tries the next contact


# ── rate limits ─────────────────────────────────────────────────────────────────────────────


def test_the_limiter_keeps_under_telegrams_limits_so_no_429_is_ever_seen(api: FakeBotAPI) -> None:
    api.limits(overall=30, per_chat=1.0)
    limited = TelegramChannel(TOKEN, api.base_url, limiter=Limiter(overall=29.0))
    try:
        start = time.monotonic()
        for i in range(45):  # 45 chats: the overall rate binds
            limited.send(note(chat=1000 + i, outbox_id=i + 1))
        for i in range(3):  # one chat, three messages: one a second
            limited.send(note(chat=7, outbox_id=100 + i))
        elapsed = time.monotonic() - start
    finally:
        limited.close()
    assert api.too_many == 0 and len(api.sent()) == 48
    assert elapsed >= 44 / 29.0
    seven = [c.at for c in api.calls_of("sendMessage") if int(c.params["chat_id"]) == 7]
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(seven))


def test_the_limiter_spaces_groups_twenty_a_minute() -> None:
    limiter = Limiter(overall=30.0, private_gap=1.0, group_per_minute=20.0)
    waits = [limiter.reserve(-100, now=0.0) for _ in range(3)]
    assert waits == [0.0, 3.0, 6.0]
    assert limiter.reserve(5, now=0.0) == pytest.approx(1 / 30)  # not behind the group


def test_send_works_even_from_a_thread_whose_event_loop_runs(
    channel: TelegramChannel, api: FakeBotAPI
) -> None:
    import asyncio

    async def inside() -> str | None:
        return channel.send(note()).remote_id  # blocks the loop, but delivers

    assert asyncio.run(inside()) == "42:1" and len(api.sent()) == 1
