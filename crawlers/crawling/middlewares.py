"""Downloader middlewares: site bounds, Retry-After, conditional GET.

Site bounds: the spider only yields on-site links, but a redirect is followed by Scrapy,
not by the spider, so every request, redirects included, is checked here again.

Conditional GET: the validators known come with the job, and the new ones are reported
(:mod:`crawlers.launcher.report`) only when the crawl finishes normally: a crawl that was killed or
cut short by its page budget must see the full listing again next time.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from crawlers.crawling.leases import IN_FLIGHT
from crawlers.launcher.report import Validators, send_validators
from crawlers.urls import on_site

logger = logging.getLogger(__name__)

NAVIGATION_KINDS = frozenset({"listing", "feed", "sitemap"})
RETRY_AFTER_STATUSES = frozenset({429, 503})


class OffSiteRequest(IgnoreRequest):
    """A request, usually a redirect, that would leave the source's own site."""


class BlockedAddress(IgnoreRequest):
    """A request to a private, loopback or link-local address, for a source that forbids it."""


class SiteBoundsMiddleware:
    """Drops requests off the source's domains and ports; with ``block_private_addresses``,
    also requests to hosts that resolve to a non-public address (metadata services, the
    LAN). The check resolves the name itself, so a DNS answer that changes between the
    check and the download (rebinding) is not caught: use a firewall for a hard guarantee."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        source = getattr(spider, "source", None)
        if source is None:
            return
        if not on_site(request.url, spider.domains):  # type: ignore[union-attr]
            raise OffSiteRequest(f"off-site: {request.url} is not on the source's site")
        if source.block_private_addresses:
            await _refuse_private(request.url)


async def _refuse_private(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return  # the download reports the DNS failure itself
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise BlockedAddress(f"{host} is at a non-public address ({address}), not fetched")


def retry_after_seconds(value: bytes | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date; None if absent
    or unreadable."""
    text = (value or b"").decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    """Honours Retry-After on 429 and 503: waits that long before Scrapy's RetryMiddleware
    retries, up to ``EVENTWATCH_RETRY_AFTER_MAX`` seconds. A server asking for more is not
    retried in this crawl; the page fails and the next scheduled crawl asks again."""

    def __init__(self, max_wait: float, max_retries: int, run_id: int = 0) -> None:
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.run_id = run_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(
            settings.getfloat("EVENTWATCH_RETRY_AFTER_MAX"),
            settings.getint("RETRY_TIMES"),
            settings.getint("EVENTWATCH_RUN_ID"),
        )

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in RETRY_AFTER_STATUSES or request.meta.get("dont_retry"):
            return response
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None or request.meta.get("retry_times", 0) >= self.max_retries:
            return response
        if delay > self.max_wait:
            request.meta["dont_retry"] = True
            return response
        # a crawl told to stop gives the wait up, as it does its downloads under way
        await IN_FLIGHT.given_up_on_stop(self.run_id, asyncio.sleep(delay))
        return response


class ConditionalGetMiddleware:
    def __init__(self, crawler: Crawler, run_id: int) -> None:
        self.crawler = crawler
        self.run_id = run_id
        self.pending: dict[str, Validators] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run_id = crawler.settings.getint("EVENTWATCH_RUN_ID")
        if not run_id:
            raise NotConfigured("no EVENTWATCH_RUN_ID")
        middleware = cls(crawler, run_id)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_request(self, request: Request) -> None:
        if request.meta.get("kind") not in NAVIGATION_KINDS or self._refresh:
            return
        known: dict[str, Validators] = getattr(self.crawler.spider, "validators", {})
        etag, last_modified, _ = known.get(request.url, (None, None, None))
        if etag:
            request.headers.setdefault(b"If-None-Match", etag)
        if last_modified:
            request.headers.setdefault(b"If-Modified-Since", last_modified)

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("kind") not in NAVIGATION_KINDS or response.status != 200:
            return response
        self.pending[request.url] = (
            _header(response, b"ETag"),
            _header(response, b"Last-Modified"),
            hashlib.sha256(response.body).hexdigest(),
        )
        return response

    @property
    def _refresh(self) -> bool:
        return self.crawler.settings.getbool("EVENTWATCH_REFRESH")

    def spider_closed(self, spider: Any, reason: str) -> None:
        cut_short = getattr(spider, "budget_exhausted", False) or getattr(
            spider, "stopped_midway", False
        )
        complete = reason == "finished" and not cut_short
        # a page that linked one that failed, or waits for its next try, must be read again
        ledger = getattr(spider, "ledger", None)
        unsettled = ledger.unsettled if ledger is not None else set()
        settled = {url: v for url, v in self.pending.items() if url not in unsettled}
        if complete and settled:
            send_validators(self.run_id, settled)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
