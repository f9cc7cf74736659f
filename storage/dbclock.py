"""The time leases are written and read in.

A lease (a source being crawled, an outbox row being sent) is taken by one machine and
judged run out by another, so both must read one clock. On PostgreSQL, which several
machines share, that is the database server's: a machine whose own clock runs ahead took
another's live lease for one run out, and crawled a source or sent an alert twice. SQLite
serves one machine, whose clock it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import utcnow


def database_now(session: Session) -> datetime:
    """Now, by the clock every holder of a lease in this database reads (aware, UTC)."""
    if session.get_bind().dialect.name != "postgresql":
        return utcnow()
    now: datetime = session.execute(select(func.now())).scalar_one()
    return now.astimezone(UTC)
