"""Actions on one step, as a secretary (or a bot on their behalf) takes them.

Each action is a conditional UPDATE (`… WHERE id = ? AND revision = ? AND state = ?`) that
must change exactly one row, plus its audit row (actor, time, channel, what was said), in the
caller's transaction: two processes acting on the same step cannot both win, and no change
goes unrecorded. What is allowed is `workflows.lifecycle`'s decision (`check`), so the store,
the CLI and the board refuse the same things with the same words.

    with write_session(engine) as session:
        request_extension(session, step_id, date(2022, 6, 5), "chờ số liệu phường",
                          "Bí thư Đoàn phường A", "telegram", now)
    with write_session(engine) as session:
        grant_extension(session, step_id, None, "Quận Đoàn", "cli", now)  # the date asked for

Granting moves the moment the step is late after (`extended_until`): its status and its
escalation rungs follow the new date, and `next_action_at` is recomputed from it. Payments
add up (a unit may pay in instalments); a target's quantity is the total reached so far.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine import vi
from workflows.lifecycle import (
    Action,
    ActionRefused,
    State,
    StepFacts,
    check,
    next_moment,
)

from .errors import ConcurrentChange, StepNotFound, StepStateError, StoreError
from .models import steps_table, transitions_table
from .tick import facts

steps_t, transitions_t = steps_table, transitions_table
EPSILON = timedelta(microseconds=1)
#: The columns a pending extension request occupies; cleared when it is answered.
NO_REQUEST = {
    "extension_requested_at": None,
    "extension_requested_until": None,
    "extension_requested_by": None,
}


class ActionNotAllowed(StepStateError):
    """The lifecycle refuses the action for the step as it is (lifecycle.ActionRefused)."""

    def __init__(self, refused: ActionRefused):
        self.step_id, self.state, self.action = refused.step_id, refused.reason, refused.action
        Exception.__init__(self, str(refused))


class InvalidAction(StoreError, ValueError):
    """The action is allowed but what it says is not possible (a date already past, a
    negative amount, no reason given)."""

    def __init__(self, step_id: str, problem: str):
        self.step_id = step_id
        super().__init__(f"bước «{step_id}»: {problem}")


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did: the step's new revision and state, and the audit note."""

    step_id: str
    revision: int
    state: str
    note: str


# ── helpers ─────────────────────────────────────────────────────────────────────────────────


def _read(session: Session, step_id: str) -> Any:
    row = session.execute(select(steps_t).where(steps_t.c.id == step_id)).one_or_none()
    if row is None:
        raise StepNotFound(step_id)
    return row


def _allowed(row: Any, action: Action) -> tuple[StepFacts, State]:
    step = facts(row)
    try:
        return step, check(step, action)
    except ActionRefused as refused:
        raise ActionNotAllowed(refused) from None


def _write(
    session: Session,
    row: Any,
    values: dict[str, Any],
    *,
    event: str,
    to_state: str,
    actor: str,
    channel: str,
    at: datetime,
    note: str | None,
) -> ActionResult:
    """The conditional UPDATE and its audit row; ConcurrentChange if someone got there first."""
    revision = row.revision + 1
    changed = (
        session.connection()
        .execute(  # a CursorResult: it has rowcount
            update(steps_t)
            .where(
                steps_t.c.id == row.id,
                steps_t.c.revision == row.revision,
                steps_t.c.state == row.state,
            )
            .values(**values, state=to_state, revision=revision, updated_at=at)
        )
        .rowcount
    )
    if changed != 1:
        raise ConcurrentChange(row.id)
    session.execute(
        insert(transitions_t).values(
            step_id=row.id,
            at=at,
            actor=actor,
            channel=channel,
            event=event,
            from_state=row.state,
            to_state=to_state,
            revision=revision,
            note=note,
        )
    )
    return ActionResult(row.id, revision, to_state, note or "")


def _reason(step_id: str, reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidAction(step_id, "cần nêu lý do")
    return text


def _day(moment: datetime, step: StepFacts) -> str:
    """The last day before `moment` in the step's zone (a deadline at midnight is the day
    before)."""
    return f"{(moment - EPSILON).astimezone(step.tz):%d/%m/%Y}"


def _new_deadline(row: Any, step: StepFacts, until: date | datetime, at: datetime) -> datetime:
    """The moment an extension `until` makes the step late after: that day at the step's own
    time, or its end when the step has none. Must be later than the present deadline and
    than `at` (an extension into the past changes nothing)."""
    if isinstance(until, datetime):
        if until.utcoffset() is None:
            raise InvalidAction(row.id, f"thời điểm gia hạn {until} không có múi giờ")
        moment = until
    elif row.due_time is not None:
        moment = datetime.combine(until, row.due_time, step.tz)
    else:
        moment = datetime.combine(until + timedelta(days=1), time(0), step.tz)
    if moment <= step.deadline:
        raise InvalidAction(
            row.id,
            f"ngày gia hạn {_day(moment, step)} không sau hạn hiện tại {_day(step.deadline, step)}",
        )
    if moment <= at:
        raise InvalidAction(row.id, f"ngày gia hạn {_day(moment, step)} đã qua")
    return moment


# ── actions ─────────────────────────────────────────────────────────────────────────────────


def mark_done(
    session: Session, step_id: str, actor: str, channel: str, at: datetime, note: str | None = None
) -> int:
    """Mark a pending step done at `at`; returns its new revision.

    Raises StepNotFound, StepStateError (not pending) or ConcurrentChange."""
    row = _read(session, step_id)
    _, to = _allowed(row, Action.DONE)
    return _write(
        session,
        row,
        {"done_at": at, "next_action_at": None, **NO_REQUEST},
        event="done",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=note,
    ).revision


def request_extension(
    session: Session,
    step_id: str,
    until: date | datetime,
    reason: str,
    actor: str,
    channel: str,
    at: datetime,
) -> ActionResult:
    """Ask for the step's deadline to move to `until` (a day, or an aware moment), saying why.

    The request waits for `grant_extension` or `refuse_extension`; until then the step keeps
    its deadline. One request at a time."""
    row = _read(session, step_id)
    step, to = _allowed(row, Action.REQUEST_EXTENSION)
    text = _reason(step_id, reason)
    moment = _new_deadline(row, step, until, at)
    return _write(
        session,
        row,
        {
            "extension_requested_at": at,
            "extension_requested_until": moment,
            "extension_requested_by": actor,
            "extension_reason": text,
        },
        event="extension_requested",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"xin gia hạn đến {_day(moment, step)}: {text}",
    )


def check_extension(
    session: Session, step_id: str, until: date | datetime, at: datetime
) -> datetime:
    """What `request_extension` checks of the step and the date, without writing: the new
    deadline it would ask for, or the error it would raise (the bot checks a date as soon as
    it is typed, before asking why)."""
    row = _read(session, step_id)
    step, _ = _allowed(row, Action.REQUEST_EXTENSION)
    return _new_deadline(row, step, until, at)


def grant_extension(
    session: Session,
    step_id: str,
    until: date | datetime | None,
    actor: str,
    channel: str,
    at: datetime,
    note: str | None = None,
) -> ActionResult:
    """Grant the pending request: the step is late after `until` from now on (None: the date
    asked for). Its status, escalation rungs and `next_action_at` follow the new date."""
    row = _read(session, step_id)
    step, to = _allowed(row, Action.GRANT)
    moment = (
        _new_deadline(row, step, until, at) if until is not None else row.extension_requested_until
    )
    if moment <= at:  # the date asked for passed while the request waited
        raise InvalidAction(
            step_id, f"ngày xin gia hạn {_day(moment, step)} đã qua; hãy cho một ngày khác"
        )
    extended = replace(step, extended_until=moment, extension_requested=False)
    text = f"cho gia hạn đến {_day(moment, step)} (hạn trước {_day(step.deadline, step)})"
    return _write(
        session,
        row,
        {"extended_until": moment, "next_action_at": next_moment(extended, at), **NO_REQUEST},
        event="extension_granted",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"{text}: {note}" if note else text,
    )


def refuse_extension(
    session: Session, step_id: str, reason: str, actor: str, channel: str, at: datetime
) -> ActionResult:
    """Refuse the pending request, saying why; the deadline stays what it was."""
    row = _read(session, step_id)
    _, to = _allowed(row, Action.REFUSE)
    text = _reason(step_id, reason)
    return _write(
        session,
        row,
        {**NO_REQUEST, "extension_reason": None},
        event="extension_refused",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"từ chối gia hạn: {text}",
    )


def excuse(
    session: Session, step_id: str, reason: str, actor: str, channel: str, at: datetime
) -> ActionResult:
    """Excuse the unit from the step (nothing more is sent about it), saying why."""
    row = _read(session, step_id)
    _, to = _allowed(row, Action.EXCUSE)
    text = _reason(step_id, reason)
    return _write(
        session,
        row,
        {"excuse_reason": text, "next_action_at": None, **NO_REQUEST},
        event="excused",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"miễn: {text}",
    )


def reopen(
    session: Session, step_id: str, reason: str, actor: str, channel: str, at: datetime
) -> ActionResult:
    """Put a done or excused step back to pending, saying why; its reminders and rungs still
    to come (after `at`) apply again. Payments and quantities recorded stay."""
    row = _read(session, step_id)
    step, to = _allowed(row, Action.REOPEN)
    text = _reason(step_id, reason)
    pending = replace(step, state=State.PENDING, done_at=None)
    return _write(
        session,
        row,
        {"done_at": None, "excuse_reason": None, "next_action_at": next_moment(pending, at)},
        event="reopened",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"mở lại: {text}",
    )


def record_payment(
    session: Session,
    step_id: str,
    amount: int,
    actor: str,
    channel: str,
    at: datetime,
    note: str | None = None,
) -> ActionResult:
    """Record `amount` đồng paid for a contribution. Payments add up; the step is done once
    the total reaches the amount owed (or at once when the plan names no amount)."""
    row = _read(session, step_id)
    _, to = _allowed(row, Action.PAY)
    if amount <= 0:
        raise InvalidAction(step_id, f"số tiền phải lớn hơn 0 (đã nhập {amount})")
    paid = (row.paid_amount or 0) + amount
    owed = row.amount
    text = f"đã đóng {vi.money(amount)}"
    if owed is not None:
        text += f"; tổng {vi.money(paid)} / {vi.money(owed)}"
        text += f", còn thiếu {vi.money(owed - paid)}" if paid < owed else ", đủ"
    complete = owed is None or paid >= owed
    values: dict[str, Any] = {"paid_amount": paid}
    if complete:
        to = State.DONE
        values.update(done_at=at, next_action_at=None, **NO_REQUEST)
    return _write(
        session,
        row,
        values,
        event="payment",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"{text}: {note}" if note else text,
    )


def record_achievement(
    session: Session,
    step_id: str,
    quantity: float,
    actor: str,
    channel: str,
    at: datetime,
    note: str | None = None,
) -> ActionResult:
    """Record the quantity a target has reached so far (a total, not an increment). The step
    is done once it reaches the plan's quantity (or at once when the plan names none)."""
    row = _read(session, step_id)
    _, to = _allowed(row, Action.ACHIEVE)
    if quantity < 0:
        raise InvalidAction(step_id, f"số lượng không được âm (đã nhập {quantity:g})")
    target = (row.details or {}).get("quantity")
    measure = (row.details or {}).get("measure") or ""
    text = f"đạt {quantity:g} {measure}".strip()
    if target is not None:
        text += f" / chỉ tiêu {float(target):g} {measure}".rstrip()
        text += ", đạt chỉ tiêu" if quantity >= target else ", chưa đạt chỉ tiêu"
    values: dict[str, Any] = {"achieved_quantity": quantity}
    if target is None or quantity >= target:
        to = State.DONE
        values.update(done_at=at, next_action_at=None, **NO_REQUEST)
    return _write(
        session,
        row,
        values,
        event="achievement",
        to_state=to,
        actor=actor,
        channel=channel,
        at=at,
        note=f"{text}: {note}" if note else text,
    )


def extend(
    session: Session,
    step_id: str,
    until: date | datetime,
    reason: str,
    actor: str,
    channel: str,
    at: datetime,
) -> ActionResult:
    """A secretary (or the approver) moving a deadline directly: the request and its grant,
    two audit rows in one transaction. A request already waiting is granted with `until`."""
    if not facts(_read(session, step_id)).extension_requested:
        request_extension(session, step_id, until, reason, actor, channel, at)
        return grant_extension(session, step_id, None, actor, channel, at)
    return grant_extension(session, step_id, until, actor, channel, at, _reason(step_id, reason))
