"""A step's life: its status at a moment, what to tell whom and when, which actions are allowed.

Pure: no database, no clock. Everything is a function of the stored facts of one step
(`StepFacts`) and of `now`, so the store, the CLI, the board and the tests agree, and a test
can run a year of schedule in a second.

    >>> from datetime import UTC, date, datetime
    >>> s = StepFacts("p/bao-cao/2024-01/a", "deadline", datetime(2024, 1, 25, 17, tzinfo=UTC),
    ...               date(2024, 1, 25), unit="a")
    >>> status(s, datetime(2024, 1, 27, 3, tzinfo=UTC)).label
    'quá hạn 2 ngày'

Coalescing (what `due_notices` sends when a tick covers a long stretch of time, e.g. after
downtime): of the reminders whose moments fall in the stretch only the latest is sent, and
none at all once the step is already due (a "due in 7 days" message after the deadline is
noise; the rungs speak then). Each escalation rung is sent once, whatever the stretch. A
notice sent more than `GRACE` after its moment is marked late. Keys are stable, so a notice
decided twice is stored once (the outbox's unique idempotency key).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from engine.model import ZONE
from engine.plan import LATE_KINDS  # events and phases happen on their dates ("đã diễn ra" after)

#: Việt Nam's zone (engine.model.ZONE), the default of a step's; the board, the CLI and the
#: messages import it from here.
VN = ZONE
#: A notice sent later than this after its moment says it is late.
GRACE = timedelta(hours=1)
DAY = timedelta(days=1)


class State(StrEnum):
    """The stored state (the store's `steps.state`)."""

    PENDING = "pending"
    DONE = "done"
    EXCUSED = "excused"
    CANCELLED = "cancelled"


STATE_NAMES = {
    State.PENDING: "chưa làm",
    State.DONE: "đã xong",
    State.EXCUSED: "được miễn",
    State.CANCELLED: "đã hủy",
}


@dataclass(frozen=True, slots=True)
class RungFacts:
    level: int
    at: datetime  # UTC
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepFacts:
    """What is stored about a step, and all its status depends on.

    `due_at` is the moment it is late after (the end of `due_date` when it has no time);
    `extended_until`, when an extension was granted, replaces it when later (a plan changed
    afterwards may have moved the date past the extension), and the reminders and rungs move
    with it."""

    id: str
    kind: str
    due_at: datetime
    due_date: date  # local (the plan's zone)
    tentative: bool = False
    state: str = State.PENDING
    done_at: datetime | None = None
    reminders: tuple[datetime, ...] = ()
    rungs: tuple[RungFacts, ...] = ()
    extended_until: datetime | None = None
    extension_requested: bool = False
    unit: str = ""
    tz: ZoneInfo = VN
    #: The highest rung whose escalation was delivered (the store knows, from the outbox):
    #: what the status says was sent, apart from the rung the clock says is due.
    escalated: int = 0

    @property
    def deadline(self) -> datetime:
        """The moment the step is late after, extension included."""
        if self.extended_until is None:
            return self.due_at
        return max(self.extended_until, self.due_at)

    @property
    def late_kind(self) -> bool:
        return self.kind in LATE_KINDS

    @property
    def effective_reminders(self) -> tuple[datetime, ...]:
        """The reminders that apply: moved with the deadline by an extension (a step extended
        from 18/03 to 30/03 is reminded before 30/03, as it was before 18/03)."""
        shift = self.deadline - self.due_at
        return tuple(r + shift for r in self.reminders) if shift else self.reminders

    @property
    def effective_rungs(self) -> tuple[RungFacts, ...]:
        """The rungs that apply: moved by an extension; none for events and phases."""
        if not self.late_kind:
            return ()
        shift = self.deadline - self.due_at
        return tuple(replace(r, at=r.at + shift) for r in self.rungs) if shift else self.rungs


class Phase(StrEnum):
    UPCOMING = "upcoming"
    TENTATIVE = "tentative"
    DUE_SOON = "due_soon"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    HAPPENED = "happened"  # an event or phase after its moment
    DONE = "done"
    DONE_LATE = "done_late"
    EXCUSED = "excused"
    CANCELLED = "cancelled"


#: Phases that mean "late and still open": what `kehoach overdue` lists.
LATE = frozenset({Phase.OVERDUE, Phase.ESCALATED})


@dataclass(frozen=True, slots=True)
class StepStatus:
    phase: Phase
    days_late: int = 0  # whole days started since the deadline (overdue, escalated, done late)
    level: int = 0  # the highest rung due by now (escalated): what is to be sent
    event: bool = False  # an event or phase: said differently
    sent_level: int = 0  # the highest rung whose escalation was delivered: what was sent

    @property
    def label(self) -> str:
        """The status as a secretary says it."""
        p, n = self.phase, self.days_late
        if p == Phase.UPCOMING:
            return "sắp tới"
        if p == Phase.TENTATIVE:
            return "dự kiến"
        if p == Phase.DUE_SOON:
            return "sắp diễn ra" if self.event else "sắp đến hạn"
        if p == Phase.DUE_TODAY:
            return "diễn ra hôm nay" if self.event else "đến hạn hôm nay"
        if p == Phase.OVERDUE:
            return self.overdue
        if p == Phase.ESCALATED:
            return f"{self.overdue}, {self.escalation}"
        if p == Phase.HAPPENED:
            return "đã diễn ra"
        if p == Phase.DONE_LATE:
            return f"xong trễ {n} ngày"
        return STATE_NAMES[
            {
                Phase.DONE: State.DONE,
                Phase.EXCUSED: State.EXCUSED,
                Phase.CANCELLED: State.CANCELLED,
            }[p]
        ]

    @property
    def overdue(self) -> str:
        """How late, as a secretary says it (what an overdue or escalated step's label starts
        with).

        >>> StepStatus(Phase.ESCALATED, 3, level=1).overdue
        'quá hạn 3 ngày'
        """
        return f"quá hạn {self.days_late} ngày"

    @property
    def escalation(self) -> str:
        """What was sent up the ladder, and what is still to be sent ("" when neither).

        >>> StepStatus(Phase.ESCALATED, 3, level=3, sent_level=3).escalation
        'đã báo lên mức 3'
        >>> StepStatus(Phase.ESCALATED, 3, level=3, sent_level=1).escalation
        'đã báo lên mức 1, đến lượt báo mức 3'
        >>> StepStatus(Phase.ESCALATED, 3, level=3).escalation
        'chưa gửi báo trễ hạn, đến lượt báo mức 3'
        """
        sent = f"đã báo lên mức {self.sent_level}" if self.sent_level else ""
        if self.level <= self.sent_level:
            return sent
        return f"{sent or 'chưa gửi báo trễ hạn'}, đến lượt báo mức {self.level}"


def _days_after(moment: datetime, deadline: datetime) -> int:
    """Whole days started since `deadline` (1 from the first microsecond late)."""
    return max(1, math.ceil((moment - deadline) / DAY))


def status(step: StepFacts, now: datetime) -> StepStatus:
    """The status of `step` at `now`: a function of these two only."""
    event = not step.late_kind
    if step.state == State.CANCELLED:
        return StepStatus(Phase.CANCELLED, event=event)
    if step.state == State.EXCUSED:
        return StepStatus(Phase.EXCUSED, event=event)
    deadline = step.deadline
    if step.state == State.DONE:
        if step.late_kind and step.done_at is not None and step.done_at > deadline:
            return StepStatus(Phase.DONE_LATE, _days_after(step.done_at, deadline))
        return StepStatus(Phase.DONE, event=event)
    if now >= deadline:
        if event:
            return StepStatus(Phase.HAPPENED, event=True)
        days = _days_after(now, deadline) if now > deadline else 1
        level = max((r.level for r in step.effective_rungs if r.at <= now), default=0)
        return StepStatus(
            Phase.ESCALATED if level else Phase.OVERDUE, days, level, sent_level=step.escalated
        )
    last_day = (deadline - timedelta(microseconds=1)).astimezone(step.tz).date()
    if now.astimezone(step.tz).date() == last_day:
        return StepStatus(Phase.DUE_TODAY, event=event)
    if any(r <= now for r in step.effective_reminders):
        return StepStatus(Phase.DUE_SOON, event=event)
    return StepStatus(Phase.TENTATIVE if step.tentative else Phase.UPCOMING, event=event)


# ── notices ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell: a reminder to the unit, or a rung of the ladder to its units."""

    step_id: str
    purpose: str  # "reminder" | "escalation"
    level: int  # 0 for a reminder, the rung's level for an escalation
    moment: datetime  # when it was due to be sent (UTC)
    recipients: tuple[str, ...]  # unit ids
    late: bool = False  # sent more than GRACE after its moment
    skipped: int = 0  # earlier reminders coalesced into this one

    @property
    def key(self) -> str:
        """The idempotency key: step, purpose, level, moment."""
        return f"{self.step_id}|{self.purpose}|{self.level}|{self.moment.isoformat()}"


def due_notices(step: StepFacts, last_run: datetime, now: datetime) -> list[Notice]:
    """The notices of `step` whose moments are in (last_run, now], coalesced (module doc)."""
    if step.state != State.PENDING or now <= last_run:
        return []
    out: list[Notice] = []
    missed = [r for r in step.effective_reminders if last_run < r <= now]
    if missed and now < step.deadline:
        latest = max(missed)
        out.append(
            Notice(
                step.id, "reminder", 0, latest, (step.unit,), now - latest > GRACE, len(missed) - 1
            )
        )
    out.extend(
        Notice(step.id, "escalation", rung.level, rung.at, rung.units, now - rung.at > GRACE)
        for rung in step.effective_rungs
        if last_run < rung.at <= now and rung.units
    )
    return out


def next_moment(step: StepFacts, now: datetime) -> datetime | None:
    """The next moment after `now` at which `due_notices` may have something; None if never."""
    if step.state != State.PENDING:
        return None
    later = [r for r in step.effective_reminders if r > now and r < step.deadline]
    later += [r.at for r in step.effective_rungs if r.at > now and r.units]
    return min(later) if later else None


# ── actions ─────────────────────────────────────────────────────────────────────────────────


class Action(StrEnum):
    DONE = "done"
    REQUEST_EXTENSION = "request_extension"
    GRANT = "grant"
    REFUSE = "refuse"
    EXCUSE = "excuse"
    REOPEN = "reopen"
    PAY = "pay"
    ACHIEVE = "achieve"


ACTION_NAMES = {
    Action.DONE: "đánh dấu hoàn thành",
    Action.REQUEST_EXTENSION: "xin gia hạn",
    Action.GRANT: "cho gia hạn",
    Action.REFUSE: "từ chối gia hạn",
    Action.EXCUSE: "miễn",
    Action.REOPEN: "mở lại",
    Action.PAY: "ghi nhận số tiền đã đóng",
    Action.ACHIEVE: "ghi nhận kết quả đạt được",
}
#: The states each action may start from; then the extra conditions in `refusal`.
FROM = {
    Action.DONE: {State.PENDING},
    Action.REQUEST_EXTENSION: {State.PENDING},
    Action.GRANT: {State.PENDING},
    Action.REFUSE: {State.PENDING},
    Action.EXCUSE: {State.PENDING},
    Action.REOPEN: {State.DONE, State.EXCUSED},
    Action.PAY: {State.PENDING},
    Action.ACHIEVE: {State.PENDING},
}
#: The kinds an action is only for (the others: every kind).
KINDS = {Action.PAY: "contribution", Action.ACHIEVE: "target"}
#: Where each allowed action leads. Paying or reporting a quantity leads to DONE instead once
#: the amount owed or the target is reached: the store knows the figures and decides.
TO = {
    Action.DONE: State.DONE,
    Action.REQUEST_EXTENSION: State.PENDING,
    Action.GRANT: State.PENDING,
    Action.REFUSE: State.PENDING,
    Action.EXCUSE: State.EXCUSED,
    Action.REOPEN: State.PENDING,
    Action.PAY: State.PENDING,
    Action.ACHIEVE: State.PENDING,
}


class ActionRefused(ValueError):
    """The action is not allowed for the step as it is; the message says why, in Vietnamese."""

    def __init__(self, step_id: str, action: Action, reason: str):
        self.step_id, self.action, self.reason = step_id, action, reason
        super().__init__(f"bước «{step_id}» {reason}, không thể {ACTION_NAMES[action]}")


def refusal(step: StepFacts, action: Action) -> str | None:
    """Why `action` is not allowed on `step` (None when it is)."""
    state = State(step.state)
    if state not in FROM[action]:
        if state == State.PENDING:
            return "chưa hoàn thành hay được miễn"
        return f"đang ở trạng thái «{STATE_NAMES[state]}»"
    if action == Action.REQUEST_EXTENSION:
        if not step.late_kind:
            return "là một sự kiện hay giai đoạn, diễn ra theo lịch"
        if step.extension_requested:
            return "đã có một đề nghị gia hạn đang chờ"
    if action in KINDS and step.kind != KINDS[action]:
        return {
            "contribution": "không phải một khoản đóng góp",
            "target": "không phải một chỉ tiêu",
        }[KINDS[action]]
    if action in (Action.GRANT, Action.REFUSE) and not step.extension_requested:
        return "không có đề nghị gia hạn nào đang chờ"
    return None


def check(step: StepFacts, action: Action) -> State:
    """The state `action` leads to; raises ActionRefused when it is not allowed."""
    reason = refusal(step, action)
    if reason is not None:
        raise ActionRefused(step.id, action, reason)
    return TO[action]
