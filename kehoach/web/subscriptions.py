"""Calendar feeds on the board (the `/nguoi` page): list the feeds of the units a person may
see, make one for a unit or cluster in scope, rotate or revoke one. A feed's address is shown
once, when it is made (only a hash of its token is kept: kehoach.store.feeds)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from calendars.feed import feed_urls
from kehoach import store
from kehoach.store import feeds
from kehoach.store.directory import plan_units
from kehoach.store.models import group_members_table, groups_table, plans_table

from . import picker
from .auth import Viewer, viewer
from .errors import Invalid, NotFound
from .render import page

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Seen = Annotated[Viewer, Depends(viewer)]
KINDS = {"unit": "đơn vị", "cluster": "cụm", "person": "người", "plan": "kế hoạch"}


@dataclass(frozen=True)
class FeedLine:
    id: int
    kind: str
    name: str
    label: str | None
    created_at: Any


def _units(session: Session, view: feeds.FeedView) -> frozenset[str] | None:
    try:
        scope = feeds.describe_scope(session, view.scope, view.scope_id)
    except feeds.FeedError:
        return None
    if scope.plan_id is not None:
        return frozenset(plan_units(session, [scope.plan_id]).get(scope.plan_id, set()))
    return scope.units


def visible(session: Session, v: Viewer) -> list[FeedLine]:
    """The live feeds whose units are all units `v` may see."""
    out = []
    for f in feeds.list_feeds(session, include_revoked=False):
        units = _units(session, f)
        if units and units <= v.scope:
            scope = feeds.describe_scope(session, f.scope, f.scope_id)
            out.append(
                FeedLine(f.id, KINDS.get(f.scope, f.scope), scope.name, f.label, f.created_at)
            )
    return out


def cluster_choices(session: Session, v: Viewer) -> list[tuple[str, str]]:
    """("plan/cluster", name) of the clusters whose every unit `v` may see."""
    g, m = groups_table, group_members_table
    rows = session.execute(
        select(g.c.plan_id, g.c.id, g.c.name, g.c.head_id, m.c.unit_id)
        .join(m, and_(g.c.plan_id == m.c.plan_id, g.c.id == m.c.group_id))
        .where(g.c.kind == "cluster")
    )
    units: dict[tuple[str, str, str], set[str]] = {}
    for plan_id, gid, name, head, unit in rows:
        units.setdefault((plan_id, gid, name), {head} if head else set()).add(unit)
    return sorted(
        ((f"{p}/{c}", n) for (p, c, n), us in units.items() if us <= v.scope), key=lambda kv: kv[1]
    )


def _made(request: Request, token: str, title: str) -> Response:
    public = request.app.state.settings.public_url or str(request.base_url)
    https, webcal = feed_urls(public, token)
    return page(
        request, "feed_made.html", {"title": title, "feed_https": https, "feed_webcal": webcal}
    )


def _mine(session: Session, v: Viewer, feed_id: int) -> None:
    if feed_id not in {f.id for f in visible(session, v)}:
        raise NotFound(f"Không có lịch số {feed_id} trong các đơn vị bạn được xem.")


def plan_choices(session: Session, v: Viewer) -> list[tuple[str, str]]:
    """(plan id, title) of the plans whose every unit `v` may see."""
    units = plan_units(session, select(plans_table.c.id))
    titles = {r.id: r.title for r in session.execute(select(plans_table.c.id, plans_table.c.title))}
    return sorted(
        ((p, titles.get(p, p)) for p, us in units.items() if us <= v.scope), key=lambda kv: kv[1]
    )


@router.post("/nguoi/lich")
def make(
    request: Request,
    v: Seen,
    kind: Annotated[str, Form(pattern="^(unit|cluster|plan|person)$")],
    unit: Annotated[str, Form(max_length=400)] = "",
    cluster: Annotated[str, Form(max_length=400)] = "",
    plan: Annotated[str, Form(max_length=400)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A feed of a unit, a cluster or a plan in scope, or of the person themself."""
    scope_id = {"unit": unit, "cluster": cluster, "plan": plan, "person": str(v.id)}[kind]
    engine = request.app.state.engine
    if kind == "unit" and unit.strip():  # an id, or a unit typed in the text field
        # looked for before the write transaction: a name compares every unit in scope
        found = store.reading(engine, picker.resolve, v.scope, unit)
        if isinstance(found, picker.Unresolved) and not found.total:
            raise Invalid(found.message)
        if isinstance(found, picker.Unresolved):
            return page(
                request,
                "feed_unit.html",
                {"title": "Chọn đơn vị", "problem": found, "label": label},
            )
        scope_id = found
    with store.write_session(engine) as session:
        choices: dict[str, Callable[[], Collection[str]]] = {
            "unit": lambda: v.scope,
            "person": lambda: {str(v.id)},
            "cluster": lambda: {c for c, _ in cluster_choices(session, v)},
            "plan": lambda: {p for p, _ in plan_choices(session, v)},
        }
        allowed = choices[kind]()
        if scope_id not in allowed:
            raise Invalid(f"Hãy chọn một {KINDS[kind]} trong các đơn vị bạn được xem.")
        _, token = feeds.create(
            session, kind, scope_id, request.app.state.now(), label.strip() or None
        )
    return _made(request, token, "Đã tạo lịch")


@router.post("/nguoi/lich/{feed_id}/doi")
def rotate(request: Request, v: Seen, feed_id: int) -> Response:
    with store.write_session(request.app.state.engine) as session:
        _mine(session, v, feed_id)
        _, token = feeds.rotate(session, feed_id, request.app.state.now())
    return _made(request, token, "Đã đổi địa chỉ lịch (địa chỉ cũ thôi dùng được)")


@router.post("/nguoi/lich/{feed_id}/thu-hoi")
def revoke(request: Request, v: Seen, feed_id: int) -> Response:
    with store.write_session(request.app.state.engine) as session:
        _mine(session, v, feed_id)
        feeds.revoke(session, feed_id, request.app.state.now())
    request.session["flash"] = f"Đã thu hồi lịch số {feed_id}: địa chỉ của nó thôi dùng được."
    return RedirectResponse("/nguoi", 303)
