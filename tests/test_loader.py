"""Bad plans: every error names file, line and column and the offending text; all at once."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from engine.errors import PlanErrors
from engine.loader import load_plan, parse_plan

GOOD = """\
id: thu
title: Kế hoạch thử
issuer: quan-doan
period: "2024 - 2025"
units:
  - id: quan-doan
    name: Ban Thường vụ Quận Đoàn
  - id: phuong-1
    name: Đoàn phường 1
  - id: phuong-2
    name: Đoàn phường 2
clusters:
  - id: cum-a
    name: Cụm A
    head: phuong-1
    members: [phuong-2]
obligations:
  - id: bao-cao
    kind: deadline
    title: Báo cáo kết quả
    when: vào 30/5 và 30/11 hàng năm
    responsible: cum-a
  - id: kinh-phi
    kind: contribution
    title: Đóng góp kinh phí
    when: ngày 19/5/2024
    responsible: cum-a
    amount: 500.000 đồng
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(PlanErrors) as info:
        parse_plan(text, "k.yaml")
    return [str(e) for e in info.value.errors]


def test_good_plan_loads() -> None:
    plan = parse_plan(GOOD, "k.yaml")
    assert [d.id for d in plan.duties] == ["bao-cao", "kinh-phi"]
    assert plan.duties[1].amounts == {"phuong-1": 500_000, "phuong-2": 500_000}
    assert plan.clusters_of["phuong-2"] == ("cum-a",)


BAD = [
    (
        "yaml-syntax",
        GOOD.replace("members: [phuong-2]", "members: [phuong-2"),
        "k.yaml:17:",
        "cú pháp YAML",
    ),
    (
        "duplicate-key",
        GOOD.replace("title: Kế hoạch thử", "title: Kế hoạch thử\ntitle: lại"),
        "k.yaml:3:1",
        "bị lặp lại",
    ),
    (
        "unknown-key",
        GOOD.replace("    amount: 500.000 đồng", "    amout: 500.000 đồng"),
        "k.yaml:28:12",
        "khóa không hợp lệ «amout»; có phải «amount»?",
    ),
    (
        "unknown-unit",
        GOOD.replace("responsible: cum-a\n    amount", "responsible: cum-b\n    amount"),
        "k.yaml:27:18",
        "không có đơn vị, cụm hay nhóm «cum-b»",
    ),
    (
        "impossible-date",
        GOOD.replace("19/5/2024", "31/6/2024"),
        "k.yaml:26:11",
        "ngày 31/06/2024 không tồn tại — «ngày 31/6/2024»",
    ),
    (
        "not-leap",
        GOOD.replace("19/5/2024", "29/2/2025"),
        "k.yaml:26:11",
        "ngày 29/02/2025 không tồn tại",
    ),
    (
        "feb-30-yearly",
        GOOD.replace("30/5 và 30/11", "30/02 và 30/11"),
        "k.yaml:21:11",
        "ngày 30/02 không tồn tại",
    ),
    (
        "unknown-phrase",
        GOOD.replace("ngày 19/5/2024", "sau Tết Nguyên Đán"),
        "k.yaml:26:11",
        "không hiểu «sau»",
    ),
    (
        "outside-period",
        GOOD.replace("19/5/2024", "19/5/2027"),
        "k.yaml:26:11",
        "nằm ngoài thời gian của kế hoạch",
    ),
    (
        "amount-not-number",
        GOOD.replace("500.000 đồng", "năm trăm nghìn"),
        "k.yaml:28:13",
        "số tiền không hợp lệ",
    ),
    (
        "bad-kind",
        GOOD.replace("kind: deadline", "kind: meeting"),
        "k.yaml:19:11",
        "chọn một trong: 'event'",
    ),
    (
        "cycle",
        GOOD.replace(
            "    name: Đoàn phường 1\n", "    name: Đoàn phường 1\n    parent: phuong-2\n"
        ).replace("    name: Đoàn phường 2\n", "    name: Đoàn phường 2\n    parent: phuong-1\n"),
        "k.yaml:10:13",
        "vòng lặp: phuong-1 → phuong-2 → phuong-1",
    ),
    (
        "missing-title",
        GOOD.replace("    title: Báo cáo kết quả\n", ""),
        "k.yaml:18:5",
        "thiếu trường bắt buộc «obligations.0.title»",
    ),
    (
        "bad-offset",
        GOOD.replace(
            "    amount: 500.000 đồng", "    amount: 500.000 đồng\n    reminders: [một tuần]"
        ),
        "k.yaml:29:17",
        "khoảng thời gian không hợp lệ",
    ),
    (
        "bad-time",
        GOOD.replace("ngày 19/5/2024", "25g00, ngày 19/5/2024"),
        "k.yaml:26:11",
        "giờ 25:00 không tồn tại",
    ),
    (
        "bad-rrule",
        GOOD.replace("when: ngày 19/5/2024", "when: {rrule: 'FREQ=SOMETIMES'}"),
        "k.yaml:26:11",
        "RRULE không hợp lệ",
    ),
]


@pytest.mark.parametrize("text,where,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_plan_is_named_by_place(text: str, where: str, message: str) -> None:
    found = errors_of(text)
    assert any(e.startswith(where) and message in e for e in found), found


def test_window_starting_before_the_period_counts_by_its_due_date() -> None:
    inside = GOOD.replace("when: ngày 19/5/2024", "when: từ ngày 15/12/2023 đến ngày 15/1/2024")
    plan = parse_plan(inside, "k.yaml")
    [item] = plan.duties[1].schedule.rule.items  # type: ignore[union-attr]
    assert item[1].isoformat() == "2024-01-15"
    outside = GOOD.replace("when: ngày 19/5/2024", "when: từ ngày 15/12/2025 đến ngày 15/1/2026")
    assert any("ngày 15/01/2026 nằm ngoài thời gian" in e for e in errors_of(outside))


def test_all_errors_reported_at_once() -> None:
    text = (
        GOOD.replace("19/5/2024", "31/6/2024")
        .replace("cum-a\n    amount", "cum-b\n    amount")
        .replace("30/5 và 30/11", "30/02 và 30/11")
        .replace("kind: deadline", "kind: deadline\n    colour: red")
    )
    found = errors_of(text)
    assert len(found) == 4, found
    assert [e.split(":")[1] for e in found] == sorted((e.split(":")[1] for e in found), key=int)


def test_nfd_plan_reads_like_nfc() -> None:
    nfc = parse_plan(GOOD, "k.yaml")
    nfd = parse_plan(unicodedata.normalize("NFD", GOOD), "k.yaml")
    assert nfd.duties == nfc.duties and nfd.units == nfc.units


@pytest.mark.parametrize(
    "content,message",
    [
        (b"\xff\xfe bad", "không phải UTF-8"),
        (b"- just\n- a list\n", "phải là một bảng khóa"),
        (b"", "phải là một bảng khóa"),
    ],
    ids=["binary", "list", "empty"],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "p.yaml"
    f.write_bytes(content)
    with pytest.raises(PlanErrors) as info:
        load_plan(f)
    assert message in str(info.value) and str(f) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanErrors, match="không đọc được tệp"):
        load_plan(tmp_path / "none.yaml")


# ── hostile or broken files: refused with their place, no hang, no traceback ──────────────
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def rrule(rule: str) -> str:
    return GOOD.replace("when: ngày 19/5/2024", f"when: {{rrule: '{rule}'}}")


HOSTILE = [
    ("billion-laughs", LAUGHS, "k.yaml:", "bí danh YAML"),
    (
        "bymonthday-45",
        rrule("FREQ=MONTHLY;BYMONTHDAY=45"),
        "k.yaml:26:11",
        "BYMONTHDAY=45: mỗi giá trị",
    ),
    ("bymonthday-0", rrule("FREQ=MONTHLY;BYMONTHDAY=0"), "k.yaml:26:11", "BYMONTHDAY=0"),
    ("bymonth-13", rrule("FREQ=YEARLY;BYMONTH=13"), "k.yaml:26:11", "BYMONTH=13"),
    ("byday-bad", rrule("FREQ=WEEKLY;BYDAY=XX"), "k.yaml:26:11", "không phải thứ trong tuần"),
    ("interval-0", rrule("FREQ=DAILY;INTERVAL=0"), "k.yaml:26:11", "INTERVAL=0"),
    (
        "unknown-part",
        rrule("FREQ=DAILY;BYEASTER=1"),
        "k.yaml:26:11",
        "không phải một phần của RRULE",
    ),
    (
        "seconds-list",
        rrule(
            "FREQ=DAILY;BYMINUTE="
            + ",".join(map(str, range(60)))
            + ";BYSECOND="
            + ",".join(map(str, range(60)))
        ),
        "k.yaml:26:11",
        "phút, giây",
    ),
    (
        "too-many",
        rrule("FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24)))),
        "k.yaml:26:11",
        "quá 10,000 lần",
    ),
    (
        "never-in-period",
        rrule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"),
        "k.yaml:26:11",
        "không rơi vào ngày nào",
    ),
    (
        "control-character",
        GOOD.replace("title: Kế hoạch thử", "title: Kế hoạch\x01 thử"),
        "k.yaml:2:16",
        "ký tự điều khiển U+0001",
    ),
    (
        "issued-month-13",
        GOOD.replace("period:", "issued: 13/2024\nperiod:"),
        "k.yaml:4:9",
        "ngày ban hành",
    ),
]


@pytest.mark.parametrize(
    "text,where,message", [b[1:] for b in HOSTILE], ids=[b[0] for b in HOSTILE]
)
def test_hostile_plan_is_refused_by_place(text: str, where: str, message: str) -> None:
    found = errors_of(text)
    assert any(e.startswith(where) and message in e for e in found), found


def test_a_few_aliases_are_fine() -> None:
    text = GOOD.replace("    name: Đoàn phường 1\n", "    name: &ten Đoàn phường 1\n").replace(
        "    name: Đoàn phường 2\n", "    name: *ten\n"
    )
    assert parse_plan(text, "k.yaml").units["phuong-2"] == "Đoàn phường 1"


def test_non_utf8_byte_is_named_by_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_bytes(
        GOOD.replace("title: Kế hoạch thử", "title: Ke hoach")
        .encode()
        .replace(b"Ke hoach", b"K\xea ho\xb9ch", 1)
    )  # TCVN3-ish bytes in a UTF-8 file
    with pytest.raises(PlanErrors) as info:
        load_plan(f)
    assert str(info.value).startswith(f"{f}:2:9: tệp không phải UTF-8: byte 0xEA"), info.value


@pytest.mark.parametrize("name", [b[0] for b in HOSTILE[:2]] + ["seconds-list"])
def test_check_refuses_hostile_plans_quickly_and_cleanly(
    name: str, tmp_path: Path, kehoach_bin: str
) -> None:
    import subprocess

    text = {b[0]: b[1] for b in HOSTILE}[name]
    f = tmp_path / "k.yaml"
    f.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [kehoach_bin, "check", str(f)], capture_output=True, text=True, timeout=60, check=False
    )  # a hang fails here, not after gigabytes
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr + done.stdout
    assert f"{f}:" in done.stdout + done.stderr


def test_nothing_falls_due_before_the_plan_was_issued() -> None:
    text = GOOD.replace('period: "2024 - 2025"', 'issued: 15/6/2024\nperiod: "2024 - 2025"')
    from engine.compiler import compile_plan
    from engine.workdays import WorkingCalendar

    before = compile_plan(parse_plan(GOOD, "k.yaml"), WorkingCalendar())
    after = compile_plan(parse_plan(text, "k.yaml"), WorkingCalendar())
    assert min(s.occurrence.date for s in before).isoformat() < "2024-06-15"
    assert after and min(s.occurrence.date for s in after).isoformat() >= "2024-06-15"
    assert {s.id for s in after} == {
        s.id for s in before if s.occurrence.date.isoformat() >= "2024-06-15"
    }
    kept = text.replace(
        "    amount: 500.000 đồng", "    amount: 500.000 đồng\n    before_issue: true"
    )
    assert len(compile_plan(parse_plan(kept, "k.yaml"), WorkingCalendar())) > len(after)
