"""Reading events back: newest first, each with every source that reported it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Article, Event, Source

# An article's link as shown and sent; rows written without one (bulk loads that predate
# the column's use) fall back on the normalised URL.
ARTICLE_LINK = func.coalesce(func.nullif(Article.display_url, ""), Article.canonical_url)


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: int
    url: str
    source: str
    title: str
    published_at: datetime | None  # at the offset the page gave (UTC when it gave none)
    language: str | None
    languages: tuple[str, ...]
    text: str
    first_seen: datetime
    sources: tuple[str, ...]
    urls: tuple[str, ...]
    places: tuple[str, ...] = ()  # merged over the event's articles
    organisations: tuple[str, ...] = ()
    dates_mentioned: tuple[dict[str, Any], ...] = ()  # {"text", "start", "end"}, by start
    published_day: date | None = None  # the calendar day the page states


# The widest UTC offset in use: a page's day can begin this long before its UTC day.
WIDEST_OFFSET = timedelta(hours=14)


def page_instant(at: datetime | None, offset_minutes: int | None) -> datetime | None:
    """A stored UTC instant at the offset its page gave, for showing it as the page did."""
    if at is None or offset_minutes is None:
        return at
    return _utc(at).astimezone(timezone(timedelta(minutes=offset_minutes)))


def page_day(day: date | None, at: datetime | None) -> date | None:
    """The day an article's page states; the day of its UTC instant for one stored without."""
    if day is not None or at is None:
        return day
    return _utc(at).date()


def _first_articles(
    session: Session, source: str | None, since: datetime | None, limit: int
) -> list[Article]:
    """The first-stored article of each matching event, newest event first.

    Walks events down their primary key in chunks, so the first page costs a few indexed
    lookups however many articles are stored. An article is never seen before it is published
    (future dates are refused), so ``since`` can first narrow events by their indexed
    ``first_seen`` and then be checked exactly on the first article.
    """
    events = select(Event.id).order_by(Event.id.desc())
    if since:  # a page's day can begin before its UTC day: first_seen narrows loosely
        events = events.where(Event.first_seen >= since - WIDEST_OFFSET)
    if source:
        reported = select(Article.event_id).join(Source).where(Source.name == source)
        events = events.where(Event.id.in_(reported))
    found: list[Article] = []
    chunk, offset = max(2 * limit, 50), 0
    while len(found) < limit:
        ids = session.scalars(events.offset(offset).limit(chunk)).all()
        if not ids:
            break
        offset += chunk
        firsts: dict[int, Article] = {}
        for article in session.scalars(
            select(Article).where(Article.event_id.in_(ids)).order_by(Article.id.desc())
        ):
            firsts[article.event_id] = article  # the lowest id wins: ordered descending
        for event_id in ids:
            first = firsts.get(event_id)
            if first is not None and _since(first, since):
                found.append(first)
    return found[:limit]


def _since(article: Article, since: datetime | None) -> bool:
    """Whether the article is of ``since`` or later: a day given alone is compared with the
    day the page states, a time with the instant."""
    if since is None:
        return True
    day = page_day(article.published_day, article.published_at)
    if day is not None and since.time() == time():
        return day >= since.date()
    return _utc(article.published_at or article.first_seen) >= _utc(since)


def _utc(value: datetime) -> datetime:
    """Stored times are UTC, with or without their zone; compare them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def list_events(
    db: Database, *, source: str | None = None, since: datetime | None = None, limit: int = 100
) -> Iterator[EventView]:
    with db.session() as session:
        firsts = _first_articles(session, source, since, limit)
        for start in range(0, len(firsts), _DETAILS_CHUNK):
            chunk = firsts[start : start + _DETAILS_CHUNK]
            reports, events = _details(session, [article.event_id for article in chunk])
            for article in chunk:
                reported, event = reports[article.event_id], events[article.event_id]
                yield EventView(
                    event_id=article.event_id,
                    url=article.display_url or article.canonical_url,
                    source=reported[0][0],
                    title=article.title,
                    published_at=page_instant(
                        article.published_at, article.published_offset_minutes
                    ),
                    published_day=page_day(article.published_day, article.published_at),
                    language=article.language,
                    languages=tuple(article.languages or ()),
                    text=article.text,
                    first_seen=article.first_seen,
                    sources=tuple(dict.fromkeys(name for name, _ in reported)),
                    urls=tuple(url for _, url in reported),
                    places=tuple(event.places or ()),
                    organisations=tuple(event.organisations or ()),
                    dates_mentioned=tuple(event.dates_mentioned or ()),
                )


# Events whose reports and places are read together: two queries for a page, however many
# events it shows, rather than two per event.
_DETAILS_CHUNK = 500


def _details(
    session: Session, event_ids: list[int]
) -> tuple[dict[int, list[tuple[str, str]]], dict[int, Event]]:
    """Each event's reports as (source, URL), first stored first, and the event itself."""
    reports: dict[int, list[tuple[str, str]]] = {event_id: [] for event_id in event_ids}
    rows = session.execute(
        select(Article.event_id, Source.name, ARTICLE_LINK)
        .join(Source, Source.id == Article.source_id)
        .where(Article.event_id.in_(event_ids))
        .order_by(Article.id)
    )
    for event_id, name, url in rows:
        reports[event_id].append((name, url))
    events = session.scalars(select(Event).where(Event.id.in_(event_ids)))
    return reports, {event.id: event for event in events}


def count_articles(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(Article.id))) or 0)
