"""What a Telegram message says: Jinja2 templates (notifiers/templates/telegram/*.html, one per
purpose), HTML parse mode with every value escaped (autoescape), Vietnamese dates, messages of
at most 4,096 characters (a digest is split at line boundaries), inline buttons whose callback
data is a short action code and the outbox row's id (well under Telegram's 64 bytes).

    parts = render(Notification(7, "k", "doan-a", "reminder", 0, payload))
    parts[0].text, parts[0].buttons        # the HTML text, the rows of (label, callback data)
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from engine import vi
from engine.model import ZONE as VN
from notifiers.base import Notification
from notifiers.rendering import board_url, clip

LIMIT = 4096  # characters of one message (Telegram counts UTF-16 code units)
EPSILON = timedelta(microseconds=1)
TAG = re.compile(r"<[^>]+>")

#: Callback data: CODE:ID. d done, x ask for an extension, i details (ID: the outbox row of the
#: reminder); g grant, r refuse (ID: the outbox row of the extension request).
DONE, EXTEND, INFO, GRANT, REFUSE = "d", "x", "i", "g", "r"
DONE_LABEL, EXTEND_LABEL, INFO_LABEL = "✅ Đã hoàn thành", "⏳ Xin gia hạn", "📋 Chi tiết"
GRANT_LABEL, REFUSE_LABEL = "Đồng ý", "Từ chối"
STEP_PURPOSES = ("reminder", "due_today", "overdue", "escalation")


@dataclass(frozen=True)
class Part:
    """One message: HTML text and rows of (label, callback data) buttons."""

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def vn_deadline(value: str | datetime) -> str:
    """A deadline moment as people write it: "Thứ Sáu, 30/05/2025", with the hour when it is
    not the end of the day ("Thứ Sáu, 30/05/2025, 17g00")."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(VN)
    if local.time() == time(0):
        return vi.day((local - EPSILON).date())
    return f"{vi.day(local.date())}, {vi.clock(local.time())}"


def environment() -> Environment:
    # auto_reload off: templates are part of the code, read once (Jinja would otherwise stat
    # each file, and the ones it includes, on every message)
    env = Environment(
        loader=PackageLoader("notifiers", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(vn_deadline=vn_deadline, clip=clip, money=vi.money)
    return env


ENV = environment()


def template_for(n: Notification) -> str:
    """The template a notification is said with: a reminder on its last day is "due today";
    a rung heard by the late unit itself is "overdue", by a unit above it "escalation"."""
    p = n.payload
    if n.purpose == "reminder" and "moment" in p and "due_at" in p:
        moment = datetime.fromisoformat(p["moment"]).astimezone(VN).date()
        due = (datetime.fromisoformat(p["due_at"]) - EPSILON).astimezone(VN).date()
        return "due_today" if moment == due else "reminder"
    if n.purpose == "escalation":
        return "overdue" if p.get("unit") == n.recipient else "escalation"
    return n.purpose


def _context(n: Notification) -> dict[str, Any]:
    person = n.person.name if n.person is not None else None
    return {
        "person_name": None,
        "recipient_name": n.recipient,
        "level": n.level,
        "amount": None,
        "late": False,
        "event": False,
        **n.payload,
        **({"person_name": person} if person else {}),
    }


def step_buttons(n: Notification) -> list[list[tuple[str, str]]]:
    first = [(DONE_LABEL, f"{DONE}:{n.id}")]
    if not n.payload.get("event"):
        first.append((EXTEND_LABEL, f"{EXTEND}:{n.id}"))
    return [first, [(INFO_LABEL, f"{INFO}:{n.id}")]]


def split(head: str, lines: list[str], limit: int = LIMIT) -> list[str]:
    """`head` then the `lines`, cut into messages of at most `limit` characters, only between
    lines (each line is whole HTML: its tags close on it). The head starts each message."""
    messages: list[str] = []
    current = head
    for whole in lines:
        line = whole
        if utf16_len(head) + 1 + utf16_len(line) > limit:  # not with clipped titles; stays safe
            line = html.escape(html.unescape(TAG.sub("", line)))[: limit // 2]
        candidate = f"{current}\n{line}"
        if utf16_len(candidate) > limit and current != head:
            messages.append(current)
            candidate = f"{head}\n{line}"
        current = candidate
    messages.append(current)
    return messages


def fit(text: str, limit: int = LIMIT) -> list[str]:
    """`text` as one message, or several cut between lines when it is longer than Telegram
    takes (each starts with its first line)."""
    if utf16_len(text) <= limit:
        return [text]
    first, *rest = text.split("\n")
    return split(first, rest, limit)


def render_digest(n: Notification, limit: int = LIMIT) -> list[Part]:
    ctx = {"lost_links": [], **_context(n)}
    ctx["sections"] = [
        ("Quá hạn", "🔴", ctx.get("late", [])),
        ("Đến hạn hôm nay", "🟠", ctx.get("today", [])),
        ("Sắp đến hạn", "🟡", ctx.get("soon", [])),
    ]
    body = ENV.get_template("telegram/digest.html").render(**ctx)
    lines = ["", *body.strip("\n").split("\n")]
    heads = [
        ENV.get_template("telegram/digest_head.html").render(**ctx, part=1, part_total=99).strip()
    ]
    pieces = split(heads[0], lines, limit)  # sized with the longest head ("phần 1/99")
    total = len(pieces)
    out = []
    for i, piece in enumerate(pieces, 1):
        head = (
            ENV.get_template("telegram/digest_head.html")
            .render(**ctx, part=i, part_total=total)
            .strip()
        )
        out.append(Part(head + piece[len(heads[0]) :].rstrip()))
    return out


def render_group(n: Notification, limit: int = LIMIT, public_url: str | None = None) -> list[Part]:
    """A grouped escalation (kehoach.store.escalations): the list of late steps, cut between
    lines into as few messages as fit, each complete: the head (with "phần i/n"), its lines,
    and the link to the board (no buttons: a message cannot carry 300 steps' buttons)."""
    ctx = {**_context(n), "board_url": board_url(public_url, n.payload.get("board_path"))}
    lines = ENV.get_template("telegram/escalation_group.html").render(**ctx).strip().split("\n")
    foot = ENV.get_template("telegram/escalation_group_foot.html").render(**ctx).strip()

    def head(part: int, total: int) -> str:
        return (
            ENV.get_template("telegram/escalation_group_head.html")
            .render(**ctx, part=part, part_total=total)
            .strip()
        )

    # the room for lines, with the longest head there can be (as many parts as lines)
    room = limit - utf16_len(head(len(lines), len(lines))) - utf16_len(foot) - 2
    chunks: list[list[str]] = [[]]
    used, title = 0, ""
    for i, line in enumerate(lines):
        size = utf16_len(line) + 1
        if line.startswith("<b>"):  # a title, with at least its first step ("• …") after it
            title = line
            size += utf16_len(lines[i + 1]) + 1 if i + 1 < len(lines) else 0
        if chunks[-1] and used + size > room:
            chunks.append([title + " (tiếp)"] if line != title else [])
            used = sum(utf16_len(x) + 1 for x in chunks[-1])
        chunks[-1].append(line)
        used += utf16_len(line) + 1
    return [
        Part("\n".join([head(i, len(chunks)), *chunk, "", foot]))
        for i, chunk in enumerate(chunks, 1)
    ]


def render(n: Notification, limit: int = LIMIT, public_url: str | None = None) -> list[Part]:
    """The messages `n` is sent as (one, or several for a long digest or grouped escalation).
    `public_url`: the board's address, for links."""
    name = template_for(n)
    if name == "digest":
        return render_digest(n, limit)
    if name == "escalation_group":
        return render_group(n, limit, public_url)
    text = ENV.get_template(f"telegram/{name}.html").render(**_context(n)).strip()
    if name in STEP_PURPOSES:
        return [Part(text, step_buttons(n))]
    if name == "extension_asked":
        return [
            Part(
                text,
                [
                    [(GRANT_LABEL, f"{GRANT}:{n.id}"), (REFUSE_LABEL, f"{REFUSE}:{n.id}")],
                    [(INFO_LABEL, f"{INFO}:{n.id}")],
                ],
            )
        ]
    return [Part(text)]
