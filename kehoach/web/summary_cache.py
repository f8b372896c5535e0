"""Summaries and charts kept between requests, exactly (issue 12: a GROUP BY over a million
steps takes half a second; the summary pages need two).

A summary at `now` depends on the stored steps, units and clusters, and on `now` only
through which deadlines are past (late or not yet due). So a result computed at `since`
stays exact for any `now` in [since, next deadline after since) while nothing it reads was
written: database triggers count those writes in `board_changes` (migration 0011), whichever
process or path makes them. A request reads that count (one row) and, when it and the time
window match, answers from memory.

    kept(session, ("summaries", "unit", None, scope_key), now, lambda: compute())
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kehoach.store.models import board_changes_table, steps_table

T = TypeVar("T")
#: The states whose deadlines a summary or chart counts (cancelled steps are left out).
COUNTED = ("pending", "done", "excused")
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Kept:
    changes: int  # board_changes.n when computed
    since: datetime  # the `now` it was computed for
    until: datetime  # the first deadline after `since`: exact before it
    value: Any


class Cache:
    """The kept results of one database (an engine), the `size` latest used."""

    def __init__(self, size: int = 64) -> None:
        self.size, self.lock = size, threading.Lock()
        self.entries: OrderedDict[tuple[Any, ...], Kept] = OrderedDict()

    def get(self, key: tuple[Any, ...], changes: int, now: datetime) -> Any | None:
        with self.lock:
            found = self.entries.get(key)
            if found is None or found.changes != changes or not found.since <= now < found.until:
                return None
            self.entries.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], kept: Kept) -> None:
        with self.lock:
            self.entries[key] = kept
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


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
    compute: Callable[[], T],
    shifts: Sequence[timedelta] = (timedelta(0),),
) -> T:
    """`compute()`'s value at `now`, from memory when it is still exact (module doc).

    `shifts`: the value compares deadlines with `now - shift` for each of these (a list of
    steps at least n days late: (n − 1) days; due in the next d days: 0 and −d days). It
    then changes when `now - shift` passes a deadline, at that deadline + shift."""
    cache, count = cache_of(session), changes(session)
    found = cache.get(key, count, now)
    if found is not None:
        value: T = found.value
        return value
    value = compute()
    until = min(_later(next_deadline(session, now - shift), shift) for shift in shifts)
    cache.put(key, Kept(count, now, until, value))
    return value


def _later(moment: datetime, shift: timedelta) -> datetime:
    return NEVER if moment == NEVER or NEVER - moment <= shift else moment + shift
