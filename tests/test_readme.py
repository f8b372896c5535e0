"""The README's examples run, in order, against a demo database built as `make demo` builds it
(`db upgrade`, `load plans`, `python -m kehoach.web.demo`): a command that stops working, a
unit or step id that no longer exists, fails here. Every ```sh block of the README and of the
guides in docs/ is read; each line is a `kehoach` command (`make` lines are the Makefile's).
Shell lines for the operator (systemctl, pg_dump) are written in ```console blocks instead."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def examples(document: Path) -> list[list[str]]:
    """The commands of the ```sh blocks, as argument lists (comments and blank lines dropped)."""
    found = []
    for block in BLOCK.findall(document.read_text(encoding="utf-8")):
        for line in block.splitlines():
            args = shlex.split(line, comments=True)
            if args and args[0] != "make":
                found.append(args)
    return found


def test_the_readme_has_examples_of_the_commands_it_lists() -> None:
    used = {args[1] for args in examples(ROOT / "README.md") if args[0] == "kehoach"}
    assert {
        "check",
        "compile",
        "done",
        "pay",
        "achieve",
        "extend",
        "excuse",
        "reopen",
        "feed",
        "person",
        "invite",
        "digest",
        "import",
        "backup",
    } <= used


def test_the_readme_lists_every_command(kehoach_bin: str) -> None:
    from kehoach.cli import main

    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Commands", 1)[1]
    listed = set(re.findall(r"^\| `([a-z]+)[ `]|· `([a-z]+)[ `]", table, re.M))
    names = {name for pair in listed for name in pair if name}
    assert set(main.commands) - names == set()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, kehoach_bin: str) -> tuple[Path, dict[str, str]]:
    """A folder as `make demo` leaves it: kehoach.sqlite3 with the plans and the demo logins."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(ROOT / "plans", folder / "plans")
    shutil.copytree(ROOT / "docs", folder / "docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_")}
    for args in (
        [kehoach_bin, "db", "upgrade"],
        [kehoach_bin, "load", "plans"],
        [sys.executable, "-m", "kehoach.web.demo"],
    ):
        subprocess.run(args, cwd=folder, env=env, check=True, capture_output=True, timeout=600)
    return folder, env


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_examples_run_against_the_demo_database(
    document: Path, demo: tuple[Path, dict[str, str]], kehoach_bin: str
) -> None:
    folder, env = demo
    commands = examples(document)
    for args in commands:
        assert args[0] == "kehoach", f"{document.name}: «{shlex.join(args)}» is not kehoach"
        done = subprocess.run(
            [kehoach_bin, *args[1:]],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{document.name}: {shlex.join(args)}\n{done.stderr}"
        assert "Traceback" not in done.stderr
