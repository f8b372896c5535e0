"""The Zalo bot inside `kehoach serve`: long polling (getUpdates, one update per call, 408
when none came) by default; with KEHOACH_ZALO_WEBHOOK_URL, Zalo POSTs each update to the
board's `/zalo/webhook` (kehoach/web/zalo_webhook.py; the `X-Bot-Api-Secret-Token` header
checked against KEHOACH_ZALO_WEBHOOK_SECRET) and the bot only registers that address.

Zalo has no buttons, so the chat is typed (docs/zalo.md):

- the one-time code of `kehoach invite --channel zalo` (or `/start CODE`) links the chat to
  the person it was made for; a wrong, used or expired code is refused politely;
- `1`, `2`, `3` answer the latest message with numbered replies sent to the person on Zalo
  (a reminder: done / ask for an extension / details; an extension request to an approver:
  grant / refuse / details); an extension then asks for the new date (checked at once) and
  the reason, a refusal for its reason (kehoach/chat/dialogue.py, as in the Telegram bot;
  a command drops them);
- `/viec`, `/quahan`, `/lich`, `/huy`, `/help`, as in the Telegram bot.

What may be done, by whom, and what is said back are the services the Telegram bot uses
(kehoach/chat/actions.py: the store's actions, the same refusals); their HTML is said here
as plain text. The store work and the HTTP calls run in threads (`asyncio.to_thread`),
one write transaction per action; the bot's messages share the channel's rate limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine, select

from kehoach import store
from kehoach.chat import actions as acts
from kehoach.chat.dialogue import COMMAND_LINES, NO_SUCH_COMMAND, NOBODY_LINKED, Dialogue, unlinked
from kehoach.chat.links import LinkRefused, person_for, redeem, unlink
from kehoach.store.models import Sending, outbox_table
from notifiers.telegram_render import fit
from notifiers.zalo import DEFAULT_MAX_CHARS, Limiter, ZaloAPI, ZaloError, mapped
from notifiers.zalo_render import DONE, EXTEND, GRANT, INFO, REFUSE, plain

log = logging.getLogger("kehoach.zalo.bot")
CHANNEL = "zalo"
CODE = re.compile(r"[A-Za-z0-9_-]{20,64}")  # what `kehoach invite` prints (token_urlsafe)
#: The messages a 1/2/3 answers: a step's (reminder, overdue, escalation) or an extension
#: request's (to its approver).
ANSWERABLE = ("reminder", "escalation", "extension_asked")
HELP = (
    "🤖 Bot nhắc việc Kế hoạch\n"
    "Bot gửi tin nhắc việc, báo trễ hạn và tin tổng hợp hằng ngày cho đơn vị của bạn. "
    "Cuối mỗi tin nhắc có các số để trả lời: 1 = đã xong, 2 = xin gia hạn, 3 = chi tiết.\n\n"
    + COMMAND_LINES
)
NOT_LINKED = (
    "Chat Zalo này chưa liên kết với ai. Xin nhờ thư ký đơn vị tạo mã mời "
    "(kehoach invite --channel zalo) rồi gửi mã đó vào đây."
)
HINT = "Gõ 1, 2 hoặc 3 để trả lời tin nhắc mới nhất, hoặc /help để xem bot làm được gì."


def latest_answerable(session: Any, person_id: int) -> Any | None:
    """The latest message with numbered replies sent to the person on Zalo (its outbox row)."""
    o = outbox_table
    return session.execute(
        select(o)
        .where(
            o.c.channel == CHANNEL,
            o.c.person_id == person_id,
            o.c.state == Sending.SENT,
            o.c.step_id.is_not(None),
            o.c.purpose.in_(ANSWERABLE),
        )
        .order_by(o.c.updated_at.desc(), o.c.id.desc())
        .limit(1)
    ).one_or_none()


def said(outcome: acts.Outcome) -> list[str]:
    """What an action's outcome says in a chat without buttons or edits: the message as it
    now stands (with who did what) and the reply, else the short answer."""
    texts = [t for t in (outcome.edit, outcome.reply) if t]
    return texts or ([outcome.answer] if outcome.answer else [])


#: The bots running in webhook mode in this process, by bot token: the board's /zalo/webhook
#: hands them its updates, so their answers are paced by the channel's limiter together with
#: the reminders it sends, and a chat's questions are kept in one place.
WEBHOOK_BOTS: dict[str, ZaloBot] = {}


#: Tries of one answer's message while its failure is one to try again (notifiers.zalo.mapped:
#: a 429, whose wait Zalo names, a 5xx, a request that never left), a second apart otherwise.
ANSWER_ATTEMPTS = 3


class ZaloBot:
    def __init__(
        self,
        engine: Engine,
        api: ZaloAPI,
        *,
        now: Callable[[], datetime],
        limiter: Limiter | None = None,
        channels: Collection[str] = (CHANNEL,),
        public_url: str | None = None,
        poll_timeout: float = 30.0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
    ):
        self.engine, self.api, self.now, self.channels = engine, api, now, tuple(channels)
        self.limiter = limiter if limiter is not None else Limiter()
        self.public_url, self.poll_timeout = public_url, poll_timeout
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.max_chars = max_chars
        self.dialogue = Dialogue(engine, now, self.channels, CHANNEL)
        self.seen: OrderedDict[str, None] = OrderedDict()  # message ids (webhook retries)

    # ── running ─────────────────────────────────────────────────────────────────────────────
    async def _call(
        self, method: str, payload: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        return await asyncio.to_thread(self.api.call, method, payload, timeout)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve updates until `stop`; start-up failures are logged and retried."""
        try:
            while not stop.is_set():
                try:
                    me = await self._call("getMe")
                    if self.webhook_url:
                        await self._call(
                            "setWebhook",
                            {"url": self.webhook_url, "secret_token": self.webhook_secret},
                        )
                    else:
                        await self._call("deleteWebhook")
                    break
                except (ZaloError, httpx.HTTPError) as exc:
                    log.error("không kết nối được Zalo (%s); thử lại sau 10 giây", exc)
                    await self._pause(stop, 10)
            if stop.is_set():
                return
            log.info(
                "bot Zalo %s đang chạy (%s)",
                (me or {}).get("account_name", ""),
                "webhook" if self.webhook_url else "long polling",
            )
            if self.webhook_url:
                WEBHOOK_BOTS[self.api.token] = self  # the board's /zalo/webhook hands them over
                try:
                    await stop.wait()
                finally:
                    if WEBHOOK_BOTS.get(self.api.token) is self:
                        del WEBHOOK_BOTS[self.api.token]
            else:
                await self._poll(stop)
        finally:
            await asyncio.to_thread(self.api.close)

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    async def _poll(self, stop: asyncio.Event) -> None:
        waiting = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                asking = asyncio.ensure_future(
                    self._call(
                        "getUpdates",
                        {"timeout": str(int(self.poll_timeout))},
                        self.poll_timeout + 10,
                    )
                )
                await asyncio.wait({asking, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if not asking.done():  # stopping: the long poll's thread ends on its own
                    asking.cancel()
                    await asyncio.wait({asking})  # nothing left pending when the loop closes
                    return
                try:
                    update = asking.result()
                except ZaloError as exc:
                    if exc.code != 408:  # 408: nothing came within the timeout
                        log.warning("Zalo getUpdates: %s; thử lại sau 5 giây", exc)
                        await self._pause(stop, 5)
                    continue
                except httpx.HTTPError as exc:
                    log.warning("Zalo getUpdates: %s; thử lại sau 5 giây", exc)
                    await self._pause(stop, 5)
                    continue
                if isinstance(update, dict):
                    await self.handle(update)
        finally:
            waiting.cancel()

    async def handle(self, update: Mapping[str, Any]) -> None:
        """One update (from getUpdates or the webhook): a text answered; others ignored."""
        message = update.get("message") or {}
        chat = str((message.get("chat") or {}).get("id") or "")
        text = message.get("text")
        if (
            update.get("event_name") != "message.text.received"
            or not chat
            or not isinstance(text, str)
        ):
            return
        key = str(message.get("message_id") or "")
        if key:
            if key in self.seen:
                return
            self.seen[key] = None
            if len(self.seen) > 5000:
                self.seen.popitem(last=False)
        try:
            texts = await asyncio.to_thread(self.answer, chat, text)
        except Exception:
            log.exception("bot Zalo lỗi khi xử lý tin của chat %s", chat)
            texts = ["Xin lỗi, bot gặp lỗi khi xử lý tin này. Xin thử lại sau."]
        for reply in texts:
            await self.say(chat, reply)

    async def say(self, chat: str, text: str) -> None:
        """Say `text` (HTML of the services, or plain) in the chat, in several messages when
        it is longer than Zalo takes; a failure is logged (the person may write again)."""
        for part in fit(plain(text).strip(), self.max_chars):
            for attempt in range(1, ANSWER_ATTEMPTS + 1):
                await asyncio.sleep(self.limiter.reserve())  # its slot, holding no thread
                try:
                    await asyncio.to_thread(self._send, chat, part)
                    break
                except (ZaloError, httpx.HTTPError) as exc:
                    failed = mapped(exc)  # the dispatcher's reading of the same failure
                    if failed.permanent or failed.unknown or attempt == ANSWER_ATTEMPTS:
                        log.warning("không gửi được tin trả lời cho chat Zalo %s: %s", chat, exc)
                        return
                    await asyncio.sleep(failed.retry_after or 1.0)

    def _send(self, chat: str, text: str) -> None:
        """Admitted by the limiter and sent in one go in one thread: a send admitted in one
        thread and made from another (the loop's pool busy) would reach Zalo late, bunched
        with the next ones."""
        self.limiter.enter()
        self.api.call("sendMessage", {"chat_id": chat, "text": text})

    # ── what a text means (sync, in a thread) ───────────────────────────────────────────────
    def answer(self, chat: str, text: str) -> list[str]:
        """The messages the bot sends back for `text` written in `chat`."""
        text = text.strip()
        if text.startswith("/"):
            self.dialogue.drop(chat)
            command, _, argument = text[1:].partition(" ")
            return self.command(chat, command.lower(), argument.strip())
        person = store.reading(self.engine, person_for, CHANNEL, chat)
        if person is None:
            self.dialogue.drop(chat)
            return self.link(chat, text) if CODE.fullmatch(text) else [NOT_LINKED]
        try:
            if self.dialogue.waiting(chat):
                turn = self.dialogue.answer(chat, person, text)
                return said(turn.outcome) if turn.outcome is not None else [turn.say]
            if text in (DONE, EXTEND, INFO):
                return self.reply(person, chat, text)
        except acts.Refused as exc:
            self.dialogue.drop(chat)
            return [acts.esc(exc)]  # HTML, like every text `say` makes plain
        return [HINT]

    def link(self, chat: str, code: str) -> list[str]:
        try:
            person = store.writing(self.engine, redeem, code, CHANNEL, chat, self.now())
        except LinkRefused as exc:
            return [acts.esc(exc)]
        return [
            f"✅ Đã liên kết chat Zalo này với {acts.esc(person.name)}. "
            f"Từ nay bạn nhận tin nhắc việc ở đây.\n\n{HELP}"
        ]

    def command(self, chat: str, command: str, argument: str) -> list[str]:
        if command == "start" and argument:
            return self.link(chat, argument)
        if command in ("start", "help"):
            return [HELP]
        if command == "huy":
            person = store.writing(self.engine, unlink, CHANNEL, chat)
            return [NOBODY_LINKED if person is None else unlinked(person.name)]
        if command not in ("viec", "quahan", "lich"):
            return [NO_SUCH_COMMAND]
        person = store.reading(self.engine, person_for, CHANNEL, chat)
        if person is None:
            return [NOT_LINKED]
        if command == "lich":
            return [
                store.writing(
                    self.engine,
                    acts.feed_link,
                    person,
                    self.now(),
                    self.public_url,
                    channel=CHANNEL,
                )
            ]
        parts = store.reading(self.engine, acts.agenda, person, self.now(), command == "quahan")
        return [part.text for part in parts]

    def reply(self, person: Any, chat: str, digit: str) -> list[str]:
        """1/2/3 against the latest message with numbered replies."""
        row = store.reading(self.engine, latest_answerable, person.id)
        if row is None:
            return ["Chưa có tin nhắc nào để trả lời. Gõ /viec để xem việc của bạn."]
        now = self.now()
        if digit == INFO:
            return said(store.writing(self.engine, acts.details, person, row.id, now))
        if row.purpose == "extension_asked":
            if digit == GRANT:
                return said(
                    store.writing(
                        self.engine,
                        acts.decide,
                        person,
                        row.id,
                        True,
                        None,
                        now,
                        self.channels,
                        channel=CHANNEL,
                    )
                )
            assert digit == REFUSE
            return [self.dialogue.ask_refusal(chat, person, row.id)]
        if digit == DONE:
            return said(store.writing(self.engine, acts.done, person, row.id, now, channel=CHANNEL))
        return [self.dialogue.ask_date(chat, person, row.id)]
