"""The channel interface: one small base class, one error type, one result.

A channel sends one notification and either returns a `DeliveryResult` or raises
`DeliveryError`; it never returns a bare bool. The dispatcher (kehoach.store.dispatch)
records every outcome in a delivery row and decides what happens next:

- `permanent=True` (bot blocked, address unknown): the row is parked as failed, no retry;
- `permanent=False`: retried with exponential backoff and jitter, or after `retry_after`
  seconds when the service names its wait (Telegram's RetryAfter), up to a limit;
- `unknown=True` (a timeout after the request left): the message may have arrived, so it is
  parked as "unknown" for a person to look at, never blindly resent;
- `lost=True` (with `permanent`: the user blocked the bot, the chat is unknown): the contact
  is marked lost and the notification goes to the person's next contact.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbox row, as a channel sees it."""

    id: int
    key: str  # the idempotency key: channels that support it pass it on
    recipient: str  # the unit whose notification it is
    purpose: str  # reminder | escalation | digest
    level: int | None
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    person: Recipient | None = None  # the person it goes to; None: to the unit, no one in it


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person and their addresses, read when the row is sent (a chat linked since counts)."""

    id: int
    name: str
    email: str | None = None
    telegram_chat_id: int | None = None
    address: str | None = None  # the address on the row's channel (a Zalo user id, …)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    remote_id: str | None = None  # the channel's id for the message, when it has one


class DeliveryError(Exception):
    """A send that did not (certainly) succeed."""

    def __init__(self, message: str, *, permanent: bool = False,
                 retry_after: float | None = None, unknown: bool = False, lost: bool = False):
        super().__init__(message)
        self.permanent, self.retry_after, self.unknown = permanent, retry_after, unknown
        self.lost = lost


class Channel(ABC):
    """A way to reach people. `name` is what outbox rows and delivery rows call it."""

    name: str = "channel"
    #: The board's public address (KEHOACH_PUBLIC_URL) for links in messages; serve sets it.
    public_url: str | None = None

    @abstractmethod
    def send(self, notification: Notification) -> DeliveryResult:
        """Send one notification, or raise DeliveryError."""
