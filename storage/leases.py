"""Leasing rows of an outbox table (deliveries, digests, updates) to one sender at a time.

Every outbox row has a status, a time it is next due and a lease (storage.models.Outbox): a
sender leases a due row, sends it, then records the outcome. A sender killed in between leaves
the row pending; once its lease runs out, another sends it again under the same key. Leases
are read in the database's time (:mod:`storage.dbclock`), which every sender shares.

The lease's end, as its holder wrote it, is the holder's proof: a sender renews its lease
while a send takes long (:func:`kept`), and records the outcome only while the lease is still
the one it holds. A sender that lost its lease (it stalled past it and another took the row)
can then neither renew it nor overwrite the other sender's outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.db import DATABASE_FAILURES, Database
from storage.dbclock import database_now
from storage.models import Delivery, Digest, Update, utcnow

OutboxModel = type[Delivery] | type[Digest] | type[Update]
logger = logging.getLogger(__name__)


@dataclass
class Lease:
    """A row of ``model`` leased to this sender until ``until`` (moved on by each renewal)."""

    model: OutboxModel
    row_id: int
    until: datetime


def due_rows(
    db: Database, model: OutboxModel, limit: int, skip: Collection[str] = ()
) -> Sequence[tuple[int, str]]:
    """(id, channel) of the rows of `model` due now and leased to no one, oldest first,
    leaving out the channels in `skip`."""
    with db.session() as session:
        now = database_now(session)
        query = (
            select(model.id, model.channel)
            .where(model.status == "pending", model.next_attempt_at <= now)
            .where(or_(model.lease_until.is_(None), model.lease_until < now))
        )
        if skip:
            query = query.where(model.channel.not_in(sorted(skip)))
        rows = session.execute(query.order_by(model.id).limit(limit)).all()
        return [(row_id, channel) for row_id, channel in rows]


def take_lease(db: Database, model: OutboxModel, row_id: int, length: timedelta) -> Lease | None:
    """Lease the row for ``length`` from now and count the attempt, unless another has it."""
    with db.session() as session:
        now = database_now(session)
        until = now + length
        claimed = session.execute(
            update(model)
            .where(model.id == row_id, model.status == "pending")
            .where(or_(model.lease_until.is_(None), model.lease_until < now))
            .values(lease_until=until, attempts=model.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return Lease(model, row_id, until) if claimed.rowcount == 1 else None  # type: ignore[attr-defined]


def write_if_held(session: Session, lease: Lease, **values: Any) -> bool:
    """Write ``values`` to the leased row, in ``session``, if the lease is still the one held."""
    model = lease.model
    done = session.execute(
        update(model)
        .where(model.id == lease.row_id, model.status == "pending")
        .where(model.lease_until == lease.until)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def renew_lease(db: Database, lease: Lease, length: timedelta) -> bool:
    """Hold the row ``length`` longer from now; False if the lease was lost meanwhile."""
    with db.session() as session:
        until = database_now(session) + length
        if not write_if_held(session, lease, lease_until=until):
            return False
    lease.until = until
    return True


@contextmanager
def kept(db: Database, lease: Lease, length: timedelta) -> Iterator[None]:
    """Renew ``lease`` every third of its length while the block runs (a send): a send that
    takes longer than a lease stays this sender's, while a sender that dies lets go of the
    row within one length. A renewal the database refuses is tried again at the next."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(length.total_seconds() / 3):
            try:
                if not renew_lease(db, lease, length):
                    logger.warning("%s %d: lease lost during its send", lease.model.__tablename__,
                                   lease.row_id)  # fmt: skip
                    return
            except DATABASE_FAILURES as exc:
                logger.warning("lease of %s %d not renewed: %s", lease.model.__tablename__,
                               lease.row_id, exc)  # fmt: skip

    renewer = threading.Thread(target=renew, name="lease-renewal", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def requeue_failed(db: Database, model: OutboxModel, ids: Iterable[int] | None = None) -> int:
    """The rows of ``model`` that failed for good (all, or those of ``ids``), due again now
    with a fresh attempt budget. Only failed ones: a pending one may be on its way this
    instant, and a held or digested delivery goes out in its digest."""
    chosen = model.status == "failed"
    if ids is not None:
        chosen = chosen & model.id.in_(list(ids))
    with db.session() as session:
        now = database_now(session)
        done = session.execute(
            update(model)
            .where(chosen)
            .values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]


def owed(stored: object) -> tuple[str, ...] | None:
    """A row's ``owed_to`` as a tuple; None (every recipient) for anything but a list."""
    return tuple(str(address) for address in stored) if isinstance(stored, list) else None


def sent_values(note: str | None, *, partly_before: bool = False) -> dict[str, Any]:
    """What a row sent gets written (``note``: not to every recipient). After an attempt that
    reached only some recipients (``partly_before``), its error stays when there is no new
    note: it names who was refused, and why."""
    values: dict[str, Any] = {"status": "sent", "delivered_at": utcnow(), "lease_until": None}
    if note is not None or not partly_before:
        values["last_error"] = note
    return values


def record_sent(
    db: Database, lease: Lease, note: str | None = None, *, partly_before: bool = False
) -> bool:
    """The row is sent (see :func:`sent_values`); False (nothing written) if the lease had
    passed to another sender."""
    with db.session() as session:
        return write_if_held(session, lease, **sent_values(note, partly_before=partly_before))


def record_failure(
    db: Database,
    lease: Lease,
    error: str,
    retry_at: datetime | None,
    owed_to: tuple[str, ...] | None = None,
) -> str | None:
    """Record a failed attempt: pending again at ``retry_at``, or failed for good if None;
    ``owed_to``: it reached the other recipients, so that the next attempt goes to these only.
    Returns the row's new status; None (nothing written) if the lease had passed on."""
    values: dict[str, Any] = {"last_error": error[:2000], "lease_until": None}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    if owed_to is not None:
        values["owed_to"] = list(owed_to)
    with db.session() as session:
        if not write_if_held(session, lease, **values):
            return None
    return "failed" if retry_at is None else "pending"
