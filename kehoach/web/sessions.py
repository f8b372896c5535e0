"""Board sessions kept in the database (table board_sessions), so they can be ended.

The signed cookie holds a random session id; the database holds its SHA-256, the person and
when it ends. Every request looks the row up (with the person, one query); logout deletes
it, a new password and `kehoach person logout LOGIN` delete all of a person's rows. No web
framework here, so the CLI imports it quickly.

    sid = start(session, person_id, now)       # put sid in the cookie
    person_of(session, sid, now)               # the person's row, or None when ended
    end(session, sid); end_all(session, person_id)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from kehoach.store.models import board_sessions_table as bs
from kehoach.store.models import people_table

LIFETIME = timedelta(hours=12)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: Session, person_id: int, now: datetime) -> str:
    """A new session for the person (their ended ones are swept); its id for the cookie."""
    session.execute(delete(bs).where(bs.c.person_id == person_id, bs.c.expires_at <= now))
    sid = secrets.token_urlsafe(32)
    session.execute(
        insert(bs).values(
            id_hash=_hash(sid), person_id=person_id, created_at=now, expires_at=now + LIFETIME
        )
    )
    return sid


def person_of(session: Session, sid: str, now: datetime) -> Any | None:
    """The person's row of a live session; None when it was ended or has expired."""
    return session.execute(
        select(people_table)
        .join(bs, bs.c.person_id == people_table.c.id)
        .where(bs.c.id_hash == _hash(sid), bs.c.expires_at > now)
    ).one_or_none()


def end(session: Session, sid: str) -> None:
    session.execute(delete(bs).where(bs.c.id_hash == _hash(sid)))


def end_all(session: Session, person_id: int) -> int:
    """End every session of the person; how many there were."""
    return (
        session.connection()
        .execute(  # a CursorResult: it has rowcount
            delete(bs).where(bs.c.person_id == person_id)
        )
        .rowcount
    )
