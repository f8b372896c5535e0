"""Material the repository does not hold: the seed documents (the five public plan texts the
plans in plans/ were written from). They stand beside the checkout at ../shared/seeds, or
wherever KEHOACH_SEEDS says.

A fresh clone has no shared/: the tests that need it skip, saying why. CI sets
KEHOACH_REQUIRE_ALL=1 (.ci/run), which turns such a skip into a failure, so they run there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path(os.environ.get("KEHOACH_SEEDS") or ROOT.parent / "shared" / "seeds")
REQUIRE_ALL = "KEHOACH_REQUIRE_ALL"


def missing(reason: str) -> None:
    """Skip the running test, or fail it when KEHOACH_REQUIRE_ALL is set (CI)."""
    if os.environ.get(REQUIRE_ALL):
        pytest.fail(f"{reason} ({REQUIRE_ALL} is set: nothing may be skipped)")
    pytest.skip(reason)


def seed(number: str) -> Path:
    """The seed text `NNN_*.txt`; skips (see `missing`) when it is not there."""
    found = sorted(SEEDS.glob(f"{number}_*.txt"))
    if not found:
        missing(
            f"seed {number} is not in {SEEDS}: it lives outside the repository "
            "(put shared/ beside the clone, or set KEHOACH_SEEDS to its seeds/ folder)"
        )
    return found[0]
