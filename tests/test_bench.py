"""The benchmarks stay runnable: a quick run of each must finish and agree with its baseline.
(Figures are printed by `make bench`, never asserted here.)"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_compile_bench_quick_run_matches_baseline() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench/compile_bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "same steps on both sides" in res.stdout
