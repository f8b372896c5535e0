"""Escalations grouped per recipient, and what was actually sent up the ladder.

A tick that finds many late steps at once (a plan's report day passed for 300 units) would
send one «📣 Báo trễ hạn» per step to the same cluster head or issuer: a storm. `group` turns
the escalation rows a tick decided into one row per recipient (unit, person, channel), plan
and rung: a single late step keeps its own row (with its buttons); two or more become one
``escalation_group`` row listing them (each with the key its own row would have had), with a
link to the board. The channel says it as one message, or a few complete ones when the list
is longer than a message (notifiers/telegram_render.py).

    rows = group(rows, plan_titles, now)       # in the tick, before the rows are inserted

`mark_escalations_sent` keeps `steps.escalated_level`, the highest rung whose escalation
was delivered, when the dispatcher records rows as sent: the status then says what was sent
("đã báo lên mức 2"), apart from what the clock says is due (workflows.lifecycle).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.orm import Session

from .db import among
from .models import Sending, outbox_table, queued, steps_table

ESCALATION, GROUP = "escalation", "escalation_group"
#: What a grouped message says of each step (the rest of a step row's payload stays out).
STEP_FIELDS = (
    "step_id",
    "title",
    "kind",
    "unit",
    "unit_name",
    "due_at",
    "due_day",
    "amount",
    "status",
    "days_late",
    "late",
    "moment",
)


def board_path(plan_id: str) -> str:
    """The board's list of the plan's late steps, relative to the public address."""
    return "/qua-han?" + urlencode({"plan": plan_id})


def group_key(unit: str, person: int | None, plan: str, level: int, keys: Iterable[str]) -> str:
    """A grouped row's idempotency key: recipient, plan, rung and a hash of the members'
    keys (stable: deciding the same steps twice stores one row; two ticks that split the
    steps between them each store their own)."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:24]
    who = unit if person is None else f"{unit}|p{person}"
    return f"{GROUP}|{plan}|{level}|{who}|{digest}"


def group(
    rows: list[dict[str, Any]], plan_titles: dict[str, str], now: datetime
) -> list[dict[str, Any]]:
    """The tick's outbox rows with the escalations to one recipient, plan and rung grouped
    (module doc); other rows unchanged, in their order."""
    buckets: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    out: list[dict[str, Any]] = []
    for r in rows:
        if r["purpose"] != ESCALATION:
            out.append(r)
            continue
        buckets[
            (r["unit_id"], r["person_id"], r["channel"], r["payload"]["plan_id"], r["level"])
        ].append(r)
    for (unit, person, channel, plan, level), members in buckets.items():
        if len(members) == 1:
            out.append(members[0])
            continue
        members.sort(
            key=lambda m: (
                m["payload"]["title"],
                m["payload"]["unit_name"],
                m["payload"]["due_at"],
                m["step_id"],
            )
        )
        first = members[0]["payload"]
        steps = [
            {**{f: m["payload"][f] for f in STEP_FIELDS}, "key": m["idempotency_key"]}
            for m in members
        ]
        out.append(
            {
                "idempotency_key": group_key(unit, person, plan, level, (s["key"] for s in steps)),
                "step_id": None,
                "person_id": person,
                "unit_id": unit,
                "channel": channel,
                "purpose": GROUP,
                "level": level,
                "payload": {
                    "plan_id": plan,
                    "plan_title": plan_titles.get(plan, plan),
                    "level": level,
                    "recipient_name": first["recipient_name"],
                    "person_name": first["person_name"],
                    "count": len(steps),
                    "late": any(s["late"] for s in steps),
                    "moment": max(s["moment"] for s in steps),
                    "board_path": board_path(plan),
                    "steps": steps,
                },
                **queued(now),
            }
        )
    return out


def steps_of(purpose: str, step_id: str | None, payload: dict[str, Any]) -> list[str]:
    """The steps an escalation row speaks of: its own, or a grouped row's list."""
    if purpose == GROUP:
        return [s["step_id"] for s in payload.get("steps", [])]
    return [step_id] if step_id else []


def mark_escalations_sent(
    session: Session | Connection, outbox_ids: Collection[int], now: datetime
) -> int:
    """Raise `steps.escalated_level` to the rung of each escalation among the rows
    `outbox_ids` that are now `sent`; how many steps changed. Not a change of the step (its
    revision stays): a fact about what reached someone."""
    if not outbox_ids:
        return 0
    o, t = outbox_table, steps_table
    by_level: dict[int, set[str]] = defaultdict(set)
    for row in session.execute(
        select(o.c.purpose, o.c.step_id, o.c.level, o.c.payload).where(
            o.c.id.in_(list(outbox_ids)),
            o.c.state == Sending.SENT,
            o.c.purpose.in_((ESCALATION, GROUP)),
        )
    ):
        by_level[row.level or 0].update(steps_of(row.purpose, row.step_id, row.payload))
    changed = 0
    conn = session.connection() if isinstance(session, Session) else session  # rowcount
    for level, ids in sorted(by_level.items()):
        changed += conn.execute(
            update(t)
            .where(
                among(session, t.c.id, sorted(ids)),
                or_(t.c.escalated_level.is_(None), t.c.escalated_level < level),
            )
            .values(escalated_level=level, updated_at=now)
        ).rowcount
    return changed
