"""Counts for /metrics, /healthz and `eventwatch status`."""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import func, select, text

from storage.db import Database
from storage.models import Article, Delivery, Digest, Source, Update

# Every status a delivery can have: queued, held for a digest, listed in a digest sent, sent,
# failed for good, or folded into another event's alert by `events merge`.
DeliveryStatus = Literal["pending", "held", "digested", "sent", "failed", "merged"]
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)


def failed_messages(db: Database) -> dict[str, int]:
    """Digests and updates that failed for good, by kind: their deliveries say nothing of it
    (a digest's stay ``digested``), so they are counted apart."""
    counts = {}
    with db.session() as session:
        for kind, model in (("digests", Digest), ("updates", Update)):
            failed = select(func.count()).select_from(model).where(model.status == "failed")
            counts[kind] = int(session.scalar(failed) or 0)
    return counts


def delivery_counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return {status: int(count) for status, count in rows}


def article_counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(
            select(Source.name, func.count(Article.id)).join(Article).group_by(Source.name)
        )
        return {name: int(count) for name, count in rows}


def reachable(db: Database) -> bool:
    """Whether the database answers, and is still the one at its path (a SQLite file)."""
    if db.file_problem() is not None:
        return False
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not reachable" to a health check
        return False
    return True
