"""The schema: one table per word of the product's vocabulary.

Alembic migrations own the schema in a real database; these models must agree with them
(``tests/test_migrations.py`` proves it). Nothing here is specific to SQLite.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

URL_LENGTH = 2048
ETAG_LENGTH = 512
LAST_MODIFIED_LENGTH = 128


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


_SURROGATE = re.compile("[\ud800-\udfff]")


class PlainText(TypeDecorator[str]):
    """Text as every database takes it. A page's JSON-LD or a server's header can carry a
    NUL, which PostgreSQL refuses in text (SQLite keeps it), or a lone surrogate, which no
    UTF-8 encodes: the NUL is dropped, the surrogate becomes U+FFFD."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else plain_text(value)


def plain_text(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
    return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = (
        Index("ix_crawl_runs_source_started", "source_id", "started_at"),
        # a source's last good run and its runs that found articles, in a few index steps
        # however long its history (storage.runs: failures_in_row, source_rhythms)
        Index("ix_crawl_runs_source_ok", "source_id", "id",
              sqlite_where=text("status = 'ok'"), postgresql_where=text("status = 'ok'")),
        Index("ix_crawl_runs_source_new", "source_id", "started_at",
              sqlite_where=text("new_articles > 0"), postgresql_where=text("new_articles > 0")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    new_articles: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(PlainText)
    due_at: Mapped[datetime | None]  # when the schedule wanted it: its lag is started_at - due_at
    # links seen, followed and skipped, by rule (crawlers.crawling.linkplan.LinkBook.counts)
    links: Mapped[dict[str, Any] | None]


class ScheduleState(Base):
    """When each source is next due, for workers that share one schedule (monitor.worker)."""

    __tablename__ = "schedule_states"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_due_at: Mapped[datetime]
    # the worker crawling it now, until when (renewed while it lives), and the last due time
    # crawled to the end: a due time is crawled once, by one worker at a time
    crawling_by: Mapped[str | None] = mapped_column(String(128))
    crawling_until: Mapped[datetime | None]
    done_due_at: Mapped[datetime | None]


class PageFailure(Base):
    """A page of a source that failed at its last try, until it is had again: one row per
    URL, with the run that last failed it and when it may be fetched again."""

    __tablename__ = "page_failures"
    __table_args__ = (
        UniqueConstraint("source_id", "url", name="uq_page_failures_source_url"),
        Index("ix_page_failures_source_last", "source_id", "last_failed_at"),
        Index("ix_page_failures_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    stage: Mapped[str] = mapped_column(String(16))  # fetch, read, extract or store
    http_status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(PlainText)
    first_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotArticlePage(Base):
    """A page linked where the URL guess said no article, tried for its content, and found to
    hold none: not tried again before ``retry_at``."""

    __tablename__ = "not_article_pages"
    __table_args__ = (UniqueConstraint("source_id", "url", name="uq_not_article_pages_source_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    tried_at: Mapped[datetime] = mapped_column(default=utcnow)
    retry_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """One real-world story; its articles are the reports of it."""

    __tablename__ = "events"
    # Newest activity first (a new report moves its event up): the web UI's and
    # `events list`'s order.
    __table_args__ = (Index("ix_events_updated_at", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(PlainText)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # its newest report's arrival
    # What its articles name, merged in the order they were stored (see storage.articles).
    places: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    organisations: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    dates_mentioned: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "content_hash", name="uq_articles_source_content"),
        Index("ix_articles_title_key", "title_key"),
        Index("ix_articles_unmatched", "matched_at", "id"),
        Index("ix_articles_source_first_seen", "source_id", "first_seen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    canonical_url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)  # dedup key
    # The page's own link, as shown and sent: its declared canonical URL, else as fetched.
    display_url: Mapped[str] = mapped_column(String(URL_LENGTH), server_default="")
    title: Mapped[str] = mapped_column(PlainText)
    title_key: Mapped[str] = mapped_column(String(512))
    text: Mapped[str] = mapped_column(PlainText)
    published_at: Mapped[datetime | None]  # the instant, in UTC
    # The UTC offset the page gave with it (None: not given), and the calendar day the page
    # states: an article of 15 February 01:00 +05:00 is of 15 February, not 14 February.
    published_offset_minutes: Mapped[int | None] = mapped_column(Integer)
    published_day: Mapped[date | None] = mapped_column(Date)
    date_source: Mapped[str | None] = mapped_column(String(16))
    # Fields of the page that could not be read, one line each (crawlers.extraction.failsoft).
    warnings: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # Where the page stated its confirmed date (crawlers.extraction.date_places): per-site learning.
    date_places: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    authors: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    languages: Mapped[list[Any]] = mapped_column(default=list)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    matched_at: Mapped[datetime | None]
    places: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    organisations: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    dates_mentioned: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # What it says in any language (crawlers.enrichment.story_signals), and why it joined its event:
    # {"by": ..., "article": id, "score": ..., "shared": [{kind, value, weight}]} (None
    # for articles stored before the column).
    signals: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    joined: Mapped[dict[str, Any] | None]


class ArticleSignal(Base):
    """One anchor key of an article (storage.signals.anchor_keys) on its story's day: reports
    of one event in other languages share one, found by an indexed lookup by key and day."""

    __tablename__ = "article_signals"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)


class EventEdit(Base):
    """An analyst's split of an article out of its event, or merge of two events: kept, so
    what was grouped by hand can be told from what was grouped by the signals."""

    __tablename__ = "event_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "split" or "merge"
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))  # split only
    from_event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    to_event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArticleBand(Base):
    """One LSH band key of an article's text: near-duplicates share at least one
    (storage.similarity), so finding them is an indexed lookup by key."""

    __tablename__ = "article_bands"

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True, index=True)


class ArticleUrl(Base):
    """Every URL that led to a stored article, so a re-crawl never fetches it again."""

    __tablename__ = "article_urls"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)


class FetchState(Base):
    """Validators of a listing page, feed or sitemap, for conditional GET."""

    __tablename__ = "fetch_states"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(ETAG_LENGTH))
    last_modified: Mapped[str | None] = mapped_column(String(LAST_MODIFIED_LENGTH))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("rule", "event_id", name="uq_matches_rule_event"),
        Index("ix_matches_event", "event_id"),  # an event's matches (its page, its row)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    terms: Mapped[list[Any]] = mapped_column(default=list)
    snippets: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The words found for the terms, as the article wrote them.
    words: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # The sources its alert and updates have named so far, and when the last update was queued.
    told_sources: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    updated_at: Mapped[datetime | None]


class Outbox:
    """What every kind of message waiting to be sent has: a stable key receivers dedupe on,
    a status (pending, sent, failed), and its attempts."""

    key: Mapped[str] = mapped_column(String(36), unique=True)
    channel: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(PlainText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    # The addresses still owed it, after a relay took it for the others and refused these
    # for now; None: every recipient the channel names.
    owed_to: Mapped[list[Any] | None]


class Digest(Outbox, Base):
    """One message listing the alerts of a channel (or of one rule on it) held since the
    previous digest; its deliveries name it. ``slot_at`` is the time it was due."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("channel", "scope", "slot_at", name="uq_digests_channel_scope_slot"),
        Index("ix_digests_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(128))  # "": the channel's; else the rule's name
    slot_at: Mapped[datetime]
    since_at: Mapped[datetime | None]  # the previous digest's slot


class Update(Outbox, Base):
    """A short message that an alerted event gained reports from sources not named before."""

    __tablename__ = "updates"
    __table_args__ = (Index("ix_updates_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    rule: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    sources: Mapped[list[Any]] = mapped_column(default=list)  # the new ones it names


class Delivery(Outbox, Base):
    """One alert to one channel: the outbox row that dispatch works through."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("rule", "event_id", "channel", name="uq_deliveries_rule_event_channel"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_event", "event_id"),  # an event's deliveries (its page)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"))
    rule: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    # The channel, status and attempts are Outbox's. Held for a digest (status "held"), then
    # the digest that lists it (status "digested").
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id"), index=True)


class EventState(Base):
    """An analyst's triage of an event, written by the web UI and its API: read, starred,
    dismissed. An event without a row is unread, not starred and not dismissed."""

    __tablename__ = "event_states"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    starred: Mapped[bool] = mapped_column(Boolean, default=False)
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))


class SourceRequest(Base):
    """What an analyst asked of a source through the web UI, for the daemon to act on:
    a crawl now (until the daemon takes it), or hold the source whatever the config says."""

    __tablename__ = "source_requests"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    crawl_requested_at: Mapped[datetime | None]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))
