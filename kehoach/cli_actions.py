"""Secretary actions: `extend`, `excuse`, `reopen`, `pay`, `achieve`."""

from __future__ import annotations

import click

from engine.errors import PlanError
from engine.phrases import parse_day
from kehoach.cli import err, main, out
from kehoach.cli_store import WRITE_NOW, _now, _ready_engine, _store_fail

# ── Secretary actions (issue 3): `extend`, `excuse`, `reopen`, `pay`, `achieve` ───────────
# Each runs one store action in one write transaction: refused (unknown step, not allowed now,
# impossible date or figure) → the message, exit 1, nothing written.
#: The largest amount `pay` takes, in đồng (a thousand trillion).
MAX_MONEY = 10**15
BY_OPTION = click.option(
    "--by", "actor", default="thư ký", show_default=True, help="Người thực hiện."
)


def _fail(message: str) -> SystemExit:
    from rich.markup import escape

    err.print(f"[red]lỗi[/red] {escape(message)}", markup=True, soft_wrap=True)
    return SystemExit(1)


def _act(name: str, now_text: str | None, force: bool, *args: object) -> str:
    """Run `kehoach.store.actions.<name>(session, step, *args, actor, "cli", now)`; its note."""
    from kehoach import store
    from kehoach.store import actions

    now = _now(now_text, force)
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
@click.option(
    "--until", "until_text", required=True, metavar="NGÀY", help="Hạn mới, ví dụ 05/06/2024."
)
@click.option("--reason", required=True, help="Lý do gia hạn.")
@BY_OPTION
@WRITE_NOW
def extend(
    step: str, until_text: str, reason: str, actor: str, now_text: str | None, force: bool
) -> None:
    """Gia hạn một bước (thư ký ghi cả đề nghị lẫn quyết định cho gia hạn)."""
    try:
        until = parse_day(until_text)
    except PlanError as exc:
        raise _fail(
            f"--until: «{until_text}» không phải một ngày ({exc.message}); ví dụ 05/06/2024"
        ) from None
    note = _act("extend", now_text, force, step, until, reason, actor)
    out.print(f"[green]✓[/green] {step}: {note}")


@main.command()
@click.argument("step")
@click.option("--reason", required=True, help="Lý do miễn.")
@BY_OPTION
@WRITE_NOW
def excuse(step: str, reason: str, actor: str, now_text: str | None, force: bool) -> None:
    """Miễn cho đơn vị một bước (không nhắc, không báo trễ nữa)."""
    _act("excuse", now_text, force, step, reason, actor)
    out.print(f"[green]✓[/green] Đã miễn: {step}")


@main.command()
@click.argument("step")
@click.option("--reason", required=True, help="Lý do mở lại.")
@BY_OPTION
@WRITE_NOW
def reopen(step: str, reason: str, actor: str, now_text: str | None, force: bool) -> None:
    """Mở lại một bước đã xong hay đã được miễn."""
    _act("reopen", now_text, force, step, reason, actor)
    out.print(f"[green]✓[/green] Đã mở lại: {step}")


@main.command()
@click.argument("step")
@click.argument("amount", nargs=-1, required=True)
@BY_OPTION
@WRITE_NOW
def pay(step: str, amount: tuple[str, ...], actor: str, now_text: str | None, force: bool) -> None:
    """Ghi nhận số tiền một đơn vị đã đóng (ví dụ: 500.000 đồng); đủ thì bước hoàn thành."""
    from engine.plan import parse_money

    text = " ".join(amount)
    try:
        paid = parse_money(text)
    except PlanError as exc:
        raise _fail(f"«{text}»: {exc.message}") from None
    if paid > MAX_MONEY:  # the database keeps a 64-bit integer
        raise _fail(f"«{text}»: số tiền quá lớn (tối đa {MAX_MONEY:,} đồng)".replace(",", "."))
    note = _act("record_payment", now_text, force, step, paid, actor)
    out.print(f"[green]✓[/green] {step}: {note}")


@main.command()
@click.argument("step")
@click.argument("quantity")
@BY_OPTION
@WRITE_NOW
def achieve(step: str, quantity: str, actor: str, now_text: str | None, force: bool) -> None:
    """Ghi nhận số lượng một chỉ tiêu đã đạt (tổng đến nay); đạt chỉ tiêu thì bước hoàn thành."""
    import math

    try:
        reached = float(quantity.strip().replace(",", "."))
    except ValueError:
        reached = math.nan
    if not math.isfinite(reached):
        raise _fail(f"«{quantity}» không phải một số lượng; ví dụ 12 hoặc 12,5")
    note = _act("record_achievement", now_text, force, step, reached, actor)
    out.print(f"[green]✓[/green] {step}: {note}")
