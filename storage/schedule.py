"""The shared schedule: when each source is next due, kept in the database so that any
worker, on any machine, can tell which crawls to ask for (monitor.worker)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from storage.db import Database
from storage.dbclock import database_now
from storage.models import CrawlRun, ScheduleState, Source


def next_due_times(db: Database) -> dict[str, datetime]:
    with db.session() as session:
        rows = session.execute(select(ScheduleState.source, ScheduleState.next_due_at)).all()
        return {source: due for source, due in rows}


def save_next_due_times(db: Database, times: Mapping[str, datetime]) -> None:
    with db.session() as session:
        for source, due in times.items():
            state = session.get(ScheduleState, source) or ScheduleState(source=source)
            state.next_due_at = due
            session.add(state)


def claim_source(
    db: Database,
    source: str,
    owner: str,
    due_at: datetime,
    length: timedelta,
    next_due: datetime | None = None,
) -> bool:
    """Take the crawl of ``source`` for its due time ``due_at``, leased for ``length`` from
    now: False when another worker's lease on it still runs, or that due time (or a later one)
    was crawled already: released as done, or closed ``ok`` by a worker that died before it
    could release it. A source the shared schedule does not know yet is next due at
    ``next_due`` (default ``due_at``). Leases are in the database's time."""
    with db.session() as session:
        now = database_now(session)
        served = (
            select(CrawlRun.id)
            .join(Source, Source.id == CrawlRun.source_id)
            .where(Source.name == source, CrawlRun.due_at >= due_at)
            .where(CrawlRun.status.in_(("ok", "timeout")))
        )
        if session.scalar(served.limit(1)) is not None:
            return False
        if session.get(ScheduleState, source) is None:
            session.add(ScheduleState(source=source, next_due_at=next_due or due_at))
            session.flush()
        taken = session.execute(
            update(ScheduleState)
            .where(ScheduleState.source == source)
            .where(or_(ScheduleState.crawling_until.is_(None), ScheduleState.crawling_until < now))
            .where(or_(ScheduleState.done_due_at.is_(None), ScheduleState.done_due_at < due_at))
            .values(crawling_by=owner, crawling_until=now + length)
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def lease_of_another(db: Database, source: str, owner: str) -> datetime | None:
    """When another worker's lease on ``source`` runs out, if it still runs: a crawl that could
    not be claimed for it waits for that, not for the source's next due time (the lease may be
    a dead worker's, renewed last just before it died)."""
    with db.session() as session:
        state = session.get(ScheduleState, source)
        if state is None or state.crawling_by in (None, owner) or state.crawling_until is None:
            return None
        return state.crawling_until if state.crawling_until > database_now(session) else None


def leased_elsewhere(db: Database, sources: Collection[str], owner: str) -> dict[str, datetime]:
    """Of ``sources``, those another process holds a live lease on (a worker, or an
    ``eventwatch crawl``), with when the lease runs out: one query for a batch of starts."""
    if not sources:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(ScheduleState.source, ScheduleState.crawling_until)
            .where(ScheduleState.source.in_(list(sources)))
            .where(ScheduleState.crawling_by.is_not(None), ScheduleState.crawling_by != owner)
            .where(ScheduleState.crawling_until > database_now(session))
        ).all()
        return {source: until for source, until in rows if until is not None}


def renew_leases(db: Database, owner: str, sources: Collection[str], length: timedelta) -> set[str]:
    """The worker is alive: its crawls' leases run on, for ``length`` from now. Returns those
    it still held; the others were taken by another process once they had run out."""
    if not sources:
        return set()
    with db.session() as session:
        until = database_now(session) + length
        renewed = session.execute(
            update(ScheduleState)
            .where(ScheduleState.source.in_(list(sources)), ScheduleState.crawling_by == owner)
            .values(crawling_until=until)
            .returning(ScheduleState.source)
            .execution_options(synchronize_session=False)
        )
        return set(renewed.scalars())


def release_source(db: Database, source: str, owner: str, done_due_at: datetime | None) -> None:
    """The crawl ended; ``done_due_at``: the due time it served, when it ran to its end."""
    values: dict[str, object] = {"crawling_by": None, "crawling_until": None}
    if done_due_at is not None:
        values["done_due_at"] = done_due_at
    with db.session() as session:
        session.execute(
            update(ScheduleState)
            .where(ScheduleState.source == source, ScheduleState.crawling_by == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
