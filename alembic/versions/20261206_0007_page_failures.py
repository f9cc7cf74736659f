"""page failures, pages tried and found no article, link counts of crawl runs

Each page that failed in a crawl (URL, stage, HTTP status, reason, tries and when it may be
fetched again), one row per source and URL; pages linked where the URL guess said no article,
tried and found to hold none, with when they may be tried again; and per crawl run, the links
it saw, followed and skipped, by rule. Existing runs have no link counts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("links", sa.JSON(), nullable=True))
    op.create_table(
        "page_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "url", name="uq_page_failures_source_url"),
    )
    with op.batch_alter_table("page_failures", schema=None) as batch_op:
        batch_op.create_index("ix_page_failures_run", ["run_id"], unique=False)
        batch_op.create_index(
            "ix_page_failures_source_last", ["source_id", "last_failed_at"], unique=False
        )
    op.create_table(
        "not_article_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("tried_at", sa.DateTime(), nullable=False),
        sa.Column("retry_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "url", name="uq_not_article_pages_source_url"),
    )


def downgrade() -> None:
    op.drop_table("not_article_pages")
    with op.batch_alter_table("page_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_page_failures_source_last")
        batch_op.drop_index("ix_page_failures_run")
    op.drop_table("page_failures")
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("links")
