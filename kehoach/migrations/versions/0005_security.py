"""Board sessions kept server-side, so logging out (or an admin) can end them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

A session cookie carries a random id; only its SHA-256 is kept here, with the person and
when it ends. Logout, a new password and `kehoach person logout LOGIN` delete rows: a cookie
copied before that no longer opens anything.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "board_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("person_id", Id, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_board_sessions_person_id_people"
        ),
        sa.PrimaryKeyConstraint("id_hash", name="pk_board_sessions"),
    )
    op.create_index("ix_board_sessions_person_id", "board_sessions", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_board_sessions_person_id", "board_sessions")
    op.drop_table("board_sessions")
