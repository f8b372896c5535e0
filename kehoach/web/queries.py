"""What the board shows, read from the store for one person's scope (`directory.scope_units`).

Every query takes the set of units the person may see and never returns a step outside it;
a step's status is `workflows.lifecycle.status(store.facts(row), now)`, the same truth as the
CLI and the clock. Functions take an open session and `now`; nothing here knows HTTP.

    lines = overdue(session, scope, now, Filters(cluster="cum-y-te", sort="days"))
    [(line.unit_name, line.status.label) for line in lines]
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    String,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Join

from engine.plan import LATE_KINDS
from kehoach.store.models import (
    deadline,
    group_members_table,
    groups_table,
    people_table,
    plan_units_table,
    plans_table,
    steps_table,
    transitions_table,
    units_table,
)
from kehoach.store.people import PersonView, person_views
from kehoach.store.tick import COLUMNS, facts
from kehoach.store.types import UTCDateTime
from kehoach.web.summary_cache import Sums, kept, scope_key, sums
from workflows.lifecycle import VN, Action, State, StepStatus, refusal, status

t, g, m = steps_table, groups_table, group_members_table
T = TypeVar("T")
EPSILON = timedelta(microseconds=1)
#: Sort keys of the lists, as the query string says them.
SORTS = ("days", "due", "unit", "cluster", "plan", "title")
#: The deadline a step is late after: the extension when it is later than the plan's date.
DEADLINE = deadline(t)


@dataclass(frozen=True)
class Filters:
    plan: str | None = None
    unit: str | None = None
    cluster: str | None = None
    min_days: int = 0
    sort: str = "days"
    desc: bool = False


class StepLine(NamedTuple):
    """One step as a list shows it. A named tuple, not a frozen dataclass: a list or an
    export makes a million of them, and a tuple is made ten times faster."""

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

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.done_late + self.upcoming + self.excused


class BadCursor(ValueError):
    """A cursor (`after`) that is not one this board gave for this sort."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many rows the whole list has, and the cursor of the
    next page (None on the last one). Keyset paging: the cursor holds the sort key of the last
    row, so a page never repeats or skips a row when steps are added between two requests."""

    items: list[T]
    total: int
    next: str | None
    limit: int


def encode_cursor(sort: str, desc: bool, values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    text = json.dumps([sort, desc, plain], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, desc: bool, kinds: Sequence[str]) -> list[Any]:
    """The key values of `cursor`; BadCursor unless it was made for this sort and order."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        got_sort, got_desc, values = raw
        if got_sort != sort or got_desc != desc or len(values) != len(kinds):
            raise ValueError
        out: list[Any] = []
        for kind, v in zip(kinds, values, strict=True):
            if kind == "t":
                moment = datetime.fromisoformat(v)
                if moment.tzinfo is None:
                    raise ValueError
                out.append(moment)
            elif kind == "i":
                if not isinstance(v, int) or isinstance(v, bool):
                    raise ValueError
                out.append(v)
            else:
                if not isinstance(v, str):
                    raise ValueError
                out.append(v)
        return out
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(cursor) from None


def after(keys: Sequence[Any], values: Sequence[Any], desc: bool) -> Any:
    """Rows strictly after `values` in the order of `keys` (all ascending, or all descending):
    k1 > v1 OR (k1 = v1 AND (k2 > v2 OR …)), with k1 >= v1 in front for the index.

    The OR is a test of each row read from there (`IS true`), not a way in: SQLite would
    otherwise read it as two index ranges merged and sorted (MULTI-INDEX OR), which it chose
    for a cluster head's second page once a unit's steps had an index of their own (0013):
    every late step after the cursor, 0.2 s instead of 4 ms."""
    cond: Any = None
    for key, value in reversed(list(zip(keys, values, strict=True))):
        beyond = key < value if desc else key > value
        cond = beyond if cond is None else or_(beyond, and_(key == value, cond))
    first = keys[0] <= values[0] if desc else keys[0] >= values[0]
    return and_(first, cond.is_(true()))


#: The first cluster name of a step's unit in its plan, for the sort by cluster ("\uffff":
#: units in no cluster last, as before).
CLUSTER_NAME = func.coalesce(
    select(func.min(g.c.name))
    .join(m, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
    .where(m.c.plan_id == t.c.plan_id, m.c.unit_id == t.c.unit_id, g.c.kind == "cluster")
    .scalar_subquery(),
    "\uffff",
)


def sort_keys(sort: str) -> list[tuple[Any, str]]:
    """(expression, kind) of each key of a sort; kind: t = moment, s = text. The step id last
    makes every key unique, so the keyset order is total."""
    unit, plan = units_table.c, plans_table.c.title
    keys: dict[str, list[tuple[Any, str]]] = {
        "days": [],
        "due": [],
        # the unit's id too: the units in (name, id) order are the outer loop (`_joined`)
        "unit": [(unit.name, "s"), (unit.id, "s")],
        "cluster": [(CLUSTER_NAME, "s")],
        "plan": [(plan, "s")],
        "title": [(t.c.title, "s")],
    }
    first = keys[sort]
    return [*first, (DEADLINE, "t"), (t.c.id, "s")]


def _base() -> Any:
    return (
        select(
            *(t.c[c] for c in COLUMNS),
            t.c.due_time,
            t.c.obligation,
            units_table.c.name.label("unit_name"),
            plans_table.c.title.label("plan_title"),
        )
        .join(units_table, units_table.c.id == t.c.unit_id)
        .join(plans_table, plans_table.c.id == t.c.plan_id)
    )


def _in_cluster(cluster: str, src: Any = t) -> Any:
    return exists(
        select(m.c.unit_id)
        .join(g, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
        .where(
            m.c.plan_id == src.c.plan_id,
            m.c.unit_id == src.c.unit_id,
            g.c.kind == "cluster",
            g.c.id == cluster,
        )
    )


def _filters(f: Filters, src: Any = t) -> list[Any]:
    """The filters' conditions on `src`'s rows (the steps, or the board's log of them)."""
    where = []
    if f.plan:
        where.append(src.c.plan_id == f.plan)
    if f.unit:
        where.append(src.c.unit_id == f.unit)
    if f.cluster:
        where.append(_in_cluster(f.cluster, src))
    return where


def clusters_of(
    session: Session, plan_ids: Iterable[str], unit_ids: Iterable[str] | None = None
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(plan, unit) → [(cluster id, name)], for the clusters of these plans (and units)."""
    wanted = sorted(set(plan_ids))
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    if wanted:
        query = (
            select(m.c.plan_id, m.c.unit_id, g.c.id, g.c.name)
            .join(g, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
            .where(g.c.kind == "cluster", m.c.plan_id.in_(wanted))
            .order_by(g.c.name)
        )
        if unit_ids is not None:
            query = query.where(m.c.unit_id.in_(sorted(set(unit_ids))))
        for plan_id, unit_id, gid, name in session.execute(query):
            found[(plan_id, unit_id)].append((gid, name))
    return found


def _line(
    r: Any, clusters: dict[tuple[str, str], list[tuple[str, str]]], now: datetime
) -> StepLine:
    step = facts(r)
    return StepLine(
        r.id,
        r.title,
        r.obligation,
        r.kind,
        r.plan_id,
        r.plan_title,
        r.unit_id,
        r.unit_name,
        tuple(clusters.get((r.plan_id, r.unit_id), ())),
        r.due_date,
        r.due_time,
        step.deadline,
        status(step, now),
    )


@dataclass(frozen=True)
class StepList:
    """Which steps a list holds: the overdue ones, or those due in the next `days` days."""

    overdue: bool
    days: int = 0

    def where(
        self,
        scope: Collection[str] | None,
        now: datetime,
        f: Filters,
        count: bool = False,
        src: Any = t,
    ) -> list[Any]:
        """The conditions on `steps` (or `src`, the board's log of them): in scope,
        filtered, and late (or due soon) at `now`.

        The bounds are on the deadline, which ix_steps_state_deadline orders: a page or a
        stream walks it in the list's order. The deadline is never before due_at, so each
        bound on it is also one on due_at: a `count` says so, and then reads the narrower
        covering index (state, due_at, …) instead."""
        when = deadline(src)
        where = [src.c.state == State.PENDING, *_filters(f, src)]
        if scope is not EVERYTHING:
            where.append(src.c.unit_id.in_(sorted(scope)))
        if self.overdue:
            # days late = max(1, ⌈(now − deadline) / 1 day⌉) ≥ n  ⇔  deadline < now − (n−1) days
            where += [src.c.kind.in_(sorted(LATE_KINDS))]
            if f.min_days <= 1:
                where += [now >= when] + ([src.c.due_at <= now] if count else [])
            else:
                before = now - timedelta(days=f.min_days - 1)
                where += [before > when] + ([src.c.due_at < before] if count else [])
        else:
            end = now + timedelta(days=self.days)
            where += [now < when, end >= when] + ([src.c.due_at <= end] if count else [])
        return where

    def shifts(self, f: Filters) -> list[timedelta]:
        """How far from `now` the list's bounds on deadlines are (`where`): now − (n − 1)
        days for steps at least n days late; now and now + days for the upcoming ones."""
        if self.overdue:
            return [timedelta(days=max(f.min_days, 1) - 1)]
        return [timedelta(0), -timedelta(days=self.days)]


OVERDUE = StepList(overdue=True)
#: The scope of the command line: every unit.
EVERYTHING = None


def narrowed(session: Session, scope: Collection[str] | None) -> Collection[str] | None:
    """EVERYTHING when `scope` holds every unit (the issuer of a national plan sees them all):
    then no query tests each step's unit against thousands of ids."""
    if scope is EVERYTHING or not scope:
        return scope
    units = session.execute(select(func.count()).select_from(units_table)).scalar_one()
    return EVERYTHING if len(set(scope)) >= units else scope


class UnitsFirst(Join):
    """units JOIN steps, with the units as the outer loop: SQLite's query planner never
    reorders a CROSS JOIN (https://sqlite.org/optoverview.html, "Manual Control Of Query
    Plans Using CROSS JOIN"), so it walks the units in (name, id) order (ix_units_name_id)
    and each unit's steps in (state, deadline, id) order (ix_steps_unit_id_state_deadline):
    a page by unit reads about as many index entries as it shows instead of sorting every
    late step by its unit's name. PostgreSQL gets a plain JOIN and takes the same path (a
    nested loop under an incremental sort of each unit's few rows)."""

    inherit_cache = True


@compiles(UnitsFirst, "sqlite")
def _cross_join(join: UnitsFirst, compiler: Any, **kw: Any) -> str:
    plain: str = compiler.visit_join(join, **kw)
    head, tail = plain.split(" JOIN ", 1)  # the left side is the units table, named alone
    return f"{head} CROSS JOIN {tail}"


def _joined(f: Filters) -> tuple[Any, list[Any]]:
    """The FROM of a list's query (the steps, joined to what its sort orders by), and the
    conditions on what is joined."""
    if f.sort == "unit":
        joined = UnitsFirst(units_table, t, units_table.c.id == t.c.unit_id)
        if not f.cluster:
            return joined, []
        # the outer loop skips the units in no such cluster instead of testing each late
        # step of theirs (_in_cluster, per plan, still decides)
        return joined, [units_table.c.id.in_(units_in_cluster(f.cluster))]
    if f.sort == "plan":
        return t.join(plans_table, plans_table.c.id == t.c.plan_id), []
    return t, []


def step_page(
    session: Session,
    scope: Collection[str] | None,
    now: datetime,
    which: StepList,
    f: Filters,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[StepLine]:
    """One page of a list of steps, `limit` rows after `cursor` (None: the first page).
    `scope` None (EVERYTHING) is every unit: the command line's view."""
    if scope is not EVERYTHING and not scope:
        return Page([], 0, None, limit)
    wanted = narrowed(session, scope)
    where = which.where(wanted, now, f)
    keys = sort_keys(f.sort)
    # Two steps: the page's ids and sort keys from an index (ix_steps_state_deadline, or
    # ix_units_name_id then ix_steps_unit_id_state_deadline by unit, see `_joined`), then
    # the full rows of those.
    joined, on_joined = _joined(f)
    query = select(*(e for e, _ in keys)).select_from(joined).where(*where, *on_joined)
    if cursor:
        values = decode_cursor(cursor, f.sort, f.desc, [k for _, k in keys])
        query = query.where(after([e for e, _ in keys], values, f.desc))
    order = [e.desc() if f.desc else e.asc() for e, _ in keys]
    marks = session.execute(query.order_by(*order).limit(limit + 1)).all()

    # the total (a count over every late step's index entry) is kept while exact, and
    # caught up after a change, as the summaries are
    def counted(src: Any, weight: Any, at: datetime) -> Any:
        where = which.where(wanted, at, f, count=True, src=src)
        return select(func.sum(weight)).select_from(src).where(*where)

    key = ("count", which, f.plan, f.unit, f.cluster, f.min_days, scope_key(wanted))
    total = sums(session, key, now, counted, 0, which.shifts(f))[()][0]
    more = len(marks) > limit
    marks = marks[:limit]
    found = {r.id: r for r in session.execute(_base().where(t.c.id.in_([k[-1] for k in marks])))}
    rows = [found[k[-1]] for k in marks]
    clusters = clusters_of(session, {r.plan_id for r in rows}, {r.unit_id for r in rows})
    items = [_line(r, clusters, now) for r in rows]
    next_cursor = encode_cursor(f.sort, f.desc, list(marks[-1])) if more else None
    return Page(items, total, next_cursor, limit)


Clusters = tuple[tuple[str, str], ...]
#: The columns of a list line as a stream reads them: the step's own, no join (the names are
#: looked up in dicts read once), each as the driver gives it (`_RawLines` decodes).
#: (`_RawLines.line` reads them by position: escalation is the 15th.)
LINE_COLUMNS = (
    "id",
    "title",
    "obligation",
    "kind",
    "plan_id",
    "unit_id",
    "due_date",
    "due_time",
    "due_at",
    "extended_until",
    "state",
    "done_at",
    "tentative",
    "reminders",
    "escalation",
    "escalated_level",
    "extension_requested_at",
    "timezone",
)
#: What a step's status depends on (`lifecycle.status` of `facts`), besides `now`.
STATUS_INPUTS = (
    "kind",
    "state",
    "done_at",
    "due_at",
    "extended_until",
    "tentative",
    "reminders",
    "escalation",
    "escalated_level",
    "timezone",
)
_JSON = ("reminders", "escalation")
_MOMENTS = ("due_at", "extended_until", "done_at", "extension_requested_at")


def _raw(name: str) -> Any:
    """A column as the driver gives it: JSON as its text, moments and dates undecoded."""
    col = t.c[name]
    if name in _JSON:
        return cast(col, Text).label(name)
    if name in _MOMENTS or name in ("due_date", "due_time"):
        return type_coerce(col, String).label(name)
    return col


#: The levels and moments of a step's rungs in its escalation's JSON text, in the text's
#: order (the units the rungs reach are left out: the status does not depend on them). A
#: level is a number and a moment a quoted string, so the tuple tells the rungs apart in
#: either key order (SQLite keeps json.dumps', PostgreSQL's jsonb sorts them).
RUNG_KEYS = re.compile(r'"(?:level|at)": ?(\d+|"[^"]*")')


class _RawLines:
    """StepLines from raw rows. The status inputs of a million late steps take a few
    thousand distinct values (the steps of one occurrence share them; the rungs differ only
    in whom they reach, which the status does not depend on), so each distinct combination
    is decoded and given its status (the lifecycle's, via `facts`) once; the memo is emptied
    when it grows past `MEMO`, so memory stays bounded."""

    MEMO = 20_000

    def __init__(self, session: Session, now: datetime) -> None:
        self.now, self.dialect = now, session.get_bind().dialect
        self.units = dict(session.execute(select(units_table.c.id, units_table.c.name)).all())
        self.plans = dict(session.execute(select(plans_table.c.id, plans_table.c.title)).all())
        self.clusters: dict[tuple[str, str], Clusters] = {
            k: tuple(v) for k, v in clusters_of(session, self.plans).items()
        }
        self.status: dict[tuple[Any, ...], tuple[datetime, StepStatus]] = {}
        self.days: dict[Any, date] = {}
        #: (plan, unit) → the line's plan, plan title, unit, unit name, clusters
        self.names: dict[tuple[str, str], tuple[str, str, str, str, Clusters]] = {}
        self.times: dict[Any, time | None] = {}
        self.moment = UTCDateTime().process_result_value
        self.inputs = itemgetter(
            *(LINE_COLUMNS.index(n) for n in STATUS_INPUTS if n != "escalation")
        )
        self.at = {n: LINE_COLUMNS.index(n) for n in LINE_COLUMNS}

    def _facts(self, r: Any, rungs: list[Any]) -> Any:
        values = {n: r[i] for n, i in self.at.items()}
        for name in _MOMENTS:
            values[name] = self.moment(values[name], self.dialect)
        values["reminders"] = json.loads(values["reminders"])
        values["escalation"] = rungs
        values["due_date"] = self._day(values["due_date"])
        return facts(SimpleNamespace(**values))

    def _day(self, raw: Any) -> date:
        day = self.days.get(raw)
        if day is None:
            day = self.days[raw] = raw if isinstance(raw, date) else date.fromisoformat(raw)
        return day

    def _time(self, raw: Any) -> time | None:
        if raw is None or isinstance(raw, time):
            return raw
        found = self.times.get(raw)
        if found is None:
            found = self.times[raw] = time.fromisoformat(raw)
        return found

    def line(self, r: Any) -> StepLine:
        key = (self.inputs(r), *RUNG_KEYS.findall(r[14]))
        known = self.status.get(key)
        if known is None:
            if len(self.status) >= self.MEMO:
                self.status.clear()
            step = self._facts(r, json.loads(r[14]))
            known = self.status[key] = (step.deadline, status(step, self.now))
        plan, unit = r[4], r[5]
        names = self.names.get((plan, unit))
        if names is None:
            names = self.names[(plan, unit)] = (
                plan,
                self.plans.get(plan, plan),
                unit,
                self.units.get(unit, unit),
                self.clusters.get((plan, unit), ()),
            )
        day = self.days.get(r[6])
        return StepLine(
            r[0],
            r[1],
            r[2],
            r[3],
            *names,
            self._day(r[6]) if day is None else day,
            None if r[7] is None else self._time(r[7]),
            *known,
        )


def stream_lines(
    session: Session,
    scope: Collection[str] | None,
    now: datetime,
    which: StepList,
    f: Filters,
    batch: int = 2000,
) -> Iterator[StepLine]:
    """Every step of a list in the list's order, read in batches as they are consumed (the
    exports and the CLI): memory does not grow with the number of rows."""
    if scope is not EVERYTHING and not scope:
        return
    keys = sort_keys(f.sort)
    joined, on_joined = _joined(f)
    query = (
        select(*(_raw(c) for c in LINE_COLUMNS))
        .select_from(joined)
        .where(*which.where(narrowed(session, scope), now, f), *on_joined)
        .order_by(*(e.desc() if f.desc else e.asc() for e, _ in keys))
    )
    line = _RawLines(session, now).line
    for rows in session.execute(query.execution_options(yield_per=batch)).partitions():
        yield from map(line, rows)


def overdue(
    session: Session, scope: Collection[str], now: datetime, f: Filters = Filters()
) -> list[StepLine]:
    """Open steps late at `now` (overdue or escalated), at least `f.min_days` days late."""
    return list(stream_lines(session, scope, now, OVERDUE, f))


def upcoming(
    session: Session,
    scope: Collection[str],
    now: datetime,
    days: int,
    f: Filters = Filters(sort="due"),
) -> list[StepLine]:
    """Open steps due in the next `days` days (events and phases included)."""
    return list(stream_lines(session, scope, now, StepList(False, days), f))


def step(session: Session, scope: Collection[str], step_id: str) -> Any | None:
    """The full row of one step in scope, with its unit and plan names; None otherwise."""
    row = session.execute(
        select(t, units_table.c.name.label("unit_name"), plans_table.c.title.label("plan_title"))
        .join(units_table, units_table.c.id == t.c.unit_id)
        .join(plans_table, plans_table.c.id == t.c.plan_id)
        .where(t.c.id == step_id)
    ).one_or_none()
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


def step_view(
    session: Session, scope: Collection[str], step_id: str, now: datetime
) -> StepView | None:
    """The step's view, if it exists and is in scope."""
    row = step(session, scope, step_id)
    if row is None:
        return None
    clusters = clusters_of(session, [row.plan_id]).get((row.plan_id, row.unit_id), [])
    f = facts(row)
    line = StepLine(
        row.id,
        row.title,
        row.obligation,
        row.kind,
        row.plan_id,
        row.plan_title,
        row.unit_id,
        row.unit_name,
        tuple(clusters),
        row.due_date,
        row.due_time,
        f.deadline,
        status(f, now),
    )
    return StepView(row, line, trail(session, step_id), allowed_actions(row))


def in_scope(session: Session, scope: Collection[str], step_id: str) -> bool:
    unit = session.execute(select(t.c.unit_id).where(t.c.id == step_id)).scalar_one_or_none()
    return unit is not None and unit in scope


def trail(session: Session, step_id: str) -> list[Any]:
    """The step's audit rows, oldest first."""
    tr = transitions_table
    return list(
        session.execute(select(tr).where(tr.c.step_id == step_id).order_by(tr.c.at, tr.c.id))
    )


def allowed_actions(row: Any) -> list[Action]:
    """The board's actions the lifecycle allows on the step now."""
    step_facts = facts(row)
    return [
        a
        for a in (Action.DONE, Action.GRANT, Action.REFUSE, Action.EXCUSE)
        if refusal(step_facts, a) is None
    ]


def _outcomes(now: datetime, src: Any) -> dict[str, Any]:
    """Each outcome of a deadline of `src`'s rows (the steps, or the board's log of them)
    as a condition (lifecycle.status, in SQL): events and phases and cancelled steps are
    left out by the callers. Each counted row has exactly one."""
    pending, done, when = src.c.state == State.PENDING, src.c.state == State.DONE, deadline(src)
    late_done = and_(done, src.c.done_at.is_not(None), src.c.done_at > when)
    return {
        "on_time": and_(done, ~late_done),
        "late": and_(pending, now >= when),
        "done_late": late_done,
        "upcoming": and_(pending, now < when),
        "excused": src.c.state == "excused",
    }


#: The summaries' columns, in the order of `_outcomes`.
OUTCOMES = ("on_time", "late", "done_late", "upcoming", "excused")


def _counted(src: Any, wanted: Collection[str] | None, plan: str | None) -> list[Any]:
    where = [src.c.state != "cancelled", src.c.kind.in_(sorted(LATE_KINDS))]
    if wanted is not EVERYTHING:
        where.append(src.c.unit_id.in_(sorted(wanted)))
    return where + ([src.c.plan_id == plan] if plan else [])


def summaries(
    session: Session, scope: Collection[str], now: datetime, by: str, plan: str | None = None
) -> list[Counts]:
    """Deadlines by outcome per unit (`by="unit"`) or per cluster (`by="cluster"`), most late
    first: one GROUP BY (plan, unit) in the database (index ix_steps_plan_id_unit_id_kind),
    whose few thousand rows are then added up per unit or per cluster of the unit. Kept
    between requests while exact (summary_cache); callers do not change the Counts."""
    if not scope:
        return []
    wanted = narrowed(session, scope)
    key = ("summaries", by, plan, scope_key(wanted))
    return kept(session, key, now, lambda s, at: _summaries(s, wanted, at, by, plan))


def _summaries(
    session: Session, wanted: Collection[str] | None, now: datetime, by: str, plan: str | None
) -> list[Counts]:
    # one GROUP BY for both summaries (by unit, by cluster), kept on its own
    per = _per_unit(session, wanted, now, plan)
    counts: dict[str, Counts] = {}
    keys: dict[tuple[Any, ...], list[tuple[str, str]]]
    if by == "unit":
        unit_names = {
            r.id: r.name for r in session.execute(select(units_table.c.id, units_table.c.name))
        }
        keys = {(p, u): [(u, unit_names.get(u) or u)] for p, u in per}
    else:
        clusters = clusters_of(session, {p for p, _ in per})
        keys = {
            (p, u): [(f"{p}/{cid}", name) for cid, name in clusters.get((p, u), ())] for p, u in per
        }
    for group, values in per.items():
        for key, name in keys[group]:
            c = counts.setdefault(key, Counts(key, name))
            for n, value in zip(OUTCOMES, values, strict=True):
                setattr(c, n, getattr(c, n) + value)
    return sorted(counts.values(), key=lambda c: (-c.late, c.name, c.key))


def _per_unit(
    session: Session, wanted: Collection[str] | None, now: datetime, plan: str | None
) -> Sums:
    """Deadlines by outcome (OUTCOMES) per (plan, unit) of the `wanted` units (`narrowed`):
    the summaries' GROUP BY (index ix_steps_plan_id_unit_id_kind), kept and caught up after
    a change."""

    def aggregate(src: Any, weight: Any, at: datetime) -> Any:
        outcomes = _outcomes(at, src)
        return (
            select(src.c.plan_id, src.c.unit_id)
            .add_columns(*(func.sum(case((outcomes[n], weight), else_=0)) for n in OUTCOMES))
            .where(*_counted(src, wanted, plan))
            .group_by(src.c.plan_id, src.c.unit_id)
        )

    return sums(session, ("per unit", plan, scope_key(wanted)), now, aggregate, 2)


def summary_page(
    session: Session,
    scope: Collection[str],
    now: datetime,
    by: str,
    plan: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Counts]:
    """A page of `summaries`, most late first, keyset on (late, name, key)."""
    counts = summaries(session, scope, now, by, plan)
    start = 0
    if cursor:
        late, name, key = decode_cursor(cursor, "late:" + by, False, "iss")
        mark = (-late, name, key)
        start = next(
            (i for i, c in enumerate(counts) if (-c.late, c.name, c.key) > mark), len(counts)
        )
    items = counts[start : start + limit]
    more = start + limit < len(counts)
    last = items[-1] if items else None
    return Page(
        items,
        len(counts),
        encode_cursor("late:" + by, False, [last.late, last.name, last.key])
        if more and last
        else None,
        limit,
    )


@dataclass(frozen=True)
class Month:
    """A month's deadlines already past at `now`, for the charts: done on time, late (done
    late or still open), and the on-time rate (excused ones are not counted)."""

    year: int
    month: int
    on_time: int
    late: int

    @property
    def due(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> int:
        """Percent done on time, rounded; 0 when nothing was due."""
        return round(100 * self.on_time / self.due) if self.due else 0

    @property
    def label(self) -> str:
        return f"{self.month:02d}/{self.year}"


def monthly(
    session: Session,
    scope: Collection[str],
    now: datetime,
    by: str,
    keys: Collection[str] | None = None,
    plan: str | None = None,
) -> dict[str, list[Month]]:
    """Per plan (plan ids, `by="plan"`) or per cluster ("plan/cluster" keys), month by month
    of the plan's due date: one GROUP BY (plan, due date; plan, cluster, due date for
    clusters), added up per month here. `keys` limits it to those shown. Kept between
    requests while exact, and caught up after a change (summary_cache)."""
    if not scope:
        return {}
    wanted = narrowed(session, scope)
    key = ("monthly", by, plan, None if keys is None else frozenset(keys), scope_key(wanted))
    return kept(session, key, now, lambda s, at: _monthly(s, wanted, at, by, keys, plan))


def _monthly(
    session: Session,
    wanted: Collection[str] | None,
    now: datetime,
    by: str,
    keys: Collection[str] | None,
    plan: str | None,
) -> dict[str, list[Month]]:
    shown = None if keys is None else sorted(keys)
    named = None if keys is None else set(keys)

    def aggregate(src: Any, weight: Any, at: datetime) -> Any:
        out = _outcomes(at, src)
        where = [*_counted(src, wanted, plan), at >= deadline(src), src.c.state != "excused"]
        if by == "cluster":  # the rows of each cluster's units, per cluster
            groups = [m.c.plan_id, m.c.group_id]
            rows = src.join(m, and_(m.c.plan_id == src.c.plan_id, m.c.unit_id == src.c.unit_id))
            rows = rows.join(g, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
            where.append(g.c.kind == "cluster")
            if shown is not None:  # plan and cluster each among those shown; pairs below
                pairs = [k.split("/", 1) for k in shown if "/" in k]
                where += [
                    m.c.plan_id.in_({p for p, _ in pairs}),
                    m.c.group_id.in_({c for _, c in pairs}),
                ]
        else:
            groups, rows = [src.c.plan_id], src
            if shown is not None:
                where.append(src.c.plan_id.in_(shown))
        # by day, not by month: a plan has a few hundred due dates, and the database then
        # computes no month for each of its steps
        return (
            select(*groups, src.c.due_date)
            .add_columns(
                func.sum(case((out["on_time"], weight), else_=0)),
                func.sum(case((or_(out["late"], out["done_late"]), weight), else_=0)),
            )
            .select_from(rows)
            .where(*where)
            .group_by(*groups, src.c.due_date)
        )

    groups = 3 if by == "cluster" else 2
    key = ("monthly sums", by, plan, None if shown is None else tuple(shown), scope_key(wanted))
    months: dict[str, dict[tuple[int, int], list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    for group, (on_time, late) in sums(session, key, now, aggregate, groups).items():
        name = "/".join(group[:-1])
        if named is not None and name not in named:
            continue
        cell = months[name][(group[-1].year, group[-1].month)]
        cell[0] += on_time
        cell[1] += late
    return {
        key: [Month(y, mo, on, late) for (y, mo), (on, late) in sorted(cells.items())]
        for key, cells in months.items()
    }


#: The most units a form offers in a drop-down; above it the form asks for a unit's id or
#: name in a text field (picker.py): nobody picks from 10,000 options, 600 KB of a page.
MAX_UNIT_CHOICES = 200


@dataclass(frozen=True)
class Choices:
    """What the filter form offers: the plans, units and clusters in scope. `many_units`:
    more units than a drop-down holds (then `units` is empty and the form has a text field)."""

    plans: list[tuple[str, str]]
    units: list[tuple[str, str]]
    clusters: list[tuple[str, str]]
    many_units: bool = False


def choices(
    session: Session,
    scope: Collection[str],
    cluster: str | None = None,
    limit: int = MAX_UNIT_CHOICES,
) -> Choices:
    """The plans, units and clusters in scope (all of them, untested, for whoever sees every
    unit); the units as `unit_choices` gives them."""
    if not scope:
        return Choices([], [], [])
    wanted = narrowed(session, scope)
    clusters = select(g.c.id, g.c.name).where(g.c.kind == "cluster").distinct().order_by(g.c.name)
    if wanted is not EVERYTHING:
        clusters = clusters.join(m, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id)).where(
            m.c.unit_id.in_(sorted(wanted))
        )
    plans = [(r[0], r[1]) for r in session.execute(_plans(wanted))]
    units, many = _units(session, scope, wanted, cluster, limit)
    return Choices(plans, units, [(r[0], r[1]) for r in session.execute(clusters)], many)


def unit_choices(
    session: Session,
    scope: Collection[str],
    cluster: str | None = None,
    limit: int = MAX_UNIT_CHOICES,
) -> tuple[list[tuple[str, str]], bool]:
    """The (id, name) of the units a form offers, by name, and whether there are more than
    `limit` of them (then none are read: the form has a text field): every unit in scope, or
    else those of `cluster` (a list's filter) in scope; counted first."""
    if not scope:
        return [], False
    return _units(session, scope, narrowed(session, scope), cluster, limit)


def _units(
    session: Session,
    scope: Collection[str],
    wanted: Collection[str] | None,
    cluster: str | None,
    limit: int,
) -> tuple[list[tuple[str, str]], bool]:
    units = select(units_table.c.id, units_table.c.name).order_by(units_table.c.name)
    if wanted is not EVERYTHING:
        units = units.where(units_table.c.id.in_(sorted(wanted)))
    many = len(scope) > limit
    if many and cluster:
        members = units_in_cluster(cluster)
        units = units.where(units_table.c.id.in_(members))
        scoped = members if wanted is EVERYTHING else members.where(m.c.unit_id.in_(sorted(scope)))
        counted = select(func.count()).select_from(scoped.subquery())
        many = session.execute(counted).scalar_one() > limit
    return ([] if many else [(r[0], r[1]) for r in session.execute(units)]), many


def plans_in(session: Session, scope: Collection[str]) -> list[tuple[str, str]]:
    """(id, title) of the plans with a unit in scope, by title: what the summary pages filter
    by and a secretary's charts show (`choices` without its units and clusters)."""
    if not scope:
        return []
    return [(r[0], r[1]) for r in session.execute(_plans(narrowed(session, scope)))]


def _plans(wanted: Collection[str] | None) -> Any:
    plans = select(plans_table.c.id, plans_table.c.title).order_by(plans_table.c.title)
    if wanted is EVERYTHING:
        return plans
    units = plan_units_table.c.unit_id.in_(sorted(wanted))
    return plans.where(plans_table.c.id.in_(select(plan_units_table.c.plan_id).where(units)))


def units_in_cluster(cluster: str) -> Any:
    """The ids of the units in a cluster of that id (in any plan), as a subquery."""
    return (
        select(m.c.unit_id)
        .join(g, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
        .where(g.c.kind == "cluster", g.c.id == cluster)
        .distinct()
    )


def _people_query(session: Session, scope: Collection[str], unit: str | None) -> Any:
    p = people_table
    query = (
        select(p, units_table.c.name.label("unit_name"))
        .outerjoin(units_table, units_table.c.id == p.c.unit_id)
        .where(p.c.active.is_(True))
    )
    wanted = narrowed(session, scope)  # every unit: no IN of 10,000 ids (0.2 s on PostgreSQL)
    if wanted is EVERYTHING:
        query = query.where(p.c.unit_id.is_not(None))
    else:
        query = query.where(p.c.unit_id.in_(sorted(wanted)))
    return query.where(p.c.unit_id == unit) if unit is not None else query


PEOPLE_KEYS = (people_table.c.unit_id, people_table.c.name, people_table.c.id)


def people_page(
    session: Session,
    scope: Collection[str],
    unit: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[PersonView]:
    """A page of the active people of the units in scope, by unit, name and id (keyset)."""
    if not scope:
        return Page([], 0, None, limit)
    query = _people_query(session, scope, unit)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    if cursor:
        query = query.where(
            after(PEOPLE_KEYS, decode_cursor(cursor, "people", False, "ssi"), False)
        )
    rows = session.execute(query.order_by(*PEOPLE_KEYS).limit(limit + 1)).all()
    items = person_views(session, rows[:limit])
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(
        items,
        total,
        encode_cursor("people", False, [last.unit_id, last.name, last.id])
        if last is not None
        else None,
        limit,
    )


def stream_people(
    session: Session, scope: Collection[str], unit: str | None = None
) -> Iterator[PersonView]:
    """Every active person in scope, in the pages' order, read in batches (the exports)."""
    if scope:
        query = _people_query(session, scope, unit).order_by(*PEOPLE_KEYS)
        for batch in session.execute(query.execution_options(yield_per=2000)).partitions():
            yield from person_views(session, batch)
