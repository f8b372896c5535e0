"""Plans published from the browser: drafts kept in the database, each version's text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

A secretary uploads a plan's Word or text file; its draft (the importer's result, the review
questions and the answers given so far) lives in `plan_drafts`, owned by its uploader and seen
by the secretaries of the same issuing body, with a `revision` that a save must match (two
people editing one draft: the second save is refused, never a silent overwrite). Each loaded
version keeps its plan file's text and who published it, so every version can be downloaded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REF = sa.String(120)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Doc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("plan_versions") as batch:
        batch.add_column(sa.Column("content", sa.Text(), nullable=True))
        batch.add_column(sa.Column("published_by", sa.Text(), nullable=True))
    op.create_table(
        "plan_drafts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("issuer_id", REF, nullable=False),
        sa.Column("plan_id", REF, nullable=True),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("document", Doc, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["units.id"], name="fk_plan_drafts_issuer_id_units"),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], name="fk_plan_drafts_owner_id_people"),
        sa.CheckConstraint(
            "state IN ('open', 'published', 'discarded')", name="ck_plan_drafts_state"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_drafts"),
    )
    op.create_index("ix_plan_drafts_issuer_id", "plan_drafts", ["issuer_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_drafts_issuer_id", "plan_drafts")
    op.drop_table("plan_drafts")
    with op.batch_alter_table("plan_versions") as batch:
        batch.drop_column("published_by")
        batch.drop_column("content")
