"""articles.display_url: the page's own link, shown and sent

``canonical_url`` stays the normalised key that finds a page again (no trailing slash, no
tracking parameters); ``display_url`` is the link an analyst is given: the canonical URL the
page declares when it is valid and on the same site, else the URL fetched. Articles stored
before this revision get their normalised URL, all that was kept of them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN with a default: a batch copy of `articles` would fail on the foreign
    # keys that point at it.
    op.add_column(
        "articles",
        sa.Column("display_url", sa.String(length=2048), server_default="", nullable=False),
    )
    op.execute("UPDATE articles SET display_url = canonical_url")


def downgrade() -> None:
    op.drop_column("articles", "display_url")
