"""Telegram links in the store: one-time invite codes, the chat ↔ person link, a lost link.

A code is `secrets.token_urlsafe(24)` (192 bits, the characters `/start` accepts); only its
SHA-256 is kept (`invites.code_hash`). Redeeming is one conditional UPDATE (`used_at IS NULL
AND expires_at > now`) that must change exactly one row, so a code works once even when two
chats send it at the same moment. Everything runs in the caller's transaction.

    code = create_invite(session, person_id, "thư ký", now)        # shown once
    person = redeem(session, code, chat_id, now)                    # or LinkRefused
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kehoach.store.errors import StoreError
from kehoach.store.models import invites_table, outbox_table, people_table

INVITE_TTL = timedelta(days=7)
p, inv = people_table, invites_table


class LinkRefused(StoreError):
    """A code that is wrong, used or expired; the message is what the chat is told."""


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def create_invite(session: Session, person_id: int, created_by: str, now: datetime,
                  ttl: timedelta = INVITE_TTL) -> str:
    code = secrets.token_urlsafe(24)
    session.execute(insert(inv).values(code_hash=code_hash(code), person_id=person_id,
                                       created_at=now, expires_at=now + ttl,
                                       created_by=created_by))
    return code


def redeem(session: Session, code: str, chat_id: int, now: datetime) -> Any:
    """Link `chat_id` to the person the code was made for; their people row. A chat linked to
    someone else before is moved (one chat, one person). LinkRefused when the code is wrong,
    used or expired: nothing is changed then."""
    refusal = LinkRefused("Mã liên kết không đúng, đã được dùng hoặc đã hết hạn. Xin nhờ thư ký "
                          "tạo mã mới (kehoach invite).")
    if not code or len(code) > 64:
        raise refusal
    row = session.execute(select(inv.c.id, inv.c.person_id).where(
        inv.c.code_hash == code_hash(code), inv.c.used_at.is_(None),
        inv.c.expires_at > now)).one_or_none()
    if row is None:
        raise refusal
    person = session.execute(select(p).where(p.c.id == row.person_id,
                                             p.c.active.is_(True))).one_or_none()
    if person is None:
        raise refusal
    taken = session.connection().execute(
        update(inv).where(inv.c.id == row.id, inv.c.used_at.is_(None))
        .values(used_at=now)).rowcount
    if taken != 1:  # another chat used it a moment ago
        raise refusal
    session.execute(update(p).where(p.c.telegram_chat_id == chat_id, p.c.id != person.id)
                    .values(telegram_chat_id=None, telegram_lost_at=None))
    session.execute(update(p).where(p.c.id == person.id).values(
        telegram_chat_id=chat_id, telegram_linked_at=now, telegram_lost_at=None))
    return session.execute(select(p).where(p.c.id == person.id)).one()


def person_for_chat(session: Session, chat_id: int) -> Any | None:
    """The active person linked to `chat_id` (a lost link counts as none)."""
    return session.execute(select(p).where(
        p.c.telegram_chat_id == chat_id, p.c.telegram_lost_at.is_(None),
        p.c.active.is_(True))).one_or_none()


def unlink(session: Session, chat_id: int) -> Any | None:
    """Forget the chat's link; the person it was, or None."""
    person = person_for_chat(session, chat_id)
    session.execute(update(p).where(p.c.telegram_chat_id == chat_id)
                    .values(telegram_chat_id=None, telegram_lost_at=None))
    return person


def move_chat(session: Session, old_chat: int, new_chat: int) -> int:
    """A group became a supergroup (Telegram's ChatMigrated): its link moves to the new chat
    id (unless that chat is linked already). Returns the links moved (0 or 1)."""
    taken = select(p.c.id).where(p.c.telegram_chat_id == new_chat).exists()
    return int(session.execute(update(p).where(p.c.telegram_chat_id == old_chat, ~taken)
                               .values(telegram_chat_id=new_chat)).rowcount)


def mark_lost(session: Session, person_id: int, chat_id: int, now: datetime, reason: str, *,
              outbox_id: int | None = None, email_running: bool = False) -> bool:
    """Telegram refused the chat for good: the link is inactive from now (`telegram_lost_at`;
    the secretary hears of it in the unit's next digest). When the person has an e-mail
    address and the e-mail channel runs, the refused notification is queued again by e-mail.
    Returns whether a fallback e-mail was queued."""
    session.execute(update(p).where(p.c.id == person_id, p.c.telegram_chat_id == chat_id,
                                    p.c.telegram_lost_at.is_(None))
                    .values(telegram_lost_at=now))
    email = session.execute(select(p.c.email).where(p.c.id == person_id)).scalar_one_or_none()
    if not (email and email_running and outbox_id is not None):
        return False
    row = session.execute(select(outbox_table).where(outbox_table.c.id == outbox_id)).one_or_none()
    if row is None:
        return False
    key = f"{row.idempotency_key}|email"
    if session.execute(select(outbox_table.c.id)
                       .where(outbox_table.c.idempotency_key == key)).first() is not None:
        return False
    session.execute(insert(outbox_table).values(
        idempotency_key=key, step_id=row.step_id, person_id=person_id, unit_id=row.unit_id,
        channel="email", purpose=row.purpose, level=row.level,
        payload={**row.payload, "fallback_from": "telegram", "fallback_reason": reason},
        state="pending", attempts=0, not_before=now, created_at=now, updated_at=now))
    return True
