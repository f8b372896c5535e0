"""The bot inside `kehoach serve`: a python-telegram-bot `Application` on serve's asyncio loop,
long polling by default, a webhook when KEHOACH_TELEGRAM_WEBHOOK_URL is set (the
`secret_token` header, KEHOACH_TELEGRAM_WEBHOOK_SECRET, is checked on every request by PTB's
webhook server, which listens on KEHOACH_TELEGRAM_WEBHOOK_LISTEN, default 127.0.0.1:8443).

- `/start CODE` links the chat to the person the code was made for (`kehoach invite`); a
  wrong, used or expired code gets a polite refusal and nothing changes;
- the buttons of a reminder (✅ done, ⏳ extension, 📋 details) and of an extension request
  (Đồng ý / Từ chối) act for the person linked to the chat (kehoach/chat/actions.py);
- an extension asks in the chat for the new date, then the reason; a refusal asks for its
  reason (kehoach/chat/dialogue.py, the same questions as the Zalo bot's; a command drops
  them);
- `/viec`, `/quahan`, `/lich`, `/huy`, `/help`, registered with setMyCommands.

Store work runs in a thread (`asyncio.to_thread`), one write transaction per action.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Coroutine
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

from sqlalchemy import Engine
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from kehoach import store
from kehoach.chat import actions as acts
from kehoach.chat.dialogue import COMMAND_LINES, NO_SUCH_COMMAND, NOBODY_LINKED, Dialogue, unlinked
from kehoach.chat.links import LinkRefused, person_for, redeem, unlink
from notifiers.telegram import DEFAULT_BASE_URL, Limiter, markup
from notifiers.telegram_http import AiohttpRequest
from notifiers.telegram_render import DONE, EXTEND, GRANT, INFO, REFUSE, fit

log = logging.getLogger("kehoach.telegram.bot")
T = TypeVar("T")
CHANNEL = "telegram"  # the registry's name of this bot's channel (kehoach/channels.py)
#: The methods that count against Telegram's message limits.
LIMITED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
COMMANDS = [
    ("viec", "Việc sắp đến hạn và quá hạn của tôi"),
    ("quahan", "Việc đã quá hạn"),
    ("lich", "Địa chỉ lịch việc của tôi"),
    ("huy", "Hủy liên kết Telegram này"),
    ("help", "Hướng dẫn"),
]
HELP = (
    "🤖 <b>Bot nhắc việc Kế hoạch</b>\n"
    "Bot gửi tin nhắc việc, báo trễ hạn và tin tổng hợp hằng ngày cho đơn vị của bạn. "
    "Dưới mỗi tin nhắc có nút ✅ Đã hoàn thành, ⏳ Xin gia hạn, 📋 Chi tiết.\n\n" + COMMAND_LINES
)
NOT_LINKED = (
    "Chat này chưa liên kết với ai. Xin nhờ thư ký đơn vị tạo mã mời "
    "(<code>kehoach invite</code>) rồi bấm vào đường dẫn, hoặc gửi /start MÃ."
)


class SharedLimits(BaseRateLimiter[None]):
    """PTB's rate-limiter hook on the channel's `Limiter`: the bot's own messages and edits
    share the process's limits with the reminders the channel sends."""

    def __init__(self, limiter: Limiter):
        self.limiter = limiter

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        chat = data.get("chat_id")
        if endpoint in LIMITED and isinstance(chat, int | str) and str(chat).lstrip("-").isdigit():
            await self.limiter.wait(int(chat))
        return await callback(*args, **kwargs)


class KehoachBot:
    def __init__(
        self,
        engine: Engine,
        token: str,
        *,
        base_url: str | None = None,
        now: Callable[[], datetime],
        channels: Collection[str] = ("telegram",),
        public_url: str | None = None,
        poll_timeout: float = 10.0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_listen: str | None = None,
        limiter: Limiter | None = None,
    ):
        self.engine, self.now, self.channels = engine, now, tuple(channels)
        self.public_url, self.poll_timeout = public_url, poll_timeout
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.webhook_listen = webhook_listen or "127.0.0.1:8443"
        self.dialogue = Dialogue(engine, now, self.channels, CHANNEL)
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url or DEFAULT_BASE_URL)
            .request(AiohttpRequest(read_timeout=15.0))
            .get_updates_request(
                AiohttpRequest(connection_pool_size=2, read_timeout=poll_timeout + 10.0)
            )
            .rate_limiter(SharedLimits(limiter if limiter is not None else Limiter()))
            .build()
        )
        self.app.add_handler(CommandHandler("start", self.on_start))
        self.app.add_handler(CommandHandler("help", self.on_help))
        self.app.add_handler(CommandHandler("viec", self.on_viec))
        self.app.add_handler(CommandHandler("quahan", self.on_quahan))
        self.app.add_handler(CommandHandler("lich", self.on_lich))
        self.app.add_handler(CommandHandler("huy", self.on_huy))
        self.app.add_handler(CallbackQueryHandler(self.on_button))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        self.app.add_handler(MessageHandler(filters.COMMAND, self.on_unknown_command))
        self.app.add_error_handler(self.on_error)

    # ── running ─────────────────────────────────────────────────────────────────────────────
    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates until `stop`; start-up failures are logged and retried."""
        while not stop.is_set():
            try:
                await self.app.initialize()
                break
            except TelegramError as exc:
                log.error("không kết nối được Telegram (%s); thử lại sau 10 giây", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 10)
        if stop.is_set():
            return
        try:
            try:
                await self.app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
            except TelegramError as exc:
                log.warning("không đăng ký được danh sách lệnh: %s", exc)
            await self._start_updates()
            await self.app.start()
            log.info(
                "bot Telegram @%s đang chạy (%s)",
                self.app.bot.username,
                "webhook" if self.webhook_url else "long polling",
            )
            await stop.wait()
        finally:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()

    async def _start_updates(self) -> None:
        updater = self.app.updater
        assert updater is not None
        allowed = ["message", "callback_query"]
        if self.webhook_url:
            host, _, port = self.webhook_listen.rpartition(":")
            await updater.start_webhook(
                listen=host or "127.0.0.1",
                port=int(port),
                url_path=urlparse(self.webhook_url).path.lstrip("/"),
                webhook_url=self.webhook_url,
                secret_token=self.webhook_secret,
                allowed_updates=allowed,
            )
        else:
            await updater.start_polling(
                poll_interval=0.0, timeout=int(self.poll_timeout), allowed_updates=allowed
            )

    # ── helpers ─────────────────────────────────────────────────────────────────────────────
    async def _write(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(store.writing, self.engine, work, *args, **kwargs)

    async def _read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(store.reading, self.engine, work, *args, **kwargs)

    async def _person(self, chat_id: int) -> Any | None:
        return await self._read(person_for, CHANNEL, str(chat_id))

    @staticmethod
    async def _say(update: Update, text: str, buttons: acts.Buttons | None = None) -> None:
        """Say `text` in the chat (in several messages, the buttons under the last, when it
        is longer than Telegram takes)."""
        if update.effective_chat is not None:
            parts = fit(text)
            for i, part in enumerate(parts, 1):
                await update.get_bot().send_message(
                    update.effective_chat.id,
                    part,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup(buttons or []) if i == len(parts) else None,
                )

    # ── commands ────────────────────────────────────────────────────────────────────────────
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        self.dialogue.drop(chat.id)
        code = (context.args or [""])[0]
        if not code:
            person = await self._person(chat.id)
            await self._say(
                update,
                (f"Xin chào {acts.esc(person.name)}! " if person else "")
                + HELP
                + ("" if person else "\n\n" + NOT_LINKED),
            )
            return
        try:
            linked = await self._write(redeem, code, CHANNEL, str(chat.id), self.now())
        except LinkRefused as exc:
            await self._say(update, acts.esc(str(exc)))
            return
        await self._say(
            update,
            f"✅ Đã liên kết chat này với <b>{acts.esc(linked.name)}</b>. "
            "Từ nay bạn nhận tin nhắc việc ở đây.\n\n" + HELP,
        )

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None:
            self.dialogue.drop(update.effective_chat.id)
        await self._say(update, HELP)

    async def _linked(self, update: Update) -> Any | None:
        """The person this chat is linked to, after dropping any question the chat had left
        open; None (and the chat told how to link) when it is not linked."""
        chat = update.effective_chat
        if chat is None:
            return None
        self.dialogue.drop(chat.id)
        person = await self._person(chat.id)
        if person is None:
            await self._say(update, NOT_LINKED)
        return person

    async def _agenda(self, update: Update, late_only: bool) -> None:
        person = await self._linked(update)
        if person is None:
            return

        for part in await self._read(acts.agenda, person, self.now(), late_only):
            await self._say(update, part.text)

    async def on_viec(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._agenda(update, late_only=False)

    async def on_quahan(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._agenda(update, late_only=True)

    async def on_lich(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        person = await self._linked(update)
        if person is None:
            return
        await self._say(
            update,
            await self._write(acts.feed_link, person, self.now(), self.public_url, channel=CHANNEL),
        )

    async def on_huy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        self.dialogue.drop(chat.id)
        person = await self._write(unlink, CHANNEL, str(chat.id))
        await self._say(update, NOBODY_LINKED if person is None else unlinked(person.name))

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None:
            self.dialogue.drop(update.effective_chat.id)
        await self._say(update, NO_SUCH_COMMAND)

    # ── buttons ─────────────────────────────────────────────────────────────────────────────
    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        code, _, raw_id = (query.data or "").partition(":")
        if code not in (DONE, EXTEND, INFO, GRANT, REFUSE) or not raw_id.isdigit():
            await query.answer("Nút này không còn dùng được.", show_alert=True)
            return
        outbox_id = int(raw_id)
        person = await self._person(chat.id)
        if person is None:
            await query.answer(
                "Chat này chưa liên kết với ai; gửi /start MÃ để liên kết.", show_alert=True
            )
            return
        message_id = query.message.message_id if query.message is not None else None
        try:
            outcome = await self._press(code, person, outbox_id, chat.id, message_id)
        except acts.Refused as exc:
            await query.answer(str(exc)[:200], show_alert=True)
            return
        await query.answer(outcome.answer[:200] or None)
        await self._show(update, outcome)

    async def _press(
        self, code: str, person: Any, outbox_id: int, chat_id: int, message_id: int | None
    ) -> acts.Outcome:
        now = self.now()
        if code == DONE:
            return await self._write(acts.done, person, outbox_id, now, channel=CHANNEL)
        if code == INFO:
            return await self._write(acts.details, person, outbox_id, now)
        if code == GRANT:
            return await self._write(
                acts.decide, person, outbox_id, True, None, now, self.channels, channel=CHANNEL
            )
        if code == EXTEND:
            ask = await asyncio.to_thread(
                self.dialogue.ask_date, chat_id, person, outbox_id, message_id
            )
        else:  # REFUSE
            ask = await asyncio.to_thread(
                self.dialogue.ask_refusal, chat_id, person, outbox_id, message_id
            )
        return acts.Outcome("", reply=ask)

    async def _show(
        self, update: Update, outcome: acts.Outcome, message_id: int | None = None
    ) -> None:
        chat = update.effective_chat
        if outcome.edit is not None and chat is not None:
            target = message_id or (
                update.callback_query.message.message_id
                if update.callback_query and update.callback_query.message
                else None
            )
            if target is not None:
                try:
                    await update.get_bot().edit_message_text(
                        fit(outcome.edit)[0],
                        chat_id=chat.id,
                        message_id=target,
                        parse_mode=ParseMode.HTML,
                        reply_markup=markup(outcome.buttons),
                    )
                except BadRequest as exc:  # an old message, or unchanged: say it instead
                    log.info("không sửa được tin %s: %s", target, exc)
                    await self._say(update, outcome.edit)
        if outcome.reply:
            await self._say(update, outcome.reply)

    # ── answers typed in the chat ───────────────────────────────────────────────────────────
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None or message.text is None:
            return
        if not self.dialogue.waiting(chat.id):
            await self._say(update, "Gõ /help để xem bot làm được gì.")
            return
        person = await self._person(chat.id)
        if person is None:
            self.dialogue.drop(chat.id)
            await self._say(update, NOT_LINKED)
            return
        turn = await asyncio.to_thread(self.dialogue.answer, chat.id, person, message.text)
        if turn.outcome is None:
            await self._say(update, turn.say)
        else:
            await self._show(update, turn.outcome, turn.message_id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error(
            "bot Telegram lỗi khi xử lý một cập nhật: %s", context.error, exc_info=context.error
        )
