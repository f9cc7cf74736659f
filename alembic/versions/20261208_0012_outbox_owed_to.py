"""recipients still owed a message

An e-mail relay can take a message for some recipients and refuse it for others "for now"
(a 4xx reply: a full mailbox, greylisting). Sending the message again to everyone would
double it for those who have it, and not sending it would lose it for the rest. ``owed_to``
keeps the addresses still owed it; the next attempt goes to them only. NULL: every
recipient the channel names, as for every row written before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TABLES = ("deliveries", "updates", "digests")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("owed_to", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("owed_to")
