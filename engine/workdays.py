"""Vietnamese working-day calendar: public holidays, official make-up Saturdays, lunar dates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

import holidays
import lunar_vn

_ONE_DAY = timedelta(days=1)
_MAX_SHIFT_DAYS = 366  # a search longer than a year means the calendar has no working day at all


class ShiftPolicy(StrEnum):
    """What to do with a date that is not a working day."""

    KEEP = "keep"
    PREVIOUS = "previous_working_day"
    NEXT = "next_working_day"


class InvalidLunarDate(ValueError):
    """A lunar date that does not exist (or lies outside the supported range)."""


@cache
def _official_year(year: int) -> tuple[dict[date, str], frozenset[date]]:
    """Official holidays of `year` (Vietnamese names) and its official working weekend days."""
    table = holidays.country_holidays("VN", language="vi", years=year)
    names = {day: table[day] for day in sorted(table) if day.year == year}
    workdays = frozenset(day for day in table.weekend_workdays if day.year == year)
    return names, workdays


class WorkingCalendar:
    """Mon–Fri minus Vietnamese public holidays, plus official make-up weekend days.

    `extra_holidays` adds named days off; `extra_workdays` forces days to be working days
    (they win over official holidays and weekends). A date may not be in both.
    """

    def __init__(
        self, extra_holidays: Mapping[date, str] | None = None, extra_workdays: Iterable[date] = ()
    ) -> None:
        self._extra_holidays = dict(extra_holidays or {})
        self._extra_workdays = frozenset(extra_workdays)
        both = sorted(self._extra_holidays.keys() & self._extra_workdays)
        if both:
            listed = ", ".join(d.strftime("%d/%m/%Y") for d in both)
            raise ValueError(f"ngày vừa là ngày nghỉ vừa là ngày làm việc: {listed}")
        self._off: dict[int, frozenset[date]] = {}

    def _off_days(self, year: int) -> frozenset[date]:
        """Every non-working date of `year` (cached per year)."""
        off = self._off.get(year)
        if off is None:
            names, weekend_workdays = _official_year(year)
            days: set[date] = set(names)
            day, end = date(year, 1, 1), date(year, 12, 31)
            while day <= end:
                if day.weekday() >= 5 and day not in weekend_workdays:
                    days.add(day)
                day += _ONE_DAY
            days.update(d for d in self._extra_holidays if d.year == year)
            days.difference_update(self._extra_workdays)
            off = self._off[year] = frozenset(days)
        return off

    def is_working_day(self, day: date) -> bool:
        """True unless `day` is a weekend (not made up), a public or an extra holiday."""
        return day not in self._off_days(day.year)

    def holiday_name(self, day: date) -> str | None:
        """Vietnamese name of the holiday on `day`, or None (also None for an extra workday)."""
        if day in self._extra_workdays:
            return None
        return self._extra_holidays.get(day) or _official_year(day.year)[0].get(day)

    def shift(self, day: date, policy: ShiftPolicy) -> date:
        """`day` itself (keep), or the nearest working day at or before/after it."""
        policy = ShiftPolicy(policy)
        if policy is ShiftPolicy.KEEP:
            return day
        step = _ONE_DAY if policy is ShiftPolicy.NEXT else -_ONE_DAY
        candidate = day
        for _ in range(_MAX_SHIFT_DAYS):
            if candidate not in self._off_days(candidate.year):
                return candidate
            candidate += step
        raise ValueError(f"không tìm thấy ngày làm việc nào gần ngày {day:%d/%m/%Y}")

    def holidays_in(self, year: int) -> dict[date, str]:
        """Named days off of `year` (official and extra), in date order."""
        merged = {**_official_year(year)[0]}
        merged.update((d, n) for d, n in self._extra_holidays.items() if d.year == year)
        return {d: merged[d] for d in sorted(merged) if d not in self._extra_workdays}


def _checked(year: int, month: int, day: int, leap: bool) -> date | None:
    """The library's answer, or None when it fails or does not convert back to the same date."""
    try:
        solar = lunar_vn.convert_lunar_to_solar(day, month, year, int(leap), time_zone=7.0)
        back = lunar_vn.convert_solar_to_lunar(solar.day, solar.month, solar.year, 7.0)
    except ValueError:
        return None
    same = (back.day, back.month, back.year, back.leap) == (day, month, year, leap)
    return solar if same else None


def lunar_to_solar(year: int, month: int, day: int, leap: bool = False) -> date:
    """Solar date of lunar `day`/`month` (`leap`: of the leap month) of lunar `year`, UTC+7."""
    label = f"ngày {day}/{month}{' nhuận' if leap else ''} âm lịch năm {year}"
    if not (1 <= month <= 12 and 1 <= day <= 30):
        raise InvalidLunarDate(f"{label} không tồn tại (tháng 1–12, ngày 1–30)")
    low, high = lunar_vn.SUPPORTED_YEAR_RANGE
    solar = _checked(year, month, day, leap) if low - 1 <= year <= high else None
    if solar is not None:
        return solar
    if low - 1 <= year <= high:
        if leap and _checked(year, month, 1, True) is None:
            leap_months = [m for m in range(1, 13) if _checked(year, m, 1, True)]
            reason = f"chỉ nhuận tháng {leap_months[0]}" if leap_months else "không có tháng nhuận"
            raise InvalidLunarDate(f"{label} không tồn tại (năm {year} âm lịch {reason})")
        if day == 30 and _checked(year, month, 29, leap) is not None:
            raise InvalidLunarDate(
                f"{label} không tồn tại (tháng {month}{' nhuận' if leap else ''} "
                f"âm lịch năm đó chỉ có 29 ngày)"
            )
    raise InvalidLunarDate(f"{label} nằm ngoài phạm vi lịch hỗ trợ (dương lịch {low}–{high})")
