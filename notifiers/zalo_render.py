"""What a Zalo message says: the Telegram templates' text (notifiers/telegram_render.py, one
wording for both chats) as plain text — Zalo's sendMessage takes no HTML — cut into messages
of at most `limit` characters, and, where Telegram shows buttons, short numbered replies the
person types back in the chat (kehoach.chat.zalo_bot answers them against the latest such
message sent to that chat).

    texts = render(Notification(7, "k", "doan-a", "reminder", 0, payload))
    texts[-1].endswith("Trả lời 1 = đã xong, 2 = xin gia hạn, 3 = chi tiết")
"""

from __future__ import annotations

import html
import re

from notifiers.base import Notification
from notifiers.telegram_render import render as render_html
from notifiers.telegram_render import template_for, utf16_len

TAG = re.compile(r"<[^>]+>")
DONE, EXTEND, INFO = "1", "2", "3"  # the replies to a step's message
GRANT, REFUSE = "1", "2"  # the replies to an extension request
STEP_REPLIES = "Trả lời 1 = đã xong, 2 = xin gia hạn, 3 = chi tiết"
EVENT_REPLIES = "Trả lời 1 = đã xong, 3 = chi tiết"
DECISION_REPLIES = "Trả lời 1 = đồng ý, 2 = từ chối, 3 = chi tiết"
STEP_TEMPLATES = ("reminder", "due_today", "overdue", "escalation")


def plain(text: str) -> str:
    """HTML (Telegram's subset) as the plain text it shows."""
    return html.unescape(TAG.sub("", text))


def replies(n: Notification) -> str | None:
    """The numbered replies `n`'s message ends with, or None (nothing to answer)."""
    name = template_for(n)
    if name in STEP_TEMPLATES:
        return EVENT_REPLIES if n.payload.get("event") else STEP_REPLIES
    if name == "extension_asked":
        return DECISION_REPLIES
    return None


def render(n: Notification, limit: int = 2000, public_url: str | None = None) -> list[str]:
    """The plain-text messages `n` is sent as, each at most `limit` UTF-16 units (the stricter
    count of "characters"): the Telegram parts, cut for `limit` less the replies' line, so the
    text without tags fits too."""
    footer = replies(n)
    room = limit - (utf16_len(footer) + 2 if footer else 0)
    texts = [plain(part.text).strip() for part in render_html(n, room, public_url)]
    if footer:
        texts[-1] = f"{texts[-1]}\n\n{footer}"
    return texts
