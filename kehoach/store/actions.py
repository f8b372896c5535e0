"""Actions on one step, as a secretary (or a bot on their behalf) takes them.

Each action is a conditional UPDATE (`… WHERE id = ? AND revision = ? AND state = ?`) that
must change exactly one row, plus its audit row, in the caller's transaction: two processes
acting on the same step cannot both win, and no change goes unrecorded. The lifecycle rules
beyond this first one (extensions, excuses, reopening) come with `workflows/`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .errors import ConcurrentChange, StepNotFound, StepStateError
from .models import STATE_NAMES, StepState, steps_table, transitions_table

steps_t, transitions_t = steps_table, transitions_table


def mark_done(session: Session, step_id: str, actor: str, channel: str, at: datetime,
              note: str | None = None) -> int:
    """Mark a pending step done at `at`; returns its new revision.

    Raises StepNotFound, StepStateError (not pending) or ConcurrentChange."""
    row = session.execute(select(steps_t.c.state, steps_t.c.revision)
                          .where(steps_t.c.id == step_id)).one_or_none()
    if row is None:
        raise StepNotFound(step_id)
    if row.state != StepState.PENDING:
        raise StepStateError(step_id, STATE_NAMES[StepState(row.state)], "đánh dấu hoàn thành")
    revision = row.revision + 1
    changed = session.connection().execute(  # a CursorResult: it has rowcount
        update(steps_t)
        .where(steps_t.c.id == step_id, steps_t.c.revision == row.revision,
               steps_t.c.state == StepState.PENDING.value)
        .values(state=StepState.DONE.value, done_at=at, next_action_at=None, revision=revision,
                updated_at=at)).rowcount
    if changed != 1:
        raise ConcurrentChange(step_id)
    session.execute(insert(transitions_t).values(
        step_id=step_id, at=at, actor=actor, channel=channel, event="done",
        from_state=row.state, to_state=StepState.DONE.value, revision=revision, note=note))
    return int(revision)
