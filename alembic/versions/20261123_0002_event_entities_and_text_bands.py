"""event entities and near-duplicate text bands

Places, organisations and dates mentioned, per article and merged per event; LSH band keys of
article texts so that near-duplicates are found by an indexed lookup. Articles stored before
this revision have no band keys: they still join events by identical text or title.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:02:37.288499
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ENTITY_COLUMNS = ("places", "organisations", "dates_mentioned")


def upgrade() -> None:
    op.create_table(
        "article_bands",
        sa.Column("band", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.PrimaryKeyConstraint("band", "article_id"),
    )
    with op.batch_alter_table("article_bands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_bands_article_id"), ["article_id"], unique=False
        )
    for table in ("articles", "events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in ENTITY_COLUMNS:
                batch_op.add_column(
                    sa.Column(column, sa.JSON(), server_default="[]", nullable=False)
                )


def downgrade() -> None:
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): a batch copy of `events` would fail on the
    # foreign keys that point at it.
    for table in ("events", "articles"):
        for column in reversed(ENTITY_COLUMNS):
            op.drop_column(table, column)
    with op.batch_alter_table("article_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_bands_article_id"))
    op.drop_table("article_bands")
