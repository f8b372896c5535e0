"""A fresh clone: what the suite needs from outside the repository is named, never fetched.
Tests needing ../shared/seeds skip with the reason (CI turns that into a failure with
KEHOACH_REQUIRE_ALL=1); the browser test fails with the install command when chromium is
missing, and installs nothing itself. Each case runs pytest in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def pytest_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("KEHOACH_SEEDS", "KEHOACH_REQUIRE_ALL")
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**clean, **env},
    )


SEED_TEST = "tests/test_seeds.py::test_every_obligation_quotes_its_seed"
IMPORT_TEST = "tests/test_import_seeds.py::test_seed_import_matches_hand_written_plan"


def test_without_the_seeds_their_tests_skip_and_say_why(tmp_path: Path) -> None:
    done = pytest_run(SEED_TEST, IMPORT_TEST, KEHOACH_SEEDS=str(tmp_path / "no-seeds"))
    assert done.returncode == 0, done.stdout
    assert "passed" not in done.stdout.splitlines()[-1] and "skipped" in done.stdout
    assert f"is not in {tmp_path / 'no-seeds'}: it lives outside the repository" in done.stdout
    assert "set KEHOACH_SEEDS" in done.stdout


def test_ci_turns_those_skips_into_failures(tmp_path: Path) -> None:
    done = pytest_run(SEED_TEST, KEHOACH_SEEDS=str(tmp_path / "no-seeds"), KEHOACH_REQUIRE_ALL="1")
    assert done.returncode == 1, done.stdout
    assert "KEHOACH_REQUIRE_ALL is set: nothing may be skipped" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1]


def test_without_chromium_the_browser_test_fails_with_the_install_command(tmp_path: Path) -> None:
    done = pytest_run(
        "tests/test_browser.py", "-k", "sqlite", KEHOACH_CHROMIUM=str(tmp_path / "no-chromium")
    )
    assert done.returncode == 1, done.stdout
    assert f"{tmp_path / 'no-chromium'} is missing" in done.stdout
    assert "Install it with: make deps" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1]


def ci_with(
    tmp_path: Path, summary: str, status: int, lint: int = 0
) -> subprocess.CompletedProcess[str]:
    """.ci/run with a stand-in `make` whose `make test` prints `summary` and exits `status`,
    and whose `make lint` exits `lint` (the real suite is not run again from inside itself)."""
    fake = tmp_path / "bin" / "make"
    fake.parent.mkdir()
    fake.write_text(
        f"""#!/bin/sh
echo "make $*" >> {tmp_path / "calls"}
[ "$1" = test ] && printf '%s\\n' "{summary}" && exit {status}
[ "$1" = lint ] && echo "x.py:1:1: E501 Line too long" && exit {lint}
exit 0
""",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    return subprocess.run(
        [str(ROOT / ".ci" / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )


def test_ci_installs_chromium_and_runs_the_suite_with_nothing_skipped(tmp_path: Path) -> None:
    done = ci_with(tmp_path, "10 passed", 0)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "calls").read_text().splitlines() == [
        "make deps",
        "make lint",
        "make test PYTEST_ARGS=-rs",
    ]


def test_ci_fails_on_a_style_finding_after_running_the_tests(tmp_path: Path) -> None:
    done = ci_with(tmp_path, "10 passed", 0, lint=2)
    assert done.returncode == 2 and "the style gates found something" in done.stderr
    assert "make test PYTEST_ARGS=-rs" in (tmp_path / "calls").read_text().splitlines()


def test_ci_fails_when_a_test_is_skipped(tmp_path: Path) -> None:
    done = ci_with(tmp_path, "SKIPPED [1] tests/x.py:3: no reason", 0)
    assert done.returncode == 1 and "some tests were skipped" in done.stderr


def test_ci_fails_with_pytests_exit_code(tmp_path: Path) -> None:
    done = ci_with(tmp_path, "1 failed", 2)
    assert done.returncode == 2 and "make test exited with 2" in done.stderr


def test_the_browser_test_installs_nothing() -> None:
    assert (
        "apt-get"
        not in (ROOT / "tests" / "test_browser.py")
        .read_text(encoding="utf-8")
        .split("INSTALL = ")[0]
    )
