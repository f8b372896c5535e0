"""The `kehoach` command line."""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

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

# Piped output (a file, a pager, a test) gets wide lines instead of rich's 80 columns.
if TYPE_CHECKING:
    from datetime import datetime as datetime_

    from sqlalchemy import Engine

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)


class DayParam(click.ParamType):
    name = "NGÀY"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value))
        except PlanError as exc:
            self.fail(f"«{value}»: {exc.message}", param, ctx)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kehoach")
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
        out.print(f"[green]✓[/green] {p.file}: {len(p.duties)} nghĩa vụ, {len(p.units)} đơn vị, "
                  f"{len(steps)} bước ({p.start:%d/%m/%Y} – {p.end:%d/%m/%Y})")
    if errors:
        _report(errors)
        sys.exit(1)


@main.command(name="compile")
@click.argument("plans", nargs=-1, type=click.Path())
@click.option("--from", "first", type=DayParam(), help="Từ ngày (19/5/2022 hoặc 2022-05-19).")
@click.option("--to", "last", type=DayParam(), help="Đến ngày (tính cả ngày đó).")
@click.option("--unit", "unit", help="Chỉ các bước của đơn vị này; cụm/nhóm: các đơn vị của nó; "
              "head:CỤM, head:* (các cụm trưởng), * (mọi đơn vị trừ đơn vị ban hành).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Dạng kết quả.")
def compile_(plans: tuple[str, ...], first: date | None, last: date | None, unit: str | None,
             fmt: str) -> None:
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


CSV_FIELDS = ["id", "plan", "obligation", "kind", "title", "unit", "unit_name", "occurrence", "date",
              "time", "start", "nominal_date", "shifted_because", "due_at", "tentative", "amount",
              "place", "quantity", "measure", "percent", "phrase"]


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
        table.add_row(vi.day(occ.date), vi.clock(occ.time), vi.KINDS[duty.kind], duty.title,
                      p.units.get(s.unit, s.unit), "; ".join(notes))
    out.print(table)
    out.print(f"{len(pairs)} bước.")


@main.command()
def schema() -> None:
    """In JSON Schema của định dạng tệp kế hoạch."""
    json.dump(json_schema(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


# ── The store (issue 3): `db upgrade`, `db status`, `load` ─────────────────────────────────
# kehoach.store (SQLAlchemy) is imported inside the commands, so `check` and `compile` start
# as fast as before. The environment is read here, at the edge, and nowhere below.
def _store_engine() -> Engine:
    import os

    from kehoach import store
    try:
        return store.make_engine(store.database_url(os.environ))
    except store.StoreError as exc:
        raise _store_fail(exc) from None


def _store_fail(exc: Exception) -> SystemExit:
    """Print a store error the way `check` prints plan errors; the caller raises the result."""
    from rich.markup import escape
    err.print(f"[red]lỗi[/red] {escape(str(exc))}", markup=True, soft_wrap=True)
    return SystemExit(1)


@main.group()
def db() -> None:
    """Cơ sở dữ liệu: mặc định tệp kehoach.sqlite3 ở thư mục hiện tại; đặt KEHOACH_DATABASE_URL
    (ví dụ postgresql+psycopg://user@host/db) để dùng nơi khác."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Tạo hoặc nâng cấp lược đồ cơ sở dữ liệu lên phiên bản mới nhất."""
    from kehoach import store
    engine = _store_engine()
    try:
        before, after = store.upgrade(engine)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    where = store.describe(engine)
    if before == after:
        out.print(f"Cơ sở dữ liệu {where} đã ở phiên bản mới nhất ({after}).")
    else:
        out.print(f"Đã nâng cấp cơ sở dữ liệu {where}: {before or 'trống'} → {after}.")


@db.command("status")
def db_status() -> None:
    """Cho biết cơ sở dữ liệu có ở phiên bản lược đồ mới nhất không (mã thoát 1 nếu không)."""
    from kehoach import store
    engine = _store_engine()
    try:
        store.check_schema_current(engine)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    out.print(f"Cơ sở dữ liệu {store.describe(engine)} ở phiên bản {store.head_revision()} (mới nhất).")


def _duplicate_plans(plans: list[Plan]) -> list[PlanError]:
    from engine.errors import Position
    first: dict[str, Plan] = {}
    errors = []
    for p in plans:
        if p.id in first:
            errors.append(PlanError(f"mã kế hoạch «{p.id}» đã dùng trong {first[p.id].file}",
                                    Position(p.file)))
        first.setdefault(p.id, p)
    return errors


@main.command()
@click.argument("plans", nargs=-1, type=click.Path())
def load(plans: tuple[str, ...]) -> None:
    """Biên dịch các kế hoạch và lưu vào cơ sở dữ liệu (mặc định: plans/).

    Nạp lại chỉ ghi phần thay đổi: bước mới được thêm, bước đổi được ghi phiên bản mới, bước
    không còn trong kế hoạch bị hủy (vẫn giữ lại); bước đã xong không bao giờ bị mở lại."""
    from datetime import UTC, datetime

    from rich.progress import Progress

    from kehoach import store
    loaded, errors = _load(plans or ("plans",))
    errors += _duplicate_plans(loaded)
    if errors:
        _report(errors)
        sys.exit(1)
    engine = _store_engine()
    calendar = WorkingCalendar()
    try:
        store.check_schema_current(engine)
        for p in loaded:
            with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
                task = bar.add_task(f"{p.id}: biên dịch", total=None)
                steps = compile_plan(p, calendar)
                digest = store.file_digest(p.file)
                bar.update(task, description=f"{p.id}: lưu {len(steps)} bước", total=len(steps))
                with store.write_session(engine) as session:
                    r = store.sync_plan(session, p, steps, now=datetime.now(UTC),
                                        content_hash=digest, actor="kehoach load", channel="cli",
                                        progress=lambda n, t=task: bar.advance(t, n))
            restored = f", khôi phục {r.restored}" if r.restored else ""
            out.print(f"[green]✓[/green] {p.file} (phiên bản {r.version}): thêm {r.added}, "
                      f"đổi {r.changed}, hủy {r.cancelled}, giữ nguyên {r.kept}{restored}.")
    except store.StoreError as exc:
        raise _store_fail(exc) from None


# ── The running engine (issue 3): `tick`, `overdue`, `agenda`, `done` ──────────────────────
# `--now` exists so that a day can be replayed or a schedule tried out; the clock is read here,
# at the edge, and passed down.
def _now(value: str | None) -> datetime_:
    """`--now`: an ISO moment; without a zone it is Hồ Chí Minh time. Default: the clock."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        err.print(f"[red]lỗi[/red] --now: «{value}» không phải thời điểm ISO, "
                  "ví dụ 2024-01-31T08:00", markup=True)
        raise SystemExit(1) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return moment.astimezone(UTC)


NOW_OPTION = click.option("--now", "now_text", metavar="ISO",
                          help="Thời điểm coi là hiện tại (mặc định: bây giờ), ví dụ 2024-01-31T08:00.")


def _ready_engine() -> Engine:
    from kehoach import store
    engine = _store_engine()
    try:
        store.check_schema_current(engine)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    return engine


@main.command()
@NOW_OPTION
@click.option("--limit", default=10_000, show_default=True, help="Gửi tối đa bấy nhiêu tin.")
def tick(now_text: str | None, limit: int) -> None:
    """Một nhịp: xếp các nhắc việc, báo trễ hạn đến giờ vào hàng đợi rồi gửi ra màn hình
    (để chạy bằng cron)."""
    import os
    import socket

    from kehoach import store
    from notifiers.console import ConsoleChannel
    now = _now(now_text)
    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            decided = store.tick(session, now, channel=ConsoleChannel.name)
        sent = store.dispatch(lambda: store.write_session(engine), ConsoleChannel(), now,
                              limit=limit, worker=f"{socket.gethostname()}:{os.getpid()}")
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    problems = ""
    if sent.failed or sent.unknown or sent.retrying:
        problems = (f"; thất bại {sent.failed}, chưa rõ {sent.unknown}, "
                    f"sẽ thử lại {sent.retrying}")
    err.print(f"Đã xét {decided.steps} bước: {decided.queued} thông báo mới "
              f"({decided.escalations} báo trễ hạn), đã gửi {sent.sent}{problems}.")


def _steps_with_status(engine: Engine, now: datetime_, where: list[object]) -> list[tuple[object, object]]:
    from sqlalchemy import select

    from kehoach import store
    from kehoach.store.models import steps_table, units_table
    from kehoach.store.tick import COLUMNS
    query = (select(*(steps_table.c[c] for c in COLUMNS), steps_table.c.due_time,
                    units_table.c.name.label("unit_name"))
             .join(units_table, units_table.c.id == steps_table.c.unit_id)
             .where(*where).order_by(steps_table.c.due_at, steps_table.c.unit_id))
    from workflows.lifecycle import status
    try:
        with store.read_session(engine) as session:
            return [(row, status(store.facts(row), now)) for row in session.execute(query)]
    except store.StoreError as exc:
        raise _store_fail(exc) from None


def _print_steps(title: str, rows: list[tuple[object, object]], empty: str) -> None:
    if not rows:
        out.print(empty)
        return
    table = Table(title=title)
    for name in ("Hạn", "Việc", "Đơn vị", "Tình trạng", "Mã bước"):
        table.add_column(name, overflow="fold")
    for row, st in rows:
        due = vi.day(row.due_date) + (f" {row.due_time:%H:%M}" if row.due_time else "")
        if row.extended_until is not None and row.extended_until > row.due_at:
            from datetime import timedelta

            from workflows.lifecycle import VN
            last = (row.extended_until - timedelta(microseconds=1)).astimezone(VN)
            due += f" (gia hạn đến {last:%d/%m/%Y})"
        table.add_row(due, row.title, row.unit_name, st.label, row.id)
    out.print(table)
    out.print(f"{len(rows)} bước.")


def _cluster_units(cluster: str) -> frozenset[str]:
    """The member units of a cluster (or group), from the plan files in plans/."""
    plans, _ = _load(("plans",)) if Path("plans").is_dir() else ([], [])
    for p in plans:
        if cluster in p.members:
            return frozenset(p.members[cluster]) | {p.cluster_heads.get(cluster, cluster)}
    err.print(f"[red]lỗi[/red] không có cụm hay nhóm «{cluster}» trong các kế hoạch ở plans/",
              markup=True)
    raise SystemExit(1)


@main.command()
@click.option("--unit", help="Chỉ các bước của đơn vị này.")
@click.option("--cluster", help="Chỉ các bước của các đơn vị trong cụm (hay nhóm) này.")
@NOW_OPTION
def overdue(unit: str | None, cluster: str | None, now_text: str | None) -> None:
    """Các bước quá hạn mà chưa hoàn thành, kể cả mức đã báo lên."""
    from kehoach.store.models import steps_table as t
    from workflows.lifecycle import LATE, LATE_KINDS
    now = _now(now_text)
    where: list[object] = [t.c.state == "pending", t.c.due_at <= now, t.c.kind.in_(LATE_KINDS)]
    if unit:
        where.append(t.c.unit_id == unit)
    if cluster:
        where.append(t.c.unit_id.in_(_cluster_units(cluster)))
    rows = [(r, s) for r, s in _steps_with_status(_ready_engine(), now, where)
            if s.phase in LATE]  # type: ignore[attr-defined]
    _print_steps("Các bước quá hạn", rows, "Không có bước nào quá hạn.")


@main.command()
@click.option("--days", default=14, show_default=True, help="Số ngày tới.")
@click.option("--unit", help="Chỉ các bước của đơn vị này.")
@NOW_OPTION
def agenda(days: int, unit: str | None, now_text: str | None) -> None:
    """Các bước chưa làm đến hạn trong những ngày tới."""
    from datetime import timedelta

    from sqlalchemy import case

    from kehoach.store.models import steps_table as t
    now = _now(now_text)
    deadline = case((t.c.extended_until > t.c.due_at, t.c.extended_until), else_=t.c.due_at)
    where: list[object] = [t.c.state == "pending", deadline > now,
                           deadline <= now + timedelta(days=days)]
    if unit:
        where.append(t.c.unit_id == unit)
    _print_steps(f"Việc trong {days} ngày tới", _steps_with_status(_ready_engine(), now, where),
                 f"Không có việc nào trong {days} ngày tới.")


@main.command()
@click.argument("step")
@click.option("--note", help="Ghi chú hoặc đường dẫn tới báo cáo.")
@click.option("--by", "actor", default="thư ký", show_default=True, help="Người đánh dấu.")
@NOW_OPTION
def done(step: str, note: str | None, actor: str, now_text: str | None) -> None:
    """Đánh dấu một bước đã hoàn thành."""
    from kehoach import store
    now = _now(now_text)
    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            store.mark_done(session, step, actor, "cli", now, note)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    out.print(f"[green]✓[/green] Đã đánh dấu hoàn thành: {step}")


# ── Secretary actions (issue 3): `extend`, `excuse`, `reopen`, `pay`, `achieve` ───────────
# Each runs one store action in one write transaction: refused (unknown step, not allowed now,
# impossible date or figure) → the message, exit 1, nothing written.
BY_OPTION = click.option("--by", "actor", default="thư ký", show_default=True,
                         help="Người thực hiện.")


def _fail(message: str) -> SystemExit:
    from rich.markup import escape
    err.print(f"[red]lỗi[/red] {escape(message)}", markup=True, soft_wrap=True)
    return SystemExit(1)


def _act(name: str, now_text: str | None, *args: object) -> str:
    """Run `kehoach.store.actions.<name>(session, step, *args, actor, "cli", now)`; its note."""
    from kehoach import store
    from kehoach.store import actions
    now = _now(now_text)
    engine = _ready_engine()
    step, *rest, actor = args
    try:
        with store.write_session(engine) as session:
            result = getattr(actions, name)(session, step, *rest, actor, "cli", now)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    return str(result.note)


@main.command()
@click.argument("step")
@click.option("--until", "until_text", required=True, metavar="NGÀY",
              help="Hạn mới, ví dụ 05/06/2024.")
@click.option("--reason", required=True, help="Lý do gia hạn.")
@BY_OPTION
@NOW_OPTION
def extend(step: str, until_text: str, reason: str, actor: str, now_text: str | None) -> None:
    """Gia hạn một bước (thư ký ghi cả đề nghị lẫn quyết định cho gia hạn)."""
    try:
        until = parse_day(until_text)
    except PlanError as exc:
        raise _fail(f"--until: «{until_text}» không phải một ngày ({exc.message}); "
                    "ví dụ 05/06/2024") from None
    note = _act("extend", now_text, step, until, reason, actor)
    out.print(f"[green]✓[/green] {step}: {note}")


@main.command()
@click.argument("step")
@click.option("--reason", required=True, help="Lý do miễn.")
@BY_OPTION
@NOW_OPTION
def excuse(step: str, reason: str, actor: str, now_text: str | None) -> None:
    """Miễn cho đơn vị một bước (không nhắc, không báo trễ nữa)."""
    _act("excuse", now_text, step, reason, actor)
    out.print(f"[green]✓[/green] Đã miễn: {step}")


@main.command()
@click.argument("step")
@click.option("--reason", required=True, help="Lý do mở lại.")
@BY_OPTION
@NOW_OPTION
def reopen(step: str, reason: str, actor: str, now_text: str | None) -> None:
    """Mở lại một bước đã xong hay đã được miễn."""
    _act("reopen", now_text, step, reason, actor)
    out.print(f"[green]✓[/green] Đã mở lại: {step}")


@main.command()
@click.argument("step")
@click.argument("amount", nargs=-1, required=True)
@BY_OPTION
@NOW_OPTION
def pay(step: str, amount: tuple[str, ...], actor: str, now_text: str | None) -> None:
    """Ghi nhận số tiền một đơn vị đã đóng (ví dụ: 500.000 đồng); đủ thì bước hoàn thành."""
    from engine.plan import parse_money
    text = " ".join(amount)
    try:
        paid = parse_money(text)
    except PlanError as exc:
        raise _fail(f"«{text}»: {exc.message}") from None
    note = _act("record_payment", now_text, step, paid, actor)
    out.print(f"[green]✓[/green] {step}: {note}")


@main.command()
@click.argument("step")
@click.argument("quantity")
@BY_OPTION
@NOW_OPTION
def achieve(step: str, quantity: str, actor: str, now_text: str | None) -> None:
    """Ghi nhận số lượng một chỉ tiêu đã đạt (tổng đến nay); đạt chỉ tiêu thì bước hoàn thành."""
    import math
    try:
        reached = float(quantity.strip().replace(",", "."))
    except ValueError:
        reached = math.nan
    if not math.isfinite(reached):
        raise _fail(f"«{quantity}» không phải một số lượng; ví dụ 12 hoặc 12,5")
    note = _act("record_achievement", now_text, step, reached, actor)
    out.print(f"[green]✓[/green] {step}: {note}")


# ── Long-running processes (issue 3): `serve`, `worker` (kehoach/serve.py wires them) ─────
def _run_engine(clock: bool, tick_seconds: float, poll_seconds: float, limit: int) -> None:
    import asyncio
    import logging
    import os
    import signal

    from kehoach import store
    from kehoach.serve import serve as run
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "alembic"):  # one line per run of every job: not news
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def main_() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(dict(os.environ), stop, clock=clock, tick_seconds=tick_seconds,
                  poll_seconds=poll_seconds, limit=limit,
                  announce=lambda line: err.print(line, markup=False, soft_wrap=True))

    try:
        asyncio.run(main_())
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    err.print("Đã dừng.")


RUN_OPTIONS = [
    click.option("--poll-seconds", default=1.0, show_default=True, type=click.FloatRange(0.01),
                 help="Khi hàng đợi trống, chờ bấy nhiêu giây rồi xem lại."),
    click.option("--limit", default=100, show_default=True, type=click.IntRange(1),
                 help="Số tin nhận gửi mỗi lượt."),
]


@main.command()
@click.option("--tick-seconds", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Khoảng cách giữa hai nhịp của đồng hồ.")
@RUN_OPTIONS[0]
@RUN_OPTIONS[1]
def serve(tick_seconds: float, poll_seconds: float, limit: int) -> None:
    """Chạy máy: đồng hồ (chỉ một tiến trình giữ, tự thay khi tiến trình đó chết) và gửi tin,
    đến khi nhận Ctrl-C hoặc SIGTERM. Từ chối chạy nếu lược đồ cơ sở dữ liệu đã cũ."""
    _run_engine(True, tick_seconds, poll_seconds, limit)


@main.command()
@RUN_OPTIONS[0]
@RUN_OPTIONS[1]
def worker(poll_seconds: float, limit: int) -> None:
    """Chỉ gửi tin từ hàng đợi (không chạy đồng hồ); chạy bao nhiêu tiến trình cũng được."""
    _run_engine(False, 60.0, poll_seconds, limit)
