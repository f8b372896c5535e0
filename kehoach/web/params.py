"""Query parameters shared by the pages, the exports and the API.

Numbers come from HTML forms, where an emptied field is sent as `min_days=`: they are read
as digit strings (empty = the default), so that case is not an error, and anything else that
is not a whole number is a 422 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import Depends, Query

from .errors import Invalid
from .queries import BadCursor, Filters

Sort = Literal["days", "due", "unit", "cluster", "plan", "title"]
Group = Literal["", "unit", "cluster"]
Id = Annotated[str | None, Query(max_length=400, description="Mã (để trống: tất cả)")]
#: How far ahead the upcoming list looks: by default, and at the most (days).
DEFAULT_DAYS, MAX_DAYS = 14, 366


def _int(text: str, default: int) -> int:
    return int(text) if text else default


def _chosen(value: str | None) -> str | None:
    """A filter's value; empty or only spaces (a text field left blank) means all."""
    return (value or "").strip() or None


def filters(
    plan: Id = None,
    unit: Id = None,
    cluster: Id = None,
    min_days: Annotated[
        str, Query(pattern=r"^\d{0,5}$", description="Trễ ít nhất bấy nhiêu ngày")
    ] = "",
    sort: Annotated[Sort, Query(description="Sắp xếp theo")] = "days",
    desc: Annotated[bool, Query(description="Thứ tự ngược lại")] = False,
) -> Filters:
    """The list filters; an empty choice means all."""
    return Filters(_chosen(plan), _chosen(unit), _chosen(cluster), _int(min_days, 0), sort, desc)


def upcoming_filters(
    plan: Id = None,
    unit: Id = None,
    cluster: Id = None,
    sort: Annotated[Sort, Query(description="Sắp xếp theo")] = "due",
    desc: Annotated[bool, Query(description="Thứ tự ngược lại")] = False,
) -> Filters:
    return Filters(_chosen(plan), _chosen(unit), _chosen(cluster), 0, sort, desc)


def days(
    days: Annotated[
        str,
        Query(
            pattern=r"^\d{0,3}$", description=f"Số ngày tới (1–{MAX_DAYS}, mặc định {DEFAULT_DAYS})"
        ),
    ] = "",
) -> int:
    value = _int(days, DEFAULT_DAYS)
    if not 1 <= value <= MAX_DAYS:
        raise Invalid(
            f"Yêu cầu không hợp lệ: tham số «days» phải từ 1 đến {MAX_DAYS} (đã nhập «{days}»)."
        )
    return value


#: A page's rows: by default, and at the most.
DEFAULT_LIMIT, MAX_LIMIT = 50, 500


def paging(
    after: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Con trỏ trang sau: giá trị `next` của trang trước (để trống: trang đầu)",
        ),
    ] = None,
    limit: Annotated[
        str,
        Query(
            pattern=r"^\d{0,4}$",
            description=f"Số dòng một trang (1–{MAX_LIMIT}, mặc định {DEFAULT_LIMIT})",
        ),
    ] = "",
) -> tuple[str | None, int]:
    """The keyset paging parameters: the cursor to start after, and the page size."""
    value = _int(limit, DEFAULT_LIMIT)
    if not 1 <= value <= MAX_LIMIT:
        raise Invalid(
            f"Yêu cầu không hợp lệ: tham số «limit» phải từ 1 đến {MAX_LIMIT} (đã nhập «{limit}»)."
        )
    return after or None, value


@contextmanager
def cursor_checked() -> Iterator[None]:
    """A cursor that is not one of this list's (edited, or from another sort) is a 422."""
    try:
        yield
    except BadCursor:
        raise Invalid(
            "Yêu cầu không hợp lệ: tham số «after» không phải con trỏ trang của "
            "danh sách này với cách sắp xếp này; hãy mở lại trang đầu."
        ) from None


Paging = Annotated[tuple[str | None, int], Depends(paging)]
