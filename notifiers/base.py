"""The channel interface: one small base class, one error type, one result.

A channel sends one notification and either returns a `DeliveryResult` or raises
`DeliveryError`; it never returns a bare bool. The dispatcher (kehoach.store.dispatch)
records every outcome in a delivery row and decides what happens next:

- `permanent=True` (bot blocked, address unknown): the row is parked as failed, no retry;
- `permanent=False`: retried with exponential backoff and jitter, or after `retry_after`
  seconds when the service names its wait (Telegram's RetryAfter), up to a limit;
- `unknown=True` (a timeout after the request left): the message may have arrived, so it is
  parked as "unknown" for a person to look at, never blindly resent;
- `lost=True` (permanent: the person blocked the bot, the address is gone): the dispatcher
  marks the person's contact on this channel lost and queues the notification again on the
  person's next contact (kehoach.chat.links.mark_lost);
- `moved_to="…"` (the chat moved, e.g. a Telegram group became a supergroup): the dispatcher
  changes the stored address and sends the row once more, to the new address.

Channels never touch the store: they read the address the dispatcher hands them
(`Notification.person.address`) and say what happened through these fields.
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
    """A person and their address on the channel the row goes through (a Telegram chat id as
    text, an e-mail address, a Zalo user id), read when the row is sent (a chat linked since
    counts); None when they have no usable contact there."""

    id: int
    name: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    remote_id: str | None = None  # the channel's id for the message, when it has one


class DeliveryError(Exception):
    """A send that did not (certainly) succeed."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unknown: bool = False,
        lost: bool = False,
        moved_to: str | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent or lost  # a lost address is never retried
        self.retry_after, self.unknown = retry_after, unknown
        self.lost, self.moved_to = lost, moved_to


class Channel(ABC):
    """A way to reach people. `name` is what outbox rows, delivery rows and contacts call it.

    What the wiring (kehoach.serve) reads of a channel, besides `send`:

    - `thread_safe`: `send` may run in several threads at once (the clock's and the
      dispatch loops'); otherwise serve runs one send at a time;
    - `sender_key`: when set, only one process at a time sends on this channel for that key
      (a hash of the bot token, never the token): serve elects it through the database and
      the others wait to take over; None: every process sends;
    - `limiter`: what paces the sends of the bot behind `sender_key`, shared with the bot's
      own answers in the same process (Telegram's `Limiter`); None when there is none;
    - `sending`: False while another process holds the channel's sender key (serve's gate
      sets it): the clock skips the channel then;
    - `close()`: release connections and loops when the process stops (after the last send).
    """

    name: str = "channel"
    #: The board's public address (KEHOACH_PUBLIC_URL) for links in messages; serve sets it.
    public_url: str | None = None
    thread_safe: bool = False
    sender_key: str | None = None
    limiter: Any = None
    sending: bool = True

    @abstractmethod
    def send(self, notification: Notification) -> DeliveryResult:
        """Send one notification, or raise DeliveryError."""

    def close(self) -> None:  # noqa: B027  a channel with nothing to release keeps this
        """Release what the channel holds (connections, loops); nothing by default."""
