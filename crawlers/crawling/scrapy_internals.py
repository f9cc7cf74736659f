"""Scrapy's downloader, holding each host to its concurrency limit: the one use of Scrapy's
internals, for the version it was written for.

Scrapy 2.19's downloader, on the asyncio reactor, starts every queued request of a host at
once when the host has no download delay: it counts a request as transferring only when
the download's task first runs, after its loop over the queue has already checked the
limit for every one of them. A source with ``download_delay: 0`` and
``per_host_concurrency: 2`` then had up to ``CONCURRENT_REQUESTS`` (16) requests open to
one host, and the connection pool, which keeps ``per_host_concurrency`` idle connections,
closed the rest after one request each.

On another Scrapy, or with ``EVENTWATCH_DEPENDENCY_PATCHES=off``, Scrapy's own downloader
runs (:data:`DOWNLOADER`), and one line says that a host may see more requests at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Coroutine
from typing import Any

import scrapy
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.http import Response
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

WRITTEN_FOR = "2.19.0"
SWITCH = "EVENTWATCH_DEPENDENCY_PATCHES"
logger = logging.getLogger(__name__)


class HostLimitedDownloader(Downloader):
    def _wait_for_download(
        self, slot: Slot, request: Request, queue_dfd: Deferred[Response]
    ) -> Coroutine[Any, Any, None]:
        # Counted as transferring when its task is made, not when it runs: the queue loop
        # that made it reads the count next. The download removes it when done, as before.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)


def drop_waiting(downloader: object, why: Exception) -> int:
    """Fail at once the requests of ``downloader`` waiting out their politeness delay, for a
    crawl that may fetch no more: each had waited its delay (up to AutoThrottle's 30 s, after a
    stop that made the last answer look slow) only to be refused. Scrapy's own downloader
    keeps them: each is refused as its delay ends."""
    if not isinstance(downloader, HostLimitedDownloader):
        return 0
    dropped = 0
    for slot in list(downloader.slots.values()):
        slot.close()  # its delayed start of the next request
        while slot.queue:
            _request, waiting = slot.queue.popleft()
            waiting.errback(Failure(why))
            dropped += 1
    return dropped


def _downloader() -> str:
    """The downloader class the crawl process runs, by its import path."""
    if os.environ.get(SWITCH, "on").lower() != "off" and scrapy.__version__ == WRITTEN_FOR:
        return f"{__name__}.HostLimitedDownloader"
    logger.warning(
        "Scrapy %s: its own downloader runs, which may open more than per_host_concurrency "
        "connections to a host without a download delay",
        scrapy.__version__,
    )
    return "scrapy.core.downloader.Downloader"


DOWNLOADER = _downloader()
