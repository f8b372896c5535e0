"""A step's time zone: its plan's `timezone:` (issue 16).

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06

The compiler placed a plan's deadlines in its zone, but the lifecycle then counted days,
"đến hạn hôm nay" and the dates in messages in Việt Nam's: a plan in another zone was told
the wrong day around midnight. `steps.timezone` keeps the zone with the step (like
`due_date`, which is a date there), so every reader of a step row has it. NULL is Việt Nam's,
as before; the next load of a plan writes its zone into its existing steps (store.sync).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("steps", sa.Column("timezone", sa.String(64), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN on both (SQLite ≥ 3.35), as 0007: batch mode would copy the
    # steps table, which the outbox and the transitions refer to.
    op.drop_column("steps", "timezone")
