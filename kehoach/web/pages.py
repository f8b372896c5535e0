"""The board's pages (Vietnamese, server-rendered, usable without JavaScript)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import PlanError
from engine.phrases import parse_day
from kehoach import store
from kehoach.channels import REGISTRY, contact_channels
from kehoach.store.models import units_table
from kehoach.store.people import ROLE_NAMES
from workflows.lifecycle import ACTION_NAMES, STATE_NAMES

from . import picker, queries
from .acting import BoardAction, perform, read_step
from .auth import Viewer, viewer
from .charts import Chart, charts_for
from .errors import Invalid, NotFound
from .params import (
    DEFAULT_DAYS,
    DEFAULT_LIMIT,
    MAX_DAYS,
    Group,
    Id,
    Paging,
    cursor_checked,
    days,
    filters,
    upcoming_filters,
)
from .queries import Filters, StepLine
from .render import has_template, page

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Seen = Annotated[Viewer, Depends(viewer)]
SORT_NAMES = {
    "days": "số ngày trễ",
    "due": "hạn",
    "unit": "đơn vị",
    "cluster": "cụm",
    "plan": "kế hoạch",
    "title": "việc",
}
EVENT_NAMES = {
    "created": "tạo",
    "changed": "đổi theo kế hoạch",
    "cancelled": "hủy",
    "restored": "khôi phục",
    "done": "hoàn thành",
    "escalated": "báo lên",
    "extension_requested": "xin gia hạn",
    "extension_granted": "cho gia hạn",
    "extension_refused": "từ chối gia hạn",
    "excused": "miễn",
    "reopened": "mở lại",
    "payment": "đóng tiền",
    "achievement": "ghi nhận kết quả",
}
#: The ways a change came, as people read them: the board, the CLI, the clock, and the
#: registry's channels (a chat's buttons and replies).
CHANNEL_NAMES = {
    "web": "trang quản lý",
    "cli": "dòng lệnh",
    "clock": "đồng hồ",
    **{s.name: s.label for s in REGISTRY},
}


def _query(request: Request, drop: tuple[str, ...] = ("after",), **extra: str) -> str:
    """The page's query string without `drop`, with `extra`: filters and sort kept in links."""
    pairs = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if v and k not in drop and k not in extra
    ]
    return urlencode(pairs + [(k, v) for k, v in extra.items() if v])


def _groups(lines: list[StepLine], by: str) -> list[tuple[str, list[StepLine]]]:
    grouped: dict[str, list[StepLine]] = defaultdict(list)
    for line in lines:
        names = (
            [line.unit_name]
            if by == "unit"
            else [name for _, name in line.clusters] or ["(không thuộc cụm nào)"]
        )
        for name in names:
            grouped[name].append(line)
    return sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _links(request: Request, next_cursor: str | None) -> dict[str, str]:
    """The paging links: the first page and the next one, filters and sort kept."""
    return {
        "query": _query(request, ("after", "limit")),
        "first": _query(request) if request.query_params.get("after") else "",
        "next": _query(request, after=next_cursor) if next_cursor else "",
        "paged": "1" if request.query_params.get("after") else "",
    }


def _list_page(
    request: Request,
    v: Viewer,
    which: queries.StepList,
    f: Filters,
    paging: tuple[str | None, int],
    *,
    slug: str,
    title: str,
    group: str,
    extra: dict[str, Any],
) -> Response:
    cursor, limit = paging
    limits = request.app.state.max_unit_choices
    with store.read_session(request.app.state.engine) as session, cursor_checked():
        # the unit in the query: an id, or what was typed in the text field (picker.py)
        unit = picker.resolve(session, v.scope, f.unit, f.cluster) if f.unit else None
        if isinstance(unit, str) and unit != f.unit:  # a name typed: the list of its id
            return RedirectResponse(f"{request.url.path}?{_query(request, unit=unit)}", 303)
        problem = unit if isinstance(unit, picker.Unresolved) else None
        found = (
            queries.Page([], 0, None, limit)
            if problem
            else queries.step_page(
                session, v.scope, request.app.state.now(), which, f, cursor, limit
            )
        )
        choices = queries.choices(session, v.scope, f.cluster, limits)
        typed = problem.text if problem else ""
        if f.unit and not problem and choices.many_units:
            typed = picker.shown(session, f.unit)
    lines = found.items
    matches = (
        [(uid, name, _query(request, unit=uid)) for uid, name in problem.matches] if problem else []
    )
    return page(
        request,
        "steps.html",
        {
            "title": title,
            "slug": slug,
            "lines": lines,
            "f": f,
            "choices": choices,
            "unit_text": typed,
            "problem": problem,
            "matches": matches,
            "total": found.total,
            "group": group,
            "groups": _groups(lines, group) if group else [],
            "sorts": SORT_NAMES,
            **_links(request, found.next),
            **extra,
        },
        status=422 if problem and not problem.total else 200,
    )


@router.get("/")
def home(v: Seen) -> Response:
    return RedirectResponse("/qua-han", 303)


@router.get("/qua-han")
def overdue_page(
    request: Request,
    v: Seen,
    f: Annotated[Filters, Depends(filters)],
    paging: Paging,
    group: Annotated[Group, Query()] = "",
) -> Response:
    return _list_page(
        request,
        v,
        queries.OVERDUE,
        f,
        paging,
        slug="qua-han",
        title="Việc quá hạn",
        group=group,
        extra={"days": None},
    )


@router.get("/sap-den")
def upcoming_page(
    request: Request,
    v: Seen,
    f: Annotated[Filters, Depends(upcoming_filters)],
    n: Annotated[int, Depends(days)],
    paging: Paging,
    group: Annotated[Group, Query()] = "",
) -> Response:
    return _list_page(
        request,
        v,
        queries.StepList(False, n),
        f,
        paging,
        slug="sap-den",
        title=f"Việc trong {n} ngày tới",
        group=group,
        extra={"days": n, "max_days": MAX_DAYS},
    )


@router.get("/tong-hop/{by}")
def summary_page(request: Request, v: Seen, by: str, paging: Paging, plan: Id = None) -> Response:
    kind = {"don-vi": "unit", "cum": "cluster"}.get(by)
    if kind is None:
        raise NotFound("Không có trang tổng hợp này.")
    cursor, limit = paging
    now = request.app.state.now()
    with store.read_session(request.app.state.engine) as session, cursor_checked():
        found, plans, charts = _summary(session, v, now, kind, plan or None, cursor, limit)
    return page(
        request,
        "summary.html",
        {
            "title": "Tổng hợp theo " + ("đơn vị" if kind == "unit" else "cụm"),
            "by": by,
            "counts": found.items,
            "total": found.total,
            "plans": plans,
            "plan": plan or "",
            "charts": charts,
            **_links(request, found.next),
        },
    )


def _summary(
    session: Session,
    v: Viewer,
    now: datetime,
    kind: str,
    plan: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[queries.Page[queries.Counts], list[tuple[str, str]], list[Chart]]:
    found = queries.summary_page(session, v.scope, now, kind, plan, cursor, limit)
    plans = queries.plans_in(session, v.scope)
    charts = charts_for(session, v, now, kind, [c.key for c in found.items], plan, plans)
    return found, plans, charts


def warm_pages(session: Session, now: datetime) -> None:
    """The first page of each summary, and the totals of the overdue and upcoming lists, as
    a secretary who sees every unit opens them (the largest aggregates and counts, kept by
    summary_cache): computed when the board starts, so no request waits for them
    (summary_cache.Refresher then keeps them current)."""
    units = frozenset(session.scalars(select(units_table.c.id)))
    everyone = Viewer(0, "", "", "secretary", None, units)
    for kind in ("unit", "cluster"):
        _summary(session, everyone, now, kind, None, None, DEFAULT_LIMIT)
    for which in (queries.OVERDUE, queries.StepList(False, DEFAULT_DAYS)):
        queries.step_page(session, units, now, which, Filters(), limit=1)


@router.get("/nguoi")
def people_page(request: Request, v: Seen, paging: Paging) -> Response:
    from .subscriptions import cluster_choices, plan_choices, visible

    cursor, limit = paging
    with store.read_session(request.app.state.engine) as session, cursor_checked():
        found = queries.people_page(session, v.scope, None, cursor, limit)
        people = found.items
        feeds, clusters = visible(session, v), cluster_choices(session, v)
        plans = plan_choices(session, v)
        units, many_units = queries.unit_choices(
            session, v.scope, limit=request.app.state.max_unit_choices
        )
    return page(
        request,
        "people.html",
        {
            "title": "Người và lịch",
            "people": people,
            "total": found.total,
            **_links(request, found.next),
            "feeds": feeds,
            "role_names": ROLE_NAMES,
            "units": units,
            "many_units": many_units,
            "clusters": clusters,
            "plans": plans,
            "contact_channels": contact_channels(),
            "feeds_help": has_template("feeds_help.html"),
        },
    )


@router.post("/nguoi/{person_id}/uu-tien")
def prefer_channel(
    request: Request,
    v: Seen,
    person_id: int,
    channel: Annotated[str, Form(pattern="^[a-z]{1,20}$")],
) -> Response:
    """Make `channel` the first one a person in the viewer's units is reached through: their
    reminders, escalations and digests go there while it works (store.people.prefer)."""
    from kehoach.channels import label
    from kehoach.store.people import PersonNotFound, person_view, prefer

    with store.write_session(request.app.state.engine) as session:
        try:
            person = person_view(session, person_id)
        except PersonNotFound:
            person = None
        if person is None or person.unit_id not in v.scope:
            raise NotFound("Không có người này trong các đơn vị bạn được xem.")
        prefer(session, person_id, channel)
    request.session["flash"] = f"Từ nay nhắc {person.name} qua {label(channel)} trước."
    return RedirectResponse("/nguoi", 303)


@router.get("/buoc/{step_id:path}")
def step_page(request: Request, v: Seen, step_id: str) -> Response:
    view = read_step(request.app.state.engine, v, step_id, request.app.state.now())
    return page(
        request,
        "step.html",
        {
            "title": view.row.title,
            "row": view.row,
            "trail": view.trail,
            "status": view.line.status,
            "deadline": view.line.deadline,
            "clusters": view.line.clusters,
            "allowed": [a.value for a in view.allowed],
            "action_names": ACTION_NAMES,
            "event_names": EVENT_NAMES,
            "state_names": STATE_NAMES,
            "channel_names": CHANNEL_NAMES,
        },
    )


@router.post("/buoc/{step_id:path}")
def step_action(
    request: Request,
    v: Seen,
    step_id: str,
    action: Annotated[BoardAction, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    day: date | None = None
    if action == BoardAction.GRANT and until.strip():
        try:
            day = parse_day(until.strip())
        except PlanError as exc:
            raise Invalid(
                f"Ngày gia hạn «{until}» không hợp lệ ({exc.message}); ví dụ 05/06/2024."
            ) from None
    message = perform(
        request.app.state.engine,
        v,
        step_id,
        action,
        request.app.state.now(),
        note=note.strip(),
        reason=reason.strip(),
        until=day,
    )
    request.session["flash"] = message
    return RedirectResponse(request.url_for("step_page", step_id=step_id).path, 303)
