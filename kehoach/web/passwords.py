"""Board passwords: Argon2id hashes (argon2-cffi, the algorithm OWASP recommends first), and
setting one for a person (`kehoach person password LOGIN`).

No web framework here, so the CLI imports it quickly.

    set_password(session, "thuky", "một mật khẩu dài")
    verify(row.password_hash, "một mật khẩu dài")   # True
"""

from __future__ import annotations

import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.orm import Session

from kehoach.store.models import people_table
from kehoach.store.people import PersonError, find_person
from kehoach.web.sessions import end_all

HASHER = PasswordHasher()
MIN_LENGTH = 8
#: Verified when the login is unknown, so a wrong login costs as long as a wrong password.
_DUMMY = HASHER.hash("không có người này")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; False (after the same work) when there is no hash."""
    try:
        HASHER.verify(password_hash or _DUMMY, password)  # raises when it does not match
        return password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate() -> str:
    """A random password of 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PersonError(f"mật khẩu phải có ít nhất {MIN_LENGTH} ký tự (đã nhập {len(password)})")
    if password != password.strip():
        raise PersonError("mật khẩu không được bắt đầu hay kết thúc bằng khoảng trắng")


def set_password(session: Session, who: str, password: str) -> Any:
    """Store the hash of `password` for the person `who` (login, id or name), ending their
    board sessions; their row.

    Raises PersonNotFound, or PersonError when they have no login or the password is short."""
    person = find_person(session, who)
    if not person.login:
        raise PersonError(
            f"«{person.name}» chưa có tên đăng nhập; thêm bằng `kehoach person add "
            "… --login TÊN` (người có vai trò secretary, cluster_head hoặc "
            "unit_secretary)"
        )
    check_strength(password)
    session.execute(
        update(people_table)
        .where(people_table.c.id == person.id)
        .values(password_hash=hash_password(password))
    )
    end_all(session, person.id)
    return person
