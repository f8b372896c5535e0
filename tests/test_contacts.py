"""Contacts (migration 0010, kehoach/chat/links.py) and the channel registry, on SQLite and
PostgreSQL (the fixtures of conftest.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, inspect, select, text

from kehoach.chat import links
from kehoach.store import read_session, write_session
from kehoach.store.models import contacts_table, invites_table, outbox_table
from kehoach.store.schema import downgrade, upgrade

NOW = datetime(2022, 4, 1, 3, 0, tzinfo=UTC)
LOST = NOW + timedelta(hours=2)


def test_0010_moves_email_and_telegram_to_contacts_and_back(db: Engine) -> None:
    """Rows that refer to people (invites, outbox) survive the rebuild of the people table
    (SQLite: foreign keys off during the migration, checked before its commit)."""
    downgrade(db, "0009")
    with db.begin() as conn:
        conn.execute(text("INSERT INTO units (id, name) VALUES ('doan-a', 'Đoàn A')"))
        for pid, email, chat, lost in [(1, "an@example.vn", 42, None), (2, None, -100, LOST),
                                       (3, " ba@example.vn ", None, None), (4, None, None, None)]:
            conn.execute(text(
                "INSERT INTO people (id, name, unit_id, contacts, active, created_at, "
                "board_role, email, telegram_chat_id, telegram_linked_at, telegram_lost_at) "
                "VALUES (:id, :name, 'doan-a', '{}', true, :now, 'member', :email, :chat, "
                ":linked, :lost)"),
                {"id": pid, "name": f"Người {pid}", "now": NOW, "email": email, "chat": chat,
                 "linked": NOW if chat else None, "lost": lost})
        conn.execute(insert(invites_table).values(code_hash="x" * 64, person_id=1,
                                                  created_at=NOW, expires_at=NOW,
                                                  created_by="thư ký"))
        conn.execute(insert(outbox_table).values(
            idempotency_key="k", person_id=2, unit_id="doan-a", channel="telegram",
            purpose="digest", payload={}, state="pending", not_before=NOW, created_at=NOW,
            updated_at=NOW))
    upgrade(db)
    columns = {c["name"] for c in inspect(db).get_columns("people")}
    assert not columns & {"email", "telegram_chat_id", "telegram_lost_at", "contacts"}
    with read_session(db) as s:
        rows = s.execute(select(contacts_table.c.person_id, contacts_table.c.channel,
                                contacts_table.c.address, contacts_table.c.lost_at)
                         .order_by(contacts_table.c.person_id, contacts_table.c.channel)).all()
        assert [tuple(r) for r in rows] == [
            (1, "email", "an@example.vn", None), (1, "telegram", "42", None),
            (2, "telegram", "-100", LOST), (3, "email", "ba@example.vn", None)]
        assert s.execute(select(invites_table.c.person_id)).scalars().all() == [1]
        assert s.execute(select(outbox_table.c.person_id)).scalars().all() == [2]
        assert links.person_for(s, "telegram", "42").id == 1
        assert links.person_for(s, "telegram", "-100") is None  # lost
    downgrade(db, "0009")
    with db.connect() as conn:
        back = conn.execute(text("SELECT id, email, telegram_chat_id, telegram_lost_at "
                                 "FROM people ORDER BY id")).all()
    assert [(r[0], r[1], r[2], r[3] is not None) for r in back] == [
        (1, "an@example.vn", 42, False), (2, None, -100, True), (3, "ba@example.vn", None, False),
        (4, None, None, False)]
    upgrade(db)


def test_a_chat_address_belongs_to_one_person_and_moves(db: Engine) -> None:
    from kehoach.store.people import add_person
    with write_session(db) as s:
        s.execute(text("INSERT INTO units (id, name) VALUES ('doan-a', 'Đoàn A')"))
        an = add_person(s, "An", "doan-a", NOW, email="an@example.vn")
        ba = add_person(s, "Ba", "doan-a", NOW, email="an@example.vn")  # a shared mailbox
        code = links.create_invite(s, an, "thư ký", NOW)
        assert links.redeem(s, code, "telegram", "42", NOW).id == an
        links.set_contact(s, ba, "telegram", "42", NOW, exclusive=True)  # the chat moves to Ba
        assert links.person_for(s, "telegram", "42").id == ba
        assert links.move(s, "telegram", "42", "-1001") == 1
        assert links.person_for(s, "telegram", "-1001").id == ba
        assert [c.channel for c in links.contacts_of(s, an)] == ["email"]
        assert links.unlink(s, "telegram", "-1001").id == ba
        assert links.person_for(s, "telegram", "-1001") is None
