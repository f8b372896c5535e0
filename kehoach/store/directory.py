"""Who is who: plan groups (clusters), people, and how each person is reached.

- `sync_groups` keeps a plan's clusters and groups and its issuer, on every load;
- `routes` says, for units, which people hear their notifications and through which
  channel: the first of the person's contacts (table `contacts`: by their preference, then
  the channel registry's order, kehoach/channels.py) that is not lost and whose channel is
  running. A unit nobody is reachable in still gets one row, to no person, on the fallback
  channel (the console): nothing decided is dropped;
- `scope_units` is what a person may see and act on: their own unit; as a cluster head,
  the member units of the clusters their unit heads; as a secretary, every unit of the
  plans their unit issued.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine.plan import Plan
from kehoach.channels import FALLBACK, rank

from .db import among
from .models import (
    BoardRole,
    contacts_table,
    group_members_table,
    groups_table,
    people_table,
    plan_units_table,
    plans_table,
)

__all__ = [
    "FALLBACK",
    "Route",
    "plan_units",
    "routes",
    "scope_units",
    "sync_groups",
    "sync_plan_units",
]


@dataclass(frozen=True, slots=True)
class Route:
    person_id: int | None
    channel: str
    name: str | None = None


def sync_groups(session: Session, plan: Plan) -> None:
    """Make the stored clusters, groups and issuer of `plan` those of this version (no write
    when they are already)."""
    g, m = groups_table, group_members_table
    issuer = session.execute(
        select(plans_table.c.issuer_id).where(plans_table.c.id == plan.id)
    ).scalar_one_or_none()
    if issuer != plan.issuer:
        session.execute(
            update(plans_table).where(plans_table.c.id == plan.id).values(issuer_id=plan.issuer)
        )
    groups = {
        (
            gid,
            "cluster" if gid in plan.cluster_heads else "group",
            plan.names.get(gid, gid),
            plan.cluster_heads.get(gid),
        )
        for gid in plan.members
    }
    members = {(gid, u) for gid, units in plan.members.items() for u in units}
    stored_groups = {
        tuple(r)
        for r in session.execute(
            select(g.c.id, g.c.kind, g.c.name, g.c.head_id).where(g.c.plan_id == plan.id)
        )
    }
    stored_members = {
        tuple(r)
        for r in session.execute(select(m.c.group_id, m.c.unit_id).where(m.c.plan_id == plan.id))
    }
    if (groups, members) == (stored_groups, stored_members):
        return
    session.execute(delete(m).where(m.c.plan_id == plan.id))
    session.execute(delete(g).where(g.c.plan_id == plan.id))
    if groups:
        session.execute(
            insert(g),
            [
                {"plan_id": plan.id, "id": gid, "kind": kind, "name": name, "head_id": head}
                for gid, kind, name, head in sorted(groups)
            ],
        )
    if members:
        session.execute(
            insert(m),
            [{"plan_id": plan.id, "group_id": gid, "unit_id": u} for gid, u in sorted(members)],
        )


def sync_plan_units(session: Session, plan_id: str, units: Iterable[str]) -> None:
    """Record that `units` have steps in `plan_id` (the pairs not recorded yet)."""
    t = plan_units_table
    known = set(session.execute(select(t.c.unit_id).where(t.c.plan_id == plan_id)).scalars())
    new = sorted(set(units) - known)
    if new:
        session.execute(insert(t), [{"plan_id": plan_id, "unit_id": u} for u in new])


def plan_units(session: Session, plan_ids: Iterable[str] | Any) -> dict[str, set[str]]:
    """Plan → the units that have steps in it, for `plan_ids` (ids, or a select of them)."""
    t = plan_units_table
    found: dict[str, set[str]] = defaultdict(set)
    for plan_id, unit in session.execute(
        select(t.c.plan_id, t.c.unit_id).where(t.c.plan_id.in_(plan_ids))
    ):
        found[plan_id].add(unit)
    return found


def routes(
    session: Session, units: Iterable[str], enabled: Collection[str] = (), fallback: str = FALLBACK
) -> dict[str, list[Route]]:
    """Unit → who hears its notifications (see the module doc); every unit asked is a key.
    `enabled`: the channels running; `fallback`: the channel of a unit nobody is reachable in."""
    wanted = set(units)
    found: dict[str, list[Route]] = defaultdict(list)
    if wanted and enabled:
        p, c = people_table, contacts_table
        rows = session.execute(
            select(p.c.id, p.c.name, p.c.unit_id, c.c.channel, c.c.preference)
            .join(c, c.c.person_id == p.c.id)
            .where(
                p.c.active.is_(True),
                among(session, p.c.unit_id, wanted),
                c.c.lost_at.is_(None),
                c.c.channel.in_(list(enabled)),
            )
        )
        best: dict[int, Any] = {}
        for row in rows:
            held = best.get(row.id)
            if held is None or (row.preference, rank(row.channel)) < (
                held.preference,
                rank(held.channel),
            ):
                best[row.id] = row
        for person_id in sorted(best):
            person = best[person_id]
            found[person.unit_id].append(Route(person.id, person.channel, person.name))
    return {u: found.get(u) or [Route(None, fallback)] for u in wanted}


def scope_units(session: Session, person_id: int) -> set[str]:
    """The units whose steps `person_id` may see and act on (module doc); empty if unknown
    or inactive."""
    person = session.execute(
        select(people_table.c.unit_id, people_table.c.board_role).where(
            people_table.c.id == person_id, people_table.c.active.is_(True)
        )
    ).one_or_none()
    if person is None or person.unit_id is None:
        return set()
    units = {person.unit_id}
    g, m = groups_table, group_members_table
    if person.board_role in (BoardRole.CLUSTER_HEAD, BoardRole.SECRETARY):
        units |= set(
            session.execute(
                select(m.c.unit_id)
                .join(g, (g.c.plan_id == m.c.plan_id) & (g.c.id == m.c.group_id))
                .where(g.c.kind == "cluster", g.c.head_id == person.unit_id)
            ).scalars()
        )
    if person.board_role == BoardRole.SECRETARY:
        issued = select(plans_table.c.id).where(plans_table.c.issuer_id == person.unit_id)
        for units_of_plan in plan_units(session, issued).values():
            units |= units_of_plan
    return units
