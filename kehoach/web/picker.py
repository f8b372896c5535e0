"""A unit typed into a form, found among the units a person may see.

Above `queries.MAX_UNIT_CHOICES` units a form has a text field instead of a drop-down, and
whatever was typed is looked for here, only ever among the units in scope (a unit outside
it is never named): an exact id; else a name, exactly as written, then without regard to
case and marks («phuong 1» finds «Phường 1»); else the one name that contains the text.
More than one → `Unresolved` with the first SHOWN_MATCHES of them to choose from.

    found = resolve(session, scope, "binh hung hoa")
    found if isinstance(found, str) else found.message
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.vi import plain_words
from kehoach.store.models import units_table

from .errors import cut
from .queries import EVERYTHING, narrowed, units_in_cluster

u = units_table
#: The units listed when what was typed matches several.
SHOWN_MATCHES = 20


@dataclass(frozen=True)
class Unresolved:
    """What was typed matches no unit in scope, or `total` of them (`matches`: the first)."""

    text: str
    total: int
    matches: list[tuple[str, str]]  # (id, name)
    cluster: str | None = None  # the cluster the units were looked for in

    @property
    def message(self) -> str:
        typed = cut(self.text)
        if not self.total:
            among = " thuộc cụm đã chọn" if self.cluster else ""
            return f"Không có đơn vị nào khớp «{typed}» trong các đơn vị bạn được xem{among}."
        more = (
            f" (dưới đây {len(self.matches)} đơn vị đầu; gõ thêm để thu hẹp)"
            if self.total > len(self.matches)
            else ""
        )
        return f"Có {self.total} đơn vị khớp «{typed}»; chọn một{more}:"


def words(text: str) -> str:
    """What a name is compared by: «Đoàn  Phường-1» → «doan phuong 1»."""
    return " ".join(plain_words(text))


def _within(session: Session, scope: Collection[str], cluster: str | None) -> list[Any]:
    where: list[Any] = []
    if narrowed(session, scope) is not EVERYTHING:
        where.append(u.c.id.in_(sorted(scope)))
    if cluster:
        where.append(u.c.id.in_(units_in_cluster(cluster)))
    return where


def _several(text: str, rows: list[tuple[str, str]], cluster: str | None) -> str | Unresolved:
    """The one unit found, or the first of several in the order a reader expects («Đoàn A»
    before «Tỉnh Đoàn», whatever the database's collation)."""
    if len(rows) == 1:
        return rows[0][0]
    ordered = sorted(rows, key=lambda r: (words(r[1]), r[1], r[0]))
    return Unresolved(text, len(rows), ordered[:SHOWN_MATCHES], cluster)


def resolve(
    session: Session, scope: Collection[str], text: str, cluster: str | None = None
) -> str | Unresolved:
    """The id of the unit in scope (and in `cluster`'s units, when given, for a name) that
    `text` names; Unresolved when none or several do."""
    text = text.strip()
    if text in scope:
        return text
    within = _within(session, scope, cluster)
    units = select(u.c.id, u.c.name).where(*within)
    exact = [(r[0], r[1]) for r in session.execute(units.where(u.c.name == text))]
    if exact:
        return _several(text, exact, cluster)
    key = words(text)
    if not key or session.execute(select(u.c.id).where(u.c.id == text)).first():
        # nothing to compare; or the id of a unit out of scope (or gone from it), which is
        # not read again as a name (ids are made from names: it could match another unit)
        return Unresolved(text, 0, [], cluster)
    named = [(r[0], r[1], words(r[1])) for r in session.execute(units)]
    for matches in (lambda w: w == key, lambda w: key in w):
        found = [(uid, name) for uid, name, w in named if matches(w)]
        if found:
            return _several(text, found, cluster)
    return Unresolved(text, 0, [], cluster)


def shown(session: Session, unit_id: str) -> str:
    """What a text field shows for a chosen unit: its name when no other unit has it (so
    sending the form again finds the same unit), else its id."""
    name = session.execute(select(u.c.name).where(u.c.id == unit_id)).scalar_one_or_none()
    if name is None:
        return unit_id
    same = session.execute(select(func.count()).select_from(u).where(u.c.name == name)).scalar_one()
    return str(name) if same == 1 else unit_id
