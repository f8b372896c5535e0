"""Step actions: extensions, excuses, payments, achievements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

An extension is asked for (when, by whom, until when, why) and then granted or refused; a
granted one sets `extended_until`, the moment the step is late after from then on (its
escalation rungs move with it). `paid_amount` sums what a unit paid for a contribution,
`achieved_quantity` is the quantity a unit reports for a target, `excuse_reason` says why a
step was excused. All nullable: existing rows need no value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
COLUMNS = (
    ("extended_until", UTC),
    ("extension_requested_at", UTC),
    ("extension_requested_until", UTC),
    ("extension_requested_by", sa.Text()),
    ("extension_reason", sa.Text()),
    ("excuse_reason", sa.Text()),
    ("paid_amount", sa.BigInteger()),
    ("achieved_quantity", sa.Float()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("steps", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
