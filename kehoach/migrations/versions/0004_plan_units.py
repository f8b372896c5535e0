"""The units that have steps in each plan, kept at load.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

A secretary's scope, a plan's feed and the board's plan choices need "the units of a plan";
they were found by scanning the plan's steps on every request. Filled here from the steps
already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REF = sa.String(120)


def upgrade() -> None:
    op.create_table(
        "plan_units",
        sa.Column("plan_id", REF, nullable=False),
        sa.Column("unit_id", REF, nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_units_plan_id_plans"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_plan_units_unit_id_units"),
        sa.PrimaryKeyConstraint("plan_id", "unit_id", name="pk_plan_units"),
    )
    op.execute(
        "INSERT INTO plan_units (plan_id, unit_id) SELECT DISTINCT plan_id, unit_id FROM steps"
    )


def downgrade() -> None:
    op.drop_table("plan_units")
