"""the page's own day and offset of an article, and its warnings

``published_offset_minutes`` is the UTC offset the page gave with its date, ``published_day``
the calendar day the page states (an article of 15 February 01:00 +05:00 is of 15 February),
``warnings`` the fields of the page that could not be read, ``date_places`` where the page
stated its confirmed date (learned per source, crawlers.crawling.sitedates). Articles
stored before this revision get the day of their UTC instant: their offset was not kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_offset_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("published_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("warnings", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("date_places", sa.JSON(), server_default="[]", nullable=False)
        )
    articles = sa.table(
        "articles", sa.column("published_at", sa.DateTime()), sa.column("published_day", sa.Date())
    )
    op.execute(
        articles.update()
        .where(articles.c.published_at.is_not(None))
        .values(published_day=sa.func.date(articles.c.published_at))
    )


def downgrade() -> None:
    for column in ("date_places", "warnings", "published_day", "published_offset_minutes"):
        op.drop_column("articles", column)
