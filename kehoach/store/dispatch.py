"""The dispatcher: claim outbox rows, send them through a channel, record what happened.

Each row goes pending → claimed → sent | pending again (a temporary failure, retried later
with exponential backoff and jitter) | failed (permanent, or out of attempts) | unknown (the
outcome is not known: a timeout after the request left, or a dispatcher that died holding the
claim; never resent blindly, a person decides).

Claiming is safe with several dispatchers (healthchecks `sendalerts`): the due ids, then one
conditional `UPDATE … SET state = 'claimed' WHERE state = 'pending' AND id IN (…) RETURNING …`;
SQLite runs both under its single writer lock (BEGIN IMMEDIATE), PostgreSQL reads the ids
`FOR UPDATE SKIP LOCKED`, so two dispatchers never claim the same row. The claim is committed
before sending, and outcomes with their delivery rows a few dozen at a time (`dispatch`), so a
process killed at any point loses nothing committed and sends nothing twice: rows it sent but
had not recorded stay claimed until their lease runs out, then are parked as unknown.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from notifiers.base import Channel, DeliveryError, Notification, Recipient

from .escalations import mark_escalations_sent
from .models import deliveries_table, outbox_table, people_table

outbox_t, deliveries_t = outbox_table, deliveries_table
SessionFactory = Callable[[], AbstractContextManager[Session]]
MAX_ATTEMPTS = 5
BASE_DELAY = 60.0  # seconds before the first retry
MAX_DELAY = 6 * 3600.0
#: A claim older than this belongs to a dispatcher that died mid-send: outcome unknown.
LEASE = timedelta(minutes=10)
#: Outcomes recorded together (dispatch's docstring).
FLUSH_EVERY = 50
FLUSH_SECONDS = 1.0


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    abandoned: int = 0  # stale claims parked as unknown


def backoff(attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the service's own wait when it names one,
    else BASE_DELAY·2^(attempt−1) capped at MAX_DELAY, with "equal jitter" (half fixed, half
    random) so that dispatchers failing together do not retry together."""
    if retry_after is not None:
        return retry_after
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return float(delay / 2 + rng.uniform(0, delay / 2))


def _claim(session: Session, channel: str, worker: str, now: datetime, limit: int) -> list[Any]:
    """Claim up to `limit` due rows: their ids, then one conditional UPDATE … RETURNING."""
    due = (select(outbox_t.c.id).where(outbox_t.c.state == "pending", outbox_t.c.channel == channel,
                                       outbox_t.c.not_before <= now)
           .order_by(outbox_t.c.not_before, outbox_t.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":  # locked until this claim commits
        due = due.with_for_update(skip_locked=True)
    ids = list(session.execute(due).scalars())  # first: PostgreSQL may rerun a LIMIT subquery
    if not ids:
        return []
    rows = session.execute(
        update(outbox_t).where(outbox_t.c.id.in_(ids), outbox_t.c.state == "pending")
        .values(state="claimed", claimed_by=worker, claimed_at=now,
                attempts=outbox_t.c.attempts + 1, updated_at=now)
        .returning(*outbox_t.c)).all()
    return sorted(rows, key=lambda r: (r.not_before, r.id))


def _recipients(session: Session, rows: list[Any]) -> dict[int, Recipient]:
    """The people the claimed rows go to, with their addresses as they are now."""
    ids = {r.person_id for r in rows if r.person_id is not None}
    if not ids:
        return {}
    p = people_table
    return {r.id: Recipient(r.id, r.name, r.email, r.telegram_chat_id) for r in session.execute(
        select(p.c.id, p.c.name, p.c.email, p.c.telegram_chat_id).where(p.c.id.in_(ids)))}


def _abandon_stale_claims(session: Session, now: datetime) -> int:
    return int(session.connection().execute(
        update(outbox_t).where(outbox_t.c.state == "claimed", outbox_t.c.claimed_at < now - LEASE)
        .values(state="unknown", updated_at=now,
                last_error="tiến trình gửi đã dừng giữa chừng; không rõ tin đã đến chưa")).rowcount)


def _record(session_factory: SessionFactory, done: list[tuple[dict[str, Any], dict[str, Any]]],
            worker: str, now: datetime) -> None:
    """Store the outcomes of sends: their delivery rows, and each outbox row's new state (only
    if this worker still holds its claim), in one transaction."""
    if not done:
        return
    with session_factory() as session:
        session.execute(insert(deliveries_t), [d for d, _ in done])
        session.execute(RECORD.values(updated_at=now, claimed_by=None, claimed_at=None),
                        [{**u, "_worker": worker} for _, u in done])
        # what reached someone up the ladder: the steps' status says so (escalations.py)
        mark_escalations_sent(session, [u["_id"] for _, u in done if u["state"] == "sent"], now)


RECORD = (update(outbox_t)
          .where(outbox_t.c.id == bindparam("_id"), outbox_t.c.state == "claimed",
                 outbox_t.c.claimed_by == bindparam("_worker")))


def _outcome(exc: BaseException | None, row: Any, now: datetime, rng: random.Random,
             max_attempts: int) -> tuple[str, str | None, bool, dict[str, Any]]:
    """(delivery outcome, error, permanent, new outbox values) of one send."""
    if exc is None:
        return "sent", None, False, {"state": "sent"}
    if isinstance(exc, DeliveryError):
        if exc.unknown:
            return "unknown", str(exc), exc.permanent, {"state": "unknown"}
        if exc.permanent or row.attempts >= max_attempts:
            return ("permanent" if exc.permanent else "temporary"), str(exc), exc.permanent, {
                "state": "failed"}
        wait = backoff(row.attempts, rng, exc.retry_after)
        return "temporary", str(exc), False, {"state": "pending",
                                              "not_before": now + timedelta(seconds=wait)}
    if isinstance(exc, TimeoutError):
        return "unknown", f"hết thời gian chờ: {exc}", False, {"state": "unknown"}
    # a bug in a channel: recorded, retried like a temporary failure
    error = f"{type(exc).__name__}: {exc}"
    if row.attempts >= max_attempts:
        return "temporary", error, False, {"state": "failed"}
    return "temporary", error, False, {
        "state": "pending", "not_before": now + timedelta(seconds=backoff(row.attempts, rng))}


def dispatch(session_factory: SessionFactory, channel: Channel, now: datetime, *,
             limit: int = 100, worker: str = "kehoach", rng: random.Random | None = None,
             max_attempts: int = MAX_ATTEMPTS) -> DispatchResult:
    """Send up to `limit` due outbox rows of `channel` at `now`; every outcome is recorded.

    Outcomes are recorded FLUSH_EVERY sends (or FLUSH_SECONDS) at a time, and whatever is
    left when the batch ends or fails: one transaction per message cost more than the send. A
    process killed in between leaves those rows claimed, so they are parked as "unknown" once
    their lease runs out: never sent twice."""
    rng = rng or random.Random()
    result = DispatchResult()
    with session_factory() as session:
        result.abandoned = _abandon_stale_claims(session, now)
        rows = _claim(session, channel.name, worker, now, limit)
        people = _recipients(session, rows)
    result.claimed = len(rows)
    done: list[tuple[dict[str, Any], dict[str, Any]]] = []
    flushed = time.monotonic()
    try:
        for row in rows:
            note = Notification(row.id, row.idempotency_key, row.unit_id or "", row.purpose,
                                row.level, row.payload, row.attempts,
                                people.get(row.person_id) if row.person_id is not None else None)
            remote, failure = None, None
            try:
                remote = channel.send(note).remote_id
            except Exception as exc:  # noqa: BLE001  every failure is an outcome to record
                failure = exc
            outcome, error, permanent, values = _outcome(failure, row, now, rng, max_attempts)
            done.append(({"outbox_id": row.id, "at": now, "channel": channel.name,
                          "outcome": outcome, "permanent": permanent, "error": error,
                          "remote_id": remote},
                         {"_id": row.id, "state": values["state"], "last_error": error,
                          "not_before": values.get("not_before", row.not_before)}))
            state = values["state"]
            result.sent += state == "sent"
            result.retrying += state == "pending"
            result.failed += state == "failed"
            result.unknown += state == "unknown"
            if len(done) >= FLUSH_EVERY or time.monotonic() - flushed >= FLUSH_SECONDS:
                _record(session_factory, done, worker, now)
                done, flushed = [], time.monotonic()
    finally:
        _record(session_factory, done, worker, now)
    return result
