"""Delivery under faults (issue 11, items 1, 2 (429s), 6 and 13), in process, on SQLite and
PostgreSQL: a dispatcher dying mid-batch, its database going away mid-batch, a simulated clock
racing ahead, steps changing while their notices wait, and Telegram's 429s. The same faults
with real `kehoach worker` processes are in tests/test_delivery_processes.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, exc, insert, select, update
from sqlalchemy.orm import Session

from kehoach.store import dispatch, mark_done, read_session, tick, write_session
from kehoach.store.actions import excuse, extend
from kehoach.store.dispatch import CHUNK, CLAIM_LEASE, LEASE, release_stale_claims
from kehoach.store.errors import DatabaseUnavailable
from kehoach.store.escalations import GROUP, steps_of
from kehoach.store.models import deliveries_table, outbox_table, steps_table
from notifiers.base import DeliveryError, DeliveryResult, Notification
from notifiers.testing import RecordingChannel
from tests.conftest import load

MAY = "thu-nghiem/bao-cao-thang/2022-05"
AT = datetime(2022, 5, 18, 2, tzinfo=UTC)  # the 18/5 reminders (08:00 local) are due


class Killed(BaseException):
    """The process dies (kill -9) while a send is on its way."""


def enqueue(engine: Engine, count: int, channel: str = "test") -> list[str]:
    """`count` pending rows of `channel`, due at AT; their keys."""
    keys = [f"k{i:04d}" for i in range(count)]
    with write_session(engine) as s:
        s.execute(
            insert(outbox_table),
            [
                {
                    "idempotency_key": k,
                    "channel": channel,
                    "purpose": "digest",
                    "level": None,
                    "payload": {"n": i},
                    "state": "pending",
                    "attempts": 0,
                    "not_before": AT,
                    "created_at": AT,
                    "updated_at": AT,
                }
                for i, k in enumerate(keys)
            ],
        )
    return keys


def rows(engine: Engine) -> list[Any]:
    with read_session(engine) as s:
        return list(s.execute(select(outbox_table).order_by(outbox_table.c.id)))


def states(engine: Engine) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows(engine):
        counts[r.state] = counts.get(r.state, 0) + 1
    return counts


def deliveries(engine: Engine) -> list[Any]:
    with read_session(engine) as s:
        return list(s.execute(select(deliveries_table).order_by(deliveries_table.c.id)))


def sessions(engine: Engine) -> Callable[[], Any]:
    return lambda: write_session(engine)


def later(delta: timedelta) -> Callable[[], datetime]:
    """A real clock `delta` ahead: a restart that long after the fault."""
    return lambda: datetime.now(UTC) + delta


# ── item 1: claimed but never attempted rows go back; only the send in flight is unknown ────


def test_a_dispatcher_killed_mid_batch_loses_only_its_send_in_flight(db: Engine) -> None:
    keys = enqueue(db, 50)

    class Dying(RecordingChannel):
        def send(self, notification: Notification) -> DeliveryResult:
            if len(self.sent) == 3:
                raise Killed
            return super().send(notification)

    first = Dying()
    with pytest.raises(Killed):
        dispatch(sessions(db), first, AT, limit=100, worker="dead")
    assert states(db) == {"sent": 3, "sending": 1, "claimed": CHUNK - 4, "pending": 50 - CHUNK}
    second = RecordingChannel()
    # Within CLAIM_LEASE the dead claims are left alone; after it they are sent.
    dispatch(sessions(db), second, AT, limit=1000, worker="next")
    assert len(second.sent) == 50 - CHUNK
    result = dispatch(
        sessions(db), second, AT, limit=1000, worker="next", clock=later(2 * CLAIM_LEASE)
    )
    assert (result.released, result.abandoned, result.sent) == (CHUNK - 4, 0, CHUNK - 4)
    assert states(db) == {"sent": 49, "sending": 1}
    parked = dispatch(sessions(db), second, AT, worker="next", clock=later(2 * LEASE))
    assert parked.abandoned == 1 and states(db) == {"sent": 49, "unknown": 1}
    sent = [n.key for n in first.sent + second.sent]
    assert len(sent) == len(set(sent)) == 49
    unknown = [r.idempotency_key for r in rows(db) if r.state == "unknown"]
    assert set(keys) - set(sent) == set(unknown)
    assert len(deliveries(db)) == 49


class Outage:
    """The database going away: while `down`, every statement on `engine` fails as a lost
    connection does."""

    def __init__(self, engine: Engine):
        self.down = False
        event.listen(engine, "before_cursor_execute", self.check)

    def check(self, *_: Any) -> None:
        if self.down:
            raise exc.OperationalError("…", None, OSError("mất kết nối (thử)"))


def test_a_database_outage_mid_batch_loses_and_doubles_nothing(db: Engine) -> None:
    keys = enqueue(db, 60)
    outage = Outage(db)
    write = sessions(db)

    class CutOff(RecordingChannel):
        def send(self, notification: Notification) -> DeliveryResult:
            if len(self.sent) == 5:
                outage.down = True  # the database goes away while the 6th is on its way
            return super().send(notification)

    channel = CutOff()
    with pytest.raises(DatabaseUnavailable):
        dispatch(write, channel, AT, limit=100, worker="w")
    with pytest.raises(DatabaseUnavailable):  # still away: the outcome stays in memory
        dispatch(write, channel, AT, limit=100, worker="w")
    outage.down = False
    assert states(db) == {"sent": 5, "sending": 1, "claimed": CHUNK - 6, "pending": 60 - CHUNK}
    result = dispatch(write, channel, AT, limit=1000, worker="w", clock=later(2 * CLAIM_LEASE))
    assert result.recorded_late == 1 and result.released == CHUNK - 6
    assert states(db) == {"sent": 60}
    sent = [n.key for n in channel.sent]
    assert sorted(sent) == keys
    assert sorted(d.outbox_id for d in deliveries(db)) == [r.id for r in rows(db)]
    assert {d.outcome for d in deliveries(db)} == {"sent"}


def test_a_row_marked_but_cut_off_before_its_send_goes_back_to_pending(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away after a row's «sending» mark (committed on its own on
    PostgreSQL) and before its send: the row was never handed to the channel, so it goes back
    to pending when the database answers again and is sent then; it is never parked unknown."""
    import importlib

    dispatcher = importlib.import_module("kehoach.store.dispatch")  # the module, not the function
    monkeypatch.setattr(dispatcher, "REFRESH_SECONDS", 0.0)  # a statement after every mark
    keys = enqueue(db, 10)
    outage = Outage(db)
    marks = []

    def cut_after_third_mark(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "SET state = 'sending'" in statement:
            marks.append(statement)
            outage.down = len(marks) == 3

    event.listen(db, "after_cursor_execute", cut_after_third_mark)
    channel = RecordingChannel()
    with pytest.raises(DatabaseUnavailable):
        dispatch(sessions(db), channel, AT, limit=100, worker="w")
    assert len(channel.sent) == 2  # the third was marked, never sent
    outage.down = False
    event.remove(db, "after_cursor_execute", cut_after_third_mark)
    dispatch(sessions(db), channel, AT, limit=100, worker="w", clock=later(2 * CLAIM_LEASE))
    assert states(db) == {"sent": 10}
    assert sorted(n.key for n in channel.sent) == keys


def test_a_mark_whose_answer_is_lost_goes_back_to_pending(db: Engine) -> None:
    """The connection breaks after the server took a row's «sending» mark (committed on its
    own on PostgreSQL) and before its answer came back: the dispatcher cannot know the mark
    is in, so it gives the row back as one marked and never sent; it is sent when the
    database answers again, not left «sending» until its lease and parked unknown."""
    keys = enqueue(db, 10)
    marks = []

    def lose_third_answer(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "SET state = 'sending'" in statement:
            marks.append(statement)
            if len(marks) == 3:
                raise exc.OperationalError("…", None, OSError("mất kết nối (thử)"))

    event.listen(db, "after_cursor_execute", lose_third_answer)
    channel = RecordingChannel()
    with pytest.raises(DatabaseUnavailable):
        dispatch(sessions(db), channel, AT, limit=100, worker="w")
    event.remove(db, "after_cursor_execute", lose_third_answer)
    assert len(channel.sent) == 2  # the third was marked, never sent
    dispatch(sessions(db), channel, AT, limit=100, worker="w", clock=later(2 * CLAIM_LEASE))
    assert states(db) == {"sent": 10}
    assert sorted(n.key for n in channel.sent) == keys


# ── item 13: leases run on the real clock, not the simulated one ─────────────────────────────


def test_a_simulated_clock_racing_ahead_parks_nothing_being_sent(db: Engine) -> None:
    enqueue(db, 10)
    racing: list[Any] = []

    class Watched(RecordingChannel):
        def send(self, notification: Notification) -> DeliveryResult:
            if len(self.sent) == 2:  # another dispatcher, its simulated time a day ahead
                racing.append(
                    dispatch(
                        sessions(db),
                        RecordingChannel("other"),
                        AT + timedelta(days=1),
                        worker="simulated",
                    )
                )
            return super().send(notification)

    channel = Watched()
    dispatch(sessions(db), channel, AT, worker="w")
    assert (racing[0].released, racing[0].abandoned) == (0, 0)
    assert states(db) == {"sent": 10} and len(channel.sent) == 10
    with write_session(db) as s:  # and the housekeeping's view, at a simulated "now"
        assert release_stale_claims(s, AT + timedelta(days=365)) == (0, 0)


# ── item 6: the step is looked at again when its notice's turn comes ────────────────────────


def _tick(engine: Engine, now: datetime) -> None:
    with write_session(engine) as s:
        tick(s, now, channel="test")


def told(channel: RecordingChannel) -> set[str]:
    """The steps the sent notices speak of (a grouped escalation lists several)."""
    return {
        i for n in channel.sent for i in steps_of(n.purpose, n.payload.get("step_id"), n.payload)
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: mark_done(s, f"{MAY}/doan-a", "thư ký", "cli", AT), "không gửi: bước đã xong"),
        (
            lambda s: excuse(s, f"{MAY}/doan-a", "đơn vị giải thể", "thư ký", "cli", AT),
            "không gửi: bước được miễn",
        ),
        (
            lambda s: s.execute(
                update(steps_table)
                .where(steps_table.c.id == f"{MAY}/doan-a")
                .values(state="cancelled", next_action_at=None)
            ),
            "không gửi: bước đã hủy",
        ),
    ],
    ids=["done", "excused", "cancelled"],
)
def test_nothing_is_sent_for_a_step_closed_while_its_reminder_waited(
    db: Engine, plan_file: Path, change: Callable[[Session], Any], reason: str
) -> None:
    load(db, plan_file)
    _tick(db, AT)
    with write_session(db) as s:
        change(s)
    channel = RecordingChannel()
    result = dispatch(sessions(db), channel, AT, limit=1000)
    row = next(r for r in rows(db) if r.step_id == f"{MAY}/doan-a")
    assert (row.state, row.last_error) == ("skipped", reason)
    assert f"{MAY}/doan-a" not in told(channel)
    assert f"{MAY}/doan-b" in told(channel)
    assert result.skipped == 1 and row.id not in {d.outbox_id for d in deliveries(db)}


@pytest.mark.parametrize("closed", [["doan-a"], ["doan-a", "doan-b"]], ids=["one", "all"])
def test_a_grouped_escalation_leaves_out_the_steps_closed_while_it_waited(
    db: Engine, plan_file: Path, closed: list[str]
) -> None:
    """April's report, late for both units: the issuer's rung 3 is one grouped message; a step
    done before it is sent is not listed, and with every step done nothing is sent."""
    april = "thu-nghiem/bao-cao-thang/2022-04"
    load(db, plan_file)
    _tick(db, AT)
    [group] = [r for r in rows(db) if r.purpose == GROUP]
    assert sorted(steps_of(GROUP, None, group.payload)) == [f"{april}/doan-a", f"{april}/doan-b"]
    with write_session(db) as s:
        for unit in closed:
            mark_done(s, f"{april}/{unit}", "thư ký", "cli", AT)
    channel = RecordingChannel()
    dispatch(sessions(db), channel, AT, limit=1000)
    [row] = [r for r in rows(db) if r.id == group.id]
    sent = [n for n in channel.sent if n.id == group.id]
    if len(closed) == 2:
        assert row.state == "skipped" and "mọi việc trong tin đã xong" in row.last_error
        assert sent == []
    else:
        assert row.state == "sent"
        [note] = sent
        assert [i["step_id"] for i in note.payload["steps"]] == [f"{april}/doan-b"]
        assert note.payload["count"] == 1


def test_a_reminder_says_the_state_at_send_time(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    _tick(db, AT)  # decided on 18/5: «sắp đến hạn»
    channel = RecordingChannel()
    dispatch(sessions(db), channel, datetime(2022, 5, 25, 1, tzinfo=UTC), limit=1000)
    note = next(n for n in channel.sent if n.payload.get("step_id") == f"{MAY}/doan-a")
    assert (note.payload["status"], note.payload["due_day"]) == ("đến hạn hôm nay", "25/05/2022")


def test_an_extension_drops_the_old_reminders_and_reminds_before_the_new_date(
    db: Engine, plan_file: Path
) -> None:
    """Due 25/5 (reminders 18/5 and 24/5), extended on 18/5 to 5/6: the queued 18/5 reminder
    is dropped, and the reminders come 11 days later, before 5/6, saying «hạn 05/06/2022»."""
    load(db, plan_file)
    _tick(db, AT)
    with write_session(db) as s:
        extend(
            s,
            f"{MAY}/doan-a",
            date(2022, 6, 5),
            "chờ số liệu phường",
            "thư ký",
            "cli",
            AT + timedelta(minutes=5),
        )
    channel = RecordingChannel()
    dispatch(sessions(db), channel, AT + timedelta(minutes=10), limit=1000)
    old = next(r for r in rows(db) if r.step_id == f"{MAY}/doan-a")
    assert old.state == "skipped"
    assert old.last_error == (
        "không gửi: hạn đã đổi từ 25/05/2022 sang 05/06/2022; nhắc việc được tính lại theo hạn mới"
    )
    day = AT
    while day < datetime(2022, 6, 7, tzinfo=UTC):
        day += timedelta(hours=6)
        _tick(db, day)
        dispatch(sessions(db), channel, day, limit=1000)
    reminded = [
        (n.payload["moment"][:10], n.payload["due_day"])
        for n in channel.sent
        if n.payload.get("step_id") == f"{MAY}/doan-a" and n.purpose == "reminder"
    ]
    assert reminded == [("2022-05-29", "05/06/2022"), ("2022-06-04", "05/06/2022")]


# ── item 2 (the dispatcher's half): a 429 is a wait, never a failed attempt ─────────────────


def test_429s_are_waited_out_and_never_count_as_attempts(db: Engine) -> None:
    enqueue(db, 1)
    busy = [DeliveryError("Too Many Requests: retry after 2", retry_after=2.0)] * 8
    channel = RecordingChannel(failures={"k0000": busy})
    now = AT
    for _ in range(20):
        dispatch(sessions(db), channel, now)
        now += timedelta(seconds=1)
    row = rows(db)[0]
    assert (row.state, row.attempts) == ("sent", 1)
    outcomes = [d.outcome for d in deliveries(db)]
    assert outcomes == ["temporary"] * 8 + ["sent"]
    waits = [d.at for d in deliveries(db)]
    assert all(b - a >= timedelta(seconds=2) for a, b in pairwise(waits))
