"""Records each crawl's counts and verdict on its crawl run when the spider closes."""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.database import crawl_database
from storage.db import Database
from storage.runs import RunCounts, close_run, record_counts

logger = logging.getLogger(__name__)


class CrawlRunRecorder:
    def __init__(self, crawler: Crawler, db: Database, run_id: int) -> None:
        self.crawler = crawler
        self.db = db
        self.run_id = run_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        url = crawler.settings.get("EVENTWATCH_DATABASE")
        run_id = crawler.settings.getint("EVENTWATCH_RUN_ID")
        if not url or not run_id:
            raise NotConfigured("no EVENTWATCH_DATABASE or EVENTWATCH_RUN_ID")
        recorder = cls(crawler, crawl_database(url), run_id)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def counts(self, spider: Any) -> RunCounts:
        stats = self.crawler.stats
        get = stats.get_value if stats is not None else (lambda _key, default=0: default)
        return RunCounts(
            pages=int(get("response_received_count", 0)),
            new_articles=int(get("eventwatch/new", 0)),
            duplicates=int(get("eventwatch/duplicate", 0)),
            errors=len(getattr(spider, "failures", ()))
            + int(get("eventwatch/extract_error", 0))
            + int(get("eventwatch/store_error", 0)),
        )

    def spider_closed(self, spider: Any, reason: str) -> None:
        counts = self.counts(spider)
        record_counts(self.db, self.run_id, counts)
        status, error = spider.verdict(reason)
        close_run(self.db, self.run_id, status, error)
        logger.info(
            "source=%s run=%d status=%s pages=%d new=%d duplicates=%d errors=%d",
            spider.source.name, self.run_id, status, counts.pages,
            counts.new_articles, counts.duplicates, counts.errors,
        )  # fmt: skip
