"""shared schedule: each source's next due time, and the job engine's tables on PostgreSQL

`eventwatch worker` processes, on any number of machines, share one schedule: the next due
time of every source lives in `schedule_states`, with the worker crawling it now (a lease it
renews) and the last due time crawled to the end; and the crawls asked for wait in
procrastinate's job tables. Those are created on PostgreSQL only (SQLite installs run the
embedded scheduler of `eventwatch run` and need none): procrastinate's own schema, applied
once, under a lock, as several workers may start together.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JOB_TABLES = ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs",
              "procrastinate_workers")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "schedule_states",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("next_due_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("crawling_by", sa.String(length=128), nullable=True),
        sa.Column("crawling_until", storage.models.UTCDateTime(), nullable=True),
        sa.Column("done_due_at", storage.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    bind.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('eventwatch:job-engine'))")
    present = bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
    if present is None:  # its SQL holds '%' signs, which the driver would read as parameters
        bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    op.drop_table("schedule_states")
