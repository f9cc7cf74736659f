"""Matches and deliveries: the outbox between matching and dispatch.

A match and its deliveries are written in the same transaction as the article's
``matched_at``, so a crash loses no alert and a re-run creates none twice; the unique key
(rule, event, channel) makes a second alert for one story impossible.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.events import ARTICLE_LINK, page_day, page_instant
from storage.grouping import hold_grouping_lock
from storage.leases import Lease, due_rows, owed, requeue_failed, take_lease
from storage.models import Article, Delivery, Event, Match, Source, Update, utcnow


@dataclass(frozen=True, slots=True)
class UnmatchedArticle:
    id: int
    source: str
    title: str
    text: str
    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchRecord:
    rule: str
    terms: tuple[str, ...]
    snippets: tuple[str, ...]
    channels: tuple[str, ...]
    words: tuple[str, ...] = ()  # the words found, as the article wrote them
    held: tuple[str, ...] = ()  # of `channels`, those that wait for a digest


@dataclass(frozen=True, slots=True)
class EventArticle:
    source: str
    url: str
    title: str
    published_at: datetime | None  # at the offset the page gave (UTC when it gave none)
    published_day: date | None = None  # the calendar day the page states
    language: str | None = None  # so that an alert can list its event's languages


@dataclass(frozen=True, slots=True)
class DeliveryTask:
    id: int
    key: str
    rule: str
    event_id: int
    channel: str
    attempts: int
    event_title: str
    terms: tuple[str, ...]
    snippets: tuple[str, ...]
    articles: tuple[EventArticle, ...]
    created_at: datetime
    lease: Lease  # this sender's, until the outcome is recorded
    places: tuple[str, ...] = ()  # what the event's reports name, merged
    organisations: tuple[str, ...] = ()
    dates_mentioned: tuple[tuple[str, date, date], ...] = ()  # (words, first day, last day)
    words: tuple[str, ...] = ()
    new_sources: tuple[str, ...] = ()  # an update: the sources the event gained
    owed_to: tuple[str, ...] | None = None  # the recipients still owed it; None: all


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    key: str
    rule: str
    event_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def unmatched_articles(db: Database, limit: int = 500, after: int = 0) -> list[UnmatchedArticle]:
    """Articles not yet matched, oldest first, from the one after ``after`` (an id): a
    caller that skips one it could not match still reaches those behind it."""
    with db.session() as session:
        rows = session.execute(
            select(
                Article.id,
                Source.name,
                Article.title,
                Article.text,
                Article.places,
                Article.organisations,
            )
            .join(Source, Source.id == Article.source_id)
            .where(Article.matched_at.is_(None), Article.id > after)
            .order_by(Article.id)
            .limit(limit)
        ).all()
    return [
        UnmatchedArticle(
            row.id,
            row.name,
            row.title,
            row.text,
            tuple(row.places or ()),
            tuple(row.organisations or ()),
        )
        for row in rows
    ]


def _add_match(session: Session, article: Article, record: MatchRecord) -> int:
    exists = session.scalar(
        select(Match.id).where(Match.rule == record.rule, Match.event_id == article.event_id)
    )
    if exists is not None:
        return 0
    match = Match(
        rule=record.rule,
        event_id=article.event_id,
        article_id=article.id,
        terms=list(record.terms),
        snippets=list(record.snippets),
        words=list(record.words),
        told_sources=event_sources(session, article.event_id),
    )
    session.add(match)
    session.flush()
    for channel in dict.fromkeys(record.channels):
        session.add(
            Delivery(
                key=str(uuid.uuid4()),
                match_id=match.id,
                rule=record.rule,
                event_id=article.event_id,
                channel=channel,
                status="held" if channel in record.held else "pending",
            )
        )
    return len(dict.fromkeys(record.channels))


def record_matches(db: Database, article_id: int, records: Sequence[MatchRecord]) -> int:
    """Mark the article matched and queue one delivery per new (rule, event, channel). Under
    the grouping lock, which merges and splits take too: read before it, the article's event
    could be merged away before the match was written, and the match then stood on an event
    no list shows, its alert a second one for the story."""
    with db.session() as session:
        hold_grouping_lock(session)
        article = session.get_one(Article, article_id)
        if article.matched_at is not None:
            return 0
        queued = sum(_add_match(session, article, record) for record in records)
        article.matched_at = utcnow()
        return queued


def claim_due(
    db: Database,
    lease: timedelta,
    limit: int = 100,
    model: type[Delivery | Update] = Delivery,
    skip: Collection[str] = (),
) -> Iterator[DeliveryTask]:
    """Due deliveries (or updates), each leased only as it is handed over, so that two
    dispatchers never send one at once: a lease taken for a whole batch ran out while the rows
    before it were sent, and another dispatcher sent the rest again. None of a channel in
    `skip`, which the caller may add to while it goes through them."""
    for row_id, channel in due_rows(db, model, limit, skip):
        if channel in skip:
            continue
        task = _claim(db, model, row_id, lease)
        if task is not None:
            yield task


def _claim(
    db: Database, model: type[Delivery | Update], row_id: int, length: timedelta
) -> DeliveryTask | None:
    lease = take_lease(db, model, row_id, length)
    if lease is None:
        return None
    with db.session() as session:
        row: Delivery | Update = session.get_one(model, row_id)  # type: ignore[assignment]
        return _task(session, row, lease)


def _task(session: Session, delivery: Delivery | Update, lease: Lease) -> DeliveryTask:
    match = session.get_one(Match, delivery.match_id)
    event = session.get_one(Event, delivery.event_id)
    return DeliveryTask(
        id=delivery.id,
        key=delivery.key,
        rule=delivery.rule,
        event_id=delivery.event_id,
        channel=delivery.channel,
        attempts=delivery.attempts,
        event_title=event.title,
        terms=tuple(match.terms),
        snippets=tuple(match.snippets),
        articles=tuple(event_articles(session, delivery.event_id)),
        created_at=match.created_at,
        lease=lease,
        places=tuple(event.places or ()),
        organisations=tuple(event.organisations or ()),
        dates_mentioned=tuple(_dates_mentioned(event.dates_mentioned)),
        words=tuple(match.words or ()),
        new_sources=tuple(delivery.sources) if isinstance(delivery, Update) else (),
        owed_to=owed(delivery.owed_to),
    )


def _dates_mentioned(stored: object) -> Iterator[tuple[str, date, date]]:
    """The event's dates as (words, first day, last day). An entry of any other shape (written
    by another version, or damaged) is left out: an alert never waits on what it shows beside
    the news."""
    for entry in stored if isinstance(stored, list) else ():
        if not isinstance(entry, dict):
            continue
        text, start, end = entry.get("text"), entry.get("start"), entry.get("end")
        if not (isinstance(text, str) and isinstance(start, str) and isinstance(end, str)):
            continue
        try:
            yield text, date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            continue


def event_articles(session: Session, event_id: int) -> list[EventArticle]:
    rows = session.execute(
        select(
            Source.name,
            ARTICLE_LINK,
            Article.title,
            Article.published_at,
            Article.published_offset_minutes,
            Article.published_day,
            Article.language,
        )
        .join(Source, Source.id == Article.source_id)
        .where(Article.event_id == event_id)
        .order_by(Article.id)
    ).all()
    return [
        EventArticle(name, url, title, page_instant(at, offset), page_day(day, at), language)
        for name, url, title, at, offset, day, language in rows
    ]


def event_sources(session: Session, event_id: int) -> list[str]:
    """The names of the sources that reported the event, in the order they first did."""
    rows = session.scalars(
        select(Source.name)
        .join(Article, Article.source_id == Source.id)
        .where(Article.event_id == event_id)
        .order_by(Article.id)
    )
    return list(dict.fromkeys(rows))


def list_deliveries(
    db: Database, status: str | None = None, limit: int = 1000
) -> list[DeliveryRow]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        query = query.where(Delivery.status == status)
    with db.session() as session:
        return [delivery_row(d) for d in session.scalars(query)]


def delivery_row(d: Delivery) -> DeliveryRow:
    return DeliveryRow(
        d.id, d.key, d.rule, d.event_id, d.channel, d.status, d.attempts,
        d.next_attempt_at, d.last_error, d.created_at, d.delivered_at,
    )  # fmt: skip


def requeue(db: Database, ids: Iterable[int] = (), *, all_failed: bool = False) -> int:
    """Put failed deliveries (every one, or those named) back in the queue
    (:func:`storage.leases.requeue_failed`)."""
    return requeue_failed(db, Delivery, None if all_failed else ids)


def delivery_statuses(db: Database, ids: Iterable[int]) -> dict[int, str]:
    """The status of each of ``ids`` that names a delivery; unknown ids are left out."""
    chosen = list(ids)
    with db.session() as session:
        rows = session.execute(select(Delivery.id, Delivery.status).where(Delivery.id.in_(chosen)))
        return {delivery_id: status for delivery_id, status in rows}
