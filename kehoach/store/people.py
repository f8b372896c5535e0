"""People: who hears about a unit's steps, and who may log in to the board.

`add_person` checks what a secretary types (a unit that exists, a known board role, an
e-mail address that looks like one, a login nobody has) and refuses with a message naming
the field; `list_people` is what `kehoach person list` and the board show.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.orm import Session

from kehoach.channels import contact_channels, label, rank, spec

from .errors import StoreError
from .models import BoardRole, contacts_table, people_table, units_table

ROLE_NAMES = {
    BoardRole.SECRETARY: "thư ký cơ quan ban hành",
    BoardRole.CLUSTER_HEAD: "cụm trưởng",
    BoardRole.UNIT_SECRETARY: "bí thư / thư ký đơn vị",
    BoardRole.MEMBER: "thành viên",
}
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
#: The channel `add_person(email=…)` adds a contact on (kehoach/channels.py).
EMAIL_CHANNEL = "email"
LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class PersonError(StoreError, ValueError):
    """What a secretary typed about a person cannot be stored."""


class PersonNotFound(StoreError, KeyError):
    def __init__(self, who: str):
        super().__init__(f"không có người «{who}» (dùng `kehoach person list` để xem)")

    def __str__(self) -> str:
        return str(self.args[0])


#: A contact's preference when nobody chose one; the chosen channel gets PREFERRED.
DEFAULT_PREFERENCE, PREFERRED = 100, 0
NOT_LINKED = "chưa liên kết"


@dataclass(frozen=True)
class ContactView:
    """One of a person's contacts, as the board and the CLI show it."""

    channel: str
    label: str  # the channel as people read it (kehoach/channels.py)
    address: str
    lost: bool
    preference: int

    @property
    def state(self) -> str:
        return "mất liên kết" if self.lost else "đã liên kết"

    @property
    def text(self) -> str:
        """A chat channel's state (its address is a number nobody reads), another channel's
        address; "(ưu tiên)" when the person chose it."""
        found = spec(self.channel)
        shown = (
            self.state
            if found is None or found.chat
            else self.address + (" (mất liên kết)" if self.lost else "")
        )
        return shown + (" (ưu tiên)" if self.preference < DEFAULT_PREFERENCE else "")


@dataclass(frozen=True)
class PersonView:
    id: int
    name: str
    unit_id: str | None
    unit_name: str | None
    role: str | None
    board_role: str
    login: str | None
    contacts: tuple[ContactView, ...] = ()  # in the order they are tried

    def contact(self, channel: str) -> ContactView | None:
        return next((c for c in self.contacts if c.channel == channel), None)

    def contact_text(self, channel: str) -> str:
        """The cell of `channel` in the people table: ContactView.text, or "chưa liên kết"
        (a chat channel) / "" (another) when the person has no contact there."""
        found = self.contact(channel)
        if found is not None:
            return found.text
        known = spec(channel)
        return NOT_LINKED if known is not None and known.chat else ""

    def state(self, channel: str) -> str:
        """ "đã liên kết" / "mất liên kết" / "chưa liên kết" on `channel`."""
        found = self.contact(channel)
        return found.state if found is not None else NOT_LINKED


def person_views(session: Session, rows: Iterable[Any]) -> list[PersonView]:
    """People rows (with `unit_name`) as PersonViews, their contacts read in one query."""
    rows = list(rows)
    c = contacts_table
    found: dict[int, list[ContactView]] = defaultdict(list)
    if rows:
        for r in session.execute(select(c).where(c.c.person_id.in_([r.id for r in rows]))):
            found[r.person_id].append(
                ContactView(
                    r.channel, label(r.channel), r.address, r.lost_at is not None, r.preference
                )
            )
    return [
        PersonView(
            r.id,
            r.name,
            r.unit_id,
            r.unit_name,
            r.role,
            r.board_role,
            r.login,
            tuple(sorted(found[r.id], key=lambda v: (v.preference, rank(v.channel)))),
        )
        for r in rows
    ]


def add_person(
    session: Session,
    name: str,
    unit: str,
    now: datetime,
    *,
    role: str | None = None,
    board_role: str = BoardRole.MEMBER,
    email: str | None = None,
    login: str | None = None,
) -> int:
    """Store a person; their id. Raises PersonError naming the field that is wrong."""
    name = " ".join(name.split())
    if not name:
        raise PersonError("tên người không được để trống")
    if board_role not in set(BoardRole):
        raise PersonError(
            f"vai trò «{board_role}» không có; chọn một trong: "
            + ", ".join(f"{r.value} ({ROLE_NAMES[r]})" for r in BoardRole)
        )
    if session.execute(select(units_table.c.id).where(units_table.c.id == unit)).first() is None:
        raise PersonError(
            f"không có đơn vị «{unit}» (đơn vị có sau khi `kehoach load` kế hoạch nêu nó)"
        )
    if email is not None and not EMAIL.match(email.strip()):
        raise PersonError(f"địa chỉ thư «{email}» không hợp lệ, ví dụ ten@example.vn")
    if login is not None:
        if not LOGIN.match(login):
            raise PersonError(
                f"tên đăng nhập «{login}» không hợp lệ: 2–64 ký tự a-z, 0-9, "
                "dấu chấm, gạch ngang, gạch dưới"
            )
        if (
            session.execute(select(people_table.c.id).where(people_table.c.login == login)).first()
            is not None
        ):
            raise PersonError(f"tên đăng nhập «{login}» đã có người dùng")
    person_id = int(
        session.execute(
            insert(people_table)
            .values(
                name=name,
                unit_id=unit,
                role=role,
                board_role=str(board_role),
                login=login,
                active=True,
                created_at=now,
            )
            .returning(people_table.c.id)
        ).scalar_one()
    )
    if email:
        session.execute(
            insert(contacts_table).values(
                person_id=person_id, channel=EMAIL_CHANNEL, address=email.strip(), linked_at=now
            )
        )
    return person_id


def prefer(session: Session, person_id: int, channel: str) -> None:
    """Make `channel` the first one the person is reached through (their other contacts
    keep the registry's order). PersonError when the channel is not one a person can have a
    contact on, or the person has none there."""
    known = {s.name: s for s in contact_channels()}
    if channel not in known:
        raise PersonError(
            f"không có kênh «{channel}»; chọn một trong: "
            + ", ".join(f"{s.name} ({s.label})" for s in known.values())
        )
    c = contacts_table
    has = session.execute(
        select(c.c.id).where(c.c.person_id == person_id, c.c.channel == channel)
    ).first()
    if has is None:
        how = (
            "gửi mã mời cho người đó (kehoach invite)"
            if known[channel].chat
            else f"thêm {known[channel].address_kind} cho người đó"
        )
        raise PersonError(f"người này chưa có liên lạc qua {known[channel].label}; hãy {how} trước")
    session.execute(
        update(c)
        .where(c.c.person_id == person_id)
        .values(preference=case((c.c.channel == channel, PREFERRED), else_=DEFAULT_PREFERENCE))
    )


def find_person(session: Session, who: str) -> Any:
    """A people row by id, login or exact name (a name two people share is refused)."""
    p = people_table
    cond = p.c.login == who
    if who.isdigit():
        cond = (p.c.id == int(who)) | cond
    rows = (
        session.execute(select(p).where(cond)).all()
        or session.execute(select(p).where(p.c.name == " ".join(who.split()))).all()
    )
    if not rows:
        raise PersonNotFound(who)
    if len(rows) > 1:
        raise PersonError(
            f"có {len(rows)} người tên «{who}»; hãy dùng số thứ tự: "
            + ", ".join(str(r.id) for r in rows)
        )
    return rows[0]


def _with_unit_name() -> Any:
    p, u = people_table, units_table
    return select(p, u.c.name.label("unit_name")).outerjoin(u, u.c.id == p.c.unit_id)


def list_people(session: Session, unit: str | None = None) -> list[PersonView]:
    p = people_table
    query = _with_unit_name().where(p.c.active.is_(True)).order_by(p.c.unit_id, p.c.name, p.c.id)
    if unit is not None:
        query = query.where(p.c.unit_id == unit)
    return person_views(session, session.execute(query))


def person_view(session: Session, person_id: int) -> PersonView:
    """One person as `list_people` shows them (inactive ones too)."""
    row = session.execute(_with_unit_name().where(people_table.c.id == person_id)).one_or_none()
    if row is None:
        raise PersonNotFound(str(person_id))
    return person_views(session, [row])[0]
