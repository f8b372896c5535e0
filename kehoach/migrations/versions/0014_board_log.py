"""Kept summaries catch up with a change instead of reading a million steps again (issue 12).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

After any change to steps, the board recomputed its summaries' GROUP BYs over every step
(1.2–1.5 s at a million steps for the first request). Now each counted change of a step is
logged with what the summaries read of it, before and after:

- `board_log`: (n, sign, the step's plan, unit, kind, due date, due_at, extended_until,
  state, done_at): sign −1 for the row before a change, +1 for the row after, at the count
  `n` of board_changes that change made. A kept aggregate at count p catches up to count q by
  adding up its own query over the log rows p < n ≤ q, signed (kehoach.web.summary_cache).
- `board_changes.replay_from`: a result kept at a lower count cannot catch up (units,
  clusters or their members changed, a large load ran, or the log was pruned below it).
- `board_changes.unlogged`: true while a large load runs; its changes are not logged and it
  sets replay_from when it ends.

The steps' triggers (0011's counted changes only) now also log. On SQLite, per row as
before. On PostgreSQL the count is taken before the statement (a row lock held until commit,
so counts are in commit order) and its rows are logged after it: inserted and deleted rows
from the statement's transition table, updated rows per row (a transition table cannot go
with 0011's column list).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: 0011's watched columns of steps, which the log keeps (models.BoardLog's, copied: a
#: migration must not change when the models do).
LOGGED = ("plan_id", "unit_id", "kind", "due_date", "due_at", "extended_until", "state", "done_at")
COLUMNS = ", ".join(LOGGED)
CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in LOGGED)
BUMP = "UPDATE board_changes SET n = n + 1"
#: units, clusters and members: a change the log does not replay
BUMP_ALL = "UPDATE board_changes SET n = n + 1, replay_from = n + 1"
OTHERS = ("units", "groups", "group_members")


def _log(row: str, sign: int | str) -> str:
    """Log `row` (OLD, NEW, or a transition table) at the current count, unless unlogged."""
    values = ", ".join(f"{row}.{c}" for c in LOGGED)
    source = "" if row in ("OLD", "NEW") else f"{row}, "
    return (
        f"INSERT INTO board_log (n, sign, {COLUMNS}) SELECT b.n, {sign}, {values} "
        f"FROM {source}board_changes b WHERE b.id = 1 AND NOT b.unlogged"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # (not a batch: SQLite adds a NOT NULL column with a default in place, and the steps'
    # triggers name this table)
    op.add_column(
        "board_changes",
        sa.Column("replay_from", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "board_changes",
        sa.Column("unlogged", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute("UPDATE board_changes SET replay_from = n")
    op.create_table(
        "board_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("sign", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=120), nullable=False),
        sa.Column("unit_id", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_board_log"),
    )
    op.create_index("ix_board_log_n", "board_log", ["n"])
    if postgres:
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER board_steps_{event}")
    op.execute(
        "CREATE TRIGGER board_steps_insert AFTER INSERT ON steps "
        f"BEGIN {BUMP}; {_log('NEW', 1)}; END"
    )
    op.execute(
        "CREATE TRIGGER board_steps_delete AFTER DELETE ON steps "
        f"BEGIN {BUMP}; {_log('OLD', -1)}; END"
    )
    op.execute(
        f"CREATE TRIGGER board_steps_update AFTER UPDATE OF {COLUMNS} ON steps "
        f"WHEN {CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
        f"BEGIN {BUMP}; {_log('OLD', -1)}; {_log('NEW', 1)}; END"
    )
    for table in OTHERS:
        for event in ("INSERT", "DELETE", "UPDATE"):
            name = f"board_{table}_{event.lower()}"
            op.execute(f"DROP TRIGGER {name}")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP_ALL}; END")


def _function(name: str, body: str) -> None:
    op.execute(
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {body}; RETURN NULL; END $$"
    )


def _postgres_triggers() -> None:
    op.execute("DROP TRIGGER board_steps ON steps")
    _function("board_changed", BUMP_ALL)  # units, groups, members (0011's triggers)
    _function("board_counted", BUMP)
    # inserted (+1) or deleted (−1) rows: the statement's transition table, named `changed`
    _function("board_logged_rows", _log("changed", "CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END"))
    _function("board_logged_row", f"{_log('OLD', -1)}; {_log('NEW', 1)}")
    op.execute(
        f"CREATE TRIGGER board_steps BEFORE INSERT OR DELETE OR UPDATE OF {COLUMNS} ON steps "
        "FOR EACH STATEMENT EXECUTE FUNCTION board_counted()"
    )
    for event, table in (("INSERT", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER board_steps_{event.lower()} AFTER {event} ON steps "
            f"REFERENCING {table} TABLE AS changed "
            "FOR EACH STATEMENT EXECUTE FUNCTION board_logged_rows()"
        )
    op.execute(
        f"CREATE TRIGGER board_steps_update AFTER UPDATE OF {COLUMNS} ON steps "
        f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION board_logged_row()"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    watched = "state, done_at, due_at, extended_until, kind, plan_id, unit_id, due_date"
    if postgres:
        for name in ("board_steps", "board_steps_insert", "board_steps_delete"):
            op.execute(f"DROP TRIGGER {name} ON steps")
        op.execute("DROP TRIGGER board_steps_update ON steps")
        for name in ("board_counted", "board_logged_rows", "board_logged_row"):
            op.execute(f"DROP FUNCTION {name}()")
        _function("board_changed", BUMP)
        op.execute(
            f"CREATE TRIGGER board_steps AFTER INSERT OR DELETE OR UPDATE OF {watched} "
            "ON steps FOR EACH STATEMENT EXECUTE FUNCTION board_changed()"
        )
    else:
        for table, update in (("steps", f"UPDATE OF {watched}"), *((t, "UPDATE") for t in OTHERS)):
            for event in ("INSERT", "DELETE", update):
                name = f"board_{table}_{event.split()[0].lower()}"
                op.execute(f"DROP TRIGGER {name}")
                op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP}; END")
    op.drop_index("ix_board_log_n", "board_log")
    op.drop_table("board_log")
    # (not a batch: SQLite ≥ 3.35 drops a column in place; the triggers name this table)
    for column in ("unlogged", "replay_from"):
        op.execute(f"ALTER TABLE board_changes DROP COLUMN {column}")
