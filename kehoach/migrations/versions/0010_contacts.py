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

SQLite: the people table is rebuilt (a UNIQUE column cannot be dropped in place), written out
here rather than by Alembic's batch mode, whose copy orders the constraints differently from
run to run (the schema must be the same on every database). kehoach.store.schema runs
migrations with foreign keys off and checks them before committing, as SQLite's documentation
asks for such a rebuild.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REF = sa.String(120)
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
        sa.Column(
            "preference",
            sa.Integer(),
            server_default=sa.text(str(DEFAULT_PREFERENCE)),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], ondelete="CASCADE", name="fk_contacts_person_id_people"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.UniqueConstraint("person_id", "channel", name="uq_contacts_person_id_channel"),
    )
    op.create_index("ix_contacts_person_id", "contacts", ["person_id"])
    op.create_index("ix_contacts_channel_address", "contacts", ["channel", "address"])
    op.execute(
        "INSERT INTO contacts (person_id, channel, address, linked_at, preference) "
        "SELECT id, 'email', TRIM(email), created_at, 100 FROM people "
        "WHERE email IS NOT NULL AND TRIM(email) <> ''"
    )
    op.execute(
        "INSERT INTO contacts (person_id, channel, address, linked_at, lost_at, "
        "lost_reason, preference) "
        "SELECT id, 'telegram', CAST(telegram_chat_id AS VARCHAR(320)), "
        "COALESCE(telegram_linked_at, created_at), telegram_lost_at, "
        "CASE WHEN telegram_lost_at IS NULL THEN NULL ELSE 'Telegram từ chối chat' END, "
        "100 FROM people WHERE telegram_chat_id IS NOT NULL"
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_people(with_contact_columns=False)
        return
    op.drop_constraint("uq_people_telegram_chat_id", "people", type_="unique")
    for name in ("telegram_lost_at", "telegram_linked_at", "telegram_chat_id", "email", "contacts"):
        op.drop_column("people", name)


def _people_columns(with_contact_columns: bool) -> list[sa.Column[Any]]:
    """The columns of people at 0009 (with) or 0010 (without the contact columns)."""
    contact: list[sa.Column[Any]] = [
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_linked_at", UTC, nullable=True),
        sa.Column("telegram_lost_at", UTC, nullable=True),
    ]
    return [
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("unit_id", REF, nullable=True),
        *([sa.Column("contacts", Doc, nullable=False)] if with_contact_columns else []),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("board_role", sa.String(16), server_default=sa.text("'member'"), nullable=False),
        *(contact if with_contact_columns else []),
        sa.Column("login", REF, nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
    ]


def _rebuild_people(*, with_contact_columns: bool) -> None:
    """SQLite: people made again with or without the contact columns (module doc), its rows
    copied (contacts as '{}' when the column comes back)."""
    columns = _people_columns(with_contact_columns)
    constraints: list[sa.Constraint] = [
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_people_unit_id_units"),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        sa.UniqueConstraint("login", name="uq_people_login"),
    ]
    if with_contact_columns:
        constraints.append(
            sa.UniqueConstraint("telegram_chat_id", name="uq_people_telegram_chat_id")
        )
    op.create_table("_people_new", *columns, *constraints)
    names = [c.name for c in columns]
    kept = [
        "'{}'"
        if n == "contacts"
        else "NULL"
        if n in ("email", "telegram_chat_id", "telegram_linked_at", "telegram_lost_at")
        else n
        for n in names
    ]
    op.execute(f"INSERT INTO _people_new ({', '.join(names)}) SELECT {', '.join(kept)} FROM people")
    op.drop_index("ix_people_unit_id", table_name="people")
    op.drop_table("people")
    op.rename_table("_people_new", "people")
    op.create_index("ix_people_unit_id", "people", ["unit_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_people(with_contact_columns=True)
    else:
        op.add_column(
            "people", sa.Column("contacts", Doc, server_default=sa.text("'{}'"), nullable=False)
        )
        op.alter_column("people", "contacts", server_default=None)
        for column in _people_columns(True):
            if column.name.startswith(("email", "telegram_")):
                op.add_column("people", column)
        op.create_unique_constraint("uq_people_telegram_chat_id", "people", ["telegram_chat_id"])
    op.execute(
        "UPDATE people SET email = (SELECT c.address FROM contacts c "
        "WHERE c.person_id = people.id AND c.channel = 'email')"
    )
    op.execute(
        "UPDATE people SET telegram_chat_id = CAST(c.address AS BIGINT), "
        "telegram_linked_at = c.linked_at, telegram_lost_at = c.lost_at "
        "FROM contacts c WHERE c.person_id = people.id AND c.channel = 'telegram'"
    )
    op.drop_index("ix_contacts_channel_address", table_name="contacts")
    op.drop_index("ix_contacts_person_id", table_name="contacts")
    op.drop_table("contacts")
