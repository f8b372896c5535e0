"""The board at a million steps (issue 12): lists in deadline order from an index, and a
change count that lets the board keep its summaries.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06

- `ix_steps_state_deadline`: steps by state, deadline (the extension when later than the
  plan's date: `kehoach.web.queries.DEADLINE`, the same expression) and id, the order of
  the overdue and upcoming lists. A page (`LIMIT 51` after a cursor) reads 51 index entries
  instead of sorting every late step; an export streams in the list's order with no sort;
  the summaries' cache finds the next deadline after `now` with one seek per state.
- `board_changes`: one row, `n`, which triggers add 1 to on every insert, delete or update
  of what a summary reads: steps (their state, dates, kind, plan, unit), units, groups and
  their members. PostgreSQL runs its trigger once per statement, SQLite once per row (a
  first load of ≥ 20,000 steps sets the steps' triggers aside like their indexes, see
  store.sync, and adds 1 once).

(Numbered 0011 for issue 12's second round; `layout`'s 0010_contacts was not on this branch
when it was written: the coordinator sets down_revision to "0010" when both are merged.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: kehoach.web.queries.DEADLINE as DDL (an index expression names no table); the models'
#: DEADLINE_DDL, copied: a migration must not change when the models do.
DEADLINE = "(\nCASE\n    WHEN extended_until > due_at THEN extended_until\n    ELSE due_at\nEND)"
#: table → the columns whose update counts (None: any update)
WATCHED = {
    "steps": "state, done_at, due_at, extended_until, kind, plan_id, unit_id, due_date",
    "units": None,
    "groups": None,
    "group_members": None,
}
BUMP = "UPDATE board_changes SET n = n + 1"


def upgrade() -> None:
    op.create_index(
        "ix_steps_state_deadline",
        "steps",
        [
            sa.text("state"),
            sa.text(DEADLINE),
            sa.text("id"),
            sa.text("kind"),
            sa.text("unit_id"),
            sa.text("plan_id"),
            sa.text("due_at"),
            sa.text("extended_until"),
        ],
    )
    op.create_table(
        "board_changes",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_board_changes"),
    )
    op.execute("INSERT INTO board_changes (id, n) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE FUNCTION board_changed() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
    for table, columns in WATCHED.items():
        update = f"UPDATE OF {columns}" if columns else "UPDATE"
        if postgres:
            op.execute(
                f"CREATE TRIGGER board_{table} AFTER INSERT OR DELETE OR {update} "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION board_changed()"
            )
            continue
        for event in ("INSERT", "DELETE", update):
            name = f"board_{table}_{event.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        if postgres:
            op.execute(f"DROP TRIGGER board_{table} ON {table}")
        else:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER board_{table}_{event}")
    if postgres:
        op.execute("DROP FUNCTION board_changed()")
    op.drop_table("board_changes")
    op.drop_index("ix_steps_state_deadline", "steps")
