"""Compiler invariants, as properties over random small plans, and a few concrete cases.

Plans are built as YAML text, as a user would write them, then go through parse_plan and
compile_plan: random units and clusters, `when:` phrases from the grammar's templates with
random days, months and years, random kinds, shift policies, reminders and escalation ladders.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.compiler import Step, compile_plan
from engine.loader import load_plan, parse_plan
from engine.plan import Plan
from engine.workdays import ShiftPolicy, WorkingCalendar

ROOT = Path(__file__).resolve().parent.parent
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CALENDAR = WorkingCalendar()
ROMAN = ["I", "II", "III", "IV"]
POLICIES = ["keep", "previous_working_day", "next_working_day"]
#: KEHOACH_EXAMPLES=500 for a longer, randomised search; the default run is small and repeatable.
EXAMPLES = int(os.environ.get("KEHOACH_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=EXAMPLES or 40,
    deadline=None,
    derandomize=not EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- random plans --------------------------------------------------------------------------------


def d(x: date) -> str:
    return f"{x.day}/{x.month}/{x.year}"


@st.composite
def phrases(draw: st.DrawFn, first: date, last: date) -> str | dict[str, Any]:
    """A `when:` for a plan running from `first` to `last` (whole years)."""
    single_year = first.year == last.year
    on = draw(st.dates(first, last))
    other = draw(st.dates(first, last))
    a, b = sorted((on, other))
    year = draw(st.integers(first.year, last.year))
    m1, m2 = sorted(draw(st.lists(st.integers(1, 12), min_size=2, max_size=2, unique=True)))
    ym = draw(st.dates(date(2001, 1, 1), date(2001, 12, 31)))  # a month-day, never 29/02
    ym2 = draw(st.dates(date(2001, 1, 1), date(2001, 12, 31)).filter(lambda x: x != ym))
    clock = f"{draw(st.integers(0, 23)):02d}g{draw(st.sampled_from([0, 15, 30, 45])):02d}"
    options: list[str | dict[str, Any]] = [
        f"ngày {d(on)}",
        f"{clock}, ngày {d(on)}",
        f"Ngày {on:%d/%m/%Y}",
        f"{on.day}-{on.month}-{on.year}",
        f"ngày {d(a)} và {d(b)}" if a != b else f"ngày {d(a)}",
        f"từ ngày {d(a)} đến ngày {d(b)}",
        f"tháng {on.month} năm {on.year}",
        f"Dự kiến tháng {on.month} năm {on.year}",
        f"Tháng {on.month:02d}/{on.year}",
        f"quý {ROMAN[(on.month - 1) // 3]} năm {on.year}",
        f"Năm {year}",
        f"Đến năm {year}",
        f"vào ngày {ym.day:02d}/{ym.month:02d} và {ym2.day}/{ym2.month} hàng năm",
        f"từ tháng {m1:02d} đến tháng {m2} hàng năm",
        f"từ tháng {m2} đến tháng {m1} hằng năm",
        f"Tháng {m1} hàng năm",
        "Hằng năm",
        "Định kỳ 01 năm",
        f"ngày {ym.day}/{ym.month} âm lịch hằng năm"
        if ym.day <= 30
        else "ngày 10/3 âm lịch hằng năm",
        "định kỳ hằng quý",
        "cuối hằng quý",
        "đầu mỗi quý",
        "mỗi năm 4 lần vào cuối các quý",
        "Định kỳ hàng tháng",
        "cuối hàng tháng",
        f"ngày {ym.day} hằng tháng",
        f"chiều thứ {draw(st.integers(2, 7))} hằng tuần",
        "chiều thứ 6 và chủ nhật hàng tuần",
        {"dates": [on.isoformat(), f"{other:%d/%m/%Y}"] if on != other else [on.isoformat()]},
        {"rrule": "FREQ=MONTHLY;BYMONTHDAY=-1", "time": clock.replace("g", ":")},
        {"from": d(a), "to": d(b)},
    ]
    if single_year:
        options += [
            f"ngày {on.day}/{on.month}",
            f"tháng {on.month}",
            f"từ ngày {a.day}/{a.month} đến ngày {d(b)}",
        ]
    return draw(st.sampled_from(options))


@st.composite
def obligations(
    draw: st.DrawFn, oid: str, first: date, last: date, units: list[str], clustered: bool
) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["event", "deadline", "milestone", "phase", "contribution", "target"])
    )
    ob: dict[str, Any] = {
        "id": oid,
        "kind": kind,
        "title": draw(
            st.sampled_from(
                [
                    "Hội nghị",
                    "Báo cáo kết quả",
                    "Đăng ký hoạt động",
                    "Tập huấn",
                    "Đóng góp kinh phí",
                ]
            )
        )
        + f" {oid}",
        "when": draw(phrases(first, last)),
    }
    ob["responsible"] = draw(
        st.one_of(
            st.lists(st.sampled_from(units), min_size=1, max_size=len(units), unique=True),
            st.sampled_from(units),
            st.just("*") if len(units) > 1 else st.sampled_from(units),
            st.just("c1") if clustered else st.sampled_from(units),
        )
    )
    if kind == "contribution":
        ob["amount"] = draw(st.sampled_from(["500.000 đồng", 6000000, "4,5 triệu"]))
    if kind == "target":
        ob["quantity"] = draw(st.integers(1, 40))
    if draw(st.booleans()):
        ob["shift"] = draw(st.sampled_from(POLICIES))
    if draw(st.booleans()):
        ob["reminders"] = draw(
            st.lists(
                st.sampled_from(["7d", "3d", "1d", "1w", "2h", "30m"]), max_size=3, unique=True
            )
        )
    if draw(st.booleans()):
        ob["escalation"] = [
            {"after": after, "to": to}
            for after, to in draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["1d", "3d", "7d", "2h", "90m"]),
                        st.sampled_from(
                            ["responsible", "cluster_head", "parent", "issuer", units[0]]
                        ),
                    ),
                    min_size=1,
                    max_size=3,
                )
            )
        ]
    return ob


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    y1 = draw(st.integers(2021, 2027))
    y2 = y1 + draw(st.integers(0, 2))
    first, last = date(y1, 1, 1), date(y2, 12, 31)
    units = [f"u{i}" for i in range(draw(st.integers(2, 5)))]
    clustered = draw(st.booleans())
    doc: dict[str, Any] = {
        "id": "p",
        "title": "Kế hoạch thử",
        "issuer": "u0",
        "period": str(y1)
        if y1 == y2
        else draw(st.sampled_from([f"{y1} - {y2}", f"giai đoạn {y1} - {y2}"])),
        "shift": draw(st.sampled_from(POLICIES)),
        "reminder_time": draw(st.sampled_from(["08:00", "07h30", "17:00", "20g00"])),
        "units": [{"id": u, "name": f"Đơn vị {u}"} for u in units],
    }
    if clustered:
        doc["clusters"] = [{"id": "c1", "name": "Cụm 1", "head": "u1", "members": units[1:]}]
    doc["obligations"] = [
        draw(obligations(f"o{i}", first, last, units, clustered))
        for i in range(draw(st.integers(1, 4)))
    ]
    return doc


def text(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def compiled(doc: dict[str, Any], **kw: Any) -> tuple[Plan, list[Step]]:
    plan = parse_plan(text(doc), "random.yaml")
    return plan, compile_plan(plan, CALENDAR, **kw)


def moments(steps: list[Step], obligation: str) -> dict[str, tuple[Any, ...]]:
    return {
        s.id: (
            s.occurrence.date,
            s.occurrence.nominal,
            s.occurrence.due_at,
            s.occurrence.reminders,
            s.rung_times,
        )
        for s in steps
        if s.duty.id == obligation
    }


# --- properties ----------------------------------------------------------------------------------


@SETTINGS
@given(plans())
def test_deterministic(doc: dict[str, Any]) -> None:
    plan, steps = compiled(doc)
    again = compile_plan(plan, CALENDAR)
    _, fresh = compiled(copy.deepcopy(doc))
    assert [s.id for s in steps] == [s.id for s in again] == [s.id for s in fresh]
    assert [s.to_dict(plan) for s in steps] == [s.to_dict(plan) for s in again]
    assert [s.to_dict() for s in steps] == [s.to_dict() for s in fresh]


@SETTINGS
@given(plans())
def test_ids_unique_and_steps_ordered(doc: dict[str, Any]) -> None:
    plan, steps = compiled(doc)
    assert len({s.id for s in steps}) == len(steps)
    assert all(
        s.id.startswith(f"{plan.id}/{s.duty.id}/") and s.id.endswith(f"/{s.unit}") for s in steps
    )
    order = [(s.occurrence.due_at, s.unit) for s in steps]
    assert order == sorted(order)


@SETTINGS
@given(plans())
def test_dates_within_the_period(doc: dict[str, Any]) -> None:
    plan, steps = compiled(doc)
    for s in steps:
        occ = s.occurrence
        assert plan.start <= occ.nominal <= plan.end, s.id
        if s.duty.shift is ShiftPolicy.KEEP:
            assert occ.date == occ.nominal
        # a shift moves to the nearest working day in the policy's direction, or the other way
        # when that would leave the plan (see test_shift_stays_in_the_period)
        assert plan.start <= occ.date <= plan.end, s.id
        other = {ShiftPolicy.NEXT: ShiftPolicy.PREVIOUS, ShiftPolicy.PREVIOUS: ShiftPolicy.NEXT}
        assert occ.date in (
            CALENDAR.shift(occ.nominal, s.duty.shift),
            CALENDAR.shift(occ.nominal, other.get(s.duty.shift, s.duty.shift)),
            occ.nominal,
        )
        assert abs((occ.date - occ.nominal).days) <= 14
        assert occ.start is None or occ.start <= occ.nominal


@SETTINGS
@given(plans())
def test_shifted_dates_are_working_days(doc: dict[str, Any]) -> None:
    _, steps = compiled(doc)
    for s in steps:
        occ = s.occurrence
        if s.duty.shift in (ShiftPolicy.PREVIOUS, ShiftPolicy.NEXT):
            assert CALENDAR.is_working_day(occ.date), s.id
            if occ.date != occ.nominal:
                assert occ.shifted_because
                forward = CALENDAR.shift(occ.nominal, s.duty.shift)
                if forward == occ.date:  # else it turned back at the plan's edge
                    assert (occ.date > occ.nominal) == (s.duty.shift is ShiftPolicy.NEXT)
        else:
            assert occ.date == occ.nominal and occ.shifted_because is None


@SETTINGS
@given(plans())
def test_reminders_before_due_and_sorted_escalation_after(doc: dict[str, Any]) -> None:
    _, steps = compiled(doc)
    for s in steps:
        occ = s.occurrence
        assert list(occ.reminders) == sorted(set(occ.reminders)), s.id
        assert all(r < occ.due_at for r in occ.reminders), s.id
        assert all(r.at > occ.due_at for r in s.escalation), s.id
        assert all(r.units for r in s.escalation)
        assert all(
            t.tzinfo is not None and t.utcoffset() == timedelta(0)
            for t in (occ.due_at, *occ.reminders, *s.rung_times)
        )


@SETTINGS
@given(plans())
def test_due_moment(doc: dict[str, Any]) -> None:
    plan, steps = compiled(doc)
    for s in steps:
        occ = s.occurrence
        local = occ.due_at.astimezone(plan.tz)
        if occ.time is None:  # late from local midnight after the date
            assert (local.date(), local.time()) == (
                occ.date + timedelta(days=1),
                datetime.min.time(),
            )
        else:
            assert (local.date(), local.time()) == (occ.date, occ.time)


EDITS = [
    "add_obligation",
    "add_unit",
    "rename_other",
    "rename_self",
    "rename_plan",
    "redate_other",
    "reorder",
    "reremind_other",
]


@SETTINGS
@given(plans(), st.sampled_from(EDITS), st.data())
def test_ids_stable_under_unrelated_edits(
    doc: dict[str, Any], edit: str, data: st.DataObject
) -> None:
    target = doc["obligations"][0]["id"]
    _, before = compiled(doc)
    edited = copy.deepcopy(doc)
    obs = edited["obligations"]
    plan = parse_plan(text(doc))
    first, last = plan.start, plan.end
    others = obs[1:]
    if edit == "add_obligation":
        units = [u["id"] for u in edited["units"]]
        obs.append(data.draw(obligations("them-moi", first, last, units, "clusters" in edited)))
    elif edit == "add_unit":
        edited["units"].append({"id": "u-moi", "name": "Đơn vị mới"})
    elif edit == "rename_self":
        obs[0]["title"] = "Tên mới của nghĩa vụ"
    elif edit == "rename_plan":
        edited["title"] = "Kế hoạch đổi tên"
    elif edit == "reorder":
        obs.reverse()
    elif others:
        other = data.draw(st.sampled_from(others))
        if edit == "rename_other":
            other["title"] += " (sửa)"
        elif edit == "redate_other":
            other["when"] = data.draw(phrases(first, last))
        else:
            other["reminders"] = ["2d"]
    _, after = compiled(edited)
    old, new = moments(before, target), moments(after, target)
    if edit == "add_unit" and doc["obligations"][0]["responsible"] == "*":
        assert old.items() <= new.items()  # the new unit gets steps of its own
    else:
        assert old == new


@SETTINGS
@given(plans(), st.data())
def test_window_and_units_filters(doc: dict[str, Any], data: st.DataObject) -> None:
    plan, steps = compiled(doc)
    a = data.draw(st.dates(plan.start - timedelta(days=10), plan.end + timedelta(days=10)))
    b = data.draw(st.dates(a, plan.end + timedelta(days=20)))
    window = compile_plan(plan, CALENDAR, window=(a, b))
    assert [s.id for s in window] == [s.id for s in steps if a <= s.occurrence.date <= b]
    assert [s.id for s in compile_plan(plan, CALENDAR, window=(a, None))] == [
        s.id for s in steps if a <= s.occurrence.date
    ]
    assert [s.id for s in compile_plan(plan, CALENDAR, window=(None, b))] == [
        s.id for s in steps if s.occurrence.date <= b
    ]
    chosen = frozenset(data.draw(st.lists(st.sampled_from(sorted(plan.units)), max_size=3)))
    only = compile_plan(plan, CALENDAR, units=chosen)
    assert [s.id for s in only] == [s.id for s in steps if s.unit in chosen]
    assert [s.to_dict(plan) for s in only] == [s.to_dict(plan) for s in steps if s.unit in chosen]


# --- concrete cases ------------------------------------------------------------------------------


def plan_with(
    *obligations: dict[str, Any],
    period: str = "2022",
    shift: str = "next_working_day",
    **extra: Any,
) -> Plan:
    doc = {
        "id": "p",
        "title": "Kế hoạch",
        "issuer": "u0",
        "period": period,
        "shift": shift,
        "units": [
            {"id": "u0", "name": "Quận Đoàn"},
            {"id": "u1", "name": "Đoàn phường 1"},
            {"id": "u2", "name": "Đoàn phường 2"},
        ],
        "clusters": [{"id": "c1", "name": "Cụm 1", "head": "u1", "members": ["u1", "u2"]}],
        "obligations": list(obligations),
        **extra,
    }
    return parse_plan(text(doc))


def test_timed_event_due_at_local_clock() -> None:
    plan = plan_with(
        {
            "id": "hoi-nghi",
            "kind": "event",
            "title": "Hội nghị",
            "when": "08g00, ngày 19/5/2022",
            "responsible": "u1",
        }
    )
    [step] = compile_plan(plan, CALENDAR)
    assert step.occurrence.due_at == datetime(2022, 5, 19, 1, 0, tzinfo=UTC)
    assert step.occurrence.due_at == datetime(2022, 5, 19, 8, 0, tzinfo=HCM)
    assert step.to_dict(plan)["due_at"] == "2022-05-19T01:00:00+00:00"
    # events keep their date and are not escalated by default; reminders 3 days and 1 day before
    assert step.escalation == ()
    assert step.occurrence.reminders == (
        datetime(2022, 5, 16, 8, tzinfo=HCM),
        datetime(2022, 5, 18, 8, tzinfo=HCM),
    )


def test_all_day_deadline_is_late_from_local_midnight_after_its_date() -> None:
    plan = plan_with(
        {
            "id": "bao-cao",
            "kind": "deadline",
            "title": "Báo cáo",
            "when": "ngày 19/5/2022",
            "responsible": ["u1", "u2"],
        }
    )
    steps = compile_plan(plan, CALENDAR)
    assert [s.id for s in steps] == ["p/bao-cao/1/u1", "p/bao-cao/1/u2"]
    occ = steps[0].occurrence
    assert occ.time is None
    assert (
        occ.due_at
        == datetime(2022, 5, 20, 0, 0, tzinfo=HCM)
        == datetime(2022, 5, 19, 17, 0, tzinfo=UTC)
    )
    # default ladder: the unit after 1 day, its cluster head after 3, the issuer after 7
    rungs = steps[1].escalation
    assert [(r.level, r.at, r.units) for r in rungs] == [
        (1, datetime(2022, 5, 20, 8, tzinfo=HCM), ("u2",)),
        (2, datetime(2022, 5, 22, 8, tzinfo=HCM), ("u1",)),
        (3, datetime(2022, 5, 26, 8, tzinfo=HCM), ("u0",)),
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("next_working_day", date(2025, 2, 3)),
        ("previous_working_day", date(2025, 1, 24)),
        ("keep", date(2025, 1, 30)),
    ],
)
def test_deadline_in_tet_moves_by_policy(policy: str, expected: date) -> None:
    plan = plan_with(
        {
            "id": "dang-ky",
            "kind": "deadline",
            "title": "Đăng ký hoạt động",
            "when": "ngày 30/01/2025",
            "responsible": "u1",
            "shift": policy,
        },
        period="2025",
    )
    [step] = compile_plan(plan, CALENDAR)
    occ = step.occurrence
    assert (occ.nominal, occ.date) == (date(2025, 1, 30), expected)
    assert occ.shifted_because == (None if policy == "keep" else "Mùng hai Tết Nguyên Đán")
    assert step.id == "p/dang-ky/1/u1"  # the id does not depend on the shift


def test_yearly_registration_dates_in_tet_years() -> None:
    plan = plan_with(
        {
            "id": "dang-ky",
            "kind": "deadline",
            "title": "Đăng ký hoạt động",
            "when": "vào ngày 30/01 và 30/8 hàng năm",
            "responsible": "head:c1",
        },
        period="2023 - 2028",
        shift="next_working_day",
    )
    steps = compile_plan(plan, CALENDAR)
    assert [s.occurrence.key for s in steps][:4] == ["2023-1", "2023-2", "2024-1", "2024-2"]
    by_key = {s.occurrence.key: s.occurrence.date for s in steps}
    assert by_key["2025-1"] == date(2025, 2, 3)  # 30/01/2025 is in Tết
    assert all(CALENDAR.is_working_day(day) for day in by_key.values())
    assert len(steps) == 12 and {s.unit for s in steps} == {"u1"}


def test_window_filter_on_the_example_plan() -> None:
    plan = load_plan(ROOT / "plans" / "cum-hcsn-2022.yaml")
    steps = compile_plan(plan, CALENDAR)
    july = compile_plan(plan, CALENDAR, window=(date(2022, 7, 1), date(2022, 7, 31)))
    assert july and all(date(2022, 7, 1) <= s.occurrence.date <= date(2022, 7, 31) for s in july)
    assert [s.id for s in july] == [s.id for s in steps if s.occurrence.date.month == 7]
    assert compile_plan(plan, CALENDAR, window=(date(2023, 1, 1), None)) == []
    one_day = compile_plan(plan, CALENDAR, window=(date(2022, 5, 19), date(2022, 5, 19)))
    assert {s.duty.id for s in one_day} == {
        "hoi-nghi-chi-thi-05",
        "hoi-nghi-chi-thi-05-tham-du",
        "hoi-nghi-chi-thi-05-kinh-phi",
    }


def test_units_filter_on_the_example_plan() -> None:
    plan = load_plan(ROOT / "plans" / "cum-hcsn-2022.yaml")
    steps = compile_plan(plan, CALENDAR)
    mine = compile_plan(plan, CALENDAR, units=frozenset({"doan-so-y-te"}))
    assert mine and {s.unit for s in mine} == {"doan-so-y-te"}
    assert [s.id for s in mine] == [s.id for s in steps if s.unit == "doan-so-y-te"]
    visits = [s for s in mine if s.duty.id == "tham-me-vnah-kinh-phi"]
    assert [s.occurrence.key for s in visits] == ["2022-Q2", "2022-Q3", "2022-Q4"]
    assert {s.amount for s in visits} == {3_500_000}
    assert compile_plan(plan, CALENDAR, units=frozenset()) == []
    assert compile_plan(plan, CALENDAR, units=frozenset({"khong-co"})) == []


def test_example_plan_ids() -> None:
    plan = load_plan(ROOT / "plans" / "cum-hcsn-2022.yaml")
    steps = compile_plan(plan, CALENDAR)
    ids = [s.id for s in steps]
    assert len(ids) == len(set(ids))
    assert "cum-hcsn-2022/hoi-nghi-chi-thi-05/1/doan-khoi-dcd" in ids
    assert "cum-hcsn-2022/tham-me-vnah/2022-Q3/doan-khoi-dcd" in ids


# --- known gaps in the compiler (see the report); strict, so a fix shows up as XPASS -----------


@pytest.mark.parametrize(
    ("when", "policy"),
    [("ngày 31/12/2022", "next_working_day"), ("ngày 01/01/2022", "previous_working_day")],
)
def test_shift_stays_in_the_period(when: str, policy: str) -> None:
    plan = plan_with(
        {
            "id": "x",
            "kind": "deadline",
            "title": "X",
            "when": when,
            "responsible": "u1",
            "shift": policy,
        }
    )
    [step] = compile_plan(plan, CALENDAR)
    assert plan.start <= step.occurrence.date <= plan.end


def test_same_day_reminder_before_an_early_event() -> None:
    plan = plan_with(
        {
            "id": "x",
            "kind": "event",
            "title": "X",
            "when": "07g00, ngày 19/5/2022",
            "responsible": "u1",
            "reminders": ["0d"],
        }
    )
    [step] = compile_plan(plan, CALENDAR)
    assert all(r < step.occurrence.due_at for r in step.occurrence.reminders)


def test_same_day_escalation_after_the_deadline() -> None:
    plan = plan_with(
        {
            "id": "x",
            "kind": "deadline",
            "title": "X",
            "when": "ngày 19/5/2022",
            "responsible": "u1",
            "escalation": [{"after": "0d", "to": "responsible"}],
        }
    )
    [step] = compile_plan(plan, CALENDAR)
    # "0d" is heard as soon as the step is late (late means now >= due_at), not before
    assert [r.at for r in step.escalation] == [step.occurrence.due_at]


RELATIVE_PLAN = """
id: thu
title: Hạn tính từ một mốc
issuer: quan-doan
issued: 01/01/2025
period: "2025"
shift: keep
units:
  - {id: quan-doan, name: Quận Đoàn}
  - {id: doan-a, name: Đoàn phường A}
obligations:
  - {id: hoi-nghi, kind: event, title: Hội nghị tổng kết, when: "ngày 25/4/2025",
     responsible: quan-doan}
  - {id: bien-ban, kind: deadline, title: Gửi biên bản, responsible: doan-a,
     when: "trong vòng 5 ngày làm việc kể từ ngày kết thúc nghĩa vụ hoi-nghi"}
  - {id: dang-ky, kind: deadline, title: Đăng ký, when: "sau 10 ngày kể từ ngày ban hành",
     responsible: doan-a}
  - {id: bao-cao, kind: deadline, title: Báo cáo quý,
     when: "chậm nhất 30 ngày sau khi kết thúc quý", responsible: doan-a}
  - {id: tham-hoi, kind: event, title: Thăm hỏi, when: "trước Tết Nguyên đán 2 tuần",
     responsible: doan-a}
"""


def test_relative_deadlines_count_from_their_anchor() -> None:
    """Issue 13 item 7: days or working days from a date, another obligation, a period's end,
    Tết."""
    steps = compile_plan(parse_plan(RELATIVE_PLAN), CALENDAR)
    due = {(s.duty.id, s.occurrence.key): s.occurrence.date for s in steps}
    assert due[("bien-ban", "1")] == date(2025, 5, 6)  # 25/4 + 5 working days past 30/4, 1/5, 2/5
    assert due[("dang-ky", "1")] == date(2025, 1, 11)  # the plan's date of issue + 10 days
    assert due[("bao-cao", "2025-Q1")] == date(2025, 4, 30) and due[("bao-cao", "2024-Q4")] == date(
        2025, 1, 30
    )
    assert due[("tham-hoi", "2025")] == date(2025, 1, 15)  # Tết 2025 is 29/01


def test_a_deadline_counted_from_an_unknown_obligation_is_refused() -> None:
    from engine.errors import PlanErrors

    text = RELATIVE_PLAN.replace("nghĩa vụ hoi-nghi", "nghĩa vụ hoi-nghi-khac")
    with pytest.raises(PlanErrors) as caught:
        parse_plan(text)
    assert "không có nghĩa vụ «hoi-nghi-khac»" in str(caught.value)


@pytest.mark.parametrize(
    "chain", [["bien-ban"], ["bien-ban", "nhac"], ["bien-ban", "nhac", "ra-soat"]]
)
def test_deadlines_counted_from_each_other_in_a_loop_are_refused(chain: list[str]) -> None:
    """A loop of «kể từ ngày kết thúc nghĩa vụ …» has no date to start from: it was accepted
    and compiled to no step at all, silently. Every obligation of the loop is named."""
    from engine.errors import PlanErrors

    others = "".join(
        f"\n  - {{id: {ob}, kind: deadline, title: Việc {ob}, responsible: doan-a,\n"
        f'     when: "5 ngày kể từ ngày kết thúc nghĩa vụ {chain[(i + 1) % len(chain)]}"}}'
        for i, ob in enumerate(chain)
        if i
    )
    text = (
        RELATIVE_PLAN.replace('nghĩa vụ hoi-nghi"', f'nghĩa vụ {chain[1 % len(chain)]}"') + others
    )
    with pytest.raises(PlanErrors) as caught:
        parse_plan(text)
    message = str(caught.value)
    assert "vòng quanh" in message
    for ob in chain:
        assert f"«{ob}» → " in message
    assert message.count("vòng quanh") == len(chain)


def test_a_long_chain_of_counted_deadlines_is_followed_to_its_end() -> None:
    """Twelve obligations each counted from the one before: every one has its step (a chain of
    more than 8 was cut as if it were a loop, its tail compiled to nothing)."""
    before = ["hoi-nghi"] + [f"buoc-{i}" for i in range(1, 12)]
    chain = "".join(
        f"\n  - {{id: buoc-{i}, kind: deadline, title: Bước {i}, responsible: doan-a,\n"
        f'     when: "2 ngày kể từ ngày kết thúc nghĩa vụ {before[i - 1]}"}}'
        for i in range(1, 13)
    )
    steps = compile_plan(parse_plan(RELATIVE_PLAN + chain), CALENDAR)
    due = {s.duty.id: s.occurrence.date for s in steps if s.duty.id.startswith("buoc-")}
    assert due == {f"buoc-{i}": date(2025, 4, 25) + timedelta(days=2 * i) for i in range(1, 13)}
