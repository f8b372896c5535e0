"""The cells of an exported list of steps, typed (XLSX, the print view) or as CSV text (the
CSV export and `kehoach overdue|agenda --format csv`), and the CSV file in pieces.

Nothing here imports the web framework or openpyxl: the command line streams its CSV
through this module and starts without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import islice
from typing import Any

from engine import vi
from workflows.lifecycle import StepStatus

from .queries import StepLine

Cell = str | int | date | None

STEP_HEADER = [
    "Hạn",
    "Giờ",
    "Việc",
    "Loại",
    "Đơn vị",
    "Cụm",
    "Kế hoạch",
    "Tình trạng",
    "Số ngày trễ",
    "Mã bước",
]
#: At most this many entries in each memo of step_rows and csv_step_lines.
MEMO = 50_000
#: What a spreadsheet may read as the start of a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return "" if value is None else str(value)


def _formula_safe(text: str, starts: tuple[str, ...] = FORMULA_START) -> str:
    """A text cell starting like a formula gets a leading ' (OWASP: shown as text, never run);
    `starts` () leaves every cell as it is.

    >>> _formula_safe("=1+1+cmd|' /C calc'!A0")
    "'=1+1+cmd|' /C calc'!A0"
    """
    return "'" + text if text.startswith(starts) else text


def step_rows(lines: Iterable[StepLine]) -> Iterator[list[Cell]]:
    """The export's cells of each line. Lines of one occurrence share their deadline, clock
    time, clusters and status: each distinct one is formatted once (dicts of a few thousand
    entries at most, emptied past `MEMO`)."""
    kinds: dict[str, str] = {str(k): v for k, v in vi.KINDS.items()}
    days: dict[datetime, date] = {}
    clocks: dict[Any, str] = {}
    names: dict[tuple[tuple[str, str], ...], str] = {}
    # by the status object's id: the entry holds the object, so its id is not reused meanwhile
    labels: dict[int, tuple[StepStatus, str, int]] = {}
    for s in lines:
        if len(days) > MEMO or len(labels) > MEMO:
            days.clear()
            labels.clear()
        day = days.get(s.deadline)
        if day is None:
            day = days[s.deadline] = s.last_day
        clock = "" if s.due_time is None else clocks.get(s.due_time)
        if clock is None:
            clock = clocks[s.due_time] = vi.clock(s.due_time)
        cluster = names.get(s.clusters)
        if cluster is None:
            cluster = names[s.clusters] = s.cluster_names
        said = labels.get(id(s.status))
        if said is None:
            said = labels[id(s.status)] = (s.status, s.status.label, s.status.days_late)
        yield [
            day,
            clock,
            s.title,
            kinds.get(s.kind, s.kind),
            s.unit_name,
            cluster,
            s.plan_title,
            said[1],
            said[2],
            s.id,
        ]


def csv_cells(rows: Iterator[list[Any]], safe: bool = True) -> Iterator[list[str]]:
    """Rows as CSV text cells: dates as dd/mm/yyyy (each distinct day formatted once), None
    as empty, text neutralised (`_formula_safe`) unless `safe` is False (a file the command
    line writes for its own user)."""
    days: dict[date, str] = {}

    def other(v: object) -> str:
        if isinstance(v, date) and v.__class__ is date:  # a day, not a moment
            text = days.get(v)
            if text is None:
                text = days[v] = _cell(v)
            return text
        return _cell(v)

    starts = FORMULA_START if safe else ()
    for row in rows:
        yield [_formula_safe(v, starts) if v.__class__ is str else other(v) for v in row]


def csv_field(text: str) -> str:
    """A field as csv.writer writes it (the excel dialect, QUOTE_MINIMAL): quoted when it
    holds a quote, comma or line break, its quotes doubled.

    >>> csv_field('say "hi", then go'), csv_field("plain")
    ('"say ""hi"", then go"', 'plain')
    """
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def csv_line(cells: Iterable[str]) -> str:
    """A row of text cells as csv.writer writes it, line end included (a row of one empty
    cell is written "", or the line would read as a row of none)."""
    fields = [csv_field(c) for c in cells]
    return (",".join(fields) if fields != [""] else '""') + "\r\n"


def csv_step_lines(lines: Iterable[StepLine], safe: bool = True) -> Iterator[str]:
    """The CSV line of each step: the text csv.writer writes for
    `csv_cells(step_rows(lines), safe)`, made faster. What lines of one occurrence share
    (day, clock, clusters, status) is made into its text once, keyed by the objects
    `queries.stream_lines` shares between them (an entry holds its object, so the id is not
    reused while it is kept); the title, unit, plan and id are written for each line."""
    starts = FORMULA_START if safe else ()

    def text(v: str) -> str:
        return csv_field(_formula_safe(v, starts))

    kinds: dict[str, str] = {str(k): text(v) for k, v in vi.KINDS.items()}
    days: dict[datetime, str] = {}
    clocks: dict[Any, str] = {None: ""}
    names: dict[int, tuple[Any, str]] = {}
    labels: dict[int, tuple[StepStatus, str]] = {}
    fields: dict[str, str] = {}  # titles, units, plans: text → its field

    def field(v: str) -> str:
        if len(fields) > MEMO:
            fields.clear()
        made = fields[v] = text(v)
        return made

    for s in lines:
        if len(days) > MEMO or len(labels) > MEMO or len(names) > MEMO:
            days.clear()
            labels.clear()
            names.clear()
        day = days.get(s.deadline)
        if day is None:
            day = days[s.deadline] = _cell(s.last_day)
        clock = clocks.get(s.due_time)
        if clock is None:
            clock = clocks[s.due_time] = text(vi.clock(s.due_time))
        kind = kinds.get(s.kind)
        if kind is None:
            kind = kinds[s.kind] = text(s.kind)
        cluster = names.get(id(s.clusters))
        if cluster is None or cluster[0] is not s.clusters:
            cluster = names[id(s.clusters)] = (s.clusters, text(s.cluster_names))
        said = labels.get(id(s.status))
        if said is None:
            st = s.status
            said = labels[id(st)] = (st, text(st.label) + "," + _cell(st.days_late))
        title, unit, plan, step = s.title, s.unit_name, s.plan_title, s.id
        yield (
            f"{day},{clock},{fields.get(title) or field(title)},{kind},"
            f"{fields.get(unit) or field(unit)},{cluster[1]},{fields.get(plan) or field(plan)},"
            f"{said[1]},"
            f"{text(step)}\r\n"
        )


def joined(lines: Iterator[str], batch: int = 1000) -> Iterator[str]:
    """Lines of text joined `batch` at a time (a write per piece, not per line)."""
    while chunk := "".join(islice(lines, batch)):
        yield chunk
