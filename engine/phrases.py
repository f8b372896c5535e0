"""The Vietnamese `when:` grammar: a phrase as the plan writes it → a recurrence rule.

>>> parse_when("vào ngày 30/01 và 30/8 hàng năm").rule
Yearly(items=((None, (1, 30)), (None, (8, 30))), lunar=False, since=None)
>>> parse_when("08g00, ngày 19/5/2022").time
datetime.time(8, 0)
>>> parse_when("định kỳ 6 tháng").rule
Every(n=6, unit='month', anchor='span', since=None)

The phrase is cut into tokens (dates, months, quarters, times, weekdays, "hằng năm", …);
a token the grammar does not know is an error that quotes it, never a guess. «đầu» and
«cuối» bind to what follows them and carry on to the next dates until «đến» or another
«đầu»/«cuối» ("cuối tháng 6 và tháng 12": both month ends).
"""

from __future__ import annotations

import calendar as _cal
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import lru_cache

from .errors import PlanError
from .rules import (
    Daily,
    Every,
    Fixed,
    MonthDay,
    Monthly,
    Quarterly,
    Relative,
    RRule,
    Rule,
    Weekly,
    Yearly,
    expand,
    on_year,
)
from .vi import WEEKDAYS
from .workdays import InvalidLunarDate

HINT = (
    "hãy viết lại theo mẫu (ví dụ «ngày 30/01 và 30/8 hằng năm», «08g00, ngày 19/5/2022», "
    "«định kỳ hằng quý») hoặc dùng dạng có cấu trúc: when: {dates: [2022-05-19]} "
    "hay when: {rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1'}"
)
STAGES = (
    "lịch không biết các giai đoạn của kế hoạch; hãy ghi rõ từng mốc, "
    "ví dụ «cuối năm 2025 và cuối năm 2030»"
)

#: Default clock times for a part of day given without an hour ("chiều thứ 6").
PART_OF_DAY = {"sáng": time(8, 0), "trưa": time(12, 0), "chiều": time(14, 0), "tối": time(19, 0)}
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
WEEKDAY_WORDS = {"hai": 2, "ba": 3, "tư": 4, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7}
#: Campaign months and seasons that plans name instead of dates: (first, last) month-days,
#: day 0 being the month's last day. None: no fixed dates (Xuân follows Tết), refused.
SEASONS: dict[str, tuple[MonthDay, MonthDay] | None] = {
    "tháng thanh niên": ((3, 1), (3, 0)),
    "tháng nhân đạo": ((5, 1), (5, 0)),
    "tháng hành động vì trẻ em": ((6, 1), (6, 0)),
    "hè": ((6, 1), (8, 0)),
    "xuân": None,
}
#: Grammar words that, when they do not form a token, head a name the grammar does not know
#: («Tháng Nhân quyền»): the error quotes the whole name, not the word alone.
_HEADS = ("tháng", "quý", "năm", "tuần", "thứ", "mùa", "nửa")


@dataclass(frozen=True, slots=True)
class Schedule:
    """What a `when:` says: the rule, the clock time if any, and whether it is tentative."""

    rule: Rule
    time: time | None = None
    tentative: bool = False


#: A token: its kind, its own regex groups, its text.
Token = tuple[str, tuple[str | None, ...], str]

_UNIT = r"(?:năm|quý|tháng|tuần|ngày)"
_SEASON_NAMES = "|".join(
    r"\s+".join(map(re.escape, name.split())) for name in sorted(SEASONS, key=len, reverse=True)
)
#: What may follow «tháng» in a season's name, so that «hằng năm và tháng thanh niên» is not
#: read as a list of periods.
_SEASON_TAILS = "|".join(name.split()[1] for name in SEASONS if name.startswith("tháng "))
_TOKEN = re.compile(
    r"""
    (?P<date>(?<!\d)(\d{1,2})\s*([/.-])\s*(\d{1,2})\s*\3\s*(\d{4})(?!\d))
  | (?P<datelong>ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})(?:\s*(?:,\s*)?năm\s+(\d{4}))?)
  | (?P<time>(?<![\d/.])(\d{1,2})\s*(?:g|h|giờ|:)\s*(\d{2})?(?:\s*phút)?(?![\d/]|[^\W\d_]))
  | (?P<daymonth>(?<![\d/.])(\d{1,2})\s*[/.-]\s*(\d{1,2})(?![\d/.-]))
  | (?P<half>(?:0?6\s+tháng|nửa)\s+(đầu|cuối)\s+năm(?:\s+(\d{4}))?)
  | (?P<monthyear>tháng\s+(\d{1,2})\s*(?:[/.-]|,?\s*năm)\s*(\d{4}))
  | (?P<month>tháng\s+(\d{1,2})(?!\d))
  | (?P<season>(?:(?:dịp|mùa|kỳ\s+nghỉ)\s+)?(SEASON_NAMES)(?:\s*,?\s*(?:năm\s+)?(\d{4}))?(?!\d))
  | (?P<quarter>quý\s+(iv|i{1,3}|[1-4])(?:\s*(?:[/.-]|,?\s*năm)\s*(\d{4}))?)
  | (?P<yearrange>(?:năm\s+)?(\d{4})\s*(?:-|đến|tới)\s*(?:năm\s+)?(\d{4}))
  | (?P<year>năm\s+(\d{4}))
  | (?P<stages>(?:mỗi|từng|các)\s+giai\s+đoạn)
  | (?P<recurlist>(?:định\s+kỳ\s+)?(?:hằng|mỗi|từng)\s+UNIT
      (?:\s*(?:,|và|hoặc|/)\s*UNIT(?![^\W\d_])(?!\s*\d)
         (?!\s+(?:iv|i{1,3}|SEASON_TAILS)(?![^\W\d_])))+)
  | (?P<recur>(?:định\s+kỳ\s+)?(?:hằng|mỗi|từng)\s+(năm|quý|tháng|tuần|ngày)(?:\s+(\d+)\s+lần)?
      |định\s+kỳ\s+0?1\s+(năm|quý|tháng|tuần))
  | (?P<every>(?:định\s+kỳ|mỗi|cứ|hằng)\s+(?:\d{1,3}\s+(?:tuần|tháng|quý|năm)|nửa\s+năm)
      (?:\s+(?:một|0?1)\s+lần)?
      |(?:\d{1,3}\s+(?:tuần|tháng|quý|năm)|nửa\s+năm)\s+(?:một|0?1)\s+lần)
  | (?P<onward>(?:và\s+)?(?:các|những)\s+năm\s+(?:tiếp\s+theo|kế\s+tiếp|sau(?:\s+đó)?)
      |trở\s+đi|về\s+sau)
  | (?P<plural>các\s+(quý|tháng|tuần))
  | (?P<weekday>thứ\s+([2-7]|hai|ba|tư|bốn|năm|sáu|bảy)|chủ\s+nhật)
  | (?P<day>(?:ngày\s+|(?<=từ\s))(\d{1,2})(?!\s*[\d/.-]))
  | (?P<part>sáng|trưa|chiều|tối)
  | (?P<bare>(?:(?<=cuối\s)|(?<=đầu\s)|(?<=giữa\s))(quý|tháng|năm|tuần))
  | (?P<edge>cuối|đầu|giữa)
  | (?P<word>từ|đến|tới|âm\s+lịch|trong\s+tuần|(?:ngày\s+)?làm\s+việc)
  | (?P<stage>giai\s+đoạn(?:\s+\d(?!\d))?)
  | (?P<filler>vào|ngày|lúc|và|các|định\s+kỳ|thời\s+gian|hạn\s+chót|hạn|chậm\s+nhất|trước|
      trong|tổ\s+chức|hoàn\s+thành|buổi|khoảng|(?:nhân\s+)?dịp|đợt\s+\d+|thực\s+hiện|của|
      ,|;|:|\(|\)|-|–|\.)
  | (?P<space>\s+)
    """.replace("SEASON_NAMES", _SEASON_NAMES)
    .replace("SEASON_TAILS", _SEASON_TAILS)
    .replace("UNIT", _UNIT),
    re.VERBOSE,
)


_NAMED = sorted((i, name) for name, i in _TOKEN.groupindex.items())
#: For each token kind, the slice of `match.groups()` holding its own inner groups.
_GROUPS = {
    name: (i, (_NAMED[n + 1][0] - 1) if n + 1 < len(_NAMED) else _TOKEN.groups)
    for n, (i, name) in enumerate(_NAMED)
}


#: A part of a month, as days: «tuần đầu tháng 3/2026» = 1–7/3/2026, «hạ tuần tháng 5» = 21–31/5.
_PART_OF_MONTH = re.compile(
    r"\b(?:tuần (?:thứ )?(nhất|hai|ba|tư|[1-4]|đầu(?: tiên)?|cuối(?: cùng)?)|"
    r"(nửa đầu|nửa cuối|thượng tuần|trung tuần|hạ tuần))(?: của)? tháng (\d{1,2})"
    r"(?:\s*/\s*(\d{4})| năm (\d{4}))?"
)
_WEEK_NUMBER = {"nhất": 1, "đầu": 1, "1": 1, "hai": 2, "2": 2, "ba": 3, "3": 3, "tư": 4, "4": 4}
_PART_DAYS = {
    "nửa đầu": (1, 15),
    "nửa cuối": (16, 0),
    "thượng tuần": (1, 10),
    "trung tuần": (11, 20),
    "hạ tuần": (21, 0),
}  # 0: the month's last day


def _days_of_month(m: re.Match[str]) -> str:
    week, part, month, year = m.group(1), m.group(2), int(m.group(3)), m.group(4) or m.group(5)
    if not 1 <= month <= 12:
        return m.group()
    last = _cal.monthrange(int(year) if year else 2001, month)[1]  # no year: 28 days in February
    if week is None:
        first, end = _PART_DAYS[part]
    elif week.startswith("cuối"):
        first, end = last - 6, last
    else:
        first = 7 * _WEEK_NUMBER[week.split()[0]] - 6
        end = first + 6
    y = f"/{year}" if year else ""
    return f"từ ngày {first}/{month}{y} đến ngày {end or last}/{month}{y}"


#: A number said in words after its digits, as legal texts write it: «ngày 15 (mười lăm)».
_SPOKEN = re.compile(
    r"\(\s*(?:(?:một|hai|ba|bốn|tư|năm|lăm|sáu|bảy|tám|chín|mười|mươi|mốt)\s*)+(?:\)|$)"
)
#: «15 tháng 4» without «ngày» is a date unless it is a length («trong 6 tháng 1 lần»).
_DAY_OF_MONTH = re.compile(
    r"(?<![\d/.-])(\d{1,2})\s+tháng\s+(\d{1,2})\b(?!\s*(?:/|một|0?1|\d+)?\s*lần)"
)
_LENGTH_WORDS = (
    "ngày",
    "định kỳ",
    "mỗi",
    "cứ",
    "trong",
    "sau",
    "khoảng",
    "gần",
    "hơn",
    "đủ",
    "được",
    "vòng",
    "mất",
    "dài",
    "thêm",
    "trên",
    "dưới",
    "tối đa",
    "ít nhất",
    "hạn",
    "thứ",
    "tuần",
    "quý",
)
_LUNAR_MONTHS = {"giêng": "1", "chạp": "12"}
_MONTH_WORDS = {
    "hai": 2,
    "ba": 3,
    "tư": 4,
    "năm": 5,
    "sáu": 6,
    "bảy": 7,
    "tám": 8,
    "chín": 9,
    "mười": 10,
    "mười một": 11,
    "mười hai": 12,
}
_MEETS = r"họp|sinh\s+hoạt|tổ\s+chức|kiểm\s+tra|giao\s+ban|đánh\s+giá"


def _day_of_month(m: re.Match[str]) -> str:
    before = m.string[: m.start()].rstrip()
    if before.endswith(_LENGTH_WORDS) or not (
        1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12
    ):
        return m.group()
    return f"ngày {m.group(1)} tháng {m.group(2)}"


def _day_range(m: re.Match[str]) -> str:
    """«17 - 18/12/2024», «ngày 6-8/1»: from the first day to the second, in that month."""
    d1, d2, month, year = m.group(1), m.group(2), m.group(4), m.group(5)
    if int(d1) >= int(d2):
        return m.group()
    tail = f"/{month}" + (f"/{year}" if year else "")
    return f"từ ngày {d1}{tail} đến ngày {d2}{tail}"


def _lunar_words(s: str) -> str:
    """«mùng 10 tháng 3 âm lịch», «Rằm tháng Giêng», «16/3 ÂL»: the grammar's words for them."""
    s = re.sub(r"(?<!\w)âl(?!\w)", "âm lịch", s)
    s = re.sub(r"\b(?:theo|tính\s+theo)\s+(âm\s+lịch)", r"\1", s)
    s = re.sub(r"\b(?:ngày\s+)?(?:mùng|mồng)\s+(?=\d)", "ngày ", s)
    s = re.sub(r"\b(?:ngày\s+)?rằm\b", "ngày 15", s)
    s = re.sub(
        r"\b(ngày\s+\d{1,2}\s+)tháng\s+(mười\s+một|mười\s+hai|mười|hai|ba|tư|năm|sáu|bảy|tám|chín)\b",
        lambda m: m.group(1) + "tháng " + str(_MONTH_WORDS[re.sub(r"\s+", " ", m.group(2))]),
        s,
    )  # «Rằm tháng Bảy»
    if re.search(r"\btháng\s+(?:giêng|chạp)\b", s):
        s = re.sub(r"\btháng\s+(giêng|chạp)\b", lambda m: "tháng " + _LUNAR_MONTHS[m.group(1)], s)
        s = s if "âm lịch" in s else s.rstrip(" .;") + " âm lịch"
    return s


def _dash_ranges(s: str) -> str:
    """Ranges written with a dash, as «từ … đến …»: «17 - 18/12/2024», «6-8/1», «16 - 18 tháng 1»,
    «15/6 - 15/8/2025», «tháng 12/2025 - tháng 01/2026», «tháng 9 - 10/2026»."""
    s = re.sub(
        r"(?:\btừ\s+)?(?:\bngày\s+)?(?<![\d/.-])(\d{1,2})\s*-\s*(\d{1,2})\s*([/.])\s*(\d{1,2})(?!\d)"
        r"(?:\s*\3\s*(\d{4}))?(?![\d/]|\.\d)",
        _day_range,
        s,
    )
    s = re.sub(
        r"(?:\btừ\s+)?(?:\bngày\s+)?(?<![\d/.-])(\d{1,2})\s*-\s*(\d{1,2})\s+tháng\s+(?=\d)",
        r"từ ngày \1 đến ngày \2 tháng ",
        s,
    )
    s = re.sub(
        r"(?:\btừ\s+)?\b((?:ngày\s+)?\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{4})?)\s*-\s*(?=(?:ngày\s+)?\d{1,2}\s*/)",
        r"từ \1 đến ",
        s,
    )
    s = re.sub(
        r"(?:\btừ\s+)?\b(tháng\s+\d{1,2}\s*[/.-]\s*\d{4})\s*-\s*(?=tháng\s+\d)", r"từ \1 đến ", s
    )
    return re.sub(
        r"\b(?:từ\s+)?tháng\s+(\d{1,2})\s*-\s*(\d{1,2})\s*[/.-]\s*(\d{4})\b",
        r"từ tháng \1 đến tháng \2/\3",
        s,
    )


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """NFC, lower case, one spelling of "hằng", plain spaces and dashes; the ranges written
    with «hết» or a dash and the parts of a month («tuần đầu tháng 3») as «từ … đến …»; the
    lunar calendar's words («mùng 10», «Rằm», «tháng Giêng», «ÂL»); «15 tháng 4» as a date;
    the recurrences written as counts («01 lần/tháng», «2 năm/lần», «thường niên»)."""
    s = unicodedata.normalize("NFC", text).lower()
    s = re.sub(r"[\u00a0\u2007\u202f\t\r\n]", " ", s)
    s = re.sub(r"[‐‑‒–—]", "-", s)
    # each rewrite below is tried only when its words are there (this runs for every phrase)
    if any(c in s for c in "’'`´"):
        s = re.sub(r"(\d)\s*[’'`´]", r"\1 ", s)  # «08h00’»
    s = re.sub(r"(\d)(ngày|lúc|thứ)\b", r"\1 \2", s)  # «8 giờ 00ngày 08 tháng 3»
    if "(" in s:
        s = _SPOKEN.sub(" ", s)
    if "hàng" in s:
        s = re.sub(r"\bhàng\s+(năm|quý|tháng|tuần|ngày|nửa\s+năm)\b", r"hằng \1", s)
    if "niên" in s:
        s = re.sub(r"\bthường\s+niên\b", "hằng năm", s)
    if "báo cáo" in s:
        s = re.sub(r"\bcủa\s+(?:năm\s+liền\s+kề\s+)?năm\s+báo\s+cáo\b", "hằng năm", s)
    if any(w in s for w in ("âl", "âm", "mùng", "mồng", "rằm", "giêng", "chạp")):
        s = _lunar_words(s)
    if "-" in s:  # weekdays abbreviated after a date: «31/10/2020-T7», «9/1/2021-CN»
        s = re.sub(r"(\d)\s*-\s*t\s*([2-7])\b", r"\1 thứ \2", s)
        s = re.sub(r"(\d)\s*-\s*cn\b", r"\1 chủ nhật", s)
    if (
        "lần" in s
    ):  # counts: «01 lần/tháng», «2 lần/năm», «2 năm/lần», «quý họp một lần», «mỗi năm họp 04 lần»
        s = re.sub(r"\b0?1\s+lần\s*/\s*(năm|quý|tháng|tuần)\b", r"hằng \1", s)
        s = re.sub(r"\b(\d{1,2})\s+lần\s*/\s*(năm|quý|tháng|tuần)\b", r"hằng \2 \1 lần", s)
        s = re.sub(
            r"\b(\d{1,3})\s+(năm|quý|tháng|tuần)\s*/\s*(?:0?1\s+)?lần\b", r"\1 \2 một lần", s
        )
        s = re.sub(
            r"\b(?:mỗi\s+|hằng\s+)?(năm|quý|tháng|tuần)\s+(?:"
            + _MEETS
            + r")\s+(?:một|0?1)\s+lần\b",
            r"hằng \1",
            s,
        )
        s = re.sub(
            r"\b(?:mỗi|hằng)\s+(năm|quý|tháng|tuần)\s+(?:" + _MEETS + r")\s+0*(\d{1,2})\s+lần\b",
            r"hằng \1 \2 lần",
            s,
        )
    if "nay" in s:
        s = re.sub(r"\b(sáng|trưa|chiều|tối)\s+nay\b", r"\1", s)
    if "bắt" in s:
        s = re.sub(r"\bbắt\s+đầu\b", " ", s)  # «bắt đầu từ ngày …»: not the «đầu» of a month
    if "tới" in s:
        s = re.sub(r"(\d)\s+tới\b(?!\s*(?:ngày\s+)?\d)", r"\1", s)  # «vào ngày 05/01 tới»: coming
    if "hết" in s:
        s = re.sub(r"\b(đến|tới)\s+hết\s+(năm|quý|tháng)\b(?!\s*(?:\d|i|v))", r"\1 cuối \2", s)
        s = re.sub(r"\b(đến|tới)\s+hết\b", r"\1", s)  # «từ tháng 6 đến hết tháng 8»
    if "-" in s:
        s = _dash_ranges(s)
    if "tháng" in s:
        s = re.sub(
            r"\b(sáu|ba)\s+tháng\s+(đầu|cuối)\b",
            lambda m: {"sáu": "6", "ba": "3"}[m.group(1)] + f" tháng {m.group(2)}",
            s,
        )
        if "tuần" in s or "nửa" in s:
            s = _PART_OF_MONTH.sub(_days_of_month, s)
        # «tháng 8, 9 năm 2025»: each month named
        s = re.sub(
            r"\btháng\s+\d{1,2}(?:\s*(?:,|và)\s*\d{1,2})+(?=\s+năm\s+\d{4}|\s*/\s*\d{4})",
            lambda m: re.sub(r"(,|và)\s*(\d)", r"\1 tháng \2", m.group()),
            s,
        )
        s = _DAY_OF_MONTH.sub(_day_of_month, s)
        if (
            "quý" in s
        ):  # «ngày 20 tháng cuối quý»: that day of the quarter's last (or first) month, every year
            s = re.sub(
                r"\bngày\s+(\d{1,2})\s+(?:của\s+)?tháng\s+(cuối|đầu)\s+(?:mỗi\s+|hằng\s+|các\s+|của\s+)?quý"
                r"(?:\s+hằng\s+năm)?",
                lambda m: (
                    "ngày "
                    + ", ".join(
                        f"{m.group(1)}/{k}"
                        for k in ((3, 6, 9, 12) if m.group(2) == "cuối" else (1, 4, 7, 10))
                    )
                    + " hằng năm"
                ),
                s,
            )
    if "hai ngày" in s or "2 ngày" in s:  # «trong hai ngày 26 và 27/9»: the two days, a window
        s = re.sub(
            r"\b(?:trong\s+)?(?:hai|0?2)\s+ngày\s+(\d{1,2})\s*(?:và|,)\s*(\d{1,2})\s*/\s*(\d{1,2}(?:\s*/\s*\d{4})?)",
            r"từ ngày \1/\3 đến ngày \2/\3",
            s,
        )
    if "ngày" in s and ("," in s or "và" in s):
        # «ngày 15 và 30 hằng tháng»
        s = re.sub(
            r"\bngày\s+\d{1,2}(?:\s*(?:,|và)\s*\d{1,2}(?![\d/.-]|\s*tháng))+",
            lambda m: re.sub(r"(,|và)\s*(\d)", r"\1 ngày \2", m.group()),
            s,
        )
    return re.sub(r"\s+", " ", s).strip(" .;")


def parse_when(text: str, default_year: int | None = None) -> Schedule:
    """Parse a `when:` phrase. `default_year` completes dates written without a year.

    Raises PlanError quoting the phrase when it is not understood or names an impossible date.
    """
    s = normalize(text)
    tentative = "dự kiến" in s
    s = s.replace("dự kiến", " ")
    relative = _relative(s, text, default_year)
    if relative is not None:
        return Schedule(relative, None, tentative)
    gloss = _GLOSS.search(s) if "âm lịch" in s else None  # «ngày 10/3 âm lịch (tức 18/4/2024)»
    nth = _NTH_WEEKDAY.search(s)  # «thứ Hai tuần đầu tiên của tháng»
    for m in sorted(filter(None, (gloss, nth)), key=lambda m: -m.start()):
        s = f"{s[: m.start()]} {s[m.end() :]}"
    tokens = _tokens(s, text)
    try:
        rule: Rule
        if nth:
            stray = next((t for k, _, t in tokens if k not in ("time", "part")), None)
            if stray:
                raise PlanError(
                    f"«{stray}» không dùng được với «{nth.group()}»; hãy tách thành hai nghĩa vụ"
                )
            week = _NTH[
                nth.group(2) or nth.group(3)
            ]  # «thứ hai đầu tháng»: the month's first Monday
            said = _WEEKDAY_WORD.match(nth.group(1))
            assert said is not None  # _NTH_WEEKDAY's first group is a _WEEKDAY_WORD
            rule = RRule(f"FREQ=MONTHLY;BYDAY={week}{_RRULE_DAYS[_weekday(said.groups())]}")
            at = _clock(tokens)
        elif gloss and re.search(r"\d{4}", gloss.group(1)):
            # the gloss's year dates a lunar day of that lunar year, or of the one before
            # (before Tết)
            year = int(re.findall(r"\d{4}", gloss.group(1))[0])
            for lunar_year in (year, year - 1):
                rule, at = _interpret(tokens, lunar_year)
                try:
                    _check_gloss(rule, gloss.group(1), None)
                    break
                except PlanError:
                    if lunar_year != year:
                        raise
        else:
            rule, at = _interpret(tokens, default_year)
        if gloss and not re.search(r"\d{4}", gloss.group(1)):
            _check_gloss(rule, gloss.group(1), default_year)
    except PlanError as exc:
        raise PlanError(exc.message, text=text) from None
    return Schedule(rule, at, tentative)


_AMOUNT = r"(\d{1,3})\s+(ngày\s+làm\s+việc|ngày|tuần)"
#: «trong vòng 5 ngày làm việc kể từ ngày …», «chậm nhất 30 ngày sau khi kết thúc quý»
_RELATIVE = re.compile(
    rf"(?:(?:trong\s+(?:vòng|thời\s+hạn)|chậm\s+nhất(?:\s+là)?|hạn|không\s+quá|sau)\s+)*{_AMOUNT}"
    r"\s*,?\s*(kể\s+từ|tính\s+từ|từ|sau|trước)\s+(?:khi\s+)?(?:ngày\s+)?(.+)"
)
#: «trước Tết Nguyên đán 2 tuần», «sau ngày ban hành 10 ngày»
_RELATIVE_FIRST = re.compile(
    rf"(?:chậm\s+nhất\s+)?(trước|sau)\s+(?:khi\s+)?(?:ngày\s+)?(.+?)\s+{_AMOUNT}"
)
_UNITS = {"ngày": "day", "tuần": "week", "ngày làm việc": "workday"}
_EDGE_OF = re.compile(
    r"(?:(kết\s+thúc|hết|cuối|bắt\s+đầu|đầu)\s+)?(?:mỗi\s+|hằng\s+|các\s+|từng\s+)?(quý|tháng|năm)"
    r"(?:\s+báo\s+cáo)?"
)
_TET = re.compile(r"tết(?:\s+nguyên\s+đán|\s+âm\s+lịch)?(?:\s+(?:năm\s+)?(\d{4}))?")
_ISSUED = re.compile(
    r"(?:ký\s+)?ban\s+hành(?:\s+(?:kế\s+hoạch|văn\s+bản|thông\s+báo|quyết\s+định))?(?:\s+này)?"
)
_OBLIGATION = re.compile(r"(?:(?:kết\s+thúc|hoàn\s+thành)\s+)?nghĩa\s+vụ\s+([a-z0-9][a-z0-9_.-]*)")


def _relative(s: str, text: str, default_year: int | None) -> Relative | None:
    """A deadline counted from an anchor, or None when the phrase is not one."""
    m = _RELATIVE.fullmatch(s)
    if m:
        n, unit, word, anchor = m.group(1), m.group(2), m.group(3), m.group(4)
    else:
        m = _RELATIVE_FIRST.fullmatch(s)
        if m is None:
            return None
        word, anchor, n, unit = m.group(1), m.group(2), m.group(3), m.group(4)
    count = int(n) * (-1 if word == "trước" else 1)
    unit = _UNITS[re.sub(r"\s+", " ", unit)]
    anchor = anchor.strip(" ,.")
    if (found := _EDGE_OF.fullmatch(anchor)) is not None:
        if found.group(1) and found.group(1).endswith("đầu"):
            raise PlanError(
                f"«{anchor}»: hạn tính từ đầu kỳ chưa có; hãy tính từ «kết thúc {found.group(2)}»",
                text=text,
            )
        return Relative(
            count,
            unit,
            found.group(2)
            .replace("năm", "year")
            .replace("quý", "quarter")
            .replace("tháng", "month"),
        )
    if (found := _TET.fullmatch(anchor)) is not None:
        return Relative(count, unit, "tet", int(found.group(1)) if found.group(1) else None)
    if _ISSUED.fullmatch(anchor):
        return Relative(count, unit, "issued")
    if (found := _OBLIGATION.fullmatch(anchor)) is not None:
        return Relative(count, unit, "obligation", found.group(1))
    try:
        day = _fixed(_tokens(anchor, text), {}, default_year).items
    except PlanError:
        day = ()
    if len(day) == 1 and day[0][0] is None:
        return Relative(count, unit, "date", day[0][1])
    raise PlanError(
        f"không rõ mốc tính hạn «{anchor}»; hãy ghi một ngày («ngày 15/3/2025»), «kết thúc quý», "
        "«Tết Nguyên đán», «ngày ban hành» hoặc «nghĩa vụ <mã nghĩa vụ>»",
        text=text,
    )


_GLOSS = re.compile(
    r"\(\s*(?:tức(?:\s+là)?|nhằm|là|ngày)?\s*(?:ngày\s+)?(\d{1,2}\s*[/.-]\s*\d{1,2}(?:\s*[/.-]\s*\d{4})?)"
    r"\s*(?:dương\s+lịch)?\s*\)"
)
_NTH_WEEKDAY = re.compile(
    r"(thứ\s+(?:[2-7]|hai|ba|tư|bốn|năm|sáu|bảy)|chủ\s+nhật)\s+(?:(?:của\s+)?tuần\s+"
    r"(đầu tiên|đầu|thứ nhất|thứ hai|thứ ba|thứ tư|cuối cùng|cuối|[1-4])"
    r"\s+(?:của|trong)|(đầu|cuối))\s+"
    r"(?:mỗi\s+|hằng\s+|các\s+)?tháng(?:\s+hằng\s+tháng)?"
)
_WEEKDAY_WORD = re.compile(r"thứ\s+(\S+)|chủ\s+nhật")
_NTH = {
    "đầu tiên": "+1",
    "đầu": "+1",
    "thứ nhất": "+1",
    "1": "+1",
    "thứ hai": "+2",
    "2": "+2",
    "thứ ba": "+3",
    "3": "+3",
    "thứ tư": "+4",
    "4": "+4",
    "cuối cùng": "-1",
    "cuối": "-1",
}
_RRULE_DAYS = {1: "MO", 2: "TU", 3: "WE", 4: "TH", 5: "FR", 6: "SA", 7: "SU"}


def _check_gloss(rule: Rule, solar: str, default_year: int | None) -> None:
    """The solar date a lunar one is glossed with must be one of its days."""
    said = _fixed(_tokens(normalize(solar), solar), {}, default_year).items[0][1]
    if said not in {day for _, _, day in expand(rule, said, said)}:
        raise PlanError(
            f"ngày dương lịch trong ngoặc ({said:%d/%m/%Y}) không khớp với ngày âm lịch; "
            "hãy kiểm tra"
        )


def _readable(s: str, pos: int) -> re.Match[str] | None:
    """The token at `pos`, unless there is none or it stops inside a word."""
    m = _TOKEN.match(s, pos)
    if not m or m.end() == pos:
        return None
    found = m.group(m.lastgroup or "")
    if found[-1].isalpha() and s[m.end() : m.end() + 1].isalpha():
        return None
    return m


def _unknown(s: str, pos: int) -> str:
    """The words at `pos` that the grammar cannot read: the first word, or, when that is a
    grammar word or a number which formed no token («tháng» of «Tháng Nhân quyền», «6» of
    «6 tháng»), the words it heads, up to the next readable word."""
    words: list[str] = []
    while pos < len(s) and (not words or (_heads(words[0]) and _readable(s, pos) is None)):
        word = s[pos:].split(" ", maxsplit=1)[0]
        words.append(word.strip(",;:.()"))
        pos += len(word)
        while pos < len(s) and s[pos] == " ":
            pos += 1
    return " ".join(w for w in words if w)


def _heads(word: str) -> bool:
    return word in _HEADS or word.isdigit()  # «6» of «6 tháng», «nửa» of «nửa năm»


def _tokens(s: str, original: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(s):
        m = _readable(s, pos)
        if m is None:
            raise PlanError(
                f"không hiểu «{_unknown(s, pos)}» trong thời gian; {HINT}", text=original
            )
        kind = m.lastgroup or ""
        if kind not in ("space", "filler"):
            first, last = _GROUPS[kind]
            out.append((kind, m.groups()[first:last], m.group(kind)))
        pos = m.end()
    return out


#: Besides times, parts of day and words like «cuối», what each «hằng …» may be said with.
#: (Dated kinds are let through to «hằng năm» so that `_yearly` can say what is wrong.)
_WITH = {
    "năm": {
        "daymonth",
        "datelong",
        "day",
        "month",
        "quarter",
        "half",
        "season",
        "date",
        "monthyear",
        "year",
        "yearrange",
    },
    "quý": set(),
    "tháng": {"day"},
    "tuần": {"weekday"},
    "ngày": set(),
}
_COMMON = {"recur", "plural", "every", "bare", "since", "edge", "stage", "word", "time", "part"}
_DATED = {
    "date",
    "datelong",
    "daymonth",
    "day",
    "monthyear",
    "month",
    "quarter",
    "year",
    "yearrange",
    "weekday",
    "half",
    "season",
    "bare",
    "since",
}
#: What «đầu» / «cuối» can bind to: a window or a period, never a single day.
_BINDS = {
    "monthyear",
    "month",
    "quarter",
    "year",
    "yearrange",
    "half",
    "season",
    "bare",
    "since",
    "recur",
    "plural",
    "every",
}
#: Where the years sit in the groups of the token kinds that may carry one.
_YEAR_AT = {
    "date": (3,),
    "datelong": (2,),
    "monthyear": (1,),
    "quarter": (1,),
    "year": (0,),
    "yearrange": (0, 1),
    "half": (1,),
    "season": (1,),
}
YEARS = range(1900, 2101)  # the lunar calendar's range


def _years(kind: str, g: tuple[str | None, ...]) -> list[int]:
    return [int(y) for i in _YEAR_AT.get(kind, ()) if (y := g[i])]


def _season(name: str | None) -> str:
    return re.sub(r"\s+", " ", name or "")


def _interpret(tokens: list[Token], default_year: int | None) -> tuple[Rule, time | None]:
    for kind, g, text in tokens:
        if any(y not in YEARS for y in _years(kind, g)):
            raise PlanError(f"«{text}»: năm phải từ {YEARS[0]} đến {YEARS[-1]}")
        if kind == "stages":
            raise PlanError(f"«{text}»: {STAGES}")
        if kind == "recurlist":
            names = ", ".join(f"«hằng {p}»" for p in re.findall(_UNIT, text))
            raise PlanError(
                f"nhiều chu kỳ khác nhau ({names}) trong một thời gian; "
                "hãy tách thành nhiều nghĩa vụ, mỗi nghĩa vụ một chu kỳ"
            )
        if kind == "season" and SEASONS[_season(g[0])] is None:
            raise PlanError(
                f"«{text}» không có ngày cố định; hãy ghi rõ, ví dụ «từ tháng 12 đến "
                "tháng 2 hằng năm» hoặc «tháng 1 âm lịch hằng năm»"
            )
    tokens = _since(tokens)
    edges = _edges(tokens)
    tokens = [
        (k, g, f"{edges[i]} {t}" if k == "bare" else t)  # quoted as «cuối quý»
        for i, (k, g, t) in enumerate(tokens)
    ]
    _check_from(tokens)
    at = _clock(tokens)
    words = {t for k, _, t in tokens if k == "word"}
    period, count, every = _period(tokens)
    since = next((int(g[0] or 0) for k, g, _ in tokens if k == "since"), None)
    if since is not None and period is None and every is None:  # «từ năm 2025 trở đi»
        period = "năm"
    anchors = {
        edges[i]
        for i, (k, _, _) in enumerate(tokens)
        if k in ("recur", "plural", "every", "since") or (k == "bare" and period)
        if i in edges
    }
    if len(anchors) > 1:
        raise PlanError("«đầu» và «cuối» cùng một chu kỳ; hãy tách thành hai nghĩa vụ")
    anchor = anchors.pop() if anchors else None
    lunar = any(t.startswith("âm") for t in words)
    if lunar and period is None and every is None and since is None:
        return _lunar_once(tokens, edges, anchor, default_year), at
    if lunar and period != "năm":
        raise PlanError(
            "ngày âm lịch chỉ dùng được với «hằng năm», ví dụ «ngày 10/3 âm lịch hằng năm»"
        )
    workday = next((t for t in words if t == "trong tuần" or t.endswith("làm việc")), None)
    if workday and period != "ngày":
        raise PlanError(f"«{workday}» chỉ dùng được với «hằng ngày», ví dụ «hằng ngày làm việc»")
    if since is not None and period != "năm" and every is None:
        raise PlanError(
            f"năm bắt đầu («từ năm {since}») chỉ dùng được với «hằng năm» hoặc "
            "«định kỳ N năm/tháng/tuần»; với chu kỳ khác hãy dùng when: "
            f"{{rrule: …, start: {since}-01-01}}"
        )
    if every is not None:
        n, unit, said = every
        stray = next((t for k, _, t in tokens if k not in _COMMON), None)
        if stray:
            raise PlanError(
                f"«{stray}» không dùng được với «{said}»; hãy dùng dạng có cấu trúc, "
                "ví dụ when: {rrule: 'FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15'}"
            )
        return Every(
            n,
            unit,
            {"cuối": "end", "đầu": "start"}.get(anchor or "", "span"),
            date(since, 1, 1) if since else None,
        ), at
    if period is None:
        if any(k == "weekday" for k, _, _ in tokens):
            return _dated_weekdays(tokens, default_year), at
        return _fixed(tokens, edges, default_year), at
    stray = next((t for k, _, t in tokens if k not in _COMMON | _WITH[period]), None)
    if stray:
        raise PlanError(f"«{stray}» không dùng được với «hằng {period}»; {HINT}")
    if anchor and period in ("tuần", "ngày"):
        raise PlanError(
            f"«{anchor} {period}» không rõ ngày nào; hãy ghi rõ, "
            "ví dụ «chủ nhật hằng tuần» hoặc «hằng ngày»"
        )

    rule: Rule
    if period == "năm":
        rule = _yearly(tokens, edges, lunar, anchor, since)
    elif period == "quý":
        rule = Quarterly("end" if anchor == "cuối" else "start" if anchor == "đầu" else "span")
    elif period == "tháng":
        days = [int(g[0] or 0) for k, g, _ in tokens if k == "day"]
        if any(not 1 <= d <= 31 for d in days):
            raise PlanError(f"ngày {max(days)} hằng tháng không tồn tại")
        if len(days) > 1:  # «ngày 15 và 30 hằng tháng» (a month without the 30th has only the 15th)
            if anchor:
                raise PlanError(f"«{anchor} tháng» và các ngày cùng lúc; hãy chọn một")
            return RRule("FREQ=MONTHLY;BYMONTHDAY=" + ",".join(map(str, sorted(set(days))))), at
        if days and anchor:
            raise PlanError(f"«{anchor} tháng» và «ngày {days[0]}» cùng lúc; hãy chọn một")
        rule = Monthly(days[0] if days else -1 if anchor == "cuối" else 1 if anchor == "đầu" else 0)
    elif period == "tuần":
        weekdays = [_weekday(g) for k, g, _ in tokens if k == "weekday"]
        if _span_words(tokens)[0]:  # "từ thứ 2 đến thứ 6 hằng tuần"
            if len(weekdays) != 2 or weekdays[0] > weekdays[1]:
                raise PlanError("khoảng «từ thứ … đến thứ …» cần hai thứ theo thứ tự trong tuần")
            weekdays = list(range(weekdays[0], weekdays[1] + 1))
        rule = Weekly(tuple(sorted(set(weekdays))))
    else:
        rule = Daily(weekdays_only=workday is not None)
    if count is not None:
        found = (
            len(rule.items)
            if isinstance(rule, Yearly)
            else len(rule.weekdays) or 1
            if isinstance(rule, Weekly)
            else 1
        )
        if found != count:
            raise PlanError(
                f"«{count} lần» mỗi {period} nhưng chỉ ghi {found} thời điểm; hãy ghi rõ từng ngày"
            )
    return rule, at


def _since(tokens: list[Token]) -> list[Token]:
    """«từ năm 2025 (trở đi)», «trong năm 2024 và các năm tiếp theo»: the year becomes a
    `since` token (the first year of a recurrence) and «trở đi» is consumed."""
    onward = next((t for k, _, t in tokens if k == "onward"), None)
    ends = [i for i, (k, _, t) in enumerate(tokens) if k == "word" and t in ("đến", "tới")]
    found = [
        i
        for i, (k, _, _) in enumerate(tokens)
        if k == "year"
        and (
            onward
            or (
                i
                and tokens[i - 1][0] == "word"
                and tokens[i - 1][2] == "từ"
                and not any(j > i for j in ends)
            )
        )
    ]
    if onward and len(found) != 1:
        raise PlanError(f"«{onward}» cần đúng một năm bắt đầu, ví dụ «từ năm 2025 trở đi»")
    out = [("since", g, t) if i in found else (k, g, t) for i, (k, g, t) in enumerate(tokens)]
    return [tok for tok in out if tok[0] != "onward"]


def _edges(tokens: list[Token]) -> dict[int, str]:
    """Token index → the «đầu»/«cuối» that applies to it. An edge word binds to the window or
    period right after it (a stage label in between is skipped) and carries on to the next
    windows until «đến»/«tới» or another edge word."""
    out: dict[int, str] = {}
    current: str | None = None
    for i, (kind, _, text) in enumerate(tokens):
        if kind == "edge":
            j = i + 1
            while j < len(tokens) and tokens[j][0] == "stage":
                j += 1
            nxt = tokens[j] if j < len(tokens) else None
            said = f"{text} {nxt[2]}" if nxt else text
            if text == "giữa":
                raise PlanError(
                    f"«{said}» không chỉ rõ ngày nào; hãy ghi ngày cụ thể, ví dụ "
                    "«ngày 15/5/2024», «ngày 15 hằng tháng» hoặc "
                    "«6 tháng đầu năm 2024»"
                )
            if nxt is None or nxt[0] not in _BINDS:
                if j > i + 1:  # «cuối giai đoạn»
                    raise PlanError(f"«{text} {tokens[i + 1][2]}»: {STAGES}")
                raise PlanError(
                    f"«{said}»: «{text}» cần đi kèm tháng, quý hay năm, ví dụ "
                    f"«{text} tháng 5/2024», «{text} năm 2025» hoặc «{text} mỗi quý»"
                )
            if nxt[0] == "bare" and nxt[1][0] == "tuần":
                raise PlanError(
                    f"«{said}» không rõ ngày nào; hãy ghi thứ, "
                    "ví dụ «chủ nhật hằng tuần» hoặc «thứ 2 hằng tuần»"
                )
            current = text
        elif kind == "word" and text in ("đến", "tới"):
            current = None
        elif kind in _BINDS and current:
            out[i] = current
    return out


def _check_from(tokens: list[Token]) -> None:
    """«từ …» is a range: it needs its end («đến …»), or is a span of years or a first year."""
    for i, (kind, _, text) in enumerate(tokens):
        if kind == "word" and text == "từ":
            nxt = tokens[i + 1][0] if i + 1 < len(tokens) else None
            if nxt in (
                "yearrange",
                "since",
                "time",
                "part",
            ):  # «từ 7h30, Chủ nhật ngày 23/3»: from that hour
                continue
            if not any(k == "word" and t in ("đến", "tới") for k, _, t in tokens[i + 1 :]):
                raise PlanError(
                    "«từ …» cần mốc kết thúc («từ … đến …») hoặc năm bắt đầu («từ năm 2025 trở đi»)"
                )


def _interval(text: str) -> tuple[int, str, int]:
    """(n, unit of `Every`, the number as written) of «định kỳ 6 tháng», «2 năm một lần»,
    «mỗi nửa năm»."""
    if "nửa" in text:
        return 6, "month", 6
    m = re.search(r"(\d+)\s+(tuần|tháng|quý|năm)", text)
    assert m is not None
    n, word = int(m.group(1)), m.group(2)
    if n == 0:
        raise PlanError(f"«{text}»: khoảng cách phải lớn hơn 0")
    return (3 * n if word == "quý" else n), {"tuần": "week", "năm": "year"}.get(word, "month"), n


def _period(tokens: list[Token]) -> tuple[str | None, int | None, tuple[int, str, str] | None]:
    """(the «hằng …» period, the «N lần» count, the interval (n, unit, text) of «định kỳ N …»)."""
    names: dict[str, str] = {}  # each period or interval said → how to quote it
    count: int | None = None
    for kind, g, text in tokens:
        if kind == "recur":
            names[g[0] or g[2] or ""] = f"«hằng {g[0] or g[2]}»"
            count = int(g[1]) if g[1] else count
        elif kind == "every":
            n, unit, written = _interval(text)
            if written == 1:  # «mỗi 1 tháng»: the plain period
                word = re.search(r"(tuần|tháng|quý|năm)", text)
                assert word is not None
                names[word.group(1)] = f"«{text}»"
            else:
                names[f"{n} {unit}"] = f"«{text}»"
    if len(names) > 1:
        raise PlanError(
            "nhiều chu kỳ khác nhau ("
            + ", ".join(sorted(names.values()))
            + ") trong một thời gian; hãy tách thành nhiều nghĩa vụ"
        )
    said = next(iter(names), None)
    subs = [(g[0] or "", t, k) for k, g, t in tokens if k in ("plural", "bare")]
    if said and " " in said:  # an interval
        size, unit = said.split(" ")
        if subs:
            raise PlanError(f"«{subs[0][1]}» không dùng được với {names[said]}")
        return None, None, (int(size), unit, names[said].strip("«»"))
    period = said
    finer = {(u, t, k) for u, t, k in subs if u != "năm"}
    if len({u for u, _, _ in finer}) > 1:
        said_all = ", ".join(sorted(f"«{t}»" for _, t, _ in finer))
        raise PlanError(
            f"nhiều chu kỳ khác nhau ({said_all}) trong một thời gian; "
            "hãy tách thành nhiều nghĩa vụ"
        )
    if finer:
        unit, text, kind = finer.pop()
        if period is None and kind == "plural":  # «vào cuối các quý»
            period = unit
        elif period == "năm":  # «mỗi năm 4 lần vào cuối các quý», «cuối quý hằng năm»
            if count is not None and count != {"quý": 4, "tháng": 12}.get(unit):
                raise PlanError(f"«mỗi năm {count} lần» không khớp với «{text}»")
            period, count = unit, None
        elif period not in (None, unit):
            raise PlanError(f"«{text}» không hợp với «hằng {period}»")
    for unit, text, _ in subs:
        if unit == "năm" and period not in (None, "năm"):
            raise PlanError(f"«{text}» không hợp với «hằng {period}»")
    return period, count, None


def _span_words(tokens: list[Token]) -> tuple[bool, bool]:
    """(range, by): «từ A đến B» and «A đến B» are a range; «đến năm 2025» is a target by then."""
    ranged = by = False
    for i, (kind, _, text) in enumerate(tokens):
        if kind == "word" and text in ("đến", "tới"):
            if any(k in _DATED or t == "từ" for k, _, t in tokens[:i]):
                ranged = True
            else:
                by = True
    return ranged, by


def _dmy(kind: str, g: tuple[str | None, ...]) -> tuple[int, int, int | None]:
    """(day, month, year or None) of a date token; month 0 for a bare day («ngày 24»)."""
    if kind == "date":
        return int(g[0] or 0), int(g[2] or 0), int(g[3] or 0)
    if kind == "day":
        return int(g[0] or 0), 0, None
    return int(g[0] or 0), int(g[1] or 0), int(g[2]) if kind == "datelong" and g[2] else None


def _clock(tokens: list[Token]) -> time | None:
    parts = {t for k, _, t in tokens if k == "part"}
    clocks = {(int(g[0] or 0), int(g[1] or 0)) for k, g, _ in tokens if k == "time"}
    if len(parts) > 1 or len(clocks) > 1:
        if sum(k == "weekday" for k, _, _ in tokens) > 1:  # «chiều thứ 6 và sáng chủ nhật»
            raise PlanError("mỗi thứ một buổi khác nhau: hãy tách thành hai nghĩa vụ")
        said = "giờ" if len(clocks) > 1 else "buổi (" + ", ".join(sorted(parts)) + ")"
        raise PlanError(
            f"nhiều {said} khác nhau trong một thời gian; hãy tách thành nhiều nghĩa vụ"
        )
    part = next(iter(parts), None)
    if not clocks:
        return PART_OF_DAY[part] if part else None
    hour, minute = clocks.pop()
    if (part in ("chiều", "tối") and hour < 12) or (part == "trưa" and hour < 6):  # "1 giờ trưa"
        hour += 12
    if hour > 23 or minute > 59:
        raise PlanError(f"giờ {hour:02d}:{minute:02d} không tồn tại")
    return time(hour, minute)


def _weekday(groups: tuple[str | None, ...]) -> int:
    """ISO weekday (1 = Monday … 7 = Sunday) from "thứ 6", "thứ sáu", "chủ nhật"."""
    word = groups[0]
    if word is None:
        return 7
    number = int(word) if word.isdigit() else WEEKDAY_WORDS[word]
    return number - 1


def _check(day: int, month: int, year: int | None) -> None:
    if not 1 <= month <= 12:
        raise PlanError(f"tháng {month} không tồn tại")
    last = _cal.monthrange(year if year else 2024, month)[1]  # 2024: 29/02 exists in some year
    if not 1 <= day <= last:
        when = f"{day:02d}/{month:02d}" + (f"/{year}" if year else "")
        raise PlanError(f"ngày {when} không tồn tại")


def _months(kind: str, g: tuple[str | None, ...], text: str) -> tuple[MonthDay, MonthDay, bool]:
    """The (first, last) month-days of a window token, and whether it is a whole year (whose
    «đầu» is its first month, January, rather than its first day: 1/1 is a public holiday)."""
    if kind in ("month", "monthyear"):
        month = int(g[0] or 0)
        _check(1, month, None)
        return (month, 1), (month, 0), False
    if kind == "quarter":
        q = _quarter(g[0])
        return (3 * q - 2, 1), (3 * q, 0), False
    if kind == "half":
        return ((1, 1), (6, 0), False) if g[0] == "đầu" else ((7, 1), (12, 0), False)
    if kind == "season":
        window = SEASONS[_season(g[0])]
        assert window is not None
        return window[0], window[1], False
    if kind == "bare" and g[0] != "năm":  # «cuối quý» with no quarter and no «hằng …»
        edge = text.split(maxsplit=1)[0]
        example = f"{edge} tháng 5/2024" if g[0] == "tháng" else f"{edge} quý II năm 2024"
        raise PlanError(
            f"«{text}» không rõ {g[0]} nào; hãy ghi rõ, ví dụ «{example}», "
            f"hoặc «{edge} mỗi {g[0]}» nếu lặp lại"
        )
    return (1, 1), (12, 31), True  # year, yearrange, since, «đầu năm»


def _edge(
    first: MonthDay, last: MonthDay, year: bool, edge: str | None
) -> tuple[MonthDay, MonthDay, bool]:
    """(first, last, one day?) of a window after «đầu» / «cuối»."""
    if edge == "cuối":
        return last, last, True
    if edge == "đầu":
        return ((1, 1), (1, 0), False) if year else (first, first, True)
    return first, last, False


def _yearly(
    tokens: list[Token], edges: dict[int, str], lunar: bool, anchor: str | None, since: int | None
) -> Yearly:
    points: list[tuple[MonthDay, MonthDay, bool]] = []  # (first day, last day, one day?)
    for i, (kind, g, text) in enumerate(tokens):
        if _years(kind, g):
            raise PlanError(
                f"«{text}» có năm cụ thể, không hợp với «hằng năm»; "
                "năm bắt đầu ghi là «từ năm 2025 trở đi»"
            )
        if kind in ("daymonth", "datelong", "day"):
            day, month, _ = _dmy(kind, g)
            if kind == "day":  # «từ ngày 7 đến ngày 9 tháng 1 âm lịch»: the month comes later
                month = next(
                    (
                        _dmy(k, g2)[1]
                        for k, g2, _ in tokens[i + 1 :]
                        if k in ("daymonth", "datelong")
                    ),
                    0,
                )
                if not month:
                    raise PlanError(
                        f"«{text}» không dùng được với «hằng năm»; hãy ghi rõ tháng, "
                        f"ví dụ «ngày {day}/7 hằng năm»"
                    )
            if not lunar:
                _check(day, month, None)
                if (day, month) == (29, 2):
                    raise PlanError("ngày 29/02 không có trong mọi năm; hãy chọn ngày khác")
            elif not (1 <= month <= 12 and 1 <= day <= 30):
                raise PlanError(f"ngày {day}/{month} âm lịch không tồn tại")
            points.append(((month, day), (month, day), True))
        elif kind in ("month", "quarter", "half", "season") or (kind == "bare" and g[0] == "năm"):
            if lunar and kind in ("half", "season"):
                raise PlanError(f"«{text}» không dùng được với âm lịch")
            points.append(_edge(*_months(kind, g, text), edges.get(i)))
    if _span_words(tokens)[0]:  # "từ tháng 01 đến tháng 5 hằng năm": one window
        if len(points) != 2:
            raise PlanError("khoảng «từ … đến …» cần đúng hai mốc thời gian")
        return Yearly(((points[0][0], points[1][1]),), lunar, since)
    if not points:
        points = [_edge((1, 1), (12, 31), True, anchor)]
    items = tuple((None, last) if one else (first, last) for first, last, one in points)
    return Yearly(items, lunar, since)


def _lunar_once(
    tokens: list[Token], edges: dict[int, str], anchor: str | None, default_year: int | None
) -> Fixed:
    """A lunar date in one year: «Rằm tháng Giêng năm 2026», «ngày 10/3 âm lịch» in a plan of
    2026."""
    years = {y for k, g, _ in tokens for y in _years(k, g)}
    year = years.pop() if len(years) == 1 else None if years else default_year
    if year is None:
        raise PlanError(
            "ngày âm lịch cần năm hoặc «hằng năm», ví dụ «ngày 10/3 âm lịch năm 2026» "
            "hoặc «ngày 10/3 âm lịch hằng năm»"
        )
    plain: list[Token] = []  # the same dates without their year, for `_yearly`
    for kind, g, text in tokens:
        if kind == "date":
            plain.append(("daymonth", (g[0], g[2]), text))
        elif kind == "datelong":
            plain.append((kind, (g[0], g[1], None), text))
        elif kind == "monthyear":
            plain.append(("month", (g[0],), text))
        elif kind not in ("year", "yearrange"):
            plain.append((kind, g, text))
    try:
        return on_year(_yearly(plain, _edges(plain), True, anchor, None), year)
    except InvalidLunarDate as exc:
        raise PlanError(str(exc)) from None


def _dated_weekdays(tokens: list[Token], default_year: int | None) -> Fixed:
    """«thứ Tư, ngày 15/10/2025»: the date says when; its weekday must agree with it."""
    said = [(_weekday(g), text) for kind, g, text in tokens if kind == "weekday"]
    rest = [tok for tok in tokens if tok[0] != "weekday"]
    if not any(kind in ("date", "datelong", "daymonth", "day") for kind, _, _ in rest):
        raise PlanError("thứ trong tuần cần đi kèm «hằng tuần», ví dụ «chiều thứ 6 hằng tuần»")
    fixed = _fixed(rest, _edges(rest), default_year)
    days = [due for start, due in fixed.items if start is None]
    covered = [
        start + timedelta(days=n)
        for start, due in fixed.items
        if start
        for n in range((due - start).days + 1)
    ]
    pairs = (
        zip(said, days, strict=True)
        if len(days) == len(said)
        else ((w, d) for w in said for d in days + covered if d.isoweekday() == w[0])
    )
    checked = {w for w, d in pairs if d.isoweekday() == w[0]}
    for (number, text), due in zip(said, days + covered, strict=False):
        if (number, text) not in checked:
            raise PlanError(
                f"«{text}» không khớp với ngày {due:%d/%m/%Y} ({WEEKDAYS[due.weekday()]}); "
                "hãy kiểm tra thứ hoặc ngày"
            )
    return fixed


def _quarter(text: str | None) -> int:
    text = text or ""
    return int(text) if text.isdigit() else ROMAN[text]


def _window(
    kind: str, g: tuple[str | None, ...], text: str, year_hint: int | None
) -> tuple[date, date, bool]:
    """The first and last day of a window token in a dated phrase, and whether it is a year."""
    if kind == "yearrange":
        first, last = int(g[0] or 0), int(g[1] or 0)
        if last < first:
            raise PlanError(f"«{text}»: năm kết thúc trước năm bắt đầu")
        return date(first, 1, 1), date(last, 12, 31), True
    if kind == "year":
        return date(int(g[0] or 0), 1, 1), date(int(g[0] or 0), 12, 31), True
    years = _years(kind, g)
    year = years[0] if years else year_hint
    (m1, d1), (m2, d2), whole = _months(kind, g, text)
    if not year:
        example = f"{text} 2025" if text.endswith("năm") else f"{text} năm 2025"
        raise PlanError(f"«{text}» thiếu năm; hãy ghi rõ, ví dụ «{example}»")
    return date(year, m1, d1), date(year, m2, d2 or _cal.monthrange(year, m2)[1]), whole


def _fixed(tokens: list[Token], edges: dict[int, str], default_year: int | None) -> Fixed:
    ranged, by = _span_words(tokens)
    years = [y for k, g, _ in tokens if k not in ("year", "yearrange") for y in _years(k, g)]
    year_hint = years[-1] if years else default_year  # the phrase's own year comes first
    spans: list[tuple[date | None, date]] = []
    for i, (kind, g, text) in enumerate(tokens):
        if kind in ("date", "daymonth", "datelong", "day"):
            day, month, year = _dmy(kind, g)
            if kind == "day":  # "từ ngày 24 đến 31/7/2022": the month and year come later
                later = [
                    _dmy(k, g2)
                    for k, g2, _ in tokens[i + 1 :]
                    if k in ("date", "daymonth", "datelong")
                ]
                month, year = later[0][1:] if later else (0, None)
                if not month:
                    raise PlanError(f"«{text}» thiếu tháng; hãy ghi rõ, ví dụ «ngày {day}/7/2025»")
            year = year or year_hint
            if not year:
                raise PlanError(f"«{text}» thiếu năm; hãy ghi rõ năm, ví dụ «{day}/{month}/2025»")
            _check(day, month, year)
            spans.append((None, date(year, month, day)))
        elif kind in (
            "monthyear",
            "month",
            "quarter",
            "half",
            "season",
            "year",
            "yearrange",
            "bare",
        ):
            first, last, whole = _window(kind, g, text, year_hint)
            edge = edges.get(i)
            if edge == "cuối" or by:
                spans.append((None, last))
            elif edge == "đầu":  # a year's «đầu» is January; a month's or quarter's, day 1
                spans.append((first, date(first.year, 1, 31)) if whole else (None, first))
            else:
                spans.append((first, last))
    if not spans:
        if any(k == "stage" for k, _, _ in tokens):
            raise PlanError(f"«giai đoạn»: {STAGES}")
        raise PlanError(f"không thấy ngày, tháng hay năm nào; {HINT}")
    if ranged:
        if len(spans) != 2:
            raise PlanError("khoảng «từ … đến …» cần đúng hai mốc thời gian")
        (s1, e1), (_, e2) = spans
        if e2 < (s1 or e1):
            raise PlanError("khoảng thời gian kết thúc trước khi bắt đầu")
        return Fixed(((s1 or e1, e2),))
    if by:
        return Fixed(tuple((None, e) for _, e in spans))
    return Fixed(tuple(spans))


def parse_clock(text: str) -> time:
    """A clock time as written: "08:00", "8h", "14h30", "08g00", "7 giờ 30", "2 giờ chiều"."""
    try:
        tokens = _tokens(normalize(text), text)
        at = _clock(tokens)
    except PlanError as exc:
        raise PlanError(exc.message, text=text) from None
    if at is None or any(k not in ("time", "part") for k, _, _ in tokens):
        raise PlanError("giờ không hợp lệ; ví dụ «08:00», «14h30», «08g00»", text=text)
    return at


def parse_day(text: str) -> date:
    """A full date: "19/5/2022", "19-5-2022", "ngày 19 tháng 5 năm 2022" or ISO "2022-05-19"."""
    iso = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", str(text))
    if iso:
        year, month, day = (int(x) for x in iso.groups())
        _check_at(day, month, year, str(text))
        return date(year, month, day)
    schedule = parse_when(str(text))
    rule = schedule.rule
    if isinstance(rule, Fixed) and len(rule.items) == 1 and rule.items[0][0] is None:
        return rule.items[0][1]
    raise PlanError("cần một ngày cụ thể, ví dụ «19/5/2022» hoặc «2022-05-19»", text=str(text))


def _check_at(day: int, month: int, year: int, text: str) -> None:
    try:
        _check(day, month, year)
    except PlanError as exc:
        raise PlanError(exc.message, text=text) from None


def readable(text: str) -> bool:
    """Whether every word of `text` is a word of this grammar (which may still refuse what the
    words say together). The importer uses it to find where a date phrase in a sentence
    starts and ends.

    >>> readable("vào ngày 30/01 và 30/8 hàng năm"), readable("báo cáo ngày 30/01")
    (True, False)
    """
    s = normalize(text).replace("dự kiến", " ").strip()
    s = _NTH_WEEKDAY.sub(
        " vào ", _GLOSS.sub(" vào ", s) if "âm lịch" in s else s
    ).strip()  # read as a filler
    pos = 0
    while pos < len(s):
        m = _readable(s, pos)
        if m is None:
            return False
        pos = m.end()
    return bool(s)
