"""Scrapy's downloader, holding each host to its concurrency limit.

Scrapy 2.19's downloader, on the asyncio reactor, starts every queued request of a host at
once when the host has no download delay: it counts a request as transferring only when
the download's task first runs, after its loop over the queue has already checked the
limit for every one of them. A source with ``download_delay: 0`` and
``per_host_concurrency: 2`` then had up to ``CONCURRENT_REQUESTS`` (16) requests open to
one host, and the connection pool, which keeps ``per_host_concurrency`` idle connections,
closed the rest after one request each.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.http import Response
from twisted.internet.defer import Deferred


class HostLimitedDownloader(Downloader):
    def _wait_for_download(
        self, slot: Slot, request: Request, queue_dfd: Deferred[Response]
    ) -> Coroutine[Any, Any, None]:
        # Counted as transferring when its task is made, not when it runs: the queue loop
        # that made it reads the count next. The download removes it when done, as before.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
