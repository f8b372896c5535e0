"""`POST /zalo/webhook` on the board's server: where Zalo delivers the bot's updates when
KEHOACH_ZALO_WEBHOOK_URL is set (docs/zalo.md). A small Starlette app mounted beside the
board, so the board's own rules for forms (session, CSRF token) do not apply: the request
must carry `X-Bot-Api-Secret-Token` equal to KEHOACH_ZALO_WEBHOOK_SECRET (compared in constant
time), else 403 and nothing is read. The update is answered at once (200) and handled in the
background by the `ZaloBot` that `serve` runs in this process for the token (so its answers
share the channel's rate limiter with the reminders); in a process that does not hold the
token (another one sends for it), by a bot of its own made on the first update.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kehoach.settings import Settings

log = logging.getLogger("kehoach.zalo.webhook")
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024


def wanted(settings: Settings) -> bool:
    return bool(settings.zalo_token and settings.zalo_webhook_url)


def webhook_app(settings: Settings, engine: Engine, now: Callable[[], datetime]) -> Starlette:
    from kehoach.chat.zalo_bot import WEBHOOK_BOTS  # httpx and the bot: only with Zalo on

    given_secret = settings.zalo_webhook_secret
    secret = given_secret.get_secret_value() if given_secret else ""
    token = settings.zalo_token.get_secret_value() if settings.zalo_token else ""
    state: dict[str, Any] = {}
    running: set[asyncio.Task[None]] = set()

    async def receive(request: Request) -> JSONResponse:
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"ok": False, "description": "sai mã bí mật webhook"}, 403)
        body = await request.body()
        try:
            update = json.loads(body) if len(body) <= MAX_BODY else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            update = None
        if not isinstance(update, dict) or "event_name" not in update:
            return JSONResponse({"ok": False, "description": "cập nhật không hợp lệ"}, 400)
        bot = WEBHOOK_BOTS.get(token)
        if bot is None:
            if "bot" not in state:
                from kehoach.channels import zalo_bot

                state["bot"] = zalo_bot(settings, engine, now)
            bot = state["bot"]
        task = asyncio.create_task(bot.handle(update))
        running.add(task)  # kept until done (the loop holds tasks weakly)
        task.add_done_callback(running.discard)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"])])
