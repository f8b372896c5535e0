"""The `kehoach` command line."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from engine import vi
from engine.compiler import Step, compile_plan
from engine.errors import PlanError, PlanErrors
from engine.loader import load_plan
from engine.model import json_schema
from engine.phrases import parse_day
from engine.plan import Plan
from engine.workdays import WorkingCalendar
from kehoach.cli_vi import Group

# Piped output (a file, a pager, a test) gets wide lines instead of rich's 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)


class DayParam(click.ParamType[date]):
    name = "NGÀY"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value))
        except PlanError as exc:
            self.fail(f"«{value}»: {exc.message}", param, ctx)


class Bounded(click.ParamType[float]):
    """A whole number (or, with `real=True`, a finite number) from `low` to `high`; anything
    else is refused in Vietnamese naming the option (click's own messages are English):

        @click.option("--limit", default=100, type=Bounded(1, 100_000))
    """

    def __init__(self, low: float, high: float, *, real: bool = False):
        self.low, self.high, self.real = low, high, real
        self.name = "SỐ" if real else "SỐ_NGUYÊN"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        import math

        try:
            number = float(str(value).replace(",", ".")) if self.real else int(str(value))
        except ValueError:
            number = math.nan
        if (
            isinstance(number, float) and not math.isfinite(number)
        ) or not self.low <= number <= self.high:
            what = "một số" if self.real else "một số nguyên"
            option = param.opts[0] if param is not None and param.opts else "giá trị"
            low, high = (f"{n:g}".replace(".", ",") for n in (self.low, self.high))
            err.print(
                f"[red]lỗi[/red] {option}: «{value}» không hợp lệ; cần {what} từ {low} đến {high}",
                markup=True,
                soft_wrap=True,
            )
            raise SystemExit(2)
        return number


def _plan_files(paths: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
    return files


def _load(paths: Iterable[str]) -> tuple[list[Plan], list[PlanError]]:
    plans, errors = [], []
    files = _plan_files(paths)
    if not files:
        errors.append(PlanError("không có tệp kế hoạch nào (*.yaml)"))
    for f in files:
        try:
            plans.append(load_plan(f))
        except PlanErrors as exc:
            errors += exc.errors
    return plans, errors


def _report(errors: list[PlanError]) -> None:
    for e in errors:
        err.print(f"[red]lỗi[/red] {e}", markup=True, soft_wrap=True)
    err.print(f"{len(errors)} lỗi.")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    package_name="kehoach",
    message="%(prog)s, phiên bản %(version)s",
    help="Hiện phiên bản rồi thoát.",
)
def main() -> None:
    """kehoach: biến các Kế hoạch thành các bước có hạn, nhắc việc và theo dõi quá hạn."""


@main.command()
@click.argument("plans", nargs=-1, type=click.Path())
def check(plans: tuple[str, ...]) -> None:
    """Kiểm tra các tệp kế hoạch (mặc định: thư mục plans/). Báo mọi lỗi cùng lúc."""
    loaded, errors = _load(plans or ("plans",))
    calendar = WorkingCalendar()
    for p in loaded:
        steps = compile_plan(p, calendar)
        out.print(
            f"[green]✓[/green] {p.file}: {len(p.duties)} nghĩa vụ, {len(p.units)} đơn vị, "
            f"{len(steps)} bước ({p.start:%d/%m/%Y} – {p.end:%d/%m/%Y})"
        )
    if errors:
        _report(errors)
        sys.exit(1)


@main.command(name="compile")
@click.argument("plans", nargs=-1, type=click.Path())
@click.option("--from", "first", type=DayParam(), help="Từ ngày (19/5/2022 hoặc 2022-05-19).")
@click.option("--to", "last", type=DayParam(), help="Đến ngày (tính cả ngày đó).")
@click.option(
    "--unit",
    "unit",
    help="Chỉ các bước của đơn vị này; cụm/nhóm: các đơn vị của nó; "
    "head:CỤM, head:* (các cụm trưởng), * (mọi đơn vị trừ đơn vị ban hành).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Dạng kết quả.",
)
def compile_(
    plans: tuple[str, ...], first: date | None, last: date | None, unit: str | None, fmt: str
) -> None:
    """Biên dịch kế hoạch thành các bước có ngày, theo thứ tự thời gian (mặc định: plans/)."""
    loaded, errors = _load(plans or ("plans",))
    if errors:
        _report(errors)
        sys.exit(1)
    if first and last and last < first:
        raise click.BadParameter("--to đứng trước --from", param_hint="--to")
    calendar = WorkingCalendar()
    pairs: list[tuple[Plan, Step]] = []
    known = False
    for p in loaded:
        units = frozenset(p.select(unit)) if unit else None
        known = known or units is None or bool(units)
        pairs += [(p, s) for s in compile_plan(p, calendar, (first, last), units)]
    if unit and not known:
        err.print(f"Không có đơn vị, cụm hay nhóm «{unit}» trong các kế hoạch đã cho.")
        sys.exit(2)
    pairs.sort(key=lambda ps: (ps[1].occurrence.due_at, ps[1].unit))
    if fmt == "json":
        json.dump([s.to_dict(p) for p, s in pairs], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif fmt == "csv":
        _csv(pairs)
    else:
        _table(pairs)


CSV_FIELDS = [
    "id",
    "plan",
    "obligation",
    "kind",
    "title",
    "unit",
    "unit_name",
    "occurrence",
    "date",
    "time",
    "start",
    "nominal_date",
    "shifted_because",
    "due_at",
    "tentative",
    "amount",
    "place",
    "quantity",
    "measure",
    "percent",
    "phrase",
]


def _csv(pairs: list[tuple[Plan, Step]]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for p, s in pairs:
        row = s.to_dict(p)
        row["phrase"] = row["source"]["phrase"]
        writer.writerow(row)


def _table(pairs: list[tuple[Plan, Step]]) -> None:
    if not pairs:
        out.print("Không có bước nào trong khoảng thời gian đã chọn.")
        return
    table = Table(title="Lịch các bước", show_lines=False, expand=False)
    for name in ("Ngày", "Giờ", "Loại", "Việc", "Đơn vị", "Ghi chú"):
        table.add_column(name, overflow="fold")
    for p, s in pairs:
        occ, duty = s.occurrence, s.duty
        notes = []
        if occ.start and occ.start != occ.date:
            notes.append(f"từ {occ.start:%d/%m/%Y}")
        if occ.tentative:
            notes.append("dự kiến")
        if s.amount is not None:
            notes.append(vi.money(s.amount))
        if duty.quantity is not None:
            notes.append(f"{duty.quantity:g} {duty.measure or ''}".strip())
        if duty.percent is not None:
            notes.append(f"{duty.percent:g}%")
        if occ.shifted_because:
            notes.append(f"dời từ {occ.nominal:%d/%m} ({occ.shifted_because})")
        table.add_row(
            vi.day(occ.date),
            vi.clock(occ.time),
            vi.KINDS[duty.kind],
            duty.title,
            p.units.get(s.unit, s.unit),
            "; ".join(notes),
        )
    out.print(table)
    out.print(f"{len(pairs)} bước.")


@main.command()
def schema() -> None:
    """In JSON Schema của định dạng tệp kế hoạch."""
    json.dump(json_schema(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


# The database commands live beside this module; importing them registers them on `main`.
from kehoach import (  # noqa: E402,F401
    cli_actions,
    cli_backup,
    cli_feeds,
    cli_import,
    cli_outbox,
    cli_people,
    cli_run,
    cli_store,
    cli_telegram,
)
