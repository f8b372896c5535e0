"""The store benchmark stays runnable: a quick SQLite run must finish (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_store_bench_quick_run_on_sqlite() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench/store_bench.py"), "--quick", "--db", "sqlite"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "tick, nothing due" in res.stdout
    assert "APScheduler" in res.stdout
    assert "(targets printed, not asserted;" in res.stdout and "steps per CPU-second" in res.stdout
