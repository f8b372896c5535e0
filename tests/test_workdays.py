"""Vietnamese working-day calendar and lunar dates: table-driven facts and properties."""

from __future__ import annotations

from datetime import date

import pytest
from holidays.calendars.chinese import _ChineseLunisolar
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.workdays import InvalidLunarDate, ShiftPolicy, WorkingCalendar, lunar_to_solar

CAL = WorkingCalendar()
PREV, NEXT, KEEP = ShiftPolicy.PREVIOUS, ShiftPolicy.NEXT, ShiftPolicy.KEEP


# (day, is a working day) — real facts of the official Vietnamese calendar
WORKING = [
    (date(2025, 1, 30), False, "tet-2025-mung-hai"),
    (date(2025, 1, 27), False, "tet-2025-29-tet"),
    (date(2025, 1, 24), True, "last-workday-before-tet-2025"),
    (date(2025, 2, 3), True, "first-workday-after-tet-2025"),
    (date(2024, 2, 10), False, "tet-2024-on-saturday"),
    (date(2024, 5, 4), True, "make-up-saturday-2024-05-04"),
    (date(2025, 4, 26), True, "make-up-saturday-2025-04-26"),
    (date(2024, 4, 29), False, "swapped-holiday-2024-04-29"),
    (date(2025, 5, 2), False, "swapped-holiday-2025-05-02"),
    (date(2024, 4, 30), False, "reunification-day"),
    (date(2024, 5, 1), False, "labour-day"),
    (date(2024, 9, 2), False, "national-day-2024"),
    (date(2024, 9, 3), False, "national-day-adjacent-2024"),
    (date(2025, 9, 1), False, "national-day-adjacent-2025"),
    (date(2025, 9, 3), True, "after-national-day-2025"),
    (date(2024, 4, 18), False, "hung-kings-2024"),
    (date(2024, 6, 15), False, "ordinary-saturday"),
    (date(2024, 6, 16), False, "ordinary-sunday"),
    (date(2024, 6, 17), True, "ordinary-monday"),
    (date(2024, 12, 31), True, "new-years-eve-is-a-workday"),
    (date(2025, 1, 1), False, "new-year"),
]


@pytest.mark.parametrize(("day", "working"), [w[:2] for w in WORKING], ids=[w[2] for w in WORKING])
def test_is_working_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


# (day, policy, expected)
SHIFTS = [
    (date(2025, 1, 30), NEXT, date(2025, 2, 3), "tet-2025-next"),
    (date(2025, 1, 30), PREV, date(2025, 1, 24), "tet-2025-previous"),
    (date(2025, 1, 30), KEEP, date(2025, 1, 30), "keep-holiday"),
    (date(2024, 6, 15), KEEP, date(2024, 6, 15), "keep-saturday"),
    (date(2024, 6, 15), NEXT, date(2024, 6, 17), "saturday-next"),
    (date(2024, 6, 16), PREV, date(2024, 6, 14), "sunday-previous"),
    (date(2024, 5, 4), NEXT, date(2024, 5, 4), "make-up-saturday-unchanged"),
    (date(2024, 4, 27), NEXT, date(2024, 5, 2), "long-weekend-april-2024"),
    (date(2024, 5, 1), PREV, date(2024, 4, 26), "labour-day-previous"),
    (date(2024, 9, 2), PREV, date(2024, 8, 30), "national-day-previous"),
    (date(2024, 9, 2), NEXT, date(2024, 9, 4), "national-day-next"),
    (date(2022, 12, 31), NEXT, date(2023, 1, 3), "year-end-next"),
    (date(2025, 1, 1), PREV, date(2024, 12, 31), "new-year-previous"),
    (date(2024, 6, 17), PREV, date(2024, 6, 17), "workday-unchanged"),
]


@pytest.mark.parametrize(
    ("day", "policy", "expected"), [s[:3] for s in SHIFTS], ids=[s[3] for s in SHIFTS]
)
def test_shift(day: date, policy: ShiftPolicy, expected: date) -> None:
    assert CAL.shift(day, policy) == expected


def test_shift_accepts_policy_strings() -> None:
    policy = "next_working_day"
    assert CAL.shift(date(2025, 1, 30), policy) == date(2025, 2, 3)  # type: ignore[arg-type]


NAMES = [
    (date(2024, 2, 10), "Tết Nguyên Đán", "tet-2024"),
    (date(2024, 9, 2), "Quốc khánh", "national-day"),
    (date(2024, 4, 18), "Ngày Giỗ Tổ Hùng Vương", "hung-kings"),
    (date(2024, 6, 17), None, "ordinary-day"),
]


@pytest.mark.parametrize(("day", "name"), [n[:2] for n in NAMES], ids=[n[2] for n in NAMES])
def test_holiday_name(day: date, name: str | None) -> None:
    assert CAL.holiday_name(day) == name


def test_holidays_in_year() -> None:
    table = CAL.holidays_in(2024)
    assert list(table) == sorted(table)
    assert all(d.year == 2024 for d in table)
    assert table[date(2024, 2, 10)] == "Tết Nguyên Đán"
    assert date(2024, 5, 4) not in table


def test_extra_holidays_and_workdays() -> None:
    founding, saturday, tet = date(2024, 6, 12), date(2024, 6, 15), date(2024, 2, 12)
    cal = WorkingCalendar({founding: "Ngày thành lập đơn vị"}, [saturday, tet])
    assert not cal.is_working_day(founding)
    assert cal.holiday_name(founding) == "Ngày thành lập đơn vị"
    assert cal.shift(founding, NEXT) == date(2024, 6, 13)
    assert cal.is_working_day(saturday) and cal.is_working_day(tet)
    assert cal.holiday_name(tet) is None
    assert founding in cal.holidays_in(2024) and tet not in cal.holidays_in(2024)
    assert CAL.is_working_day(founding)  # other calendars are not affected


def test_conflicting_extra_days_rejected() -> None:
    day = date(2024, 6, 12)
    with pytest.raises(ValueError):
        WorkingCalendar({day: "x"}, [day])


LUNAR = [
    ((2024, 3, 10), date(2024, 4, 18), "gio-to-2024"),
    ((2007, 1, 1), date(2007, 2, 17), "tet-2007-vietnamese-not-chinese"),
    ((2024, 1, 1), date(2024, 2, 10), "tet-2024"),
    ((2023, 2, 30), date(2023, 3, 21), "30th-of-a-30-day-month"),
    ((2023, 2, 1, True), date(2023, 3, 22), "leap-month-2-2023"),
    ((2025, 6, 1, True), date(2025, 7, 25), "leap-month-6-2025"),
    ((2024, 8, 15), date(2024, 9, 17), "mid-autumn-2024"),
]


@pytest.mark.parametrize(("args", "expected"), [x[:2] for x in LUNAR], ids=[x[2] for x in LUNAR])
def test_lunar_to_solar(args: tuple, expected: date) -> None:
    assert lunar_to_solar(*args) == expected


BAD_LUNAR = [
    ((2024, 12, 30), "chỉ có 29 ngày", "30-tet-2024-does-not-exist"),
    ((2024, 1, 30), "chỉ có 29 ngày", "30th-of-29-day-month"),
    ((2024, 3, 1, True), "không có tháng nhuận", "no-leap-month-in-2024"),
    ((2023, 3, 1, True), "chỉ nhuận tháng 2", "wrong-leap-month-2023"),
    ((2024, 13, 1), "không tồn tại", "month-13"),
    ((2024, 1, 0), "không tồn tại", "day-0"),
    ((1850, 1, 1), "ngoài phạm vi", "before-range"),
    ((2101, 1, 1), "ngoài phạm vi", "after-range"),
]


@pytest.mark.parametrize(
    ("args", "reason"), [x[:2] for x in BAD_LUNAR], ids=[x[2] for x in BAD_LUNAR]
)
def test_invalid_lunar_date(args: tuple, reason: str) -> None:
    with pytest.raises(InvalidLunarDate, match=reason) as info:
        lunar_to_solar(*args)
    assert f"ngày {args[2]}/{args[1]}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_lunar_new_year_matches_holidays_table() -> None:
    table = _ChineseLunisolar("VIETNAMESE_CALENDAR")
    wrong = {
        y: (lunar_to_solar(y, 1, 1), table.lunar_new_year_date(y)[0])
        for y in range(1901, 2100)
        if lunar_to_solar(y, 1, 1) != table.lunar_new_year_date(y)[0]
    }
    assert wrong == {}


@settings(deadline=None, max_examples=300)
@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    policy=st.sampled_from([PREV, NEXT]),
)
def test_shift_lands_on_a_working_day(day: date, policy: ShiftPolicy) -> None:
    shifted = CAL.shift(day, policy)
    assert CAL.is_working_day(shifted)
    assert CAL.shift(day, PREV) <= day <= CAL.shift(day, NEXT)
    if CAL.is_working_day(day):
        assert shifted == day
    else:
        assert CAL.holiday_name(day) is not None or day.weekday() >= 5
