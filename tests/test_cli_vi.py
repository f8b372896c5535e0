"""The whole command line speaks Vietnamese: Click's own help text and errors (kehoach/cli_vi.py),
the operating system's reasons and PyYAML's syntax errors."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kehoach.cli import main
from tests.conftest import ROOT

#: What Click, the system or PyYAML would have said in English.
ENGLISH = re.compile(
    r"Usage|Options|Commands|Error|Show (this|the)|Did you mean|No such|"
    r"Missing|Invalid value|\b(TEXT|INTEGER|FLOAT|PATH|FILENAME)\b|default:|"
    r"\[required\]|Aborted|Try '|for help|version \d|not one of|"
    r"did not find|expected|indicator|directory"
)


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("command", every_command(main), ids=lambda c: " ".join(c) or "kehoach")
def test_every_help_page_is_vietnamese(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], prog_name="kehoach")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Cách dùng: {' '.join(('kehoach', *command))} [TÙY-CHỌN]")
    assert "Tùy chọn:" in result.output and "Hiện hướng dẫn này rồi thoát." in result.output
    assert not ENGLISH.search(result.output), result.output


def run(
    bin_: str, *args: str, cwd: Path = ROOT, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("chek",), 2, "lỗi không có lệnh «chek». Có phải là «check» hay «schema»?"),
        (("--hlep",), 2, "lỗi không có tùy chọn «--hlep». Có phải là «--help»?"),
        (
            ("compile", "--format", "xml"),
            2,
            "lỗi giá trị không hợp lệ cho --format: «xml» không phải một trong: table, json, csv",
        ),
        (("done",), 2, "lỗi thiếu đối số BƯỚC."),
        (("tick", "--now"), 2, "lỗi tùy chọn --now cần một giá trị"),
        (("serve", "--limit", "0"), 2, "lỗi --limit: «0» không hợp lệ; cần một số nguyên từ 1 đến"),
        (("check", "extra", "--nope"), 2, "lỗi không có tùy chọn «--nope»."),
        (("db", "upgrade", "thừa"), 2, "lỗi thừa đối số: thừa"),
        (
            ("check", "khong-co.yaml"),
            1,
            "khong-co.yaml: không đọc được tệp (không có tệp hay thư mục này)",
        ),
    ],
    ids=[
        "command",
        "option",
        "choice",
        "missing-argument",
        "option-value",
        "range",
        "unknown-option",
        "extra-argument",
        "missing-file",
    ],
)
def test_errors_are_vietnamese(
    kehoach_bin: str, tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    res = run(kehoach_bin, *args, cwd=tmp_path)
    assert res.returncode == code, res.stderr
    assert says in res.stderr, res.stderr
    assert not ENGLISH.search(res.stderr + res.stdout), res.stderr


def test_usage_errors_show_the_usage_and_where_help_is(kehoach_bin: str) -> None:
    res = run(kehoach_bin, "compile", "--format", "xml")
    assert res.stderr.startswith(
        "Cách dùng: kehoach compile [TÙY-CHỌN] [KẾ-HOẠCH]...\n"
        "Xem «kehoach compile --help» để biết thêm.\n"
    )


def test_version_is_vietnamese(kehoach_bin: str) -> None:
    assert run(kehoach_bin, "--version").stdout == "kehoach, phiên bản 0.1.0\n"


def test_a_group_called_bare_shows_its_help(kehoach_bin: str) -> None:
    res = run(kehoach_bin, "feed")
    assert "Cách dùng: kehoach feed [TÙY-CHỌN] LỆNH [ĐỐI-SỐ]..." in res.stdout + res.stderr
    assert "Lệnh:" in res.stdout + res.stderr and "lỗi" not in res.stderr


@pytest.mark.parametrize(
    ("text", "place", "says"),
    [
        ("id: x\nunits:\n  - a\n  b: c\n", "4:3", "một dòng của danh sách thiếu «- » ở đầu"),
        ("id: x\n\tunits: 1\n", "2:1", "ký tự tab: YAML chỉ cho thụt lề bằng dấu cách"),
        ("id: x: y\n", "1:6", "dấu «:» không được đứng ở đây"),
        ("id: [a, b\n", "2:1", "danh sách viết trong «[ ]» thiếu dấu «,» hoặc dấu «]» đóng"),
        ("id: 'x\n", "2:1", "tệp hết giữa chừng"),
        ("id: @x\n", "1:5", "một giá trị không được bắt đầu bằng «@»"),
        ("id: x\n---\nid: y\n", "2:1", "tệp chỉ được có một tài liệu YAML"),
    ],
    ids=["dash", "tab", "colon", "flow-list", "quote", "at-sign", "two-documents"],
)
def test_yaml_syntax_errors_are_explained_in_vietnamese(
    kehoach_bin: str, tmp_path: Path, text: str, place: str, says: str
) -> None:
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    res = run(kehoach_bin, "check", "p.yaml", cwd=tmp_path)
    assert res.returncode == 1
    assert f"p.yaml:{place}: lỗi cú pháp YAML: {says}" in res.stderr, res.stderr
    assert not ENGLISH.search(res.stderr), res.stderr


def test_password_confirmation_is_vietnamese(kehoach_bin: str, tmp_path: Path) -> None:
    res = run(
        kehoach_bin, "person", "password", "ai", cwd=tmp_path, stdin="mật khẩu một\nmật khẩu hai\n"
    )
    assert "Nhập lại mật khẩu" in res.stderr
    assert "lỗi hai lần nhập mật khẩu không giống nhau; chưa đổi gì" in res.stderr
    assert not ENGLISH.search(
        res.stderr.replace("GetPassWarning", "")
        .replace("Warning: Password input may be echoed.", "")
        .replace("Can not control echo on the terminal.", "")
    ), res.stderr
