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
from .rules import Daily, Fixed, Monthly, Quarterly, Rule, Weekly, Yearly

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
  | (?P<day>ngày\s+(\d{1,2})(?![\d/]))
  | (?P<part>sáng|trưa|chiều|tối)
  | (?P<word>từ|đến|tới|cuối|đầu|âm\s+lịch|trong\s+tuần|ngày\s+làm\s+việc)
  | (?P<filler>vào|ngày|lúc|và|các|định\s+kỳ|thời\s+gian|hạn\s+chót|hạn|chậm\s+nhất|trước|
      trong|tổ\s+chức|hoàn\s+thành|buổi|khoảng|đợt\s+\d+|giai\s+đoạn(?:\s+\d+)?|thực\s+hiện|,|;|:|\(|\)|-|–|\.)
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


def _tokens(s: str, original: str) -> list[tuple[str, tuple[str | None, ...], str]]:
    out: list[tuple[str, tuple[str | None, ...], str]] = []
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


def _interpret(tokens: list[tuple[str, tuple[str | None, ...], str]],
               default_year: int | None) -> tuple[Rule, time | None]:
    kinds = [k for k, _, _ in tokens]
    words = {t for k, _, t in tokens if k == "word"}
    at = _clock(tokens)
    recur = next((g for k, g, _ in tokens if k == "recur"), None)
    period = (recur[0] or recur[2]) if recur else None
    plural = next((g[0] for k, g, _ in tokens if k == "plural"), None)
    if period == "năm" and plural:       # "mỗi năm 4 lần vào cuối các quý"
        period = plural
    end, start = "cuối" in words, "đầu" in words
    lunar = any(t.startswith("âm") for t in words)
    if lunar and period != "năm":
        raise PlanError("ngày âm lịch chỉ dùng được với «hằng năm», ví dụ «ngày 10/3 âm lịch hằng năm»")

    if period == "năm":
        return _yearly(tokens, end, lunar), at
    if period == "quý":
        return Quarterly("end" if end else "start" if start else "span"), at
    if period == "tháng":
        day = next((int(g[0] or 0) for k, g, _ in tokens if k == "day"), None)
        if day is not None and not 1 <= day <= 31:
            raise PlanError(f"ngày {day} hằng tháng không tồn tại")
        return Monthly(day or (-1 if end else 1 if start else 0)), at
    if period == "tuần":
        days = tuple(sorted({_weekday(g) for k, g, _ in tokens if k == "weekday"}))
        return Weekly(days), at
    if period == "ngày":
        return Daily(weekdays_only="trong tuần" in words or "ngày làm việc" in words), at
    if "weekday" in kinds:
        raise PlanError("thứ trong tuần cần đi kèm «hằng tuần», ví dụ «chiều thứ 6 hằng tuần»")
    return _fixed(tokens, end, default_year), at


def _clock(tokens: list[tuple[str, tuple[str | None, ...], str]]) -> time | None:
    part = next((t for k, _, t in tokens if k == "part"), None)
    clocks = {(int(g[0] or 0), int(g[1] or 0)) for k, g, _ in tokens if k == "time"}
    if len(clocks) > 1:
        raise PlanError("nhiều giờ khác nhau trong một thời gian; hãy tách thành nhiều nghĩa vụ")
    if not clocks:
        return PART_OF_DAY[part] if part else None
    hour, minute = clocks.pop()
    if part in ("chiều", "tối") and hour < 12:
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


def _yearly(tokens: list[tuple[str, tuple[str | None, ...], str]], end: bool, lunar: bool) -> Yearly:
    items: list[tuple[tuple[int, int] | None, tuple[int, int]]] = []
    months: list[int] = []
    for kind, g, text in tokens:
        if kind in ("date", "monthyear", "year", "yearrange") or (kind == "datelong" and g[2]):
            raise PlanError(f"«{text}» có năm cụ thể, không hợp với «hằng năm»")
        if kind in ("daymonth", "datelong"):
            day, month = int(g[0] or 0), int(g[1] or 0)
            if not lunar:
                _check(day, month, None)
                if (day, month) == (29, 2):
                    raise PlanError("ngày 29/02 không có trong mọi năm; hãy chọn ngày khác")
            elif not (1 <= month <= 12 and 1 <= day <= 30):
                raise PlanError(f"ngày {day}/{month} âm lịch không tồn tại")
            items.append((None, (month, day)))
        elif kind == "month":
            months.append(int(g[0] or 0))
        elif kind == "quarter":
            q = _quarter(g[0])
            items.append(((3 * q - 2, 1), (3 * q, 0)))
    for m in months:
        _check(1, m, None)
    if "từ" in {t for _, _, t in tokens} and len(months) == 2:
        items.append(((months[0], 1), (months[1], 0)))
    else:
        items.extend((None, (m, 0)) if end else ((m, 1), (m, 0)) for m in months)
    if not items:
        items.append((None, (12, 31)) if end else ((1, 1), (12, 31)))
    return Yearly(tuple(items), lunar)


def _quarter(text: str | None) -> int:
    text = text or ""
    return int(text) if text.isdigit() else ROMAN[text]


def _fixed(tokens: list[tuple[str, tuple[str | None, ...], str]], end: bool,
           default_year: int | None) -> Fixed:
    spans: list[tuple[date | None, date]] = []
    years_seen = [int(g[3] if k == "date" else g[1] or 0) for k, g, _ in tokens
                  if k in ("date", "monthyear")]
    year_hint = default_year or (years_seen[-1] if years_seen else None)
    by = False
    for i, (kind, g, text) in enumerate(tokens):
        if kind == "word" and text in ("đến", "tới") and not any(k2 == "word" and t2 == "từ"
                                                              for k2, _, t2 in tokens[:i]):
            by = True  # "đến năm 2025": a target to reach by then
        if kind == "date":
            day, month, year = int(g[0] or 0), int(g[2] or 0), int(g[3] or 0)
            _check(day, month, year)
            spans.append((None, date(year, month, day)))
        elif kind in ("daymonth", "datelong", "day"):
            day = int(g[0] or 0)
            month = int(g[1] or 0) if kind != "day" else 0
            year = int(g[2]) if kind == "datelong" and g[2] else year_hint
            if kind == "day":  # "từ ngày 24 đến 31/7/2022": the month comes later
                month = next((int(g2[1 if k2 == "daymonth" else 2] or 0) for k2, g2, _ in tokens[i + 1:]
                              if k2 in ("daymonth", "date")), 0)
                year = next((int(g2[3] or 0) for k2, g2, _ in tokens[i + 1:] if k2 == "date"), year)
            if not year:
                raise PlanError(f"«{text}» thiếu năm; hãy ghi rõ năm, ví dụ «{day}/{month or 1}/2025»")
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
    words = [t for k, _, t in tokens if k == "word"]
    if "từ" in words and ("đến" in words or "tới" in words):
        if len(spans) != 2:
            raise PlanError("khoảng «từ … đến …» cần đúng hai mốc thời gian")
        (s1, e1), (s2, e2) = spans
        first_day = s1 or e1
        if e2 < first_day:
            raise PlanError("khoảng thời gian kết thúc trước khi bắt đầu")
        return Fixed(((first_day, e2),))
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
