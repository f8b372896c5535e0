"""Jinja2 templates (notifiers/templates/CHANNEL/PURPOSE.txt), one per channel and purpose, with
StrictUndefined: a missing field is an error at render time, never an empty gap in a message
someone reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from engine.model import ZONE as VN  # the templates' zone

CLIP = 300  # a title or reason longer than this is cut (a digest line, a subject stay one line)


def clip(value: Any, limit: int = CLIP) -> str:
    """`value` on one line, cut to `limit` characters with "…" (Telegram messages, e-mail
    subjects)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: The board's address when KEHOACH_PUBLIC_URL is not set (as calendars.feed's).
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


def board_url(public_url: str | None, path: str | None) -> str:
    """A page of the board ("/qua-han?plan=…") at its public address.

    >>> board_url("https://kehoach.example.vn/", "/qua-han?plan=p")
    'https://kehoach.example.vn/qua-han?plan=p'
    """
    return (public_url or DEFAULT_PUBLIC_URL).rstrip("/") + (path or "/")


def local_day(value: str) -> str:
    """An ISO UTC moment as the local day: 25/01/2024."""
    return datetime.fromisoformat(value).astimezone(VN).strftime("%d/%m/%Y")


def local_time(value: str) -> str:
    """An ISO UTC moment as the local day and time: 25/01/2024 07:30."""
    return datetime.fromisoformat(value).astimezone(VN).strftime("%d/%m/%Y %H:%M")


def environment(autoescape: bool = False) -> Environment:
    env = Environment(
        loader=PackageLoader("notifiers", "templates"),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(local_day=local_day, local_time=local_time, clip=clip)
    return env


def render(env: Environment, channel: str, purpose: str, **context: Any) -> str:
    return env.get_template(f"{channel}/{purpose}.txt").render(**context).strip()
