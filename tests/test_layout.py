"""The layout shows the design: which top-level package may import which (`ALLOWED`: one
line per package says what it holds).

Every module's imports are read with `ast` (those inside functions too: a lazy import is an
import), so a pure package cannot grow a dependency on the store unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset({"engine", "workflows", "calendars", "notifiers", "kehoach", "tests", "bench"})
#: Package → the packages of ours it may import (itself always).
ALLOWED: dict[str, frozenset[str]] = {
    "engine": frozenset(),  # the pure core: plans, dates, rules
    "workflows": frozenset({"engine"}),  # pure: the lifecycle of steps, digests
    "calendars": frozenset({"engine", "workflows"}),  # iCalendar feeds
    "notifiers": frozenset({"engine", "workflows"}),  # channels behind one interface
    "kehoach": frozenset({"engine", "workflows", "calendars", "notifiers"}),  # wires it all
}


def imported(path: Path, package: str) -> set[tuple[str, int]]:
    """The top-level packages of ours `path` imports, with the line (relative imports stay in
    the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        line = 0
        if isinstance(node, ast.Import):
            names, line = [alias.name for alias in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names, line = [node.module], node.lineno
        for name in names:
            top = name.split(".")[0]
            if top in OURS and top != package:
                found.add((top, line))
    return found


def modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "templates" not in p.parts)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_the_design_allows(package: str) -> None:
    assert modules(package), f"{package}/ has no module"
    wrong = sorted(
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in modules(package)
        for top, line in imported(path, package)
        if top not in ALLOWED[package]
    )
    assert wrong == []


def test_the_checker_sees_lazy_and_dotted_imports(tmp_path: Path) -> None:
    """What the test above relies on: an import inside a function, `import a.b` and
    `from a.b import c` all count; a relative import does not."""
    module = tmp_path / "m.py"
    module.write_text(
        "import kehoach.store\nfrom . import x\n\ndef f():\n"
        "    from tests.conftest import db\n    import engine\n",
        encoding="utf-8",
    )
    assert imported(module, "notifiers") == {("kehoach", 1), ("tests", 5), ("engine", 6)}
