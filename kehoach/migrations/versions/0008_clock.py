"""The clock's heartbeat: when the leader's clock last ticked, for /healthz in any process.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

APScheduler's job store write can fail (a full disk) and leave the scheduler asleep for ever
while the leader keeps its lock; the leader now records each successful tick here, and
/healthz answers 503 when the last one is older than a few tick periods.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clock_beats",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("period_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("ticked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_clock_beats"),
    )


def downgrade() -> None:
    op.drop_table("clock_beats")
