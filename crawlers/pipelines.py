"""Item pipelines: extract the article from a fetched page, then store it once."""

from __future__ import annotations

import logging
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawlers.entities import find_entities
from crawlers.items import PageItem
from crawlers.sitelines import SiteLineBook, stored_texts
from crawlers.urls import normalize_url
from crawlers.workers import extract_page
from storage.articles import NewArticle, store_article, text_keys
from storage.db import Database

logger = logging.getLogger(__name__)


class ExtractPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.workers = crawler.settings.getint("EVENTWATCH_EXTRACT_WORKERS")
        self.site_lines = SiteLineBook(stored_texts(crawler.settings.get("EVENTWATCH_DATABASE")))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: PageItem) -> NewArticle:
        try:
            prepared = await extract_page(item.html, item.url, self.workers)
        except Exception as exc:  # a broken page is recorded, never fatal to the crawl
            self._count("extract_error")
            logger.warning("source=%s url=%s extraction failed: %r", item.source, item.url, exc)
            raise DropItem(f"extraction failed: {exc!r}") from exc
        if prepared is None:
            self._count("not_article")
            raise DropItem(f"no article at {item.url}")
        found, named, keys = prepared.found, prepared.named, prepared.keys
        text = self.site_lines.clean(item.source, found.url, found.text)
        if text != found.text:  # recurring lines went: what depends on the text, again
            named = find_entities(found.title, text, found.published_at)
            keys = text_keys(found.title, text)
        return NewArticle(
            source=item.source,
            url=normalize_url(item.url),
            canonical_url=found.url,
            aliases=tuple(normalize_url(u) for u in item.redirects),
            title=found.title,
            text=text,
            published_at=found.published_at,
            date_source=found.date_source,
            authors=found.authors,
            language=found.language,
            languages=found.languages,
            places=named.places,
            organisations=named.organisations,
            dates_mentioned=named.dates,
            keys=keys,
        )

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"eventwatch/{key}")


class StorePipeline:
    def __init__(self, crawler: Crawler, db: Database) -> None:
        self.stats = crawler.stats
        self.db = db

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        url = crawler.settings.get("EVENTWATCH_DATABASE")
        if not url:
            raise NotConfigured("no EVENTWATCH_DATABASE")
        return cls(crawler, Database(url))

    def process_item(self, item: NewArticle) -> NewArticle:
        outcome, article_id = store_article(self.db, item)
        if self.stats is not None:
            self.stats.inc_value(f"eventwatch/{outcome}")
        logger.info("source=%s %s article %d %s", item.source, outcome, article_id, item.url)
        return item

    def close_spider(self) -> None:
        self.db.dispose()
