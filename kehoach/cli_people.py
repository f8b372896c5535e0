"""People: `kehoach person add`, `kehoach person list`, `kehoach person password`,
`kehoach person logout`, `kehoach person contacts`."""

from __future__ import annotations

import click

from kehoach.cli import main, out
from kehoach.cli_store import NOW_OPTION, _now, _ready_engine, _store_fail

ROLES = ("secretary", "cluster_head", "unit_secretary", "member")


@main.group()
def person() -> None:
    """Người nhận tin và người dùng trang quản lý."""


@person.command("add")
@click.argument("name")
@click.option("--unit", required=True, help="Mã đơn vị của người này (như trong kế hoạch).")
@click.option("--role", help='Chức vụ, như người ta gọi: "Bí thư", "Phó Bí thư"…')
@click.option(
    "--board-role",
    type=click.Choice(ROLES),
    default="member",
    show_default=True,
    help="Quyền: secretary (thư ký cơ quan ban hành: mọi kế hoạch của đơn vị mình), "
    "cluster_head (cụm trưởng: các đơn vị trong cụm), unit_secretary (đơn vị "
    "mình), member (nhận tin của đơn vị mình).",
)
@click.option("--email", help="Địa chỉ thư điện tử.")
@click.option("--login", help="Tên đăng nhập trang quản lý (chữ thường, không dấu).")
@NOW_OPTION
def person_add(
    name: str,
    unit: str,
    role: str | None,
    board_role: str,
    email: str | None,
    login: str | None,
    now_text: str | None,
) -> None:
    """Thêm một người vào đơn vị UNIT."""
    from kehoach import store
    from kehoach.store.people import add_person

    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            pid = add_person(
                session,
                name,
                unit,
                _now(now_text),
                role=role,
                board_role=board_role,
                email=email,
                login=login,
            )
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    out.print(f"[green]✓[/green] đã thêm {name} (số {pid}) vào đơn vị {unit}")


@person.command("list")
@click.option("--unit", help="Chỉ người của đơn vị này.")
def person_list(unit: str | None) -> None:
    """Liệt kê mọi người: đơn vị, vai trò, liên kết Telegram, thư, tên đăng nhập."""
    from rich.table import Table

    from kehoach import store
    from kehoach.channels import contact_channels
    from kehoach.store.people import ROLE_NAMES, list_people

    engine = _ready_engine()
    try:
        with store.read_session(engine) as session:
            people = list_people(session, unit)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if not people:
        out.print("Chưa có ai. Thêm bằng `kehoach person add TÊN --unit ĐƠN-VỊ`.")
        return
    channels = contact_channels()
    table = Table("Số", "Tên", "Đơn vị", "Vai trò", *(c.label for c in channels), "Đăng nhập")
    for p in people:
        table.add_row(
            str(p.id),
            p.name + (f" ({p.role})" if p.role else ""),
            p.unit_name or p.unit_id or "—",
            # BoardRole is a StrEnum: its plain str value finds it
            ROLE_NAMES.get(p.board_role, p.board_role),  # type: ignore[call-overload]
            *(p.contact_text(c.name) or "—" for c in channels),
            p.login or "—",
        )
    out.print(table)


@person.command("password")
@click.argument("login")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Đọc mật khẩu từ dòng đầu của đầu vào chuẩn (cho kịch bản).",
)
@click.option("--generate", is_flag=True, help="Sinh một mật khẩu ngẫu nhiên và in ra một lần.")
def person_password(login: str, from_stdin: bool, generate: bool) -> None:
    """Đặt mật khẩu đăng nhập trang quản lý cho người có tên đăng nhập LOGIN.

    Mật khẩu được hỏi hai lần (không hiện trên màn hình); chỉ bản băm Argon2 được lưu. Đặt
    mật khẩu mới thì các phiên đăng nhập cũ của người đó hết hiệu lực."""
    import sys

    from kehoach import store
    from kehoach.cli import err
    from kehoach.web.passwords import check_strength, set_password
    from kehoach.web.passwords import generate as make_password

    if from_stdin and generate:
        raise click.UsageError("chọn một trong --stdin và --generate")
    if generate:
        password = make_password()
    elif from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mật khẩu", hide_input=True, err=True)
        if click.prompt("Nhập lại mật khẩu", hide_input=True, err=True) != password:
            raise click.UsageError("hai lần nhập mật khẩu không giống nhau; chưa đổi gì")
    engine = _ready_engine()
    try:
        check_strength(password)
        with store.write_session(engine) as session:
            who = set_password(session, login, password)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if generate:
        out.print(f"Mật khẩu của {who.login}: {password}")
    err.print(f"✓ đã đặt mật khẩu cho {who.name} ({who.login})")


@person.command("logout")
@click.argument("login")
def person_logout(login: str) -> None:
    """Đăng xuất người có tên đăng nhập LOGIN khỏi mọi phiên trên trang quản lý (mọi máy).

    Dùng khi mất máy hay lộ cookie; mật khẩu giữ nguyên."""
    from kehoach import store
    from kehoach.cli import err
    from kehoach.store.people import find_person
    from kehoach.web.sessions import end_all

    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            who = find_person(session, login)
            ended = end_all(session, who.id)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    err.print(f"✓ đã kết thúc {ended} phiên đăng nhập của {who.name} ({who.login or login})")


@person.command("contacts")
@click.argument("who", metavar="NGƯỜI")
@click.option(
    "--prefer",
    metavar="KÊNH",
    help="Kênh nhận tin được thử trước (telegram, email, …); các kênh khác theo sau.",
)
def person_contacts(who: str, prefer: str | None) -> None:
    """Các kênh liên lạc của NGƯỜI (số, tên đăng nhập hoặc tên), theo thứ tự được thử;
    --prefer KÊNH đặt kênh ưu tiên (tin nhắc, tin báo lên và tin tổng hợp theo nó)."""
    from kehoach import store
    from kehoach.store.people import find_person, person_view
    from kehoach.store.people import prefer as set_preferred

    engine = _ready_engine()
    try:
        with store.write_session(engine) as session:
            found = find_person(session, who)
            if prefer is not None:
                set_preferred(session, found.id, prefer.strip().lower())
            view = person_view(session, found.id)
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    if prefer is not None:
        out.print(f"[green]✓[/green] {view.name} nhận tin qua {view.contacts[0].label} trước")
    if not view.contacts:
        out.print(
            f"{view.name} chưa có kênh liên lạc nào: thêm thư bằng `kehoach person add "
            "--email`, liên kết chat bằng `kehoach invite`.",
            markup=False,
        )
        return
    for i, c in enumerate(view.contacts, 1):
        out.print(f"{i}. {c.label}: {c.text}", markup=False)
