"""The fast CSV lines of a list of steps (kehoach.web.cells.csv_step_lines) are the text
csv.writer writes for the export's cells, whatever the text holds; the command line's CSV
starts without the web framework."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
from datetime import UTC, date, datetime, time

import pytest

from kehoach.web.cells import STEP_HEADER, csv_cells, csv_line, csv_step_lines, step_rows
from kehoach.web.queries import StepLine
from workflows.lifecycle import Phase, StepStatus

TRICKY = ["", "thường", "=1+1", '-có "ngoặc"', "a,b", "dòng\nmới", "về\r\n", "@x", " khoảng ", '"']


def written(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def lines(n: int) -> list[StepLine]:
    pick = random.Random(12).choice
    statuses = [
        StepStatus(Phase.ESCALATED, days_late=3, level=2),
        StepStatus(Phase.OVERDUE, days_late=1),
        StepStatus(Phase.UPCOMING),
    ]
    out = []
    for i in range(n):
        clusters = tuple((f"c{j}", pick(TRICKY)) for j in range(i % 3))
        out.append(
            StepLine(
                pick(TRICKY) + str(i),
                pick(TRICKY),
                "ob",
                pick(["deadline", "milestone", "=lạ"]),
                "p",
                pick(TRICKY),
                "u",
                pick(TRICKY),
                clusters,
                date(2026, 1, 1 + i % 28),
                pick([None, time(8, 0), time(17, 30)]),
                datetime(2026, 1, 1 + i % 28, 3, tzinfo=UTC),
                pick(statuses),
            )
        )
    return out


@pytest.mark.parametrize("safe", [True, False])
def test_csv_step_lines_are_what_csv_writer_writes(safe: bool) -> None:
    steps = lines(300)
    expected = written([STEP_HEADER, *csv_cells(step_rows(steps), safe=safe)])
    assert csv_line(STEP_HEADER) + "".join(csv_step_lines(steps, safe=safe)) == expected


def test_csv_line_quotes_like_csv_writer() -> None:
    row = [a + b for a in TRICKY for b in TRICKY]
    assert csv_line(row) == written([row])
    for short in ([], [""], ["", ""], ['"'], ["a"]):  # the rows of a table of few columns
        assert csv_line(short) == written([short]), short


def test_the_command_line_csv_does_not_import_the_web_framework() -> None:
    code = (
        "import sys, kehoach.cli, kehoach.web.cells, kehoach.web.queries; "
        "print(sorted(m for m in ('fastapi', 'openpyxl', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_stream_gives_the_collector_back_as_it_found_it(enabled: bool) -> None:
    import gc

    import kehoach.cli  # noqa: F401  (registers the commands: cli_store is imported through it)
    from kehoach.cli_store import _no_collection

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(RuntimeError), _no_collection():
            assert not gc.isenabled()
            raise RuntimeError("a failed write")
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
