"""Storing articles once: by URL, by content, and grouping reports of one story into events."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.grouping import (
    StoryKeys,
    find_event,
    hold_grouping_lock,
    join_event,
    record_bands,
)
from storage.models import Article, ArticleUrl, Base, Source, utcnow
from storage.similarity import TextKeys, text_keys

logger = logging.getLogger(__name__)

LOOKUP_CHUNK = 500  # URLs per query: far below any database's limit on bound parameters

# Run for every article stored, as Core statements on the session's connection; built once
# (see storage.grouping). An article URL's row names the article's source as well.
_KNOWN_URLS = select(ArticleUrl.url, ArticleUrl.article_id, ArticleUrl.source_id).where(
    ArticleUrl.url.in_(bindparam("urls", expanding=True))
)
# Plain INSERTs into the tables (not the ORM's insert of the classes): see _insert.
_ARTICLES = Base.metadata.tables[Article.__tablename__]
_INSERT_ARTICLE = insert(_ARTICLES)
_INSERT_URL = insert(Base.metadata.tables[ArticleUrl.__tablename__])
_SAME_WORDS_FROM_SOURCE = select(Article.id, Article.source_id).where(
    Article.source_id == bindparam("source_id"), Article.content_hash == bindparam("digest")
)
_SEEN_AGAIN = update(_ARTICLES).where(_ARTICLES.c.id == bindparam("article_id"))


@dataclass(frozen=True, slots=True)
class NewArticle:
    source: str
    url: str
    canonical_url: str
    title: str
    text: str
    published_at: datetime | None = None  # aware
    date_source: str | None = None
    published_offset_minutes: int | None = None  # the offset the page gave, if any
    published_day: date | None = None  # the day the page states; else published_at's in UTC
    authors: tuple[str, ...] = ()
    language: str | None = None
    languages: tuple[str, ...] = field(default_factory=tuple)
    aliases: tuple[str, ...] = ()  # other URLs that led here (redirects), normalised
    places: tuple[str, ...] = ()  # canonical gazetteer names, in order of first mention
    organisations: tuple[str, ...] = ()
    dates_mentioned: tuple[tuple[str, date, date], ...] = ()  # (words, first day, last day)
    keys: TextKeys | None = None  # of exactly this title and text, if computed beforehand
    display_url: str = ""  # the page's own link, shown and sent; default: canonical_url
    warnings: tuple[str, ...] = ()  # fields of the page that could not be read
    date_places: tuple[str, ...] = ()  # where the page stated its confirmed date


Outcome = Literal["new", "duplicate"]
Stored = tuple[Outcome, int]  # what happened, and the article's id
Known = dict[str, tuple[int, int]]  # URL -> (article id, the article's source id)


def ensure_source(session: Session, name: str) -> Source:
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        source = Source(name=name)
        session.add(source)
        session.flush()
    return source


def stored_urls(session: Session, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` are stored, as an article's URL or alias: a query per LOOKUP_CHUNK."""
    found: set[str] = set()
    for start in range(0, len(urls), LOOKUP_CHUNK):
        found.update(_known_urls(session, urls[start : start + LOOKUP_CHUNK]))
    return found


def _known_urls(session: Session, urls: Iterable[str]) -> Known:
    """Which of ``urls`` are stored already, and for which article: one query for all."""
    rows = session.connection().execute(_KNOWN_URLS, {"urls": sorted(set(urls))})
    return {url: (article_id, source_id) for url, article_id, source_id in rows}


def _existing(
    session: Session, source_id: int, urls: tuple[str, ...], known: Known, digest: str
) -> tuple[int, int] | None:
    """The stored article (its id and source id) at one of ``urls``, else the one with the
    same words from the same source; None for a new article."""
    for url in urls:
        if url in known:
            return known[url]
    params = {"source_id": source_id, "digest": digest}
    row = session.connection().execute(_SAME_WORDS_FROM_SOURCE, params).first()
    return (row.id, row.source_id) if row else None


def _add_aliases(
    session: Session, article_id: int, source_id: int, urls: tuple[str, ...], known: Known
) -> None:
    rows = [
        {"url": url, "article_id": article_id, "source_id": source_id}
        for url in dict.fromkeys(urls)
        if url not in known
    ]
    if rows:
        session.connection().execute(_INSERT_URL, rows)


def _dates_json(item: NewArticle) -> list[dict[str, Any]]:
    return [
        {"text": words, "start": first.isoformat(), "end": last.isoformat()}
        for words, first, last in item.dates_mentioned
    ]


def _published_day(item: NewArticle) -> date | None:
    if item.published_day is not None or item.published_at is None:
        return item.published_day
    return item.published_at.astimezone(UTC).date()


def _insert(session: Session, source: Source, item: NewArticle, given: TextKeys) -> int:
    """The new article's row and band keys, in the event it reports; its id."""
    now = utcnow()
    when = item.published_at or now
    keys = StoryKeys(given.digest, given.title_key, given.shingles, given.bands, when)
    row: dict[str, Any] = {
        "source_id": source.id,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "display_url": item.display_url or item.canonical_url,
        "title": item.title,
        "title_key": keys.title_key,
        "text": item.text,
        "published_at": item.published_at,
        "published_offset_minutes": item.published_offset_minutes,
        "published_day": _published_day(item),
        "date_source": item.date_source,
        "warnings": list(item.warnings),
        "date_places": list(item.date_places),
        "authors": list(item.authors),
        "language": item.language,
        "languages": list(item.languages),
        "content_hash": given.digest,
        "first_seen": now,
        "last_seen": now,
        "places": list(item.places),
        "organisations": list(item.organisations),
        "dates_mentioned": _dates_json(item),
    }
    hold_grouping_lock(session)
    names = {key: row[key] for key in ("places", "organisations", "dates_mentioned")}
    event_id = join_event(session, find_event(session, keys), item.title, names, now)
    # The article's row goes in as a plain INSERT, like its event, URLs and band keys: nothing
    # in this transaction reads them back through the session, so an ORM flush would be work
    # for nothing on every article a crawl stores.
    inserted = session.connection().execute(_INSERT_ARTICLE, {**row, "event_id": event_id})
    (article_id,) = inserted.inserted_primary_key or (None,)
    if article_id is None:  # every backend reports an autoincrement key (cursor.lastrowid)
        raise RuntimeError("the database gave no id for the article just inserted")
    record_bands(session, article_id, keys)
    return article_id


def _store_once(session: Session, item: NewArticle, sources: dict[str, Source]) -> Stored:
    """``sources``: the sources looked up in this transaction, by name (a batch asks once)."""
    if item.source not in sources:
        sources[item.source] = ensure_source(session, item.source)
    source = sources[item.source]
    given = item.keys or text_keys(item.title, item.text)
    urls = (item.canonical_url, item.url, *item.aliases)
    known = _known_urls(session, urls)
    existing = _existing(session, source.id, urls, known, given.digest)
    outcome: Outcome = "duplicate"
    if existing is None:
        article_id, source_id = _insert(session, source, item, given), source.id
        outcome = "new"
    else:  # found by URL, it may be another source's: its URLs stay with it
        article_id, source_id = existing
        session.connection().execute(_SEEN_AGAIN, {"article_id": article_id, "last_seen": utcnow()})
    _add_aliases(session, article_id, source_id, urls, known)
    return outcome, article_id


def store_articles(db: Database, items: Sequence[NewArticle]) -> list[Stored]:
    """Store a crawl's batch in one transaction, each item as :func:`store_article` would.

    A crawl stores articles as they come by the dozen; one transaction for them saves a
    commit and a source lookup per article. When another crawl stored one
    of them meanwhile (a unique-key error), the batch is rolled back and stored one by one.
    """
    if not items:
        return []
    try:
        with db.session() as session:
            sources: dict[str, Source] = {}
            return [_store_once(session, item, sources) for item in items]
    except IntegrityError:
        logger.info("a batch of %d met a concurrent store; storing one by one", len(items))
        return [store_article(db, item) for item in items]


def store_article(db: Database, item: NewArticle) -> Stored:
    """Store ``item`` unless its URL or its text is already known; return what happened.

    Two crawls may race to store one article: the loser's unique-key error is retried once
    and then finds the winner's row.
    """
    for attempt in (1, 2):
        try:
            with db.session() as session:
                return _store_once(session, item, {})
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("article %s stored concurrently; re-checking", item.canonical_url)
    raise AssertionError("unreachable")
