"""The daily digest: once per local day, one outbox row per recipient unit.

`digest(session, now, hour)` does nothing before `hour` (local, Asia/Ho_Chi_Minh) of the day
of `now`; from then on it reads the open steps that may need attention (pending, deadline
within `LOOKAHEAD` of `now`: a reminder earlier than that is not "due soon"), asks
`workflows.digest.digest_for` what each recipient must hear, and inserts one outbox row per
recipient unit and person heard (directory.routes) with the idempotency key
``digest|<unit>|<local date>[|p<person>]`` (ON CONFLICT DO NOTHING): run twice, or by two
processes at once, it stores one digest per recipient and day.

Recipients: every unit responsible for a step listed, and for a late step the units of the
rungs of its ladder heard by `now` (a cluster head hears its members' late steps).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from engine import vi
from kehoach.channels import label
from workflows.digest import Digest, DigestItem, digest_for
from workflows.lifecycle import LATE, VN, State, StepFacts, status

from .directory import FALLBACK, Route, routes
from .models import (
    contacts_table,
    outbox_table,
    people_table,
    queued,
    steps_table,
    units_table,
)
from .tick import COLUMNS, facts, queue_outbox

#: The digest hour when KEHOACH_DIGEST_HOUR is unset (kehoach.settings).
DEFAULT_HOUR = time(7, 30)
#: How far ahead a deadline may be for its step to be "due soon" (reminders further ahead are
#: not read by the digest).
LOOKAHEAD = timedelta(days=62)
PURPOSE = "digest"
#: A lost contact is told in the digests of the day after it was lost.
LOST_WINDOW = timedelta(days=1)


@dataclass
class DigestResult:
    day: date | None = None  # the local day of the digests; None before the hour
    recipients: int = 0  # recipients with something to hear
    queued: int = 0  # outbox rows inserted
    duplicates: int = 0  # digests already there for that day
    keys: list[str] = field(default_factory=list)


def digest_key(unit: str, day: date, route: Route | None = None) -> str:
    """``digest|<unit>|<day>``, and ``|p<person>`` when it goes to a person of the unit."""
    key = f"{PURPOSE}|{unit}|{day.isoformat()}"
    return key if route is None or route.person_id is None else f"{key}|p{route.person_id}"


def recipients_of(step: StepFacts, now: datetime) -> set[str]:
    """The units whose digest may list `step` at `now` (digest_for decides)."""
    st = status(step, now)
    units = {step.unit}
    if st.phase in LATE:
        units |= {u for r in step.effective_rungs if r.at <= now for u in r.units}
    return units


def _item(i: DigestItem, rows: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    row = rows[i.step_id]
    return {
        "step_id": i.step_id,
        "title": row.title,
        "plan_id": row.plan_id,
        "kind": row.kind,
        "unit": i.unit,
        "unit_name": names.get(i.unit, i.unit),
        "due_at": i.deadline.isoformat(),
        "due_day": vi.day(i.due_day),
        "status": i.label,
        "phase": i.phase.value,
        "days_late": i.days_late,
        "level": i.level,
        "own": i.own,
    }


def payload(d: Digest, unit: str, rows: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """What a channel needs to say the digest of `unit`."""

    def items(group: tuple[DigestItem, ...]) -> list[dict[str, Any]]:
        return [_item(i, rows, names) for i in group]

    return {
        "recipient_name": names.get(unit, unit),
        "day": d.day.isoformat(),
        "date": vi.day(d.day),
        "count": len(d),
        "late": items(d.late),
        "today": items(d.today),
        "soon": items(d.soon),
    }


def lost_links(session: Session, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Unit → its people whose contact on a channel was lost (bot blocked, chat gone) in the
    day before `now`, each with the channel lost (as people read it) and the contact it
    falls back to: the unit's next digest tells its secretary."""
    p, c = people_table, contacts_table
    found: dict[str, list[dict[str, Any]]] = {}
    lost = session.execute(
        select(p.c.id, p.c.unit_id, p.c.name, c.c.channel)
        .join(c, c.c.person_id == p.c.id)
        .where(
            c.c.lost_at > now - LOST_WINDOW,
            c.c.lost_at <= now,
            p.c.active.is_(True),
            p.c.unit_id.is_not(None),
        )
        .order_by(p.c.unit_id, p.c.name, c.c.channel)
    ).all()
    from kehoach.chat.links import contacts_of  # the chat layer sits on the store

    for row in lost:
        following = [
            r
            for r in contacts_of(session, row.id)
            if r.lost_at is None and r.channel != row.channel
        ]
        found.setdefault(row.unit_id, []).append(
            {
                "name": row.name,
                "channel": label(row.channel),
                "fallback": f"{label(following[0].channel)} {following[0].address}"
                if following
                else None,
            }
        )
    return found


def digest(
    session: Session,
    now: datetime,
    hour: time = DEFAULT_HOUR,
    *,
    channel: str = FALLBACK,
    channels: Collection[str] = (),
) -> DigestResult:
    """Queue today's digests at `now`, in the open transaction of `session` (module doc).
    Each recipient unit's people hear it through their contact links among the running
    `channels` (directory.routes); a unit nobody is reachable in, on `channel`."""
    local = now.astimezone(VN)
    if local.time() < hour:
        return DigestResult()
    day = local.date()
    result = DigestResult(day)
    t = steps_table
    deadline = case((t.c.extended_until > t.c.due_at, t.c.extended_until), else_=t.c.due_at)
    query = (
        select(*(t.c[c] for c in COLUMNS))
        .where(t.c.state == State.PENDING.value, deadline <= now + LOOKAHEAD)
        .order_by(t.c.id)
    )
    rows: dict[str, Any] = {}
    by_unit: dict[str, list[StepFacts]] = defaultdict(list)
    for row in session.execute(query):
        step = facts(row)
        rows[row.id] = row
        for unit in recipients_of(step, now):
            by_unit[unit].append(step)
    lost = lost_links(session, now)  # told even on a day with nothing else to say
    for unit in lost:
        by_unit.setdefault(unit, [])
    heard = routes(session, by_unit, channels, channel)
    keys = {u: [(r, digest_key(u, day, r)) for r in heard[u]] for u in by_unit}
    done = set(
        session.execute(
            select(outbox_table.c.idempotency_key).where(
                outbox_table.c.idempotency_key.in_([k for ks in keys.values() for _, k in ks])
            )
        ).scalars()
    )
    digests = {
        u: d
        for u, steps in by_unit.items()
        if any(k not in done for _, k in keys[u])
        and (
            d := digest_for((u,), steps, now)
            or (Digest((u,), day, (), (), ()) if u in lost else None)
        )
    }
    result.duplicates = len(done)  # already queued today (by an earlier run or process)
    if not digests:
        return result
    wanted = set(digests) | {i.unit for d in digests.values() for i in d.items}
    names = dict(
        session.execute(
            select(units_table.c.id, units_table.c.name).where(units_table.c.id.in_(wanted))
        ).all()
    )
    new: list[dict[str, Any]] = [
        {
            "idempotency_key": key,
            "step_id": None,
            "person_id": r.person_id,
            "unit_id": u,
            "channel": r.channel,
            "purpose": PURPOSE,
            "level": None,
            "payload": {
                **payload(d, u, rows, names),
                "person_name": r.name,
                "lost_links": lost.get(u, []),
            },
            **queued(now),
        }
        for u, d in sorted(digests.items())
        for r, key in keys[u]
        if key not in done
    ]
    inserted = queue_outbox(session, new)
    result.recipients = len(new) + result.duplicates
    result.queued = inserted
    result.duplicates += len(new) - inserted
    result.keys = [r["idempotency_key"] for r in new]
    return result
