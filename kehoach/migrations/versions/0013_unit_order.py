"""The overdue list by unit at a million steps (issue 12): pages from two indexes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

The list sorted by unit sorted every late step (432,502 of a million) by its unit's name to
show the first 50: no index ordered steps by their unit's name. Now the query walks the units
in name order and, for each, its pending steps in deadline order (kehoach.web.queries,
`sort=unit`), so a page reads about as many index entries as it shows:

- `ix_units_name_id`: units by (name, id), the outer loop's order.
- `ix_steps_unit_id_state_deadline`: a unit's steps by state, deadline (the expression of
  0011's `ix_steps_state_deadline`) and id, covering what the lists read and filter on
  (kind, plan, the dates) like 0011's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: kehoach.web.queries.DEADLINE as DDL, copied like 0011's: a migration must not change when
#: the models do.
DEADLINE = "(\nCASE\n    WHEN extended_until > due_at THEN extended_until\n    ELSE due_at\nEND)"


def upgrade() -> None:
    op.create_index("ix_units_name_id", "units", ["name", "id"])
    op.create_index(
        "ix_steps_unit_id_state_deadline",
        "steps",
        [
            sa.text("unit_id"),
            sa.text("state"),
            sa.text(DEADLINE),
            sa.text("id"),
            sa.text("kind"),
            sa.text("plan_id"),
            sa.text("due_at"),
            sa.text("extended_until"),
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_steps_unit_id_state_deadline", "steps")
    op.drop_index("ix_units_name_id", "units")
