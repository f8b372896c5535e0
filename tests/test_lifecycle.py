"""workflows.lifecycle: status, notices and actions, table-driven and as properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.lifecycle import (
    GRACE,
    Action,
    ActionRefused,
    Phase,
    RungFacts,
    State,
    StepFacts,
    check,
    due_notices,
    next_moment,
    refusal,
    status,
)

H = timedelta(hours=1)
D = timedelta(days=1)
# «Báo cáo tháng» due 25/01/2024 (no time): late after 26/01 00:00 in Hồ Chí Minh = 25/01 17:00 UTC.
DUE = datetime(2024, 1, 25, 17, tzinfo=UTC)
REMINDERS = (datetime(2024, 1, 18, 0, 30, tzinfo=UTC), datetime(2024, 1, 24, 0, 30, tzinfo=UTC))
RUNGS = (
    RungFacts(1, datetime(2024, 1, 26, 0, 30, tzinfo=UTC), ("a",)),
    RungFacts(2, datetime(2024, 1, 28, 0, 30, tzinfo=UTC), ("head",)),
    RungFacts(3, datetime(2024, 2, 1, 0, 30, tzinfo=UTC), ("issuer",)),
)
STEP = StepFacts(
    "p/bao-cao/2024-01/a",
    "deadline",
    DUE,
    date(2024, 1, 25),
    reminders=REMINDERS,
    rungs=RUNGS,
    unit="a",
)
EVENT = StepFacts(
    "p/hop/2024-01/a",
    "event",
    datetime(2024, 1, 25, 2, tzinfo=UTC),
    date(2024, 1, 25),
    reminders=REMINDERS[:1],
    rungs=RUNGS,
    unit="a",
)


def at(day: int, hour: int = 3, month: int = 1) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("step", "now", "phase", "label"),
    [
        (STEP, at(10), Phase.UPCOMING, "sắp tới"),
        (
            StepFacts(STEP.id, STEP.kind, DUE, STEP.due_date, True, reminders=REMINDERS),
            at(10),
            Phase.TENTATIVE,
            "dự kiến",
        ),
        (STEP, at(18), Phase.DUE_SOON, "sắp đến hạn"),
        (STEP, at(25), Phase.DUE_TODAY, "đến hạn hôm nay"),
        (STEP, at(25, 16), Phase.DUE_TODAY, "đến hạn hôm nay"),
        (STEP, at(25, 18), Phase.OVERDUE, "quá hạn 1 ngày"),
        (
            replace(STEP, escalated=1),
            at(26, 3),
            Phase.ESCALATED,
            "quá hạn 1 ngày, đã báo lên mức 1",
        ),
        # what was sent, apart from what is due (issue 11): the clock alone sends nothing
        (
            replace(STEP, escalated=1),
            at(28, 3),
            Phase.ESCALATED,
            "quá hạn 3 ngày, đã báo lên mức 1, đến lượt báo mức 2",
        ),
        (
            STEP,
            at(10, 3, 2),
            Phase.ESCALATED,
            "quá hạn 16 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 3",
        ),
        (
            replace(STEP, escalated=3),
            at(10, 3, 2),
            Phase.ESCALATED,
            "quá hạn 16 ngày, đã báo lên mức 3",
        ),
        (EVENT, at(24), Phase.DUE_SOON, "sắp diễn ra"),
        (EVENT, at(25, 1), Phase.DUE_TODAY, "diễn ra hôm nay"),
        (EVENT, at(25, 3), Phase.HAPPENED, "đã diễn ra"),
        (EVENT, at(10, 3, 2), Phase.HAPPENED, "đã diễn ra"),
        (
            StepFacts(STEP.id, "deadline", DUE, STEP.due_date, state="done", done_at=at(20)),
            at(10, 3, 2),
            Phase.DONE,
            "đã xong",
        ),
        (
            StepFacts(STEP.id, "deadline", DUE, STEP.due_date, state="done", done_at=at(27)),
            at(10, 3, 2),
            Phase.DONE_LATE,
            "xong trễ 2 ngày",
        ),
        (
            StepFacts(STEP.id, "deadline", DUE, STEP.due_date, state="excused"),
            at(30),
            Phase.EXCUSED,
            "được miễn",
        ),
        (
            StepFacts(STEP.id, "deadline", DUE, STEP.due_date, state="cancelled"),
            at(30),
            Phase.CANCELLED,
            "đã hủy",
        ),
        (
            StepFacts(
                STEP.id, "deadline", DUE, STEP.due_date, rungs=RUNGS, extended_until=DUE + 7 * D
            ),
            at(28),
            Phase.UPCOMING,
            "sắp tới",
        ),
        (
            StepFacts(
                STEP.id, "deadline", DUE, STEP.due_date, rungs=RUNGS, extended_until=DUE + 7 * D
            ),
            at(2, 0, 2),
            Phase.OVERDUE,
            "quá hạn 1 ngày",
        ),
        (
            StepFacts(
                STEP.id,
                "deadline",
                DUE,
                STEP.due_date,
                rungs=RUNGS,
                extended_until=DUE + 7 * D,
                escalated=1,
            ),
            at(3, 3, 2),
            Phase.ESCALATED,
            "quá hạn 2 ngày, đã báo lên mức 1",
        ),
    ],
    ids=[
        "upcoming",
        "tentative",
        "due-soon",
        "due-today",
        "due-today-last-hour",
        "overdue",
        "rung-1",
        "rung-2-due",
        "rung-3-due",
        "rung-3-sent",
        "event-soon",
        "event-today",
        "event-happened",
        "event-never-overdue",
        "done",
        "done-late",
        "excused",
        "cancelled",
        "extended",
        "extended-then-late",
        "extended-rungs-move",
    ],
)
def test_status(step: StepFacts, now: datetime, phase: Phase, label: str) -> None:
    s = status(step, now)
    assert (s.phase, s.label) == (phase, label)


def test_due_notices_coalesce_missed_reminders_and_send_each_rung_once() -> None:
    notices = due_notices(STEP, at(1), at(24, 3))  # down for three weeks, back before the deadline
    assert [(n.purpose, n.moment, n.late, n.skipped) for n in notices] == [
        ("reminder", REMINDERS[1], True, 1)
    ]
    assert due_notices(STEP, at(1), at(29)) == [  # back after the deadline: only the rungs
        *(n for n in due_notices(STEP, at(1), at(29)) if n.purpose == "escalation")
    ]
    assert [(n.level, n.recipients) for n in due_notices(STEP, at(1), at(29))] == [
        (1, ("a",)),
        (2, ("head",)),
    ]
    on_time = due_notices(STEP, REMINDERS[0] - H, REMINDERS[0] + GRACE)
    assert [(n.key, n.late) for n in on_time] == [
        (f"{STEP.id}|reminder|0|{REMINDERS[0].isoformat()}", False)
    ]


def test_no_notices_for_finished_steps_or_event_rungs() -> None:
    for state in ("done", "excused", "cancelled"):
        finished = StepFacts(
            STEP.id, "deadline", DUE, STEP.due_date, state=state, reminders=REMINDERS, rungs=RUNGS
        )
        assert due_notices(finished, at(1), at(10, 3, 2)) == []
        assert next_moment(finished, at(1)) is None
    assert [n.purpose for n in due_notices(EVENT, at(1), at(10, 3, 2))] == []
    assert next_moment(EVENT, at(1)) == REMINDERS[0]
    assert next_moment(EVENT, REMINDERS[0]) is None


def test_next_moment_walks_every_moment() -> None:
    moments, now = [], at(1)
    while (m := next_moment(STEP, now)) is not None:
        moments.append(m)
        now = m
    assert moments == [*REMINDERS, *(r.at for r in RUNGS)]


@pytest.mark.parametrize(
    ("state", "requested", "action", "message"),
    [
        (
            "cancelled",
            False,
            Action.DONE,
            "đang ở trạng thái «đã hủy», không thể đánh dấu hoàn thành",
        ),
        ("done", False, Action.DONE, "«đã xong», không thể đánh dấu hoàn thành"),
        (
            "pending",
            False,
            Action.GRANT,
            "không có đề nghị gia hạn nào đang chờ, không thể cho gia hạn",
        ),
        ("pending", False, Action.REFUSE, "không có đề nghị gia hạn nào đang chờ"),
        ("pending", True, Action.REQUEST_EXTENSION, "đã có một đề nghị gia hạn đang chờ"),
        ("pending", False, Action.REOPEN, "chưa hoàn thành hay được miễn, không thể mở lại"),
        ("cancelled", False, Action.REOPEN, "«đã hủy», không thể mở lại"),
        ("excused", False, Action.EXCUSE, "«được miễn», không thể miễn"),
    ],
    ids=[
        "done-cancelled",
        "done-twice",
        "grant-unasked",
        "refuse-unasked",
        "ask-twice",
        "reopen-pending",
        "reopen-cancelled",
        "excuse-twice",
    ],
)
def test_forbidden_actions(state: str, requested: bool, action: Action, message: str) -> None:
    step = StepFacts(
        "s", "deadline", DUE, STEP.due_date, state=state, extension_requested=requested
    )
    with pytest.raises(ActionRefused, match=message):
        check(step, action)


@pytest.mark.parametrize(
    ("state", "requested", "action", "to"),
    [
        ("pending", False, Action.DONE, State.DONE),
        ("pending", False, Action.REQUEST_EXTENSION, State.PENDING),
        ("pending", True, Action.GRANT, State.PENDING),
        ("pending", True, Action.REFUSE, State.PENDING),
        ("pending", False, Action.EXCUSE, State.EXCUSED),
        ("done", False, Action.REOPEN, State.PENDING),
        ("excused", False, Action.REOPEN, State.PENDING),
    ],
    ids=["done", "ask", "grant", "refuse", "excuse", "reopen-done", "reopen-excused"],
)
def test_allowed_actions(state: str, requested: bool, action: Action, to: State) -> None:
    step = StepFacts(
        "s", "deadline", DUE, STEP.due_date, state=state, extension_requested=requested
    )
    assert refusal(step, action) is None and check(step, action) == to


def test_events_cannot_be_extended() -> None:
    assert (
        refusal(EVENT, Action.REQUEST_EXTENSION)
        == "là một sự kiện hay giai đoạn, diễn ra theo lịch"
    )


# ── properties ──────────────────────────────────────────────────────────────────────────────

T0 = datetime(2024, 1, 1, tzinfo=UTC)
moments = st.integers(0, 90 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))


@st.composite
def steps(draw: st.DrawFn) -> StepFacts:
    due = draw(moments)
    reminders = tuple(sorted(draw(st.sets(moments.filter(lambda m: m < due), max_size=4))))
    ats = sorted(draw(st.lists(st.integers(0, 20 * 24 * 60), max_size=3)))
    rungs = tuple(
        RungFacts(i + 1, due + timedelta(minutes=m), (f"u{i}",)) for i, m in enumerate(ats)
    )
    kind = draw(st.sampled_from(["deadline", "contribution", "event", "phase", "target"]))
    extended = draw(st.none() | st.integers(1, 10).map(lambda d: due + timedelta(days=d)))
    return StepFacts(
        "s",
        kind,
        due,
        due.date(),
        draw(st.booleans()),
        reminders=reminders,
        rungs=rungs,
        extended_until=extended,
        unit="u",
    )


RANK = {
    Phase.UPCOMING: 0,
    Phase.TENTATIVE: 0,
    Phase.DUE_SOON: 1,
    Phase.DUE_TODAY: 2,
    Phase.OVERDUE: 3,
    Phase.HAPPENED: 3,
    Phase.ESCALATED: 4,
}


@given(steps(), moments)
def test_status_depends_on_the_step_and_now_only(step: StepFacts, now: datetime) -> None:
    copy = StepFacts(**{f: getattr(step, f) for f in step.__slots__})  # type: ignore[attr-defined]
    assert status(step, now) == status(copy, now) == status(step, now.astimezone())


@given(steps(), moments, moments)
def test_lateness_never_goes_back(step: StepFacts, a: datetime, b: datetime) -> None:
    early, late = status(step, min(a, b)), status(step, max(a, b))
    assert RANK[early.phase] <= RANK[late.phase]
    assert early.days_late <= late.days_late and early.level <= late.level
    if step.kind in ("event", "phase"):
        assert late.phase not in (Phase.OVERDUE, Phase.ESCALATED)


@settings(max_examples=300)
@given(steps(), st.lists(moments, max_size=12), moments, moments)
def test_ticks_at_any_times_never_duplicate_and_agree_with_one_tick(
    step: StepFacts, cuts: list[datetime], a: datetime, b: datetime
) -> None:
    t0, t1 = min(a, b), max(a, b)
    points = [t0, *sorted(c for c in cuts if t0 < c < t1), t1]
    split = [n for x, y in pairwise(points) for n in due_notices(step, x, y)]
    single = due_notices(step, t0, t1)
    keys = [n.key for n in split]
    assert len(keys) == len(set(keys))  # never twice
    rungs = {n.key for n in split if n.purpose == "escalation"}
    assert rungs == {n.key for n in single if n.purpose == "escalation"}  # each rung once, always
    reminders = {n.key for n in split if n.purpose == "reminder"}
    assert {n.key for n in single if n.purpose == "reminder"} <= reminders  # coalescing only drops
    in_window = {r for r in step.effective_reminders if t0 < r <= t1 and r < step.deadline}
    assert {n.moment for n in split if n.purpose == "reminder"} <= in_window
    if all(sum(x < r <= y for r in step.effective_reminders) <= 1 for x, y in pairwise(points)):
        # ticks at least as frequent as reminders: every reminder before the deadline is sent,
        # unless its tick came after the deadline
        sent_by_tick = {
            r
            for x, y in pairwise(points)
            for r in step.effective_reminders
            if x < r <= y < step.deadline
        }
        assert {n.moment for n in split if n.purpose == "reminder"} == sent_by_tick


@given(steps(), moments)
def test_next_moment_is_the_first_moment_with_a_notice(step: StepFacts, now: datetime) -> None:
    nxt = next_moment(step, now)
    horizon = now + timedelta(days=200)
    if nxt is None:
        assert due_notices(step, now, horizon) == []
        return
    assert due_notices(step, now, nxt - timedelta(microseconds=1)) == []
    assert due_notices(step, now, nxt) != []
