"""Contact links in the store, for every chat channel: one-time invite codes, the chat ↔ person
link, a moved chat, a lost contact and the notification queued again on the next one.

A code is `secrets.token_urlsafe(24)` (192 bits, the characters Telegram's `/start` accepts);
only its SHA-256 is kept (`invites.code_hash`), and it is good for any chat channel: the
channel the person sends it on is the one linked. Redeeming is one conditional UPDATE
(`used_at IS NULL AND expires_at > now`) that must change exactly one row, so a code works
once even when two chats send it at the same moment. Everything runs in the caller's
transaction (a Session, or the dispatcher's Connection).

    code = create_invite(session, person_id, "thư ký", now)               # shown once
    person = redeem(session, code, "telegram", str(chat_id), now)          # or LinkRefused
    person = person_for(session, "telegram", str(chat_id))                 # None: not linked
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from kehoach.channels import rank
from kehoach.store.errors import StoreError
from kehoach.store.models import (
    contacts_table,
    invites_table,
    outbox_table,
    people_table,
    queued,
)
from kehoach.store.people import DEFAULT_PREFERENCE

INVITE_TTL = timedelta(days=7)
p, inv, c = people_table, invites_table, contacts_table
Executor = Session | Connection


def _conn(session: Executor) -> Connection:
    """The connection under `session` (its statements tell how many rows they changed)."""
    return session.connection() if isinstance(session, Session) else session


class LinkRefused(StoreError):
    """A code that is wrong, used or expired; the message is what the chat is told."""


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def create_invite(
    session: Executor, person_id: int, created_by: str, now: datetime, ttl: timedelta = INVITE_TTL
) -> str:
    """A one-time code linking the chat it is sent from (any chat channel) to `person_id`."""
    code = secrets.token_urlsafe(24)
    session.execute(
        insert(inv).values(
            code_hash=code_hash(code),
            person_id=person_id,
            created_at=now,
            expires_at=now + ttl,
            created_by=created_by,
        )
    )
    return code


def redeem(session: Executor, code: str, channel: str, address: str, now: datetime) -> Any:
    """Link `address` on `channel` to the person the code was made for; their people row. An
    address linked to someone else before is moved (one chat, one person); the person's
    earlier contact on the channel is replaced. LinkRefused when the code is wrong, used or
    expired: nothing is changed then."""
    refusal = LinkRefused(
        "Mã liên kết không đúng, đã được dùng hoặc đã hết hạn. Xin nhờ thư ký "
        "tạo mã mới (kehoach invite)."
    )
    if not code or len(code) > 64:
        raise refusal
    row = session.execute(
        select(inv.c.id, inv.c.person_id).where(
            inv.c.code_hash == code_hash(code), inv.c.used_at.is_(None), inv.c.expires_at > now
        )
    ).one_or_none()
    if row is None:
        raise refusal
    person = session.execute(
        select(p).where(p.c.id == row.person_id, p.c.active.is_(True))
    ).one_or_none()
    if person is None:
        raise refusal
    taken = (
        _conn(session)
        .execute(update(inv).where(inv.c.id == row.id, inv.c.used_at.is_(None)).values(used_at=now))
        .rowcount
    )
    if taken != 1:  # another chat used it a moment ago
        raise refusal
    set_contact(session, person.id, channel, address, now, exclusive=True)
    return person


def set_contact(
    session: Executor,
    person_id: int,
    channel: str,
    address: str,
    now: datetime,
    *,
    exclusive: bool = False,
) -> None:
    """Make `address` the person's contact on `channel` (linked now, not lost; the preference
    kept). `exclusive` (chat channels): the address leaves anyone else who had it."""
    if exclusive:
        session.execute(
            delete(c).where(
                c.c.channel == channel, c.c.address == address, c.c.person_id != person_id
            )
        )
    changed = (
        _conn(session)
        .execute(
            update(c)
            .where(c.c.person_id == person_id, c.c.channel == channel)
            .values(address=address, linked_at=now, lost_at=None, lost_reason=None)
        )
        .rowcount
    )
    if not changed:
        session.execute(
            insert(c).values(
                person_id=person_id,
                channel=channel,
                address=address,
                linked_at=now,
                preference=DEFAULT_PREFERENCE,
            )
        )


def remove_contact(session: Executor, person_id: int, channel: str) -> bool:
    """Forget the person's contact on `channel`; whether there was one."""
    return bool(
        _conn(session)
        .execute(delete(c).where(c.c.person_id == person_id, c.c.channel == channel))
        .rowcount
    )


def person_for(session: Executor, channel: str, address: str) -> Any | None:
    """The active person whose contact on `channel` is `address` (a lost one counts as none)."""
    return session.execute(
        select(p)
        .join(c, c.c.person_id == p.c.id)
        .where(
            c.c.channel == channel,
            c.c.address == address,
            c.c.lost_at.is_(None),
            p.c.active.is_(True),
        )
        .order_by(p.c.id)
        .limit(1)
    ).one_or_none()


def unlink(session: Executor, channel: str, address: str) -> Any | None:
    """Forget the links of `address` on `channel`; the person it was, or None."""
    person = person_for(session, channel, address)
    session.execute(delete(c).where(c.c.channel == channel, c.c.address == address))
    return person


def move(session: Executor, channel: str, old: str, new: str) -> int:
    """A chat moved (a Telegram group became a supergroup): its links move to the new
    address, unless that one is linked already. Returns the links moved."""
    taken = select(c.c.id).where(c.c.channel == channel, c.c.address == new).exists()
    return int(
        _conn(session)
        .execute(
            update(c).where(c.c.channel == channel, c.c.address == old, ~taken).values(address=new)
        )
        .rowcount
    )


def contacts_of(session: Executor, person_id: int) -> list[Any]:
    """The person's contacts (lost ones too), in the order they are tried."""
    rows = session.execute(select(c).where(c.c.person_id == person_id)).all()
    return sorted(rows, key=lambda r: (r.preference, rank(r.channel)))


def mark_lost(
    session: Executor,
    person_id: int,
    channel: str,
    address: str | None,
    now: datetime,
    reason: str,
    *,
    outbox_id: int | None = None,
    fallback_channels: Collection[str] = (),
) -> str | None:
    """The channel refused the address for good (bot blocked, chat gone): the contact is
    lost from now (the unit's next digest tells its secretary) until linked again. The
    notification `outbox_id`, when given, is queued again on the person's next contact that
    is not lost and whose channel is among `fallback_channels` (the running ones). Returns
    the channel it was queued on, or None."""
    lost = update(c).where(
        c.c.person_id == person_id, c.c.channel == channel, c.c.lost_at.is_(None)
    )
    if address is not None:
        lost = lost.where(c.c.address == address)
    session.execute(lost.values(lost_at=now, lost_reason=reason))
    if outbox_id is None:
        return None
    following = [
        r.channel
        for r in contacts_of(session, person_id)
        if r.lost_at is None and r.channel != channel and r.channel in fallback_channels
    ]
    if not following:
        return None
    row = session.execute(select(outbox_table).where(outbox_table.c.id == outbox_id)).one_or_none()
    if row is None:
        return None
    target: str = following[0]
    key = f"{row.idempotency_key}|{target}"
    if (
        session.execute(
            select(outbox_table.c.id).where(outbox_table.c.idempotency_key == key)
        ).first()
        is not None
    ):
        return None
    session.execute(
        insert(outbox_table).values(
            idempotency_key=key,
            step_id=row.step_id,
            person_id=person_id,
            unit_id=row.unit_id,
            channel=target,
            purpose=row.purpose,
            level=row.level,
            payload={**row.payload, "fallback_from": channel, "fallback_reason": reason},
            **queued(now),
        )
    )
    return target
