"""indexes for a long crawl history

Two partial indexes on crawl_runs, so that a source's health is read back in a few index
steps however many runs it has: its last good run (status "ok"), and its runs that found
new articles. Without them, `status` and the daemon's start read every run ever recorded:
4 s each at a million runs, and a year of 1,000 sources every 30 minutes is 17 million.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_OK = sa.text("status = 'ok'")
_NEW = sa.text("new_articles > 0")


def upgrade() -> None:
    op.create_index(
        "ix_crawl_runs_source_ok", "crawl_runs", ["source_id", "id"],
        sqlite_where=_OK, postgresql_where=_OK,
    )  # fmt: skip
    op.create_index(
        "ix_crawl_runs_source_new", "crawl_runs", ["source_id", "started_at"],
        sqlite_where=_NEW, postgresql_where=_NEW,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_crawl_runs_source_new", table_name="crawl_runs")
    op.drop_index("ix_crawl_runs_source_ok", table_name="crawl_runs")
