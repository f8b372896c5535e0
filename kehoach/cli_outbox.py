"""Undelivered messages: `kehoach outbox list|retry|drop` (kehoach/store/queue.py).

kehoach outbox list                                # không rõ đã đến chưa, thất bại
kehoach outbox list --state pending --channel telegram --unit doan-a
kehoach outbox retry 12 15 --by "Chị Lan"          # gửi lại (về hàng chờ)
kehoach outbox drop --state failed --plan p --by "Chị Lan"   # bỏ mọi tin khớp bộ lọc
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kehoach.cli import main, out
from kehoach.cli_store import NOW_OPTION, _now, _ready_engine, _store_fail

STATE_HELP = (
    "Trạng thái (lặp lại được): pending (chờ gửi), claimed (đang gửi), sent (đã gửi), "
    "failed (thất bại), unknown (không rõ đã đến chưa), dropped (đã bỏ). Mặc định: "
    "unknown và failed."
)


def _filters(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--state", "states", multiple=True, metavar="TRẠNG-THÁI", help=STATE_HELP),
            click.option("--channel", help="Chỉ tin của kênh này: telegram, email, console."),
            click.option("--unit", help="Chỉ tin gửi cho đơn vị này (mã đơn vị)."),
            click.option("--plan", help="Chỉ tin về kế hoạch này (mã kế hoạch)."),
            click.option(
                "--person", metavar="SỐ", help="Chỉ tin gửi cho người này (số của người)."
            ),
            click.option(
                "--limit",
                default="100",
                show_default=True,
                metavar="SỐ",
                help="Nhiều nhất bấy nhiêu tin (1–10000), mới nhất trước.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _number(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise click.UsageError(f"{option}: «{text}» không phải một số nguyên") from None


def _filter(
    states: tuple[str, ...],
    channel: str | None,
    unit: str | None,
    plan: str | None,
    person: str | None,
    limit: str,
) -> Any:
    from kehoach.store.queue import UNDELIVERED, Filter, QueueError

    f = Filter(
        states or UNDELIVERED,
        channel,
        unit,
        plan,
        _number("--person", person) if person is not None else None,
        units=None,
        limit=_number("--limit", limit),
    )
    try:
        f.check()
    except QueueError as exc:
        raise click.UsageError(str(exc)) from None
    return f


@main.group()
def outbox() -> None:
    """Tin chưa gửi được: liệt kê, gửi lại, bỏ (mỗi lần gửi lại hay bỏ đều được ghi lại)."""


@outbox.command("list")
@_filters
def outbox_list(
    states: tuple[str, ...],
    channel: str | None,
    unit: str | None,
    plan: str | None,
    person: str | None,
    limit: str,
) -> None:
    """Liệt kê các tin trong hàng đợi (mặc định: không rõ đã đến chưa, và thất bại)."""
    from rich.table import Table

    from engine.model import ZONE as VN
    from kehoach import store
    from kehoach.store.queue import undelivered

    f = _filter(states, channel, unit, plan, person, limit)
    engine = _ready_engine()
    try:
        with store.read_session(engine) as session:
            rows = undelivered(session, f)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if not rows:
        out.print("Không có tin nào khớp bộ lọc.")
        return
    table = Table(
        "Số",
        "Trạng thái",
        "Kênh",
        "Loại",
        "Gửi cho",
        "Nội dung",
        "Lần thử",
        "Lỗi gần nhất",
        "Cập nhật",
    )
    for r in rows:
        to = r.unit_name + (f" — {r.person_name} (số {r.person_id})" if r.person_name else "")
        table.add_row(
            str(r.id),
            r.state_name,
            r.channel,
            r.purpose_name,
            to,
            r.about,
            str(r.attempts),
            r.last_error or "—",
            f"{r.updated_at.astimezone(VN):%d/%m/%Y %H:%M}",
        )
    out.print(table)
    out.print(f"{len(rows)} tin.")


def _act(
    action: str, ids: tuple[str, ...], f: Any, actor: str, now_text: str | None, has_filter: bool
) -> None:
    from kehoach import store
    from kehoach.store import queue

    if not ids and not has_filter:
        raise click.UsageError(
            "nêu số của các tin, hoặc ít nhất một bộ lọc (--state, "
            "--channel, --unit, --plan, --person)"
        )
    wanted = [_number("SỐ", i) for i in ids]
    now = _now(now_text)
    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            chosen = wanted or queue.matching_ids(session, f)
            done = getattr(queue, action)(session, chosen, actor, "cli", now)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    verb = {"retry": "đưa lại vào hàng chờ gửi", "drop": "bỏ"}[action]
    allowed = {"retry": queue.RETRY_FROM, "drop": queue.DROP_FROM}[action]
    for outbox_id, old in done:
        out.print(f"[green]✓[/green] tin số {outbox_id} ({queue.STATES[old]}): đã {verb}.")
    left = sorted(set(chosen) - {i for i, _ in done})
    if left:
        out.print(
            f"[yellow]bỏ qua[/yellow] {', '.join(map(str, left))}: không có, hoặc không "
            f"ở trạng thái {', '.join(queue.STATES[s] for s in allowed)}."
        )
    out.print(f"{len(done)} tin đã {verb} (người làm: {actor}).")
    if left and not done:
        raise SystemExit(1)


BY = click.option(
    "--by", "actor", default="thư ký", show_default=True, help="Người thực hiện (ghi vào nhật ký)."
)


@outbox.command("retry")
@click.argument("ids", nargs=-1, metavar="[SỐ]...")
@_filters
@BY
@NOW_OPTION
def outbox_retry(
    ids: tuple[str, ...],
    states: tuple[str, ...],
    channel: str | None,
    unit: str | None,
    plan: str | None,
    person: str | None,
    limit: str,
    actor: str,
    now_text: str | None,
) -> None:
    """Gửi lại: đưa các tin không rõ, thất bại hoặc đã bỏ về hàng chờ (lượt gửi tới sẽ gửi).
    Nêu số của tin, hoặc chọn bằng bộ lọc. Tin «không rõ» có thể đã đến: gửi lại thì người
    nhận có thể nhận hai lần."""
    f = _filter(states, channel, unit, plan, person, limit)
    _act("retry", ids, f, actor, now_text, any((states, channel, unit, plan, person)))


@outbox.command("drop")
@click.argument("ids", nargs=-1, metavar="[SỐ]...")
@_filters
@BY
@NOW_OPTION
def outbox_drop(
    ids: tuple[str, ...],
    states: tuple[str, ...],
    channel: str | None,
    unit: str | None,
    plan: str | None,
    person: str | None,
    limit: str,
    actor: str,
    now_text: str | None,
) -> None:
    """Bỏ các tin chờ gửi, không rõ hoặc thất bại: không bao giờ gửi nữa. Nêu số của tin,
    hoặc chọn bằng bộ lọc."""
    f = _filter(states, channel, unit, plan, person, limit)
    _act("drop", ids, f, actor, now_text, any((states, channel, unit, plan, person)))
