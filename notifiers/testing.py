"""A channel for tests: records every send, and fails on demand.

>>> ch = RecordingChannel(failures={"k": [DeliveryError("bận", retry_after=1.0)]})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .base import Channel, DeliveryError, DeliveryResult, Notification


class RecordingChannel(Channel):
    """`sent` lists the notifications delivered; `failures[key]` is a queue of errors to raise
    for that key, one per attempt, before the send succeeds."""

    def __init__(
        self, name: str = "test", failures: Mapping[str, Iterable[DeliveryError]] | None = None
    ):
        self.name = name
        self.sent: list[Notification] = []
        self.attempts: list[Notification] = []
        self.failures = {k: list(v) for k, v in (failures or {}).items()}

    def send(self, notification: Notification) -> DeliveryResult:
        self.attempts.append(notification)
        queue = self.failures.get(notification.key)
        if queue:
            raise queue.pop(0)
        self.sent.append(notification)
        return DeliveryResult(remote_id=f"{self.name}-{len(self.sent)}")
