"""Summaries and charts kept between requests, exactly (issue 12: a GROUP BY over a million
steps takes half a second; the summary pages need two).

A summary at `now` depends on the stored steps, units and clusters, and on `now` only
through which deadlines are past (late or not yet due). So a result computed at `since`
stays exact for any `now` in [since, next deadline after since) while nothing it reads was
written: database triggers count those writes in `board_changes` (migration 0011), whichever
process or path makes them. A request reads that count (one row) and, when it and the time
window match, answers from memory.

    kept(session, ("summaries", "unit", None, scope_key), now, lambda s, at: compute(s, at))

A result that is a sum over steps (`sums`: per unit, per month, a list's total) catches up
with a change instead: the steps' triggers log each counted change of a step, the row before
(−1) and after (+1) (board_log, migration 0014), so the same query over the log rows since
the kept count, weighed by their sign, is what changed; added to the kept sums, it gives
what the query over every step would. When `now` passes deadlines, the same query over the
steps whose deadlines are between the kept moment and `now`, at `now` less at that moment,
is added. Only a change the log does not hold (units, clusters, a large load, a log pruned
below the kept count: `board_changes.replay_from`), a read that raced a change, or more than
PASSED_MAX steps with deadlines passed makes it read every step again.

A result that took long to compute is kept warm (`refresh`, run every second or so by the
board's `Refresher` thread): after a change, or when `now` passes its next deadline, it is
computed again at the new count and `now`, so the next request finds it current. Nothing
stale is ever answered: a request that comes before the refresh still finds the old count
or window and computes (or waits for the refresh of that key, one computation at a time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Select, func, literal_column, select
from sqlalchemy.orm import Session

from kehoach.store.models import board_changes_table, board_log_table, deadline, steps_table

T = TypeVar("T")
log = logging.getLogger(__name__)
#: The states whose deadlines a summary or chart counts (cancelled steps are left out).
COUNTED = ("pending", "done", "excused")
NEVER = datetime.max.replace(tzinfo=UTC)


#: A sum over steps, for `sums`: (rows, weight, now) → a SELECT of its group columns, then
#: of sums in which each row counts `weight` (rows: the steps table or the board's log).
Aggregate = Callable[[Any, Any, datetime], Select[Any]]
#: A kept sum's value: group → its sums.
Sums = dict[tuple[Any, ...], tuple[int, ...]]
#: A kept sum is caught up with the deadlines passed since it was computed when at most this
#: many steps have them (each is read twice); else every step is read again, once.
PASSED_MAX = 100_000


@dataclass(frozen=True)
class Kept:
    changes: int  # board_changes.n when computed
    since: datetime  # the `now` it was computed for
    until: datetime  # the first deadline after `since`: exact before it
    value: Any
    compute: Callable[[Session, datetime], Any]  # makes the value again (`refresh`)
    shifts: Sequence[timedelta]
    seconds: float  # how long it took
    summed: tuple[Aggregate, int] | None = None  # a `sums` entry: its query, its group count


class Cache:
    """The kept results of one database (an engine), the `size` latest used."""

    def __init__(self, size: int = 64) -> None:
        self.size, self.lock_all = size, threading.Lock()
        self.entries: OrderedDict[tuple[Any, ...], Kept] = OrderedDict()
        self.computing: dict[tuple[Any, ...], threading.Lock] = {}
        self.used: dict[tuple[Any, ...], float] = {}  # key → when last asked for (monotonic)

    def lock(self, key: tuple[Any, ...]) -> threading.Lock:
        """The lock held while `key` is computed (a request waits for a refresh of it)."""
        with self.lock_all:
            found = self.computing.get(key)
            if found is None:
                found = self.computing[key] = threading.Lock()
            return found

    def latest(self, within: float) -> list[tuple[tuple[Any, ...], Kept]]:
        """The kept entries asked for in the last `within` seconds, the latest used first."""
        since = time.monotonic() - within
        with self.lock_all:
            return [(k, v) for k, v in reversed(self.entries.items()) if self.used[k] >= since]

    def get(
        self, key: tuple[Any, ...], changes: int, now: datetime, *, asked: bool = True
    ) -> Any | None:
        """The entry kept for `key` if it is current at `changes` and `now`; `asked`: a
        request wants it (the refresher's own look does not keep an entry warm)."""
        with self.lock_all:
            found = self.entries.get(key)
            if found is not None and asked:
                self.used[key] = time.monotonic()
            if found is None or found.changes != changes or not found.since <= now < found.until:
                return None
            self.entries.move_to_end(key)
            return found

    def last(self, key: tuple[Any, ...]) -> Kept | None:
        """The entry kept for `key`, current or not."""
        with self.lock_all:
            return self.entries.get(key)

    def put(self, key: tuple[Any, ...], kept: Kept) -> None:
        """Keep `kept`, unless what is kept was computed at a later count (the count only
        grows: a request reading an older snapshot never replaces a refresh's result)."""
        with self.lock_all:
            self.used.setdefault(key, time.monotonic())
            there = self.entries.get(key)
            if there is not None and there.changes > kept.changes:
                return
            self.entries[key] = kept
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                old, _ = self.entries.popitem(last=False)
                self.computing.pop(old, None)
                self.used.pop(old, None)


_caches: WeakKeyDictionary[Any, Cache] = WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(session: Session) -> Cache:
    engine = session.get_bind()
    with _caches_lock:
        found = _caches.get(engine)
        if found is None:
            found = _caches[engine] = Cache()
        return found


def changes(session: Session) -> int:
    return int(session.execute(select(board_changes_table.c.n)).scalar_one())


def next_deadline(session: Session, now: datetime) -> datetime:
    """The first deadline after `now` of a counted step (one index seek per state on
    ix_steps_state_deadline); NEVER when there is none."""
    t = steps_table
    found = [
        session.execute(
            select(func.min(deadline(t))).where(t.c.state == state, now < deadline(t))
        ).scalar_one()
        for state in COUNTED
    ]
    return min((f for f in found if f is not None), default=NEVER)


def scope_key(scope: Collection[str] | None) -> Any:
    return None if scope is None else frozenset(scope)


def kept(
    session: Session,
    key: tuple[Any, ...],
    now: datetime,
    compute: Callable[[Session, datetime], T],
    shifts: Sequence[timedelta] = (timedelta(0),),
    summed: tuple[Aggregate, int] | None = None,
) -> T:
    """`compute(session, now)`'s value, from memory when it is still exact (module doc).

    `shifts`: the value compares deadlines with `now - shift` for each of these (a list of
    steps at least n days late: (n − 1) days; due in the next d days: 0 and −d days). It
    then changes when `now - shift` passes a deadline, at that deadline + shift."""
    cache = cache_of(session)
    found = cache.get(key, changes(session), now)
    if found is None:
        with cache.lock(key):  # while the refresher computes it, wait for its result
            count = changes(session)
            found = cache.get(key, count, now) or _current(
                session, cache, key, now, count, compute, shifts, summed
            )
    value: T = found.value
    return value


def sums(
    session: Session,
    key: tuple[Any, ...],
    now: datetime,
    aggregate: Aggregate,
    groups: int,
    shifts: Sequence[timedelta] = (timedelta(0),),
) -> Sums:
    """`aggregate` over every step at `now`, as group → sums (its first `groups` columns,
    then the rest; a group whose sums are all 0 is left out), kept like `kept` and caught up
    from the board's log after a change. Callers do not change the dict."""

    def compute(s: Session, at: datetime) -> Sums:
        return added({}, s.execute(aggregate(steps_table, literal_column("1"), at)), groups)

    return kept(session, key, now, compute, shifts, (aggregate, groups))


def added(into: Sums, rows: Iterable[Any], groups: int) -> Sums:
    """`into` with each row's sums added to its group's."""
    for row in rows:
        group, values = tuple(row[:groups]), [int(v or 0) for v in row[groups:]]
        there = into.get(group)
        if there is not None:
            values = [a + b for a, b in zip(there, values, strict=True)]
        if groups and not any(values):
            into.pop(group, None)
        else:
            into[group] = tuple(values)
    return into


def _current(
    session: Session,
    cache: Cache,
    key: tuple[Any, ...],
    now: datetime,
    count: int,
    compute: Callable[[Session, datetime], Any],
    shifts: Sequence[timedelta],
    summed: tuple[Aggregate, int] | None,
) -> Kept:
    """Caught up from the log when it can be, else computed; kept. `count` was read before:
    a change made meanwhile is then counted after it, so the entry is never taken for newer
    than what it read."""
    found = _caught_up(session, cache, key, now, count)
    if found is not None:
        return found
    started = time.perf_counter()
    value = compute(session, now)
    until = min(_later(next_deadline(session, now - shift), shift) for shift in shifts)
    seconds = time.perf_counter() - started
    if summed is not None and changes(session) != count:
        # PostgreSQL reads each statement in its own snapshot: the sums may hold a change
        # made after `count`, which a catch-up from `count` would add a second time
        summed = None
    found = Kept(count, now, until, value, compute, shifts, seconds, summed)
    cache.put(key, found)
    return found


def _caught_up(
    session: Session, cache: Cache, key: tuple[Any, ...], now: datetime, count: int
) -> Kept | None:
    """The kept sums of `key`, brought from their count to `count` by the log rows between,
    then from their moment to `now` by the steps whose deadlines `now` passed (module doc);
    None when they cannot be: not a sum, older than the log, or too many deadlines passed."""
    entry = cache.last(key)
    if entry is None or entry.summed is None or entry.changes > count:
        return None
    if now < entry.since:
        return None
    aggregate, groups = entry.summed
    value, until = entry.value, entry.until
    if entry.changes < count:
        log = board_log_table
        span = (log.c.n > entry.changes, log.c.n <= count)
        rows = session.execute(aggregate(log, log.c.sign, entry.since).where(*span)).all()
        for shift in entry.shifts:  # a changed step's deadline may come before the kept one
            soonest = session.execute(
                select(func.min(deadline(log))).where(
                    *span,
                    log.c.sign == 1,
                    log.c.state.in_(COUNTED),
                    entry.since - shift < deadline(log),
                )
            ).scalar_one()
            if soonest is not None:
                until = min(until, _later(soonest, shift))
        # read after the rows: a prune that took some of them is then seen here
        replay_from = session.execute(select(board_changes_table.c.replay_from)).scalar_one()
        if entry.changes < replay_from:
            return None
        value = added(dict(value), rows, groups)
    since = entry.since
    if not now < until:  # deadlines passed: what the steps near them count now, not then
        t, when = steps_table, deadline(steps_table)
        near = [
            (t.c.state.in_(COUNTED), when.between(start, end))
            for start, end in _merged([(since - s, now - s) for s in entry.shifts])
        ]  # one index range each (an OR of them is read whole), and none counted twice
        reached = sum(session.execute(select(func.count()).where(*w)).scalar_one() for w in near)
        if reached > PASSED_MAX:
            return None
        value = dict(value)
        for w in near:
            value = added(
                value, session.execute(aggregate(t, literal_column("1"), now).where(*w)), groups
            )
            value = added(
                value, session.execute(aggregate(t, literal_column("-1"), since).where(*w)), groups
            )
        if changes(session) != count:  # the steps were read past `count` (see _current)
            return None
        since = now
        until = min(_later(next_deadline(session, now - shift), shift) for shift in entry.shifts)
    found = replace(entry, changes=count, since=since, until=until, value=value)
    cache.put(key, found)
    return found


#: A kept result that took at least this long to compute, and was asked for in the last
#: RECENT seconds, is kept warm by `refresh`.
SLOW, RECENT = 0.05, 600.0
#: The refresher waits at least this many times as long as its last round took: at most a
#: fifth of a core for it, however often the steps change.
PAUSE_FACTOR = 4.0


def refresh(engine: Engine, now: datetime, slow: float = SLOW, recent: float = RECENT) -> int:
    """Compute again, at `now` and the current change count, each kept result of `engine`
    that took at least `slow` seconds, was asked for in the last `recent` seconds and is no
    longer current (latest used first); how many were. Each in its own read session, so it
    reads the count and the rows as they are then."""
    from kehoach.store import read_session

    with _caches_lock:
        cache = _caches.get(engine)
    if cache is None:
        return 0
    done = 0
    for key, entry in cache.latest(recent):
        if entry.seconds < slow:
            continue
        with cache.lock(key), read_session(engine) as session:
            count = changes(session)
            if cache.get(key, count, now, asked=False) is None:
                _current(session, cache, key, now, count, entry.compute, entry.shifts, entry.summed)
                done += 1
    return done


class Refresher:
    """A thread that runs `refresh` every `interval` seconds, or PAUSE_FACTOR times as long as
    its last round took when that is longer (the board, while it serves);
    `warm(session, now)`, when given, is run first (what to compute before any request)."""

    def __init__(
        self,
        engine: Engine,
        now: Callable[[], datetime],
        warm: Callable[[Session, datetime], object] | None = None,
        interval: float = 1.0,
    ) -> None:
        self.engine, self.now, self.warm, self.interval = engine, now, warm, interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="summary-refresher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        from kehoach.store import read_session

        if self.warm is not None:
            try:
                with read_session(self.engine) as session:
                    self.warm(session, self.now())
            except Exception:  # the board answers without it, computing on request
                log.exception("không tính trước được các trang tổng hợp; sẽ tính khi có người mở")
        pause = self.interval
        while not self.stopping.wait(pause):
            started = time.monotonic()
            try:
                refresh(self.engine, self.now())
            except Exception:
                log.exception("không cập nhật được các trang tổng hợp đã giữ; sẽ thử lại")
            pause = max(self.interval, PAUSE_FACTOR * (time.monotonic() - started))


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The same moments as these closed spans, as fewer spans that do not overlap."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def _later(moment: datetime, shift: timedelta) -> datetime:
    return NEVER if moment == NEVER or NEVER - moment <= shift else moment + shift
