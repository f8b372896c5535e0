"""The JSON API: the board's data and actions for other programs (OpenAPI at /openapi.json).

Auth is the board's session cookie (log in at /dang-nhap); every POST sends the session's
CSRF token in the X-CSRF-Token header, as `GET /api/me` gives it. Errors are
`{"detail": "<Vietnamese message>"}` with a 4xx status (errors.py).

Lists come a page at a time: `{"items": [...], "total": N, "limit": 50, "next": "…"}`; ask
for the next page with the same parameters and `after=<next>` (`limit` up to 500).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kehoach import store

from . import queries
from .acting import BoardAction, perform, read_step
from .auth import Viewer, csrf_token, viewer
from .errors import NotFound
from .params import Id, Paging, cursor_checked, days, filters, upcoming_filters
from .queries import Counts, Filters, StepLine

router = APIRouter(prefix="/api", tags=["api"])
Seen = Annotated[Viewer, Depends(viewer)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterOut(BaseModel):
    id: str
    name: str


class StepOut(BaseModel):
    id: str
    title: str
    obligation: str
    kind: str
    plan_id: str
    plan_title: str
    unit_id: str
    unit_name: str
    clusters: list[ClusterOut]
    due_date: date = Field(description="Ngày hạn theo kế hoạch (giờ Việt Nam)")
    due_time: time | None
    deadline: datetime = Field(description="Thời điểm quá hạn (UTC), kể cả gia hạn")
    phase: str = Field(description="upcoming, due_soon, due_today, overdue, escalated, done, …")
    status: str = Field(description="Tình trạng bằng tiếng Việt")
    days_late: int
    level: int = Field(description="Mức báo lên cao nhất đã gửi (đã đến người nhận)")
    due_level: int = Field(0, description="Mức báo lên cao nhất đã đến lượt theo lịch")


class TransitionOut(BaseModel):
    at: datetime
    actor: str
    channel: str
    event: str
    from_state: str | None
    to_state: str
    note: str | None


class StepDetail(StepOut):
    state: str
    source_phrase: str | None
    extension_requested_until: datetime | None
    extension_reason: str | None
    allowed_actions: list[str]
    transitions: list[TransitionOut]


class CountsOut(BaseModel):
    key: str
    name: str
    on_time: int
    late: int
    done_late: int
    upcoming: int
    excused: int
    total: int


NEXT = (
    "Con trỏ của trang sau: gửi lại nguyên giá trị này trong tham số `after` (cùng các "
    "tham số lọc và sắp xếp) để lấy trang sau; null ở trang cuối. Phân trang theo khóa "
    "(keyset): thêm bước mới giữa hai lần gọi không làm lặp hay sót dòng."
)


class StepPage(BaseModel):
    items: list[StepOut]
    total: int = Field(description="Số dòng của cả danh sách (mọi trang) với các bộ lọc này")
    limit: int = Field(description="Số dòng tối đa một trang")
    next: str | None = Field(description=NEXT)


class CountsPage(BaseModel):
    items: list[CountsOut]
    total: int = Field(description="Số dòng tổng hợp (mọi trang)")
    limit: int
    next: str | None = Field(description=NEXT)


class PersonOut(BaseModel):
    id: int
    name: str
    unit_id: str | None
    unit_name: str | None
    board_role: str
    telegram: str  # the Telegram link's state (kept for clients of this field)
    #: Channel (kehoach/channels.py) → "đã liên kết" / "mất liên kết", in the order tried.
    contacts: dict[str, str]


class PeoplePage(BaseModel):
    items: list[PersonOut]
    total: int
    limit: int
    next: str | None = Field(description=NEXT)


class MeOut(BaseModel):
    id: int
    name: str
    login: str
    board_role: str
    unit_id: str | None
    units: list[str]
    csrf_token: str


class DoneIn(Strict):
    note: str | None = Field(None, max_length=2000)


class GrantIn(Strict):
    until: date | None = Field(None, description="Hạn mới; để trống: ngày đơn vị xin")
    note: str | None = Field(None, max_length=2000)


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class ActionOut(BaseModel):
    step_id: str
    message: str


def _out(s: StepLine) -> StepOut:
    return StepOut(
        id=s.id,
        title=s.title,
        obligation=s.obligation,
        kind=s.kind,
        plan_id=s.plan_id,
        plan_title=s.plan_title,
        unit_id=s.unit_id,
        unit_name=s.unit_name,
        clusters=[ClusterOut(id=i, name=n) for i, n in s.clusters],
        due_date=s.due_date,
        due_time=s.due_time,
        deadline=s.deadline,
        phase=s.status.phase.value,
        status=s.status.label,
        days_late=s.status.days_late,
        level=s.status.sent_level,
        due_level=s.status.level,
    )


def _counts(c: Counts) -> CountsOut:
    return CountsOut(
        key=c.key,
        name=c.name,
        on_time=c.on_time,
        late=c.late,
        done_late=c.done_late,
        upcoming=c.upcoming,
        excused=c.excused,
        total=c.total,
    )


@router.get("/me", summary="Người đang đăng nhập, các đơn vị được xem, mã CSRF")
def me(request: Request, v: Seen) -> MeOut:
    return MeOut(
        id=v.id,
        name=v.name,
        login=v.login,
        board_role=v.board_role,
        unit_id=v.unit_id,
        units=sorted(v.scope),
        csrf_token=csrf_token(request),
    )


def _steps(
    request: Request, v: Viewer, which: queries.StepList, f: Filters, paging: tuple[str | None, int]
) -> StepPage:
    cursor, limit = paging
    with store.read_session(request.app.state.engine) as session, cursor_checked():
        found = queries.step_page(
            session, v.scope, request.app.state.now(), which, f, cursor, limit
        )
    return StepPage(
        items=[_out(s) for s in found.items], total=found.total, limit=limit, next=found.next
    )


@router.get("/overdue", summary="Việc quá hạn (từng trang; `next` là con trỏ trang sau)")
def overdue(
    request: Request, v: Seen, f: Annotated[Filters, Depends(filters)], paging: Paging
) -> StepPage:
    return _steps(request, v, queries.OVERDUE, f, paging)


@router.get("/upcoming", summary="Việc sắp đến hạn (từng trang; `next` là con trỏ trang sau)")
def upcoming(
    request: Request,
    v: Seen,
    f: Annotated[Filters, Depends(upcoming_filters)],
    n: Annotated[int, Depends(days)],
    paging: Paging,
) -> StepPage:
    return _steps(request, v, queries.StepList(False, n), f, paging)


@router.get(
    "/summary/{by}",
    summary="Tổng hợp theo đơn vị (units) hay theo cụm (clusters), "
    "nhiều việc quá hạn nhất trước (từng trang)",
)
def summary(request: Request, v: Seen, by: str, paging: Paging, plan: Id = None) -> CountsPage:
    kind = {"units": "unit", "clusters": "cluster"}.get(by)
    if kind is None:
        raise NotFound("Chỉ có /api/summary/units và /api/summary/clusters.")
    cursor, limit = paging
    with store.read_session(request.app.state.engine) as session, cursor_checked():
        found = queries.summary_page(
            session, v.scope, request.app.state.now(), kind, plan or None, cursor, limit
        )
    return CountsPage(
        items=[_counts(c) for c in found.items], total=found.total, limit=limit, next=found.next
    )


@router.get("/people", summary="Người trong các đơn vị được xem, và liên kết Telegram (từng trang)")
def people(
    request: Request,
    v: Seen,
    paging: Paging,
    unit: Annotated[str | None, Query(max_length=400)] = None,
) -> PeoplePage:
    cursor, limit = paging
    with store.read_session(request.app.state.engine) as session, cursor_checked():
        found = queries.people_page(session, v.scope, unit or None, cursor, limit)
    return PeoplePage(
        items=[
            PersonOut(
                id=p.id,
                name=p.name,
                unit_id=p.unit_id,
                unit_name=p.unit_name,
                board_role=p.board_role,
                telegram=p.state("telegram"),
                contacts={c.channel: c.state for c in p.contacts},
            )
            for p in found.items
        ],
        total=found.total,
        limit=limit,
        next=found.next,
    )


@router.get("/steps/{step_id:path}", summary="Một bước, với lịch sử thay đổi")
def step(request: Request, v: Seen, step_id: str) -> StepDetail:
    view = read_step(request.app.state.engine, v, step_id, request.app.state.now())
    row = view.row
    return StepDetail(
        **_out(view.line).model_dump(),
        state=row.state,
        source_phrase=(row.source or {}).get("phrase"),
        extension_requested_until=row.extension_requested_until,
        extension_reason=row.extension_reason,
        allowed_actions=[a.value for a in view.allowed],
        transitions=[
            TransitionOut(
                at=r.at,
                actor=r.actor,
                channel=r.channel,
                event=r.event,
                from_state=r.from_state,
                to_state=r.to_state,
                note=r.note,
            )
            for r in view.trail
        ],
    )


def _act(
    request: Request, v: Viewer, step_id: str, action: BoardAction, **fields: object
) -> ActionOut:
    engine, now = request.app.state.engine, request.app.state.now()
    # each route types its own action's fields; `perform` takes them by name
    message = perform(engine, v, step_id, action, now, **fields)  # type: ignore[arg-type]
    return ActionOut(step_id=step_id, message=message)


@router.post("/steps/{step_id:path}/done", summary="Đánh dấu hoàn thành")
def done(request: Request, v: Seen, step_id: str, body: DoneIn | None = None) -> ActionOut:
    return _act(request, v, step_id, BoardAction.DONE, note=(body.note if body else None))


@router.post("/steps/{step_id:path}/grant", summary="Cho gia hạn theo đề nghị đang chờ")
def grant(request: Request, v: Seen, step_id: str, body: GrantIn | None = None) -> ActionOut:
    body = body or GrantIn(until=None, note=None)
    return _act(request, v, step_id, BoardAction.GRANT, until=body.until, note=body.note)


@router.post("/steps/{step_id:path}/refuse", summary="Từ chối đề nghị gia hạn")
def refuse(request: Request, v: Seen, step_id: str, body: ReasonIn) -> ActionOut:
    return _act(request, v, step_id, BoardAction.REFUSE, reason=body.reason)


@router.post("/steps/{step_id:path}/excuse", summary="Miễn cho đơn vị")
def excuse(request: Request, v: Seen, step_id: str, body: ReasonIn) -> ActionOut:
    return _act(request, v, step_id, BoardAction.EXCUSE, reason=body.reason)
