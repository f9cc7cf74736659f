"""cross-language signals of articles, why each joined its event, and event edits

Per article: the signals it carries in any language and why it joined its event (JSON); the
anchor keys of those signals by day, for an indexed lookup of reports of one event in other
languages; and the analysts' splits and merges of events. Articles stored before this
revision have no signals: they are still grouped by text and title.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signals", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("joined", sa.JSON(), nullable=True))
    op.create_table(
        "article_signals",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.PrimaryKeyConstraint("key", "day", "article_id"),
    )
    op.create_table(
        "event_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("from_event_id", sa.Integer(), nullable=False),
        sa.Column("to_event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.ForeignKeyConstraint(["from_event_id"], ["events.id"]),
        sa.ForeignKeyConstraint(["to_event_id"], ["events.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("event_edits")
    op.drop_table("article_signals")
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+), as revision 0002 does.
    op.drop_column("articles", "joined")
    op.drop_column("articles", "signals")
