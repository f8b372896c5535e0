"""Contacts: one row per person and channel, instead of a column per channel on people.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

`contacts` (person, channel, address, linked_at, lost_at, lost_reason, preference) is filled
from `people.email` (channel "email") and `people.telegram_chat_id` (channel "telegram", the
chat id as text, with `telegram_linked_at` / `telegram_lost_at`); then those columns and the
unused `people.contacts` JSON column are dropped. A new channel (Zalo, …) is a registry entry
(kehoach/channels.py), never a migration. The downgrade puts the e-mail and Telegram contacts
back on people (other channels' contacts are lost with the table).

SQLite: the people table is rebuilt (batch mode: a UNIQUE column cannot be dropped in place);
kehoach.store.schema runs migrations with foreign keys off and checks them before committing,
as SQLite's documentation asks for such a rebuild.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
Doc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
DEFAULT_PREFERENCE = 100


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("person_id", Id, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("linked_at", UTC, nullable=False),
        sa.Column("lost_at", UTC, nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("preference", sa.Integer(), server_default=sa.text(str(DEFAULT_PREFERENCE)),
                  nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE",
                                name="fk_contacts_person_id_people"),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("person_id", "channel", name="uq_contacts_person_id_channel"))
    op.create_index("ix_contacts_person_id", "contacts", ["person_id"])
    op.create_index("ix_contacts_channel_address", "contacts", ["channel", "address"])
    op.execute("INSERT INTO contacts (person_id, channel, address, linked_at, preference) "
               "SELECT id, 'email', TRIM(email), created_at, 100 FROM people "
               "WHERE email IS NOT NULL AND TRIM(email) <> ''")
    op.execute("INSERT INTO contacts (person_id, channel, address, linked_at, lost_at, "
               "lost_reason, preference) "
               "SELECT id, 'telegram', CAST(telegram_chat_id AS VARCHAR(320)), "
               "COALESCE(telegram_linked_at, created_at), telegram_lost_at, "
               "CASE WHEN telegram_lost_at IS NULL THEN NULL ELSE 'Telegram từ chối chat' END, "
               "100 FROM people WHERE telegram_chat_id IS NOT NULL")
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("uq_people_telegram_chat_id", type_="unique")
        for name in ("telegram_lost_at", "telegram_linked_at", "telegram_chat_id", "email",
                     "contacts"):
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("contacts", Doc, nullable=True))
        batch.add_column(sa.Column("email", sa.Text(), nullable=True))
        batch.add_column(sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("telegram_linked_at", UTC, nullable=True))
        batch.add_column(sa.Column("telegram_lost_at", UTC, nullable=True))
        batch.create_unique_constraint("uq_people_telegram_chat_id", ["telegram_chat_id"])
    op.execute("UPDATE people SET contacts = '{}', email = (SELECT c.address FROM contacts c "
               "WHERE c.person_id = people.id AND c.channel = 'email')")
    op.execute("UPDATE people SET telegram_chat_id = CAST(c.address AS BIGINT), "
               "telegram_linked_at = c.linked_at, telegram_lost_at = c.lost_at "
               "FROM contacts c WHERE c.person_id = people.id AND c.channel = 'telegram'")
    with op.batch_alter_table("people") as batch:
        batch.alter_column("contacts", existing_type=Doc, nullable=False)
    op.drop_index("ix_contacts_channel_address", table_name="contacts")
    op.drop_index("ix_contacts_person_id", table_name="contacts")
    op.drop_table("contacts")
