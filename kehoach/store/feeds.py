"""Calendar feeds in the store: secret tokens, what each feed covers, and its steps.

A feed is a scope (a unit; a cluster «plan/cluster» with all its member units; a person, with
the units `directory.scope_units` gives them; a plan) reached by an unguessable token:
`secrets.token_urlsafe(32)` (256 bits). Only its SHA-256 is stored, so the table leaks no
working URL; the token is shown once, when made. Revoking sets `revoked_at`; rotating revokes
and makes a new token for the same scope.

    token_id, token = create(session, "unit", "doan-a", now, label="Lịch Đoàn A")
    scope = resolve(session, token)        # None when unknown, revoked or malformed
    steps = feed_steps(session, scope)     # calendars.events.FeedStep, for calendars.feed
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from calendars.events import FeedStep

from .directory import scope_units
from .errors import StoreError
from .models import (
    feed_tokens_table,
    group_members_table,
    groups_table,
    people_table,
    plans_table,
    steps_table,
    units_table,
)
from .people import PersonError, PersonNotFound, find_person
from .tick import COLUMNS as STEP_COLUMNS
from .tick import facts

SCOPES = ("unit", "cluster", "person", "plan")
SCOPE_NAMES = {"unit": "đơn vị", "cluster": "cụm", "person": "người", "plan": "kế hoạch"}
#: What `secrets.token_urlsafe(32)` gives: 43 characters of the URL-safe base64 alphabet.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
t, s = feed_tokens_table, steps_table


class FeedError(StoreError, ValueError):
    """A feed cannot be made or changed as asked; the message names what is wrong."""


class FeedNotFound(StoreError, KeyError):
    def __init__(self, token_id: int):
        super().__init__(f"không có lịch số {token_id} (dùng `kehoach feed list` để xem)")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Scope:
    """What a feed covers: the steps of `units` (all plans), or of the plan `plan_id`."""

    kind: str  # unit | cluster | person | plan
    scope_id: str  # as stored: unit id, "plan/cluster", person id, plan id
    name: str  # the calendar's name (X-WR-CALNAME)
    units: frozenset[str] = frozenset()
    plan_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.scope_id


@dataclass(frozen=True, slots=True)
class FeedView:
    id: int
    scope: str
    scope_id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _one(session: Session, column: Any, key: Any, value: str) -> Any:
    return session.execute(select(column).where(key == value)).scalar_one_or_none()


def describe_scope(session: Session, kind: str, scope_id: str) -> Scope:
    """The scope `kind`/`scope_id` with its name and units; FeedError naming what is unknown.
    A person may be given by id, login or name; the scope keeps their id."""
    if kind == "unit":
        name = _one(session, units_table.c.name, units_table.c.id, scope_id)
        if name is None:
            raise FeedError(
                f"không có đơn vị «{scope_id}» (đơn vị có sau khi `kehoach load` kế hoạch nêu nó)"
            )
        return Scope(kind, scope_id, f"Lịch {name}", frozenset({scope_id}))
    if kind == "cluster":
        plan_id, _, cluster_id = scope_id.partition("/")
        g, m = groups_table, group_members_table
        row = session.execute(
            select(g.c.name, g.c.head_id).where(
                g.c.plan_id == plan_id, g.c.id == cluster_id, g.c.kind == "cluster"
            )
        ).one_or_none()
        if not cluster_id or row is None:
            raise FeedError(
                f"không có cụm «{scope_id}»; viết KẾ-HOẠCH/CỤM, ví dụ "
                "binh-tan-doi-2023-2028/cum-y-te"
            )
        units = set(
            session.execute(
                select(m.c.unit_id).where(m.c.plan_id == plan_id, m.c.group_id == cluster_id)
            ).scalars()
        )
        units |= {row.head_id} if row.head_id else set()
        return Scope(kind, scope_id, f"Lịch {row.name}", frozenset(units))
    if kind == "person":
        p = people_table
        person = (
            session.execute(
                select(p.c.id, p.c.name, p.c.active).where(p.c.id == int(scope_id))
            ).one_or_none()
            if scope_id.isdigit()
            else None
        )
        try:
            person = person or find_person(session, scope_id)
        except PersonNotFound:
            raise FeedError(
                f"không có người «{scope_id}» (dùng `kehoach person list` để xem)"
            ) from None
        except PersonError as exc:
            raise FeedError(str(exc)) from None
        if not person.active:  # someone who left keeps no feed
            raise FeedError(f"người «{person.name}» (số {person.id}) không còn hoạt động")
        return Scope(
            kind,
            str(person.id),
            f"Lịch của {person.name}",
            frozenset(scope_units(session, person.id)),
        )
    if kind == "plan":
        title = _one(session, plans_table.c.title, plans_table.c.id, scope_id)
        if title is None:
            raise FeedError(f"không có kế hoạch «{scope_id}» (kế hoạch có sau khi `kehoach load`)")
        return Scope(kind, scope_id, title, plan_id=scope_id)
    raise FeedError(f"loại lịch «{kind}» không có; chọn một trong: " + ", ".join(SCOPES))


def create(
    session: Session, kind: str, scope_id: str, now: datetime, label: str | None = None
) -> tuple[int, str]:
    """A new feed token for the scope: (its id, the token). The token is not kept: only its
    hash is, so this is the one time it can be shown."""
    scope = describe_scope(session, kind, scope_id)
    token = secrets.token_urlsafe(32)
    token_id = session.execute(
        insert(t)
        .values(
            token_hash=token_hash(token),
            scope=scope.kind,
            scope_id=scope.scope_id,
            label=" ".join(label.split()) if label else None,
            created_at=now,
        )
        .returning(t.c.id)
    ).scalar_one()
    return int(token_id), token


def list_feeds(session: Session, include_revoked: bool = True) -> list[FeedView]:
    query = select(
        t.c.id, t.c.scope, t.c.scope_id, t.c.label, t.c.created_at, t.c.revoked_at
    ).order_by(t.c.id)
    if not include_revoked:
        query = query.where(t.c.revoked_at.is_(None))
    return [FeedView(*row) for row in session.execute(query)]


def revoke(session: Session, token_id: int, now: datetime) -> FeedView:
    """Revoke a feed: its URL answers 404 from now on. FeedNotFound / FeedError (revoked)."""
    row = session.execute(
        select(t.c.id, t.c.scope, t.c.scope_id, t.c.label, t.c.created_at, t.c.revoked_at).where(
            t.c.id == token_id
        )
    ).one_or_none()
    if row is None:
        raise FeedNotFound(token_id)
    if row.revoked_at is not None:
        raise FeedError(f"lịch số {token_id} đã bị thu hồi trước đó")
    session.execute(
        update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return FeedView(*row[:5], now)


def rotate(session: Session, token_id: int, now: datetime) -> tuple[int, str]:
    """Revoke a feed and make a new token for the same scope and label: (new id, token)."""
    old = revoke(session, token_id, now)
    return create(session, old.scope, old.scope_id, now, old.label)


_LOOKUP = select(t.c.scope, t.c.scope_id).where(
    t.c.token_hash == bindparam("hash"), t.c.revoked_at.is_(None)
)


def lookup(session: Session | Connection, token: str) -> tuple[str, str] | None:
    """(scope kind, scope id) of a live token; None for a malformed, unknown or revoked one.
    Malformed tokens are refused before the database is asked. A plain Connection will do
    (what a cached feed is served with: a Session costs as much again as the two queries)."""
    if not TOKEN.match(token):
        return None
    row = session.execute(_LOOKUP, {"hash": token_hash(token)}).one_or_none()
    return None if row is None else (row.scope, row.scope_id)


def resolve(session: Session, token: str) -> Scope | None:
    """The scope of a live token; None for a malformed, unknown or revoked one, or when what
    it covered is gone."""
    found = lookup(session, token)
    if found is None:
        return None
    try:
        return describe_scope(session, *found)
    except FeedError:
        return None


def _where(scope: Scope) -> ColumnElement[bool]:
    if scope.plan_id is not None:
        return s.c.plan_id == scope.plan_id
    return s.c.unit_id.in_(sorted(scope.units))


def _marker(where: ColumnElement[bool]) -> Any:
    """count, latest write, highest revision of the steps `where` says, and the latest load
    of any plan (a reload renames units, plans, clusters and changes a cluster's members)."""
    return select(
        func.count(),
        func.max(s.c.updated_at),
        func.max(s.c.revision),
        select(func.max(plans_table.c.updated_at)).scalar_subquery(),
    ).where(where)


_m, _g = group_members_table, groups_table
#: One statement per kind of scope, built once (a cached feed costs two small queries).
_MARKERS = {
    "unit": _marker(s.c.unit_id == bindparam("a")),
    "plan": _marker(s.c.plan_id == bindparam("a")),
    "cluster": _marker(
        s.c.unit_id.in_(
            select(_m.c.unit_id)
            .where(_m.c.plan_id == bindparam("a"), _m.c.group_id == bindparam("b"))
            .union(
                select(_g.c.head_id).where(
                    _g.c.plan_id == bindparam("a"),
                    _g.c.id == bindparam("b"),
                    _g.c.kind == "cluster",
                )
            )
        )
    ),
    "person": _marker(s.c.unit_id.in_(bindparam("units", expanding=True))),
}


def change_marker(session: Session | Connection, kind: str, scope_id: str) -> tuple[Any, ...]:
    """A cheap value that changes whenever a step of the scope is added or written, or the
    scope's units change: one indexed aggregate (module doc of kehoach.web.feeds)."""
    if kind == "person":  # scope_units only executes Core statements: a Connection will do
        units = (
            sorted(scope_units(cast(Session, session), int(scope_id))) if scope_id.isdigit() else []
        )
        return (*session.execute(_MARKERS[kind], {"units": units}).one(), tuple(units))
    a, _, b = scope_id.partition("/")
    return tuple(session.execute(_MARKERS[kind], {"a": a, "b": b}).one())


#: The step columns a feed reads: the lifecycle's facts and what the events say.
COLUMNS = (
    *STEP_COLUMNS,
    "due_time",
    "start_date",
    "source",
    "details",
    "updated_at",
    "cancel_reason",
)


def feed_steps(session: Session, scope: Scope) -> list[FeedStep]:
    """The scope's steps (cancelled ones included: the feed decides how long to show them)."""
    u, p = units_table, plans_table
    rows = session.execute(
        select(
            *(s.c[c] for c in COLUMNS), u.c.name.label("unit_name"), p.c.title.label("plan_title")
        )
        .join(u, u.c.id == s.c.unit_id)
        .join(p, p.c.id == s.c.plan_id)
        .where(_where(scope))
        .order_by(s.c.due_date, s.c.id)
    )
    return [
        FeedStep(
            facts(r),
            r.title,
            r.plan_id,
            r.plan_title,
            r.unit_name,
            r.due_time,
            r.start_date,
            r.amount,
            r.source or {},
            r.details or {},
            r.revision,
            r.updated_at,
            r.cancel_reason,
        )
        for r in rows
    ]
