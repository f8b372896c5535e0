"""The questions a chat bot asks after a press, the same for every chat channel: an extension
asks for the new date (checked at once: a past date, or one not after the deadline, is asked
again), then for the reason, and is requested; a refusal asks for its reason. The state is one
`Pending` per chat, in memory: a command drops it (the bot calls `drop`).

Sync (a bot runs these in a thread), one transaction per action; what is said is the HTML of
kehoach/chat/actions.py (a channel without markup says it as plain text)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from engine.errors import PlanError
from engine.phrases import parse_day
from kehoach import store
from kehoach.chat import actions as acts

ASK_DATE = (
    "⏳ Xin gửi <b>ngày hạn mới</b> bạn đề nghị, ví dụ <code>05/06/2025</code> (gửi /help để thôi)."
)
ASK_REASON = "Xin gửi <b>lý do</b> xin gia hạn."
ASK_REFUSAL = "Xin gửi <b>lý do từ chối</b> gia hạn (gửi /help để thôi)."
ANOTHER_DAY = " Xin gửi một ngày khác."
#: What every bot says to its commands (HTML, like the questions).
COMMAND_LINES = (
    "/viec — việc sắp đến hạn và quá hạn\n/quahan — việc đã quá hạn\n"
    "/lich — địa chỉ lịch việc để thêm vào điện thoại\n/huy — hủy liên kết\n"
    "/help — hướng dẫn này"
)
NO_SUCH_COMMAND = "Không có lệnh này. Gõ /help để xem các lệnh."
NOBODY_LINKED = "Chat này không liên kết với ai."


def unlinked(name: str) -> str:
    """What /huy says once the chat is no longer linked to `name`."""
    return (
        f"Đã hủy liên kết của {acts.esc(name)}. Bot sẽ không gửi tin đến đây nữa. "
        "Muốn nhận lại, xin thư ký tạo mã mời mới."
    )


@dataclass
class Pending:
    """What the bot waits for in a chat: "date" then "reason" of an extension, or the reason
    of a "refusal"; `message_id` the pressed message (to edit once done), when there is one."""

    kind: str
    outbox_id: int
    message_id: int | None = None
    until: date | None = None


@dataclass
class Turn:
    """What a typed answer leads to: `say` (the next question, or why the answer was not
    taken), or the `outcome` of the action it completed (the question is then closed)."""

    say: str = ""
    outcome: acts.Outcome | None = None
    message_id: int | None = None


class Dialogue:
    def __init__(
        self,
        engine: Engine,
        now: Callable[[], datetime],
        channels: Collection[str],
        channel: str,
    ):
        self.engine, self.now, self.channels, self.channel = engine, now, channels, channel
        self.pending: dict[Hashable, Pending] = {}

    def waiting(self, chat: Hashable) -> bool:
        return chat in self.pending

    def drop(self, chat: Hashable) -> None:
        self.pending.pop(chat, None)

    def ask_date(
        self, chat: Hashable, person: Any, outbox_id: int, message_id: int | None = None
    ) -> str:
        """The first question of an extension; raises acts.Refused when the person may not
        ask for one."""
        store.writing(self.engine, acts.can_request, person, outbox_id)
        self.pending[chat] = Pending("date", outbox_id, message_id)
        return ASK_DATE

    def ask_refusal(
        self, chat: Hashable, person: Any, outbox_id: int, message_id: int | None = None
    ) -> str:
        """The question of a refusal; raises acts.Refused when the person may not decide."""
        store.writing(self.engine, acts.can_decide, person, outbox_id)
        self.pending[chat] = Pending("refusal", outbox_id, message_id)
        return ASK_REFUSAL

    def answer(self, chat: Hashable, person: Any, text: str) -> Turn:
        """The chat's answer `text` to the question it was asked (`waiting(chat)`)."""
        pending = self.pending[chat]
        text = text.strip()
        if pending.kind == "date":
            return self._date(chat, person, pending, text)
        try:
            if pending.kind == "reason":
                assert pending.until is not None
                outcome = store.writing(
                    self.engine,
                    acts.request,
                    person,
                    pending.outbox_id,
                    pending.until,
                    text,
                    self.now(),
                    self.channels,
                    channel=self.channel,
                )
            else:
                outcome = store.writing(
                    self.engine,
                    acts.decide,
                    person,
                    pending.outbox_id,
                    False,
                    text,
                    self.now(),
                    self.channels,
                    channel=self.channel,
                )
        except acts.Refused as exc:
            if pending.kind == "reason" and exc.ask_again:
                pending.kind = "date"  # a date that cannot be (any more): ask for another
                return Turn(acts.esc(exc) + ANOTHER_DAY)
            self.drop(chat)
            return Turn(acts.esc(exc))
        self.drop(chat)
        return Turn(outcome=outcome, message_id=pending.message_id)

    def _date(self, chat: Hashable, person: Any, pending: Pending, text: str) -> Turn:
        try:
            until = parse_day(text)
        except PlanError:
            return Turn(
                f"«{acts.esc(text)}» không phải một ngày. Xin gửi lại, "
                "ví dụ <code>05/06/2025</code>."
            )
        try:  # a date that cannot be is said now, not after the reason
            store.reading(
                self.engine, acts.check_until, person, pending.outbox_id, until, self.now()
            )
        except acts.Refused as exc:
            if not exc.ask_again:
                self.drop(chat)
            return Turn(acts.esc(exc) + (ANOTHER_DAY if exc.ask_again else ""))
        pending.kind, pending.until = "reason", until
        return Turn(ASK_REASON)
