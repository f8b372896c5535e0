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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from notifiers.base import Channel

if TYPE_CHECKING:
    import asyncio

    from sqlalchemy import Engine

    from kehoach.chat.telegram_bot import KehoachBot
    from kehoach.chat.zalo_bot import ZaloBot
    from kehoach.settings import Settings

#: A chat channel's bot (commands, replies) made from the settings, None without them:
#: (settings, engine, now, the limiter its answers share, the names of the running channels).
#: serve runs it (`await bot.run(stop)`) in the process that holds the channel's sender key.
BotFactory = Callable[
    ["Settings", "Engine", Callable[[], datetime], Any, Sequence[str]], "ChatBot | None"
]


class ChatBot(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


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
    bot: BotFactory | None = None  # a chat channel's bot, if it has one


def _console(settings: Settings) -> Channel:
    from notifiers.console import ConsoleChannel

    return ConsoleChannel()


def _telegram(settings: Settings) -> Channel | None:
    from notifiers.telegram import TelegramChannel

    if settings.telegram_token is None:
        return None
    return TelegramChannel(settings.telegram_token.get_secret_value(), settings.telegram_base_url)


def _zalo(settings: Settings) -> Channel | None:
    from notifiers.zalo import Limiter, ZaloChannel

    if settings.zalo_token is None:
        return None
    return ZaloChannel(
        settings.zalo_token.get_secret_value(),
        settings.zalo_base_url,
        limiter=Limiter(settings.zalo_rate),
        max_chars=settings.zalo_max_chars,
    )


def _email(settings: Settings) -> Channel | None:
    import ssl

    from notifiers.email import EmailChannel

    if not settings.smtp_host or not settings.smtp_sender:  # Settings checked the rest
        return None
    context = ssl.create_default_context()
    if settings.smtp_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.smtp_ca_file))
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return EmailChannel(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        user=settings.smtp_user,
        password=password,
        sender=settings.smtp_sender,
        context=context,
        timeout=settings.smtp_timeout,
    )


def _telegram_bot(
    settings: Settings,
    engine: Engine,
    now: Callable[[], datetime],
    limiter: Any,
    running: Sequence[str],
) -> KehoachBot | None:
    from kehoach.chat.telegram_bot import KehoachBot

    if settings.telegram_token is None:
        return None
    secret = settings.telegram_webhook_secret
    return KehoachBot(
        engine,
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        public_url=settings.public_address,
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=secret.get_secret_value() if secret else None,
        webhook_listen=settings.telegram_webhook_listen,
        now=now,
        limiter=limiter,
        channels=running,
    )


def zalo_bot(
    settings: Settings,
    engine: Engine,
    now: Callable[[], datetime],
    limiter: Any = None,
    running: Sequence[str] = ("zalo",),
) -> ZaloBot | None:
    """The Zalo bot of these settings (None without a token): run by serve in the process
    that holds the token, and answering the webhook on the board."""
    from kehoach.chat.zalo_bot import ZaloBot
    from notifiers.zalo import Limiter, ZaloAPI

    if settings.zalo_token is None:
        return None
    secret = settings.zalo_webhook_secret
    return ZaloBot(
        engine,
        ZaloAPI(settings.zalo_token.get_secret_value(), settings.zalo_base_url, timeout=15.0),
        now=now,
        limiter=limiter or Limiter(settings.zalo_rate),
        channels=running,
        public_url=settings.public_address,
        webhook_url=settings.zalo_webhook_url,
        webhook_secret=secret.get_secret_value() if secret else None,
        max_chars=settings.zalo_max_chars,
    )


def _describe_chat(
    label: str,
    answers: str,
    token: Callable[[Settings], object],
    webhook: Callable[[Settings], str | None],
    prefix: str,
) -> Callable[[Settings], str]:
    """The start line of a chat channel (settings KEHOACH_<prefix>_TOKEN and _WEBHOOK_URL);
    `answers`: what its bot takes besides commands."""

    def describe(settings: Settings) -> str:
        if not token(settings):
            return f"{label}: tắt (chưa đặt KEHOACH_{prefix}_TOKEN)."
        url = webhook(settings)
        mode = "webhook " + url if url else "long polling"
        return (
            f"{label}: bật (gửi tin cho người đã liên kết; bot nhận lệnh và {answers} "
            f"({mode})). Chỉ một tiến trình giữ mã bot gửi tin và chạy bot; các tiến "
            "trình khác chờ để thay khi nó dừng."
        )

    return describe


def _describe_email(settings: Settings) -> str:
    host = settings.smtp_host
    return (
        f"Thư điện tử: bật (SMTP {host})."
        if host
        else "Thư điện tử: tắt (chưa đặt KEHOACH_SMTP_HOST)."
    )


CONSOLE = ChannelSpec(
    "console",
    "Màn hình",
    None,
    False,
    _console,
    lambda _: "Tin cho đơn vị chưa ai nhận được: in ra màn hình.",
)
REGISTRY: tuple[ChannelSpec, ...] = (
    CONSOLE,
    ChannelSpec(
        "telegram",
        "Telegram",
        "mã chat Telegram",
        True,
        _telegram,
        _describe_chat(
            "Telegram",
            "nút bấm",
            lambda s: s.telegram_token,
            lambda s: s.telegram_webhook_url,
            "TELEGRAM",
        ),
        _telegram_bot,
    ),
    ChannelSpec(
        "zalo",
        "Zalo",
        "mã người dùng Zalo",
        True,
        _zalo,
        _describe_chat(
            "Zalo",
            "tin trả lời 1, 2, 3",
            lambda s: s.zalo_token,
            lambda s: s.zalo_webhook_url,
            "ZALO",
        ),
        zalo_bot,
    ),
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
    """The channels whose settings are present, in registry order (the console first); the
    settings were checked when they were read (kehoach.settings)."""
    return [c for c in (s.build(settings) for s in REGISTRY) if c is not None]
