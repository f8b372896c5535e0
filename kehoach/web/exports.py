"""Exports of every list: CSV (UTF-8 with a BOM, so Excel shows Vietnamese), XLSX (openpyxl)
and a print view for meetings: /xuat/{list}.csv, /xuat/{list}.xlsx, /in/{list}, with the
same query parameters as the list's page. The files stream: rows are read from the database
as they are written out, so a million-row export holds a batch of rows, never all of them."""

# No `from __future__ import annotations`: the routes below are made in a loop, and FastAPI
# must see their Annotated[…, Depends(builder)] as objects, not as strings naming a local.
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from itertools import chain, islice
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .cells import csv_cells, csv_line, joined
from .render import page
from .tables import TABLES, Table

router = APIRouter(tags=["xuất"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_cell(sheet: Any, value: object) -> object:
    """A value for an XLSX row: text is always a string cell (openpyxl would make `=…` a live
    formula); numbers and dates are the code's own and stay typed."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    return cell


def csv_chunks(table: Table, batch: int = 1000) -> Iterator[bytes]:
    """The CSV file in pieces of `batch` rows, read as they are written (constant memory)."""
    lines = table.csv_lines() if table.csv_lines else map(csv_line, csv_cells(table.rows()))
    for i, piece in enumerate(chain([csv_line(table.header)], joined(lines, batch))):
        yield ("\ufeff" + piece if i == 0 else piece).encode("utf-8")


#: Column widths by header (write-only sheets are written before the widths could be measured).
WIDTHS = {
    "Việc": 50,
    "Kế hoạch": 40,
    "Đơn vị": 30,
    "Cụm": 30,
    "Tình trạng": 28,
    "Mã bước": 60,
    "Tên": 28,
    "Thư": 28,
}


def xlsx_chunks(table: Table, size: int = 1 << 16) -> Iterator[bytes]:
    """The workbook, made with openpyxl's write-only mode (rows go to a temporary file as
    they are read, not into memory), then sent from that file in pieces."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.title[:31])
    for i, name in enumerate(table.header, 1):
        sheet.column_dimensions[get_column_letter(i)].width = WIDTHS.get(name, len(name) + 4)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_styled(sheet, h, font=bold) for h in table.header])
    for row in table.rows():
        sheet.append(
            [
                _styled(sheet, v, number_format="DD/MM/YYYY")
                if isinstance(v, date)
                else _xlsx_cell(sheet, v)
                for v in row
            ]
        )
    with tempfile.TemporaryFile() as out:
        book.save(out)
        out.seek(0)
        while piece := out.read(size):
            yield piece


def _styled(sheet: Any, value: Any, **style: Any) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    for name, v in style.items():
        setattr(cell, name, v)
    return cell


def _download(body: Iterator[bytes], media: str, table: Table, ext: str) -> Response:
    name = f"{table.slug}-{table.at:%Y-%m-%d}.{ext}"
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''{quote(name)}"
        },
    )


#: The print view is for a meeting: at most this many rows (the exports have them all).
PRINT_MAX = 2000


def _routes(slug: str, builder: Callable[..., Any]) -> None:
    def as_csv(table: Annotated[Table, Depends(builder)]) -> Response:
        return _download(csv_chunks(table), "text/csv; charset=utf-8", table, "csv")

    def as_xlsx(table: Annotated[Table, Depends(builder)]) -> Response:
        return _download(xlsx_chunks(table), XLSX, table, "xlsx")

    def printed(request: Request, table: Annotated[Table, Depends(builder)]) -> Response:
        rows = list(islice(table.rows(), PRINT_MAX + 1))
        return page(
            request,
            "print.html",
            {
                "title": table.title,
                "table": table,
                "rows": rows[:PRINT_MAX],
                "more": len(rows) > PRINT_MAX,
            },
        )

    router.add_api_route(
        f"/xuat/{slug}.csv",
        as_csv,
        methods=["GET"],
        summary=f"Xuất CSV: {slug}",
        response_class=Response,
    )
    router.add_api_route(
        f"/xuat/{slug}.xlsx",
        as_xlsx,
        methods=["GET"],
        summary=f"Xuất XLSX: {slug}",
        response_class=Response,
    )
    router.add_api_route(
        f"/in/{slug}",
        printed,
        methods=["GET"],
        include_in_schema=False,
        response_class=HTMLResponse,
    )


for _slug, _builder in TABLES.items():
    _routes(_slug, _builder)
