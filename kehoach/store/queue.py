"""The outbox as people see it: what did not reach anyone, and putting it right.

A row ends `failed` (refused for good, or out of attempts) or `unknown` (it may have arrived:
a timeout after the request left, a sender that died mid-send); nobody resends those blindly.
A person looks (`kehoach outbox list`, the board's «Tin chưa gửi được» page) and decides:

    rows = undelivered(session, Filter(states=("unknown", "failed"), unit="doan-a"))
    retry(session, [r.id for r in rows], "Chị Lan", "web", now)   # back to pending, sent again
    drop(session, [12], "Chị Lan", "cli", now)                    # given up: `dropped`

Each change is one conditional UPDATE (only rows still in a state it may leave, so a row a
dispatcher claimed meanwhile is left alone) and one `outbox_actions` row per row changed:
who, when, through what, from which state.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import Session

from .errors import StoreError
from .models import Sending, outbox_actions_table, outbox_table, people_table, units_table

o, actions_t = outbox_table, outbox_actions_table
#: Every state of an outbox row, as the CLI and the board say it.
STATES: dict[str, str] = {
    Sending.PENDING: "chờ gửi",
    Sending.CLAIMED: "đã nhận, chờ gửi",
    Sending.SENDING: "đang gửi",
    Sending.SENT: "đã gửi",
    Sending.FAILED: "thất bại",
    Sending.UNKNOWN: "không rõ đã đến chưa",
    Sending.SKIPPED: "không gửi (bước đã xong, hủy, miễn hoặc đổi hạn)",
    Sending.DROPPED: "đã bỏ",
}
UNDELIVERED = (Sending.UNKNOWN, Sending.FAILED)
#: The states each action takes a row from.
RETRY_FROM = (Sending.UNKNOWN, Sending.FAILED, Sending.DROPPED)
DROP_FROM = (Sending.PENDING, Sending.UNKNOWN, Sending.FAILED)
PURPOSES = {
    "reminder": "nhắc việc",
    "escalation": "báo trễ hạn",
    "escalation_group": "báo trễ hạn (gộp)",
    "digest": "tin tổng hợp",
    "extension_asked": "đề nghị gia hạn",
    "extension_decided": "trả lời gia hạn",
}
MAX_LIMIT = 10_000


class QueueError(StoreError, ValueError):
    """A request about outbox rows that cannot be done; the message says why."""


@dataclass(frozen=True)
class Filter:
    """Which rows: by state, channel, recipient unit, plan, person; `units`: only rows to
    these units (a board viewer's scope); at most `limit`, newest first."""

    states: Sequence[str] = UNDELIVERED
    channel: str | None = None
    unit: str | None = None
    plan: str | None = None
    person: int | None = None
    units: Collection[str] | None = None
    limit: int = 100

    def check(self) -> None:
        wrong = [s for s in self.states if s not in STATES]
        if wrong:
            raise QueueError(f"trạng thái «{wrong[0]}» không có; chọn trong: " + ", ".join(STATES))
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueueError(f"giới hạn số dòng phải từ 1 đến {MAX_LIMIT} (đã nhập {self.limit})")


@dataclass(frozen=True)
class QueuedRow:
    id: int
    state: str
    channel: str
    purpose: str
    level: int | None
    unit_id: str | None
    unit_name: str
    person_id: int | None
    person_name: str | None
    step_id: str | None
    plan_id: str | None
    about: str  # what the message is about: the step's title, a grouped list, a digest
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def state_name(self) -> str:
        return STATES.get(self.state, self.state)

    @property
    def purpose_name(self) -> str:
        name = PURPOSES.get(self.purpose, self.purpose)
        return f"{name} mức {self.level}" if self.level else name


def _about(purpose: str, payload: dict[str, Any]) -> str:
    if purpose == "escalation_group":
        return f"{payload.get('count', 0)} việc của «{payload.get('plan_title', '')}»"
    if purpose == "digest":
        return f"tin tổng hợp {payload.get('date', '')}".strip()
    return str(payload.get("title") or "")


def _plan_of() -> ColumnElement[str]:
    plan_id: ColumnElement[str] = o.c.payload["plan_id"].as_string()  # JSON's [] is untyped
    return plan_id


def _where(f: Filter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [o.c.state.in_(list(f.states))]
    if f.channel:
        where.append(o.c.channel == f.channel)
    if f.unit:
        where.append(o.c.unit_id == f.unit)
    if f.plan:
        where.append(_plan_of() == f.plan)
    if f.person is not None:
        where.append(o.c.person_id == f.person)
    if f.units is not None:
        where.append(o.c.unit_id.in_(sorted(f.units)))
    return where


def undelivered(session: Session, f: Filter = Filter()) -> list[QueuedRow]:
    """The rows `f` chooses, newest change first."""
    f.check()
    p, u = people_table, units_table
    query = (
        select(
            o.c.id,
            o.c.state,
            o.c.channel,
            o.c.purpose,
            o.c.level,
            o.c.unit_id,
            o.c.person_id,
            o.c.step_id,
            o.c.payload,
            o.c.attempts,
            o.c.last_error,
            o.c.created_at,
            o.c.updated_at,
            p.c.name.label("person_name"),
            u.c.name.label("unit_name"),
        )
        .outerjoin(p, p.c.id == o.c.person_id)
        .outerjoin(u, u.c.id == o.c.unit_id)
        .where(*_where(f))
        .order_by(o.c.updated_at.desc(), o.c.id.desc())
        .limit(f.limit)
    )
    return [
        QueuedRow(
            r.id,
            r.state,
            r.channel,
            r.purpose,
            r.level,
            r.unit_id,
            r.unit_name or r.unit_id or "—",
            r.person_id,
            r.person_name,
            r.step_id,
            (r.payload or {}).get("plan_id"),
            _about(r.purpose, r.payload or {}),
            r.attempts,
            r.last_error,
            r.created_at,
            r.updated_at,
        )
        for r in session.execute(query)
    ]


def _change(
    session: Session,
    ids: Collection[int],
    allowed: Sequence[str],
    to: str,
    action: str,
    actor: str,
    via: str,
    now: datetime,
    values: dict[str, Any],
    units: Collection[str] | None,
) -> list[tuple[int, str]]:
    """Move the rows `ids` that are in an `allowed` state to `to`; (id, old state) of each
    row moved, audited. Unknown ids, or rows in another state, are reported by the caller."""
    if not ids:
        return []
    query = select(o.c.id, o.c.state).where(
        o.c.id.in_(sorted(set(ids))), o.c.state.in_(list(allowed))
    )
    if units is not None:
        query = query.where(o.c.unit_id.in_(sorted(units)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    found: dict[int, str] = {r.id: r.state for r in session.execute(query)}
    if not found:
        return []
    moved = {
        r.id
        for r in session.execute(
            update(o)
            .where(o.c.id.in_(sorted(found)), o.c.state.in_(list(allowed)))
            .values(state=to, updated_at=now, **values)
            .returning(o.c.id)
        )
    }
    done = [(i, found[i]) for i in sorted(moved)]
    if done:
        session.execute(
            insert(actions_t),
            [
                {
                    "outbox_id": i,
                    "at": now,
                    "actor": actor,
                    "via": via,
                    "action": action,
                    "from_state": old,
                    "to_state": to,
                }
                for i, old in done
            ],
        )
    return done


def retry(
    session: Session,
    ids: Collection[int],
    actor: str,
    via: str,
    now: datetime,
    *,
    units: Collection[str] | None = None,
) -> list[tuple[int, str]]:
    """Put rows back to pending, to be sent at the next dispatch with a fresh count of
    attempts; only unknown, failed or dropped rows (`units`: only rows to those units)."""
    return _change(
        session,
        ids,
        RETRY_FROM,
        "pending",
        "retry",
        actor,
        via,
        now,
        {"not_before": now, "attempts": 0, "claimed_by": None, "claimed_at": None},
        units,
    )


def drop(
    session: Session,
    ids: Collection[int],
    actor: str,
    via: str,
    now: datetime,
    *,
    units: Collection[str] | None = None,
) -> list[tuple[int, str]]:
    """Give rows up (`dropped`: never sent); only pending, unknown or failed rows."""
    return _change(session, ids, DROP_FROM, "dropped", "drop", actor, via, now, {}, units)


def matching_ids(session: Session, f: Filter) -> list[int]:
    """The ids of the rows `f` chooses (a bulk retry or drop by filters)."""
    return [r.id for r in undelivered(session, f)]
