"""The five reference plans in plans/, one per seed document, compiled on the real Vietnamese
working-day calendar and checked against dates worked out by hand.

Every expected date below was computed by hand from a wall calendar and the official holiday
list (Tết, 30/4, 1/5, Quốc khánh and their swapped days); the comment next to it says why a
date moved. Nothing is derived from the engine: if the engine or a plan file changes what a
deadline means, these tests fail.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path

import pytest
import yaml

from engine.compiler import Step, compile_plan
from engine.loader import load_plan
from engine.plan import Plan
from engine.workdays import WorkingCalendar
from tests import outside

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "plans"

HCSN = "cum-hcsn-2022.yaml"
BINH_TAN = "binh-tan-doi-2023-2028.yaml"
SIN_HO = "sin-ho-tinh-nguyen-2024-2030.yaml"
MAO_KHE = "mao-khe-tthtcd-2021.yaml"
KIEN_GIANG = "kien-giang-tinh-nguyen-2013-2017.yaml"
#: plan file → seed number
SEED_OF = {HCSN: "000", BINH_TAN: "001", SIN_HO: "002", MAO_KHE: "003", KIEN_GIANG: "004"}
NEW_PLANS = (BINH_TAN, SIN_HO, MAO_KHE, KIEN_GIANG)
ALL_PLANS = [pytest.param(name, id=name.removesuffix(".yaml")) for name in SEED_OF]


@cache
def compiled(name: str) -> tuple[Plan, tuple[Step, ...]]:
    plan = load_plan(PLANS / name)
    return plan, tuple(compile_plan(plan, WorkingCalendar()))


def steps(name: str, obligation: str, unit: str | None = None) -> list[Step]:
    _, all_steps = compiled(name)
    return [s for s in all_steps if s.duty.id == obligation and (unit is None or s.unit == unit)]


def due_dates(name: str, obligation: str, unit: str | None = None) -> list[date]:
    return sorted(s.occurrence.date for s in steps(name, obligation, unit))


def d(text: str) -> date:
    day, month, year = (int(x) for x in text.split("/"))
    return date(year, month, day)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


# ── every plan ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", ALL_PLANS)
def test_plan_loads_and_compiles(name: str) -> None:
    plan, all_steps = compiled(name)
    assert plan.duties and all_steps
    assert all(s.plan == plan.id for s in all_steps)
    assert len({s.id for s in all_steps}) == len(all_steps), "step ids must be unique"


@pytest.mark.parametrize("name", ALL_PLANS)
def test_plan_file_is_nfc(name: str) -> None:
    text = (PLANS / name).read_text(encoding="utf-8")
    assert unicodedata.normalize("NFC", text) == text


VIETNAMESE = re.compile(
    r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE
)


@pytest.mark.parametrize("name", ALL_PLANS)
def test_user_visible_names_are_vietnamese(name: str) -> None:
    plan, _ = compiled(name)
    for text in [plan.title, *plan.names.values(), *(duty.title for duty in plan.duties)]:
        assert VIETNAMESE.search(text), f"no Vietnamese letter in «{text}»"


@pytest.mark.parametrize("name", [pytest.param(n, id=n.removesuffix(".yaml")) for n in NEW_PLANS])
def test_every_obligation_quotes_its_seed(name: str) -> None:
    """`source:` is a quotation: each part (parts are joined by «…») is in the seed text."""
    seed = _norm(outside.seed(SEED_OF[name]).read_text(encoding="utf-8"))
    doc = yaml.safe_load((PLANS / name).read_text(encoding="utf-8"))
    for ob in doc["obligations"]:
        assert ob.get("source"), f"{ob['id']}: no source"
        for quoted in ob["source"].split("…"):
            part = _norm(quoted)
            assert not part or part in seed, f"{ob['id']}: «{part}» is not in the seed"


# ── seed 000: Cụm Hành chính – Sự nghiệp 2022 (previous_working_day) ───────────────────

HCSN_UNITS = [
    "doan-khoi-dcd",
    "doan-so-y-te",
    "doan-so-gtvt",
    "doan-so-ldtbxh",
    "doan-lltnxp",
    "doan-khoi-bo-tnmt",
    "doan-khoi-bo-nnptnt",
]


def test_hcsn_conference_at_eight_in_ho_chi_minh_city() -> None:
    (step,) = steps(HCSN, "hoi-nghi-chi-thi-05")
    assert step.unit == "doan-khoi-dcd"
    assert step.occurrence.date == date(2022, 5, 19)
    assert step.occurrence.time == time(8, 0)
    # 08:00 at UTC+7 is 01:00 UTC
    assert step.occurrence.due_at == datetime(2022, 5, 19, 1, 0, tzinfo=UTC)
    assert step.duty.place == "Nhà Thiếu nhi Thành phố Hồ Chí Minh"


def test_hcsn_every_member_attends_and_pays_for_the_conference() -> None:
    attend = steps(HCSN, "hoi-nghi-chi-thi-05-tham-du")
    assert sorted(s.unit for s in attend) == sorted(HCSN_UNITS)
    pay = steps(HCSN, "hoi-nghi-chi-thi-05-kinh-phi")
    assert {s.unit: s.amount for s in pay} == dict.fromkeys(HCSN_UNITS, 500000)
    assert {s.occurrence.date for s in pay} == {date(2022, 5, 19)}  # a Thursday


def test_hcsn_ky_nghi_hong_contribution_moves_before_the_sunday() -> None:
    pay = steps(HCSN, "ky-nghi-hong-kinh-phi")
    assert {s.unit: s.amount for s in pay} == dict.fromkeys(HCSN_UNITS, 6000000)
    # due 24/7/2022, a Sunday → Friday 22/7/2022
    assert {(s.occurrence.nominal, s.occurrence.date) for s in pay} == {
        (date(2022, 7, 24), date(2022, 7, 22))
    }


@pytest.mark.parametrize(
    "unit,amount",
    [
        pytest.param("doan-khoi-dcd", 4_500_000, id="dcd-4.5m"),
        pytest.param("doan-so-y-te", 3_500_000, id="y-te-3.5m"),
        pytest.param("doan-so-gtvt", 3_500_000, id="gtvt-3.5m"),
        pytest.param("doan-so-ldtbxh", 3_500_000, id="ldtbxh-3.5m"),
        pytest.param("doan-lltnxp", 3_000_000, id="lltnxp-3m"),
        pytest.param("doan-khoi-bo-tnmt", 3_000_000, id="tnmt-3m"),
        pytest.param("doan-khoi-bo-nnptnt", 3_000_000, id="nnptnt-3m"),
    ],
)
def test_hcsn_quarterly_contribution_per_unit(unit: str, amount: int) -> None:
    pay = steps(HCSN, "tham-me-vnah-kinh-phi", unit)
    assert [s.amount for s in pay] == [amount] * 3
    # The plan starts 29/4/2022: Q2, Q3, Q4. 30/6 is a Thursday, 30/9 a Friday; 31/12/2022 is a
    # Saturday → Friday 30/12/2022.
    assert [s.occurrence.date for s in pay] == [
        date(2022, 6, 30),
        date(2022, 9, 30),
        date(2022, 12, 30),
    ]
    assert [s.occurrence.key for s in pay] == ["2022-Q2", "2022-Q3", "2022-Q4"]


def test_hcsn_tentative_training_in_september() -> None:
    (step,) = steps(HCSN, "tap-huan-tuyen-truyen-mang-xa-hoi")
    assert step.occurrence.tentative
    assert (step.occurrence.start, step.occurrence.date) == (date(2022, 9, 1), date(2022, 9, 30))


# ── seed 001: Bình Tân 2023 – 04/2028 (previous_working_day) ────────────────────────────

BT_HEADS = {
    "cum-noi-chinh": "cum-truong-noi-chinh",
    "cum-y-te": "cum-truong-y-te",
    "cum-hcsn": "cum-truong-hcsn",
    "cum-cnld": "cum-truong-cnld",
    "cum-truong-hoc": "cum-truong-truong-hoc",
}

#: (as written, due after the shift)
BT_REGISTRATION = [
    pytest.param("30/01/2023", "30/01/2023", id="2023-01-monday"),
    pytest.param("30/08/2023", "30/08/2023", id="2023-08-wednesday"),
    pytest.param("30/01/2024", "30/01/2024", id="2024-01-tuesday"),
    pytest.param("30/08/2024", "30/08/2024", id="2024-08-friday"),
    # mùng 2 Tết Ất Tỵ; Tết off 27/01 – 01/02, 25 – 26/01 weekend → Friday 24/01/2025
    pytest.param("30/01/2025", "24/01/2025", id="2025-01-tet"),
    pytest.param("30/08/2025", "29/08/2025", id="2025-08-saturday"),
    pytest.param("30/01/2026", "30/01/2026", id="2026-01-friday"),
    # Sunday; Saturday 29/8 is not a make-up working day (that is 22/8/2026) → Friday 28/8
    pytest.param("30/08/2026", "28/08/2026", id="2026-08-sunday"),
    pytest.param("30/01/2027", "29/01/2027", id="2027-01-saturday"),
    pytest.param("30/08/2027", "30/08/2027", id="2027-08-monday"),
    # Sunday right after Tết Mậu Thân (mùng 1 = 26/01/2028; off 24 – 29/01), 22 – 23/01
    # weekend → Friday 21/01/2028
    pytest.param("30/01/2028", "21/01/2028", id="2028-01-after-tet-sunday"),
]
BT_ISSUED = date(2024, 3, 1)  # «Tháng 3/2024: Ban hành kế hoạch»
BT_REPORT = [
    pytest.param("30/05/2023", "30/05/2023", id="2023-05-tuesday"),
    pytest.param("30/11/2023", "30/11/2023", id="2023-11-thursday"),
    pytest.param("30/05/2024", "30/05/2024", id="2024-05-thursday"),
    pytest.param("30/11/2024", "29/11/2024", id="2024-11-saturday"),
    pytest.param("30/05/2025", "30/05/2025", id="2025-05-friday"),
    pytest.param("30/11/2025", "28/11/2025", id="2025-11-sunday"),
    pytest.param("30/05/2026", "29/05/2026", id="2026-05-saturday"),
    pytest.param("30/11/2026", "30/11/2026", id="2026-11-monday"),
    pytest.param("30/05/2027", "28/05/2027", id="2027-05-sunday"),
    pytest.param("30/11/2027", "30/11/2027", id="2027-11-tuesday"),
]


def test_binh_tan_period_and_policy() -> None:
    plan, _ = compiled(BINH_TAN)
    assert (plan.start, plan.end) == (date(2023, 1, 1), date(2028, 4, 30))
    assert plan.issuer == "btv-quan-doan"


def test_binh_tan_has_one_cluster_per_khu_vuc() -> None:
    plan, _ = compiled(BINH_TAN)
    assert plan.cluster_heads == BT_HEADS
    for cluster, head in BT_HEADS.items():
        members = plan.members[cluster]
        assert head in members
        assert len(set(members) - {head}) >= 2, f"{cluster} needs two member units"
        assert plan.parent[head] == "btv-quan-doan"


@pytest.mark.parametrize("written,due", BT_REGISTRATION)
@pytest.mark.parametrize("head", [pytest.param(h, id=h) for h in BT_HEADS.values()])
def test_binh_tan_heads_register_on_30_01_and_30_08(head: str, written: str, due: str) -> None:
    found = [
        s for s in steps(BINH_TAN, "dang-ky-hoat-dong", head) if s.occurrence.nominal == d(written)
    ]
    if d(due) < BT_ISSUED:  # due before the plan was issued: history, not a step
        assert found == []
        return
    assert len(found) == 1
    assert found[0].occurrence.date == d(due)


@pytest.mark.parametrize("written,due", BT_REPORT)
@pytest.mark.parametrize("head", [pytest.param(h, id=h) for h in BT_HEADS.values()])
def test_binh_tan_heads_report_on_30_05_and_30_11(head: str, written: str, due: str) -> None:
    found = [
        s
        for s in steps(BINH_TAN, "bao-cao-ket-qua-cum", head)
        if s.occurrence.nominal == d(written)
    ]
    if d(due) < BT_ISSUED:
        assert found == []
        return
    assert len(found) == 1
    assert found[0].occurrence.date == d(due)


def test_binh_tan_registration_and_report_counts() -> None:
    # 30/01 of 2023 – 2028 and 30/8 of 2023 – 2027 (30/8/2028 is after 04/2028), less the three
    # due before the plan was issued in 3/2024 (30/01/2023, 30/8/2023, 30/01/2024): 8 per head;
    # reports 30/5 and 30/11 of 2024 – 2027 (2023's two are history): 8 per head. Only the heads.
    reg = Counter(s.unit for s in steps(BINH_TAN, "dang-ky-hoat-dong"))
    rep = Counter(s.unit for s in steps(BINH_TAN, "bao-cao-ket-qua-cum"))
    assert reg == dict.fromkeys(BT_HEADS.values(), 8)
    assert rep == dict.fromkeys(BT_HEADS.values(), 8)


def test_binh_tan_nothing_is_due_before_the_plan_was_issued() -> None:
    plan, found = compiled(BINH_TAN)
    assert plan.issued == BT_ISSUED
    assert found and min(s.occurrence.date for s in found) >= BT_ISSUED


def test_binh_tan_yearly_report_in_november() -> None:
    assert due_dates(BINH_TAN, "bao-cao-hang-nam") == [
        d("29/11/2024"),
        d("28/11/2025"),
        d("30/11/2026"),
        d("30/11/2027"),
    ]


def test_binh_tan_milestones() -> None:
    assert due_dates(BINH_TAN, "xay-dung-ke-hoach") == []  # 02/2024: done before the issue
    assert due_dates(BINH_TAN, "ban-hanh-ke-hoach") == [d("29/03/2024")]  # 31/3 is a Sunday
    # Tháng 04/2028: 30/4/2028 is a Sunday and Ngày Chiến thắng, 29/4 a Saturday → 28/4/2028
    (final,) = steps(BINH_TAN, "tong-ket-ke-hoach")
    assert final.occurrence.start == date(2028, 4, 1)
    assert final.occurrence.nominal == date(2028, 4, 30)
    assert final.occurrence.date == date(2028, 4, 28)


@pytest.mark.parametrize(
    "obligation,first,last",
    [
        pytest.param("dot-01", (1, 1), (5, 31), id="dot-01-jan-may"),
        pytest.param("dot-02", (9, 1), (12, 31), id="dot-02-sep-dec"),
    ],
)
def test_binh_tan_two_phases_a_year(
    obligation: str, first: tuple[int, int], last: tuple[int, int]
) -> None:
    found = steps(BINH_TAN, obligation)
    windows = {(s.occurrence.start, s.occurrence.date) for s in found}
    # 2024 – 2027 (2023's end before the plan was issued in 3/2024; Đợt 01 of 2024, due 31/5, is
    # kept); Đợt 01 of 2028 would end 31/5/2028, after the plan. Phases keep their dates.
    assert windows == {(date(y, *first), date(y, *last)) for y in range(2024, 2028)}
    # 10 Đoàn phường + 5 clusters of 3 units
    assert len({s.unit for s in found}) == 25


@pytest.mark.parametrize(
    "obligation,quantity,responsible",
    [
        pytest.param("chi-tieu-thu-vien-sach", 5, "btv-quan-doan", id="05-thu-vien"),
        pytest.param("chi-tieu-boi-duong-nang-khieu", 10, "nha-thieu-nhi-quan", id="10-nang-khieu"),
        pytest.param("chi-tieu-hoat-dong-lien-doi", 40, "btv-quan-doan", id="40-lien-doi"),
        pytest.param(
            "chi-tieu-ky-nang-thuc-hanh-xa-hoi", 10, "cum-truong-noi-chinh", id="10-ky-nang"
        ),
        pytest.param("chi-tieu-hoc-bong", 20, "cum-truong-hcsn", id="20-hoc-bong"),
        pytest.param("chi-tieu-cham-soc-suc-khoe", 10, "cum-truong-y-te", id="10-suc-khoe"),
        pytest.param(
            "chi-tieu-trai-nghiem-sang-tao", 20, "cum-truong-truong-hoc", id="20-sang-tao"
        ),
        pytest.param(
            "chi-tieu-trai-nghiem-nghe-nghiep", 10, "cum-truong-cnld", id="10-nghe-nghiep"
        ),
    ],
)
def test_binh_tan_yearly_targets(obligation: str, quantity: int, responsible: str) -> None:
    found = steps(BINH_TAN, obligation)
    assert {s.unit for s in found} == {responsible}
    assert {s.duty.quantity for s in found} == {quantity}
    assert len(found) == 4  # 2024 – 2027: 2023's was due before the plan was issued


def test_binh_tan_year_end_targets_from_the_issue_on() -> None:
    # 31/12/2023 (a Sunday) was before the issue; 31/12/2024 – 2027 are working days
    assert due_dates(BINH_TAN, "chi-tieu-hoc-bong") == [
        d("31/12/2024"),
        d("31/12/2025"),
        d("31/12/2026"),
        d("31/12/2027"),
    ]


def test_binh_tan_summer_talent_programmes() -> None:
    found = steps(BINH_TAN, "chi-tieu-boi-duong-nang-khieu")
    assert {s.occurrence.start for s in found} == {date(y, 6, 1) for y in range(2024, 2028)}
    # 31/8: 2024 Saturday → 30/8; 2025 Sunday → 29/8; 2026 Monday but a swapped day off (for
    # Saturday 22/8), 29 – 30/8 weekend → 28/8
    assert due_dates(BINH_TAN, "chi-tieu-boi-duong-nang-khieu") == [
        d("30/08/2024"),
        d("29/08/2025"),
        d("28/08/2026"),
        d("31/08/2027"),
    ]


# ── seed 002: Sìn Hồ 2024 – 2030 (previous_working_day) ────────────────────────────────


@pytest.mark.parametrize(
    "obligation,percent,due",
    [
        pytest.param("ct-2024-chuyen-doi-so", 10, "31/12/2024", id="2024-cntt-10"),
        pytest.param("ct-2024-cong-thong-tin", 10, "31/12/2024", id="2024-cong-tt-10"),
        pytest.param("ct-2024-mo-hinh", 20, "31/12/2024", id="2024-mo-hinh-20"),
        pytest.param("ct-2024-boi-duong", 20, "31/12/2024", id="2024-boi-duong-20"),
        pytest.param("ct-2025-chuyen-doi-so", 60, "31/12/2025", id="2025-cntt-60"),
        pytest.param("ct-2025-cong-thong-tin", 60, "31/12/2025", id="2025-cong-tt-60"),
        pytest.param("ct-2025-mo-hinh", 80, "31/12/2025", id="2025-mo-hinh-80"),
        pytest.param("ct-2025-boi-duong", 80, "31/12/2025", id="2025-boi-duong-80"),
        pytest.param("ct-2030-chuyen-doi-so", 80, "31/12/2030", id="2030-cntt-80"),
        pytest.param("ct-2030-cong-thong-tin", 80, "31/12/2030", id="2030-cong-tt-80"),
        pytest.param("ct-2030-mo-hinh", 100, "31/12/2030", id="2030-mo-hinh-100"),
        pytest.param("ct-2030-boi-duong", 100, "31/12/2030", id="2030-boi-duong-100"),
    ],
)
def test_sin_ho_percentage_targets(obligation: str, percent: int, due: str) -> None:
    # 31/12/2024 Tuesday, 31/12/2025 Wednesday, 31/12/2030 Tuesday: no shift
    (step,) = steps(SIN_HO, obligation)
    assert step.duty.percent == percent
    assert step.occurrence.date == d(due)
    assert step.unit == "huyen-doan-sin-ho"


def test_sin_ho_two_stages() -> None:
    (one,) = steps(SIN_HO, "giai-doan-1")
    (two,) = steps(SIN_HO, "giai-doan-2")
    assert (one.occurrence.start, one.occurrence.date) == (date(2024, 1, 1), date(2025, 12, 31))
    assert (two.occurrence.start, two.occurrence.date) == (date(2026, 1, 1), date(2030, 12, 31))


def test_sin_ho_yearly_review() -> None:
    # 31/12/2028 is a Sunday → Friday 29/12/2028; the other years end on a working day
    assert due_dates(SIN_HO, "so-ket-hang-nam") == [
        d("31/12/2024"),
        d("31/12/2025"),
        d("31/12/2026"),
        d("31/12/2027"),
        d("29/12/2028"),
        d("31/12/2029"),
        d("31/12/2030"),
    ]


def test_sin_ho_end_of_stage_reviews() -> None:
    assert due_dates(SIN_HO, "tong-ket-giai-doan") == [d("31/12/2025"), d("31/12/2030")]
    (participants,) = {s.duty.participants for s in steps(SIN_HO, "tong-ket-giai-doan")}
    assert {"phong-noi-vu", "phong-gddt", "phong-ldtbxh"} <= set(participants)


def test_sin_ho_periodic_inspection() -> None:
    # October, due 31/10: 2026 Saturday → 30/10; 2027 Sunday → 29/10
    assert due_dates(SIN_HO, "kiem-tra-danh-gia") == [
        d("31/10/2024"),
        d("31/10/2025"),
        d("30/10/2026"),
        d("29/10/2027"),
        d("31/10/2028"),
        d("31/10/2029"),
        d("31/10/2030"),
    ]


def test_sin_ho_every_grassroots_unit_plans_every_year() -> None:
    found = steps(SIN_HO, "ke-hoach-co-so")
    assert len({s.unit for s in found}) == 4
    assert len(found) == 4 * 7  # 2024 – 2030


# ── seed 003: Mạo Khê 2021 (previous_working_day; events keep their dates) ─────────────

MK_MONTH_ENDS_SHIFTED = [
    d(x)
    for x in (
        "29/01/2021",  # 31/01 Sunday
        "26/02/2021",  # 28/02 Sunday
        "31/03/2021",
        "29/04/2021",  # 30/04 Ngày Chiến thắng (a Friday)
        "31/05/2021",
        "30/06/2021",
        "30/07/2021",  # 31/07 Saturday
        "31/08/2021",
        "30/09/2021",
        "29/10/2021",  # 31/10 Sunday
        "30/11/2021",
        "31/12/2021",
    )
]


def test_mao_khe_criteria_reviewed_at_the_end_of_each_quarter() -> None:
    # 31/3 Wednesday, 30/6 Wednesday, 30/9 Thursday, 31/12 Friday: all working days in 2021
    found = steps(MAO_KHE, "ra-soat-15-tieu-chi")
    assert [s.occurrence.date for s in found] == [
        d("31/03/2021"),
        d("30/06/2021"),
        d("30/09/2021"),
        d("31/12/2021"),
    ]
    assert all(s.occurrence.start is None for s in found)  # a day, not a window
    assert {s.unit for s in found} == {"tthtcd-mao-khe"}


def test_mao_khe_monthly_review_with_hoi_khuyen_hoc() -> None:
    found = steps(MAO_KHE, "ra-soat-hang-thang")
    assert [s.occurrence.date for s in found] == MK_MONTH_ENDS_SHIFTED
    assert [s.occurrence.start for s in found] == [date(2021, m, 1) for m in range(1, 13)]
    assert "hoi-khuyen-hoc" in found[0].duty.participants


def test_mao_khe_quarterly_recognition() -> None:
    found = steps(MAO_KHE, "cong-nhan-hang-quy")
    assert [(s.occurrence.start, s.occurrence.date) for s in found] == [
        (date(2021, 1, 1), date(2021, 3, 31)),
        (date(2021, 4, 1), date(2021, 6, 30)),
        (date(2021, 7, 1), date(2021, 9, 30)),
        (date(2021, 10, 1), date(2021, 12, 31)),
    ]
    assert {s.unit for s in found} == {"hoi-khuyen-hoc"}


def test_mao_khe_weekly_street_cleaning() -> None:
    found = steps(MAO_KHE, "tong-don-ve-sinh")
    # 2021 starts and ends on a Friday: 53 Fridays and 52 Sundays (not 52 × 2)
    fridays = [date(2021, 1, 1) + timedelta(days=7 * i) for i in range(53)]
    sundays = [date(2021, 1, 3) + timedelta(days=7 * i) for i in range(52)]
    assert fridays[-1] == date(2021, 12, 31) and sundays[-1] == date(2021, 12, 26)
    assert len(found) == 105
    assert sorted(s.occurrence.date for s in found) == sorted(fridays + sundays)
    # an event keeps its day even on a holiday (01/01/2021 is Tết Dương lịch)
    assert all(s.occurrence.date == s.occurrence.nominal for s in found)
    # "chiều": 14:00 local = 07:00 UTC
    first = min(found, key=lambda s: s.occurrence.date)
    assert first.occurrence.time == time(14, 0)
    assert first.occurrence.due_at == datetime(2021, 1, 1, 7, 0, tzinfo=UTC)


def test_mao_khe_waste_collection_on_the_last_day_of_each_month() -> None:
    # an event: kept on Sundays, Saturdays and holidays (31/01, 28/02, 30/04, 31/07, 31/10)
    assert due_dates(MAO_KHE, "thu-gom-rac-thai") == [
        d("31/01/2021"),
        d("28/02/2021"),
        d("31/03/2021"),
        d("30/04/2021"),
        d("31/05/2021"),
        d("30/06/2021"),
        d("31/07/2021"),
        d("31/08/2021"),
        d("30/09/2021"),
        d("31/10/2021"),
        d("30/11/2021"),
        d("31/12/2021"),
    ]


def test_mao_khe_monthly_plan_is_due_on_the_first_working_day() -> None:
    # next_working_day for this obligation: 01/01 Tết Dương lịch (Friday) → Monday 04/01;
    # 01/05 Saturday, 03/05 the day off for it → Tuesday 04/05; 01/08 Sunday → 02/08
    dates = due_dates(MAO_KHE, "ke-hoach-hang-thang")
    assert dates[0] == d("04/01/2021")
    assert dates[4] == d("04/05/2021")
    assert dates[7] == d("02/08/2021")
    assert len(dates) == 12


def test_mao_khe_library_open_every_weekday_afternoon() -> None:
    found = steps(MAO_KHE, "thu-vien-cau-lac-bo")
    # 365 days = 52 weeks + Friday 31/12 (2021 starts on a Friday): 52 × 5 + 1 weekdays
    assert len(found) == 261
    assert all(s.occurrence.date.isoweekday() <= 5 for s in found)
    assert all(s.occurrence.reminders == () for s in found)


@pytest.mark.parametrize(
    "obligation,percent",
    [
        pytest.param("ct-tc5-nha-tre", 50, id="nha-tre-50"),
        pytest.param("ct-tc5-mau-giao", 90, id="mau-giao-90"),
        pytest.param("ct-tc5-pc-mau-giao-5-tuoi", 100, id="pc-5-tuoi-100"),
        pytest.param("ct-tc5-hoa-nhap", 100, id="hoa-nhap-100"),
        pytest.param("ct-tc6-hoc-sinh-khuyet-tat", 100, id="khuyet-tat-100"),
        pytest.param("ct-tc7-chuan-chuyen-mon", 95, id="chuan-95"),
        pytest.param("ct-tc7-boi-duong-can-bo", 100, id="boi-duong-100"),
        pytest.param("ct-tc8-lao-dong-nong-thon", 70, id="lao-dong-70"),
        pytest.param("ct-tc9-gia-dinh-hieu-hoc", 85, id="gia-dinh-85"),
        pytest.param("ct-tc9-dong-ho-hieu-hoc", 40, id="dong-ho-40"),
        pytest.param("ct-tc9-cong-dong-khuyen-hoc", 60, id="cong-dong-60"),
        pytest.param("ct-tc10-khu-dan-cu-van-hoa", 80, id="khu-dan-cu-80"),
        pytest.param("ct-tc12-nu-lanh-dao", 80, id="nu-lanh-dao-80"),
        pytest.param("ct-tc14-suy-dinh-duong", 20, id="suy-dinh-duong-20"),
        pytest.param("ct-tap-huan-nhan-dan", 70, id="tap-huan-70"),
    ],
)
def test_mao_khe_2021_percentage_targets(obligation: str, percent: int) -> None:
    (step,) = steps(MAO_KHE, obligation)
    assert step.duty.percent == percent
    # a year-long window, due Friday 31/12/2021
    assert (step.occurrence.start, step.occurrence.date) == (date(2021, 1, 1), date(2021, 12, 31))


def test_mao_khe_zero_targets() -> None:
    for obligation in ("ct-tc5-khong-bo-hoc", "ct-tc14-ngo-doc-thuc-pham"):
        (step,) = steps(MAO_KHE, obligation)
        assert step.duty.quantity == 0


# ── seed 004: Kiên Giang 2013 – 2017, issued 19/02/2014 (next_working_day) ──────────────

KG_DISTRICTS = [
    "thanh-doan-rach-gia",
    "thi-doan-ha-tien",
    "huyen-doan-an-bien",
    "huyen-doan-an-minh",
    "huyen-doan-chau-thanh",
    "huyen-doan-giang-thanh",
    "huyen-doan-giong-rieng",
    "huyen-doan-go-quao",
    "huyen-doan-hon-dat",
    "huyen-doan-kien-hai",
    "huyen-doan-kien-luong",
    "huyen-doan-phu-quoc",
    "huyen-doan-tan-hiep",
    "huyen-doan-u-minh-thuong",
    "huyen-doan-vinh-thuan",
]
KG_DIRECT = [
    "doan-khoi-doanh-nghiep",
    "doan-khoi-co-quan",
    "doan-cong-an-tinh",
    "doan-quan-su-tinh",
    "doan-bien-phong-tinh",
]


def test_kien_giang_period_starts_on_the_day_of_issue() -> None:
    plan, _ = compiled(KIEN_GIANG)
    assert plan.issued == date(2014, 2, 19)
    assert (plan.start, plan.end) == (date(2014, 2, 19), date(2017, 12, 31))
    assert plan.number == "66-KH/TĐTN-ĐKTHTN"


@pytest.mark.parametrize("unit", [pytest.param(u, id=u) for u in KG_DISTRICTS + KG_DIRECT])
def test_kien_giang_yearly_written_report(unit: str) -> None:
    found = steps(KIEN_GIANG, "bao-cao-nam", unit)
    # 31/12/2014 Wednesday; 31/12/2015 Thursday; 31/12/2016 Saturday, 01/01/2017 Sunday
    # (Tết Dương lịch) and 02/01/2017 its day off → Tuesday 03/01/2017; 31/12/2017 Sunday:
    # the next working day (02/01/2018) is after the plan ends, so it turns back to Friday 29/12
    assert [s.occurrence.date for s in found] == [
        d("31/12/2014"),
        d("31/12/2015"),
        d("03/01/2017"),
        d("29/12/2017"),
    ]
    # the Ban ĐKTHTN, which receives the reports, hears of a late one on day 3, the Ban
    # Thường vụ on day 7
    rungs = found[0].escalation
    assert [r.units for r in rungs] == [(unit,), ("ban-dkthtn",), ("tinh-doan-kien-giang",)]
    # 31/12/2014 + 3 days, at the 08:00 reminder hour (01:00 UTC)
    assert rungs[1].at == datetime(2015, 1, 3, 1, 0, tzinfo=UTC)


def test_kien_giang_every_district_and_direct_union_reports() -> None:
    assert Counter(s.unit for s in steps(KIEN_GIANG, "bao-cao-nam")) == dict.fromkeys(
        KG_DISTRICTS + KG_DIRECT, 4
    )


@pytest.mark.parametrize(
    "obligation,percent",
    [
        pytest.param("ct-nong-thon-moi", 100, id="nong-thon-moi-100"),
        pytest.param("ct-hoat-dong-he", 100, id="hoat-dong-he-100"),
        pytest.param("ct-an-toan-giao-thong", 100, id="atgt-100"),
        pytest.param("ct-giup-do-tn-cham-tien", 50, id="tn-cham-tien-50"),
        pytest.param("ct-tn-tien-bo", 70, id="tn-tien-bo-70"),
    ],
)
def test_kien_giang_targets_by_2017(obligation: str, percent: int) -> None:
    found = steps(KIEN_GIANG, obligation)
    assert sorted(s.unit for s in found) == sorted(KG_DISTRICTS)
    assert {s.duty.percent for s in found} == {percent}
    # by 31/12/2017, a Sunday; the plan ends that day, so it turns back to Friday 29/12/2017
    assert {(s.occurrence.nominal, s.occurrence.date) for s in found} == {
        (date(2017, 12, 31), date(2017, 12, 29))
    }


@pytest.mark.parametrize(
    "obligation,first,last",
    [
        pytest.param("xuan-bien-gioi", (1, 1), (2, 0), id="xuan-bien-gioi-jan-feb"),
        pytest.param("thang-thanh-nien", (3, 1), (3, 31), id="thang-thanh-nien-march"),
        pytest.param("chien-dich-he", (6, 1), (8, 31), id="chien-dich-he-jun-aug"),
        pytest.param("tiep-suc-mua-thi", (6, 1), (7, 31), id="tiep-suc-mua-thi-jun-jul"),
    ],
)
def test_kien_giang_yearly_campaigns(
    obligation: str, first: tuple[int, int], last: tuple[int, int]
) -> None:
    windows = sorted(
        {(s.occurrence.start, s.occurrence.date) for s in steps(KIEN_GIANG, obligation)}
    )

    def end(year: int) -> date:
        if last == (2, 0):  # end of February: 2016 is a leap year
            return date(year, 2, 29 if year == 2016 else 28)
        return date(year, *last)

    # 2014 – 2017: Xuân biên giới 2014 ends 28/02/2014, after the plan's issue, and is kept
    assert windows == [(date(y, *first), end(y)) for y in range(2014, 2018)]


def test_kien_giang_campaigns_run_at_every_level() -> None:
    units = {s.unit for s in steps(KIEN_GIANG, "thang-thanh-nien")}
    assert units == {"tinh-doan-kien-giang", *KG_DISTRICTS, *KG_DIRECT}


def test_kien_giang_yearly_training() -> None:
    found = steps(KIEN_GIANG, "tap-huan-nang-luc")
    assert [(s.occurrence.start, s.occurrence.date) for s in found] == [
        (date(y, 4, 1), date(y, 6, 30)) for y in range(2014, 2018)
    ]


def test_kien_giang_review_conference_after_the_reports() -> None:
    # January 2014 is before the plan; January 2015 – 2017. Events keep their dates
    # (31/01/2015 is a Saturday, 31/01/2016 a Sunday).
    assert due_dates(KIEN_GIANG, "hoi-nghi-danh-gia") == [
        d("31/01/2015"),
        d("31/01/2016"),
        d("31/01/2017"),
    ]
