"""expand(rule, first, last) → (key, window start, due), for every rule kind."""

from __future__ import annotations

from datetime import date as D
from datetime import timedelta

import pytest

from engine.rules import Daily, Fixed, Monthly, Quarterly, RRule, Weekly, Yearly, expand

Y2024 = (D(2024, 1, 1), D(2024, 12, 31))


def dues(rule, first: D, last: D) -> list[D]:  # type: ignore[no-untyped-def]
    return [due for _, _, due in expand(rule, first, last)]


def keys(rule, first: D, last: D) -> list[str]:  # type: ignore[no-untyped-def]
    return [key for key, _, _ in expand(rule, first, last)]


# --- Fixed -------------------------------------------------------------------------------------


def test_fixed_keys_are_positions_and_dates_sorted() -> None:
    rule = Fixed(((None, D(2022, 7, 31)), (D(2022, 7, 1), D(2022, 7, 24))))
    assert expand(rule, D(2022, 1, 1), D(2022, 12, 31)) == [
        ("2", D(2022, 7, 1), D(2022, 7, 24)),
        ("1", None, D(2022, 7, 31)),
    ]


def test_fixed_outside_the_range_is_dropped_bounds_inclusive() -> None:
    rule = Fixed(((None, D(2022, 5, 19)), (None, D(2022, 5, 20))))
    assert keys(rule, D(2022, 5, 19), D(2022, 5, 19)) == ["1"]
    assert keys(rule, D(2022, 5, 20), D(2022, 12, 31)) == ["2"]
    assert expand(rule, D(2023, 1, 1), D(2023, 12, 31)) == []


# --- Yearly (solar) ------------------------------------------------------------------------------


def test_yearly_two_dates_a_year() -> None:
    rule = Yearly(((None, (1, 30)), (None, (8, 30))))
    assert expand(rule, D(2023, 1, 1), D(2024, 12, 31)) == [
        ("2023-1", None, D(2023, 1, 30)),
        ("2023-2", None, D(2023, 8, 30)),
        ("2024-1", None, D(2024, 1, 30)),
        ("2024-2", None, D(2024, 8, 30)),
    ]


def test_yearly_one_date_is_keyed_by_year_alone() -> None:
    assert expand(Yearly(((None, (11, 30)),)), D(2023, 6, 1), D(2025, 6, 1)) == [
        ("2023", None, D(2023, 11, 30)),
        ("2024", None, D(2024, 11, 30)),
    ]


def test_yearly_items_come_out_in_date_order_with_their_keys() -> None:
    rule = Yearly(((None, (8, 30)), (None, (1, 30))))
    assert expand(rule, *Y2024) == [
        ("2024-2", None, D(2024, 1, 30)),
        ("2024-1", None, D(2024, 8, 30)),
    ]


def test_yearly_phase_window_month_zero_is_last_day() -> None:
    rule = Yearly((((1, 1), (5, 0)), ((9, 1), (12, 0))))
    assert expand(rule, *Y2024) == [
        ("2024-1", D(2024, 1, 1), D(2024, 5, 31)),
        ("2024-2", D(2024, 9, 1), D(2024, 12, 31)),
    ]


def test_yearly_whole_february_follows_leap_years() -> None:
    rule = Yearly((((2, 1), (2, 0)),))
    assert dues(rule, D(2023, 1, 1), D(2024, 12, 31)) == [D(2023, 2, 28), D(2024, 2, 29)]


def test_yearly_window_across_new_year_began_the_year_before() -> None:
    # "từ tháng 9 đến tháng 5 hằng năm" (a school year)
    assert expand(Yearly((((9, 1), (5, 0)),)), D(2023, 1, 1), D(2024, 12, 31)) == [
        ("2023", D(2022, 9, 1), D(2023, 5, 31)),
        ("2024", D(2023, 9, 1), D(2024, 5, 31)),
    ]


def test_yearly_window_start_is_never_after_due() -> None:
    for start, due in [
        ((1, 1), (12, 31)),
        ((9, 1), (5, 0)),
        ((6, 15), (6, 15)),
        ((12, 1), (1, 31)),
    ]:
        for _, begin, day in expand(Yearly(((start, due),)), D(2020, 1, 1), D(2030, 12, 31)):
            assert begin is not None and begin <= day and (day - begin).days < 366


def test_yearly_only_due_dates_in_range_count() -> None:
    rule = Yearly(((None, (1, 30)), (None, (8, 30))))
    assert keys(rule, D(2023, 2, 1), D(2024, 1, 30)) == ["2023-2", "2024-1"]


# --- Yearly (lunar) ------------------------------------------------------------------------------


def test_gio_to_hung_vuong() -> None:
    """10/3 âm lịch: Giỗ Tổ Hùng Vương, 18/04/2024 and 07/04/2025."""
    rule = Yearly(((None, (3, 10)),), lunar=True)
    assert expand(rule, D(2024, 1, 1), D(2025, 12, 31)) == [
        ("2024", None, D(2024, 4, 18)),
        ("2025", None, D(2025, 4, 7)),
    ]


def test_lunar_late_in_the_lunar_year_falls_in_the_next_solar_year() -> None:
    # 23 tháng Chạp (ông Công ông Táo) of lunar 2024 is 22/01/2025
    rule = Yearly(((None, (12, 23)),), lunar=True)
    assert expand(rule, D(2025, 1, 1), D(2025, 12, 31)) == [("2024", None, D(2025, 1, 22))]
    assert keys(rule, D(2024, 1, 1), D(2025, 12, 31)) == ["2023", "2024"]


def test_lunar_thirtieth_of_a_29_day_month_is_its_last_day() -> None:
    rule = Yearly(((None, (2, 30)),), lunar=True)  # lunar month 2 of 2022 has 29 days
    assert dues(rule, D(2022, 1, 1), D(2022, 12, 31)) == [D(2022, 3, 31)]


def test_lunar_month_window() -> None:
    # tháng Giêng âm lịch 2025: 29/01/2025 (Tết) … 27/02/2025
    assert expand(Yearly((((1, 1), (1, 0)),), lunar=True), D(2025, 1, 1), D(2025, 12, 31)) == [
        ("2025", D(2025, 1, 29), D(2025, 2, 27))
    ]


# --- Quarterly -----------------------------------------------------------------------------------


def test_quarterly_span() -> None:
    assert expand(Quarterly("span"), *Y2024) == [
        ("2024-Q1", D(2024, 1, 1), D(2024, 3, 31)),
        ("2024-Q2", D(2024, 4, 1), D(2024, 6, 30)),
        ("2024-Q3", D(2024, 7, 1), D(2024, 9, 30)),
        ("2024-Q4", D(2024, 10, 1), D(2024, 12, 31)),
    ]


def test_quarterly_start_and_end() -> None:
    assert expand(Quarterly("start"), *Y2024)[1] == ("2024-Q2", None, D(2024, 4, 1))
    assert expand(Quarterly("end"), *Y2024)[1] == ("2024-Q2", None, D(2024, 6, 30))


def test_quarterly_from_late_april_keeps_q2_to_q4() -> None:
    # the cluster plan of 2022 starts on 29/4: the visits of Q2, Q3 and Q4 are kept
    assert keys(Quarterly("span"), D(2022, 4, 29), D(2022, 12, 31)) == [
        "2022-Q2",
        "2022-Q3",
        "2022-Q4",
    ]
    assert keys(Quarterly("start"), D(2022, 4, 29), D(2022, 12, 31)) == ["2022-Q3", "2022-Q4"]


# --- Monthly -------------------------------------------------------------------------------------


def test_monthly_whole_month() -> None:
    out = expand(Monthly(0), *Y2024)
    assert len(out) == 12
    assert out[1] == ("2024-02", D(2024, 2, 1), D(2024, 2, 29))


def test_monthly_last_day() -> None:
    assert dues(Monthly(-1), D(2023, 1, 1), D(2023, 4, 30)) == [
        D(2023, 1, 31),
        D(2023, 2, 28),
        D(2023, 3, 31),
        D(2023, 4, 30),
    ]


@pytest.mark.parametrize(("year", "february"), [(2023, D(2023, 2, 28)), (2024, D(2024, 2, 29))])
def test_monthly_31_is_clamped_to_the_month(year: int, february: D) -> None:
    out = expand(Monthly(31), D(year, 1, 1), D(year, 12, 31))
    assert out[1] == (f"{year}-02", None, february)
    assert [d.day for _, _, d in out] == [31, february.day, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_monthly_fifteenth_keys() -> None:
    assert expand(Monthly(15), D(2024, 11, 16), D(2025, 1, 15)) == [
        ("2024-12", None, D(2024, 12, 15)),
        ("2025-01", None, D(2025, 1, 15)),
    ]


# --- Weekly --------------------------------------------------------------------------------------


def test_weekly_friday_and_sunday() -> None:
    out = expand(Weekly((5, 7)), D(2024, 5, 1), D(2024, 5, 12))
    assert out == [
        ("2024-W18-5", None, D(2024, 5, 3)),
        ("2024-W18-7", None, D(2024, 5, 5)),
        ("2024-W19-5", None, D(2024, 5, 10)),
        ("2024-W19-7", None, D(2024, 5, 12)),
    ]
    assert all(due.isoweekday() in (5, 7) for _, _, due in out)


def test_weekly_one_day_is_keyed_by_week() -> None:
    assert expand(Weekly((1,)), D(2024, 5, 1), D(2024, 5, 14)) == [
        ("2024-W19", None, D(2024, 5, 6)),
        ("2024-W20", None, D(2024, 5, 13)),
    ]


def test_weekly_whole_week_due_sunday() -> None:
    assert expand(Weekly(()), D(2024, 5, 6), D(2024, 5, 12)) == [
        ("2024-W19", D(2024, 5, 6), D(2024, 5, 12))
    ]


def test_weeks_across_year_ends_use_iso_weeks() -> None:
    # Monday 30/12/2024 starts ISO week 2025-W01; Monday 28/12/2020 is in 2020-W53
    assert expand(Weekly((1, 5)), D(2024, 12, 28), D(2025, 1, 5)) == [
        ("2025-W01-1", None, D(2024, 12, 30)),
        ("2025-W01-5", None, D(2025, 1, 3)),
    ]
    assert expand(Weekly((7,)), D(2020, 12, 25), D(2021, 1, 10)) == [
        ("2020-W52", None, D(2020, 12, 27)),
        ("2020-W53", None, D(2021, 1, 3)),
        ("2021-W01", None, D(2021, 1, 10)),
    ]


def test_weekly_keys_unique_over_years() -> None:
    out = expand(Weekly((1, 5, 7)), D(2019, 1, 1), D(2027, 12, 31))
    assert len({k for k, _, _ in out}) == len(out)
    assert [d for _, _, d in out] == sorted(d for _, _, d in out)


# --- Daily ---------------------------------------------------------------------------------------


def test_daily() -> None:
    assert keys(Daily(), D(2024, 2, 28), D(2024, 3, 1)) == [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]


def test_daily_weekdays_only() -> None:
    out = dues(Daily(weekdays_only=True), D(2024, 5, 1), D(2024, 5, 31))
    assert len(out) == 23 and all(d.isoweekday() <= 5 for d in out)


# --- RRule ---------------------------------------------------------------------------------------


def test_rrule_last_day_of_month() -> None:
    assert expand(RRule("FREQ=MONTHLY;BYMONTHDAY=-1"), D(2024, 1, 1), D(2024, 3, 31)) == [
        ("2024-01-31", None, D(2024, 1, 31)),
        ("2024-02-29", None, D(2024, 2, 29)),
        ("2024-03-31", None, D(2024, 3, 31)),
    ]


def test_rrule_start_and_count() -> None:
    rule = RRule("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;COUNT=3", start=D(2024, 5, 1))
    assert dues(rule, D(2024, 1, 1), D(2024, 12, 31)) == [
        D(2024, 5, 3),
        D(2024, 5, 17),
        D(2024, 5, 31),
    ]
    assert dues(rule, D(2024, 5, 10), D(2024, 12, 31)) == [D(2024, 5, 17), D(2024, 5, 31)]


def test_rrule_several_times_a_day_is_one_occurrence_per_day() -> None:
    assert keys(RRule("FREQ=DAILY;BYHOUR=8,14"), D(2024, 1, 1), D(2024, 1, 2)) == [
        "2024-01-01",
        "2024-01-02",
    ]


@pytest.mark.parametrize("freq", ["HOURLY", "MINUTELY", "SECONDLY"])
def test_rrule_below_a_day_is_refused(freq: str) -> None:
    with pytest.raises(ValueError, match="không được hỗ trợ"):
        expand(RRule(f"FREQ={freq}"), D(2024, 1, 1), D(2024, 1, 2))


# --- all rules -----------------------------------------------------------------------------------

ALL = [
    Fixed(((None, D(2024, 3, 1)),)),
    Yearly(((None, (1, 30)), (None, (8, 30)))),
    Yearly((((9, 1), (5, 0)),)),
    Yearly(((None, (3, 10)),), lunar=True),
    Quarterly("span"),
    Quarterly("end"),
    Monthly(0),
    Monthly(31),
    Monthly(-1),
    Weekly(()),
    Weekly((5, 7)),
    Daily(),
    RRule("FREQ=MONTHLY;BYDAY=1MO"),
]


@pytest.mark.parametrize("rule", ALL, ids=[repr(r) for r in ALL])
def test_every_rule_sorted_unique_in_range(rule) -> None:  # type: ignore[no-untyped-def]
    first, last = D(2023, 12, 20), D(2025, 1, 10)
    out = expand(rule, first, last)
    assert out
    assert [d for _, _, d in out] == sorted(d for _, _, d in out)
    assert len({k for k, _, _ in out}) == len(out)
    assert all(first <= d <= last and (s is None or s <= d) for _, s, d in out)
    # a narrower range gives the same occurrences, keys included
    narrow = expand(rule, first + timedelta(days=40), last - timedelta(days=40))
    assert set(narrow) <= set(out)


@pytest.mark.parametrize(
    ("first", "last"), [(D(1900, 1, 1), D(1900, 12, 31)), (D(2100, 1, 1), D(2100, 12, 31))]
)
def test_lunar_at_the_edges_of_the_lunar_calendar(first: D, last: D) -> None:
    # the lunar year before 1900 and the end of lunar 2100 (in solar 2101) are not known: none there
    for month in (1, 6, 12):
        out = expand(Yearly(((None, (month, 15)),), lunar=True), first, last)
        assert all(first <= due <= last for _, _, due in out)
    assert dues(Yearly(((None, (3, 10)),), lunar=True), first, last)[0].year == first.year
