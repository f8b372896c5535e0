"""Find the `when:` phrases in a sentence of a plan, using the plan grammar itself.

A phrase starts at an *anchor* (a date, a month, a quarter, a year, «hằng năm», a weekday, a
season, a clock time) and grows word by word while every word is still a word of the grammar
(`engine.phrases.readable`); it is kept only if `parse_when` understands it. What looks like
a date but is not understood comes back as a `Doubt`, never dropped.

>>> [f.phrase for f in find_when("+ Đăng ký hoạt động tổ chức vào ngày 30/01 và 30/8 hàng năm.")]
['vào ngày 30/01 và 30/8 hàng năm']
>>> [f.phrase for f in find_when("Tổ chức tại công viên 30/4 lúc 7g30 ngày 19.5.2022")]
['lúc 7g30 ngày 19.5.2022']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from engine.errors import PlanError
from engine.phrases import Schedule, normalize, parse_when, readable
from engine.rules import Fixed

#: Where a date is part of a name or of a reference to another document, not a date of the plan.
_MASKS = re.compile(
    r"""\bsố\s*:?\s*\d[^;,]{0,60}?,?\s*\bngày\s+\d{1,2}(?:\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}
          |\s+tháng\s+\d{1,2}(?:\s*,?\s*năm\s+\d{4})?)(?:\s+của\s[^,;]*?\s(?:về|v/v)\s[^,;]*)?
      | \b(?:công\s+viên|cv|quảng\s+trường|đường|phố|cầu|chợ|bến|hẻm|ngã\s+tư|khu\s+phố|
          nhà\s+văn\s+hóa|trường|quốc\s+khánh|chiến\s+thắng|giải\s+phóng|đại\s+thắng|
          kỷ\s+niệm|lễ|tết|hội\s+trại|hội\s+thao|ngày\s+hội|giải(?:\s+thưởng)?|cúp|chào\s+mừng|mừng)
          \s+(?:ngày\s+)?\d{1,2}\s*[/.]\s*\d{1,2}(?!\d|\s*[/.]\s*\d)
      | \bnhiệm\s+kỳ\s+\d{4}\s*-\s*\d{4} | \blần\s+thứ\s+\S+ | \bkhóa\s+[ivxl]+\b
      | \bđến\s+năm\s+20[0-9]{2}\.\.""",
    re.VERBOSE,
)
#: More masks, each tried only when one of its words is in the line (most lines have none):
#: anniversary ranges «(26/3/1931 - 26/3/2021)», «kỷ niệm … (1963-2023)»; a page's stamps («Ngày
#: đăng», «Ngày cập nhật»); statistics «tính đến»; laws «Luật … năm 2014»; a cited plan's subject
#: («số … về việc …»); days off («nghỉ bù»); fractions «2/3 ủy viên»; classes, rooms and house
#: numbers «lớp 9/2», «phòng 2/1»; «24/7»; a letterhead's place and date line.
_MORE_MASKS = tuple(
    (words, re.compile(p, re.VERBOSE))
    for words, p in (
        (
            ("-", "–"),
            r"""\(?\s*0?(\d{1,2})\s*[/.-]\s*0?(\d{1,2})\s*[/.-]\s*\d{4}
                     \s*[-–]\s*0?\1\s*[/.-]\s*0?\2\s*[/.-]?\s*\d{4,6}\s*\)?""",
        ),
        (("kỷ niệm",), r"\bkỷ\s+niệm[^()]{0,150}?\(\s*\d{4}\s*[-–]\s*\d{4}\s*\)"),
        (
            ("đăng", "cập nhật", "lượt xem", "ban hành", "hiệu lực"),
            (
                r"\b(?:ngày\s+đăng|đăng\s+ngày|ngày\s+cập\s+nhật|cập\s+nhật(?:\s+ngày)?|lượt\s+xem|ngày\s+ban\s+hành"
                r"|(?:có\s+)?hiệu\s+lực(?:\s+thi\s+hành)?(?:\s+(?:kể\s+)?từ)?(?:\s+ngày)?)\b[\s:\d/.,-]*"
            ),
        ),
        (("tính",), r"\btính\s+(?:đến|tới|từ)\b[^,;]*"),
        (
            ("tức", "nhằm"),
            r"""\(\s*(?:tức|nhằm)[^()]*?
         (?:âm\s+lịch|năm\s+(?:giáp|ất|bính|đinh|mậu|kỷ|canh|tân|nhâm|quý)\s+\w+)
         [^()]*\)""",
        ),  # a solar date's lunar gloss «(tức ngày 15/3 năm Ất Tỵ)»
        (
            ("luật", "pháp lệnh", "hiến pháp"),
            r"""\b(?:luật|bộ\s+luật|pháp\s+lệnh|hiến\s+pháp)\s[^;,.]{0,80}?(?:\bnăm\s+\d{4}
         |\bngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}|\bngày\s+\d{1,2}\s*/\s*\d{1,2}\s*/\s*\d{4})""",
        ),
        (
            ("về", "v/v"),
            r"""\bsố\s*:?\s*\d[\w/.-]*\s+(?:ngày\s+\S+\s+)?(?:của\s+[^,;]{0,80}?\s+)?
                       (?:về|v/v)\s[^,;]*""",
        ),
        (("nghỉ",), r"\b(?:được\s+)?nghỉ\b[^.;]*"),
        (
            ("/",),
            r"""\b\d\s*/\s*\d{1,2}\s+(?:số\s+|tổng\s+số\s+)?
         (?:ủy\s+viên|uỷ\s+viên|thành\s+viên|đại\s+biểu|đoàn\s+viên|
         hội\s+viên|đảng\s+viên|học\s+sinh|sinh\s+viên|cán\s+bộ|người|lớp|chi\s+đoàn|đơn\s+vị|xã|
         phường|tiêu\s+chí|phiếu|số)\b
      | \b(?:lớp|chi\s+đội|chi\s+đoàn|phòng|khối|tổ|số\s+nhà|số|nhà|kiệt|hẻm|ngõ|ngách)
         \s+\d{1,4}\s*/\s*\d{1,4}(?!\s*/\s*\d)\b
      | \b24\s*/\s*7\b(?!\s*/\s*\d)
      | \b(?:tỷ\s+lệ|tỉ\s+lệ|khoảng|gần|hơn|trên|dưới|chiếm|bằng|đạt|trang)
         \s+\d{1,3}\s*/\s*\d{1,3}(?![\d/])""",
        ),
        (
            ("khóa", "khoá"),
            r"\bkho[áa]\s+[ivxl]+\s*,?\s*\(?\s*(?:nhiệm\s+kỳ\s+)?\d{4}\s*[-–]\s*\d{4}\s*\)?",
        ),
        (
            ("tháng",),
            r"^\W*[^\W\d_][^,|]{1,40},\s*ngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}\W*$",
        ),
    )
)
#: A clock time: «08g00», «8h», «7 giờ 30».
_CLOCK = r"\d{1,2}\s*(?:giờ|g|h)\s*\d{0,2}(?![\w/])"
#: A named day and its date: «Ngày Nhà giáo Việt Nam 20/11», «ngày thành lập Đoàn 26/3» (case
#: counts).
_NAMED_DAY = re.compile(
    r"\b[Nn]gày\s+(?:(?:thành lập|truyền thống|quốc tế|thế giới)\s+"
    r"|(?!Thứ\b|Chủ\b)[A-ZĐ]\w*\s+)"
    r"(?:[^\W\d_]+\s+){0,5}?\d{1,2}\s*/\s*\d{1,2}(?!\d|\s*/\s*\d)"
    r"|\b[Nn]gày\s+(?!Thứ\b|Chủ\b)[A-ZĐ][^()\d]{1,60}\(\s*\d{1,2}\s*/\s*\d{1,2}\s*\)"
)
_ANCHOR = re.compile(
    r"""(?<![\d.,/])\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{4}(?!\d)
      | (?<![\d.,/])\d{1,2}\s*/\s*\d{1,2}(?![\d/])
      | (?:(?<=ngày\s)|(?<=sáng\s)|(?<=chiều\s)|(?<=tối\s)|(?<=trưa\s)|(?<=từ\s)|(?<=đến\s)
         |(?<=hết\s)|(?<=và\s)|(?<=,\s)|(?<=trước\s)|(?<=\(\s)|(?<=\()|(?<=tới\s))
         \d{1,2}\s*[-.]\s*\d{1,2}(?![\d/-]|\.\d|\s*-\s*\d)
      | \b(?:năm|quý|tháng|tuần)\s+(?:họp|sinh\s+hoạt|tổ\s+chức|kiểm\s+tra|giao\s+ban|đánh\s+giá)
         \s+(?:một|0?\d)\s+lần\b
      | \b\d{1,2}\s+lần\s*/\s*(?:năm|quý|tháng|tuần)\b
      | \b\d{1,3}\s+(?:năm|quý|tháng|tuần)\s*/\s*lần\b
      | \bthường\s+niên\b
      | \bngày\s+\d{1,2}\s+(?:của\s+)?tháng\s+(?:cuối|đầu)\s+(?:mỗi\s+|hằng\s+|các\s+|của\s+)?quý\b
      | \b(?:mùng|mồng)\s+\d{1,2}\b | \brằm\b | \btháng\s+(?:giêng|chạp)\b
      | \b\d{1,2}\s+tháng\s+\d{1,2}(?!\d)
      | \bngày\s+\d{1,2}\s+tháng\s+\d{1,2} | \bngày\s+\d{1,2}(?!\d|\s*[/-]\s*\d|\.\d|\s*tháng)
      | \btháng\s+\d{1,2}(?!\d) | \bquý\s+(?:iv|i{1,3}|[1-4])\b
      | \bnăm\s+(?:19|20)\d{2}\b | \b(?:19|20)\d{2}\s*-\s*(?:19|20)\d{2}\b
      | \b(?:hằng|hàng|mỗi|từng)\s+(?:năm|quý|tháng|tuần|ngày)\b
      | \bgiai\s+đoạn\s+\d\b | \b(?:mỗi|các|từng)\s+giai\s+đoạn\b
      | \bđịnh\s+kỳ\s+\d+\s+(?:năm|quý|tháng|tuần)\b | \bnửa\s+năm\b
      | (?:\bthứ\s+(?:[2-7]|hai|ba|tư|năm|sáu|bảy)|\bchủ\s+nhật)\s+(?:(?:của\s+)?tuần\s+
         (?:đầu\s+tiên|đầu|thứ\s+nhất|thứ\s+hai|thứ\s+ba|thứ\s+tư|cuối\s+cùng|cuối|[1-4])\s+(?:của|trong)|đầu|cuối)
         \s+(?:mỗi\s+|hằng\s+|các\s+)?tháng\b
      | \bthứ\s+(?:[2-7]|hai|ba|tư|năm|sáu|bảy)\b | \bchủ\s+nhật\b
      | \b(?:dịp|mùa|kỳ\s+nghỉ)\s+hè\b | \btháng\s+(?:thanh\s+niên|nhân\s+đạo)\b
      | (?<![\d.,/])"""
    + _CLOCK,
    re.VERBOSE,
)
#: «24, 25/7»: several days or a range? Asked, not guessed («24-25/7/2022» is a range).
_DAY_RANGE = re.compile(r"(?<![\d/])(?<!tháng )\d{1,2}\s*(?:,|và)\s*\d{1,2}\s*/\s*\d{1,2}")
_REPORT_YEAR = re.compile(r"\s+của\s+(?:năm\s+liền\s+kề\s+)?năm\s+báo\s+cáo\b", re.IGNORECASE)
_NO_YEAR_DAY = re.compile(r"(?<![\d/.])(\d{1,2})\s*/\s*(\d{1,2})(?![\d/])")
_NO_YEAR_MONTH = re.compile(
    r"\b(tháng\s+\d{1,2})(?!\s*[/.-]?\s*\d)(?!\s*(?:,\s*)?năm)", re.IGNORECASE
)
_EDGE_WORDS = {
    "tổ",
    "chức",
    "thực",
    "hiện",
    "hoàn",
    "thành",
    "và",
    "các",
    "buổi",
    "khoảng",
    "của",
    "hạn",
    "chót",
    "thời",
    "gian",
    "trong",
    "vào",
    "lúc",
    "dịp",
    "ngày",
    "định",
    "kỳ",
}
_LEAD_ONLY = {"hè", "xuân", "tết"}  # «hè trước ngày 30/8»: a season's word before a date
_KEEP_FIRST = {"vào", "từ", "trong", "đến", "ngày", "định", "lúc", "dịp"}
_WEEKDAY = re.compile(
    r"\b(?:thứ\s+(?:[2-7]|hai|ba|tư|năm|sáu|bảy)|chủ\s+nhật)\b\s*,?\s*", re.IGNORECASE
)
_DATED = re.compile(r"\d{1,2}\s*[/.-]\s*\d{1,2}|ngày\s+\d{1,2}\s+tháng")
_WEEKDAYS = {
    "hai": 1,
    "ba": 2,
    "tư": 3,
    "năm": 4,
    "sáu": 5,
    "bảy": 6,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
_CLOCK_SPAN = re.compile(
    rf"(?:từ\s+)?({_CLOCK})\s*(?:đến|tới|-|–)\s*({_CLOCK})(?:\s+(sáng|chiều|tối))?", re.IGNORECASE
)
_STAGE = re.compile(r"(?:cuối\s+)?(?:mỗi|các|từng)\s+giai\s+đoạn", re.IGNORECASE)
_STAGE_N = re.compile(r"giai\s+đoạn\s+(\d)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Found:
    """A `when:` phrase as written (or completed, then `flags` say how), and what it means."""

    phrase: str
    schedule: Schedule
    start: int
    end: int
    flags: tuple[str, ...] = ()
    written: str = ""  # the words of the text it was read from («hằng năm, quý, tháng»)


@dataclass(frozen=True, slots=True)
class Doubt:
    """Something that looks like a date but was not understood, and why."""

    text: str
    reason: str


@dataclass
class Context:
    """What the surrounding text says: the plan's single year, the section's year, stages."""

    single_year: int | None = None
    year: int | None = None
    stages: dict[str, tuple[int, int]] = field(default_factory=dict)
    end: str | None = None  # the plan's last day as a phrase («ngày 31/08/2026», «Đến năm 2028»)


@lru_cache(maxsize=8192)
def lower_masked(text: str, fill: str = " ") -> str:
    """Lower case with names and references blanked out, keeping every offset."""
    low = _MASKS.sub(lambda m: fill * len(m.group()), text.lower())
    for words, mask in _MORE_MASKS:
        if any(w in low for w in words):
            low = mask.sub(lambda m: fill * len(m.group()), low)
    for m in _NAMED_DAY.finditer(text):  # «Ngày Nhà giáo Việt Nam 20/11»: a day's name, not a date
        low = low[: m.start()] + fill * (m.end() - m.start()) + low[m.end() :]
    return low


def has_day(text: str) -> bool:
    """Whether the text names a day of its own (not of what it cites or celebrates)."""
    return _DAYISH.search(lower_masked(text)) is not None


#: What any anchor needs: a digit or one of its words (most lines of a plan have none).
_MAYBE = re.compile(
    r"\d|hằng|hàng|mỗi|từng|giai\s+đoạn|nửa|thứ|chủ\s+nhật|hè|thanh\s+niên|nhân\s+đạo|mùng|mồng|"
    r"rằm|giêng|chạp|niên|lần|tết",
    re.IGNORECASE,
)


def has_anchor(text: str) -> bool:
    return _MAYBE.search(text) is not None and _ANCHOR.search(lower_masked(text)) is not None


def find_when(
    text: str, ctx: Context | None = None, doubts: list[Doubt] | None = None
) -> list[Found]:
    """Every `when:` phrase in `text` (one line or sentence), in order of appearance."""
    ctx = ctx or Context()
    if _MAYBE.search(text) is None:
        return []
    low = lower_masked(text)
    masked = lower_masked(text, "§")
    counted = list(_COUNTED.finditer(low))  # «trong vòng 5 ngày làm việc kể từ ngày …»: read whole
    celebrated = list(_CELEBRATED.finditer(text.lower()))  # «kỷ niệm 26/3, 15/10 và 22/12»
    for m in counted + celebrated:
        low = low[: m.start()] + " " * (m.end() - m.start()) + low[m.end() :]
        masked = masked[: m.start()] + "§" * (m.end() - m.start()) + masked[m.end() :]
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    spans: list[tuple[int, int]] = []
    for m in _ANCHOR.finditer(low):
        i = next(k for k, (a, b) in enumerate(words) if b > m.start())
        j = next(k for k, (a, b) in enumerate(words) if b >= m.end())
        if spans and i <= spans[-1][1]:
            continue
        i, j = _grow(masked, words, i, j)
        if spans and i <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(j, spans[-1][1]))
        else:
            spans.append((i, j))
    out: list[Found] = []
    local: list[Doubt] = []
    spans = [_trim(text, words, i, j) for i, j in spans]
    for i, j in spans:
        a, b = words[i][0], words[j][1]
        tail = _REPORT_YEAR.match(text, b)  # «trước ngày 10/07 của năm báo cáo»: every year
        b = tail.end() if tail else b
        phrase = text[a:b].strip(" ,;:.–-(")
        a = text.index(phrase, a) if phrase else a
        if _DAY_RANGE.search(phrase) and not re.search(
            r"(?:hai|02|2)\s+ngày\s*$", text[:a], re.IGNORECASE
        ):
            _doubt(
                local,
                phrase,
                "khoảng ngày hay từng ngày? hãy ghi rõ «từ ngày … đến ngày …» "
                "hoặc «ngày … và ngày …»",
            )
            continue
        out += _understand(phrase, a, ctx, local)
    if local and len(spans) > 1 and not any("khoảng ngày" in d.reason for d in local):
        # «Hằng năm, … tổ chức … vào dịp Hè»: the parts may say together what neither says alone
        parts = [text[words[i][0] : words[j][1]].strip(" ,;:.–-(") for i, j in spans]
        joined = ", ".join(parts)
        try:
            a, b = words[spans[0][0]][0], words[spans[-1][1]][1]
            return [
                Found(
                    joined, _parse(joined, ctx), a, b, ("ghép từ nhiều chỗ trong câu",), text[a:b]
                )
            ]
        except PlanError:
            pass
    out = _without_names(out, text)
    out = sorted(
        out + _counted(text, counted, ctx, local) + _days_celebrated(celebrated, ctx),
        key=lambda f: f.start,
    )
    out = _with_period(out, ctx)
    if _OTHER_CALENDAR.search(text) and out:  # «ngày 1 tháng 7 theo lịch Chăm»
        local += [
            Doubt(
                f.written or f.phrase,
                "ngày theo lịch khác (không phải dương lịch hay âm lịch): hãy ghi ngày dương lịch",
            )
            for f in out
        ]
        out = []
    if doubts is not None:
        doubts += local
    return [_lunar_yearly(f, ctx) for f in out]


#: A bare period that names something rather than dating a duty: «Tháng Thanh niên năm 2016»,
#: «đợt 7 năm 2017», «năm học 2024-2025», «Sinh hoạt Chi đoàn tháng 10», «báo cáo quý I».
_PERIOD_ONLY = re.compile(
    r"(?:(?:đợt\s+\d+|năm\s+học|giai\s+đoạn|tháng\s+thanh\s+niên)\s+)?"
    r"(?:năm\s+)?(?:(?:19|20)\d{2}(?:\s*[-–]\s*(?:19|20)\d{2})?"
    r"|tháng\s+\d{1,2}(?:\s*[/.-]\s*\d{4}|\s+năm\s+\d{4})?"
    r"|quý\s+(?:iv|i{1,3}|[1-4])(?:\s*[/.-]\s*\d{4}|\s+năm\s+\d{4})?)\W*",
    re.IGNORECASE,
)
_OTHER_CALENDAR = re.compile(r"\btheo\s+lịch\s+(?!âm\b|dương\b)\w+", re.IGNORECASE)


_AMOUNT = r"\d{1,3}\s+(?:ngày\s+làm\s+việc|ngày|tuần)"
#: A deadline counted from an anchor: «chậm nhất 30 ngày sau khi kết thúc quý», «trước Tết
#: Nguyên đán 2 tuần».
_COUNTED = re.compile(
    rf"(?:(?:trong\s+(?:vòng|thời\s+hạn)|chậm\s+nhất(?:\s+là)?|không\s+quá|sau)\s+)*{_AMOUNT}"
    r"\s*,?\s*(?:kể\s+từ|tính\s+từ|sau|trước)\s+(?:khi\s+)?(?:ngày\s+)?[^,;.()]{2,60}?"
    r"(?=\s*(?:[,;.()]|$|\s(?:các|mỗi|từng|phải|để|gửi|nộp|báo)\b))"
    rf"|(?:chậm\s+nhất\s+)?trước\s+tết(?:\s+nguyên\s+đán)?(?:\s+\d{{4}})?\s+{_AMOUNT}"
)


#: Several days celebrated together: days of named occasions, held every year.
_CELEBRATED = re.compile(
    r"\b(?:kỷ\s+niệm|chào\s+mừng|mừng)\s+(?:các\s+ngày\s+(?:lễ\s+)?(?:lớn\s+)?)?"
    r"(\d{1,2}\s*/\s*\d{1,2}(?:\s*(?:[-–,;]|và)\s*\d{1,2}\s*/\s*\d{1,2})+)(?![\d/])"
    # «tổ chức vào dịp Quốc khánh 2/9»: the activity is held on the occasion
    r"|\b(?:vào|nhân|trong)\s+dịp\s+(?!hè\b)[^\d,;.()]{2,40}?\s*\(?(\d{1,2}\s*/\s*\d{1,2})\)?(?![\d/])"
)


def _days_celebrated(spans: list[re.Match[str]], ctx: Context) -> list[Found]:
    """«kỷ niệm 26/3, 15/10 và 22/12»: those days in the plan's year, or every year in a plan of
    several years; flagged (the activities may fall around them)."""
    out = []
    for m in spans:
        group = 1 if m.group(1) else 2
        days = re.findall(r"\d{1,2}\s*/\s*\d{1,2}", m.group(group))
        phrase = "ngày " + ", ".join(days) + ("" if ctx.single_year else " hằng năm")
        try:
            out.append(
                Found(
                    phrase,
                    _parse(phrase, ctx),
                    m.start(group),
                    m.end(group),
                    ("ngày kỷ niệm, ngày lễ: hoạt động có thể diễn ra quanh ngày đó",),
                    m.group(group),
                )
            )
        except PlanError:
            continue
    return out


_BARE_RECUR = re.compile(
    r"(?:định\s+kỳ\s+)?(?:hằng|hàng|mỗi|từng)\s+(năm|quý|tháng|tuần)", re.IGNORECASE
)


def _with_period(found: list[Found], ctx: Context) -> list[Found]:
    """«Mỗi năm tổ chức 02 đợt hiến máu vào tháng 1 và tháng 7»: a bare «mỗi năm» and the
    months the sentence gives elsewhere say one yearly rule together."""
    recur = [f for f in found if _BARE_RECUR.fullmatch((f.written or f.phrase).strip())]
    if len(recur) != 1 or len(found) < 2:
        return found
    others = [f for f in found if f is not recur[0]]
    if any(re.search(r"\b(?:19|20)\d{2}\b", f.written or f.phrase) for f in others):
        return found
    phrase = (
        " và ".join((f.written or f.phrase).strip() for f in others) + " " + recur[0].phrase.strip()
    )
    try:
        schedule = _parse(phrase, ctx)
    except PlanError:  # «ngày 06 của tháng cuối quý đối với báo cáo định kỳ hằng quý»: said twice
        return (
            others
            if any(_precise(f) and not isinstance(f.schedule.rule, Fixed) for f in others)
            else found
        )
    first = min(found, key=lambda f: f.start)
    return [
        Found(
            phrase,
            schedule,
            first.start,
            max(f.end for f in found),
            ("ghép từ nhiều chỗ trong câu",),
            phrase,
        )
    ]


FROM_ACTIVITY = "hạn tính từ một việc khác"
#: The activity a counted deadline names: «… kể từ ngày kết thúc | hội nghị».
ACTIVITY = re.compile(
    r"(?:kể\s+từ|tính\s+từ|sau|trước)\s+(?:khi\s+)?(?:ngày\s+)?(?:(?:kết\s+thúc|hoàn\s+thành|tổ\s+chức)\s+)?"
    r"(?:các\s+|buổi\s+)?(.+)$",
    re.IGNORECASE,
)


def _counted(
    text: str, spans: list[re.Match[str]], ctx: Context, doubts: list[Doubt]
) -> list[Found]:
    """The counted deadlines of a sentence; one counted from an activity the grammar cannot name
    («kể từ ngày kết thúc hội nghị») is asked about."""
    out = []
    for m in spans:
        if re.search(
            r"\b(?:hơn|trên|dưới|ít\s+nhất|tối\s+thiểu|đủ)\s*$", text[: m.start()], re.IGNORECASE
        ):
            continue  # «lớn hơn 07 ngày kể từ lần tiêm cuối»: a condition, not a deadline
        phrase = text[m.start() : m.end()].strip(" .,;:")
        try:
            schedule = parse_when(phrase, default_year=ctx.single_year or ctx.year)
        except PlanError as exc:
            _doubt(
                doubts,
                phrase,
                exc.message
                if "mốc" not in exc.message
                else f"{FROM_ACTIVITY}: hãy ghi «… kể từ ngày kết thúc nghĩa vụ <mã>» "
                "với mã của nghĩa vụ đó, hoặc ghi một ngày",
            )
            continue
        out.append(Found(phrase, schedule, m.start(), m.end(), ("hạn tính từ một mốc",), phrase))
    return out


def _precise(f: Found) -> bool:
    """A phrase that names days («Sáng 2/3/2016», «ngày 15 hằng tháng»), not a whole period."""
    return _DAYISH.search(f.written or f.phrase) is not None


_DAYISH = re.compile(
    r"(?<!\d)\d{1,2}\s*[/.-]\s*\d{1,2}(?!\d)|\bngày\s+\d|\b(?:mùng|mồng|rằm)\b", re.IGNORECASE
)


def _without_names(found: list[Found], text: str) -> list[Found]:
    """Beside a phrase naming a day, a bare year, month or quarter is part of a name or of what
    is reported on («Lễ khởi động Tháng Thanh niên năm 2016» «Sáng 2/3/2016»), not a second date."""
    found = [_without_leading_period(f) for f in found]
    if len(found) < 2 or not any(_precise(f) for f in found):
        return found
    return [
        f
        for f in found
        if _precise(f) or not _PERIOD_ONLY.fullmatch((f.written or f.phrase).strip())
    ]


_LEADING_PERIOD = re.compile(
    r"(?:quý\s+(?:iv|i{1,3}|[1-4])|năm\s+\d{4}|tháng\s+\d{1,2}|(?:0?6|sáu)\s+tháng\s+(?:đầu|cuối)\s+năm)\s+"
    r"(?=(?:trước|vào|trong|đến|chậm\s+nhất|hạn|ngày|lúc)\b)",
    re.IGNORECASE,
)


def _without_leading_period(f: Found) -> Found:
    """«(báo cáo) quý I trước ngày 25/3»: the quarter is what is reported on, the date is when."""
    m = _LEADING_PERIOD.match(f.phrase)
    if m is None or not isinstance(f.schedule.rule, Fixed) or f.flags:
        return f
    rest = f.phrase[m.end() :]
    try:
        schedule = parse_when(rest, default_year=f.schedule.rule.items[-1][1].year)
    except PlanError:
        return f
    return Found(rest, schedule, f.start + m.end(), f.end, f.flags, rest)


def _lunar_yearly(f: Found, ctx: Context) -> Found:
    """A lunar date without a year or «hằng năm» is a yearly feast («Lễ hội … (ngày 16 tháng 3
    ÂL)»): read as every year, and flagged."""
    low = normalize(f.phrase)
    if "âm lịch" not in low or re.search(r"\b(?:19|20)\d{2}\b|hằng|mỗi|định kỳ", low):
        return f
    try:
        new = f"{f.phrase} hằng năm"
        return Found(
            new,
            _parse(new, ctx),
            f.start,
            f.end,
            (*f.flags, "âm lịch không ghi năm: đã hiểu là hằng năm"),
            f.written or f.phrase,
        )
    except PlanError:
        return f


def _grow(text: str, words: list[tuple[int, int]], i: int, j: int) -> tuple[int, int]:
    def ok(i2: int, j2: int) -> bool:
        return readable(text[words[i2][0] : words[j2][1]].strip("“”\"'()[]*"))

    if not ok(i, j):  # the anchor word carries something else («(500.000», «2022:»)
        return i, j
    grown = True
    while grown:  # a word may need the next one or two («hàng» of «hàng năm»)
        grown = False
        for step in (1, 2, 3):
            k = i - step
            if k >= 0 and not text[words[k][0] : words[i][0]].rstrip().endswith(".") and ok(k, j):
                i, grown = k, True
                break
        for step in (1, 2, 3):
            k = j + step
            if k < len(words) and "." not in text[words[j][1] - 1 : words[k][0]] and ok(i, k):
                j, grown = k, True
                break
    return i, j


def _trim(text: str, words: list[tuple[int, int]], i: int, j: int) -> tuple[int, int]:
    def word(k: int) -> str:
        return text[words[k][0] : words[k][1]].strip(",;:.()–-").lower()

    while i < j and (word(i) in (_EDGE_WORDS | _LEAD_ONLY) - _KEEP_FIRST or not word(i)):
        i += 1
    while j > i and (word(j) in _EDGE_WORDS or not word(j)):
        j -= 1
    return i, j


def _doubt(doubts: list[Doubt] | None, text: str, reason: str) -> None:
    if doubts is not None:
        doubts.append(Doubt(text, reason))


def _parse(phrase: str, ctx: Context) -> Schedule:
    return parse_when(phrase, default_year=ctx.single_year)


def _understand(phrase: str, at: int, ctx: Context, doubts: list[Doubt] | None) -> list[Found]:
    flags: tuple[str, ...] = ("dự kiến",) if "dự kiến" in phrase.lower() else ()
    try:
        return [Found(phrase, _parse(phrase, ctx), at, at + len(phrase), flags, phrase)]
    except PlanError as exc:
        error = exc.message
    fixed = _complete(phrase, error, ctx)
    if fixed is not None:
        new, why = fixed
        try:
            found = Found(new, _parse(new, ctx), at, at + len(phrase), (*flags, why), phrase)
            wrong = _wrong_weekday(phrase, found.schedule)
            if wrong:
                _doubt(doubts, phrase, wrong)
                return []
            return [found]
        except PlanError as again:
            error = again.message
    if "nhiều chu kỳ" in error:  # «hằng năm, quý, tháng»: one obligation per period
        tail = re.search(r"(?:hằng|hàng)\s+(.*)", phrase.lower())
        parts = re.findall(r"(?:năm|quý|tháng|tuần|ngày)\b", tail.group(1) if tail else "")
        per_period = [
            Found(
                f"hằng {p}",
                _parse(f"hằng {p}", ctx),
                at,
                at + len(phrase),
                (*flags, "tách chu kỳ"),
                phrase,
            )
            for p in dict.fromkeys(parts)
        ]
        if per_period:
            return per_period
    pieces = [p.strip(" ,;:.") for p in re.split(r"\s+và\s+|[,;]\s*", phrase) if p.strip(" ,;:.")]
    if len(pieces) > 1:
        out: list[Found] = []
        for piece in pieces:
            if has_anchor(piece) or _STAGE.search(piece):
                out += _understand(piece, at + phrase.find(piece), ctx, doubts)
        if out:
            return out
    _doubt(doubts, phrase, error)
    return []


def _wrong_weekday(phrase: str, schedule: Schedule) -> str | None:
    """«Chủ nhật ngày 17/3/2025» when 17/3/2025 is a Monday: which one is wrong is not guessed."""
    m = _WEEKDAY.search(phrase)
    items: tuple[tuple[object, object], ...] = getattr(schedule.rule, "items", ())
    due = items[0][1] if m and len(items) == 1 else None
    if m is None or not isinstance(due, date):
        return None
    said = m.group().lower().split()
    day = 7 if said[0] == "chủ" else _WEEKDAYS.get(said[1].strip(","), 0)
    if due.isoweekday() != day:
        return (
            f"thứ không khớp với ngày ({due:%d/%m/%Y} là {_NAMES[due.isoweekday()]}); hãy kiểm tra"
        )
    return None


_NAMES = {
    1: "thứ Hai",
    2: "thứ Ba",
    3: "thứ Tư",
    4: "thứ Năm",
    5: "thứ Sáu",
    6: "thứ Bảy",
    7: "Chủ nhật",
}


def _complete(phrase: str, error: str, ctx: Context) -> tuple[str, str] | None:
    """A phrase the grammar refused for want of what the text said elsewhere: the section's
    year («ngày 15/3» after «năm 2022»), or the stages the plan defined («cuối mỗi giai đoạn»)."""
    span = _CLOCK_SPAN.search(phrase)
    if "nhiều giờ" in error and span:  # «từ 7g30 đến 11g00 ngày 15/3»: an event from its start
        new = (
            phrase[: span.start()]
            + span.group(1)
            + (f" {span.group(3)}" if span.group(3) else "")
            + phrase[span.end() :]
        )
        return re.sub(
            r"\s{2,}", " ", new
        ).strip(), f"giữ giờ bắt đầu, đến {span.group(2)} không ghi"
    clocks = list(re.finditer(rf"(?<![\d/.]){_CLOCK}", phrase, re.IGNORECASE))
    if "nhiều giờ" in error and len(clocks) > 1:  # «từ 14h00 ngày 24/7 đến 11h00 ngày 25/7»
        new = phrase
        for later in reversed(clocks[1:]):
            new = new[: later.start()] + new[later.end() :]
        return re.sub(r"\s{2,}", " ", new).strip(), "giữ giờ bắt đầu, giờ kết thúc không ghi"
    if "thứ trong tuần cần đi kèm" in error and _DATED.search(phrase):
        # «Chủ nhật, ngày 16/3/2025»: the date says it all; the weekday is checked by the caller
        new = re.sub(r"\(\s*\)", "", _WEEKDAY.sub("", phrase)).strip(" ,")  # «… (Chủ nhật)»
        return re.sub(r"\s{2,}", " ", new), "bỏ thứ trong tuần, giữ ngày"
    if "thiếu năm" in error and ctx.year:
        new = _NO_YEAR_DAY.sub(lambda m: f"{m.group(1)}/{m.group(2)}/{ctx.year}", phrase)
        new = _NO_YEAR_MONTH.sub(lambda m: f"{m.group(1)} năm {ctx.year}", new)
        return new, f"năm {ctx.year} lấy từ ngữ cảnh"
    if "giai đoạn" in error and ctx.stages:
        m = _STAGE.search(phrase)
        if m:
            ends = " và ".join(f"cuối năm {b}" for _, b in sorted(ctx.stages.values()))
            return phrase[: m.start()] + ends + phrase[m.end() :], "các giai đoạn lấy từ kế hoạch"
        n = _STAGE_N.search(phrase)
        if n and n.group(1) in ctx.stages:
            a, b = ctx.stages[n.group(1)]
            return f"{phrase} (từ năm {a} - {b})", f"giai đoạn {n.group(1)} lấy từ kế hoạch"
    return None
