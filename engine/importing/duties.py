"""What kind of duty a sentence states, and its amounts, quantities and percentages.

>>> kind_of("Báo cáo kết quả thực hiện vào 30/5 và 30/11 hàng năm", "")
'deadline'
>>> money("đóng góp kinh phí tổ chức (500.000 đồng/đơn vị)")
'500.000 đồng'
>>> quantity("Hằng năm, trao 20 suất học bổng cho thiếu nhi")
(20.0, 'suất học bổng')
"""

from __future__ import annotations

import re

_MONEY = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(?:đồng|đ\b|vnđ|vnd)", re.IGNORECASE)
_PERCENT = re.compile(r"(\d{1,3}(?:[.,]\d+)?)\s*%")
_QUANTITY = re.compile(
    r"(?<![\d.,/%])(?<!năm )(?<!tháng )(?<!ngày )(?<!quý )(?<!lớp )(?<!số )(?<!khóa )"
    r"(?<!thứ )(?<!đợt )(?<!kỳ )0*(\d{1,5})\s+((?:[^\W\d_]+\s+){0,3}[^\W\d_]+)"
)
#: Words that end what a quantity counts («10 chương trình bồi dưỡng | cho thiếu nhi»).
_MEASURE_END = re.compile(
    r"\s+(?:cho|tại|về|của|trên|ở|và|với|nhằm|để|trong|gắn|thuộc|được|có)\b.*$"
)
#: Quantities that are not targets: counts of people sent, ages, times, dates' words.
_NOT_MEASURE = re.compile(
    r"^(?:giờ|phút|ngày|tháng|năm|quý|tuần|lần|tuổi|đến|và|người|cán|đoàn|"
    r"khu|trường|đợt|g|h|tiêu|đơn|học)\b",
    re.IGNORECASE,
)
#: Members counted as a target, not as people sent: «kết nạp 150 đoàn viên mới».
_ADMITS = re.compile(r"\b(?:kết nạp|phát triển)\b", re.IGNORECASE)
_KINDS = (
    ("contribution", re.compile(r"\bkinh phí\b.*\d|đóng góp.*\d.*đồng", re.IGNORECASE)),
    ("target", re.compile(r"\bchỉ tiêu\b|\d\s*%|\bphấn đấu\b|\bđến năm \d{4}", re.IGNORECASE)),
    ("phase", re.compile(r"^\W*(?:đợt|giai đoạn)\s+\d|\bchiến dịch\b", re.IGNORECASE)),
    (
        "deadline",
        re.compile(
            r"\b(?:báo cáo|đăng ký|đăng kí|nộp|gửi về|hạn chót|hạn cuối|hạn nộp|thời hạn|chậm nhất|"
            r"trước ngày)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "milestone",
        re.compile(
            r"\b(?:xây dựng kế hoạch|ban hành|tổng kết|sơ kết|kiểm tra|rà soát|"
            r"công nhận|(?<!chương )trình)\b",
            re.IGNORECASE,
        ),
    ),
)
#: Section titles that say what their duties are.
_SECTION_KINDS = (
    ("target", re.compile(r"chỉ tiêu|mục tiêu cụ thể", re.IGNORECASE)),
    ("milestone", re.compile(r"tiến độ|lộ trình", re.IGNORECASE)),
)


_REPORTS = re.compile(r"^\W*(?:báo cáo|đăng ký|đăng kí|nộp|gửi)\b", re.IGNORECASE)


def kind_of(sentence: str, section: str) -> str:
    """event, deadline, phase, milestone, contribution or target (the plan format's kinds).
    A duty that opens with a report's verb is a deadline, whatever it reports on («Báo cáo kết
    quả Chiến dịch Mùa hè xanh»)."""
    if money(sentence):
        return "contribution"
    if _REPORTS.match(sentence):
        return "deadline"
    for kind, pattern in _SECTION_KINDS:
        if pattern.search(section) and (kind != "target" or target_measure(sentence)):
            return kind
    for kind, pattern in _KINDS:
        if pattern.search(sentence) and (kind != "target" or target_measure(sentence)):
            return kind
    return "event"


def money(sentence: str) -> str | None:
    m = _MONEY.search(sentence)
    return f"{m.group(1)} đồng" if m else None


def amounts(sentence: str) -> list[tuple[list[str], str]]:
    """«(A: 4.500.000 đồng; B, C: 3.500.000 đồng)» → [([A], "4.500.000 đồng"), ([B, C], …)]."""
    out = []
    for part in re.split(r";", sentence):
        m = re.search(r"([^():;]+):\s*(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(?:đồng|đ\b)", part)
        if m:
            names = [n.strip(" ,") for n in re.split(r",\s*(?=[A-ZĐÂĂÊÔƠƯ])", m.group(1))]
            out.append(([n for n in names if n], f"{m.group(2)} đồng"))
    return out if len(out) > 1 else []


def percent(sentence: str) -> float | None:
    m = _PERCENT.search(sentence)
    return float(m.group(1).replace(",", ".")) if m else None


def quantity(sentence: str) -> tuple[float, str] | None:
    for m in _QUANTITY.finditer(sentence):
        admitted = _ADMITS.search(sentence) and m.group(2).lower().startswith("đoàn viên")
        if (_NOT_MEASURE.match(m.group(2)) and not admitted) or sentence[
            m.end(1) : m.end(1) + 2
        ].strip().startswith("%"):
            continue
        measure = _MEASURE_END.sub("", " " + m.group(2)).strip()
        if measure:
            return float(m.group(1)), measure
    return None


def target_measure(sentence: str) -> bool:
    """Whether a target can be counted: a percentage or a number of something."""
    return percent(sentence) is not None or quantity(sentence) is not None


def title_of(sentence: str, limit: int = 110) -> str:
    """A readable title: the sentence without its bullet, cut at a word."""
    s = re.sub(r"^[\s\-–+•*·]*(?:\d+[.)/]\s*)?", "", sentence).strip(" .;:")
    s = s[:1].upper() + s[1:]
    if len(s) <= limit:
        return s or "Nghĩa vụ"
    return s[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
