"""The Vietnamese `when:` grammar, table-driven: phrase → exact rule, clock time, tentative."""

from __future__ import annotations

import unicodedata
from datetime import date as D
from datetime import time as T

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import PlanError
from engine.phrases import Schedule, parse_clock, parse_day, parse_when
from engine.rules import Daily, Every, Fixed, Monthly, Quarterly, Relative, RRule, Weekly, Yearly


def day(y: int, m: int, d: int) -> Fixed:
    return Fixed(((None, D(y, m, d)),))


def month(y: int, m: int, last: int) -> Fixed:
    return Fixed(((D(y, m, 1), D(y, m, last)),))


# (phrase as the plan writes it, default year, expected schedule)
SEEDS = [
    # 000 — Cụm Hành chính – Sự nghiệp 2022
    ("08g00, ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(8, 0))),
    ("Ngày 13/5/2022", None, Schedule(day(2022, 5, 13))),
    ("Dự kiến tháng 7 năm 2022", None, Schedule(month(2022, 7, 31), tentative=True)),
    ("Ngày 24/7/2022", None, Schedule(day(2022, 7, 24))),
    ("Ngày 31/7/2022", None, Schedule(day(2022, 7, 31))),
    ("Dự kiến tháng 9 năm 2022", None, Schedule(month(2022, 9, 30), tentative=True)),
    ("định kỳ hằng quý", None, Schedule(Quarterly("span"))),
    ("Tháng 11 năm 2022", None, Schedule(month(2022, 11, 30))),
    # 001 — Bình Tân 2023–2028
    ("vào ngày 30/01 và 30/8 hàng năm", None, Schedule(Yearly(((None, (1, 30)), (None, (8, 30)))))),
    ("vào 30/5 và 30/11 hàng năm", None, Schedule(Yearly(((None, (5, 30)), (None, (11, 30)))))),
    ("Đợt 01: từ tháng 01 đến tháng 5 hàng năm", None, Schedule(Yearly((((1, 1), (5, 0)),)))),
    ("Đợt 02 từ tháng 9 đến tháng 12 hàng năm", None, Schedule(Yearly((((9, 1), (12, 0)),)))),
    ("Tháng 02/2024", None, Schedule(month(2024, 2, 29))),
    ("Tháng 3/2024", None, Schedule(month(2024, 3, 31))),
    ("Tháng 11 hàng năm", None, Schedule(Yearly((((11, 1), (11, 0)),)))),
    ("Tháng 04/2028", None, Schedule(month(2028, 4, 30))),
    ("giai đoạn 2023 - 2028", None, Schedule(Fixed(((D(2023, 1, 1), D(2028, 12, 31)),)))),
    ("Hằng năm", None, Schedule(Yearly((((1, 1), (12, 31)),)))),
    # 002 — Sìn Hồ 2024–2030
    ("Đến năm 2025", None, Schedule(day(2025, 12, 31))),
    ("Đến năm 2030", None, Schedule(day(2030, 12, 31))),
    ("Năm 2024", None, Schedule(Fixed(((D(2024, 1, 1), D(2024, 12, 31)),)))),
    ("Giai đoạn 1: Từ năm 2024 - 2025", None, Schedule(Fixed(((D(2024, 1, 1), D(2025, 12, 31)),)))),
    ("Giai đoạn 2: Từ năm 2026 - 2030", None, Schedule(Fixed(((D(2026, 1, 1), D(2030, 12, 31)),)))),
    # 003 — Mạo Khê 2021
    ("mỗi năm 4 lần vào cuối các quý", None, Schedule(Quarterly("end"))),
    ("Định kỳ hàng tháng", None, Schedule(Monthly(0))),
    ("cuối hàng tháng", None, Schedule(Monthly(-1))),
    ("chiều thứ 6 và chủ nhật hàng tuần", None, Schedule(Weekly((5, 7)), T(14, 0))),
    ("buổi chiều hằng ngày trong tuần", None, Schedule(Daily(weekdays_only=True), T(14, 0))),
    ("Năm 2021", None, Schedule(Fixed(((D(2021, 1, 1), D(2021, 12, 31)),)))),
    # 004 — Kiên Giang 2013–2017
    ("Định kỳ 01 năm", None, Schedule(Yearly((((1, 1), (12, 31)),)))),
    ("Hàng năm", None, Schedule(Yearly((((1, 1), (12, 31)),)))),
    ("giai đoạn 2013 - 2017", None, Schedule(Fixed(((D(2013, 1, 1), D(2017, 12, 31)),)))),
    ("Đến năm 2017", None, Schedule(day(2017, 12, 31))),
    # DOMAIN.md: holidays and long dates
    ("ngày 10/3 âm lịch hằng năm", None, Schedule(Yearly(((None, (3, 10)),), lunar=True))),
    ("ngày 02 tháng 9 năm 2024", None, Schedule(day(2024, 9, 2))),
]

VARIANTS = [
    # "hằng" and "hàng" are the same word
    ("vào ngày 30/01 và 30/8 hằng năm", None, Schedule(Yearly(((None, (1, 30)), (None, (8, 30)))))),
    ("định kỳ hàng quý", None, Schedule(Quarterly("span"))),
    ("cuối hằng tháng", None, Schedule(Monthly(-1))),
    ("chiều thứ 6 và chủ nhật hằng tuần", None, Schedule(Weekly((5, 7)), T(14, 0))),
    ("hàng ngày", None, Schedule(Daily())),
    # upper case, non-breaking and odd spaces, a final full stop
    ("ĐỊNH KỲ HẰNG QUÝ", None, Schedule(Quarterly("span"))),
    ("VÀO NGÀY 30/01 VÀ 30/8 HÀNG NĂM", None, Schedule(Yearly(((None, (1, 30)), (None, (8, 30)))))),
    ("08g00,\u00a0ngày\u00a019/5/2022.", None, Schedule(day(2022, 5, 19), T(8, 0))),
    ("Tháng\u202f11  năm\t2022", None, Schedule(month(2022, 11, 30))),
    # clock times
    ("8h00 ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(8, 0))),
    ("8h ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(8, 0))),
    ("14h30, ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(14, 30))),
    ("7 giờ 30 ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(7, 30))),
    ("7 giờ 30 phút, ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(7, 30))),
    ("7g30 ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(7, 30))),
    ("lúc 2 giờ chiều ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(14, 0))),
    ("7 giờ tối ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(19, 0))),
    ("8 giờ sáng ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(8, 0))),
    ("sáng ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(8, 0))),
    ("19:00 ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(19, 0))),
    # separators and long dates
    ("19-5-2022", None, Schedule(day(2022, 5, 19))),
    ("19.5.2022", None, Schedule(day(2022, 5, 19))),
    ("ngày 19 tháng 5 năm 2022", None, Schedule(day(2022, 5, 19))),
    (
        "ngày 24/7/2022 và 31/7/2022",
        None,
        Schedule(Fixed(((None, D(2022, 7, 24)), (None, D(2022, 7, 31))))),
    ),
    (
        "ngày 24 tháng 7 và ngày 31 tháng 7 năm 2022",
        None,
        Schedule(Fixed(((None, D(2022, 7, 24)), (None, D(2022, 7, 31))))),
    ),
    # a year from the plan, or from the phrase itself (which wins)
    ("ngày 19/5", 2022, Schedule(day(2022, 5, 19))),
    ("tháng 9", 2022, Schedule(month(2022, 9, 30))),
    (
        "ngày 24/7 và 31/7/2022",
        None,
        Schedule(Fixed(((None, D(2022, 7, 24)), (None, D(2022, 7, 31))))),
    ),
    (
        "ngày 24/7 và 31/7/2022",
        2021,
        Schedule(Fixed(((None, D(2022, 7, 24)), (None, D(2022, 7, 31))))),
    ),
    (
        "tháng 7 và tháng 9 năm 2022",
        None,
        Schedule(Fixed(((D(2022, 7, 1), D(2022, 7, 31)), (D(2022, 9, 1), D(2022, 9, 30))))),
    ),
    # quarters, Roman or Arabic
    ("quý III năm 2023", None, Schedule(Fixed(((D(2023, 7, 1), D(2023, 9, 30)),)))),
    ("Quý IV/2023", None, Schedule(Fixed(((D(2023, 10, 1), D(2023, 12, 31)),)))),
    ("quý 1 năm 2024", None, Schedule(Fixed(((D(2024, 1, 1), D(2024, 3, 31)),)))),
    ("cuối quý II năm 2024", None, Schedule(day(2024, 6, 30))),
    (
        "quý I và quý II năm 2023",
        None,
        Schedule(Fixed(((D(2023, 1, 1), D(2023, 3, 31)), (D(2023, 4, 1), D(2023, 6, 30))))),
    ),
    ("quý II", 2024, Schedule(Fixed(((D(2024, 4, 1), D(2024, 6, 30)),)))),
    # ranges: one window from the first day to the last
    ("từ ngày 01/6 đến ngày 31/8/2022", None, Schedule(Fixed(((D(2022, 6, 1), D(2022, 8, 31)),)))),
    ("ngày 01/6 đến ngày 31/8/2022", None, Schedule(Fixed(((D(2022, 6, 1), D(2022, 8, 31)),)))),
    # "từ 24 đến 31/7/2022": the bare 24 takes its month and year from the end of the range
    ("từ 24 đến 31/7/2022", None, Schedule(Fixed(((D(2022, 7, 24), D(2022, 7, 31)),)))),
    ("từ ngày 24 đến 31/7/2022", None, Schedule(Fixed(((D(2022, 7, 24), D(2022, 7, 31)),)))),
    (
        "từ ngày 24 đến ngày 31 tháng 7 năm 2022",
        None,
        Schedule(Fixed(((D(2022, 7, 24), D(2022, 7, 31)),))),
    ),
    ("từ tháng 7 đến tháng 9 năm 2022", None, Schedule(Fixed(((D(2022, 7, 1), D(2022, 9, 30)),)))),
    ("từ 2023 đến 2028", None, Schedule(Fixed(((D(2023, 1, 1), D(2028, 12, 31)),)))),
    # by a date: a single due date
    ("đến ngày 31/8/2022", None, Schedule(day(2022, 8, 31))),
    ("chậm nhất ngày 30/5/2022", None, Schedule(day(2022, 5, 30))),
    ("hạn chót: trước ngày 30/5/2022", None, Schedule(day(2022, 5, 30))),
    ("cuối tháng 6 năm 2022", None, Schedule(day(2022, 6, 30))),
    ("cuối năm 2022", None, Schedule(day(2022, 12, 31))),
    # monthly
    ("ngày 15 hằng tháng", None, Schedule(Monthly(15))),
    ("ngày 31 hàng tháng", None, Schedule(Monthly(31))),
    ("đầu hằng tháng", None, Schedule(Monthly(1))),
    ("mỗi tháng", None, Schedule(Monthly(0))),
    # quarterly
    ("cuối hằng quý", None, Schedule(Quarterly("end"))),
    ("đầu mỗi quý", None, Schedule(Quarterly("start"))),
    # weekly
    ("thứ hai hằng tuần", None, Schedule(Weekly((1,)))),
    ("sáng thứ Bảy hằng tuần", None, Schedule(Weekly((6,)), T(8, 0))),
    ("chủ nhật hàng tuần", None, Schedule(Weekly((7,)))),
    ("8h00 thứ 2 hằng tuần", None, Schedule(Weekly((1,)), T(8, 0))),
    ("từ thứ 2 đến thứ 6 hằng tuần", None, Schedule(Weekly((1, 2, 3, 4, 5)))),
    ("mỗi tuần 2 lần vào thứ 3 và thứ 5", None, Schedule(Weekly((2, 4)))),
    ("hằng tuần", None, Schedule(Weekly(()))),
    # daily
    ("hằng ngày", None, Schedule(Daily())),
    ("hằng ngày làm việc", None, Schedule(Daily(weekdays_only=True))),
    # yearly
    ("tháng 3 và tháng 9 hằng năm", None, Schedule(Yearly((((3, 1), (3, 0)), ((9, 1), (9, 0)))))),
    ("cuối tháng 6 hằng năm", None, Schedule(Yearly(((None, (6, 0)),)))),
    ("quý I và quý III hằng năm", None, Schedule(Yearly((((1, 1), (3, 0)), ((7, 1), (9, 0)))))),
    ("vào cuối mỗi năm", None, Schedule(Yearly(((None, (12, 31)),)))),
    ("ngày 26 tháng 3 hằng năm", None, Schedule(Yearly(((None, (3, 26)),)))),
    ("từ ngày 01/6 đến ngày 31/8 hằng năm", None, Schedule(Yearly((((6, 1), (8, 31)),)))),
    ("từ tháng 9 đến tháng 5 hằng năm", None, Schedule(Yearly((((9, 1), (5, 0)),)))),
    (
        "mỗi năm 2 lần vào 30/5 và 30/11",
        None,
        Schedule(Yearly(((None, (5, 30)), (None, (11, 30))))),
    ),
    ("ngày 23 tháng 12 âm lịch hằng năm", None, Schedule(Yearly(((None, (12, 23)),), lunar=True))),
    ("tháng 1 âm lịch hằng năm", None, Schedule(Yearly((((1, 1), (1, 0)),), lunar=True))),
    # as written in plans/*.yaml
    ("Trong năm 2021", None, Schedule(Fixed(((D(2021, 1, 1), D(2021, 12, 31)),)))),
    (
        "cuối năm 2025 và cuối năm 2030",
        None,
        Schedule(Fixed(((None, D(2025, 12, 31)), (None, D(2030, 12, 31))))),
    ),
    (
        "Trong giai đoạn 1 (từ năm 2024 - 2025)",
        None,
        Schedule(Fixed(((D(2024, 1, 1), D(2025, 12, 31)),))),
    ),
    (
        "vào các buổi chiều hằng ngày trong tuần",
        None,
        Schedule(Daily(weekdays_only=True), T(14, 0)),
    ),
    ("quý II hằng năm", None, Schedule(Yearly((((4, 1), (6, 0)),)))),
    ("định kỳ hằng năm", None, Schedule(Yearly((((1, 1), (12, 31)),)))),
    ("từ tháng 6 đến tháng 8 hằng năm", None, Schedule(Yearly((((6, 1), (8, 0)),)))),
    # tentative
    ("dự kiến 8h00 ngày 19/5/2022", None, Schedule(day(2022, 5, 19), T(8, 0), True)),
    ("Dự kiến định kỳ hằng quý", None, Schedule(Quarterly("span"), tentative=True)),
]


# Gaps found while encoding real plans: intervals, half-years, quarter ends, first years,
# «đầu …», named campaign months and seasons.
H1, H2 = ((1, 1), (6, 0)), ((7, 1), (12, 0))
WHOLE_YEAR = ((1, 1), (12, 31))
GAPS = [
    # every N months / years / weeks, counted from the plan's start
    ("định kỳ 6 tháng", None, Schedule(Every(6, "month"))),
    ("6 tháng một lần", None, Schedule(Every(6, "month"))),
    ("mỗi 6 tháng", None, Schedule(Every(6, "month"))),
    ("cứ 6 tháng 1 lần", None, Schedule(Every(6, "month"))),
    ("định kỳ nửa năm", None, Schedule(Every(6, "month"))),
    ("nửa năm một lần", None, Schedule(Every(6, "month"))),
    ("mỗi nửa năm", None, Schedule(Every(6, "month"))),
    ("hàng nửa năm", None, Schedule(Every(6, "month"))),
    ("2 quý một lần", None, Schedule(Every(6, "month"))),
    ("3 tháng một lần", None, Schedule(Every(3, "month"))),
    ("định kỳ 02 năm", None, Schedule(Every(2, "year"))),
    ("2 năm một lần", None, Schedule(Every(2, "year"))),
    ("mỗi 5 năm", None, Schedule(Every(5, "year"))),
    ("định kỳ 2 tuần", None, Schedule(Every(2, "week"))),
    ("cuối mỗi 6 tháng", None, Schedule(Every(6, "month", "end"))),
    ("đầu mỗi 2 tuần", None, Schedule(Every(2, "week", "start"))),
    ("8h00, định kỳ 2 tuần", None, Schedule(Every(2, "week"), T(8, 0))),
    ("Dự kiến định kỳ 6 tháng", None, Schedule(Every(6, "month"), tentative=True)),
    ("định kỳ 2 năm từ năm 2024", None, Schedule(Every(2, "year", since=D(2024, 1, 1)))),
    # «1 … một lần» is the plain period
    ("mỗi 1 tháng", None, Schedule(Monthly(0))),
    ("1 năm một lần", None, Schedule(Yearly((WHOLE_YEAR,)))),
    ("1 quý một lần", None, Schedule(Quarterly("span"))),
    # calendar half-years
    ("6 tháng đầu năm 2024", None, Schedule(Fixed(((D(2024, 1, 1), D(2024, 6, 30)),)))),
    ("6 tháng cuối năm 2024", None, Schedule(Fixed(((D(2024, 7, 1), D(2024, 12, 31)),)))),
    ("nửa đầu năm 2024", None, Schedule(Fixed(((D(2024, 1, 1), D(2024, 6, 30)),)))),
    ("06 tháng đầu năm", 2022, Schedule(Fixed(((D(2022, 1, 1), D(2022, 6, 30)),)))),
    ("6 tháng đầu năm hằng năm", None, Schedule(Yearly((H1,)))),
    ("6 tháng cuối năm hằng năm", None, Schedule(Yearly((H2,)))),
    ("6 tháng đầu năm và 6 tháng cuối năm hằng năm", None, Schedule(Yearly((H1, H2)))),
    ("cuối 6 tháng đầu năm hằng năm", None, Schedule(Yearly(((None, (6, 0)),)))),
    # quarter ends
    ("cuối quý hằng năm", None, Schedule(Quarterly("end"))),
    ("hằng quý vào cuối quý", None, Schedule(Quarterly("end"))),
    ("vào cuối mỗi quý", None, Schedule(Quarterly("end"))),
    ("vào cuối các quý", None, Schedule(Quarterly("end"))),
    ("đầu quý hằng năm", None, Schedule(Quarterly("start"))),
    ("hằng tháng vào cuối tháng", None, Schedule(Monthly(-1))),
    # a first year
    (
        "trong năm 2024 và các năm tiếp theo",
        None,
        Schedule(Yearly((WHOLE_YEAR,), since=2024)),
    ),
    ("từ năm 2025 trở đi", None, Schedule(Yearly((WHOLE_YEAR,), since=2025))),
    ("từ năm 2025", None, Schedule(Yearly((WHOLE_YEAR,), since=2025))),
    ("hằng năm từ năm 2025", None, Schedule(Yearly((WHOLE_YEAR,), since=2025))),
    (
        "tháng 3 hằng năm, từ năm 2025 trở đi",
        None,
        Schedule(Yearly((((3, 1), (3, 0)),), since=2025)),
    ),
    ("cuối năm 2025 và những năm sau", None, Schedule(Yearly(((None, (12, 31)),), since=2025))),
    # «đầu»: a year's first month (1/1 is a public holiday), a month's or quarter's first day
    ("đầu năm 2025", None, Schedule(Fixed(((D(2025, 1, 1), D(2025, 1, 31)),)))),
    ("đầu năm", 2022, Schedule(Fixed(((D(2022, 1, 1), D(2022, 1, 31)),)))),
    ("cuối năm", 2022, Schedule(day(2022, 12, 31))),
    ("đầu tháng 5/2024", None, Schedule(day(2024, 5, 1))),
    ("đầu quý II năm 2024", None, Schedule(day(2024, 4, 1))),
    ("đầu hằng năm", None, Schedule(Yearly((((1, 1), (1, 0)),)))),
    ("vào đầu năm hằng năm", None, Schedule(Yearly((((1, 1), (1, 0)),)))),
    ("đầu tháng 6 hằng năm", None, Schedule(Yearly(((None, (6, 1)),)))),
    ("đầu năm âm lịch hằng năm", None, Schedule(Yearly((((1, 1), (1, 0)),), lunar=True))),
    # «đầu» / «cuối» carry on to the next windows, until «đến» or another edge word
    (
        "cuối tháng 6 và tháng 12 hằng năm",
        None,
        Schedule(Yearly(((None, (6, 0)), (None, (12, 0))))),
    ),
    (
        "đầu tháng 3 và cuối tháng 9 năm 2024",
        None,
        Schedule(Fixed(((None, D(2024, 3, 1)), (None, D(2024, 9, 30))))),
    ),
    ("từ đầu tháng 5 đến tháng 6/2024", None, Schedule(Fixed(((D(2024, 5, 1), D(2024, 6, 30)),)))),
    (
        "từ đầu năm 2024 đến cuối quý II năm 2024",
        None,
        Schedule(Fixed(((D(2024, 1, 1), D(2024, 6, 30)),))),
    ),
    ("đến cuối năm 2025", None, Schedule(day(2025, 12, 31))),
    ("cuối giai đoạn 2023 - 2028", None, Schedule(day(2028, 12, 31))),
    ("cuối giai đoạn 1 (2024 - 2025)", None, Schedule(day(2025, 12, 31))),
    # named campaign months and seasons
    ("Tháng Thanh niên hằng năm", None, Schedule(Yearly((((3, 1), (3, 0)),)))),
    ("Tháng Thanh niên năm 2025", None, Schedule(Fixed(((D(2025, 3, 1), D(2025, 3, 31)),)))),
    ("cuối Tháng Thanh niên hằng năm", None, Schedule(Yearly(((None, (3, 0)),)))),
    ("dịp hè hằng năm", None, Schedule(Yearly((((6, 1), (8, 0)),)))),
    ("hè hằng năm", None, Schedule(Yearly((((6, 1), (8, 0)),)))),
    ("mùa hè năm 2024", None, Schedule(Fixed(((D(2024, 6, 1), D(2024, 8, 31)),)))),
    ("dịp hè 2024", None, Schedule(Fixed(((D(2024, 6, 1), D(2024, 8, 31)),)))),
    ("trong dịp hè", 2022, Schedule(Fixed(((D(2022, 6, 1), D(2022, 8, 31)),)))),
    ("Tháng Nhân đạo hằng năm", None, Schedule(Yearly((((5, 1), (5, 0)),)))),
    ("Tháng hành động vì trẻ em hằng năm", None, Schedule(Yearly((((6, 1), (6, 0)),)))),
    (
        "Tháng Thanh niên và dịp hè hằng năm",
        None,
        Schedule(Yearly((((3, 1), (3, 0)), ((6, 1), (8, 0))))),
    ),
    # one part of day for every weekday is still one time
    ("chiều thứ 6 và chiều chủ nhật hàng tuần", None, Schedule(Weekly((5, 7)), T(14, 0))),
    # ranges written with «hết» or a dash
    ("từ tháng 6 đến hết tháng 8/2026", None, Schedule(Fixed(((D(2026, 6, 1), D(2026, 8, 31)),)))),
    ("từ 15/5 - 15/6/2026", None, Schedule(Fixed(((D(2026, 5, 15), D(2026, 6, 15)),)))),
    ("từ ngày 01/6 – ngày 31/8/2026", None, Schedule(Fixed(((D(2026, 6, 1), D(2026, 8, 31)),)))),
    ("tháng 9-10/2026", None, Schedule(Fixed(((D(2026, 9, 1), D(2026, 10, 31)),)))),
    ("từ tháng 9 - 10/2026", None, Schedule(Fixed(((D(2026, 9, 1), D(2026, 10, 31)),)))),
    # parts of a month: weeks, halves, the three ten-day parts
    ("tuần đầu tháng 3/2026", None, Schedule(Fixed(((D(2026, 3, 1), D(2026, 3, 7)),)))),
    ("tuần thứ 2 tháng 4/2026", None, Schedule(Fixed(((D(2026, 4, 8), D(2026, 4, 14)),)))),
    (
        "tuần cuối tháng 2/2028",
        None,
        Schedule(Fixed(((D(2028, 2, 23), D(2028, 2, 29)),))),
    ),  # leap year
    ("nửa cuối tháng 6 năm 2026", None, Schedule(Fixed(((D(2026, 6, 16), D(2026, 6, 30)),)))),
    ("trung tuần tháng 5/2026", None, Schedule(Fixed(((D(2026, 5, 11), D(2026, 5, 20)),)))),
    ("hạ tuần tháng 4 hằng năm", None, Schedule(Yearly((((4, 21), (4, 30)),)))),
    ("tuần đầu tiên của tháng 9", 2026, Schedule(Fixed(((D(2026, 9, 1), D(2026, 9, 7)),)))),
]


def _ids(table: list[tuple[str, int | None, Schedule]]) -> list[str]:
    return [f"{p}|{y}" if y else p for p, y, _ in table]


@pytest.mark.parametrize(("phrase", "year", "expected"), SEEDS, ids=_ids(SEEDS))
def test_seed_phrase(phrase: str, year: int | None, expected: Schedule) -> None:
    assert parse_when(phrase, year) == expected


@pytest.mark.parametrize(("phrase", "year", "expected"), VARIANTS, ids=_ids(VARIANTS))
def test_variant(phrase: str, year: int | None, expected: Schedule) -> None:
    assert parse_when(phrase, year) == expected


@pytest.mark.parametrize(("phrase", "year", "expected"), GAPS, ids=_ids(GAPS))
def test_gap_phrase(phrase: str, year: int | None, expected: Schedule) -> None:
    assert parse_when(phrase, year) == expected


def window(y1: int, m1: int, d1: int, y2: int, m2: int, d2: int) -> Fixed:
    return Fixed(((D(y1, m1, d1), D(y2, m2, d2)),))


#: Forms real plans write that the grammar misread or refused (issue 13, items 1–3, 5, 6).
REAL = [
    # 1. day-month with «-» or «.» and no year: the year comes from the plan
    ("từ ngày 25-8 đến 15-9", 2011, Schedule(window(2011, 8, 25, 2011, 9, 15))),
    ("ngày 7.3", 2025, Schedule(day(2025, 3, 7))),
    (
        "8-3, 20-3, 26-3",
        2025,
        Schedule(Fixed(((None, D(2025, 3, 8)), (None, D(2025, 3, 20)), (None, D(2025, 3, 26))))),
    ),
    # 2. ranges with spaced dashes are windows
    ("17 - 18/12/2024", None, Schedule(window(2024, 12, 17, 2024, 12, 18))),
    ("15/6 - 15/8/2025", None, Schedule(window(2025, 6, 15, 2025, 8, 15))),
    ("ngày 1/6 - 31/8/2025", None, Schedule(window(2025, 6, 1, 2025, 8, 31))),
    ("Tháng 12/2025 - tháng 01/2026", None, Schedule(window(2025, 12, 1, 2026, 1, 31))),
    ("ngày 24-25/7/2022", None, Schedule(window(2022, 7, 24, 2022, 7, 25))),
    ("từ tháng 7 - 8.2020", None, Schedule(window(2020, 7, 1, 2020, 8, 31))),
    # 3. lunar dates: the day of the month, a window, one year, a solar gloss
    ("mùng 10 tháng 3 âm lịch hằng năm", None, Schedule(Yearly(((None, (3, 10)),), lunar=True))),
    ("16 - 18 tháng giêng hằng năm", None, Schedule(Yearly((((1, 16), (1, 18)),), lunar=True))),
    ("ngày Rằm tháng Giêng hằng năm", None, Schedule(Yearly(((None, (1, 15)),), lunar=True))),
    ("Rằm tháng Giêng năm 2026", None, Schedule(day(2026, 3, 3))),
    ("ngày 16 tháng 3 ÂL năm 2026", None, Schedule(day(2026, 5, 2))),
    ("mùng 10 tháng 3 âm lịch (tức ngày 26/4/2026)", 2026, Schedule(day(2026, 4, 26))),
    # 5. recurrence without «hằng năm»
    ("thường niên", None, Schedule(Yearly((((1, 1), (12, 31)),)))),
    ("01 lần/tháng", None, Schedule(Monthly(0))),
    ("2 năm/lần", None, Schedule(Every(2, "year"))),
    ("định kỳ 3 tháng/lần", None, Schedule(Every(3, "month"))),
    (
        "2 lần/năm vào tháng 6 và tháng 12",
        None,
        Schedule(Yearly((((6, 1), (6, 0)), ((12, 1), (12, 0))))),
    ),
    ("thứ Hai tuần đầu tiên của tháng", None, Schedule(RRule("FREQ=MONTHLY;BYDAY=+1MO"))),
    (
        "8h00 thứ 6 tuần cuối của mỗi tháng",
        None,
        Schedule(RRule("FREQ=MONTHLY;BYDAY=-1FR"), T(8, 0)),
    ),
    ("ngày 15 và 30 hằng tháng", None, Schedule(RRule("FREQ=MONTHLY;BYMONTHDAY=15,30"))),
    # 6. a weekday with its date
    ("thứ Tư, ngày 15/10/2025", None, Schedule(day(2025, 10, 15))),
    ("8h00 thứ 7, ngày 20/9/2025", None, Schedule(day(2025, 9, 20), T(8, 0))),
    ("9 giờ, thứ Sáu, ngày 26/3/2021", None, Schedule(day(2021, 3, 26), T(9, 0))),
    ("31/10/2020-T7", None, Schedule(day(2020, 10, 31))),
    # 9. what the layout leaves in a phrase
    ("Bắt đầu từ ngày 1/9 đến hết năm", 2025, Schedule(window(2025, 9, 1, 2025, 12, 31))),
    ("08h00’ ngày 5/5/2025", None, Schedule(day(2025, 5, 5), T(8, 0))),
    ("trước 15 tháng 4 năm 2017", None, Schedule(day(2017, 4, 15))),
    ("chậm nhất ngày 15 (mười lăm) hằng tháng", None, Schedule(Monthly(15))),
]


REAL += [  # 7. deadlines counted from an anchor
    (
        "trong vòng 5 ngày làm việc kể từ ngày 25/4/2025",
        None,
        Schedule(Relative(5, "workday", "date", D(2025, 4, 25))),
    ),
    ("sau 10 ngày kể từ ngày ban hành", None, Schedule(Relative(10, "day", "issued"))),
    ("trước Tết Nguyên đán 2 tuần", None, Schedule(Relative(-2, "week", "tet"))),
    ("chậm nhất 30 ngày sau khi kết thúc quý", None, Schedule(Relative(30, "day", "quarter"))),
    (
        "trong vòng 5 ngày làm việc kể từ ngày kết thúc nghĩa vụ hoi-nghi",
        None,
        Schedule(Relative(5, "workday", "obligation", "hoi-nghi")),
    ),
]


@pytest.mark.parametrize(("phrase", "year", "expected"), REAL, ids=_ids(REAL))
def test_real_plan_form(phrase: str, year: int | None, expected: Schedule) -> None:
    assert parse_when(phrase, year) == expected


@pytest.mark.parametrize(
    ("phrase", "needle"),
    [
        ("thứ Hai, ngày 16/3/2025", "«thứ hai» không khớp với ngày 16/03/2025 (Chủ nhật)"),
        ("mùng 10 tháng 3 âm lịch (tức ngày 27/4/2026)", "không khớp với ngày âm lịch"),
        ("16 - 18 tháng giêng", "ngày âm lịch cần năm hoặc «hằng năm»"),
        (
            "trong vòng 5 ngày làm việc kể từ ngày kết thúc hội nghị",
            "không rõ mốc tính hạn «kết thúc hội nghị»",
        ),
    ],
)
def test_real_plan_form_that_contradicts_itself(phrase: str, needle: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_when(phrase)
    assert needle in caught.value.message


ALL = SEEDS + VARIANTS + GAPS + REAL


@pytest.mark.parametrize(("phrase", "year", "expected"), ALL, ids=_ids(ALL))
def test_nfd_upper_and_nbsp_read_the_same(
    phrase: str, year: int | None, expected: Schedule
) -> None:
    for text in (
        unicodedata.normalize("NFD", phrase),
        unicodedata.normalize("NFD", phrase.upper()),
        phrase.replace(" ", "\u00a0"),
        f"  {phrase}  ",
    ):
        assert parse_when(text, year) == expected, text


@pytest.mark.parametrize(("phrase", "year", "expected"), SEEDS, ids=_ids(SEEDS))
def test_default_year_does_not_change_a_dated_phrase(
    phrase: str, year: int | None, expected: Schedule
) -> None:
    assert parse_when(phrase, 2099) == expected


ERRORS = [
    # impossible dates and times
    ("31/6/2022", None, "31/06/2022"),
    ("29/2/2023", None, "29/02/2023"),
    ("30/02 hằng năm", None, "30/02"),
    ("29/02 hằng năm", None, "29/02"),
    ("32/1/2022", None, "32/01/2022"),
    ("ngày 0/1/2022", None, "không tồn tại"),
    ("tháng 13 năm 2022", None, "tháng 13"),
    ("ngày 32 hằng tháng", None, "ngày 32"),
    ("ngày 31 tháng 4 năm 2022", None, "31/04/2022"),
    ("ngày 31/4 âm lịch hằng năm", None, "âm lịch"),
    ("25:00 ngày 19/5/2022", None, "25:00"),
    ("8h75 ngày 19/5/2022", None, "08:75"),
    ("năm 2028 - 2023", None, "năm kết thúc"),
    ("năm 0000", None, "năm phải từ 1900 đến 2100"),
    ("ngày 1/1/0999", None, "năm phải từ 1900 đến 2100"),
    ("0000 đến 0000", None, "năm phải từ 1900 đến 2100"),
    ("từ ngày 31/8 đến ngày 01/6/2022", None, "kết thúc trước"),
    # no year to be found
    ("ngày 19/5", None, "thiếu năm"),
    ("Tháng 9", None, "thiếu năm"),
    ("quý IV", None, "thiếu năm"),
    ("từ 24 đến 31/7", None, "thiếu năm"),
    ("từ ngày 24 đến năm 2022", 2022, "thiếu tháng"),
    # words the grammar does not know
    ("sau Tết", None, "không hiểu «sau»"),
    # an unknown name is quoted whole, not by its first grammar word
    ("Tháng Nhân quyền hằng năm", None, "không hiểu «tháng nhân quyền»"),
    ("mùa thu năm 2024", None, "không hiểu «mùa thu»"),
    ("sơ kết 6 tháng", None, "không hiểu «sơ»"),
    ("6 tháng", None, "không hiểu «6 tháng»"),
    ("nửa năm", None, "không hiểu «nửa năm»"),
    ("sau Tết Nguyên đán 2023", None, "không hiểu"),
    ("12 giờ đêm ngày 19/5/2022", None, "không hiểu «đêm»"),
    ("quý V năm 2022", None, "không hiểu"),
    ("thứ 8 hằng tuần", None, "không hiểu"),
    ("19/5/22", None, "không hiểu"),
    ("2022", None, "không hiểu"),
    ("", None, "không thấy ngày"),
    ("định kỳ", None, "không thấy ngày"),
    # weekdays need "hằng tuần"; each "hằng …" takes only what fits it
    ("thứ 6", None, "hằng tuần"),
    ("chiều thứ 6 ngày 19/5/2022", None, "không khớp với ngày 19/05/2022 (Thứ Năm)"),
    ("thứ 6 hằng tháng", None, "«thứ 6» không dùng được với «hằng tháng»"),
    ("ngày 15 hằng quý", None, "«ngày 15» không dùng được với «hằng quý»"),
    ("30/5 hằng tuần", None, "«30/5» không dùng được"),
    ("ngày 10 và ngày 20 hằng tháng và cuối tháng", None, "cùng lúc"),
    ("hằng tháng và hằng năm", None, "nhiều chu kỳ"),
    ("từ thứ 6 đến thứ 2 hằng tuần", None, "theo thứ tự"),
    # a year inside "hằng năm", lunar dates outside "hằng năm"
    ("ngày 30/01/2024 hằng năm", None, "có năm cụ thể"),
    ("tháng 11 năm 2024 hằng năm", None, "có năm cụ thể"),
    ("ngày 10/3 âm lịch", None, "âm lịch"),
    # counts that do not match what is written
    ("mỗi năm 2 lần", None, "2 lần"),
    ("mỗi năm 3 lần vào cuối các quý", None, "3 lần"),
    ("mỗi tuần 2 lần vào thứ 3", None, "2 lần"),
    # several clock times
    ("từ 8h00 đến 11h00 ngày 19/5/2022", None, "nhiều giờ"),
    # ranges need two ends
    ("từ ngày 01/6 đến ngày 15/6 và 31/8/2022", None, "hai mốc"),
    ("từ tháng 1 đến tháng 5 và tháng 9 hằng năm", None, "hai mốc"),
    # intervals take no day, weekday or second period: say it with an rrule
    ("ngày 15 mỗi 2 tháng", None, "«ngày 15» không dùng được với «mỗi 2 tháng»"),
    ("thứ 7, 2 tuần một lần", None, "«thứ 7» không dùng được với «2 tuần một lần»"),
    ("định kỳ 6 tháng vào cuối quý", None, "không dùng được với «định kỳ 6 tháng»"),
    ("hằng năm và định kỳ 6 tháng", None, "nhiều chu kỳ"),
    ("mỗi 0 tháng", None, "lớn hơn 0"),
    ("định kỳ 6 tháng âm lịch", None, "âm lịch"),
    # half-years and seasons need a year, or «hằng năm»
    ("6 tháng đầu năm", None, "thiếu năm; hãy ghi rõ, ví dụ «6 tháng đầu năm 2025»"),
    ("dịp hè", None, "«dịp hè» thiếu năm"),
    ("6 tháng cuối năm 2024 hằng năm", None, "có năm cụ thể"),
    ("dịp hè âm lịch hằng năm", None, "âm lịch"),
    # a first year: only one, only with a yearly or interval rule
    ("từ năm 2025 trở đi hằng quý", None, "năm bắt đầu"),
    ("trở đi", None, "cần đúng một năm bắt đầu"),
    ("tháng 3/2025 trở đi", None, "cần đúng một năm bắt đầu"),
    ("năm 2024, năm 2025 và các năm tiếp theo", None, "cần đúng một năm bắt đầu"),
    ("từ ngày 01/6/2022", None, "«từ …» cần mốc kết thúc"),
    # «đầu» / «cuối» bind to a month, quarter or year; «giữa» names no day
    ("giữa năm", None, "«giữa năm» không chỉ rõ ngày nào"),
    ("giữa năm 2024", None, "«giữa năm 2024» không chỉ rõ ngày nào"),
    ("giữa tháng 5/2024", None, "«giữa tháng 5/2024» không chỉ rõ ngày nào"),
    ("giữa hằng tháng", None, "không chỉ rõ ngày nào"),
    ("cuối ngày 30/5/2024", None, "«cuối» cần đi kèm tháng, quý hay năm"),
    ("đầu", None, "«đầu» cần đi kèm"),
    ("cuối tuần", None, "«cuối tuần» không rõ ngày nào"),
    ("cuối hằng tuần", None, "«cuối tuần» không rõ ngày nào"),
    ("cuối quý", None, "«cuối quý» không rõ quý nào"),
    ("đầu tháng", None, "«đầu tháng» không rõ tháng nào"),
    ("đầu năm", None, "«đầu năm» thiếu năm; hãy ghi rõ, ví dụ «đầu năm 2025»"),
    ("đầu quý và cuối quý hằng năm", None, "«đầu» và «cuối»"),
    ("cuối tháng hằng quý", None, "«cuối tháng» không hợp với «hằng quý»"),
    ("cuối năm hằng tháng", None, "«cuối năm» không hợp với «hằng tháng»"),
    ("ngày 15 cuối hằng tháng", None, "«cuối tháng» và «ngày 15» cùng lúc"),
    ("mỗi năm 3 lần vào cuối quý", None, "3 lần"),
    # stages: the grammar does not know the plan's stages
    ("cuối mỗi giai đoạn", None, "«mỗi giai đoạn»: lịch không biết các giai đoạn"),
    ("hằng năm và cuối mỗi giai đoạn", None, "ví dụ «cuối năm 2025 và cuối năm 2030»"),
    ("cuối giai đoạn", None, "«cuối giai đoạn»: lịch không biết các giai đoạn"),
    ("giai đoạn 1", None, "cuối năm 2025 và cuối năm 2030"),
    # several periods in one list
    ("hằng năm, quý, tháng", None, "«hằng năm», «hằng quý», «hằng tháng»"),
    ("hàng tháng và quý", None, "hãy tách thành nhiều nghĩa vụ"),
    # a season without fixed dates
    ("dịp Xuân hằng năm", None, "«dịp xuân» không có ngày cố định"),
    # a different part of day for each weekday is two obligations (one time per schedule)
    (
        "chiều thứ 6 và sáng chủ nhật hàng tuần",
        None,
        "mỗi thứ một buổi khác nhau: hãy tách thành hai nghĩa vụ",
    ),
    ("8h00 thứ 2 và 14h00 thứ 4 hằng tuần", None, "mỗi thứ một buổi khác nhau"),
    ("sáng và chiều ngày 19/5/2022", None, "nhiều buổi (chiều, sáng) khác nhau"),
    # words that only fit «hằng ngày»
    ("hằng tháng trong tuần", None, "«trong tuần» chỉ dùng được với «hằng ngày»"),
]


def _vietnamese(message: str) -> bool:
    return any(c in message for c in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


@pytest.mark.parametrize(
    ("phrase", "year", "needle"), ERRORS, ids=[p or "<empty>" for p, _, _ in ERRORS]
)
def test_error(phrase: str, year: int | None, needle: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_when(phrase, year)
    exc = caught.value
    assert exc.text == phrase
    assert needle in exc.message
    assert _vietnamese(exc.message), exc.message
    if phrase:
        assert f"«{phrase}»" in str(exc)


@pytest.mark.parametrize(
    ("phrase", "year", "needle"), ERRORS, ids=[p or "<empty>" for p, _, _ in ERRORS]
)
def test_error_in_nfd_quotes_the_phrase_as_written(
    phrase: str, year: int | None, needle: str
) -> None:
    nfd = unicodedata.normalize("NFD", phrase)
    with pytest.raises(PlanError) as caught:
        parse_when(nfd, year)
    assert caught.value.text == nfd


CLOCKS = [
    ("08:00", T(8, 0)),
    ("8h", T(8, 0)),
    ("8h00", T(8, 0)),
    ("14h30", T(14, 30)),
    ("08g00", T(8, 0)),
    ("7 giờ 30", T(7, 30)),
    ("7 giờ 30 phút", T(7, 30)),
    ("2 giờ chiều", T(14, 0)),
    ("7g30 tối", T(19, 30)),
    ("23:59", T(23, 59)),
    ("0h00", T(0, 0)),
    ("12 giờ trưa", T(12, 0)),
    ("11 giờ trưa", T(11, 0)),
    ("1 giờ trưa", T(13, 0)),
    ("14H30", T(14, 30)),
]


@pytest.mark.parametrize(("text", "expected"), CLOCKS, ids=[c for c, _ in CLOCKS])
def test_parse_clock(text: str, expected: T) -> None:
    assert parse_clock(text) == expected
    assert parse_clock(unicodedata.normalize("NFD", text)) == expected


@pytest.mark.parametrize(
    "text",
    ["25:00", "8h60", "8", "ngày 19/5/2022", "8h00 ngày 19/5/2022", "8h và 9h", "giờ hành chính"],
)
def test_parse_clock_error(text: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_clock(text)
    assert caught.value.text == text
    assert _vietnamese(caught.value.message)


DAYS = [
    ("19/5/2022", D(2022, 5, 19)),
    ("19-5-2022", D(2022, 5, 19)),
    ("19.5.2022", D(2022, 5, 19)),
    ("ngày 19 tháng 5 năm 2022", D(2022, 5, 19)),
    ("2022-05-19", D(2022, 5, 19)),
    ("2024-2-29", D(2024, 2, 29)),
    ("Ngày 02/9/2024", D(2024, 9, 2)),
    ("29/4/2022", D(2022, 4, 29)),
]


@pytest.mark.parametrize(("text", "expected"), DAYS, ids=[t for t, _ in DAYS])
def test_parse_day(text: str, expected: D) -> None:
    assert parse_day(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2022-02-30",
        "2023-02-29",
        "31/6/2022",
        "19/5",
        "tháng 5/2022",
        "ngày 24/7/2022 và 31/7/2022",
        "hằng năm",
        "năm 2022",
        "sau Tết",
    ],
)
def test_parse_day_error(text: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_day(text)
    assert caught.value.text == text
    assert _vietnamese(caught.value.message)


# --- properties ----------------------------------------------------------------------------------


FORMATS = [
    "{d}/{m}/{y}",
    "{d:02d}/{m:02d}/{y}",
    "{d}-{m}-{y}",
    "{d}.{m}.{y}",
    "ngày {d} tháng {m} năm {y}",
    "Ngày {d:02d}/{m:02d}/{y}",
    "hạn chót: ngày {d}/{m}/{y}.",
]


@settings(max_examples=300, deadline=None)
@given(
    st.dates(D(1950, 1, 1), D(2100, 12, 31)),
    st.sampled_from(FORMATS),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.booleans(),
)
def test_any_date_and_time_round_trip(when: D, fmt: str, clock: T, timed: bool) -> None:
    phrase = fmt.format(d=when.day, m=when.month, y=when.year)
    if timed:
        phrase = f"{clock.hour:02d}g{clock.minute:02d}, {phrase}"
    expected = Schedule(Fixed(((None, when),)), clock if timed else None)
    assert parse_when(phrase) == expected
    assert parse_when(unicodedata.normalize("NFD", phrase.upper())) == expected
    if not timed:
        assert parse_day(phrase) == when


@settings(max_examples=300, deadline=None)
@given(st.integers(1950, 2100), st.integers(1, 12), st.integers(28, 35))
def test_day_past_the_end_of_month_is_an_error(year: int, month: int, day_: int) -> None:
    phrase = f"ngày {day_}/{month}/{year}"
    try:
        D(year, month, day_)
    except ValueError:
        with pytest.raises(PlanError) as caught:
            parse_when(phrase)
        assert caught.value.text == phrase and "không tồn tại" in caught.value.message
    else:
        assert parse_when(phrase).rule == Fixed(((None, D(year, month, day_)),))


WORDS = [
    "ngày",
    "tháng",
    "năm",
    "quý",
    "hằng",
    "hàng",
    "mỗi",
    "thứ",
    "chủ nhật",
    "từ",
    "đến",
    "và",
    "cuối",
    "đầu",
    "âm lịch",
    "dự kiến",
    "chiều",
    "sáng",
    "giờ",
    "g",
    "h",
    ":",
    "/",
    "-",
    ".",
    ",",
    "2",
    "6",
    "12",
    "19",
    "30",
    "31",
    "2022",
    "2024",
    "IV",
    "lần",
    "các",
    "định kỳ",
    "giai đoạn",
]


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(st.text(max_size=40), st.lists(st.sampled_from(WORDS), max_size=9).map(" ".join)),
    st.none() | st.integers(2000, 2030),
)
def test_anything_is_a_schedule_or_a_plan_error(phrase: str, year: int | None) -> None:
    try:
        schedule = parse_when(phrase, year)
    except PlanError as exc:
        assert exc.text == phrase and exc.message
    else:
        assert isinstance(schedule, Schedule)


@pytest.mark.parametrize(
    ("phrase", "year", "expected"),
    [
        (
            "ngày Rằm tháng Bảy âm lịch hằng năm",
            None,
            Schedule(Yearly(((None, (7, 15)),), lunar=True)),
        ),
        (
            "tháng 8, 9 năm 2025",
            None,
            Schedule(Fixed(((D(2025, 8, 1), D(2025, 8, 31)), (D(2025, 9, 1), D(2025, 9, 30))))),
        ),
        ("trong hai ngày 26 và 27/9", 2025, Schedule(window(2025, 9, 26, 2025, 9, 27))),
        ("thứ hai đầu tháng", None, Schedule(RRule("FREQ=MONTHLY;BYDAY=+1MO"))),
        (
            "trước ngày 20 tháng cuối quý",
            None,
            Schedule(Yearly(((None, (3, 20)), (None, (6, 20)), (None, (9, 20)), (None, (12, 20))))),
        ),
        ("quý họp một lần", None, Schedule(Quarterly("span"))),
    ],
)
def test_more_real_plan_forms(phrase: str, year: int | None, expected: Schedule) -> None:
    assert parse_when(phrase, year) == expected
