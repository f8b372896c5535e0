"""The installed `kehoach` command, run as a user would."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT


def run(bin_: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_default_plans(kehoach_bin: str) -> None:
    res = run(kehoach_bin, "check")
    assert res.returncode == 0, res.stderr
    assert "✓ plans/cum-hcsn-2022.yaml" in res.stdout


def test_check_bad_plan_lists_errors_without_traceback(kehoach_bin: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (ROOT / "plans/cum-hcsn-2022.yaml")
        .read_text(encoding="utf-8")
        .replace("08g00, ngày 19/5/2022", "08g00, ngày 31/6/2022")
        .replace("responsible: doan-so-ldtbxh", "responsible: doan-khong-co"),
        encoding="utf-8",
    )
    res = run(kehoach_bin, "check", str(bad))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert f"{bad}:" in res.stderr and "ngày 31/06/2022 không tồn tại" in res.stderr
    assert "«doan-khong-co»" in res.stderr and "3 lỗi." in res.stderr  # the date stands twice


def test_compile_json_has_steps_with_sources(kehoach_bin: str) -> None:
    res = run(kehoach_bin, "compile", "plans/cum-hcsn-2022.yaml", "--format", "json")
    assert res.returncode == 0, res.stderr
    steps = json.loads(res.stdout)
    conference = next(s for s in steps if s["obligation"] == "hoi-nghi-chi-thi-05")
    assert conference["due_at"] == "2022-05-19T01:00:00+00:00"
    assert conference["time"] == "08:00" and conference["unit"] == "doan-khoi-dcd"
    assert conference["source"]["phrase"] == "08g00, ngày 19/5/2022"
    assert (
        conference["source"]["file"] == "plans/cum-hcsn-2022.yaml"
        and conference["source"]["line"] > 0
    )
    assert len({s["id"] for s in steps}) == len(steps)


def test_compile_filters_by_window_and_unit(kehoach_bin: str) -> None:
    res = run(
        kehoach_bin,
        "compile",
        "--from",
        "1/7/2022",
        "--to",
        "2022-07-31",
        "--unit",
        "doan-so-y-te",
        "--format",
        "csv",
    )
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and {r["unit"] for r in rows} == {"doan-so-y-te"}
    assert all("2022-07-01" <= r["date"] <= "2022-07-31" for r in rows)
    money = [r for r in rows if r["obligation"] == "ky-nghi-hong-kinh-phi"]
    assert money[0]["amount"] == "6000000" and money[0]["date"] == "2022-07-22"  # 24/7 is a Sunday


@pytest.mark.parametrize(
    "selector,expected",
    [("cum-hcsn", 7), ("head:cum-hcsn", 1), ("head:*", 1), ("*", 6), ("doan-so-y-te", 1)],
    ids=["cluster", "head-of", "every-head", "all-but-issuer", "unit"],
)
def test_compile_unit_selectors(kehoach_bin: str, selector: str, expected: int) -> None:
    res = run(
        kehoach_bin, "compile", "plans/cum-hcsn-2022.yaml", "--unit", selector, "--format", "json"
    )
    assert res.returncode == 0, res.stderr
    assert len({s["unit"] for s in json.loads(res.stdout)}) == expected


def test_compile_table_is_vietnamese(kehoach_bin: str) -> None:
    res = run(
        kehoach_bin,
        "compile",
        "plans/cum-hcsn-2022.yaml",
        "--from",
        "19/5/2022",
        "--to",
        "19/5/2022",
    )
    assert res.returncode == 0, res.stderr
    assert (
        "Thứ Năm, 19/05/2022" in res.stdout
        and "08g00" in res.stdout
        and "500.000 đồng" in res.stdout
    )


@pytest.mark.parametrize(
    "args,code,message",
    [
        (("compile", "--from", "31/6/2022"), 2, "ngày 31/06/2022 không tồn tại"),
        (("compile", "--unit", "khong-co"), 2, "Không có đơn vị, cụm hay nhóm «khong-co»"),
        (("compile", "--from", "1/8/2022", "--to", "1/7/2022"), 2, "--to đứng trước --from"),
        (("compile", "nowhere.yaml"), 1, "không đọc được tệp"),
        (("compile", "--format", "xml"), 2, "xml"),
    ],
    ids=["impossible-date", "unknown-unit", "reversed-window", "missing-file", "bad-format"],
)
def test_bad_arguments(kehoach_bin: str, args: tuple[str, ...], code: int, message: str) -> None:
    res = run(kehoach_bin, *args)
    assert res.returncode == code, (res.stdout, res.stderr)
    assert message in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("command", ["check", "compile", "schema"])
def test_help(kehoach_bin: str, command: str) -> None:
    res = run(kehoach_bin, command, "--help")
    assert res.returncode == 0 and "Cách dùng:" in res.stdout


def test_published_schema_is_current(kehoach_bin: str) -> None:
    res = run(kehoach_bin, "schema")
    assert json.loads(res.stdout) == json.loads((ROOT / "schema/plan.schema.json").read_text())
