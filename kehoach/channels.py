"""The channel registry: every way kehoach reaches people, one `ChannelSpec` each.

A spec says what the rest of kehoach needs to know of a channel without naming it: its
Vietnamese label (board, CLI), the kind of address a contact holds on it, whether it is a
chat channel linked with an invite code (kehoach/chat/links.py), how to build it from the
settings (None when its settings are absent: the channel is off), and the line `kehoach
serve` prints about it at start. `serve.wired_channels`, `describe_start`, the contacts'
order (directory.routes) and `kehoach person --prefer` iterate `REGISTRY`; adding a channel
is its module in notifiers/ plus one entry here.

The order of `REGISTRY` is the order contacts of equal preference are tried in; the console
comes first and has no contacts (it takes what nobody can be reached for).
"""
from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from notifiers.base import Channel, ChannelSettingError

if TYPE_CHECKING:
    import asyncio

    from sqlalchemy import Engine

Settings = Mapping[str, str]
#: A chat channel's bot (commands, replies), run by serve in the process that holds the
#: channel's sender key until `stop`: (settings, engine, now, the channel, the names of the
#: running channels, stop).
BotRunner = Callable[["Settings", "Engine", Callable[[], datetime], Channel, Sequence[str],
                      "asyncio.Event"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str  # as outbox rows, deliveries and contacts say it
    label: str  # as people read it
    #: What a contact holds on this channel, as people read it; None: the channel has no
    #: contacts (the console).
    address_kind: str | None
    chat: bool  # a chat the person links with an invite code (`kehoach invite`)
    build: Callable[[Settings], Channel | None]  # None when its settings are absent
    describe: Callable[[Settings], str]  # the line `kehoach serve` prints at start
    bot: BotRunner | None = None  # a chat channel's bot, if it has one


def _console(settings: Settings) -> Channel:
    from notifiers.console import ConsoleChannel
    return ConsoleChannel()


def _telegram(settings: Settings) -> Channel | None:
    from notifiers.telegram import TelegramChannel
    return TelegramChannel.from_settings(settings)


def _zalo(settings: Settings) -> Channel | None:
    from notifiers.zalo import ZaloChannel
    return ZaloChannel.from_settings(settings)


def _email(settings: Settings) -> Channel | None:
    from notifiers.email import EmailChannel
    return EmailChannel.from_settings(settings)


def _bot(module: str, name: str) -> BotRunner:
    """A chat channel's bot runner: the class `name` of `module` (imported when it runs),
    made `from_settings` with the channel's limiter, run until `stop`."""
    async def run(settings: Settings, engine: Engine, now: Callable[[], datetime],
                  channel: Channel, running: Sequence[str], stop: asyncio.Event) -> None:
        made = getattr(importlib.import_module(module), name)
        bot = made.from_settings(settings, engine, now=now, limiter=channel.limiter,
                                 channels=running)
        if bot is not None:
            await bot.run(stop)
    return run


def _describe_chat(label: str, prefix: str, answers: str) -> Callable[[Settings], str]:
    """The start line of a chat channel whose settings are KEHOACH_<prefix>_TOKEN and
    KEHOACH_<prefix>_WEBHOOK_URL; `answers`: what its bot takes besides commands."""
    def describe(settings: Settings) -> str:
        token, webhook = f"KEHOACH_{prefix}_TOKEN", f"KEHOACH_{prefix}_WEBHOOK_URL"
        if not settings.get(token):
            return f"{label}: tắt (chưa đặt {token})."
        mode = "webhook " + settings[webhook] if settings.get(webhook) else "long polling"
        return (f"{label}: bật (gửi tin cho người đã liên kết; bot nhận lệnh và {answers} "
                f"({mode})). Chỉ một tiến trình giữ mã bot gửi tin và chạy bot; các tiến "
                "trình khác chờ để thay khi nó dừng.")
    return describe


def _describe_email(settings: Settings) -> str:
    host = settings.get("KEHOACH_SMTP_HOST")
    return f"Thư điện tử: bật (SMTP {host})." if host else \
        "Thư điện tử: tắt (chưa đặt KEHOACH_SMTP_HOST)."


CONSOLE = ChannelSpec("console", "Màn hình", None, False, _console,
                      lambda _: "Tin cho đơn vị chưa ai nhận được: in ra màn hình.")
REGISTRY: tuple[ChannelSpec, ...] = (
    CONSOLE,
    ChannelSpec("telegram", "Telegram", "mã chat Telegram", True, _telegram,
                _describe_chat("Telegram", "TELEGRAM", "nút bấm"),
                _bot("kehoach.chat.telegram_bot", "KehoachBot")),
    ChannelSpec("zalo", "Zalo", "mã người dùng Zalo", True, _zalo,
                _describe_chat("Zalo", "ZALO", "tin trả lời 1, 2, 3"),
                _bot("kehoach.chat.zalo_bot", "ZaloBot")),
    ChannelSpec("email", "Thư điện tử", "địa chỉ thư", False, _email, _describe_email),
)
#: The channel a unit's notifications go to when nobody in it can be reached.
FALLBACK = CONSOLE.name


def spec(name: str) -> ChannelSpec | None:
    """The registered channel called `name`, or None."""
    return next((s for s in REGISTRY if s.name == name), None)


def rank(name: str) -> int:
    """The place of `name` in the registry (an unknown name last): the order of contacts of
    equal preference."""
    return next((i for i, s in enumerate(REGISTRY) if s.name == name), len(REGISTRY))


def label(name: str) -> str:
    """How people read the channel's name (an unknown one as it is)."""
    found = spec(name)
    return found.label if found is not None else name


def contact_channels() -> tuple[ChannelSpec, ...]:
    """The channels a person can have a contact on."""
    return tuple(s for s in REGISTRY if s.address_kind is not None)


def chat_channels() -> tuple[ChannelSpec, ...]:
    """The chat channels a person links with an invite code."""
    return tuple(s for s in REGISTRY if s.chat)


def build_all(settings: Settings) -> list[Channel]:
    """The channels whose settings are present, in registry order (the console first). A
    wrong setting raises kehoach's SettingsError naming it."""
    from kehoach.settings import SettingsError
    built = []
    for s in REGISTRY:
        try:
            built.append(s.build(settings))
        except ChannelSettingError as exc:
            raise SettingsError(str(exc)) from None
    return [c for c in built if c is not None]
