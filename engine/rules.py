"""Recurrence rules and their expansion into nominal occurrences (before any holiday shift).

Each occurrence is `(key, window_start, due)`: the key names the occurrence within its
obligation and stays the same when the date moves ("2024-1" is the first date of 2024,
"2024-Q3" the third quarter, "2024-05" May, "2024-H2" the second half-year), so step ids
survive a plan edit.

>>> for key, start, due in expand(Quarterly("span"), date(2022, 1, 1), date(2022, 6, 30)):
...     print(key, start, due)
2022-Q1 2022-01-01 2022-03-31
2022-Q2 2022-04-01 2022-06-30
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.rrule import rrulestr

from .workdays import InvalidLunarDate, WorkingCalendar, lunar_to_solar

Occurrence = tuple[str, "date | None", date]
MonthDay = tuple[int, int]  # (month, day); day 0 means the last day of the month


@dataclass(frozen=True, slots=True)
class Fixed:
    """Dated once: each item is (window start or None, due date)."""

    items: tuple[tuple[date | None, date], ...]


@dataclass(frozen=True, slots=True)
class Yearly:
    """Every year on these (window start, due) month-days; solar, or lunar when `lunar`.

    `since`: the first year ("trong năm 2024 và các năm tiếp theo"); None, every year.
    """

    items: tuple[tuple[MonthDay | None, MonthDay], ...]
    lunar: bool = False
    since: int | None = None


@dataclass(frozen=True, slots=True)
class Quarterly:
    """Every quarter: "span" (the quarter, due its last day), "start" or "end" (one day)."""

    anchor: str = "span"


@dataclass(frozen=True, slots=True)
class Monthly:
    """Every month: day 1–31 (clamped to the month), -1 the last day, 0 the whole month."""

    day: int = 0


@dataclass(frozen=True, slots=True)
class Weekly:
    """Every week on these ISO weekdays (1 = Monday); none means the whole week, due Sunday."""

    weekdays: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Every:
    """Every `n` weeks, months or years ("định kỳ 6 tháng", "2 năm một lần"), in blocks of
    `n` units counted from `since` or, when it is None, from the week, month or year in
    which the expansion starts (the compiler expands from the plan's start: "from the start
    of the plan"). "span": the block is a window, due its last day; "start" / "end": its
    first / last day alone.

    Keys name the block's first period: "2024" (years), "2024-W03" (weeks), "2024-07"
    (months); blocks of six months that are calendar half-years are "2024-H1" / "2024-H2",
    of three months that are calendar quarters "2024-Q3".
    """

    n: int
    unit: str  # "week" | "month" | "year"
    anchor: str = "span"
    since: date | None = None


@dataclass(frozen=True, slots=True)
class Daily:
    weekdays_only: bool = False


@dataclass(frozen=True, slots=True)
class RRule:
    """An RFC 5545 recurrence rule, for what the phrase grammar does not say."""

    rule: str
    start: date | None = None


@dataclass(frozen=True, slots=True)
class Relative:
    """`n` days, weeks or working days after (before, when `n` < 0) an anchor: a date ("date",
    `on`); the end of each month, quarter or year ("month", "quarter", "year"); Tết, the lunar
    new year ("tet", `on` a year, or None for every year); the plan's date of issue ("issued");
    each occurrence of another obligation ("obligation", `on` its id). The last two need the plan:
    the compiler gives their dates (`shifted`).

    «trong vòng 5 ngày làm việc kể từ ngày 15/3/2025» is `Relative(5, "workday", "date", …)`,
    «chậm nhất 30 ngày sau khi kết thúc quý» `Relative(30, "day", "quarter")`, «trước Tết
    Nguyên đán 2 tuần» `Relative(-2, "week", "tet")`.
    """

    n: int
    unit: str  # "day" | "week" | "workday"
    anchor: str
    on: date | int | str | None = None


Rule = Fixed | Yearly | Quarterly | Monthly | Weekly | Every | Daily | RRule | Relative


def _last(year: int, month: int) -> int:
    return _cal.monthrange(year, month)[1]


def _solar(year: int, md: MonthDay, start: bool = False) -> date:
    month, day = md
    return date(year, month, (1 if start else _last(year, month)) if day == 0 else day)


def _lunar(year: int, md: MonthDay) -> date:
    month, day = md
    try:
        return lunar_to_solar(year, month, day or 30)
    except InvalidLunarDate:
        if day in (0, 30):  # "the 30th" of a 29-day lunar month is its last day
            return lunar_to_solar(year, month, 29)
        raise


def _on(year: int, md: MonthDay, lunar: bool, start: bool = False) -> date:
    return _lunar(year, md) if lunar else _solar(year, md, start)


def on_year(rule: Yearly, year: int) -> Fixed:
    """The dates of a yearly rule in one year (a lunar year for a lunar rule), as a `Fixed`:
    «Rằm tháng Giêng năm 2026» is `Yearly(((None, (1, 15)),), lunar=True)` in 2026."""
    items = []
    for start, due in rule.items:
        day = _on(year, due, rule.lunar)
        begin = _on(year, start, rule.lunar, True) if start else None
        if start and begin and begin > day:
            begin = _on(year - 1, start, rule.lunar, True)
        items.append((begin, day))
    return Fixed(tuple(items))


def _blocks(rule: Every, first: date, last: date) -> list[tuple[str, date, date]]:
    """(key, first day, last day) of the blocks of an `Every` that may end in [first, last]."""
    origin, n = rule.since or first, rule.n
    out: list[tuple[str, date, date]] = []
    if rule.unit == "week":
        begin = origin - timedelta(days=origin.weekday())
        size = 7 * n
        begin += timedelta(days=size * max(0, (first - begin).days // size - 1))
        while begin <= last:
            iso = begin.isocalendar()
            out.append((f"{iso.year}-W{iso.week:02d}", begin, begin + timedelta(days=size - 1)))
            begin += timedelta(days=size)
    elif rule.unit == "month":
        index = origin.year * 12 + origin.month - 1  # months since year 0
        index += n * max(0, (first.year * 12 + first.month - 1 - index) // n - 1)
        while (begin := date(index // 12, index % 12 + 1, 1)) <= last:
            y, m = divmod(index + n - 1, 12)
            month = begin.month
            key = (
                f"{begin.year}-H{(month + 5) // 6}"
                if n == 6 and month in (1, 7)
                else f"{begin.year}-Q{(month + 2) // 3}"
                if n == 3 and month % 3 == 1
                else f"{begin.year}-{month:02d}"
            )
            out.append((key, begin, date(y, m + 1, _last(y, m + 1))))
            index += n
    else:
        year = origin.year + n * max(0, (first.year - origin.year) // n - 1)
        while year <= last.year:
            out.append((str(year), date(year, 1, 1), date(year + n - 1, 12, 31)))
            year += n
    return out


#: More occurrences than this of one RRULE is a mistake (a daily rule runs 27 years in 10,000).
MAX_RRULE_OCCURRENCES = 10_000
#: The RRULE parts the engine takes, each with the range of its values (None: not a number list).
RRULE_PARTS: dict[str, tuple[int, int] | None] = {
    "FREQ": None,
    "INTERVAL": (1, 1000),
    "COUNT": (1, MAX_RRULE_OCCURRENCES),
    "UNTIL": None,
    "WKST": None,
    "BYDAY": None,
    "BYHOUR": (0, 23),
    "BYMONTH": (1, 12),
    "BYMONTHDAY": (1, 31),
    "BYYEARDAY": (1, 366),
    "BYWEEKNO": (1, 53),
    "BYSETPOS": (1, 366),
}
FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")


def check_rrule(text: str) -> None:
    """Refuse, in Vietnamese, what RFC 5545 forbids or the engine cannot use: an unknown part, a
    value out of its range (BYMONTHDAY=45 or 0 would silently give no step, or every day), a
    frequency or part below a day (the time of day goes in «time»).

    >>> check_rrule("FREQ=MONTHLY;BYMONTHDAY=45")
    Traceback (most recent call last):
    ValueError: BYMONTHDAY=45: mỗi giá trị phải từ 1 đến 31 (hoặc -31 đến -1)
    """
    parts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, value = part.partition("=")
        name = name.strip().upper()
        if name in ("BYMINUTE", "BYSECOND"):
            raise ValueError(f"{name}: RRULE theo phút, giây không được hỗ trợ; giờ ghi ở «time»")
        if name not in RRULE_PARTS:
            raise ValueError(
                f"«{name}» không phải một phần của RRULE; dùng: {', '.join(RRULE_PARTS)}"
            )
        if name in parts:
            raise ValueError(f"«{name}» được ghi hai lần")
        parts[name] = value.strip()
        if name in ("BYDAY", "WKST"):
            for item in value.split(","):
                if not re.fullmatch(
                    r"\s*([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)\s*"
                    if name == "BYDAY"
                    else r"\s*(MO|TU|WE|TH|FR|SA|SU)\s*",
                    item,
                    re.IGNORECASE,
                ):
                    raise ValueError(
                        f"{name}={value}: «{item.strip()}» không phải thứ trong tuần "
                        "(MO, TU, WE, TH, FR, SA, SU; BYDAY có thể kèm số: 1MO, -1FR)"
                    )
        bounds = RRULE_PARTS[name]
        if bounds is None:
            continue
        low, high = bounds
        signed = name in ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS")
        for item in value.split(","):
            try:
                number = int(item)
            except ValueError:
                raise ValueError(f"{name}={value}: «{item.strip()}» không phải số nguyên") from None
            if not (low <= number <= high or (signed and -high <= number <= -low)):
                also = f" (hoặc -{high} đến -{low})" if signed else ""
                raise ValueError(f"{name}={value}: mỗi giá trị phải từ {low} đến {high}{also}")
    freq = parts.get("FREQ", "").upper()
    if freq in ("HOURLY", "MINUTELY", "SECONDLY"):
        raise ValueError("RRULE theo giờ, phút, giây không được hỗ trợ; giờ ghi ở «time»")
    if freq not in FREQS:
        raise ValueError(f"FREQ phải là một trong: {', '.join(FREQS)}")


def _move(day: date, rule: Relative, calendar: WorkingCalendar | None) -> date:
    if rule.unit != "workday":
        return day + timedelta(days=rule.n * (7 if rule.unit == "week" else 1))
    calendar = calendar or WorkingCalendar()
    step, left = timedelta(days=1 if rule.n > 0 else -1), abs(rule.n)
    while left:
        day += step
        left -= calendar.is_working_day(day)
    return day


def shifted(
    rule: Relative, anchors: list[tuple[str, date]], calendar: WorkingCalendar | None = None
) -> list[Occurrence]:
    """The occurrences of a relative rule from its anchors' (key, date)."""
    return [(key, None, _move(day, rule, calendar)) for key, day in anchors]


def _anchors(rule: Relative, first: date, last: date) -> list[tuple[str, date]]:
    """The anchor days of a rule that needs no plan, around [first, last]."""
    reach = timedelta(days=abs(rule.n) * (7 if rule.unit == "week" else 2) + 31)
    low, high = first - reach, last + reach
    if rule.anchor == "date":
        return [("1", rule.on)] if isinstance(rule.on, date) else []
    if rule.anchor == "tet":
        years = [rule.on] if isinstance(rule.on, int) else range(low.year, high.year + 1)
        return [(str(y), lunar_to_solar(y, 1, 1)) for y in years if 1900 <= y <= 2100]
    ends: dict[str, Rule] = {
        "month": Monthly(-1),
        "quarter": Quarterly("end"),
        "year": Yearly(((None, (12, 31)),)),
    }
    period = ends.get(rule.anchor)
    if period is None:
        raise ValueError(f"mốc «{rule.anchor}» cần kế hoạch (trình biên dịch tính)")
    return [(key, due) for key, _, due in expand(period, low, high)]


def expand(
    rule: Rule, first: date, last: date, calendar: WorkingCalendar | None = None
) -> list[Occurrence]:
    """The occurrences of `rule` whose due date lies in [first, last], in date order.
    `calendar` counts working days for a `Relative` rule (the default calendar without it)."""
    out: list[Occurrence] = []
    if isinstance(rule, Relative):
        out = shifted(rule, _anchors(rule, first, last), calendar)
    elif isinstance(rule, Fixed):
        out = [(str(i + 1), start, due) for i, (start, due) in enumerate(rule.items)]
    elif isinstance(rule, Yearly):
        many = len(rule.items) > 1
        since = max(first.year - (1 if rule.lunar else 0), rule.since or 0)
        for year in range(since, last.year + 1):
            for i, (start, due) in enumerate(rule.items):
                key = f"{year}-{i + 1}" if many else str(year)
                try:
                    day, begin = _on(year, due, rule.lunar), None
                    if start:  # a window: "từ tháng 9 đến tháng 5" began the year before
                        begin = _on(year, start, rule.lunar, True)
                        if begin > day:
                            begin = _on(year - 1, start, rule.lunar, True)
                except InvalidLunarDate:  # beyond the lunar calendar (solar 1900–2100): none there
                    continue
                out.append((key, begin, day))
    elif isinstance(rule, Quarterly):
        for year in range(first.year, last.year + 1):
            for q in range(1, 5):
                begin, end = date(year, 3 * q - 2, 1), date(year, 3 * q, _last(year, 3 * q))
                key = f"{year}-Q{q}"
                out.append(
                    (key, begin, end)
                    if rule.anchor == "span"
                    else (key, None, begin if rule.anchor == "start" else end)
                )
    elif isinstance(rule, Monthly):
        for year in range(first.year, last.year + 1):
            for month in range(1, 13):
                n = _last(year, month)
                key = f"{year}-{month:02d}"
                if rule.day == 0:
                    out.append((key, date(year, month, 1), date(year, month, n)))
                else:
                    out.append(
                        (key, None, date(year, month, n if rule.day < 0 else min(rule.day, n)))
                    )
    elif isinstance(rule, Weekly):
        monday = first - timedelta(days=first.weekday())
        while monday <= last:
            iso = monday.isocalendar()
            key = f"{iso.year}-W{iso.week:02d}"
            if not rule.weekdays:
                out.append((key, monday, monday + timedelta(days=6)))
            for wd in rule.weekdays:
                day_key = key if len(rule.weekdays) == 1 else f"{key}-{wd}"
                out.append((day_key, None, monday + timedelta(days=wd - 1)))
            monday += timedelta(days=7)
    elif isinstance(rule, Every):
        for key, begin, end in _blocks(rule, first, last):
            out.append(
                (key, begin, end)
                if rule.anchor == "span"
                else (key, None, begin if rule.anchor == "start" else end)
            )
    elif isinstance(rule, Daily):
        day = first
        while day <= last:
            if not rule.weekdays_only or day.weekday() < 5:
                out.append((day.isoformat(), None, day))
            day += timedelta(days=1)
    else:
        check_rrule(rule.rule)
        dtstart = datetime.combine(rule.start or first, datetime.min.time())
        begin = datetime.combine(first, datetime.min.time())
        stop = datetime.combine(last, datetime.max.time())
        days: dict[date, None] = {}  # BYHOUR=8,14: one occurrence per day
        for n, moment in enumerate(rrulestr(rule.rule, dtstart=dtstart)):
            if moment > stop:
                break
            if n >= MAX_RRULE_OCCURRENCES:
                raise ValueError(
                    f"RRULE cho quá {MAX_RRULE_OCCURRENCES:,} lần trong thời gian "
                    "kế hoạch; hãy viết thưa hơn (INTERVAL, COUNT hoặc UNTIL)"
                )
            if moment >= begin:
                days[moment.date()] = None
        out = [(d.isoformat(), None, d) for d in days]
    return sorted((o for o in out if first <= o[2] <= last), key=lambda o: o[2])
