"""`make demo`'s logins: a secretary for each issuing body of the loaded plans, so the board
can be tried at once. Run as `python -m kehoach.web.demo` after `kehoach load`.

A login made here gets a generated password, printed once; a login that already has a
password keeps it (`kehoach person password LOGIN` sets a new one).
"""
from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kehoach import store
from kehoach.settings import load
from kehoach.store.models import BoardRole, people_table, plans_table, units_table
from kehoach.store.people import add_person

from .passwords import generate, hash_password


def demo_logins(session: Session, now: datetime) -> list[tuple[str, str, str | None]]:
    """(login, unit name, new password or None when it had one) per issuing body."""
    p = people_table
    issuers = session.execute(
        select(units_table.c.id, units_table.c.name)
        .where(units_table.c.id.in_(select(plans_table.c.issuer_id))).order_by(units_table.c.id)
    ).all()
    out: list[tuple[str, str, str | None]] = []
    for number, (unit, name) in enumerate(issuers, 1):
        login = "thuky" if number == 1 else f"thuky{number}"
        person = session.execute(select(p).where(p.c.login == login)).one_or_none()
        if person is None:
            add_person(session, f"Thư ký {name}", unit, now, board_role=BoardRole.SECRETARY,
                       login=login)
            person = session.execute(select(p).where(p.c.login == login)).one()
        if person.password_hash:
            out.append((login, name, None))
            continue
        password = generate()
        session.execute(p.update().where(p.c.id == person.id)
                        .values(password_hash=hash_password(password)))
        out.append((login, name, password))
    return out


def main() -> None:
    settings = load(os.environ)
    engine = store.make_engine(store.database_url(settings))
    try:
        store.check_schema_current(engine)
        with store.write_session(engine) as session:
            logins = demo_logins(session, datetime.now(UTC))
    except store.StoreError as exc:
        sys.exit(f"lỗi {exc}")
    if not logins:
        print("Chưa có kế hoạch nào trong cơ sở dữ liệu: chạy `kehoach load plans` trước.")
        return
    print("Đăng nhập trang quản lý (thư ký của cơ quan ban hành mỗi kế hoạch):")
    for login, unit, password in logins:
        said = f"mật khẩu {password}" if password else \
            f"mật khẩu đã đặt trước đây (đặt lại: kehoach person password {login})"
        print(f"  {login:<8} {said}   — {unit}")


if __name__ == "__main__":
    main()
