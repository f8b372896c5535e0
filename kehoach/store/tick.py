"""The tick: what is due now becomes outbox rows, in the same transaction as the step change.

`tick(session, now)` reads the pending steps whose `next_action_at` has come (one range scan
on the partial index), asks `workflows.lifecycle.due_notices` what to tell, and in the
caller's transaction: inserts one outbox row per notice and recipient (the idempotency key
is unique; a row decided twice is stored once: ON CONFLICT DO NOTHING on both backends),
moves `next_action_at` to the step's next moment, and writes a transition row for every rung
heard ("escalated"). Each step is updated with a conditional UPDATE on its revision, so a
concurrent action (a secretary marking it done) or a second tick wins cleanly: the loser skips
the step and writes nothing for it.

A step's window is (next_action_at − 1 µs, now]: `next_action_at` was the first moment after
the previous look at it, so nothing between that look and it is lost or repeated, even after
days of downtime (the lifecycle coalesces what was missed).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflows.lifecycle import Notice, RungFacts, StepFacts, due_notices, next_moment, status

from .models import (
    StepState,
    outbox_table,
    steps_table,
    transitions_table,
    units_table,
)

steps_t, outbox_t, transitions_t, units_t = steps_table, outbox_table, transitions_table, units_table
BATCH = 1_000
EPSILON = timedelta(microseconds=1)
ACTOR, VIA = "kehoach tick", "clock"
#: The step columns a tick reads: the facts, plus what the messages say.
COLUMNS = ("id", "kind", "due_at", "due_date", "tentative", "state", "done_at", "reminders",
           "escalation", "unit_id", "revision", "next_action_at", "title", "plan_id", "amount",
           "extended_until", "extension_requested_at")


@dataclass
class TickResult:
    steps: int = 0  # steps looked at
    notices: int = 0  # notices decided
    queued: int = 0  # outbox rows inserted
    duplicates: int = 0  # outbox rows already there (decided before)
    escalations: int = 0  # rungs heard (transition rows)
    skipped: int = 0  # steps changed by someone else meanwhile


def facts(row: Any) -> StepFacts:
    """A stored step (a row with the COLUMNS) as the lifecycle's facts."""
    return StepFacts(
        row.id, row.kind, row.due_at, row.due_date, bool(row.tentative), row.state, row.done_at,
        tuple(datetime.fromisoformat(r) for r in row.reminders),
        tuple(RungFacts(r["level"], datetime.fromisoformat(r["at"]), tuple(r["units"]))
              for r in row.escalation),
        row.extended_until, row.extension_requested_at is not None, unit=row.unit_id)


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    return (dialect.insert(outbox_t)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outbox_t.c.id))


def outbox_rows(row: Any, step: StepFacts, notice: Notice, now: datetime, channel: str,
                unit_names: dict[str, str]) -> list[dict[str, Any]]:
    """One outbox row per recipient; the key is the notice's key and the recipient."""
    st = status(step, now)
    due_day: date = (step.deadline - EPSILON).astimezone(step.tz).date()
    payload = {"step_id": step.id, "plan_id": row.plan_id, "title": row.title, "kind": step.kind,
               "event": st.event, "unit": step.unit, "unit_name": unit_names.get(step.unit,
                                                                                step.unit),
               "due_at": step.deadline.isoformat(), "due_day": due_day.strftime("%d/%m/%Y"),
               "amount": row.amount, "moment": notice.moment.isoformat(), "late": notice.late,
               "skipped": notice.skipped, "status": st.label, "days_late": st.days_late}
    return [{"idempotency_key": f"{notice.key}|{unit}", "step_id": step.id, "person_id": None,
             "unit_id": unit, "channel": channel, "purpose": notice.purpose,
             "level": notice.level, "payload": {**payload, "recipient_name": unit_names.get(
                 unit, unit)}, "state": "pending", "attempts": 0,
             "not_before": now, "created_at": now, "updated_at": now}
            for unit in notice.recipients]


class _Conflict(Exception):
    """Some step of a batch was changed meanwhile: redo that batch one step at a time."""


def _advance(session: Session, decided: list[tuple[Any, StepFacts, list[Notice], Any]],
             now: datetime) -> list[bool]:
    """Move each step's `next_action_at` on, on condition that its revision and state are
    still those read; whether each one moved.

    One executemany for the batch, in a savepoint: when every step moved (the usual case) that
    is all. When some did not (a concurrent action or tick got there first), the savepoint is
    rolled back and the batch is redone one conditional UPDATE at a time, to know which."""
    pending = StepState.PENDING.value
    conn = session.connection()
    if conn.dialect.supports_sane_multi_rowcount and len(decided) > 1:
        params = [{"_id": row.id, "_rev": row.revision, "next_action_at": nxt,
                   "revision": row.revision + 1, "updated_at": now}
                  for row, _step, _notices, nxt in decided]
        try:
            with session.begin_nested():
                moved = conn.execute(BULK_ADVANCE, params).rowcount
                if moved != len(params):
                    raise _Conflict
            return [True] * len(params)
        except _Conflict:
            pass
    return [conn.execute(
        update(steps_t)
        .where(steps_t.c.id == row.id, steps_t.c.revision == row.revision,
               steps_t.c.state == pending)
        .values(next_action_at=nxt, revision=row.revision + 1, updated_at=now)).rowcount == 1
        for row, _step, _notices, nxt in decided]


BULK_ADVANCE = (update(steps_t)
                .where(steps_t.c.id == bindparam("_id"), steps_t.c.revision == bindparam("_rev"),
                       steps_t.c.state == StepState.PENDING.value))


def tick(session: Session, now: datetime, *, channel: str = "console",
         batch: int = BATCH) -> TickResult:
    """Decide everything due at `now`, in the open transaction of `session`."""
    result = TickResult()
    names: dict[str, str] = {}
    query = (select(*(steps_t.c[c] for c in COLUMNS))
             .where(steps_t.c.next_action_at.is_not(None), steps_t.c.next_action_at <= now,
                    steps_t.c.state == StepState.PENDING.value)
             .order_by(steps_t.c.next_action_at, steps_t.c.id).limit(batch))
    while rows := session.execute(query).all():
        unknown = {r.unit_id for r in rows} - names.keys()
        unknown |= {u for r in rows for rung in r.escalation for u in rung["units"]} - names.keys()
        if unknown:
            names.update((u, n) for u, n in session.execute(
                select(units_t.c.id, units_t.c.name).where(units_t.c.id.in_(unknown))))
        new_rows: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        decided = [(row, step, due_notices(step, row.next_action_at - EPSILON, now),
                    next_moment(step, now)) for row in rows for step in (facts(row),)]
        advanced = _advance(session, decided, now)
        for (row, step, notices, _), moved in zip(decided, advanced, strict=True):
            if not moved:
                result.skipped += 1
                continue
            result.steps += 1
            result.notices += len(notices)
            for n in notices:
                new_rows += outbox_rows(row, step, n, now, channel, names)
                if n.purpose == "escalation":
                    audit.append({
                        "step_id": row.id, "at": now, "actor": ACTOR, "channel": VIA,
                        "event": "escalated", "from_state": row.state, "to_state": row.state,
                        "revision": row.revision + 1,
                        "note": f"báo lên mức {n.level}: " + ", ".join(
                            names.get(u, u) for u in n.recipients)})
        if new_rows:
            inserted = session.execute(_insert_ignoring_duplicates(session), new_rows).all()
            result.queued += len(inserted)
            result.duplicates += len(new_rows) - len(inserted)
        if audit:
            session.execute(insert(transitions_t), audit)
            result.escalations += len(audit)
        if len(rows) < batch:
            break
    return result
