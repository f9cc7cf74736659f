"""Leasing rows of an outbox table (deliveries, digests, updates) to one sender at a time.

Every outbox row has a status, a time it is next due and a lease (storage.models.Outbox): a
sender leases a due row, sends it, then records the outcome. A sender killed in between leaves
the row pending; once its lease runs out, another sends it again under the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import or_, select, update

from storage.db import Database
from storage.models import Delivery, Digest, Outbox, Update, utcnow

OutboxModel = type[Delivery] | type[Digest] | type[Update]


def due_ids(db: Database, model: OutboxModel, now: datetime, limit: int) -> Sequence[int]:
    """Rows of `model` due at `now` and leased to no one, oldest first."""
    with db.session() as session:
        return session.scalars(
            select(model.id)
            .where(model.status == "pending", model.next_attempt_at <= now)
            .where(or_(model.lease_until.is_(None), model.lease_until < now))
            .order_by(model.id)
            .limit(limit)
        ).all()


def take_lease(
    db: Database, model: OutboxModel, row_id: int, now: datetime, lease: timedelta
) -> bool:
    """Lease the row until ``now + lease`` and count the attempt, unless another has it."""
    with db.session() as session:
        claimed = session.execute(
            update(model)
            .where(model.id == row_id, model.status == "pending")
            .where(or_(model.lease_until.is_(None), model.lease_until < now))
            .values(lease_until=now + lease, attempts=model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return claimed.rowcount == 1  # type: ignore[attr-defined]


def record_sent(db: Database, model: OutboxModel, row_id: int) -> None:
    with db.session() as session:
        row = cast(Outbox, session.get_one(model, row_id))
        row.status, row.delivered_at = "sent", utcnow()
        row.lease_until, row.last_error = None, None


def record_failure(
    db: Database, model: OutboxModel, row_id: int, error: str, retry_at: datetime | None
) -> str:
    """Record a failed attempt: pending again at ``retry_at``, or failed for good if None."""
    with db.session() as session:
        row = cast(Outbox, session.get_one(model, row_id))
        row.last_error = error[:2000]
        row.lease_until = None
        if retry_at is None:
            row.status = "failed"
        else:
            row.next_attempt_at = retry_at
        return row.status
