"""Tells the starter of a crawl how each run is going
(:func:`crawlers.launcher.report.send_progress`), for ``eventwatch crawl`` to show on a terminal; on
when the job asks for it.

At the INFO log level (``eventwatch -v``) it also logs a line for each page that no other
part logs: listing pages, feeds and sitemaps fetched, and pages that held no article. Stored
and duplicate articles are logged by the store pipeline, failures by the spider.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.internet.task import LoopingCall

from crawlers.crawling.extensions import CrawlRunRecorder
from crawlers.launcher.report import Progress, send_progress

logger = logging.getLogger(__name__)

EVERY_SECONDS = 0.25  # a change is told at most this late


class CrawlProgress:
    def __init__(self, crawler: Crawler, run_id: int) -> None:
        self.counts = CrawlRunRecorder(crawler, run_id)
        self.run_id = run_id
        self.source = ""
        self.queued = 0
        self.done = 0
        self.told: Progress | None = None
        self.spider: Any = None
        self.timer = LoopingCall(self.tell)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run_id = crawler.settings.getint("EVENTWATCH_RUN_ID")
        if not run_id or not crawler.settings.getbool("EVENTWATCH_PROGRESS"):
            raise NotConfigured()  # no message: Scrapy would log a warning for a normal case
        progress = cls(crawler, run_id)
        for handler, signal in (
            (progress.spider_opened, signals.spider_opened),
            (progress.spider_closed, signals.spider_closed),
            (progress.request_scheduled, signals.request_scheduled),
            (progress.request_left_downloader, signals.request_left_downloader),
            (progress.response_received, signals.response_received),
            (progress.item_dropped, signals.item_dropped),
        ):
            crawler.signals.connect(handler, signal=signal)
        return progress

    def spider_opened(self, spider: Any) -> None:
        self.spider, self.source = spider, spider.source.name
        self.timer.start(EVERY_SECONDS)

    def spider_closed(self, spider: Any) -> None:
        if self.timer.running:
            self.timer.stop()
        self.tell(finished=True)

    def request_scheduled(self, request: Request) -> None:
        if request.meta.get("kind") == "article":
            self.queued += 1

    def request_left_downloader(self, request: Request) -> None:
        if request.meta.get("kind") == "article":
            self.done += 1

    def response_received(self, response: Response, request: Request) -> None:
        kind = request.meta.get("kind") or "page"  # robots.txt as Scrapy asks for it
        if kind != "article":
            logger.info(
                "source=%s run=%d %s %s: HTTP %d", self.source, self.run_id, kind,
                response.url, response.status,
            )  # fmt: skip

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        url = getattr(item, "url", "?")
        logger.info("source=%s run=%d not stored %s: %s", self.source, self.run_id, url, exception)

    def tell(self, *, finished: bool = False) -> None:
        """The run's progress, when it changed since last told."""
        if self.spider is None:
            return
        counts = self.counts.counts(self.spider)
        now = Progress(
            run=self.run_id,
            source=self.source,
            fetched=counts["pages"],
            stored=counts["new_articles"],
            duplicates=counts["duplicates"],
            failed=counts["errors"],
            queued=self.queued,
            done=self.done,
            finished=finished,
        )
        if now != self.told:
            send_progress(now)
            self.told = now
