"""Reports each crawl's counts and verdict when its spider closes (:mod:`crawlers.launcher.report`);
the process that started the crawl records them on the run."""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.launcher.report import send_verdict

logger = logging.getLogger(__name__)


class CrawlRunRecorder:
    def __init__(self, crawler: Crawler, run_id: int) -> None:
        self.crawler = crawler
        self.run_id = run_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run_id = crawler.settings.getint("EVENTWATCH_RUN_ID")
        if not run_id:
            raise NotConfigured("no EVENTWATCH_RUN_ID")
        recorder = cls(crawler, run_id)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def counts(self, spider: Any) -> dict[str, int]:
        """As :class:`storage.runs.RunCounts` names them."""
        stats = self.crawler.stats
        get = stats.get_value if stats is not None else (lambda _key, default=0: default)
        return {
            "pages": int(get("response_received_count", 0)),
            "new_articles": int(get("eventwatch/new", 0)),
            "duplicates": int(get("eventwatch/duplicate", 0)),
            "errors": len(getattr(spider, "failures", ()))
            + int(get("eventwatch/extract_error", 0))
            + int(get("eventwatch/store_error", 0)),
        }

    def spider_closed(self, spider: Any, reason: str) -> None:
        counts = self.counts(spider)
        status, error = spider.verdict(reason)
        send_verdict(self.run_id, status, error, counts)
        logger.info(
            "source=%s run=%d status=%s pages=%d new=%d duplicates=%d errors=%d",
            spider.source.name, self.run_id, status, counts["pages"],
            counts["new_articles"], counts["duplicates"], counts["errors"],
        )  # fmt: skip
