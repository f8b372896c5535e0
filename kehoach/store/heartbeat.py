"""The clock's heartbeat: one row (`clock_beats`, name "clock") that the leading clock keeps.

The leader writes when its clock starts (`record_start`) and after every successful scheduled
tick (`record_tick`), in real time; `clock_health` tells any process (the board's /healthz
may run where the clock does not) whether the clock still ticks: the last successful tick
(or, before the first one, the start) must be at most `STALE_PERIODS` tick periods and
`STALE_SLACK` old.

    with write_session(engine) as s: record_tick(s, "may-1:42", datetime.now(UTC))
    with read_session(engine) as s: clock_health(s, datetime.now(UTC)).ok
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.model import ZONE as VN

from .models import clock_beats_table as beats

NAME = "clock"
#: The clock is stale when it has not ticked for this many periods, plus the slack (a tick
#: takes time, and APScheduler retries a failing job store read after 10 s).
STALE_PERIODS = 3
STALE_SLACK = timedelta(seconds=10)


def record_start(session: Session, worker: str, period_seconds: float, at: datetime) -> None:
    """The clock of `worker` starts, ticking every `period_seconds`; the first start on a
    database also counts as the reference until the first tick."""
    found = session.execute(select(beats.c.name).where(beats.c.name == NAME)).first()
    if found is not None:
        session.execute(
            update(beats)
            .where(beats.c.name == NAME)
            .values(worker=worker, period_seconds=period_seconds)
        )
    else:
        session.execute(
            insert(beats).values(
                name=NAME,
                worker=worker,
                period_seconds=period_seconds,
                started_at=at,
                ticked_at=None,
            )
        )


def record_tick(session: Session, worker: str, at: datetime) -> None:
    """A scheduled tick of `worker`'s clock went through (tick and dispatch) at `at`."""
    session.execute(update(beats).where(beats.c.name == NAME).values(worker=worker, ticked_at=at))


@dataclass(frozen=True)
class ClockHealth:
    ok: bool
    reason: str  # in Vietnamese, for /healthz
    ticked_at: datetime | None = None


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(VN):%H:%M:%S %d/%m/%Y}"


def clock_health(session: Session, at: datetime) -> ClockHealth:
    """Whether the clock ticks, at real time `at`."""
    row = session.execute(select(beats).where(beats.c.name == NAME)).one_or_none()
    if row is None:
        return ClockHealth(True, "đồng hồ chưa chạy lần nào (mới cài đặt)")
    limit = timedelta(seconds=STALE_PERIODS * row.period_seconds) + STALE_SLACK
    since = row.ticked_at or row.started_at
    age = max(0, int((at - since).total_seconds()))
    if at - since <= limit:
        said = (
            f"nhịp thành công cuối lúc {_at(since)}, {age} giây trước"
            if row.ticked_at
            else f"đồng hồ vừa khởi động lúc {_at(since)}, chưa đến nhịp đầu"
        )
        return ClockHealth(True, said, row.ticked_at)
    if row.ticked_at is None:
        return ClockHealth(
            False,
            f"đồng hồ khởi động lúc {_at(since)} ({age} giây trước) nhưng "
            "chưa nhịp thành công lần nào",
            None,
        )
    return ClockHealth(
        False,
        f"đồng hồ đã ngừng: nhịp thành công cuối lúc {_at(since)}, "
        f"{age} giây trước (mỗi nhịp {row.period_seconds:g} giây)",
        row.ticked_at,
    )
