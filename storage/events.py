"""Reading events back: newest first, each with every source that reported it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import Article, Event, Source


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: int
    url: str
    source: str
    title: str
    published_at: datetime | None
    language: str | None
    languages: tuple[str, ...]
    text: str
    first_seen: datetime
    sources: tuple[str, ...]
    urls: tuple[str, ...]
    places: tuple[str, ...] = ()  # merged over the event's articles
    organisations: tuple[str, ...] = ()
    dates_mentioned: tuple[dict[str, Any], ...] = ()  # {"text", "start", "end"}, by start


def _first_articles(
    session: Session, source: str | None, since: datetime | None, limit: int
) -> Sequence[Article]:
    """The first-stored article of each matching event, newest event first."""
    first = select(func.min(Article.id).label("id")).group_by(Article.event_id).subquery()
    query = select(Article).join(first, first.c.id == Article.id)
    if source:
        has_source = (
            select(Article.event_id).join(Source).where(Source.name == source).scalar_subquery()
        )
        query = query.where(Article.event_id.in_(has_source))
    if since:
        query = query.where(func.coalesce(Article.published_at, Article.first_seen) >= since)
    return session.scalars(query.order_by(Article.event_id.desc()).limit(limit)).all()


def list_events(
    db: Database, *, source: str | None = None, since: datetime | None = None, limit: int = 100
) -> Iterator[EventView]:
    with db.session() as session:
        firsts = _first_articles(session, source, since, limit)
        for article in firsts:
            reports = session.execute(
                select(Source.name, Article.canonical_url)
                .join(Source, Source.id == Article.source_id)
                .where(Article.event_id == article.event_id)
                .order_by(Article.id)
            ).all()
            event = session.get_one(Event, article.event_id)
            yield EventView(
                event_id=article.event_id,
                url=article.canonical_url,
                source=reports[0][0],
                title=article.title,
                published_at=article.published_at,
                language=article.language,
                languages=tuple(article.languages or ()),
                text=article.text,
                first_seen=article.first_seen,
                sources=tuple(dict.fromkeys(name for name, _ in reports)),
                urls=tuple(url for _, url in reports),
                places=tuple(event.places or ()),
                organisations=tuple(event.organisations or ()),
                dates_mentioned=tuple(event.dates_mentioned or ()),
            )


def count_articles(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(Article.id))) or 0)


def count_events(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(Event.id))) or 0)
