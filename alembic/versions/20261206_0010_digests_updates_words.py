"""digests, updates, words found

The words a match found as the article wrote them; the sources an alert and its updates have
named, and when the last update was queued; digests (one message per channel, or per rule on
a channel, listing the alerts held since the previous one) and the deliveries they list;
updates (an alerted event gained reports from new sources). Existing matches have no words.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _outbox_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("words", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("told_sources", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("slot_at", sa.DateTime(), nullable=False),
        sa.Column("since_at", sa.DateTime(), nullable=True),
        *_outbox_columns(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "scope", "slot_at", name="uq_digests_channel_scope_slot"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.create_index("ix_digests_due", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        *_outbox_columns(),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["match_id"], ["matches.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("updates", schema=None) as batch_op:
        batch_op.create_index("ix_updates_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_updates_match_id"), ["match_id"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_deliveries_digest_id"), ["digest_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_deliveries_digest_id_digests", "digests", ["digest_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_digest_id_digests", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_deliveries_digest_id"))
        batch_op.drop_column("digest_id")
    with op.batch_alter_table("updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_updates_match_id"))
        batch_op.drop_index("ix_updates_due")
    op.drop_table("updates")
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_index("ix_digests_due")
    op.drop_table("digests")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("told_sources")
        batch_op.drop_column("words")
