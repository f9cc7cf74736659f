"""Item pipelines: extract the article from a fetched page, then store it once.

The storage layer is imported with the first article: a crawl that finds nothing new never
loads SQLAlchemy (:mod:`crawlers.launcher.report`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.statscollectors import StatsCollector
from twisted.internet.task import LoopingCall

from crawlers.crawling.database import crawl_database, store_thread
from crawlers.crawling.heldback import HeldBackPages
from crawlers.crawling.items import PageItem
from crawlers.crawling.runledger import RunLedger
from crawlers.crawling.sitedates import SiteDateBook, stored_places
from crawlers.crawling.sitelines import SiteLineBook, stored_texts
from crawlers.launcher.report import send_ledger
from crawlers.urls import fits, normalize_url
from crawlers.workers.server import enrich_text, extract_page
from crawlers.workers.server import start as start_workers

if TYPE_CHECKING:
    from storage.articles import NewArticle
    from storage.db import Database

# Warnings of steps that run again on a text without its recurring lines.
ENRICHED_AGAIN = frozenset(("names", "mentioned dates", "near-duplicate keys", "story signals"))
Written = tuple[str, int | None]  # what storing an article did, and its id; ("store_error", None)

logger = logging.getLogger(__name__)

# A page linked where the URL guess said no article is kept only when it holds this much text:
# a gallery or archive index can pass the ordinary bar with its captions.
TRIAL_MIN_CHARS = 600


def _count(stats: StatsCollector | None, key: str, count: int = 1) -> None:
    if stats is not None:
        stats.inc_value(f"eventwatch/{key}", count)


def _ledger(crawler: Crawler) -> RunLedger | None:
    """The crawl's record of failed pages and links (:mod:`crawlers.crawling.runledger`)."""
    ledger = getattr(getattr(crawler, "spider", None), "ledger", None)
    return ledger if isinstance(ledger, RunLedger) else None


def _linked(item: PageItem) -> str:
    """The URL as the page was linked, before redirects: the one its next crawl sees."""
    return item.redirects[0] if item.redirects else item.url


def _storable_url(item: PageItem) -> str:
    """The page's URL; the URL it was linked by when a redirect led somewhere too long to
    store (the crawl follows no such link itself)."""
    return item.url if fits(item.url) else _linked(item)


class ExtractPipeline:
    """A page without an article is an ordinary outcome, counted in the run's stats and
    dropped at debug level: Scrapy would log it as a warning, and the crawl's stderr is
    read into the caller's memory (:mod:`crawlers.launcher.runner`)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.workers = crawler.settings.getint("EVENTWATCH_EXTRACT_WORKERS")
        self.server_started = False
        database = crawler.settings.get("EVENTWATCH_DATABASE")
        self.site_lines = SiteLineBook(stored_texts(database))
        self.date_places = SiteDateBook(stored_places(database))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.request_scheduled, signal=signals.request_scheduled)
        return pipeline

    def request_scheduled(self, request: Request) -> None:
        """The first article this source asks for starts the workers' fork server while the
        page downloads (another source's pipeline finds it running)."""
        if not self.server_started and request.meta.get("kind") == "article":
            start_workers(self.workers)
            self.server_started = True

    async def process_item(self, item: PageItem) -> NewArticle:
        from storage.articles import NewArticle

        ledger = _ledger(self.crawler)
        page_url = _storable_url(item)
        try:
            places = self.date_places.places(item.source)
            prepared = await extract_page(item.html, page_url, self.workers, item.date_hint, places)
        except Exception as exc:  # a broken page is recorded, never fatal to the crawl
            _count(self.stats, "extract_error")
            logger.warning("source=%s url=%s extraction failed: %r", item.source, item.url, exc)
            if ledger is not None:
                ledger.failed(_linked(item), "extract", f"extraction failed: {exc!r}")
            raise DropItem(f"extraction failed: {exc!r}", log_level="DEBUG") from exc
        if ledger is not None:
            ledger.succeeded(_linked(item))
        if prepared is None or (item.trial and len(prepared.found.text) < TRIAL_MIN_CHARS):
            _count(self.stats, "not_article")
            if ledger is not None and item.trial:  # not tried again for a while
                ledger.not_articles.add(normalize_url(_linked(item)))
            raise DropItem(f"no article at {item.url}", log_level="DEBUG")
        found, named, keys = prepared.found, prepared.named, prepared.keys
        self.date_places.learn(item.source, found.date_places)
        warnings = list(found.warnings)
        text = self.site_lines.clean(item.source, found.url, found.text)
        if text != found.text:  # recurring lines went: what depends on the text, again
            warnings = [w for w in warnings if w.split(":")[0] not in ENRICHED_AGAIN]
            named, keys, warnings = await enrich_text(
                found.title, text, found.published_at, warnings, found.language, self.workers
            )
        return NewArticle(
            source=item.source,
            url=normalize_url(page_url),
            canonical_url=found.url,
            display_url=found.display_url or page_url,
            aliases=tuple(alias for alias in map(normalize_url, item.redirects) if fits(alias)),
            title=found.title,
            text=text,
            published_at=found.published_at,
            published_offset_minutes=found.published_offset_minutes,
            published_day=found.published_day,
            date_source=found.date_source,
            authors=found.authors,
            language=found.language,
            languages=found.languages,
            places=named.places,
            organisations=named.organisations,
            dates_mentioned=named.dates,
            signals=named.signals,
            keys=keys,
            warnings=tuple(warnings),
            date_places=found.date_places,
        )


class StorePipeline:
    """Stores articles in batches: one transaction per BATCH_SIZE articles, and none waits
    longer than MAX_WAIT seconds (an alert is never held back by a slow crawl). Batches are written
    on the process's store thread (:func:`crawlers.crawling.database.store_thread`) while the crawl
    goes on, and counted back on the event loop, where the stats live. The spider closes only once
    every batch is written, before the run's counts are recorded; a crawl killed outright loses only
    unstored pages, which the next crawl fetches again."""

    BATCH_SIZE = 20
    MAX_WAIT = 1.0

    def __init__(
        self, crawler: Crawler, database: str, run_id: int = 0, refresh: bool = False
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.database = database
        self.run_id = run_id  # the crawl run its failed pages and link counts are recorded on
        self.refresh = refresh
        self.store_faults: dict[str, str] = {}  # URL -> why it could not be stored
        self.waiting: list[NewArticle] = []
        self.writing: set[asyncio.Future[list[Written]]] = set()
        self.oldest = 0.0
        self.timer = LoopingCall(self._store_due)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        url = settings.get("EVENTWATCH_DATABASE")
        if not url:
            raise NotConfigured("no EVENTWATCH_DATABASE")
        run_id = settings.getint("EVENTWATCH_RUN_ID")
        return cls(crawler, url, run_id, settings.getbool("EVENTWATCH_REFRESH"))

    @property
    def db(self) -> Database:
        return crawl_database(self.database)

    def open_spider(self) -> None:
        self.timer.start(self.MAX_WAIT / 2, now=False)
        ledger = _ledger(self.crawler)
        if ledger is not None and not self.refresh:
            # pages that failed wait for their next try (not with --refresh)
            held = HeldBackPages(self.database, ledger.source)
            self.crawler.spider.held_back_of = held.held_back  # type: ignore[union-attr]
            self.crawler.spider.due_again_of = held.due_again  # type: ignore[union-attr]

    def process_item(self, item: NewArticle) -> NewArticle:
        if not self.waiting:
            self.oldest = time.monotonic()
        self.waiting.append(item)
        if len(self.waiting) >= self.BATCH_SIZE:
            self._store()
        return item

    def _store_due(self) -> None:
        if self.waiting and time.monotonic() - self.oldest >= self.MAX_WAIT:
            self._store()

    def _store(self) -> None:
        """Hand the waiting articles to the store thread."""
        if not self.waiting:
            return
        # the handle opened and storage imported here, on the loop, so the thread never
        # races the loop to do either
        import storage.articles
        import storage.pagefailures  # noqa: F401

        batch, self.waiting = self.waiting, []
        loop = asyncio.get_running_loop()
        writing = loop.run_in_executor(store_thread(), self._write, self.db, batch)
        self.writing.add(writing)
        writing.add_done_callback(partial(self._written, batch))

    def _write(self, db: Database, batch: list[NewArticle]) -> list[Written]:
        """On the store thread: each article's outcome and id, or ``store_error`` and None."""
        from storage.articles import store_articles
        from storage.db import DATABASE_FAILURES
        from storage.pagefailures import DATABASE_FAULT

        try:
            return list(store_articles(db, batch))
        except DATABASE_FAILURES as exc:  # the database, not an article: locked past the
            logger.warning("%d articles could not be stored: %s", len(batch), exc)  # timeout,
            self.store_faults.update((item.url, f"{DATABASE_FAULT}{exc}") for item in batch)
            return [("store_error", None)] * len(batch)  # disk full; the next crawl has them
        except Exception:  # an article that cannot be stored: the others still go in
            return [self._write_one(db, item) for item in batch]

    def _write_one(self, db: Database, item: NewArticle) -> Written:
        from storage.articles import store_article

        try:
            return store_article(db, item)
        except Exception as exc:  # recorded on the run, never fatal to the crawl
            logger.warning("source=%s url=%s could not be stored: %s", item.source, item.url, exc)
            self.store_faults[item.url] = f"could not be stored: {exc!r}"
            return ("store_error", None)

    def _written(self, batch: list[NewArticle], writing: asyncio.Future[list[Written]]) -> None:
        """On the event loop, once the store thread is done with ``batch``."""
        self.writing.discard(writing)
        fault = None if writing.cancelled() else writing.exception()
        if writing.cancelled() or fault is not None:  # a fault of ours, not of the data
            logger.error("%d articles could not be stored", len(batch), exc_info=fault)
            _count(self.stats, "store_error", len(batch))
            return
        for item, (outcome, article_id) in zip(batch, writing.result(), strict=True):
            _count(self.stats, outcome)
            self._note(item, outcome)
            if article_id is not None:
                source, url = item.source, item.url
                logger.info("source=%s %s article %d %s", source, outcome, article_id, url)

    def _note(self, item: NewArticle, outcome: str) -> None:
        """On the run's ledger: a page stored (or known) is had; one that was not, failed."""
        ledger = _ledger(self.crawler)
        if ledger is None:
            return
        linked = item.aliases[0] if item.aliases else item.url
        if outcome == "store_error":
            reason = self.store_faults.pop(item.url, "could not be stored")
            ledger.failed(linked, "store", reason)
            return
        ledger.succeeded(linked)
        if outcome == "new" and ledger.links.was_tried(linked):
            ledger.links.kept += 1

    async def close_spider(self) -> None:
        if self.timer.running:
            self.timer.stop()
        self._store()
        while self.writing:  # each batch counted (its callback runs first) before we return
            await asyncio.wait(set(self.writing))
        await self._record_ledger()

    async def _record_ledger(self) -> None:
        """The run's failed pages and link counts, sent to the starter before the run's
        verdict (:class:`crawlers.crawling.extensions.CrawlRunRecorder`, on ``spider_closed``,
        comes after), which records them with it."""
        ledger = _ledger(self.crawler)
        if self.run_id and ledger is not None and ledger.worth_recording():
            send_ledger(self.run_id, ledger.report())
