"""People's contact links and board logins, Telegram invites, feed tokens, plan groups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

People gain a board role, an e-mail address, a Telegram chat (linked with a one-time invite
code, marked lost when Telegram refuses it) and a login with a password hash. Invite codes
and feed tokens are kept only as hashes. `groups`/`group_members` keep each plan's clusters
and groups, `plans.issuer_id` its issuing unit: the scopes of cluster heads and secretaries.
Written out in full (not imported from the models), like 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
REF = sa.String(120)


def upgrade() -> None:
    op.create_table(
        "feed_tokens",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(400), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feed_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_feed_tokens_token_hash"),
    )
    op.create_table(
        "groups",
        sa.Column("plan_id", REF, nullable=False),
        sa.Column("id", REF, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("head_id", REF, nullable=True),
        sa.ForeignKeyConstraint(["head_id"], ["units.id"], name="fk_groups_head_id_units"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_groups_plan_id_plans"),
        sa.PrimaryKeyConstraint("plan_id", "id", name="pk_groups"),
    )
    op.create_table(
        "group_members",
        sa.Column("plan_id", REF, nullable=False),
        sa.Column("group_id", REF, nullable=False),
        sa.Column("unit_id", REF, nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_group_members_unit_id_units"),
        sa.PrimaryKeyConstraint("plan_id", "group_id", "unit_id", name="pk_group_members"),
    )
    op.create_index("ix_group_members_unit_id", "group_members", ["unit_id"])
    op.create_table(
        "invites",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("person_id", Id, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name="fk_invites_person_id_people"),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.UniqueConstraint("code_hash", name="uq_invites_code_hash"),
    )
    op.create_index("ix_invites_person_id", "invites", ["person_id"])
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column(
                "board_role", sa.String(16), server_default=sa.text("'member'"), nullable=False
            )
        )
        batch.add_column(sa.Column("email", sa.Text(), nullable=True))
        batch.add_column(sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("telegram_linked_at", UTC, nullable=True))
        batch.add_column(sa.Column("telegram_lost_at", UTC, nullable=True))
        batch.add_column(sa.Column("login", REF, nullable=True))
        batch.add_column(sa.Column("password_hash", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_people_login", ["login"])
        batch.create_unique_constraint("uq_people_telegram_chat_id", ["telegram_chat_id"])
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("issuer_id", REF, nullable=True))
        batch.create_foreign_key("fk_plans_issuer_id_units", "units", ["issuer_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint("fk_plans_issuer_id_units", type_="foreignkey")
        batch.drop_column("issuer_id")
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("uq_people_telegram_chat_id", type_="unique")
        batch.drop_constraint("uq_people_login", type_="unique")
        for name in (
            "password_hash",
            "login",
            "telegram_lost_at",
            "telegram_linked_at",
            "telegram_chat_id",
            "email",
            "board_role",
        ):
            batch.drop_column(name)
    op.drop_index("ix_invites_person_id", table_name="invites")
    op.drop_table("invites")
    op.drop_index("ix_group_members_unit_id", table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("groups")
    op.drop_table("feed_tokens")
