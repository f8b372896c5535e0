"""Exports of every list: CSV (UTF-8 with a BOM, so Excel shows Vietnamese), XLSX (openpyxl)
and a print view for meetings: /xuat/{list}.csv, /xuat/{list}.xlsx, /in/{list}, with the
same query parameters as the list's page."""
# No `from __future__ import annotations`: the routes below are made in a loop, and FastAPI
# must see their Annotated[…, Depends(builder)] as objects, not as strings naming a local.
import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .render import page
from .tables import TABLES, Table

router = APIRouter(tags=["xuất"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return "" if value is None else str(value)


#: What a spreadsheet may read as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_safe(text: str) -> str:
    """A text cell starting like a formula gets a leading ' (OWASP: shown as text, never run).

    >>> _formula_safe("=1+1+cmd|' /C calc'!A0")
    "'=1+1+cmd|' /C calc'!A0"
    """
    return "'" + text if text.startswith(FORMULA_START) else text


def _xlsx_cell(sheet: Any, value: object) -> object:
    """A value for an XLSX row: text is always a string cell (openpyxl would make `=…` a live
    formula); numbers and dates are the code's own and stay typed."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    return cell


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_formula_safe(v) if isinstance(v, str) else _cell(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = table.title[:31]
    sheet.append(table.header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    widths = [len(h) for h in table.header]
    for row in table.rows:
        widths = [max(w, len(_cell(v))) for w, v in zip(widths, row, strict=True)]
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = min(60, width + 2)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
            if isinstance(cell.value, date):
                cell.number_format = "DD/MM/YYYY"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _download(body: bytes, media: str, table: Table, ext: str) -> Response:
    name = f"{table.slug}-{table.at:%Y-%m-%d}.{ext}"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"})


def _routes(slug: str, builder: Callable[..., Any]) -> None:
    def as_csv(table: Annotated[Table, Depends(builder)]) -> Response:
        return _download(to_csv(table), "text/csv; charset=utf-8", table, "csv")

    def as_xlsx(table: Annotated[Table, Depends(builder)]) -> Response:
        return _download(to_xlsx(table), XLSX, table, "xlsx")

    def printed(request: Request, table: Annotated[Table, Depends(builder)]) -> Response:
        return page(request, "print.html", {"title": table.title, "table": table})

    router.add_api_route(f"/xuat/{slug}.csv", as_csv, methods=["GET"],
                         summary=f"Xuất CSV: {slug}", response_class=Response)
    router.add_api_route(f"/xuat/{slug}.xlsx", as_xlsx, methods=["GET"],
                         summary=f"Xuất XLSX: {slug}", response_class=Response)
    router.add_api_route(f"/in/{slug}", printed, methods=["GET"], include_in_schema=False,
                         response_class=HTMLResponse)


for _slug, _builder in TABLES.items():
    _routes(_slug, _builder)
