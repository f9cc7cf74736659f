"""How long each crawl may go on fetching: until its starter's lease on the source runs out.

A worker (or an ``eventwatch crawl``) holds a lease on each source it crawls, renewed in the
database while it lives. One that stalls past its lease (stopped with Ctrl-Z or SIGSTOP,
swapped out, cut off from the database) must not fetch another page once another worker may
have taken the source. Its starter tells the crawl process when the lease ends, on
:func:`~crawlers.launcher.leaseclock.lease_clock`, which every process of a machine shares and which
runs on while a process is stopped or the machine sleeps, and again at each renewal. Past that
instant no download of the crawl starts (:class:`LeasedDownloadHandler`), however late the
starter itself notices, and the crawl process closes the crawl as ``stopped``, its waiting
requests dropped; one refused download alone makes it ``stopped``, however it then closes.

A crawl that must stop now (its lease ran out, or its process was told to stop) also gives up
the downloads it has under way (:data:`IN_FLIGHT`): a slow or silent site had kept it open
until each answered or timed out, up to ``DOWNLOAD_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Self, TypeVar

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from crawlers.launcher.leaseclock import lease_clock

LAPSED_REASON = "lease_lapsed"  # the reason its spider is closed with
REFUSAL = "the lease on its source ran out: another process may crawl it"


class CrawlStopped(IgnoreRequest):
    """A download refused or given up because its crawl is closing: not fetched, nor failed."""


class LeaseLapsed(CrawlStopped):
    """A download refused: the crawl's lease on its source has run out."""


class RunLeases:
    """When each run's lease ends, as its starter last said; a run it said nothing of has
    none (the embedded daemon's crawls: one process holds the whole schedule)."""

    def __init__(self) -> None:
        self._until: dict[int, float] = {}

    def hold(self, run_id: int, until: float) -> None:
        self._until[run_id] = until

    def drop(self, run_id: int) -> None:
        self._until.pop(run_id, None)

    def lapsed(self, run_id: int) -> bool:
        until = self._until.get(run_id)
        return until is not None and lease_clock() >= until

    def lapsed_runs(self) -> list[int]:
        now = lease_clock()
        return [run_id for run_id, until in self._until.items() if now >= until]


LEASES = RunLeases()  # the crawl process's, for the download handlers Scrapy builds itself


T = TypeVar("T")


class InFlight:
    """Each run's downloads under way (and waits before a retry), so that a crawl that must
    stop can give them up."""

    def __init__(self) -> None:
        self._downloads: dict[int, set[asyncio.Future[Any]]] = {}
        self._cut: dict[int, CrawlStopped] = {}

    def add(self, run_id: int, download: asyncio.Future[Any]) -> None:
        self._downloads.setdefault(run_id, set()).add(download)

    def discard(self, run_id: int, download: asyncio.Future[Any]) -> None:
        self._downloads.get(run_id, set()).discard(download)

    def cut(self, run_id: int, why: CrawlStopped) -> None:
        """Give up the run's downloads under way and any it starts later, each failing with
        ``why``."""
        self._cut.setdefault(run_id, why)
        for download in list(self._downloads.get(run_id, ())):
            download.cancel()  # Scrapy's handler aborts its connection, as a timeout does

    def why_cut(self, run_id: int) -> CrawlStopped | None:
        return self._cut.get(run_id)

    async def given_up_on_stop(self, run_id: int, work: Awaitable[T]) -> T:
        """What ``work`` gives, unless the run must stop first: then it is cancelled and the
        run's :class:`CrawlStopped` raised, which the spider counts as not asked."""
        task = asyncio.ensure_future(work)
        if (why := self.why_cut(run_id)) is not None:
            task.cancel()
            raise why
        self.add(run_id, task)
        try:
            return await task
        except asyncio.CancelledError:
            if (why := self.why_cut(run_id)) is None or not task.cancelled():
                raise
            raise why from None
        finally:
            self.discard(run_id, task)

    def drop(self, run_id: int) -> None:
        self._downloads.pop(run_id, None)
        self._cut.pop(run_id, None)


IN_FLIGHT = InFlight()


class LeaseMiddleware:
    """Lets no request of a crawl whose lease ran out into the downloader's queues, where it
    would wait out its politeness delay only to be refused."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getint("EVENTWATCH_RUN_ID"))

    def process_request(self, request: Request) -> None:
        if LEASES.lapsed(self.run_id):
            raise LeaseLapsed(REFUSAL)


class LeasedDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP handler, which starts no download once its crawl's lease has run out:
    the last step before a request leaves, after the politeness delay it may have waited in."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.run_id = crawler.settings.getint("EVENTWATCH_RUN_ID")

    async def download_request(self, request: Request) -> Response:
        if LEASES.lapsed(self.run_id):
            raise LeaseLapsed(REFUSAL)
        return await IN_FLIGHT.given_up_on_stop(self.run_id, super().download_request(request))
