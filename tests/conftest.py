from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kehoach_bin() -> str:
    """The installed console script, run as a user would run it."""
    found = shutil.which("kehoach", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                          os.environ.get("PATH", "")]))
    assert found, "the `kehoach` console script is not installed (pip install -e .)"
    return found
