"""Telegram: `kehoach invite PERSON` makes a one-time code that links a chat to the person."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kehoach.channels import chat_channels
from kehoach.cli import Bounded, main, out
from kehoach.cli_store import NOW_OPTION, _now, _ready_engine, _store_fail, settings

if TYPE_CHECKING:
    from kehoach.settings import Settings

PLACEHOLDER = "TEN_BOT"  # shown when no bot token is set: the secretary fills in the name


def bot_username(config: Settings) -> str | None:
    """The bot's @username (getMe), or None when no token is set or Telegram cannot say."""
    import asyncio

    from telegram import Bot
    from telegram.error import TelegramError

    from notifiers.telegram import DEFAULT_BASE_URL
    from notifiers.telegram_http import AiohttpRequest

    if config.telegram_token is None:
        return None
    token = config.telegram_token.get_secret_value()

    async def ask() -> str | None:
        bot = Bot(
            token,
            base_url=config.telegram_base_url or DEFAULT_BASE_URL,
            request=AiohttpRequest(read_timeout=10, connect_timeout=10),
        )
        async with bot:
            return bot.username

    try:
        return asyncio.run(ask())
    except (TelegramError, OSError) as exc:
        out.print(f"[yellow]chú ý[/yellow] không hỏi được tên bot từ Telegram: {exc}", markup=True)
        return None


@main.command()
@click.argument("who", metavar="NGƯỜI")
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=Bounded(1, 90),
    help="Mã hết hạn sau bấy nhiêu ngày (1 đến 90).",
)
@click.option("--by", "actor", default="thư ký", show_default=True, help="Người tạo mã.")
@click.option(
    "--channel",
    default="telegram",
    show_default=True,
    type=click.Choice([s.name for s in chat_channels()]),
    help="Kênh chat sẽ liên kết (mã dùng được cho kênh nào cũng được).",
)
@NOW_OPTION
def invite(who: str, days: int, actor: str, channel: str, now_text: str | None) -> None:
    """Tạo mã mời dùng một lần để NGƯỜI (số, tên đăng nhập hoặc tên) liên kết Telegram
    (in đường dẫn t.me/<bot>?start=MÃ và mã) hoặc Zalo (gửi mã cho bot Zalo)."""
    from datetime import timedelta

    from engine.model import ZONE as VN
    from kehoach import store
    from kehoach.chat.links import create_invite
    from kehoach.store.people import find_person

    now = _now(now_text)
    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            person = find_person(session, who)
            code = create_invite(session, person.id, actor, now, timedelta(days=days))
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    expires = (now + timedelta(days=days)).astimezone(VN)
    out.print(
        f"Mã mời cho {person.name} (dùng một lần, hết hạn {expires:%H:%M %d/%m/%Y}):", markup=False
    )
    if channel == "zalo":
        out.print(f"Mã: {code}", markup=False, soft_wrap=True)
        out.print(
            "Mở bot Zalo của đơn vị (Zalo chỉ cho bot trả lời người đã nhắn trước) và "
            "gửi mã này cho bot trong khung chat.",
            markup=False,
            soft_wrap=True,
        )
        return
    username = bot_username(settings())
    out.print(f"https://t.me/{username or PLACEHOLDER}?start={code}", markup=False, soft_wrap=True)
    out.print(f"Mã: {code}", markup=False, soft_wrap=True)
    if username is None:
        out.print(
            f"(Chưa đặt KEHOACH_TELEGRAM_TOKEN: thay {PLACEHOLDER} bằng tên bot, hoặc gửi "
            f"cho bot: /start {code})",
            markup=False,
            soft_wrap=True,
        )
