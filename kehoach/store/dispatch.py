"""The dispatcher: claim outbox rows, send them through a channel, record what happened.

Each row goes pending → claimed → sending → sent | pending again (a temporary failure, retried
later with exponential backoff and jitter; a 429 waits the time it names and is not counted as
an attempt) | failed (permanent, or out of attempts) | unknown (the outcome is not known: a
timeout after the request left, or a dispatcher that died during the send; never resent
blindly, a person decides) | skipped (the step was done, cancelled, excused or moved before the
row's turn came: nothing is sent, `last_error` says why).

Claiming is safe with several dispatchers (healthchecks `sendalerts`): the due ids, then one
conditional `UPDATE … SET state = 'claimed' WHERE state = 'pending' AND id IN (…) RETURNING …`;
SQLite runs both under its single writer lock (BEGIN IMMEDIATE), PostgreSQL reads the ids
`FOR UPDATE SKIP LOCKED`. Rows are claimed CHUNK at a time, each claim under a token of its
own (`claimed_by`: the worker and a serial), so two dispatchers in one process never mistake
each other's claims.

The line between "never attempted" and "maybe sent" is exact: right before `channel.send` the
previous row's outcome is recorded (outbox state and delivery row), the next row's step is
read again, and that row is marked `sending` on condition that it is still claimed under the
token, committed before the send (one transaction on SQLite; on PostgreSQL statements that
are each safe alone, in autocommit). So when a process is killed or loses its database:

- a `claimed` row was never handed to a channel: once its claim is CLAIM_LEASE old (real time,
  refreshed while the dispatcher works) it goes back to pending and is sent by whoever comes
  next; should the first dispatcher wake up, its conditional mark fails and it skips the row;
- a `sending` row may have left: after LEASE it is parked as unknown (at most the sends in
  flight at the kill: one per dispatcher);
- outcomes that could not be recorded (the database went away after the send) stay in memory
  and are recorded first thing by the next `dispatch` call of the process, once the database
  answers again (`dispatch_loop` retries every poll interval).

A channel's error may say more about the address than about the message (notifiers/base.py):
`lost` marks the person's contact on the channel lost and queues the row again on their next
contact among the running channels (`fallbacks`); `moved_to` stores the new address and the
row is sent once more at once, there (kehoach/chat/links.py does both, in the transaction
that records the outcome).

Leases run on the real clock (`clock`, the wall clock by default), never on the injected `now`:
a simulated time that runs fast (KEHOACH_SIMULATED_NOW) must not park rows being sent.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session

from notifiers.base import Channel, DeliveryError, Notification, Recipient

from .db import friendly_errors
from .escalations import ESCALATION, GROUP, mark_escalations_sent
from .models import (
    Sending,
    contacts_table,
    deliveries_table,
    outbox_table,
    people_table,
    steps_table,
)
from .recheck import current, stale
from .tick import COLUMNS, facts

outbox_t, deliveries_t, steps_t = outbox_table, deliveries_table, steps_table
SessionFactory = Callable[[], AbstractContextManager[Session]]
MAX_ATTEMPTS = 5
BASE_DELAY = 60.0  # seconds before the first retry
MAX_DELAY = 6 * 3600.0
#: A row `sending` longer than this belongs to a dispatcher that died mid-send: outcome unknown.
LEASE = timedelta(minutes=10)
#: A row `claimed` (not yet handed to a channel) longer than this goes back to pending. The
#: dispatcher holding it refreshes its claims at least every REFRESH_SECONDS while it works.
CLAIM_LEASE = timedelta(seconds=5)
REFRESH_SECONDS = 1.0
#: Rows claimed at a time: what a dead dispatcher holds back for CLAIM_LEASE at most.
CHUNK = 20
PARKED = "tiến trình gửi đã dừng giữa chừng; không rõ tin đã đến chưa"

_SERIAL = itertools.count(1)
#: SQLite: the dispatchers of this process take turns at the per-message transaction here
#: (SQLite's own busy handler makes a waiting writer sleep for milliseconds).
_WRITERS: defaultdict[Any, threading.Lock] = defaultdict(threading.Lock)
NO_LOCK = nullcontext()
#: Outcomes sent but not yet recorded (the database was away), by worker and channel: the
#: next `dispatch` call for them records these first. Kept at most LEASE (by then the rows are
#: parked as unknown: a person looks at them), so an error that never clears cannot wedge it.
_UNRECORDED: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
_UNRECORDED_SINCE: dict[tuple[str, str], float] = {}
_UNRECORDED_LOCK = threading.Lock()
#: Rows marked `sending` by a call that failed before their send: (claim token, outbox id).
_UNSENT: dict[tuple[str, str], list[tuple[str, int]]] = {}
log = logging.getLogger("kehoach.dispatch")


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    abandoned: int = 0  # stale `sending` rows parked as unknown
    released: int = 0  # stale claims given back (never attempted)
    skipped: int = 0  # not sent: the step was done, cancelled, excused or moved
    recorded_late: int = 0  # outcomes of an earlier call recorded once the database answered


def backoff(attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the service's own wait when it names one,
    else BASE_DELAY·2^(attempt−1) capped at MAX_DELAY, with "equal jitter" (half fixed, half
    random) so that dispatchers failing together do not retry together."""
    if retry_after is not None:
        return retry_after
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return float(delay / 2 + rng.uniform(0, delay / 2))


def _claim(
    session: Session, channel: str, token: str, now: datetime, real: datetime, limit: int
) -> list[Any]:
    """Claim up to `limit` due rows: their ids, then one conditional UPDATE … RETURNING."""
    due = (
        select(outbox_t.c.id)
        .where(
            outbox_t.c.state == Sending.PENDING,
            outbox_t.c.channel == channel,
            outbox_t.c.not_before <= now,
        )
        .order_by(outbox_t.c.not_before, outbox_t.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":  # locked until this claim commits
        due = due.with_for_update(skip_locked=True)
    ids = list(session.execute(due).scalars())  # first: PostgreSQL may rerun a LIMIT subquery
    if not ids:
        return []
    rows = session.execute(
        update(outbox_t)
        .where(outbox_t.c.id.in_(ids), outbox_t.c.state == Sending.PENDING)
        .values(state="claimed", claimed_by=token, claimed_at=real, updated_at=now)
        .returning(*outbox_t.c)
    ).all()
    return sorted(rows, key=lambda r: (r.not_before, r.id))


def _recipients(session: Session, rows: list[Any], channel: str) -> dict[int, Recipient]:
    """The people the claimed rows go to, with their address on `channel` as it is now (None:
    no contact there, or a lost one)."""
    ids = {r.person_id for r in rows if r.person_id is not None}
    if not ids:
        return {}
    p, c = people_table, contacts_table
    return {
        r.id: Recipient(r.id, r.name, r.address)
        for r in session.execute(
            select(p.c.id, p.c.name, c.c.address)
            .outerjoin(
                c, (c.c.person_id == p.c.id) & (c.c.channel == channel) & c.c.lost_at.is_(None)
            )
            .where(p.c.id.in_(ids))
        )
    }


def release_stale_claims(
    session: Session, now: datetime, real: datetime | None = None
) -> tuple[int, int]:
    """(claims given back to pending, sends parked as unknown): claims older than CLAIM_LEASE
    and sends older than LEASE on the real clock `real` (default: the wall clock). A parked
    row keeps `claimed_by`, so an outcome recorded late still lands on it."""
    real = real or wall_clock()
    conn = session.connection()
    released = conn.execute(
        update(outbox_t)
        .where(outbox_t.c.state == "claimed", outbox_t.c.claimed_at < real - CLAIM_LEASE)
        .values(state=Sending.PENDING, claimed_by=None, claimed_at=None, updated_at=now)
    ).rowcount
    parked = conn.execute(
        update(outbox_t)
        .where(outbox_t.c.state == Sending.SENDING, outbox_t.c.claimed_at < real - LEASE)
        .values(state=Sending.UNKNOWN, updated_at=now, last_error=PARKED)
    ).rowcount
    return int(released), int(parked)


def _abandon_stale_claims(session: Session, now: datetime, real: datetime | None = None) -> int:
    """The housekeeping's view of `release_stale_claims`: how many rows it moved."""
    return sum(release_stale_claims(session, now, real))


def _bp(name: str) -> Any:
    return bindparam(name)


_MINE = (
    outbox_t.c.id == _bp("_id"),
    outbox_t.c.state == "claimed",
    outbox_t.c.claimed_by == _bp("_token"),
)
SKIP = (
    update(outbox_t)
    .where(*_MINE)
    .values(
        state=Sending.SKIPPED,
        last_error=_bp("_reason"),
        claimed_by=None,
        claimed_at=None,
        updated_at=_bp("_now"),
    )
)
#: A row marked `sending` whose send never started: pending again, the attempt not counted.
UNMARK = (
    update(outbox_t)
    .where(
        outbox_t.c.id == _bp("_id"),
        outbox_t.c.claimed_by == _bp("_token"),
        outbox_t.c.state == Sending.SENDING,
    )
    .values(
        state=Sending.PENDING, claimed_by=None, claimed_at=None, attempts=outbox_t.c.attempts - 1
    )
)
REFRESH = (
    update(outbox_t)
    .where(outbox_t.c.claimed_by == _bp("_token"), outbox_t.c.state == "claimed")
    .values(claimed_at=_bp("_real"))
)
STEP = select(*(steps_t.c[c] for c in COLUMNS)).where(steps_t.c.id == _bp("_step"))
# The statements run once or twice per message, as driver SQL (going through SQLAlchemy's
# compiler and type processing cost more than running them): `:name` parameters, rewritten
# for psycopg; datetimes through `_moment`.
MARK = (
    f"UPDATE {outbox_t.name} SET state = 'sending', attempts = attempts + 1, "
    "claimed_at = :real, updated_at = :now "
    "WHERE id = :id AND state = 'claimed' AND claimed_by = :token"
)
RECORD = (
    f"UPDATE {outbox_t.name} SET state = :state, last_error = :error, "
    "not_before = :not_before, attempts = :attempts, updated_at = :at, "
    "claimed_by = NULL, claimed_at = NULL "
    "WHERE id = :outbox_id AND claimed_by = :token AND state IN ('sending', 'unknown')"
)
DELIVERY = (
    f"INSERT INTO {deliveries_t.name} (outbox_id, at, channel, outcome, permanent, "
    "error, remote_id) VALUES (:outbox_id, :at, :channel, :outcome, :permanent, "
    ":error, :remote_id)"
)
# PostgreSQL: an outcome and its delivery row in one statement (one round trip).
PG_RECORD = (
    "WITH rec AS ("
    + RECORD
    + " RETURNING id) "
    + DELIVERY.replace("VALUES (:outbox_id,", "SELECT id,").removesuffix(")")
    + " FROM rec"
)


#: PostgreSQL: the per-message statements do not wait for their WAL flush (SQLite: WAL with
#: synchronous=NORMAL, kehoach/store/db.py). They are durable against what the marks are for
#: (the dispatcher killed, its connection cut); a crash of the server itself may lose the last
#: fraction of a second of marks and outcomes. A flush per message cost 7–12 ms here.
ASYNC_COMMIT = "SET synchronous_commit TO off"


def _driver(conn: Connection, sql: str) -> str:
    return re.sub(r":(\w+)", r"%(\1)s", sql) if conn.dialect.name == "postgresql" else sql


def _moment(conn: Connection, moment: datetime | None) -> Any:
    """A datetime as the driver takes it: aware for psycopg, UTCDateTime's text for SQLite."""
    if moment is None or conn.dialect.name == "postgresql":
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _record(conn: Connection, done: list[tuple[str, dict[str, Any]]]) -> int:
    """Store outcomes: each outbox row's new state, on condition that the claim is still the
    token's (`sending`, or parked `unknown` meanwhile), and then its delivery row. Recording
    the same outcome twice (a commit whose answer was lost) changes nothing the second time."""
    recorded, postgres = 0, conn.dialect.name == "postgresql"
    escalations = [
        o["outbox_id"] for _, o in done if o.get("escalation") and o["state"] == Sending.SENT
    ]
    for token, o in done:
        values = {
            **o,
            "token": token,
            "at": _moment(conn, o["at"]),
            "not_before": _moment(conn, o["not_before"]),
        }
        if postgres:
            ok = conn.exec_driver_sql(_driver(conn, PG_RECORD), values).rowcount == 1
        else:
            ok = conn.exec_driver_sql(RECORD, values).rowcount == 1
            if ok:
                conn.exec_driver_sql(DELIVERY, values)
        recorded += ok
        if ok and ("lost" in o or "moved" in o):
            _contact_changes(conn, o)
    if escalations:  # what reached someone up the ladder: the steps' status says so
        mark_escalations_sent(conn, escalations, done[-1][1]["at"])
    return recorded


def _contact_changes(conn: Connection, o: dict[str, Any]) -> None:
    """What the channel said of the address (module doc), stored with the outcome."""
    from kehoach.chat import links  # the chat layer sits on the store: imported when needed

    if "moved" in o:
        old, new = o["moved"]
        count = links.move(conn, o["channel"], old, new)
        log.warning(
            "%s: địa chỉ %s đã chuyển thành %s: %s",
            o["channel"],
            old,
            new,
            "đã chuyển liên kết" if count else "liên kết đã ở địa chỉ mới",
        )
    if "lost" in o:
        person_id, address, name = o["lost"]
        queued = links.mark_lost(
            conn,
            person_id,
            o["channel"],
            address,
            o["at"],
            o["error"],
            outbox_id=o["outbox_id"],
            fallback_channels=o["fallbacks"],
        )
        log.warning(
            "%s từ chối địa chỉ của %s (%s): đã tắt liên kết%s",
            o["channel"],
            name,
            o["error"],
            f", gửi lại qua {queued}" if queued else "",
        )


def _keep(key: tuple[str, str], done: list[tuple[str, dict[str, Any]]]) -> None:
    if done:
        with _UNRECORDED_LOCK:
            _UNRECORDED.setdefault(key, []).extend(done)
            _UNRECORDED_SINCE.setdefault(key, time.monotonic())


def _record_unrecorded(session_factory: SessionFactory, key: tuple[str, str]) -> int:
    """Record what earlier calls sent but could not record, and give back the rows they marked
    `sending` but never sent (the database went away in between); raises while the database is
    away (both stay in memory for the next call)."""
    with _UNRECORDED_LOCK:
        unsent = _UNSENT.get(key)
        if unsent:
            with session_factory() as session:
                for token, row_id in unsent:
                    session.execute(UNMARK, {"_id": row_id, "_token": token})
            del _UNSENT[key]
        waiting = _UNRECORDED.get(key)
        if not waiting:
            return 0
        try:
            with session_factory() as session:
                recorded = _record(session.connection(), waiting)
        except Exception:
            if time.monotonic() - _UNRECORDED_SINCE[key] < LEASE.total_seconds():
                raise
            log.error(
                "bỏ %d kết quả gửi không ghi được sau %s; các tin đó sẽ thành «không rõ»",
                len(waiting),
                LEASE,
            )
            recorded = 0
        del _UNRECORDED[key], _UNRECORDED_SINCE[key]
        return recorded


def _outcome(
    exc: BaseException | None, attempts: int, now: datetime, rng: random.Random, max_attempts: int
) -> tuple[str, str | None, bool, dict[str, Any]]:
    """(delivery outcome, error, permanent, new outbox values) of one send, the row's
    `attempts` counting this one."""
    if exc is None:
        return "sent", None, False, {"state": Sending.SENT}
    if isinstance(exc, DeliveryError):
        if exc.unknown:
            return "unknown", str(exc), exc.permanent, {"state": Sending.UNKNOWN}
        if exc.retry_after is not None and not exc.permanent:  # 429: wait, not an attempt
            return (
                "temporary",
                str(exc),
                False,
                {
                    "state": Sending.PENDING,
                    "attempts": attempts - 1,
                    "not_before": now + timedelta(seconds=exc.retry_after),
                },
            )
        if exc.permanent or attempts >= max_attempts:
            return (
                ("permanent" if exc.permanent else "temporary"),
                str(exc),
                exc.permanent,
                {"state": Sending.FAILED},
            )
        wait = backoff(attempts, rng)
        return (
            "temporary",
            str(exc),
            False,
            {"state": Sending.PENDING, "not_before": now + timedelta(seconds=wait)},
        )
    if isinstance(exc, TimeoutError):
        return "unknown", f"hết thời gian chờ: {exc}", False, {"state": Sending.UNKNOWN}
    # a bug in a channel: recorded, retried like a temporary failure
    error = f"{type(exc).__name__}: {exc}"
    if attempts >= max_attempts:
        return "temporary", error, False, {"state": Sending.FAILED}
    return (
        "temporary",
        error,
        False,
        {"state": Sending.PENDING, "not_before": now + timedelta(seconds=backoff(attempts, rng))},
    )


def _next(
    conn: Connection,
    queue: deque[Any],
    token: str,
    now: datetime,
    real: datetime,
    result: DispatchResult,
    marking: list[int],
) -> tuple[Any, dict[str, Any]] | None:
    """The next row of `queue` to send and its payload, marked `sending` (with its attempt
    counted); rows whose step makes them stale are marked skipped on the way, rows whose claim
    was lost (given back after CLAIM_LEASE, maybe taken by another dispatcher) are dropped.
    `marking` holds the id of the row whose mark went out last: its mark may be committed
    even when the statement raised (PostgreSQL: the answer lost with the connection)."""
    while queue:
        row = queue.popleft()
        mine = {"_id": row.id, "_token": token, "_now": now}
        payload = row.payload
        if row.step_id is not None:
            found = conn.execute(STEP, {"_step": row.step_id}).one_or_none()
            if found is not None:
                step = facts(found)
                reason = stale(row.purpose, payload, step, now)
                if reason is not None:
                    result.skipped += conn.execute(SKIP, {**mine, "_reason": reason}).rowcount
                    continue
                payload = current(
                    payload, step, now, row.level if row.purpose == ESCALATION else None
                )
        elif row.purpose == GROUP:  # each listed step looked at again: a closed one leaves
            payload = _regrouped(conn, payload, now)
            if not payload["steps"]:
                result.skipped += conn.execute(SKIP, {**mine, "_reason": GROUP_GONE}).rowcount
                continue
        marking[:] = [row.id]
        if (
            conn.exec_driver_sql(
                _driver(conn, MARK),
                {
                    "id": row.id,
                    "token": token,
                    "real": _moment(conn, real),
                    "now": _moment(conn, now),
                },
            ).rowcount
            == 1
        ):
            return row, payload
    return None


GROUP_GONE = "không gửi: mọi việc trong tin đã xong, được miễn, hủy hoặc đổi hạn"


def _regrouped(conn: Connection, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A grouped escalation's payload with only the steps still late as decided, each with its
    state at `now` (a step done while the message waited is not listed)."""
    kept, level = [], payload.get("level")
    for item in payload.get("steps", []):
        found = conn.execute(STEP, {"_step": item["step_id"]}).one_or_none()
        if found is None:
            kept.append(item)
            continue
        step = facts(found)
        if stale(ESCALATION, item, step, now) is None:
            kept.append(current(item, step, now, level))
    return {**payload, "steps": kept, "count": len(kept)}


def _send_chunk(
    bind: Engine,
    channel: Channel,
    rows: list[Any],
    people: dict[int, Recipient],
    worker: str,
    token: str,
    now: datetime,
    clock: Callable[[], datetime],
    rng: random.Random,
    max_attempts: int,
    result: DispatchResult,
    fallbacks: tuple[str, ...],
) -> None:
    """Send the claimed `rows`, one transaction per row before its send (module docstring),
    all on one connection of `bind` (a checkout per message cost a round trip)."""
    queue = deque(rows)
    done: list[tuple[str, dict[str, Any]]] = []
    refreshed = time.monotonic()
    sqlite = bind.dialect.name == "sqlite"
    marking: list[int] = []  # a row (maybe) marked `sending` whose send has not started yet
    try:
        with friendly_errors(bind), bind.connect() as conn, _async_commit(conn):
            while True:
                real = clock()
                with _WRITERS[bind.url] if sqlite else NO_LOCK, conn.begin():
                    _record(conn, done)
                    picked = _next(conn, queue, token, now, real, result, marking)
                    if queue and time.monotonic() - refreshed >= REFRESH_SECONDS:
                        conn.execute(REFRESH, {"_token": token, "_real": real})  # still at it
                        refreshed = time.monotonic()
                done = []
                if picked is None:
                    return
                marking.clear()  # from here on the send may have started
                done.append(
                    (
                        token,
                        _send(channel, picked, people, now, rng, max_attempts, result, fallbacks),
                    )
                )
    except BaseException:
        _keep((worker, channel.name), done)
        if marking:  # its mark may be committed (PostgreSQL: each statement alone)
            with _UNRECORDED_LOCK:
                _UNSENT.setdefault((worker, channel.name), []).append((token, marking[0]))
        raise


@contextmanager
def _async_commit(conn: Connection) -> Iterator[None]:
    """PostgreSQL: each statement of this connection commits on its own (the steps of one
    message are each safe alone, and a round trip costs more than the statement), without
    waiting for its WAL flush (ASYNC_COMMIT); set back before the connection returns to the
    pool."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execution_options(isolation_level="AUTOCOMMIT")
    with conn.begin():
        conn.exec_driver_sql(ASYNC_COMMIT)
    try:
        yield
    finally:
        try:
            with conn.begin():
                conn.exec_driver_sql("RESET synchronous_commit")
        except Exception:  # noqa: BLE001  the connection is broken: never reuse it
            conn.invalidate()


def _send(
    channel: Channel,
    picked: tuple[Any, dict[str, Any]],
    people: dict[int, Recipient],
    now: datetime,
    rng: random.Random,
    max_attempts: int,
    result: DispatchResult,
    fallbacks: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Send one row marked `sending`; its outcome, to record (with what the channel said of
    the address: module doc)."""
    row, payload = picked
    attempts = row.attempts + 1
    person = people.get(row.person_id) if row.person_id is not None else None
    note = Notification(
        row.id,
        row.idempotency_key,
        row.unit_id or "",
        row.purpose,
        row.level,
        payload,
        attempts,
        person,
    )
    remote: str | None = None
    failure: Exception | None = None
    changes: dict[str, Any] = {}
    try:
        try:
            remote = channel.send(note).remote_id
        except DeliveryError as exc:
            if exc.moved_to is None or person is None or exc.moved_to == person.address:
                raise
            changes["moved"] = (person.address, exc.moved_to)  # once: sent again there
            person = people[person.id] = replace(person, address=exc.moved_to)
            remote = channel.send(replace(note, person=person)).remote_id
    except Exception as exc:  # noqa: BLE001  every failure is an outcome to record
        failure = exc
    if isinstance(failure, DeliveryError) and failure.lost and row.person_id is not None:
        changes["lost"] = (
            row.person_id,
            person.address if person else None,
            person.name if person else str(row.person_id),
        )
        changes["fallbacks"] = fallbacks
    outcome, error, permanent, values = _outcome(failure, attempts, now, rng, max_attempts)
    state = values["state"]
    result.sent += state == Sending.SENT
    result.retrying += state == Sending.PENDING
    result.failed += state == Sending.FAILED
    result.unknown += state == Sending.UNKNOWN
    return {
        "outbox_id": row.id,
        "at": now,
        "channel": channel.name,
        "outcome": outcome,
        "permanent": permanent,
        "error": error,
        "remote_id": remote,
        "state": state,
        "not_before": values.get("not_before", row.not_before),
        "attempts": values.get("attempts", attempts),
        "escalation": row.purpose in (ESCALATION, GROUP),
        **changes,
    }


def dispatch(
    session_factory: SessionFactory,
    channel: Channel,
    now: datetime,
    *,
    limit: int = 100,
    worker: str = "kehoach",
    rng: random.Random | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    clock: Callable[[], datetime] = wall_clock,
    fallbacks: Collection[str] = (),
) -> DispatchResult:
    """Send up to `limit` due outbox rows of `channel` at `now`; every outcome is recorded
    (module docstring). `clock` is the real clock the leases run on; `fallbacks`: the
    channels running, where a row whose address was lost may go next.

    Raises the database's error when it is away; what was sent is recorded by the next call."""
    rng = rng or random.Random()
    result = DispatchResult()
    result.recorded_late = _record_unrecorded(session_factory, (worker, channel.name))
    token = f"{worker}#{next(_SERIAL)}"
    with session_factory() as session:
        result.released, result.abandoned = release_stale_claims(session, now, clock())
    while result.claimed < limit:
        size = min(CHUNK, limit - result.claimed)
        with session_factory() as session:
            rows = _claim(session, channel.name, token, now, clock(), size)
            people = _recipients(session, rows, channel.name)
            # the store's writing engine (BEGIN IMMEDIATE on SQLite): sessions bind to one
            bind = cast(Engine, session.get_bind())
        result.claimed += len(rows)
        if rows:
            _send_chunk(
                bind,
                channel,
                rows,
                people,
                worker,
                token,
                now,
                clock,
                rng,
                max_attempts,
                result,
                tuple(fallbacks),
            )
        if len(rows) < size:
            break
    return result
