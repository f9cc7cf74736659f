"""triage of events, requests to sources, events by last activity

An analyst's triage of each event (read, starred, dismissed; written by the web UI and its
API), what the web UI asked of each source (a crawl now, or held whatever the config says),
an index on events.updated_at, the time of an event's newest report (the web UI and
`events list` show the newest activity first), and indexes on the event of matches and
deliveries (an event's page).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_updated_at", ["updated_at"], unique=False)
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index("ix_matches_event", ["event_id"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_event", ["event_id"], unique=False)
    op.create_table(
        "event_states",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.Column("starred", sa.Boolean(), nullable=False),
        sa.Column("dismissed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "source_requests",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("crawl_requested_at", sa.DateTime(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("source_requests")
    op.drop_table("event_states")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_event")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_event")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_updated_at")
