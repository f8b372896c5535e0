"""The Zalo channel over real HTTP against the loopback stand-in of tests/zalo_api.py: plain
text with numbered replies, split within 2,000 characters, each fault the stand-in can play
mapped to the dispatcher's outcome, a blocked user a lost contact, the rate kept."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from notifiers.base import DeliveryError, Notification, Recipient
from notifiers.telegram_render import utf16_len
from notifiers.zalo import Limiter, ZaloChannel, sender_key
from notifiers.zalo_render import STEP_REPLIES, render
from tests.test_telegram_channel import REMINDER, digest_payload
from tests.zalo_api import TOKEN, FakeZaloAPI

CHAT = "e4ea2cd5189df1c3a88c"


@pytest.fixture
def api() -> Iterator[FakeZaloAPI]:
    server = FakeZaloAPI(token=TOKEN).start()
    server.users(CHAT, "u2")  # the users who wrote to the bot: the others are unknown chats
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def channel(api: FakeZaloAPI) -> Iterator[ZaloChannel]:
    ch = ZaloChannel(TOKEN, api.base_url, limiter=Limiter(None), timeout=2.0)
    try:
        yield ch
    finally:
        ch.close()


def note(
    purpose: str = "reminder",
    payload: dict[str, Any] | None = None,
    chat: str = CHAT,
    outbox_id: int = 5,
    level: int | None = 0,
) -> Notification:
    return Notification(
        outbox_id,
        f"k{outbox_id}",
        "doan-a",
        purpose,
        level,
        payload or REMINDER,
        1,
        Recipient(1, "Anh <Ba>", address=chat),
    )


def failure(channel: ZaloChannel, n: Notification | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(n or note())
    return caught.value


# ── what is sent ────────────────────────────────────────────────────────────────────────────


def test_a_reminder_is_plain_text_ending_with_the_numbered_replies(
    channel: ZaloChannel, api: FakeZaloAPI
) -> None:
    result = channel.send(note())
    [sent] = api.sent()
    assert set(sent) == {"chat_id", "text"} and sent["chat_id"] == CHAT
    text = sent["text"]
    assert "Báo cáo <tháng> & «quý»" in text and "Anh <Ba>" in text  # no HTML escapes
    assert "Đoàn <b>phường</b> A" in text  # a value is said as it is, the markup gone
    assert text.startswith("🔔 Nhắc việc — gửi Anh <Ba>\n") and "&lt;" not in text
    assert "Hạn: Thứ Sáu, 30/05/2025" in text
    assert text.endswith("\n\nTrả lời 1 = đã xong, 2 = xin gia hạn, 3 = chi tiết")
    assert result.remote_id == "z1"


def test_an_event_has_no_extension_and_a_request_is_answered_yes_or_no() -> None:
    event = render(note(payload={**REMINDER, "event": True}))
    assert event[-1].endswith("Trả lời 1 = đã xong, 3 = chi tiết")
    asked = {
        **REMINDER,
        "requested_until": "2025-06-05T17:00:00+00:00",
        "requested_by": "Chị Tư",
        "reason": "chờ số liệu",
    }
    assert render(note("extension_asked", asked))[-1].endswith(
        "Trả lời 1 = đồng ý, 2 = từ chối, 3 = chi tiết"
    )
    decided = {
        **REMINDER,
        "granted": True,
        "until": "2025-06-05T17:00:00+00:00",
        "reason": "",
        "decided_by": "Quận Đoàn",
    }
    assert "Trả lời" not in render(note("extension_decided", decided))[-1]


def test_a_long_digest_is_split_within_2000_characters_nothing_lost(
    channel: ZaloChannel, api: FakeZaloAPI
) -> None:
    remote = channel.send(note("digest", digest_payload(60), level=None)).remote_id
    sent = [m["text"] for m in api.sent()]
    assert len(sent) >= 5 and remote is not None and len(remote.split(",")) == len(sent)
    assert all(utf16_len(t) <= 2000 for t in sent)
    everything = "\n".join(sent)
    assert all(f"Việc {i} <" in everything for i in range(60))
    assert f"(phần 1/{len(sent)})" in sent[0] and f"(phần {len(sent)}/{len(sent)})" in sent[-1]
    assert STEP_REPLIES not in everything


def test_a_digest_that_fails_half_way_sends_only_the_rest_when_retried(
    channel: ZaloChannel, api: FakeZaloAPI
) -> None:
    digest = note("digest", digest_payload(60), level=None)
    parts = render(digest)
    api.fail("sendMessage", "500", after=2)
    assert not failure(channel, digest).permanent
    assert len(api.sent()) == 2
    channel.send(digest)  # the retry: the third part on, none twice
    assert [m["text"] for m in api.sent()] == parts


def test_the_stand_in_refuses_what_the_documentation_refuses(api: FakeZaloAPI) -> None:
    """A message over 2,000 characters (KEHOACH_ZALO_MAX_CHARS set too high) is refused for
    good; the channel's own default never is."""
    loose = ZaloChannel(TOKEN, api.base_url, limiter=Limiter(None), max_chars=5000)
    try:
        error = failure(loose, note("digest", digest_payload(60), level=None))
    finally:
        loose.close()
    assert error.permanent and not error.lost and "2000" in str(error)


# ── faults ──────────────────────────────────────────────────────────────────────────────────


def test_429_is_retried_after_the_wait_it_names(channel: ZaloChannel, api: FakeZaloAPI) -> None:
    api.fail("sendMessage", "429", retry_after=7)
    error = failure(channel)
    assert error.retry_after == 7 and not error.permanent and not error.unknown


def test_a_5xx_is_temporary(channel: ZaloChannel, api: FakeZaloAPI) -> None:
    api.fail("sendMessage", "500", status=502)
    error = failure(channel)
    assert not (error.permanent or error.unknown or error.lost) and error.retry_after is None


def test_a_timeout_after_the_request_left_is_unknown(api: FakeZaloAPI) -> None:
    slow = ZaloChannel(TOKEN, api.base_url, limiter=Limiter(None), timeout=0.5)
    try:
        api.fail("sendMessage", "slow", seconds=1.5)
        error = failure(slow)
    finally:
        slow.close()
    assert error.unknown and not error.permanent


def test_a_connection_cut_after_the_request_arrived_is_unknown(
    channel: ZaloChannel, api: FakeZaloAPI
) -> None:
    api.fail("sendMessage", "drop")
    error = failure(channel)
    assert error.unknown and not error.permanent


def test_a_refused_connection_never_left_so_it_is_temporary() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nowhere = ZaloChannel(TOKEN, f"http://127.0.0.1:{port}", limiter=Limiter(None))
    try:
        error = failure(nowhere)
    finally:
        nowhere.close()
    assert not (error.unknown or error.permanent)


def test_a_user_who_blocked_the_bot_is_a_lost_contact(
    channel: ZaloChannel, api: FakeZaloAPI
) -> None:
    api.block(CHAT)
    error = failure(channel)
    assert error.permanent and error.lost


def test_an_unknown_chat_is_a_lost_contact_too(channel: ZaloChannel) -> None:
    error = failure(channel, note(chat="never-wrote-to-the-bot"))
    assert error.permanent and error.lost


def test_a_wrong_token_is_temporary_until_the_operator_fixes_it(api: FakeZaloAPI) -> None:
    wrong = ZaloChannel("1:wrong", api.base_url, limiter=Limiter(None))
    try:
        error = failure(wrong)
    finally:
        wrong.close()
    assert not (error.permanent or error.unknown or error.lost)


def test_no_zalo_contact_is_permanent(channel: ZaloChannel) -> None:
    error = failure(
        channel, Notification(1, "k", "doan-a", "reminder", 0, REMINDER, 1, Recipient(1, "Anh Ba"))
    )
    assert error.permanent and not error.lost


# ── settings and the rate ───────────────────────────────────────────────────────────────────


def test_settings_make_the_channel_and_bad_numbers_are_said_in_vietnamese() -> None:
    from kehoach.channels import spec
    from kehoach.settings import Settings, SettingsError

    zalo = spec("zalo")
    assert zalo is not None and zalo.build(Settings.of({})) is None
    made = zalo.build(
        Settings.of(
            {
                "KEHOACH_ZALO_TOKEN": TOKEN,
                "KEHOACH_ZALO_RATE": "4,5",
                "KEHOACH_ZALO_MAX_CHARS": "1500",
            }
        )
    )
    assert isinstance(made, ZaloChannel)
    try:
        assert made.limiter.rate == 4.5 and made.max_chars == 1500
        assert made.sender_key == sender_key(TOKEN) and TOKEN not in made.sender_key
    finally:
        made.close()
    with pytest.raises(SettingsError, match=r"KEHOACH_ZALO_RATE.*nhanh.*số dương"):
        Settings.of({"KEHOACH_ZALO_RATE": "nhanh"})
    with pytest.raises(SettingsError, match=r"KEHOACH_ZALO_MAX_CHARS.*từ 100 đến 2000"):
        Settings.of({"KEHOACH_ZALO_MAX_CHARS": "5000"})
    with pytest.raises(SettingsError, match=r"KEHOACH_ZALO_WEBHOOK_SECRET.*8 đến 256"):
        Settings.of(
            {
                "KEHOACH_ZALO_TOKEN": TOKEN,
                "KEHOACH_ZALO_WEBHOOK_URL": "https://kh.example.vn/zalo/webhook",
            }
        )
    with pytest.raises(SettingsError, match=r"KEHOACH_ZALO_WEBHOOK_SECRET.*8 đến 256"):
        Settings.of({"KEHOACH_ZALO_WEBHOOK_SECRET": "ngan"})


def test_the_limiter_keeps_the_rate_so_no_429_is_ever_seen(api: FakeZaloAPI) -> None:
    api.limits(rate=10)
    limited = ZaloChannel(TOKEN, api.base_url, limiter=Limiter(10))
    try:
        start = time.monotonic()
        for i in range(35):
            limited.send(note(chat=CHAT if i % 2 else "u2", outbox_id=i + 1))
        elapsed = time.monotonic() - start
    finally:
        limited.close()
    assert api.too_many == 0 and len(api.sent()) == 35
    assert elapsed >= 34 / 10 * 0.9
