"""`kehoach db`, `load`, `tick`, `overdue`, `agenda`, `done`: the commands on the database.

kehoach.store (SQLAlchemy) is imported inside the commands, so `check` and `compile` start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from engine import vi
from engine.compiler import compile_plan
from engine.errors import PlanError
from engine.plan import Plan
from engine.workdays import WorkingCalendar
from kehoach.cli import Bounded, _load, _report, err, main, out

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime as datetime_

    from sqlalchemy import Engine

    from kehoach.settings import Settings


# ── `db upgrade`, `db status`, `load` ──────────────────────────────────────────────────────
# kehoach.store (SQLAlchemy) is imported inside the commands, so `check` and `compile` start
# as fast as before. The environment is read here, at the edge, and nowhere below.
def settings() -> Settings:
    """The settings in effect (kehoach.settings: environment over kehoach.toml); a wrong one
    stops the command with its Vietnamese message."""
    from kehoach import store
    from kehoach.settings import Settings

    try:
        return Settings.load()
    except store.StoreError as exc:
        raise _store_fail(exc) from None


@main.command("settings")
def show_settings() -> None:
    """Các thiết lập đang dùng (biến môi trường, rồi tệp kehoach.toml); giá trị bí mật được ẩn."""
    from rich.markup import escape

    from kehoach.settings import describe

    table = Table("Thiết lập", "Giá trị", "Lấy từ", "Ý nghĩa")
    for row in describe(settings()):
        table.add_row(*map(escape, row))
    out.print(table)


def _store_engine() -> Engine:
    from kehoach import store

    try:
        return store.make_engine(store.database_url(settings().database_url))
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

    engine = _ready_engine()
    out.print(
        f"Cơ sở dữ liệu {store.describe(engine)} ở phiên bản {store.head_revision()} (mới nhất)."
    )


def _duplicate_plans(plans: list[Plan]) -> list[PlanError]:
    from engine.errors import Position

    first: dict[str, Plan] = {}
    errors = []
    for p in plans:
        if p.id in first:
            errors.append(
                PlanError(
                    f"mã kế hoạch «{p.id}» đã dùng trong {first[p.id].file}", Position(p.file)
                )
            )
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
    from kehoach.store.drafts import store_plan

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
                text = Path(p.file).read_bytes().decode("utf-8-sig")  # read and checked by _load
                bar.update(task, description=f"{p.id}: lưu {len(steps)} bước", total=len(steps))
                with store.write_session(engine) as session:  # the board's «Công bố» does the same
                    r = store_plan(
                        session,
                        p,
                        steps,
                        text,
                        now=datetime.now(UTC),
                        actor="kehoach load",
                        channel="cli",
                        progress=partial(bar.advance, task),
                    )
                bar.update(task, description=f"{p.id}: dọn lại bảng sau khi nạp", total=None)
                store.settle(engine, r)
            restored = f", khôi phục {r.restored}" if r.restored else ""
            out.print(
                f"[green]✓[/green] {p.file} (phiên bản {r.version}): thêm {r.added}, "
                f"đổi {r.changed}, hủy {r.cancelled}, giữ nguyên {r.kept}{restored}."
            )
    except store.StoreError as exc:
        raise _store_fail(exc) from None


# ── The running engine (issue 3): `tick`, `overdue`, `agenda`, `done` ──────────────────────
# `--now` exists so that a day can be replayed or a schedule tried out; the clock is read here,
# at the edge, and passed down. A command that writes refuses a `--now` more than a day ahead
# of the real clock unless `--force` is given: a tick «in 9999» would fire every escalation.
#: The years a `--now` may fall in (date arithmetic beyond them overflows).
FIRST_YEAR, LAST_YEAR = 1900, 9000


def _now(value: str | None, force: bool | None = None) -> datetime_:
    """`--now`: an ISO moment; without a zone it is Hồ Chí Minh time. Default: the clock.
    `force=False` (a command that writes, without --force): at most a day ahead of the clock."""
    from datetime import UTC, datetime, timedelta

    from engine.model import ZONE

    if value is None:
        return datetime.now(UTC)

    def fail(why: str) -> SystemExit:
        from rich.markup import escape

        err.print(
            f"[red]lỗi[/red] --now: «{escape(str(value))}» {why}", markup=True, soft_wrap=True
        )
        return SystemExit(1)

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail("không phải thời điểm ISO, ví dụ 2024-01-31T08:00") from None
    ahead = moment.year > LAST_YEAR
    if not ahead or force is not False:
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            raise fail(f"ngoài khoảng cho phép (từ năm {FIRST_YEAR} đến năm {LAST_YEAR})")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZONE)
        moment = moment.astimezone(UTC)
        ahead = force is False and moment > datetime.now(UTC) + timedelta(days=1)
    if ahead:
        raise fail(
            "đi trước đồng hồ thật hơn một ngày: mọi nhắc việc và báo trễ hạn đến lúc đó "
            "sẽ được xử lý ngay; thêm --force nếu thật sự muốn thế"
        )
    return moment


NOW_OPTION = click.option(
    "--now",
    "now_text",
    metavar="ISO",
    help="Thời điểm coi là hiện tại (mặc định: bây giờ), ví dụ 2024-01-31T08:00.",
)
FORCE_OPTION = click.option(
    "--force", is_flag=True, help="Cho phép --now đi trước đồng hồ thật hơn một ngày."
)
#: How many notifications one command or one batch may send.
LIMIT = Bounded(1, 100_000)


def WRITE_NOW(command: Callable[..., None]) -> Callable[..., None]:  # a decorator
    """`--now` and `--force`, for the commands that write."""
    return NOW_OPTION(FORCE_OPTION(command))


def _ready_engine() -> Engine:
    from kehoach import store

    engine = _store_engine()
    try:
        store.check_schema_current(engine)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    return engine


def _once(now: datetime_, limit: int, work: str) -> tuple[Any, Any]:
    """One run of the clock's `work` ("run_tick" or "run_digest") at `now`, sending through
    the channels the settings configure, exactly as `kehoach serve` does (serve.wired_channels:
    Telegram, e-mail, and the console for units nobody can be reached in)."""
    from kehoach import store
    from kehoach.clock import Clock
    from kehoach.serve import wired_channels

    config = settings()
    engine = _ready_engine()
    channels: list[Any] = []
    held: list[Any] = []
    try:
        channels = [_gated(c, engine, held) for c in wired_channels(config)]
        clock = Clock(
            engine,
            store.database_url(config.database_url),
            channels,
            lambda: now,
            dispatch_limit=limit,
            digest_at=config.digest_hour,
        )
        result: tuple[Any, Any] = getattr(clock, work)()
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    finally:
        for lock in held:
            lock.release()
        for channel in channels:
            channel.close()
        engine.dispose()
    return result


def _gated(channel: Any, engine: Engine, held: list[Any]) -> Any:
    """A channel with a sender key (Telegram: its bot token) sends only from the process
    holding the key's lock (kehoach.serve: the limits hold across processes): a cron run
    takes it when no service holds it, else it leaves the channel's messages queued for the
    service that does."""
    from kehoach.channels import label
    from kehoach.leadership import leadership_for
    from kehoach.serve import SenderGate

    if channel.sender_key is None:
        return channel
    gate, lock = SenderGate(channel), leadership_for(engine, channel.sender_key)
    gate.sending = lock.try_acquire()
    if gate.sending:
        held.append(lock)
    else:
        err.print(
            f"{label(channel.name)}: một tiến trình khác (kehoach serve hoặc worker) đang "
            "giữ quyền gửi trên kênh này; các tin của kênh được xếp hàng để tiến trình đó "
            "gửi."
        )
    return gate


#: `--limit` of the commands that send (tick, digest).
SEND_LIMIT = click.option(
    "--limit",
    default=10_000,
    show_default=True,
    type=LIMIT,
    help="Gửi tối đa bấy nhiêu tin trên mỗi kênh.",
)
SENT_BY = (
    "Gửi ngay qua các kênh đã cấu hình, như `kehoach serve`: Telegram khi có "
    "KEHOACH_TELEGRAM_TOKEN, thư điện tử khi có KEHOACH_SMTP_HOST; tin cho đơn vị chưa ai "
    "nhận được thì in ra màn hình. Chạy cùng lúc với `kehoach serve` cũng không gửi trùng; "
    "tin Telegram khi đó do tiến trình đang giữ mã bot gửi."
)


@main.command(
    help="Một nhịp: xếp các nhắc việc, báo trễ hạn đến giờ vào hàng đợi rồi gửi "
    f"(để chạy bằng cron). {SENT_BY}"
)
@WRITE_NOW
@SEND_LIMIT
def tick(now_text: str | None, force: bool, limit: int) -> None:
    now = _now(now_text, force)
    decided, sent = _once(now, limit, "run_tick")
    problems = ""
    if sent.failed or sent.unknown or sent.retrying:
        problems = f"; thất bại {sent.failed}, chưa rõ {sent.unknown}, sẽ thử lại {sent.retrying}"
    err.print(
        f"Đã xét {decided.steps} bước: {decided.queued} thông báo mới "
        f"({decided.escalations} báo trễ hạn), đã gửi {sent.sent}{problems}."
    )


@main.command(
    help="Tin tổng hợp hằng ngày: mỗi đơn vị một tin liệt kê việc sắp đến hạn, đến "
    "hạn hôm nay và quá hạn; mỗi ngày một lần, từ giờ KEHOACH_DIGEST_HOUR (mặc định "
    f"07:30) (để chạy bằng cron). {SENT_BY}"
)
@WRITE_NOW
@SEND_LIMIT
def digest(now_text: str | None, force: bool, limit: int) -> None:
    now = _now(now_text, force)
    queued, sent = _once(now, limit, "run_digest")
    if queued.day is None:
        err.print(f"Chưa đến giờ gửi tin tổng hợp ({settings().digest_hour:%H:%M}); không gửi gì.")
        return
    err.print(
        f"Tin tổng hợp ngày {queued.day:%d/%m/%Y}: {queued.queued} tin mới"
        f"{f', {queued.duplicates} tin đã xếp trước đó' if queued.duplicates else ''}"
        f", đã gửi {sent.sent}."
    )


# `overdue` and `agenda` read the board's lists (kehoach.web.queries): the same steps, the
# same order, filters from the database. A table shows `--limit` rows and says how many more;
# json and csv stream every row read, never holding the list. In a table each step takes a
# few lines and its id stands alone on the last one, so it can be copied whole in 80 columns.
FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Cách in.",
)
LIMIT_OPTION = click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(0),
    help="In tối đa bấy nhiêu bước (0: tất cả).",
)
PLAN_OPTION = click.option("--plan", help="Chỉ các bước của kế hoạch này.")


def _cluster_units(engine: Engine, cluster: str) -> frozenset[str]:
    """The member units and head of a cluster (or group), from the database."""
    from sqlalchemy import select

    from kehoach import store
    from kehoach.store.models import group_members_table as m
    from kehoach.store.models import groups_table as g

    try:
        with store.read_session(engine) as session:
            heads = session.execute(select(g.c.head_id).where(g.c.id == cluster)).all()
            members = session.execute(select(m.c.unit_id).where(m.c.group_id == cluster))
            units = {u for (u,) in members} | {h for (h,) in heads if h}
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if not heads:
        err.print(
            f"[red]lỗi[/red] không có cụm hay nhóm «{cluster}» trong cơ sở dữ liệu", markup=True
        )
        raise SystemExit(1)
    return frozenset(units)


def _list_steps(
    which: object,
    now: datetime_,
    fmt: str,
    limit: int,
    unit: str | None,
    cluster: str | None,
    plan: str | None,
    title: str,
    empty: str,
) -> None:
    from itertools import islice

    from kehoach import store
    from kehoach.web import queries

    engine = _ready_engine()
    scope = _cluster_units(engine, cluster) if cluster else queries.EVERYTHING
    f = queries.Filters(plan=plan, unit=unit, sort="due")
    assert isinstance(which, queries.StepList)
    try:
        with store.read_session(engine) as session:
            # the total says how many more a table or a --limit left out (none else)
            total = (
                queries.step_page(session, scope, now, which, f, None, 1).total
                if fmt == "table" or limit
                else 0
            )
            lines = queries.stream_lines(session, scope, now, which, f)
            shown = islice(lines, limit) if limit else lines
            if fmt == "table":
                _print_steps(title, shown, empty)
            else:
                with _no_collection():
                    (_json_steps if fmt == "json" else _csv_steps)(shown)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if total and fmt == "table":
        out.print(f"{min(total, limit or total)} bước.")
    if limit and total > limit:
        err.print(
            f"Còn {total - limit} bước nữa (tất cả {total}); dùng --limit {total} "
            "hay --limit 0 để in hết, --format csv để lưu ra tệp.",
            soft_wrap=True,
        )


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector off while a list streams: each row makes a few tuples
    and strings that are freed as it is written, never a cycle, yet their number sets off a
    collection every few hundred rows (a fifth of the CPU time of a 400,000-row CSV)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _print_steps(title: str, lines: Iterable[Any], empty: str) -> None:
    first = True
    for s in lines:
        if first:
            out.print(f"[bold]{title}[/bold]", markup=True)
            first = False
        due = vi.day(s.due_date) + (f" {s.due_time:%H:%M}" if s.due_time else "")
        if s.last_day != s.due_date:
            due += f" (gia hạn đến {s.last_day:%d/%m/%Y})"
        out.print(f"\n{due} · {s.unit_name}", markup=False, highlight=False)
        out.print(f"  {s.title}", markup=False, highlight=False)
        out.print(f"  {s.status.label}", markup=False, highlight=False)
        out.print(s.id, markup=False, highlight=False, soft_wrap=True)
    if first:
        out.print(empty)


def _json_steps(lines: Iterable[Any]) -> None:
    import json

    from kehoach.web.api import _out

    sys.stdout.write("[")
    for i, s in enumerate(lines):
        sys.stdout.write(
            ("," if i else "")
            + "\n"
            + json.dumps(_out(s).model_dump(mode="json"), ensure_ascii=False)
        )
    sys.stdout.write("\n]\n")


def _csv_steps(lines: Iterable[Any]) -> None:
    from kehoach.web.cells import STEP_HEADER, csv_line, csv_step_lines, joined

    write = sys.stdout.write
    write(csv_line(STEP_HEADER))
    for piece in joined(csv_step_lines(lines, safe=False)):
        write(piece)


@main.command()
@click.option("--unit", help="Chỉ các bước của đơn vị này.")
@click.option("--cluster", help="Chỉ các bước của các đơn vị trong cụm (hay nhóm) này.")
@PLAN_OPTION
@LIMIT_OPTION
@FORMAT_OPTION
@NOW_OPTION
def overdue(
    unit: str | None,
    cluster: str | None,
    plan: str | None,
    limit: int,
    fmt: str,
    now_text: str | None,
) -> None:
    """Các bước quá hạn mà chưa hoàn thành, kể cả mức đã báo lên (hạn sớm nhất trước)."""
    from kehoach.web.queries import OVERDUE

    _list_steps(
        OVERDUE,
        _now(now_text),
        fmt,
        limit,
        unit,
        cluster,
        plan,
        "Các bước quá hạn",
        "Không có bước nào quá hạn.",
    )


@main.command()
@click.option(
    "--days", default=14, show_default=True, type=Bounded(1, 3660), help="Số ngày tới (1 đến 3660)."
)
@click.option("--unit", help="Chỉ các bước của đơn vị này.")
@click.option("--cluster", help="Chỉ các bước của các đơn vị trong cụm (hay nhóm) này.")
@PLAN_OPTION
@LIMIT_OPTION
@FORMAT_OPTION
@NOW_OPTION
def agenda(
    days: int,
    unit: str | None,
    cluster: str | None,
    plan: str | None,
    limit: int,
    fmt: str,
    now_text: str | None,
) -> None:
    """Các bước chưa làm đến hạn trong những ngày tới."""
    from kehoach.web.queries import StepList

    _list_steps(
        StepList(False, days),
        _now(now_text),
        fmt,
        limit,
        unit,
        cluster,
        plan,
        f"Việc trong {days} ngày tới",
        f"Không có việc nào trong {days} ngày tới.",
    )


@main.command()
@click.argument("step")
@click.option("--note", help="Ghi chú hoặc đường dẫn tới báo cáo.")
@click.option("--by", "actor", default="thư ký", show_default=True, help="Người đánh dấu.")
@WRITE_NOW
def done(step: str, note: str | None, actor: str, now_text: str | None, force: bool) -> None:
    """Đánh dấu một bước đã hoàn thành."""
    from kehoach import store

    now = _now(now_text, force)
    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            store.mark_done(session, step, actor, "cli", now, note)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    out.print(f"[green]✓[/green] Đã đánh dấu hoàn thành: {step}")
