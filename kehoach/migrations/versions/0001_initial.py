"""Initial schema: units, plans and versions, steps, transitions; people, outbox, deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written out in full (not imported from the models) so this revision stays what it was when
the models move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Doc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)
STEP_ID = sa.String(400)
REF = sa.String(120)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", REF, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
    )
    op.create_table(
        "plans",
        sa.Column("id", REF, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("plan_id", REF, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("loaded_at", UTC, nullable=False),
        _fk("plan_versions", "plan_id", "plans"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.UniqueConstraint("plan_id", "number", name="uq_plan_versions_plan_id_number"),
    )
    op.create_table(
        "steps",
        sa.Column("id", STEP_ID, nullable=False),
        sa.Column("plan_id", REF, nullable=False),
        sa.Column("obligation", REF, nullable=False),
        sa.Column("occurrence", REF, nullable=False),
        sa.Column("unit_id", REF, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_time", sa.Time(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("tentative", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("reminders", Doc, nullable=False),
        sa.Column("escalation", Doc, nullable=False),
        sa.Column("source", Doc, nullable=False),
        sa.Column("details", Doc, nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("done_at", UTC, nullable=True),
        sa.Column("next_action_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'done', 'excused', 'cancelled')", name="ck_steps_state"
        ),
        _fk("steps", "plan_id", "plans"),
        _fk("steps", "unit_id", "units"),
        sa.PrimaryKeyConstraint("id", name="pk_steps"),
    )
    op.create_index(
        "ix_steps_next_action_at",
        "steps",
        ["next_action_at"],
        sqlite_where=sa.text("next_action_at IS NOT NULL"),
        postgresql_where=sa.text("next_action_at IS NOT NULL"),
    )
    op.create_index("ix_steps_plan_id_state", "steps", ["plan_id", "state"])
    op.create_index("ix_steps_unit_id_due_at", "steps", ["unit_id", "due_at"])
    op.create_table(
        "transitions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("step_id", STEP_ID, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _fk("transitions", "step_id", "steps"),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
    )
    op.create_index("ix_transitions_step_id_at", "transitions", ["step_id", "at"])
    op.create_table(
        "people",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("unit_id", REF, nullable=True),
        sa.Column("contacts", Doc, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _fk("people", "unit_id", "units"),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
    )
    op.create_index("ix_people_unit_id", "people", ["unit_id"])
    op.create_table(
        "outbox",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(500), nullable=False),
        sa.Column("step_id", STEP_ID, nullable=True),
        sa.Column("person_id", Id, nullable=True),
        sa.Column("unit_id", REF, nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("payload", Doc, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("not_before", UTC, nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("outbox", "step_id", "steps"),
        _fk("outbox", "person_id", "people"),
        _fk("outbox", "unit_id", "units"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index("ix_outbox_state_not_before", "outbox", ["state", "not_before"])
    op.create_table(
        "deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("outbox_id", Id, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("permanent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("remote_id", sa.Text(), nullable=True),
        _fk("deliveries", "outbox_id", "outbox"),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_outbox_id", "deliveries", ["outbox_id"])


def downgrade() -> None:
    for table in (
        "deliveries",
        "outbox",
        "people",
        "transitions",
        "steps",
        "plan_versions",
        "plans",
        "units",
    ):
        op.drop_table(table)
