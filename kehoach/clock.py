"""The clock: APScheduler 3 wakes the engine up, the database says what is due.

The scheduler holds three jobs in a persistent `SQLAlchemyJobStore` (table
`kehoach_apscheduler_jobs`, on the same database as the store): `tick_job` every
`tick_seconds` (one tick, then one dispatch batch), a daily `digest_job` at the digest hour
(`digest_at`, from KEHOACH_DIGEST_HOUR, default 07:30 local; misfire grace DIGEST_GRACE) and a
daily `housekeeping_job`. No job
carries state: each is a module-level function taking one plain id, the name under which the
running `Clock` registered itself in this process, so the pickled job is just a reference and
a string (APScheduler's own advice for persistent job stores).

Time is a parameter: the `Clock` is given a `now()` callable and passes its value down to
`store.tick` and `store.dispatch`; APScheduler only decides *when* to wake up. At start-up the
tick job's next run is set to "immediately", so anything missed while the engine was down is
handled once by the catch-up tick (the store coalesces missed reminders and knows which rungs
were passed); `coalesce=True` keeps a backlog of missed runs from becoming a burst, and
`misfire_grace_time` is one interval: a run later than that is skipped, the next one covers it.

A daily digest missed while the engine was down (it restarts within DIGEST_GRACE after the
digest hour) runs at start-up: re-adding the job moves its next run to the next day, so the
start decides itself (`missed_digest`) and sets the digest's next run to "immediately"; the
store sends each recipient's digest once a day, so a digest already sent is not sent again.

Callbacks never raise into APScheduler: every job runs through `Clock.guard`, the one place
that logs the error and records it (`Clock.errors`, and the optional `on_error` hook).

APScheduler itself can stop for ever: when the job store's write fails inside `wakeup()` (a
full disk), no next wake-up is set. So the clock knows when its tick job last woke up
(`stalled()`), and the process holding the clock (serve.lead_loop) rebuilds it when it has
slept for STALL_PERIODS periods. Each successful scheduled tick is recorded in the database
(store/heartbeat.py) in real time, for /healthz in every process.

    clock = Clock(engine, url, ConsoleChannel(), now=lambda: datetime.now(UTC))
    clock.start()          # inside a running asyncio loop
    ...
    clock.shutdown()
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time as monotonic_time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, func, select

from engine.model import ZONE
from kehoach import store
from kehoach.store.db import WRITE
from kehoach.store.digest import DEFAULT_HOUR, DigestResult
from kehoach.store.digest import digest as make_digest
from kehoach.store.dispatch import DispatchResult, _abandon_stale_claims
from kehoach.store.heartbeat import record_start, record_tick
from kehoach.store.models import Sending, outbox_table
from notifiers.base import Channel

log = logging.getLogger("kehoach.clock")

JOB_TABLE = "kehoach_apscheduler_jobs"
TICK_JOB, HOUSEKEEPING_JOB = "kehoach-tick", "kehoach-housekeeping"
DIGEST_JOB = "kehoach-digest"
#: A digest run later than this after its hour (the engine was down) is skipped; the next
#: day's covers it.
DIGEST_GRACE = 4 * 3600
HOUSEKEEPING_AT = {"hour": 3, "minute": 17}  # local time, away from the 07:30 digests
#: The tick job not woken for this many periods (plus STALL_SLACK seconds: APScheduler retries
#: a failing job store read after 10 s) means the scheduler stopped: it is rebuilt.
STALL_PERIODS, STALL_SLACK = 3, 10.0
JOB_THREADS = 4  # tick, digest, housekeeping, and a tick left over by a rebuilt clock

#: The clocks running in this process, by the id their jobs carry.
_CLOCKS: dict[str, Clock] = {}
_SERIAL = itertools.count(1)


@dataclass(frozen=True)
class ClockError:
    at: datetime
    job: str
    message: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def missed_digest(now: datetime, digest_at: time) -> bool:
    """Is `now` within DIGEST_GRACE after the last digest hour (local)? Then a digest missed
    while the engine was down is still worth sending.

    >>> missed_digest(datetime(2022, 5, 30, 2, tzinfo=UTC), time(7, 30))   # 09:00 local
    True
    >>> missed_digest(datetime(2022, 5, 30, 7, tzinfo=UTC), time(7, 30))   # 14:00 local
    False
    """
    local = now.astimezone(ZONE)
    last = datetime.combine(local.date(), digest_at, ZONE)
    if last > local:
        last -= timedelta(days=1)
    return (local - last).total_seconds() <= DIGEST_GRACE


def worker_name() -> str:
    """This process, as `claimed_by` in outbox rows and in log lines."""
    return f"{socket.gethostname()}:{os.getpid()}"


def tick_job(clock_id: str) -> None:
    """The periodic job: one tick of the store, then one dispatch batch."""
    clock = _CLOCKS.get(clock_id)
    if clock is None:  # a job restored by a process whose clock is gone: nothing to wake
        log.warning("nhịp %s: không có đồng hồ nào đang chạy với mã này", clock_id)
        return
    clock.woke, clock.ticking = monotonic_time.monotonic(), True
    try:
        clock.guard("tick", clock.run_scheduled_tick)
    finally:
        clock.woke, clock.ticking = monotonic_time.monotonic(), False


def housekeeping_job(clock_id: str) -> None:
    """The daily job: park claims left by dead dispatchers, report what needs a person."""
    clock = _CLOCKS.get(clock_id)
    if clock is not None:
        clock.guard("housekeeping", clock.run_housekeeping)


def digest_job(clock_id: str) -> None:
    """The daily job at the digest hour: queue each recipient's digest, then dispatch."""
    clock = _CLOCKS.get(clock_id)
    if clock is not None:
        clock.guard("digest", clock.run_digest)


class Clock:
    """The engine's periodic jobs on an AsyncIOScheduler with a persistent job store."""

    def __init__(
        self,
        engine: Engine,
        url: str,
        channel: Channel | Sequence[Channel],
        now: Callable[[], datetime],
        *,
        tick_seconds: float = 60.0,
        dispatch_limit: int = 100,
        worker: str | None = None,
        digest_at: time = DEFAULT_HOUR,
        on_error: Callable[[ClockError, BaseException], None] | None = None,
        wall: Callable[[], datetime] = utc_now,
    ):
        # The running channels; the first one also takes what no person can be reached for.
        self.channels = [channel] if isinstance(channel, Channel) else list(channel)
        self.engine, self.url, self.channel, self.now = engine, url, self.channels[0], now
        self.tick_seconds, self.dispatch_limit = tick_seconds, dispatch_limit
        self.worker = worker or worker_name()
        self.digest_at = digest_at
        self.on_error = on_error
        self.id = f"{self.worker}#{next(_SERIAL)}"
        self.errors: deque[ClockError] = deque(maxlen=100)
        self.ticks = 0
        self.scheduler: AsyncIOScheduler | None = None
        # Real time, for the heartbeat (`now` may be simulated); monotonic: the last wake-up.
        self.wall = wall
        self.woke, self.ticking = monotonic_time.monotonic(), False
        # Jobs handed to the thread pool and not finished (a job's next run is stored when it
        # is handed over, before it runs: "scheduled for later" is not "done").
        self.in_flight, self._flight_lock = 0, threading.Lock()

    # ── the work, callable without a scheduler (tests, `kehoach tick`) ──────────────────────
    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    def dispatch_all(self, now: datetime) -> DispatchResult:
        """One dispatch batch on each running channel; the outcomes added up."""
        total = DispatchResult()
        for channel in self.channels:
            if not channel.sending:  # another process holds its sender key and sends for it
                continue
            one = store.dispatch(
                lambda: store.write_session(self.engine),
                channel,
                now,
                limit=self.dispatch_limit,
                worker=self.worker,
                fallbacks=self.channel_names,
            )
            for name, value in vars(one).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def run_tick(self) -> tuple[store.TickResult, DispatchResult]:
        now = self.now()
        with store.write_session(self.engine) as session:
            decided = store.tick(
                session, now, channel=self.channel.name, channels=self.channel_names
            )
        sent = self.dispatch_all(now)
        self.ticks += 1
        if decided.queued or sent.claimed:
            log.info(
                "nhịp lúc %s: xét %d bước, %d thông báo mới, đã gửi %d",
                now.isoformat(),
                decided.steps,
                decided.queued,
                sent.sent,
            )
        return decided, sent

    def run_scheduled_tick(self) -> tuple[store.TickResult, DispatchResult]:
        """The scheduler's tick: `run_tick`, then the heartbeat (not `kehoach tick`'s: a
        cron tick must not hide a stopped clock)."""
        result = self.run_tick()
        with store.write_session(self.engine) as session:
            record_tick(session, self.worker, self.wall())
        return result

    def run_digest(self) -> tuple[DigestResult, DispatchResult]:
        """Today's digests (once per recipient and day, whoever runs it), then one dispatch."""
        now = self.now()
        with store.write_session(self.engine) as session:
            queued = make_digest(
                session, now, self.digest_at, channel=self.channel.name, channels=self.channel_names
            )
        sent = self.dispatch_all(now)
        if queued.queued:
            log.info("tin tổng hợp ngày %s: %d người nhận", queued.day, queued.queued)
        return queued, sent

    def run_housekeeping(self) -> dict[str, int]:
        now = self.now()
        with store.write_session(self.engine) as session:
            parked = _abandon_stale_claims(session, now)
            counts = dict(
                session.execute(
                    select(outbox_table.c.state, func.count()).group_by(outbox_table.c.state)
                ).all()
            )
        counts["parked"] = parked
        if counts.get(Sending.FAILED) or counts.get(Sending.UNKNOWN):
            log.warning(
                "hàng đợi: %d tin gửi thất bại, %d tin chưa rõ đã đến chưa; cần người xem lại",
                counts.get(Sending.FAILED, 0),
                counts.get(Sending.UNKNOWN, 0),
            )
        return counts

    def guard(self, job: str, work: Callable[[], Any]) -> Any:
        """Run `work`; any error is logged and recorded here, never raised into APScheduler."""
        try:
            return work()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            error = ClockError(datetime.now(UTC), job, f"{type(exc).__name__}: {exc}")
            self.errors.append(error)
            if isinstance(exc, store.StoreError):
                log.error("việc %s lỗi: %s", job, exc)
            else:
                log.exception("việc %s lỗi", job)
            if self.on_error is not None:
                try:
                    self.on_error(error, exc)
                except Exception:
                    log.exception("hàm xử lý lỗi của đồng hồ cũng lỗi")
            return None

    # ── the scheduler ────────────────────────────────────────────────────────────────────────
    def job_store(self) -> SQLAlchemyJobStore:
        """The persistent job store: its own engine on the same URL (every transaction a
        writer's, so SQLite takes its lock at BEGIN)."""
        engine = store.make_engine(self.url).execution_options(**{WRITE: True})
        return SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)

    def stalled(self) -> bool:
        """Has the tick job not woken up for STALL_PERIODS periods (a tick running is not a
        stall)? Then APScheduler has stopped (module doc) and the clock must be rebuilt."""
        quiet = monotonic_time.monotonic() - self.woke
        return not self.ticking and quiet > STALL_PERIODS * self.tick_seconds + STALL_SLACK

    def start(self) -> None:
        """Start the scheduler in the running asyncio loop; the first tick runs at once, and a
        digest missed within its grace time too. Raises (a store error) when the database
        cannot be written; nothing is left running then."""
        if self.scheduler is not None:
            return
        with store.write_session(self.engine) as session:
            record_start(session, self.worker, self.tick_seconds, self.wall())
        _CLOCKS[self.id] = self
        jobs = self.job_store()
        # Jobs run in a thread pool of their own: at shutdown a running tick finishes (the
        # asyncio executor would cancel its future and log a CancelledError traceback).
        scheduler = AsyncIOScheduler(
            jobstores={"default": jobs},
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(JOB_THREADS)},
        )
        scheduler.add_listener(
            self._count_jobs, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )
        try:
            self._schedule(scheduler)
            scheduler.start()
        except BaseException:
            _CLOCKS.pop(self.id, None)
            jobs.engine.dispose()
            raise
        self.woke = monotonic_time.monotonic()
        self.scheduler = scheduler
        log.info(
            "đồng hồ chạy: nhịp mỗi %g giây, tin tổng hợp hằng ngày lúc %02d:%02d, dọn dẹp "
            "hằng ngày lúc %02d:%02d",
            self.tick_seconds,
            self.digest_at.hour,
            self.digest_at.minute,
            HOUSEKEEPING_AT["hour"],
            HOUSEKEEPING_AT["minute"],
        )

    def _count_jobs(self, event: JobSubmissionEvent | JobExecutionEvent) -> None:
        with self._flight_lock:
            self.in_flight += 1 if event.code == EVENT_JOB_SUBMITTED else -1

    def _schedule(self, scheduler: AsyncIOScheduler) -> None:
        grace = max(1, int(self.tick_seconds))
        scheduler.add_job(
            tick_job,
            IntervalTrigger(seconds=self.tick_seconds, timezone=UTC),
            args=[self.id],
            id=TICK_JOB,
            name="kehoach tick",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=grace,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )  # catch-up tick
        scheduler.add_job(
            housekeeping_job,
            CronTrigger(timezone=ZONE, **HOUSEKEEPING_AT),
            args=[self.id],
            id=HOUSEKEEPING_JOB,
            name="kehoach housekeeping",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=6 * 3600,
            max_instances=1,
        )
        # Re-adding the job moved its next run to tomorrow: a digest missed today runs now.
        catch_up: dict[str, datetime] = {}
        if missed_digest(self.now(), self.digest_at):
            catch_up["next_run_time"] = datetime.now(UTC)
        scheduler.add_job(
            digest_job,
            CronTrigger(timezone=ZONE, hour=self.digest_at.hour, minute=self.digest_at.minute),
            args=[self.id],
            id=DIGEST_JOB,
            name="kehoach digest",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=DIGEST_GRACE,
            max_instances=1,
            **catch_up,
        )

    def shutdown(self) -> None:
        """Stop waking up; a tick already running finishes in its thread (the process waits
        for it before it exits)."""
        if self.scheduler is not None:
            try:
                self.scheduler.shutdown(wait=False)
            except Exception:
                log.exception("không dừng được bộ hẹn giờ gọn gàng")
            self.scheduler = None
        _CLOCKS.pop(self.id, None)
