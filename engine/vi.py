"""How dates, money and kinds read in Vietnamese."""
from __future__ import annotations

from datetime import date, time

from .model import Kind

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
KINDS = {
    Kind.EVENT: "Sự kiện", Kind.DEADLINE: "Hạn nộp", Kind.PHASE: "Đợt/giai đoạn",
    Kind.MILESTONE: "Mốc", Kind.CONTRIBUTION: "Đóng góp", Kind.TARGET: "Chỉ tiêu",
}


def day(d: date) -> str:
    """The date as Vietnamese offices write it.

    >>> day(date(2025, 5, 30))
    'Thứ Sáu, 30/05/2025'
    """
    return f"{WEEKDAYS[d.weekday()]}, {d:%d/%m/%Y}"


def clock(t: time | None) -> str:
    return f"{t:%H}g{t:%M}" if t else ""


def money(amount: int) -> str:
    """Đồng with dots grouping thousands.

    >>> money(6000000)
    '6.000.000 đồng'
    """
    return f"{amount:,}".replace(",", ".") + " đồng"
