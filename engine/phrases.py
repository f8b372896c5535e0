"""The Vietnamese `when:` grammar: a phrase as the plan writes it → a recurrence rule.

>>> parse_when("vào ngày 30/01 và 30/8 hàng năm").rule
Yearly(items=((None, (1, 30)), (None, (8, 30))), lunar=False)
>>> parse_when("08g00, ngày 19/5/2022").time
datetime.time(8, 0)

The phrase is cut into tokens (dates, months, quarters, times, weekdays, "hằng năm", …);
a token the grammar does not know is an error that quotes it, never a guess.
"""
from __future__ import annotations

import calendar as _cal
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time

from .errors import PlanError
from .rules import Daily, Fixed, MonthDay, Monthly, Quarterly, Rule, Weekly, Yearly

HINT = ("hãy viết lại theo mẫu (ví dụ «ngày 30/01 và 30/8 hằng năm», «08g00, ngày 19/5/2022», "
        "«định kỳ hằng quý») hoặc dùng dạng có cấu trúc: when: {dates: [2022-05-19]} "
        "hay when: {rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1'}")

#: Default clock times for a part of day given without an hour ("chiều thứ 6").
PART_OF_DAY = {"sáng": time(8, 0), "trưa": time(12, 0), "chiều": time(14, 0), "tối": time(19, 0)}
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
WEEKDAY_WORDS = {"hai": 2, "ba": 3, "tư": 4, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7}


@dataclass(frozen=True, slots=True)
class Schedule:
    """What a `when:` says: the rule, the clock time if any, and whether it is tentative."""

    rule: Rule
    time: time | None = None
    tentative: bool = False


#: A token: its kind, its own regex groups, its text.
Token = tuple[str, tuple[str | None, ...], str]

_TOKEN = re.compile(
    r"""
    (?P<date>(?<!\d)(\d{1,2})\s*([/.-])\s*(\d{1,2})\s*\3\s*(\d{4})(?!\d))
  | (?P<datelong>ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})(?:\s*(?:,\s*)?năm\s+(\d{4}))?)
  | (?P<time>(?<![\d/.])(\d{1,2})\s*(?:g|h|giờ|:)\s*(\d{2})?(?:\s*phút)?(?![\d/]|[^\W\d_]))
  | (?P<daymonth>(?<![\d/.])(\d{1,2})\s*[/.-]\s*(\d{1,2})(?![\d/.-]))
  | (?P<monthyear>tháng\s+(\d{1,2})\s*(?:[/.-]|,?\s*năm)\s*(\d{4}))
  | (?P<month>tháng\s+(\d{1,2})(?!\d))
  | (?P<quarter>quý\s+(iv|i{1,3}|[1-4])(?:\s*(?:[/.-]|,?\s*năm)\s*(\d{4}))?)
  | (?P<yearrange>(?:năm\s+)?(\d{4})\s*(?:-|đến|tới)\s*(?:năm\s+)?(\d{4}))
  | (?P<year>năm\s+(\d{4}))
  | (?P<recur>(?:định\s+kỳ\s+)?(?:hằng|mỗi|từng)\s+(năm|quý|tháng|tuần|ngày)(?:\s+(\d+)\s+lần)?
      |định\s+kỳ\s+0?1\s+(năm|quý|tháng|tuần))
  | (?P<plural>các\s+(quý|tháng|tuần))
  | (?P<weekday>thứ\s+([2-7]|hai|ba|tư|bốn|năm|sáu|bảy)|chủ\s+nhật)
  | (?P<day>(?:ngày\s+|(?<=từ\s))(\d{1,2})(?!\s*[\d/.-]))
  | (?P<part>sáng|trưa|chiều|tối)
  | (?P<word>từ|đến|tới|cuối|đầu|âm\s+lịch|trong\s+tuần|(?:ngày\s+)?làm\s+việc)
  | (?P<filler>vào|ngày|lúc|và|các|định\s+kỳ|thời\s+gian|hạn\s+chót|hạn|chậm\s+nhất|trước|
      trong|tổ\s+chức|hoàn\s+thành|buổi|khoảng|đợt\s+\d+|giai\s+đoạn(?:\s+\d(?!\d))?|thực\s+hiện|,|;|:|\(|\)|-|–|\.)
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)


_NAMED = sorted((i, name) for name, i in _TOKEN.groupindex.items())
#: For each token kind, the slice of `match.groups()` holding its own inner groups.
_GROUPS = {name: (i, (_NAMED[n + 1][0] - 1) if n + 1 < len(_NAMED) else _TOKEN.groups)
           for n, (i, name) in enumerate(_NAMED)}


def normalize(text: str) -> str:
    """NFC, lower case, one spelling of "hằng", plain spaces and dashes."""
    s = unicodedata.normalize("NFC", text).lower()
    s = re.sub(r"[\u00a0\u2007\u202f\t\r\n]", " ", s)
    s = re.sub(r"[‐‑‒–—]", "-", s)
    s = re.sub(r"\bhàng\s+(năm|quý|tháng|tuần|ngày)\b", r"hằng \1", s)
    return re.sub(r"\s+", " ", s).strip(" .;")


def parse_when(text: str, default_year: int | None = None) -> Schedule:
    """Parse a `when:` phrase. `default_year` completes dates written without a year.

    Raises PlanError quoting the phrase when it is not understood or names an impossible date.
    """
    s = normalize(text)
    tentative = "dự kiến" in s
    s = s.replace("dự kiến", " ")
    tokens = _tokens(s, text)
    try:
        rule, at = _interpret(tokens, default_year)
    except PlanError as exc:
        raise PlanError(exc.message, text=text) from None
    return Schedule(rule, at, tentative)


def _tokens(s: str, original: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            rest = s[pos:].split(" ")[0]
            raise PlanError(f"không hiểu «{rest}» trong thời gian; {HINT}", text=original)
        kind = m.lastgroup or ""
        if m.group(kind)[-1].isalpha() and s[m.end():m.end() + 1].isalpha():
            rest = s[pos:].split(" ")[0]
            raise PlanError(f"không hiểu «{rest}» trong thời gian; {HINT}", text=original)
        if kind not in ("space", "filler"):
            first, last = _GROUPS[kind]
            out.append((kind, m.groups()[first:last], m.group(kind)))
        pos = m.end()
    return out


#: Besides times, parts of day and words like «cuối», what each «hằng …» may be said with.
#: (Dated kinds are let through to «hằng năm» so that `_yearly` can say what is wrong.)
_WITH = {"năm": {"daymonth", "datelong", "month", "quarter",
                 "date", "monthyear", "year", "yearrange"},
         "quý": set(), "tháng": {"day"}, "tuần": {"weekday"}, "ngày": set()}
_COMMON = {"recur", "plural", "word", "time", "part"}
_DATED = {"date", "datelong", "daymonth", "day", "monthyear", "month", "quarter", "year",
          "yearrange", "weekday"}
#: Where the years sit in the groups of the token kinds that may carry one.
_YEAR_AT = {"date": (3,), "datelong": (2,), "monthyear": (1,), "quarter": (1,), "year": (0,),
            "yearrange": (0, 1)}
YEARS = range(1900, 2101)  # the lunar calendar's range


def _years(kind: str, g: tuple[str | None, ...]) -> list[int]:
    return [int(y) for i in _YEAR_AT.get(kind, ()) if (y := g[i])]


def _interpret(tokens: list[Token], default_year: int | None) -> tuple[Rule, time | None]:
    words = {t for k, _, t in tokens if k == "word"}
    at = _clock(tokens)
    for kind, g, text in tokens:
        if any(y not in YEARS for y in _years(kind, g)):
            raise PlanError(f"«{text}»: năm phải từ {YEARS[0]} đến {YEARS[-1]}")
    recurs = [g for k, g, _ in tokens if k == "recur"]
    periods = sorted({g[0] or g[2] or "" for g in recurs})
    if len(periods) > 1:
        raise PlanError("nhiều chu kỳ khác nhau (" + ", ".join(f"«hằng {p}»" for p in periods)
                        + ") trong một thời gian; hãy tách thành nhiều nghĩa vụ")
    period = periods[0] if periods else None
    count = next((int(g[1]) for g in recurs if g[1]), None)
    plural = next((g[0] for k, g, _ in tokens if k == "plural"), None)
    if period == "năm" and plural:       # "mỗi năm 4 lần vào cuối các quý"
        if count is not None and count != {"quý": 4, "tháng": 12}.get(plural or ""):
            raise PlanError(f"«mỗi năm {count} lần» không khớp với «các {plural}»")
        period, count = plural, None
    end, start = "cuối" in words, "đầu" in words
    lunar = any(t.startswith("âm") for t in words)
    if lunar and period != "năm":
        raise PlanError("ngày âm lịch chỉ dùng được với «hằng năm», ví dụ «ngày 10/3 âm lịch hằng năm»")
    if period is None:
        if any(k == "weekday" for k, _, _ in tokens):
            raise PlanError("thứ trong tuần cần đi kèm «hằng tuần», ví dụ «chiều thứ 6 hằng tuần»")
        return _fixed(tokens, end, default_year), at
    stray = next((t for k, _, t in tokens if k not in _COMMON | _WITH[period]), None)
    if stray:
        raise PlanError(f"«{stray}» không dùng được với «hằng {period}»; {HINT}")

    rule: Rule
    if period == "năm":
        rule = _yearly(tokens, end, lunar)
    elif period == "quý":
        rule = Quarterly("end" if end else "start" if start else "span")
    elif period == "tháng":
        days = [int(g[0] or 0) for k, g, _ in tokens if k == "day"]
        if len(days) > 1:
            raise PlanError("«hằng tháng» chỉ nhận một ngày; hãy tách thành nhiều nghĩa vụ")
        if days and not 1 <= days[0] <= 31:
            raise PlanError(f"ngày {days[0]} hằng tháng không tồn tại")
        rule = Monthly(days[0] if days else -1 if end else 1 if start else 0)
    elif period == "tuần":
        days = [_weekday(g) for k, g, _ in tokens if k == "weekday"]
        if _span_words(tokens)[0]:  # "từ thứ 2 đến thứ 6 hằng tuần"
            if len(days) != 2 or days[0] > days[1]:
                raise PlanError("khoảng «từ thứ … đến thứ …» cần hai thứ theo thứ tự trong tuần")
            days = list(range(days[0], days[1] + 1))
        rule = Weekly(tuple(sorted(set(days))))
    else:
        workdays = "trong tuần" in words or any(t.endswith("làm việc") for t in words)
        rule = Daily(weekdays_only=workdays)
    if count is not None:
        found = (len(rule.items) if isinstance(rule, Yearly)
                 else len(rule.weekdays) or 1 if isinstance(rule, Weekly) else 1)
        if found != count:
            raise PlanError(f"«{count} lần» mỗi {period} nhưng chỉ ghi {found} thời điểm; "
                            "hãy ghi rõ từng ngày")
    return rule, at


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
    part = next((t for k, _, t in tokens if k == "part"), None)
    clocks = {(int(g[0] or 0), int(g[1] or 0)) for k, g, _ in tokens if k == "time"}
    if len(clocks) > 1:
        raise PlanError("nhiều giờ khác nhau trong một thời gian; hãy tách thành nhiều nghĩa vụ")
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


def _yearly(tokens: list[Token], end: bool, lunar: bool) -> Yearly:
    points: list[tuple[MonthDay, MonthDay, bool]] = []  # (first day, last day, one day?)
    for kind, g, text in tokens:
        if _years(kind, g):
            raise PlanError(f"«{text}» có năm cụ thể, không hợp với «hằng năm»")
        if kind in ("daymonth", "datelong"):
            day, month, _ = _dmy(kind, g)
            if not lunar:
                _check(day, month, None)
                if (day, month) == (29, 2):
                    raise PlanError("ngày 29/02 không có trong mọi năm; hãy chọn ngày khác")
            elif not (1 <= month <= 12 and 1 <= day <= 30):
                raise PlanError(f"ngày {day}/{month} âm lịch không tồn tại")
            points.append(((month, day), (month, day), True))
        elif kind == "month":
            month = int(g[0] or 0)
            _check(1, month, None)
            points.append(((month, 1), (month, 0), False))
        elif kind == "quarter":
            q = _quarter(g[0])
            points.append(((3 * q - 2, 1), (3 * q, 0), False))
    if _span_words(tokens)[0]:  # "từ tháng 01 đến tháng 5 hằng năm": one window
        if len(points) != 2:
            raise PlanError("khoảng «từ … đến …» cần đúng hai mốc thời gian")
        return Yearly(((points[0][0], points[1][1]),), lunar)
    items = tuple((None, last) if one or end else (first, last) for first, last, one in points)
    return Yearly(items or ((None, (12, 31)) if end else ((1, 1), (12, 31)),), lunar)


def _quarter(text: str | None) -> int:
    text = text or ""
    return int(text) if text.isdigit() else ROMAN[text]


def _fixed(tokens: list[Token], end: bool, default_year: int | None) -> Fixed:
    ranged, by = _span_words(tokens)
    years = [y for k, g, _ in tokens if k not in ("year", "yearrange") for y in _years(k, g)]
    year_hint = years[-1] if years else default_year  # the phrase's own year comes first
    spans: list[tuple[date | None, date]] = []
    for i, (kind, g, text) in enumerate(tokens):
        if kind in ("date", "daymonth", "datelong", "day"):
            day, month, year = _dmy(kind, g)
            if kind == "day":  # "từ ngày 24 đến 31/7/2022": the month and year come later
                later = [_dmy(k, g2) for k, g2, _ in tokens[i + 1:]
                         if k in ("date", "daymonth", "datelong")]
                month, year = later[0][1:] if later else (0, None)
                if not month:
                    raise PlanError(f"«{text}» thiếu tháng; hãy ghi rõ, ví dụ «ngày {day}/7/2025»")
            year = year or year_hint
            if not year:
                raise PlanError(f"«{text}» thiếu năm; hãy ghi rõ năm, ví dụ «{day}/{month}/2025»")
            _check(day, month, year)
            spans.append((None, date(year, month, day)))
        elif kind in ("monthyear", "month"):
            month = int(g[0] or 0)
            year = int(g[1]) if kind == "monthyear" else (year_hint or 0)
            if not year:
                raise PlanError(f"«{text}» thiếu năm; hãy ghi rõ, ví dụ «tháng {month} năm 2025»")
            _check(1, month, year)
            last = date(year, month, _cal.monthrange(year, month)[1])
            spans.append((None, last) if end else (date(year, month, 1), last))
        elif kind == "quarter":
            q, year = _quarter(g[0]), int(g[1] or 0) or year_hint
            if not year:
                raise PlanError(f"«{text}» thiếu năm; hãy ghi rõ, ví dụ «quý {q} năm 2025»")
            last = date(year, 3 * q, _cal.monthrange(year, 3 * q)[1])
            spans.append((None, last) if end else (date(year, 3 * q - 2, 1), last))
        elif kind == "year":
            year = int(g[0] or 0)
            spans.append((None, date(year, 12, 31)) if end or by else (date(year, 1, 1), date(year, 12, 31)))
        elif kind == "yearrange":
            first, last_year = int(g[0] or 0), int(g[1] or 0)
            if last_year < first:
                raise PlanError(f"«{text}»: năm kết thúc trước năm bắt đầu")
            spans.append((date(first, 1, 1), date(last_year, 12, 31)))
    if not spans:
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
