"""Every list of the board as a plain table (title, header, rows), for the CSV and XLSX
exports and the print view: one builder per list, each a FastAPI dependency taking the same
parameters as its page, so an export is exactly what the page shows (every page of it).

The rows are not read when the table is built: `table.rows()` opens its own read session and
yields them as the database gives them, so an export of a million rows streams in constant
memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from engine.model import ZONE as VN
from kehoach import store
from kehoach.channels import contact_channels
from kehoach.store.people import ROLE_NAMES

from . import queries
from .auth import Viewer, viewer
from .cells import STEP_HEADER, Cell, csv_step_lines, step_rows
from .params import Id, days, filters, upcoming_filters
from .queries import Counts, Filters


@dataclass(frozen=True)
class Table:
    slug: str  # file name stem
    title: str
    header: list[str]
    rows: Callable[[], Iterator[list[Cell]]]  # reads the rows when called
    at: datetime  # when it was made (UTC)
    #: the rows as CSV lines, when the table has a faster way to make them than
    #: `cells.csv_line` over `cells.csv_cells(rows())` (the same text)
    csv_lines: Callable[[], Iterator[str]] | None = None

    @property
    def local_at(self) -> str:
        return f"{self.at.astimezone(VN):%d/%m/%Y %H:%M}"


COUNT_HEADER = ["Đúng hạn", "Quá hạn", "Xong trễ", "Chưa đến hạn", "Được miễn", "Tổng"]


def count_rows(counts: Iterable[Counts]) -> Iterator[list[Cell]]:
    for c in counts:
        yield [c.name, c.on_time, c.late, c.done_late, c.upcoming, c.excused, c.total]


def _steps(
    request: Request,
    slug: str,
    title: str,
    v: Viewer,
    which: queries.StepList,
    f: Filters,
) -> Table:
    engine, now = request.app.state.engine, request.app.state.now()

    def rows() -> Iterator[list[Cell]]:
        with store.read_session(engine) as session:
            yield from step_rows(queries.stream_lines(session, v.scope, now, which, f))

    def csv_lines() -> Iterator[str]:
        with store.read_session(engine) as session:
            yield from csv_step_lines(queries.stream_lines(session, v.scope, now, which, f))

    return Table(slug, title, STEP_HEADER, rows, now, csv_lines)


def overdue_table(
    request: Request, v: Annotated[Viewer, Depends(viewer)], f: Annotated[Filters, Depends(filters)]
) -> Table:
    return _steps(request, "qua-han", "Các việc quá hạn", v, queries.OVERDUE, f)


def upcoming_table(
    request: Request,
    v: Annotated[Viewer, Depends(viewer)],
    f: Annotated[Filters, Depends(upcoming_filters)],
    n: Annotated[int, Depends(days)],
) -> Table:
    return _steps(
        request, "sap-den", f"Các việc trong {n} ngày tới", v, queries.StepList(False, n), f
    )


def _summary(by: str, title: str, first: str) -> Callable[..., Table]:
    def build(request: Request, v: Annotated[Viewer, Depends(viewer)], plan: Id = None) -> Table:
        now, engine = request.app.state.now(), request.app.state.engine

        def rows() -> Iterator[list[Cell]]:
            with store.read_session(engine) as session:
                yield from count_rows(queries.summaries(session, v.scope, now, by, plan or None))

        return Table(
            "tong-hop-" + ("don-vi" if by == "unit" else "cum"),
            title,
            [first, *COUNT_HEADER],
            rows,
            now,
        )

    return build


unit_table = _summary("unit", "Tổng hợp theo đơn vị", "Đơn vị")
cluster_table = _summary("cluster", "Tổng hợp theo cụm", "Cụm")


ROLES: dict[str, str] = {str(k): v for k, v in ROLE_NAMES.items()}


def people_table(
    request: Request,
    v: Annotated[Viewer, Depends(viewer)],
    unit: Annotated[str | None, Query(max_length=400)] = None,
) -> Table:
    engine = request.app.state.engine

    def rows() -> Iterator[list[Cell]]:
        with store.read_session(engine) as session:
            for p in queries.stream_people(session, v.scope, unit or None):
                yield [
                    p.name,
                    p.role or "",
                    p.unit_name or p.unit_id or "",
                    ROLES.get(p.board_role, p.board_role),
                    *(p.contact_text(c.name) for c in channels),
                    p.login or "",
                ]

    channels = contact_channels()
    return Table(
        "nguoi",
        "Người nhận tin và người dùng",
        ["Tên", "Chức vụ", "Đơn vị", "Vai trò", *(c.label for c in channels), "Tên đăng nhập"],
        rows,
        request.app.state.now(),
    )


#: slug → builder, for the export and print routes.
TABLES: dict[str, Callable[..., Any]] = {
    "qua-han": overdue_table,
    "sap-den": upcoming_table,
    "tong-hop-don-vi": unit_table,
    "tong-hop-cum": cluster_table,
    "nguoi": people_table,
}
