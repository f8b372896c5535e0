"""Summaries and charts kept between requests, exactly (issue 12: a GROUP BY over a million
steps takes half a second; the summary pages need two).

A summary at `now` depends on the stored steps, units and clusters, and on `now` only
through which deadlines are past (late or not yet due). So a result computed at `since`
stays exact for any `now` in [since, next deadline after since) while nothing it reads was
written: database triggers count those writes in `board_changes` (migration 0011), whichever
process or path makes them. A request reads that count (one row) and, when it and the time
window match, answers from memory.

    kept(session, ("summaries", "unit", None, scope_key), now, lambda s, at: compute(s, at))

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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kehoach.store.models import board_changes_table, steps_table

T = TypeVar("T")
log = logging.getLogger(__name__)
#: The states whose deadlines a summary or chart counts (cancelled steps are left out).
COUNTED = ("pending", "done", "excused")
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Kept:
    changes: int  # board_changes.n when computed
    since: datetime  # the `now` it was computed for
    until: datetime  # the first deadline after `since`: exact before it
    value: Any
    compute: Callable[[Session, datetime], Any]  # makes the value again (`refresh`)
    shifts: Sequence[timedelta]
    seconds: float  # how long it took


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
    from .queries import DEADLINE

    t = steps_table
    found = [
        session.execute(
            select(func.min(DEADLINE)).where(t.c.state == state, now < DEADLINE)
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
            found = cache.get(key, count, now) or _compute(
                session, cache, key, now, count, compute, shifts
            )
    value: T = found.value
    return value


def _compute(
    session: Session,
    cache: Cache,
    key: tuple[Any, ...],
    now: datetime,
    count: int,
    compute: Callable[[Session, datetime], Any],
    shifts: Sequence[timedelta],
) -> Kept:
    """Compute and keep. `count` was read before: a change made meanwhile is then counted
    after it, so the entry is never taken for newer than what it read."""
    started = time.perf_counter()
    value = compute(session, now)
    until = min(_later(next_deadline(session, now - shift), shift) for shift in shifts)
    found = Kept(count, now, until, value, compute, shifts, time.perf_counter() - started)
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
                _compute(session, cache, key, now, count, entry.compute, entry.shifts)
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


def _later(moment: datetime, shift: timedelta) -> datetime:
    return NEVER if moment == NEVER or NEVER - moment <= shift else moment + shift
