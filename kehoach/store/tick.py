"""The tick: what is due now becomes outbox rows, in the same transaction as the step change.

`tick(session, now)` reads the pending steps whose `next_action_at` has come (one range scan
on the partial index), asks `workflows.lifecycle.due_notices` what to tell, and in the
caller's transaction: inserts one outbox row per notice and recipient (the idempotency key
is unique; a row decided twice is stored once: ON CONFLICT DO NOTHING on both backends),
moves `next_action_at` to the step's next moment, and writes a transition row for every rung
heard ("escalated"). Each step is updated with a conditional UPDATE on its revision, so a
concurrent action (a secretary marking it done) or a second tick wins cleanly: the loser skips
the step and writes nothing for it.

Escalations to one recipient that fall due in the same tick are grouped per plan and rung
(escalations.group): 300 late steps give a cluster head one message, not 300.

A step's window is (next_action_at − 1 µs, now]: `next_action_at` was the first moment after
the previous look at it, so nothing between that look and it is lost or repeated, even after
days of downtime (the lifecycle coalesces what was missed).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.model import ZONE
from workflows.lifecycle import (
    Notice,
    RungFacts,
    State,
    StepFacts,
    due_notices,
    next_moment,
    status,
)

from .db import among
from .directory import FALLBACK, Route, routes
from .escalations import ESCALATION, group
from .models import (
    OUTBOX_PENDING,
    board_changes_table,
    board_log_table,
    outbox_table,
    plans_table,
    queued,
    steps_table,
    transitions_table,
    units_table,
)

steps_t, outbox_t, transitions_t, units_t = (
    steps_table,
    outbox_table,
    transitions_table,
    units_table,
)
plans_t = plans_table
BATCH = 1_000
EPSILON = timedelta(microseconds=1)
ACTOR, VIA = "kehoach tick", "clock"
#: The step columns a tick reads: the facts, plus what the messages say.
COLUMNS = (
    "id",
    "kind",
    "due_at",
    "due_date",
    "tentative",
    "state",
    "done_at",
    "reminders",
    "escalation",
    "unit_id",
    "revision",
    "next_action_at",
    "title",
    "plan_id",
    "amount",
    "extended_until",
    "extension_requested_at",
    "escalated_level",
    "timezone",
)


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
        row.id,
        row.kind,
        row.due_at,
        row.due_date,
        bool(row.tentative),
        row.state,
        row.done_at,
        tuple(datetime.fromisoformat(r) for r in row.reminders),
        tuple(
            RungFacts(r["level"], datetime.fromisoformat(r["at"]), tuple(r["units"]))
            for r in row.escalation
        ),
        row.extended_until,
        row.extension_requested_at is not None,
        unit=row.unit_id,
        escalated=getattr(row, "escalated_level", None) or 0,
        tz=zone(row.timezone),
    )


@lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo:
    """A stored step's time zone by its name (NULL, stored before migration 0012: Việt Nam's)."""
    return ZONE if name is None else ZoneInfo(name)


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    return (
        dialect.insert(outbox_t)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(outbox_t.c.id)
    )


def queue_outbox(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows (columns as the table's), skipping those whose idempotency key is
    there already: deciding twice queues once. Returns how many went in."""
    if not rows:
        return 0
    return len(session.execute(_insert_ignoring_duplicates(session), rows).all())


def recipient_key(key: str, unit: str, route: Route) -> str:
    """An outbox row's idempotency key: the decision's key, the unit, and the person heard."""
    return f"{key}|{unit}" if route.person_id is None else f"{key}|{unit}|p{route.person_id}"


def outbox_rows(
    row: Any,
    step: StepFacts,
    notice: Notice,
    now: datetime,
    routes: dict[str, list[Route]],
    unit_names: dict[str, str],
) -> list[dict[str, Any]]:
    """One outbox row per recipient unit and person heard (directory.routes)."""
    st = status(step, now)
    due_day: date = (step.deadline - EPSILON).astimezone(step.tz).date()
    payload = {
        "step_id": step.id,
        "plan_id": row.plan_id,
        "title": row.title,
        "kind": step.kind,
        "event": st.event,
        "unit": step.unit,
        "unit_name": unit_names.get(step.unit, step.unit),
        "due_at": step.deadline.isoformat(),
        "due_day": due_day.strftime("%d/%m/%Y"),
        "amount": row.amount,
        "moment": notice.moment.isoformat(),
        "late": notice.late,
        "skipped": notice.skipped,
        "status": st.label,
        "days_late": st.days_late,
    }
    fixed = queued(now)
    return [
        {
            "idempotency_key": recipient_key(notice.key, unit, r),
            "step_id": step.id,
            "person_id": r.person_id,
            "unit_id": unit,
            "channel": r.channel,
            "purpose": notice.purpose,
            "level": notice.level,
            "payload": {
                **payload,
                "recipient_name": unit_names.get(unit, unit),
                "person_name": r.name,
            },
            **fixed,
        }
        for unit in notice.recipients
        for r in routes[unit]
    ]


class _Conflict(Exception):
    """Some step of a batch was changed meanwhile: redo that batch one step at a time."""


def _advance(
    session: Session, decided: list[tuple[Any, StepFacts, list[Notice], Any]], now: datetime
) -> list[bool]:
    """Move each step's `next_action_at` on, on condition that its revision and state are
    still those read; whether each one moved.

    One executemany for the batch, in a savepoint: when every step moved (the usual case) that
    is all. When some did not (a concurrent action or tick got there first), the savepoint is
    rolled back and the batch is redone one conditional UPDATE at a time, to know which."""
    pending = State.PENDING.value
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if (postgres or conn.dialect.supports_sane_multi_rowcount) and len(decided) > 1:
        params = [
            {
                "_id": row.id,
                "_rev": row.revision,
                "next_action_at": nxt,
                "revision": row.revision + 1,
                "updated_at": now,
            }
            for row, _step, _notices, nxt in decided
        ]
        try:
            with session.begin_nested():
                if postgres:  # one UPDATE … FROM a JSON array of rows
                    moved = conn.exec_driver_sql(
                        PG_BULK_ADVANCE,
                        (
                            _utc(now),
                            _json_rows(
                                [
                                    [p["_id"], p["_rev"], _iso_utc(p["next_action_at"])]
                                    for p in params
                                ]
                            ),
                        ),
                    ).rowcount
                else:
                    moved = conn.execute(BULK_ADVANCE, params).rowcount
                if moved != len(params):
                    raise _Conflict
            return [True] * len(params)
        except _Conflict:
            pass
    return [
        conn.execute(
            update(steps_t)
            .where(
                steps_t.c.id == row.id,
                steps_t.c.revision == row.revision,
                steps_t.c.state == pending,
            )
            .values(next_action_at=nxt, revision=row.revision + 1, updated_at=now)
        ).rowcount
        == 1
        for row, _step, _notices, nxt in decided
    ]


BULK_ADVANCE = update(steps_t).where(
    steps_t.c.id == bindparam("_id"),
    steps_t.c.revision == bindparam("_rev"),
    steps_t.c.state == State.PENDING.value,
)

# PostgreSQL: a batch's rows go as one JSON array of rows, in one statement (a multi-row
# executemany costs a round trip, or a long query to parse, per row; text arrays cost a
# pure-Python escape per element).
PG_BULK_ADVANCE = (
    f"UPDATE {steps_t.name} AS s SET next_action_at = (e->>2)::timestamptz, "
    "revision = (e->>1)::int + 1, updated_at = %s FROM json_array_elements(%s::json) AS v(e) "
    "WHERE s.id = e->>0 AND s.revision = (e->>1)::int AND s.state = 'pending'"
)
PG_INSERT_OUTBOX = (
    f"INSERT INTO {outbox_t.name} (idempotency_key, step_id, person_id, unit_id, channel, "
    "purpose, level, payload, state, attempts, not_before, created_at, updated_at) "
    "SELECT e->>0, e->>1, (e->>7)::bigint, e->>2, e->>3, e->>4, (e->>5)::int, (e->6)::jsonb, "
    f"'{OUTBOX_PENDING}', "
    "0, %s, %s, %s FROM json_array_elements(%s::json) WITH ORDINALITY AS v(e, n) ORDER BY n "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)
PG_INSERT_AUDIT = (
    f"INSERT INTO {transitions_t.name} (step_id, at, actor, channel, event, from_state, "
    "to_state, revision, note) SELECT e->>0, %s, %s, %s, %s, e->>1, e->>2, (e->>3)::int, e->>4 "
    "FROM json_array_elements(%s::json) WITH ORDINALITY AS v(e, n) ORDER BY n"
)


def _json_rows(rows: list[list[Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.utcoffset() is None:
        raise ValueError(f"thời điểm không có múi giờ: {moment!r} (cần datetime có tzinfo)")
    return moment.astimezone(UTC)


def _iso_utc(moment: datetime | None) -> str | None:
    return None if moment is None else _utc(moment).isoformat()  # type: ignore[union-attr]


def _insert_outbox(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows (those whose key is already there are skipped); how many went in."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return queue_outbox(session, rows)
    for r in rows:  # the fixed columns are the same for every row a tick inserts
        if (
            r["state"] != OUTBOX_PENDING
            or r["attempts"] != 0
            or not r["not_before"] == r["created_at"] == r["updated_at"]
        ):
            return queue_outbox(session, rows)
    at = _utc(rows[0]["created_at"])
    return conn.exec_driver_sql(
        PG_INSERT_OUTBOX,
        (
            at,
            at,
            at,
            _json_rows(
                [
                    [
                        r["idempotency_key"],
                        r["step_id"],
                        r["unit_id"],
                        r["channel"],
                        r["purpose"],
                        r["level"],
                        r["payload"],
                        r["person_id"],
                    ]
                    for r in rows
                ]
            ),
        ),
    ).rowcount


def _insert_audit(session: Session, audit: list[dict[str, Any]]) -> None:
    """Insert the tick's transition rows (all with the same moment, actor, channel, event)."""
    conn = session.connection()
    first = audit[0]
    shared = ("at", "actor", "channel", "event")
    if conn.dialect.name != "postgresql" or any(r[k] != first[k] for r in audit for k in shared):
        session.execute(insert(transitions_t), audit)
        return
    conn.exec_driver_sql(
        PG_INSERT_AUDIT,
        (
            _utc(first["at"]),
            first["actor"],
            first["channel"],
            first["event"],
            _json_rows(
                [
                    [r["step_id"], r["from_state"], r["to_state"], r["revision"], r["note"]]
                    for r in audit
                ]
            ),
        ),
    )


def tick(
    session: Session,
    now: datetime,
    *,
    channel: str = FALLBACK,
    channels: Collection[str] = (),
    batch: int = BATCH,
) -> TickResult:
    """Decide everything due at `now`, in the open transaction of `session`.

    A unit's notices go to its people through the first of their contact links among the
    running `channels`; to `channel` (to no person) when nobody in it is reachable."""
    result = TickResult()
    names: dict[str, str] = {}
    heard: dict[str, list[Route]] = {}
    escalations: list[dict[str, Any]] = []  # queued at the end, grouped
    query = (
        select(*(steps_t.c[c] for c in COLUMNS))
        .where(
            steps_t.c.next_action_at.is_not(None),
            steps_t.c.next_action_at <= now,
            steps_t.c.state == State.PENDING.value,
        )
        .order_by(steps_t.c.next_action_at, steps_t.c.id)
        .limit(batch)
    )
    while rows := session.execute(query).all():
        unknown = {r.unit_id for r in rows} - names.keys()
        unknown |= {u for r in rows for rung in r.escalation for u in rung["units"]} - names.keys()
        if unknown:
            names.update(
                (u, n)
                for u, n in session.execute(
                    select(units_t.c.id, units_t.c.name).where(
                        among(session, units_t.c.id, unknown)
                    )
                )
            )
            heard.update(routes(session, unknown, channels, channel))
        new_rows: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        decided = [
            (
                row,
                step,
                due_notices(step, row.next_action_at - EPSILON, now),
                next_moment(step, now),
            )
            for row in rows
            for step in (facts(row),)
        ]
        advanced = _advance(session, decided, now)
        for (row, step, notices, _), moved in zip(decided, advanced, strict=True):
            if not moved:
                result.skipped += 1
                continue
            result.steps += 1
            result.notices += len(notices)
            # the messages tell the status as it is once they arrived: "đã báo lên mức N"
            told = replace(step, escalated=max([step.escalated, *(n.level for n in notices)]))
            for n in notices:
                new_rows += outbox_rows(row, told, n, now, heard, names)
                if n.purpose == "escalation":
                    audit.append(
                        {
                            "step_id": row.id,
                            "at": now,
                            "actor": ACTOR,
                            "channel": VIA,
                            "event": "escalated",
                            "from_state": row.state,
                            "to_state": row.state,
                            "revision": row.revision + 1,
                            "note": f"đến lượt báo lên mức {n.level} (đã xếp hàng gửi): "
                            + ", ".join(names.get(u, u) for u in n.recipients),
                        }
                    )
        escalations += [r for r in new_rows if r["purpose"] == ESCALATION]
        new_rows = [r for r in new_rows if r["purpose"] != ESCALATION]
        if new_rows:
            _queue(session, new_rows, result)
        if audit:
            _insert_audit(session, audit)
            result.escalations += len(audit)
        if len(rows) < batch:
            break
    if escalations:  # all the tick's, grouped per recipient, plan and rung (escalations.py)
        plans = {r["payload"]["plan_id"] for r in escalations}
        titles = dict(
            session.execute(
                select(plans_t.c.id, plans_t.c.title).where(plans_t.c.id.in_(sorted(plans)))
            ).all()
        )
        _queue(session, group(escalations, titles, now), result)
    prune_board_log(session)
    return result


#: How many counts of changes the board's log (0014) keeps behind the newest: a summary kept
#: further behind is computed again rather than caught up.
LOG_KEEP = 20_000


def prune_board_log(session: Session) -> int:
    """Drop the log rows more than LOG_KEEP counts old, and say so in replay_from (in the
    same transaction: a reader that sees the rows gone also sees that)."""
    b, log_t = board_changes_table, board_log_table
    cut = session.execute(select(b.c.n)).scalar_one() - LOG_KEEP
    if cut <= 0:
        return 0
    gone: int = session.connection().execute(delete(log_t).where(log_t.c.n <= cut)).rowcount
    if gone:
        later = case((b.c.replay_from < cut, cut), else_=b.c.replay_from)
        session.execute(update(b).values(replay_from=later))
    return gone


def _queue(session: Session, rows: list[dict[str, Any]], result: TickResult) -> None:
    inserted = _insert_outbox(session, rows)
    result.queued += inserted
    result.duplicates += len(rows) - inserted
