"""The console channel: one Vietnamese line per notification on a text stream (for `kehoach
tick` run by cron, and for trying a plan out)."""

from __future__ import annotations

import sys
from typing import TextIO

from .base import Channel, DeliveryError, DeliveryResult, Notification
from .rendering import board_url, environment, render


class ConsoleChannel(Channel):
    name = "console"

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.env = environment()

    def render(self, n: Notification) -> str:
        """The line for `n`; the template names the payload fields it needs (StrictUndefined)."""
        return render(
            self.env,
            "console",
            n.purpose,
            **{
                **n.payload,
                "recipient": n.recipient,
                "level": n.level,
                "board_url": board_url(self.public_url, n.payload.get("board_path")),
            },
        )

    def send(self, notification: Notification) -> DeliveryResult:
        line = self.render(notification)
        try:
            print(line, file=self.stream, flush=True)
        except OSError as exc:  # a closed pipe: nobody will read it, retrying will not help
            raise DeliveryError(f"không ghi được ra màn hình: {exc}", permanent=True) from exc
        return DeliveryResult()
