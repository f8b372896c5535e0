"""`make demo`'s logins: a secretary for each issuing body of the loaded plans, so the board
can be tried at once. Run as `python -m kehoach.web.demo` after `kehoach load`.

A login made here gets a generated password, printed once; a login that already has a
password keeps it (`kehoach person password LOGIN` sets a new one).
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kehoach import store
from kehoach.settings import Settings
from kehoach.store.models import BoardRole, people_table, plans_table, units_table
from kehoach.store.people import add_person

from .passwords import generate, hash_password


def demo_logins(session: Session, now: datetime) -> list[tuple[str, str, str | None]]:
    """(login, unit name, new password or None when it had one) per issuing body."""
    p = people_table
    issuers = session.execute(
        select(units_table.c.id, units_table.c.name)
        .where(units_table.c.id.in_(select(plans_table.c.issuer_id)))
        .order_by(units_table.c.id)
    ).all()
    out: list[tuple[str, str, str | None]] = []
    for number, (unit, name) in enumerate(issuers, 1):
        login = "thuky" if number == 1 else f"thuky{number}"
        person = session.execute(select(p).where(p.c.login == login)).one_or_none()
        if person is None:
            add_person(
                session, f"Thư ký {name}", unit, now, board_role=BoardRole.SECRETARY, login=login
            )
            person = session.execute(select(p).where(p.c.login == login)).one()
        if person.password_hash:
            out.append((login, name, None))
            continue
        password = generate()
        session.execute(
            p.update().where(p.c.id == person.id).values(password_hash=hash_password(password))
        )
        out.append((login, name, password))
    return out


def kehoach_command(path: str | None = None, cwd: Path | None = None) -> str:
    """How to type `kehoach` in a new shell: `kehoach` when that finds this installation, else
    the script beside this Python (`.venv/bin/kehoach` after `make demo`), which
    `make demo` does not put on PATH.

    >>> kehoach_command(path="", cwd=Path(sys.executable).parent.parent.parent)
    '.venv/bin/kehoach'
    """
    script = Path(sys.executable).parent / "kehoach"
    found = shutil.which("kehoach", path=os.environ.get("PATH") if path is None else path)
    if found and Path(found).resolve() == script.resolve():
        return "kehoach"
    try:
        return str(script.relative_to(cwd or Path.cwd()))
    except ValueError:
        return str(script)


def main() -> None:
    try:
        engine = store.make_engine(store.database_url(Settings.load().database_url))
        store.check_schema_current(engine)
        with store.write_session(engine) as session:
            logins = demo_logins(session, datetime.now(UTC))
    except store.StoreError as exc:
        sys.exit(f"lỗi {exc}")
    if not logins:
        print("Chưa có kế hoạch nào trong cơ sở dữ liệu: chạy `kehoach load plans` trước.")
        return
    command = kehoach_command()
    print("Đăng nhập trang quản lý (thư ký của cơ quan ban hành mỗi kế hoạch):")
    for login, unit, password in logins:
        said = (
            f"mật khẩu {password}"
            if password
            else f"mật khẩu đã đặt trước đây (đặt lại: {command} person password {login})"
        )
        print(f"  {login:<8} {said}   — {unit}")
    if command != "kehoach":
        print(
            f"Lệnh kehoach nằm trong .venv, chưa có trên PATH: ở một cửa sổ khác, trong thư mục "
            f"này, gõ `{command} --help` (hoặc chạy `. {Path(command).parent}/activate` "
            "trước, rồi gõ `kehoach`)."
        )


if __name__ == "__main__":
    main()
