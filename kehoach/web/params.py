"""Query parameters shared by the pages, the exports and the API.

Numbers come from HTML forms, where an emptied field is sent as `min_days=`: they are read
as digit strings (empty = the default), so that case is not an error, and anything else that
is not a whole number is a 422 naming the parameter.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from .errors import Invalid
from .queries import Filters

Sort = Literal["days", "due", "unit", "cluster", "plan", "title"]
Group = Literal["", "unit", "cluster"]
Id = Annotated[str | None, Query(max_length=400, description="Mã (để trống: tất cả)")]
MAX_DAYS = 366


def _int(text: str, default: int) -> int:
    return int(text) if text else default


def filters(plan: Id = None, unit: Id = None, cluster: Id = None,
            min_days: Annotated[str, Query(pattern=r"^\d{0,5}$",
                                           description="Trễ ít nhất bấy nhiêu ngày")] = "",
            sort: Annotated[Sort, Query(description="Sắp xếp theo")] = "days",
            desc: Annotated[bool, Query(description="Thứ tự ngược lại")] = False) -> Filters:
    """The list filters; an empty choice means all."""
    return Filters(plan or None, unit or None, cluster or None, _int(min_days, 0), sort, desc)


def upcoming_filters(plan: Id = None, unit: Id = None, cluster: Id = None,
                     sort: Annotated[Sort, Query(description="Sắp xếp theo")] = "due",
                     desc: Annotated[bool, Query(description="Thứ tự ngược lại")] = False
                     ) -> Filters:
    return Filters(plan or None, unit or None, cluster or None, 0, sort, desc)


def days(days: Annotated[str, Query(pattern=r"^\d{0,3}$",
                                    description=f"Số ngày tới (1–{MAX_DAYS}, mặc định 14)")]
         = "") -> int:
    value = _int(days, 14)
    if not 1 <= value <= MAX_DAYS:
        raise Invalid(f"Yêu cầu không hợp lệ: tham số «days» phải từ 1 đến {MAX_DAYS} "
                      f"(đã nhập «{days}»).")
    return value
