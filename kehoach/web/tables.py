"""Every list of the board as a plain table (title, header, rows), for the CSV and XLSX
exports and the print view: one builder per list, each a FastAPI dependency taking the same
parameters as its page, so an export is exactly what the page shows.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from engine import vi
from kehoach import store
from kehoach.store.people import ROLE_NAMES, list_people
from workflows.lifecycle import VN

from . import queries
from .auth import Viewer, viewer
from .params import Id, days, filters, upcoming_filters
from .queries import Counts, Filters, StepLine

Cell = str | int | date | None


@dataclass(frozen=True)
class Table:
    slug: str  # file name stem
    title: str
    header: list[str]
    rows: list[list[Cell]]
    at: datetime  # when it was made (UTC)

    @property
    def local_at(self) -> str:
        return f"{self.at.astimezone(VN):%d/%m/%Y %H:%M}"


STEP_HEADER = ["Hạn", "Giờ", "Việc", "Loại", "Đơn vị", "Cụm", "Kế hoạch", "Tình trạng",
               "Số ngày trễ", "Mã bước"]
COUNT_HEADER = ["Đúng hạn", "Quá hạn", "Xong trễ", "Chưa đến hạn", "Được miễn", "Tổng"]


def step_rows(lines: list[StepLine]) -> list[list[Cell]]:
    kinds: dict[str, str] = {str(k): v for k, v in vi.KINDS.items()}
    return [[s.last_day, vi.clock(s.due_time), s.title, kinds.get(s.kind, s.kind),
             s.unit_name, s.cluster_names, s.plan_title, s.status.label, s.status.days_late,
             s.id] for s in lines]


def count_rows(counts: list[Counts]) -> list[list[Cell]]:
    return [[c.name, c.on_time, c.late, c.done_late, c.upcoming, c.excused, c.total]
            for c in counts]


def overdue_table(request: Request, v: Annotated[Viewer, Depends(viewer)],
                  f: Annotated[Filters, Depends(filters)]) -> Table:
    now = request.app.state.now()
    with store.read_session(request.app.state.engine) as session:
        lines = queries.overdue(session, v.scope, now, f)
    return Table("qua-han", "Các việc quá hạn", STEP_HEADER, step_rows(lines), now)


def upcoming_table(request: Request, v: Annotated[Viewer, Depends(viewer)],
                   f: Annotated[Filters, Depends(upcoming_filters)],
                   n: Annotated[int, Depends(days)]) -> Table:
    now = request.app.state.now()
    with store.read_session(request.app.state.engine) as session:
        lines = queries.upcoming(session, v.scope, now, n, f)
    return Table("sap-den", f"Các việc trong {n} ngày tới", STEP_HEADER, step_rows(lines), now)


def _summary(by: str, title: str, first: str) -> Callable[..., Table]:
    def build(request: Request, v: Annotated[Viewer, Depends(viewer)], plan: Id = None) -> Table:
        now = request.app.state.now()
        with store.read_session(request.app.state.engine) as session:
            counts = queries.summaries(session, v.scope, now, by, plan or None)
        return Table("tong-hop-" + ("don-vi" if by == "unit" else "cum"), title,
                     [first, *COUNT_HEADER], count_rows(counts), now)
    return build


unit_table = _summary("unit", "Tổng hợp theo đơn vị", "Đơn vị")
cluster_table = _summary("cluster", "Tổng hợp theo cụm", "Cụm")


ROLES: dict[str, str] = {str(k): v for k, v in ROLE_NAMES.items()}


def people_table(request: Request, v: Annotated[Viewer, Depends(viewer)],
                 unit: Annotated[str | None, Query(max_length=400)] = None) -> Table:
    with store.read_session(request.app.state.engine) as session:
        people = [p for p in list_people(session, unit or None) if p.unit_id in v.scope]
    rows: list[list[Cell]] = [
        [p.name, p.role or "", p.unit_name or p.unit_id or "",
         ROLES.get(p.board_role, p.board_role), p.telegram, p.email or "",
         p.login or ""] for p in people]
    return Table("nguoi", "Người nhận tin và người dùng", ["Tên", "Chức vụ", "Đơn vị", "Vai trò",
                 "Telegram", "Thư", "Tên đăng nhập"], rows, request.app.state.now())


#: slug → builder, for the export and print routes.
TABLES: dict[str, Callable[..., Any]] = {
    "qua-han": overdue_table, "sap-den": upcoming_table, "tong-hop-don-vi": unit_table,
    "tong-hop-cum": cluster_table, "nguoi": people_table}
