"""What was actually sent, and who resent or dropped a notice.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

`steps.escalated_level`: the highest rung of the step's ladder whose escalation was delivered
(an outbox row in state `sent`), so the board, the CLI, the exports and the feeds say what was
sent, not what the clock says is due (issue 11, item 9). Filled here from the rows already sent.
`outbox_actions`: the audit of `kehoach outbox retry|drop` and the board's resend (who, when,
through what, from which state to which).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("steps", sa.Column("escalated_level", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE steps SET escalated_level = (SELECT MAX(o.level) FROM outbox o "
        "WHERE o.step_id = steps.id AND o.purpose = 'escalation' AND o.state = 'sent') "
        "WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.step_id = steps.id "
        "AND o.purpose = 'escalation' AND o.state = 'sent')"
    )
    op.create_table(
        "outbox_actions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("outbox_id", Id, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name="fk_outbox_actions_outbox_id_outbox"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_actions"),
    )
    op.create_index("ix_outbox_actions_outbox_id", "outbox_actions", ["outbox_id"])


def downgrade() -> None:
    op.drop_table("outbox_actions")
    # ALTER TABLE … DROP COLUMN on both (SQLite ≥ 3.35): batch mode would copy the steps
    # table, which the foreign keys of outbox and transitions forbid once it holds rows
    op.drop_column("steps", "escalated_level")
