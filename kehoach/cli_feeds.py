"""Calendar feeds: `kehoach feed create|list|revoke|rotate`.

The token is shown once, when made (only its hash is kept): `create` and `rotate` print the
feed's https:// and webcal:// addresses, built on KEHOACH_PUBLIC_URL.
"""

from __future__ import annotations

import click

from kehoach.cli import main, out
from kehoach.cli_store import NOW_OPTION, _now, _ready_engine, _store_fail, settings


@main.group()
def feed() -> None:
    """Lịch iCal (Google, Apple, Outlook): tạo, liệt kê, thu hồi, đổi địa chỉ bí mật."""


def _print_urls(token_id: int, token: str, name: str) -> None:
    from calendars.feed import feed_urls

    https, webcal = feed_urls(settings().public_address, token)
    out.print(f"[green]✓[/green] lịch số {token_id}: {name}", highlight=False)
    out.print(f"  địa chỉ:      {https}", highlight=False, soft_wrap=True)
    out.print(f"  đăng ký ngay: {webcal}", highlight=False, soft_wrap=True)
    out.print(
        "  Địa chỉ chỉ hiện một lần này; ai có nó đều xem được lịch. Lộ thì dùng "
        f"`kehoach feed rotate {token_id}`.",
        highlight=False,
    )


@feed.command("create")
@click.option("--unit", help="Lịch của một đơn vị (mã đơn vị).")
@click.option("--cluster", metavar="KẾ-HOẠCH/CỤM", help="Lịch của mọi đơn vị trong một cụm.")
@click.option(
    "--person",
    help="Lịch của một người (số, tên đăng nhập hoặc tên): các đơn vị người đó phụ trách.",
)
@click.option("--plan", help="Lịch của cả một kế hoạch (mã kế hoạch).")
@click.option("--label", help='Ghi chú cho dễ nhận ra, ví dụ "điện thoại chị Lan".')
@NOW_OPTION
def feed_create(
    unit: str | None,
    cluster: str | None,
    person: str | None,
    plan: str | None,
    label: str | None,
    now_text: str | None,
) -> None:
    """Tạo một lịch mới và in địa chỉ của nó (chọn đúng một trong --unit, --cluster,
    --person, --plan)."""
    from kehoach import store
    from kehoach.store import feeds

    chosen = [
        (k, v)
        for k, v in (("unit", unit), ("cluster", cluster), ("person", person), ("plan", plan))
        if v is not None
    ]
    if len(chosen) != 1:
        raise click.UsageError("chọn đúng một trong --unit, --cluster, --person, --plan")
    kind, scope_id = chosen[0]
    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            token_id, token = feeds.create(session, kind, scope_id, _now(now_text), label)
            name = feeds.describe_scope(session, kind, scope_id).name
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    _print_urls(token_id, token, name)


@feed.command("list")
@click.option("--all", "show_all", is_flag=True, help="Cả các lịch đã thu hồi.")
def feed_list(show_all: bool) -> None:
    """Liệt kê các lịch: số, phạm vi, ghi chú, ngày tạo (địa chỉ không lưu nên không in)."""
    from rich.table import Table

    from engine.model import ZONE as VN
    from kehoach import store
    from kehoach.store import feeds

    engine = _ready_engine()
    try:
        with store.read_session(engine) as session:
            views = feeds.list_feeds(session, include_revoked=show_all)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if not views:
        out.print("Chưa có lịch nào. Tạo bằng `kehoach feed create --unit ĐƠN-VỊ`.")
        return
    table = Table("Số", "Phạm vi", "Ghi chú", "Tạo lúc", "Thu hồi lúc")
    for v in views:
        table.add_row(
            str(v.id),
            f"{feeds.SCOPE_NAMES.get(v.scope, v.scope)} {v.scope_id}",
            v.label or "—",
            f"{v.created_at.astimezone(VN):%d/%m/%Y %H:%M}",
            f"{v.revoked_at.astimezone(VN):%d/%m/%Y %H:%M}" if v.revoked_at else "—",
        )
    out.print(table)


@feed.command("revoke")
@click.argument("feed_id", type=int)
@NOW_OPTION
def feed_revoke(feed_id: int, now_text: str | None) -> None:
    """Thu hồi lịch số FEED_ID: địa chỉ của nó thôi dùng được ngay."""
    from kehoach import store
    from kehoach.store import feeds

    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            feeds.revoke(session, feed_id, _now(now_text))
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    out.print(f"[green]✓[/green] đã thu hồi lịch số {feed_id}.")


@feed.command("rotate")
@click.argument("feed_id", type=int)
@NOW_OPTION
def feed_rotate(feed_id: int, now_text: str | None) -> None:
    """Đổi địa chỉ của lịch số FEED_ID: thu hồi địa chỉ cũ, in địa chỉ mới cùng phạm vi."""
    from kehoach import store
    from kehoach.store import feeds

    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            token_id, token = feeds.rotate(session, feed_id, _now(now_text))
            view = next(v for v in feeds.list_feeds(session) if v.id == token_id)
            name = feeds.describe_scope(session, view.scope, view.scope_id).name
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    out.print(f"Đã thu hồi lịch số {feed_id}.")
    _print_urls(token_id, token, name)
