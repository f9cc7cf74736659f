"""crawl runs: when the schedule wanted them

A crawl run records the time its source was due, so that how late the scheduler started it
(its lag) can be shown and exported. On-demand crawls and runs stored before this revision
have none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 14:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", storage.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("due_at")
