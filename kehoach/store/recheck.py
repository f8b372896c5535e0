"""A queued notice looked at again when its turn to be sent comes (issue 11): the step may
have been done, cancelled, excused or moved since it was decided, and the text must say what
is true when it is read.

    reason = stale(row.purpose, row.payload, facts(step_row), now)   # None: send it
    payload = current(row.payload, facts(step_row), now)              # today's date and state
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from workflows.lifecycle import STATE_NAMES, State, StepFacts, status

EPSILON = timedelta(microseconds=1)


def _day(moment: datetime, step: StepFacts) -> str:
    return f"{(moment - EPSILON).astimezone(step.tz):%d/%m/%Y}"


def stale(purpose: str, payload: dict[str, Any], step: StepFacts, now: datetime) -> str | None:
    """Why a notice decided earlier about `step` must not be sent at `now` (None: send it):
    the step is no longer open, its deadline moved since (the tick decides the reminders and
    rungs of the new deadline), or it is a reminder whose deadline has passed meanwhile (the
    rungs speak then, as when the tick coalesces: workflows.lifecycle)."""
    if step.state != State.PENDING:
        return f"không gửi: bước {STATE_NAMES[State(step.state)]}"
    decided = payload.get("due_at")
    if decided and datetime.fromisoformat(decided) != step.deadline:
        return (
            f"không gửi: hạn đã đổi từ {_day(datetime.fromisoformat(decided), step)} sang "
            f"{_day(step.deadline, step)}; nhắc việc được tính lại theo hạn mới"
        )
    if purpose == "reminder" and now >= step.deadline:
        return f"không gửi: đã qua hạn {_day(step.deadline, step)} trước khi đến lượt gửi"
    return None


def current(
    payload: dict[str, Any], step: StepFacts, now: datetime, level: int | None = None
) -> dict[str, Any]:
    """The payload with the step's state as it is at `now` (the text says what is true when
    it is read, not when it was decided); an escalation of rung `level` counts itself as sent
    (it is: the reader holds it)."""
    if level and level > step.escalated:
        step = replace(step, escalated=level)
    st = status(step, now)
    return {
        **payload,
        "due_at": step.deadline.isoformat(),
        "due_day": _day(step.deadline, step),
        "status": st.label,
        "days_late": st.days_late,
    }
