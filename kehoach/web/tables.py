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
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from engine import vi
from engine.model import ZONE as VN
from kehoach import store
from kehoach.channels import contact_channels
from kehoach.store.people import ROLE_NAMES
from workflows.lifecycle import StepStatus

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
    rows: Callable[[], Iterator[list[Cell]]]  # reads the rows when called
    at: datetime  # when it was made (UTC)

    @property
    def local_at(self) -> str:
        return f"{self.at.astimezone(VN):%d/%m/%Y %H:%M}"


STEP_HEADER = [
    "Hạn",
    "Giờ",
    "Việc",
    "Loại",
    "Đơn vị",
    "Cụm",
    "Kế hoạch",
    "Tình trạng",
    "Số ngày trễ",
    "Mã bước",
]
COUNT_HEADER = ["Đúng hạn", "Quá hạn", "Xong trễ", "Chưa đến hạn", "Được miễn", "Tổng"]


def step_rows(lines: Iterable[StepLine]) -> Iterator[list[Cell]]:
    """The export's cells of each line. Lines of one occurrence share their deadline, clock
    time, clusters and status: each distinct one is formatted once (dicts of a few thousand
    entries at most, emptied past `MEMO`)."""
    kinds: dict[str, str] = {str(k): v for k, v in vi.KINDS.items()}
    days: dict[datetime, date] = {}
    clocks: dict[Any, str] = {}
    names: dict[tuple[tuple[str, str], ...], str] = {}
    # by the status object's id: the entry holds the object, so its id is not reused meanwhile
    labels: dict[int, tuple[StepStatus, str, int]] = {}
    for s in lines:
        if len(days) > MEMO or len(labels) > MEMO:
            days.clear()
            labels.clear()
        day = days.get(s.deadline)
        if day is None:
            day = days[s.deadline] = s.last_day
        clock = "" if s.due_time is None else clocks.get(s.due_time)
        if clock is None:
            clock = clocks[s.due_time] = vi.clock(s.due_time)
        cluster = names.get(s.clusters)
        if cluster is None:
            cluster = names[s.clusters] = s.cluster_names
        said = labels.get(id(s.status))
        if said is None:
            said = labels[id(s.status)] = (s.status, s.status.label, s.status.days_late)
        yield [
            day,
            clock,
            s.title,
            kinds.get(s.kind, s.kind),
            s.unit_name,
            cluster,
            s.plan_title,
            said[1],
            said[2],
            s.id,
        ]


#: At most this many entries in each of step_rows' memos.
MEMO = 50_000


def count_rows(counts: Iterable[Counts]) -> Iterator[list[Cell]]:
    for c in counts:
        yield [c.name, c.on_time, c.late, c.done_late, c.upcoming, c.excused, c.total]


def _steps(
    request: Request, v: Viewer, which: queries.StepList, f: Filters, now: datetime
) -> Callable[[], Iterator[list[Cell]]]:
    engine = request.app.state.engine

    def rows() -> Iterator[list[Cell]]:
        with store.read_session(engine) as session:
            yield from step_rows(queries.stream_lines(session, v.scope, now, which, f))

    return rows


def overdue_table(
    request: Request, v: Annotated[Viewer, Depends(viewer)], f: Annotated[Filters, Depends(filters)]
) -> Table:
    now = request.app.state.now()
    return Table(
        "qua-han", "Các việc quá hạn", STEP_HEADER, _steps(request, v, queries.OVERDUE, f, now), now
    )


def upcoming_table(
    request: Request,
    v: Annotated[Viewer, Depends(viewer)],
    f: Annotated[Filters, Depends(upcoming_filters)],
    n: Annotated[int, Depends(days)],
) -> Table:
    now = request.app.state.now()
    return Table(
        "sap-den",
        f"Các việc trong {n} ngày tới",
        STEP_HEADER,
        _steps(request, v, queries.StepList(False, n), f, now),
        now,
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
