"""expand(rule, first, last) → (key, window start, due), for every rule kind."""

from __future__ import annotations

from datetime import date as D
from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules import Daily, Every, Fixed, Monthly, Quarterly, RRule, Weekly, Yearly, expand

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


def test_yearly_since_starts_in_that_year() -> None:
    # "trong năm 2024 và các năm tiếp theo" in a plan running 2023–2026
    rule = Yearly((((1, 1), (12, 31)),), since=2024)
    assert keys(rule, D(2023, 1, 1), D(2026, 12, 31)) == ["2024", "2025", "2026"]
    assert keys(Yearly(((None, (3, 10)),), lunar=True, since=2025), *Y2024) == []


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


# --- Every (intervals) ---------------------------------------------------------------------------

S = None  # no window start: the anchor is the block's first or last day
EVERY = [
    # six months from a plan starting in January: the calendar half-years
    (
        "6-months-from-january",
        Every(6, "month"),
        D(2024, 1, 1),
        D(2025, 12, 31),
        [
            ("2024-H1", D(2024, 1, 1), D(2024, 6, 30)),
            ("2024-H2", D(2024, 7, 1), D(2024, 12, 31)),
            ("2025-H1", D(2025, 1, 1), D(2025, 6, 30)),
            ("2025-H2", D(2025, 7, 1), D(2025, 12, 31)),
        ],
    ),
    # from a plan starting on 29/4/2022: blocks from April, keyed by their first month
    (
        "6-months-from-april",
        Every(6, "month"),
        D(2022, 4, 29),
        D(2023, 12, 31),
        [
            ("2022-04", D(2022, 4, 1), D(2022, 9, 30)),
            ("2022-10", D(2022, 10, 1), D(2023, 3, 31)),
            ("2023-04", D(2023, 4, 1), D(2023, 9, 30)),
        ],
    ),
    (
        "6-months-end",
        Every(6, "month", "end"),
        D(2024, 1, 1),
        D(2024, 12, 31),
        [("2024-H1", S, D(2024, 6, 30)), ("2024-H2", S, D(2024, 12, 31))],
    ),
    (
        "6-months-start",
        Every(6, "month", "start"),
        D(2024, 1, 1),
        D(2024, 12, 31),
        [("2024-H1", S, D(2024, 1, 1)), ("2024-H2", S, D(2024, 7, 1))],
    ),
    (
        "3-months-calendar-quarters",
        Every(3, "month"),
        D(2024, 1, 1),
        D(2024, 6, 30),
        [("2024-Q1", D(2024, 1, 1), D(2024, 3, 31)), ("2024-Q2", D(2024, 4, 1), D(2024, 6, 30))],
    ),
    (
        "3-months-from-february",
        Every(3, "month", "end"),
        D(2024, 2, 1),
        D(2024, 12, 31),
        [
            ("2024-02", S, D(2024, 4, 30)),
            ("2024-05", S, D(2024, 7, 31)),
            ("2024-08", S, D(2024, 10, 31)),
        ],
    ),
    # a block of two years is a window due its last day; the last block ends after the plan
    (
        "2-years",
        Every(2, "year"),
        D(2024, 1, 1),
        D(2030, 12, 31),
        [
            ("2024", D(2024, 1, 1), D(2025, 12, 31)),
            ("2026", D(2026, 1, 1), D(2027, 12, 31)),
            ("2028", D(2028, 1, 1), D(2029, 12, 31)),
        ],
    ),
    (
        "2-years-since-2025",
        Every(2, "year", since=D(2025, 1, 1)),
        D(2024, 1, 1),
        D(2030, 12, 31),
        [
            ("2025", D(2025, 1, 1), D(2026, 12, 31)),
            ("2027", D(2027, 1, 1), D(2028, 12, 31)),
            ("2029", D(2029, 1, 1), D(2030, 12, 31)),
        ],
    ),
    (
        "2-years-end",
        Every(2, "year", "end"),
        D(2013, 1, 1),
        D(2017, 12, 31),
        [("2013", S, D(2014, 12, 31)), ("2015", S, D(2016, 12, 31))],
    ),
    # weeks from the Monday of the plan's first week, keyed by the block's first ISO week
    (
        "2-weeks",
        Every(2, "week"),
        D(2024, 1, 3),
        D(2024, 2, 11),
        [
            ("2024-W01", D(2024, 1, 1), D(2024, 1, 14)),
            ("2024-W03", D(2024, 1, 15), D(2024, 1, 28)),
            ("2024-W05", D(2024, 1, 29), D(2024, 2, 11)),
        ],
    ),
    (
        "2-weeks-start",
        Every(2, "week", "start"),
        D(2024, 1, 3),
        D(2024, 1, 31),
        [("2024-W03", S, D(2024, 1, 15)), ("2024-W05", S, D(2024, 1, 29))],
    ),
    (
        "2-weeks-across-new-year",
        Every(2, "week", "end"),
        D(2024, 12, 16),
        D(2025, 1, 31),
        [
            ("2024-W51", S, D(2024, 12, 29)),
            ("2025-W01", S, D(2025, 1, 12)),
            ("2025-W03", S, D(2025, 1, 26)),
        ],
    ),
]


@pytest.mark.parametrize(
    ("rule", "first", "last", "expected"), [e[1:] for e in EVERY], ids=[e[0] for e in EVERY]
)
def test_every(rule: Every, first: D, last: D, expected: list[tuple[str, D | None, D]]) -> None:
    assert expand(rule, first, last) == expected


def test_every_counts_from_where_the_expansion_starts_unless_given_a_start() -> None:
    # the compiler expands from the plan's start: "định kỳ 6 tháng" counts from it
    assert keys(Every(6, "month"), D(2024, 3, 1), D(2024, 12, 31)) == ["2024-03"]
    assert keys(Every(6, "month", since=D(2024, 1, 1)), D(2024, 3, 1), D(2024, 12, 31)) == [
        "2024-H1",
        "2024-H2",
    ]


@pytest.mark.parametrize("unit", ["week", "month", "year"])
def test_every_far_from_its_start_keeps_its_phase(unit: str) -> None:
    origin = D(1900, 1, 1)  # a Monday
    for first in (D(2099, 12, 20), D(2100, 3, 1), D(2100, 11, 30)):
        out = expand(Every(3, unit, since=origin), first, D(2120, 12, 31))
        begin = out[0][1]
        assert begin is not None and begin <= out[0][2]
        if unit == "week":
            assert (begin - origin).days % 21 == 0
        elif unit == "month":
            assert (begin.year * 12 + begin.month - 1 - 1900 * 12) % 3 == 0 and begin.day == 1
        else:
            assert (begin.year - 1900) % 3 == 0 and (begin.month, begin.day) == (1, 1)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 30),
    st.sampled_from(["week", "month", "year"]),
    st.dates(D(2000, 1, 1), D(2030, 12, 31)),
    st.integers(0, 3000),
)
def test_every_span_blocks_tile_the_calendar(n: int, unit: str, first: D, days: int) -> None:
    last = first + timedelta(days=days)
    out = expand(Every(n, unit), first, last)
    assert len({k for k, _, _ in out}) == len(out)
    assert all(first <= due <= last for _, _, due in out)
    for (_, b1, e1), (_, b2, _) in pairwise(out):
        assert b1 is not None and b2 is not None and e1 + timedelta(days=1) == b2
    for _, begin, end in out:
        assert begin is not None
        after = end + timedelta(days=1)
        if unit == "week":
            assert begin.isoweekday() == 1 and (after - begin).days == 7 * n
        elif unit == "month":
            assert begin.day == after.day == 1
            assert (after.year - begin.year) * 12 + after.month - begin.month == n
        else:
            assert (begin.month, begin.day) == (after.month, after.day) == (1, 1)
            assert after.year - begin.year == n


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
    Every(6, "month", since=D(2023, 1, 1)),
    Every(5, "month", "end", since=D(2021, 8, 1)),
    Every(2, "year", since=D(2022, 1, 1)),
    Every(3, "week", "start", since=D(2023, 6, 7)),
    Yearly((((6, 1), (8, 0)),), since=2024),
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
