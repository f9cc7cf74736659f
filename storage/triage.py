"""What analysts write through the web UI: an event's triage (read, starred, dismissed) and
requests to sources (crawl now, hold), which the daemon picks up; and the day-by-day counts
its charts draw."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.db import Database
from storage.event_edits import merged_into
from storage.models import Article, Event, EventState, Match, Source, SourceRequest, utcnow

TRIAGE_FLAGS = ("read", "starred", "dismissed")


def set_triage(db: Database, event_id: int, by: str, **flags: bool) -> int | None:
    """Set some of an event's flags (read, starred, dismissed). Returns the event they were
    set on: for an event merged away (a page opened before the merge), the one its reports
    went to, where they had been set on an event no list shows; None when no such event."""
    unknown = set(flags) - set(TRIAGE_FLAGS)
    if unknown:
        raise ValueError(f"no triage flag {', '.join(sorted(unknown))}")
    with db.session() as session:
        if session.get(Event, event_id) is None:
            return None
        event_id = merged_into(session, event_id) or event_id
        state = session.get(EventState, event_id)
        if state is None:
            state = EventState(event_id=event_id, read=False, starred=False, dismissed=False)
            session.add(state)
        for name, value in flags.items():
            setattr(state, name, value)
        state.updated_at, state.updated_by = utcnow(), by
    return event_id


def _request(session: Session, source: str) -> SourceRequest:
    found = session.get(SourceRequest, source)
    if found is None:
        found = SourceRequest(source=source, disabled=False)
        session.add(found)
    return found


def request_crawl(db: Database, source: str, by: str) -> None:
    """Ask for a crawl of ``source`` now; the daemon takes the request (``take_crawl_requests``)."""
    with db.session() as session:
        request = _request(session, source)
        request.crawl_requested_at = request.updated_at = utcnow()
        request.updated_by = by


def take_crawl_requests(db: Database) -> list[str]:
    """The sources asked to be crawled now, the requests cleared in the same transaction."""
    with db.session() as session:
        asked = list(session.scalars(
            select(SourceRequest.source).where(SourceRequest.crawl_requested_at.is_not(None))
        ))  # fmt: skip
        if asked:
            session.execute(
                update(SourceRequest)
                .where(SourceRequest.source.in_(asked))
                .values(crawl_requested_at=None)
            )
        return asked


def set_source_held(db: Database, source: str, held: bool, by: str) -> None:
    """Hold (disable) a source, or let it be crawled again as its config says."""
    with db.session() as session:
        request = _request(session, source)
        request.disabled, request.updated_at, request.updated_by = held, utcnow(), by


def source_requests(db: Database) -> dict[str, SourceRequest]:
    with db.session() as session:
        rows = list(session.scalars(select(SourceRequest)))
        session.expunge_all()
        return {row.source: row for row in rows}


def held_sources(db: Database) -> set[str]:
    with db.session() as session:
        query = select(SourceRequest.source).where(SourceRequest.disabled.is_(True))
        return set(session.scalars(query))


def _by_day(rows: Iterable[tuple[str, object, int]]) -> dict[str, Counter[date]]:
    counts: dict[str, Counter[date]] = {}
    for key, day, count in rows:
        when = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        counts.setdefault(key, Counter())[when] += int(count)
    return counts


def rule_hits_by_day(
    db: Database, days: int, now: datetime | None = None
) -> dict[str, Counter[date]]:
    """Per rule, the events it matched on each of the last ``days`` days (UTC)."""
    since = (now or utcnow()) - timedelta(days=days)
    day = func.date(Match.created_at)
    with db.session() as session:
        rows = session.execute(
            select(Match.rule, day, func.count())
            .where(Match.created_at >= since)
            .group_by(Match.rule, day)
        ).all()
    return _by_day(rows)


def articles_by_day(
    db: Database, days: int, now: datetime | None = None
) -> dict[str, Counter[date]]:
    """Per source, the articles first seen on each of the last ``days`` days (UTC), counted
    by the database along the (source, first_seen) index."""
    since = (now or utcnow()) - timedelta(days=days)
    day = func.date(Article.first_seen)
    with db.session() as session:
        rows = session.execute(
            select(Source.name, day, func.count())
            .join(Source, Source.id == Article.source_id)
            .where(Article.first_seen >= since)
            .group_by(Source.name, day)
        ).all()
    return _by_day(rows)


def event_count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(Event.id))) or 0)
