"""Conditional GET for listing pages, feeds and sitemaps.

Validators are saved only when the crawl finishes normally: a crawl that was killed or cut
short by its page budget must see the full listing again next time, not a 304.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from storage.db import Database
from storage.fetchstate import Validators, load_validators, save_validators

logger = logging.getLogger(__name__)

NAVIGATION_KINDS = frozenset({"listing", "feed", "sitemap"})


class ConditionalGetMiddleware:
    def __init__(self, crawler: Crawler, db: Database) -> None:
        self.crawler = crawler
        self.db = db
        self.pending: dict[str, Validators] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        url = crawler.settings.get("EVENTWATCH_DATABASE")
        if not url:
            raise NotConfigured("no EVENTWATCH_DATABASE")
        middleware = cls(crawler, Database(url))
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_request(self, request: Request) -> None:
        if request.meta.get("kind") not in NAVIGATION_KINDS or self._refresh:
            return
        known = load_validators(self.db, request.url)
        if known is None:
            return
        if known.etag:
            request.headers.setdefault(b"If-None-Match", known.etag)
        if known.last_modified:
            request.headers.setdefault(b"If-Modified-Since", known.last_modified)

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("kind") not in NAVIGATION_KINDS or response.status != 200:
            return response
        self.pending[request.url] = Validators(
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            content_hash=hashlib.sha256(response.body).hexdigest(),
        )
        return response

    @property
    def _refresh(self) -> bool:
        return self.crawler.settings.getbool("EVENTWATCH_REFRESH")

    def spider_closed(self, spider: Any, reason: str) -> None:
        complete = reason == "finished" and not getattr(spider, "budget_exhausted", False)
        if complete and self.pending:
            save_validators(self.db, self.pending)
        self.db.dispose()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
