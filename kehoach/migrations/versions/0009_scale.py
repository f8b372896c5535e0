"""Indexes for the board at national scale (issue 12).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

- `ix_steps_state_due_at`: the overdue and upcoming lists read a page's ids, sort keys and
  total count from this index alone (state, the deadline's columns, and what the filters
  and the scope test), instead of reading every late step's row.
- `ix_steps_plan_id_unit_id_kind`: the summaries' GROUP BY (plan, unit) walks this index in
  order, with every column the outcome of a deadline depends on (and the due date, for the
  charts' months).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_steps_state_due_at",
        "steps",
        ["state", "due_at", "extended_until", "kind", "unit_id", "plan_id", "id"],
    )
    op.create_index(
        "ix_steps_plan_id_unit_id_kind",
        "steps",
        ["plan_id", "unit_id", "kind", "state", "due_at", "extended_until", "done_at", "due_date"],
    )


def downgrade() -> None:
    op.drop_index("ix_steps_plan_id_unit_id_kind", "steps")
    op.drop_index("ix_steps_state_due_at", "steps")
