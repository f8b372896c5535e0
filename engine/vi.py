"""How dates, money and kinds read in Vietnamese."""

from __future__ import annotations

import errno
import os
import re
import unicodedata
from datetime import date, time

from .model import Kind

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
KINDS = {
    Kind.EVENT: "Sự kiện",
    Kind.DEADLINE: "Hạn nộp",
    Kind.PHASE: "Đợt/giai đoạn",
    Kind.MILESTONE: "Mốc",
    Kind.CONTRIBUTION: "Đóng góp",
    Kind.TARGET: "Chỉ tiêu",
}


def plain(text: str) -> str:
    """Lower case, without the Vietnamese marks (đ as d): what a person types without them.

    >>> plain("Đoàn Phường Bình Hưng Hòa")
    'doan phuong binh hung hoa'
    """
    s = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def plain_words(text: str) -> list[str]:
    """The words of `plain(text)`, letters and digits only: what names are compared by.

    >>> plain_words("Đoàn  Phường-1")
    ['doan', 'phuong', '1']
    """
    return re.findall(r"[a-z0-9]+", plain(text))


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


#: The operating system's reasons (English strerror) in Vietnamese.
OS_ERRORS = {
    errno.ENOENT: "không có tệp hay thư mục này",
    errno.EACCES: "không có quyền",
    errno.EPERM: "không được phép",
    errno.EISDIR: "đây là một thư mục",
    errno.ENOTDIR: "một phần của đường dẫn không phải thư mục",
    errno.ENOSPC: "hết chỗ trên đĩa",
    errno.EROFS: "ổ đĩa chỉ cho đọc",
    errno.EEXIST: "đã có rồi",
    errno.EADDRINUSE: "cổng đang bị một chương trình khác dùng",
    errno.EADDRNOTAVAIL: "máy này không có địa chỉ đó",
    errno.ECONNREFUSED: "máy bên kia từ chối kết nối",
}
_BY_STRERROR = {os.strerror(code): text for code, text in OS_ERRORS.items()}


def os_reason(exc: OSError | str | None) -> str:
    """Why the system refused, in Vietnamese (the English reason when we do not know it).

    >>> os_reason(FileNotFoundError(2, "No such file or directory"))
    'không có tệp hay thư mục này'
    """
    if isinstance(exc, OSError):
        return OS_ERRORS.get(exc.errno or 0) or exc.strerror or str(exc)
    return _BY_STRERROR.get(exc or "", exc or "không rõ lý do")
