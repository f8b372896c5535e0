"""What the board shows, read from the store for one person's scope (`directory.scope_units`).

Every query takes the set of units the person may see and never returns a step outside it;
a step's status is `workflows.lifecycle.status(store.facts(row), now)`, the same truth as the
CLI and the clock. Functions take an open session and `now`; nothing here knows HTTP.

    lines = overdue(session, scope, now, Filters(cluster="cum-y-te", sort="days"))
    [(line.unit_name, line.status.label) for line in lines]
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, select
from sqlalchemy.orm import Session

from kehoach.store.models import (
    group_members_table,
    groups_table,
    plans_table,
    steps_table,
    transitions_table,
    units_table,
)
from kehoach.store.tick import COLUMNS, facts
from workflows.lifecycle import LATE, LATE_KINDS, VN, Action, Phase, StepStatus, refusal, status

t, g, m = steps_table, groups_table, group_members_table
EPSILON = timedelta(microseconds=1)
#: Sort keys of the lists, as the query string says them.
SORTS = ("days", "due", "unit", "cluster", "plan", "title")
#: The deadline a step is late after: the extension when it is later than the plan's date.
DEADLINE = case((t.c.extended_until > t.c.due_at, t.c.extended_until), else_=t.c.due_at)


@dataclass(frozen=True)
class Filters:
    plan: str | None = None
    unit: str | None = None
    cluster: str | None = None
    min_days: int = 0
    sort: str = "days"
    desc: bool = False


@dataclass(frozen=True)
class StepLine:
    """One step as a list shows it."""

    id: str
    title: str
    obligation: str
    kind: str
    plan_id: str
    plan_title: str
    unit_id: str
    unit_name: str
    clusters: tuple[tuple[str, str], ...]  # (id, name) of the unit's clusters in this plan
    due_date: date
    due_time: time | None
    deadline: datetime  # extension included (UTC)
    status: StepStatus

    @property
    def last_day(self) -> date:
        """The local day the step is due on (an extension's day when extended)."""
        return (self.deadline - EPSILON).astimezone(VN).date()

    @property
    def cluster_names(self) -> str:
        return ", ".join(name for _, name in self.clusters)


@dataclass
class Counts:
    """A summary row: deadlines by outcome (events and phases are not counted)."""

    key: str
    name: str
    on_time: int = 0  # done by the deadline
    late: int = 0  # late and still open
    done_late: int = 0
    upcoming: int = 0  # open, not yet late
    excused: int = 0
    units: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.done_late + self.upcoming + self.excused


def _base(scope: Collection[str]) -> Any:
    return (select(*(t.c[c] for c in COLUMNS), t.c.due_time, t.c.obligation,
                   units_table.c.name.label("unit_name"), plans_table.c.title.label("plan_title"))
            .join(units_table, units_table.c.id == t.c.unit_id)
            .join(plans_table, plans_table.c.id == t.c.plan_id)
            .where(t.c.unit_id.in_(sorted(scope))))


def _in_cluster(cluster: str) -> Any:
    return exists(select(m.c.unit_id).join(g, and_(g.c.plan_id == m.c.plan_id,
                                                   g.c.id == m.c.group_id))
                  .where(m.c.plan_id == t.c.plan_id, m.c.unit_id == t.c.unit_id,
                         g.c.kind == "cluster", g.c.id == cluster))


def _filtered(query: Any, f: Filters) -> Any:
    if f.plan:
        query = query.where(t.c.plan_id == f.plan)
    if f.unit:
        query = query.where(t.c.unit_id == f.unit)
    if f.cluster:
        query = query.where(_in_cluster(f.cluster))
    return query


def clusters_of(session: Session, plan_ids: Iterable[str]
                ) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(plan, unit) → [(cluster id, name)], for the clusters of these plans."""
    wanted = sorted(set(plan_ids))
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    if wanted:
        rows = session.execute(
            select(m.c.plan_id, m.c.unit_id, g.c.id, g.c.name)
            .join(g, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
            .where(g.c.kind == "cluster", m.c.plan_id.in_(wanted)).order_by(g.c.name))
        for plan_id, unit_id, gid, name in rows:
            found[(plan_id, unit_id)].append((gid, name))
    return found


def _lines(session: Session, query: Any, now: datetime) -> list[StepLine]:
    rows = session.execute(query).all()
    clusters = clusters_of(session, (r.plan_id for r in rows))
    out = []
    for r in rows:
        step = facts(r)
        out.append(StepLine(r.id, r.title, r.obligation, r.kind, r.plan_id, r.plan_title,
                            r.unit_id, r.unit_name, tuple(clusters.get((r.plan_id, r.unit_id), ())),
                            r.due_date, r.due_time, step.deadline, status(step, now)))
    return out


def _sorted(lines: list[StepLine], f: Filters) -> list[StepLine]:
    keys = {"days": lambda s: (-s.status.days_late, s.deadline, s.unit_name),
            "due": lambda s: (s.deadline, s.unit_name),
            "unit": lambda s: (s.unit_name, s.deadline),
            "cluster": lambda s: (s.cluster_names or "\uffff", s.unit_name, s.deadline),
            "plan": lambda s: (s.plan_title, s.deadline, s.unit_name),
            "title": lambda s: (s.title, s.deadline, s.unit_name)}
    return sorted(lines, key=keys[f.sort], reverse=f.desc)


def overdue(session: Session, scope: Collection[str], now: datetime,
            f: Filters = Filters()) -> list[StepLine]:
    """Open steps late at `now` (overdue or escalated), at least `f.min_days` days late."""
    if not scope:
        return []
    query = _filtered(_base(scope).where(t.c.state == "pending", t.c.kind.in_(LATE_KINDS),
                                         DEADLINE <= now), f)
    lines = [s for s in _lines(session, query, now)
             if s.status.phase in LATE and s.status.days_late >= f.min_days]
    return _sorted(lines, f)


def upcoming(session: Session, scope: Collection[str], now: datetime, days: int,
             f: Filters = Filters(sort="due")) -> list[StepLine]:
    """Open steps due in the next `days` days (events and phases included)."""
    if not scope:
        return []
    query = _filtered(_base(scope).where(t.c.state == "pending", DEADLINE > now,
                                         DEADLINE <= now + timedelta(days=days)), f)
    return _sorted(_lines(session, query, now), f)


def step(session: Session, scope: Collection[str], step_id: str) -> Any | None:
    """The full row of one step in scope, with its unit and plan names; None otherwise."""
    row = session.execute(
        select(t, units_table.c.name.label("unit_name"), plans_table.c.title.label("plan_title"))
        .join(units_table, units_table.c.id == t.c.unit_id)
        .join(plans_table, plans_table.c.id == t.c.plan_id)
        .where(t.c.id == step_id)).one_or_none()
    if row is None or row.unit_id not in scope:
        return None
    return row


@dataclass(frozen=True)
class StepView:
    """One step as its page shows it: the full row, its list line, audit trail, actions."""

    row: Any
    line: StepLine
    trail: list[Any]
    allowed: list[Action]


def step_view(session: Session, scope: Collection[str], step_id: str,
              now: datetime) -> StepView | None:
    """The step's view, if it exists and is in scope."""
    row = step(session, scope, step_id)
    if row is None:
        return None
    clusters = clusters_of(session, [row.plan_id]).get((row.plan_id, row.unit_id), [])
    f = facts(row)
    line = StepLine(row.id, row.title, row.obligation, row.kind, row.plan_id, row.plan_title,
                    row.unit_id, row.unit_name, tuple(clusters), row.due_date, row.due_time,
                    f.deadline, status(f, now))
    return StepView(row, line, trail(session, step_id), allowed_actions(row))


def in_scope(session: Session, scope: Collection[str], step_id: str) -> bool:
    unit = session.execute(select(t.c.unit_id).where(t.c.id == step_id)).scalar_one_or_none()
    return unit is not None and unit in scope


def trail(session: Session, step_id: str) -> list[Any]:
    """The step's audit rows, oldest first."""
    tr = transitions_table
    return list(session.execute(select(tr).where(tr.c.step_id == step_id)
                                .order_by(tr.c.at, tr.c.id)))


def allowed_actions(row: Any) -> list[Action]:
    """The board's actions the lifecycle allows on the step now."""
    step_facts = facts(row)
    return [a for a in (Action.DONE, Action.GRANT, Action.REFUSE, Action.EXCUSE)
            if refusal(step_facts, a) is None]


def _tally(c: Counts, st: StepStatus) -> None:
    if st.phase == Phase.DONE:
        c.on_time += 1
    elif st.phase == Phase.DONE_LATE:
        c.done_late += 1
    elif st.phase in LATE:
        c.late += 1
    elif st.phase == Phase.EXCUSED:
        c.excused += 1
    else:
        c.upcoming += 1


def summaries(session: Session, scope: Collection[str], now: datetime, by: str,
              plan: str | None = None) -> list[Counts]:
    """Deadlines by outcome per unit (`by="unit"`) or per cluster (`by="cluster"`)."""
    if not scope:
        return []
    query = _filtered(_base(scope).where(t.c.state != "cancelled", t.c.kind.in_(LATE_KINDS)),
                      Filters(plan=plan))
    counts: dict[str, Counts] = {}
    for line in _lines(session, query, now):
        keys = ([(line.unit_id, line.unit_name)] if by == "unit" else
                [(f"{line.plan_id}/{cid}", name) for cid, name in line.clusters])
        for key, name in keys:
            c = counts.setdefault(key, Counts(key, name))
            c.units.add(line.unit_id)
            _tally(c, line.status)
    return sorted(counts.values(), key=lambda c: (-c.late, c.name))


@dataclass(frozen=True)
class Choices:
    """What the filter form offers: the plans, units and clusters in scope."""

    plans: list[tuple[str, str]]
    units: list[tuple[str, str]]
    clusters: list[tuple[str, str]]


def choices(session: Session, scope: Collection[str]) -> Choices:
    if not scope:
        return Choices([], [], [])
    wanted = sorted(scope)
    plan_ids = select(t.c.plan_id).where(t.c.unit_id.in_(wanted)).distinct()
    plans = session.execute(select(plans_table.c.id, plans_table.c.title)
                            .where(plans_table.c.id.in_(plan_ids)).order_by(plans_table.c.title))
    units = session.execute(select(units_table.c.id, units_table.c.name)
                            .where(units_table.c.id.in_(wanted)).order_by(units_table.c.name))
    clusters = session.execute(
        select(g.c.id, g.c.name).join(m, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
        .where(g.c.kind == "cluster", m.c.unit_id.in_(wanted)).distinct().order_by(g.c.name))
    return Choices([tuple(r) for r in plans], [tuple(r) for r in units],  # type: ignore[misc]
                   [tuple(r) for r in clusters])  # type: ignore[misc]
