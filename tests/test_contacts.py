"""Contacts (migration 0010, kehoach/chat/links.py) and the channel registry, on SQLite and
PostgreSQL (the fixtures of conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.orm import Session

from kehoach.chat import links
from kehoach.store import read_session, write_session
from kehoach.store.models import contacts_table, invites_table, outbox_table
from kehoach.store.schema import downgrade, upgrade
from notifiers.base import Notification

NOW = datetime(2022, 4, 1, 3, 0, tzinfo=UTC)
LOST = NOW + timedelta(hours=2)


def linked(session: Session, channel: str, address: str) -> int | None:
    """The id of the person `address` on `channel` reaches, or None."""
    found = links.person_for(session, channel, address)
    return None if found is None else int(found.id)


def test_0010_moves_email_and_telegram_to_contacts_and_back(db: Engine) -> None:
    """Rows that refer to people (invites, outbox) survive the rebuild of the people table
    (SQLite: foreign keys off during the migration, checked before its commit)."""
    downgrade(db, "0009")
    with db.begin() as conn:
        conn.execute(text("INSERT INTO units (id, name) VALUES ('doan-a', 'Đoàn A')"))
        for pid, email, chat, lost in [
            (1, "an@example.vn", 42, None),
            (2, None, -100, LOST),
            (3, " ba@example.vn ", None, None),
            (4, None, None, None),
        ]:
            conn.execute(
                text(
                    "INSERT INTO people (id, name, unit_id, contacts, active, created_at, "
                    "board_role, email, telegram_chat_id, telegram_linked_at, telegram_lost_at) "
                    "VALUES (:id, :name, 'doan-a', '{}', true, :now, 'member', :email, :chat, "
                    ":linked, :lost)"
                ),
                {
                    "id": pid,
                    "name": f"Người {pid}",
                    "now": NOW,
                    "email": email,
                    "chat": chat,
                    "linked": NOW if chat else None,
                    "lost": lost,
                },
            )
        conn.execute(
            insert(invites_table).values(
                code_hash="x" * 64, person_id=1, created_at=NOW, expires_at=NOW, created_by="thư ký"
            )
        )
        conn.execute(
            insert(outbox_table).values(
                idempotency_key="k",
                person_id=2,
                unit_id="doan-a",
                channel="telegram",
                purpose="digest",
                payload={},
                state="pending",
                not_before=NOW,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    upgrade(db)
    columns = {c["name"] for c in inspect(db).get_columns("people")}
    assert not columns & {"email", "telegram_chat_id", "telegram_lost_at", "contacts"}
    with read_session(db) as s:
        rows = s.execute(
            select(
                contacts_table.c.person_id,
                contacts_table.c.channel,
                contacts_table.c.address,
                contacts_table.c.lost_at,
            ).order_by(contacts_table.c.person_id, contacts_table.c.channel)
        ).all()
        assert [tuple(r) for r in rows] == [
            (1, "email", "an@example.vn", None),
            (1, "telegram", "42", None),
            (2, "telegram", "-100", LOST),
            (3, "email", "ba@example.vn", None),
        ]
        assert s.execute(select(invites_table.c.person_id)).scalars().all() == [1]
        assert s.execute(select(outbox_table.c.person_id)).scalars().all() == [2]
        assert linked(s, "telegram", "42") == 1
        assert linked(s, "telegram", "-100") is None  # lost
    downgrade(db, "0009")
    with db.connect() as conn:
        back = conn.execute(
            text("SELECT id, email, telegram_chat_id, telegram_lost_at FROM people ORDER BY id")
        ).all()
    assert [(r[0], r[1], r[2], r[3] is not None) for r in back] == [
        (1, "an@example.vn", 42, False),
        (2, None, -100, True),
        (3, "ba@example.vn", None, False),
        (4, None, None, False),
    ]
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
        assert linked(s, "telegram", "42") == ba
        assert links.move(s, "telegram", "42", "-1001") == 1
        assert linked(s, "telegram", "-1001") == ba
        assert [c.channel for c in links.contacts_of(s, an)] == ["email"]
        gone = links.unlink(s, "telegram", "-1001")
        assert gone is not None and gone.id == ba
        assert linked(s, "telegram", "-1001") is None


def queued(db: Engine, person_id: int, state: str = "pending") -> list[tuple[str, str]]:
    with read_session(db) as s:
        return [
            (r.channel, r.idempotency_key)
            for r in s.execute(
                select(outbox_table)
                .where(outbox_table.c.person_id == person_id, outbox_table.c.state == state)
                .order_by(outbox_table.c.id)
            )
        ]


def addresses(notes: list[Notification]) -> list[str | None]:
    return [n.person.address if n.person is not None else None for n in notes]


def person_with_contacts(db: Engine) -> int:
    """A person reached on Telegram (chat 42), then e-mail, with one reminder queued on
    Telegram."""
    from kehoach.store.people import add_person

    with write_session(db) as s:
        s.execute(text("INSERT INTO units (id, name) VALUES ('doan-a', 'Đoàn A')"))
        pid = add_person(s, "An", "doan-a", NOW, email="an@example.vn")
        links.set_contact(s, pid, "telegram", "42", NOW)
        s.execute(
            insert(outbox_table).values(
                idempotency_key="nhac|1",
                person_id=pid,
                unit_id="doan-a",
                channel="telegram",
                purpose="reminder",
                level=0,
                payload={"title": "Báo cáo"},
                state="pending",
                not_before=NOW,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return pid


def test_the_dispatcher_marks_a_lost_address_and_queues_the_next_contact(db: Engine) -> None:
    """A channel says `lost`; the dispatcher (not the channel) marks the contact lost and
    queues the row again on the person's next contact among the running channels."""
    from kehoach import store
    from notifiers.base import DeliveryError
    from notifiers.testing import RecordingChannel

    pid = person_with_contacts(db)
    blocked = RecordingChannel("telegram", {"nhac|1": [DeliveryError("chặn bot", lost=True)]})
    result = store.dispatch(
        lambda: write_session(db), blocked, NOW, fallbacks=("console", "telegram", "email")
    )
    assert result.failed == 1 and addresses(blocked.attempts) == ["42"]
    assert queued(db, pid, "failed") == [("telegram", "nhac|1")]
    assert queued(db, pid) == [("email", "nhac|1|email")]
    with read_session(db) as s:
        chat = s.execute(select(contacts_table).where(contacts_table.c.channel == "telegram")).one()
        assert chat.lost_at == NOW and chat.lost_reason == "chặn bot"
        assert linked(s, "telegram", "42") is None
    mail = RecordingChannel("email")
    store.dispatch(lambda: write_session(db), mail, NOW)
    assert addresses(mail.sent) == ["an@example.vn"]
    assert mail.sent[0].payload["fallback_from"] == "telegram"


def test_a_lost_address_without_a_running_fallback_is_only_marked(db: Engine) -> None:
    from kehoach import store
    from notifiers.base import DeliveryError
    from notifiers.testing import RecordingChannel

    pid = person_with_contacts(db)
    blocked = RecordingChannel("telegram", {"nhac|1": [DeliveryError("chặn bot", lost=True)]})
    store.dispatch(lambda: write_session(db), blocked, NOW, fallbacks=("console", "telegram"))
    assert queued(db, pid) == []  # e-mail is not running here: nothing queued for it
    with read_session(db) as s:
        assert linked(s, "telegram", "42") is None


def test_the_dispatcher_moves_a_moved_address_and_sends_there_at_once(db: Engine) -> None:
    from kehoach import store
    from notifiers.base import DeliveryError
    from notifiers.testing import RecordingChannel

    pid = person_with_contacts(db)
    moved = RecordingChannel(
        "telegram", {"nhac|1": [DeliveryError("thành siêu nhóm", moved_to="-1009")]}
    )
    result = store.dispatch(lambda: write_session(db), moved, NOW)
    assert result.sent == 1 and not result.failed
    assert addresses(moved.attempts) == ["42", "-1009"]
    assert queued(db, pid, "sent") == [("telegram", "nhac|1")]
    with read_session(db) as s:
        assert linked(s, "telegram", "-1009") == pid and linked(s, "telegram", "42") is None
