"""The crawl process: a long-lived server of crawls, many at once in one reactor (:func:`run`).

It imports first and reads its jobs from stdin after, one JSON line each, so it can be
started before its starter knows them (:mod:`crawlers.launcher.child`). Its crawls share one
reactor and one pool of extraction workers (:mod:`crawlers.workers.server`), so Python and
Scrapy start once for hundreds of crawls. Each run's verdict, counts, validators and pages go
back on stdout (:mod:`crawlers.launcher.report`), and its starter records them; the database
is opened here only to check and store articles, so a re-crawl of an unchanged site loads no
database layer. The starter (:mod:`crawlers.launcher.runner`) recycles the process after some
crawls or megabytes, and replaces it when it dies or hangs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NoReturn, cast

# Scrapy loads its HTTP handler when a crawl starts. Imported here instead, before the job
# is read, while the caller is still reading its config; and at module level, where the
# inspect.stack() calls it makes on import walk a few frames, not the reactor's deep stack.
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import AsyncCrawlerProcess, Crawler
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings
from twisted.internet.task import LoopingCall

from crawlers.crawling.components import COMPONENT_SETTINGS, as_mapping
from crawlers.crawling.database import close_databases, crawl_database
from crawlers.crawling.leases import (
    IN_FLIGHT,
    LAPSED_REASON,
    LEASES,
    REFUSAL,
    CrawlStopped,
    LeaseLapsed,
)
from crawlers.crawling.scrapy_internals import drop_waiting
from crawlers.launcher.report import send_beat, send_finished, send_verdict
from crawlers.launcher.sources import CrawlSource
from crawlers.workers.server import shutdown as shutdown_workers
from crawlers.workers.server import start as start_workers

logger = logging.getLogger(__name__)

BEAT_SECONDS = 2.0  # the starter takes a process silent for much longer as hung
LEASE_CHECK_SECONDS = 0.5  # how soon a crawl whose lease ran out is closed


def crawl_settings(source: CrawlSource, database: str, run_id: int, refresh: bool) -> Settings:
    """The settings a crawler of ``source`` runs with, built as :func:`main` builds them."""
    settings = _process_settings("WARNING", 0)
    _add_source_settings(settings, source, database, run_id, refresh)
    return settings


def _add_source_settings(
    settings: Settings, source: CrawlSource, database: str, run_id: int, refresh: bool
) -> None:
    """The source's own settings over a copy of the crawl process's, which hold the
    project's already: they need not be built again per crawler."""
    own = {
        "EVENTWATCH_DATABASE": database,
        "EVENTWATCH_RUN_ID": run_id,
        "EVENTWATCH_REFRESH": refresh,
        "CLOSESPIDER_TIMEOUT": source.time_limit,
        "DOWNLOAD_TIMEOUT": min(settings.getfloat("DOWNLOAD_TIMEOUT"), source.time_limit),
        "CLOSESPIDER_PAGECOUNT": 2 * source.max_pages + 100,
        "DOWNLOAD_MAXSIZE": source.max_page_bytes,
        "DOWNLOAD_WARNSIZE": min(source.max_page_bytes, 4 * 1024 * 1024),
        "CONCURRENT_REQUESTS_PER_DOMAIN": source.per_host_concurrency,
        "DOWNLOAD_DELAY": source.download_delay,
        "AUTOTHROTTLE_START_DELAY": max(source.download_delay, 0.1),
        **source.extra_settings,
    }
    # A mapping of components given by the source adds to ours: given whole, it had replaced
    # them, and with them the lease's checks, the site bounds and the conditional requests.
    for name in COMPONENT_SETTINGS & source.extra_settings.keys():
        given = as_mapping(source.extra_settings[name])  # JSON text too, as Scrapy reads it
        if given is not None:
            own[name] = {**settings.getdict(name), **given}
    settings.setdict(own, priority="cmdline")


def stored_checker(database: str) -> Callable[[Sequence[str]], set[str]]:
    """Which article URLs are stored; the database is opened when first asked, which a
    listing page that has not changed never does."""

    def stored_of(urls: Sequence[str]) -> set[str]:
        from storage.articles import stored_urls

        with crawl_database(database).session() as session:
            return stored_urls(session, urls)

    return stored_of


def main() -> int:
    """Serve the jobs on stdin (:mod:`crawlers.launcher.child`); no options line, nothing to do."""
    header, rest = _first_line(sys.stdin.fileno())
    if not header.strip():
        return 0  # abandoned by its starter before it had work
    options = json.loads(header)
    settings = _process_settings(options["log_level"], options["extract_workers"])
    settings.set("EVENTWATCH_PROGRESS", bool(options.get("progress")), priority="cmdline")
    # Scrapy filters by level at its root handler only: each page's debug lines ("Crawled",
    # "Scraped from") were built in full and then dropped.
    logging.getLogger("scrapy").setLevel(settings.get("LOG_LEVEL"))
    service = CrawlService(AsyncCrawlerProcess(settings), rest)
    try:
        service.serve()
    finally:
        shutdown_workers()
        close_databases()
    return 0


def _start_workers_early(size: int) -> None:
    """Start the fork server ahead of the first article; if it cannot start now (no process
    or file left), the first article tries again and its crawl records why."""
    try:
        start_workers(size)
    except Exception as exc:
        logger.warning("the extraction workers could not start ahead: %r", exc)


def _first_line(fd: int) -> tuple[bytes, bytes]:
    """The options line, read from the file descriptor itself (a buffered reader would
    keep the jobs after it out of the service's reach), and what came after it."""
    read = b""
    while b"\n" not in read:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return read, b""
        read += chunk
    header, _, rest = read.partition(b"\n")
    return header, rest


class CrawlService:
    """Runs each crawl it is sent beside the others, in one reactor, until told to drain.

    Every crawl is a crawler of its own (its own politeness slots, limits and stats), so a
    crawl waiting on a site's delay holds nothing another source could use. The end of stdin
    means the starter is gone: the process then ends at once, as nobody would record its
    runs, and another process may be crawling the same sources again already.
    """

    def __init__(self, process: AsyncCrawlerProcess, unread: bytes = b"") -> None:
        self.process = process
        self.active: dict[int, asyncio.Task[None]] = {}
        self.crawlers: dict[int, Crawler] = {}
        self.closing: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references
        self.draining = False
        self.unread = unread
        self.beat = LoopingCall(send_beat)
        self.lease_check = LoopingCall(self._close_lapsed)
        self.lapsed: set[int] = set()  # runs closed as their lease ran out
        self.stopping = False  # told to stop: a crawl sent meanwhile is not started
        self.time_limits: dict[int, Any] = {}  # each run's DelayedCall at its time limit

    def serve(self) -> None:
        from twisted.internet import reactor

        cast(Any, reactor).callWhenRunning(self._listen)
        self.process.start(stop_after_crawl=False)

    def _listen(self) -> None:
        from twisted.internet import reactor

        # Scrapy puts its own SIGINT handler back as the reactor starts, after this; a Ctrl-C
        # is for the master, which stops the crawls in order (crawlers.launcher.child).
        cast(Any, reactor).callLater(0, signal.signal, signal.SIGINT, signal.SIG_IGN)
        # SIGTERM is the master's "stop now": Scrapy's own handler closes each spider but waits
        # for every download under way, up to DOWNLOAD_TIMEOUT on a silent site.
        cast(Any, reactor).callLater(0, signal.signal, signal.SIGTERM, self._on_sigterm)
        fd = sys.stdin.fileno()
        os.set_blocking(fd, False)
        asyncio.get_event_loop().add_reader(fd, self._read, fd)
        self.beat.start(BEAT_SECONDS)
        self.lease_check.start(LEASE_CHECK_SECONDS, now=False)
        self._take(b"")  # jobs that came with the options line

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:  # the starter died: stop now, recording nothing more
            sys.stdout.flush()
            os._exit(3)
        self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        *lines, self.unread = (self.unread + chunk).split(b"\n")
        for line in lines:
            if line.strip():
                self._handle(json.loads(line))

    def _handle(self, message: dict[str, Any]) -> None:
        if message["op"] == "crawl" and self.stopping:  # sent before the stop reached it
            run_id = int(message["run"])
            send_verdict(run_id, "stopped", "its process was asked to stop before it began", {})
            send_finished(run_id)
        elif message["op"] == "crawl":
            self._crawl(message)
        elif message["op"] == "drain":
            self.draining = True
            self._stop_when_idle()
        elif message["op"] == "stop":
            self._at_limit(int(message["run"]), "stopped: still running past its time limit")
        elif message["op"] == "lease" and int(message["run"]) in self.active:
            LEASES.hold(int(message["run"]), float(message["until"]))

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        from twisted.internet import reactor

        cast(Any, reactor).callFromThread(self._stop_all)

    def _stop_all(self) -> None:
        """Every crawl closed ``stopped`` now, its downloads under way and waiting given up,
        and the process ends once they have all reported."""
        self.draining = self.stopping = True
        for run_id in list(self.active):
            self._end(run_id, "shutdown", "stopped", "its process was asked to stop")
        self._stop_when_idle()

    def _at_limit(self, run_id: int, why: str) -> None:
        """The crawl's time limit (its own timer), or the master's stop of a crawl still
        running past it (Scrapy's own limit set to 0, say): its spider is closed as Scrapy's
        limit closes it, so the run keeps its counts; Scrapy alone would wait for each
        download under way, up to DOWNLOAD_TIMEOUT on a silent site."""
        self.time_limits.pop(run_id, None)
        if run_id in self.active:  # not ended meanwhile
            self._end(run_id, "closespider_timeout", "timeout", why)

    def _end(
        self, run_id: int, reason: str, status: str, why: str, refusal: CrawlStopped | None = None
    ) -> None:
        """The crawl closed for ``reason`` (:meth:`_close`), and what it has under way or
        waiting given up, each refused with ``refusal`` (by default, ``why``)."""
        self._close(run_id, reason, status, why)
        refusal = refusal or CrawlStopped(why)
        IN_FLIGHT.cut(run_id, refusal)
        engine = engine_of(self.crawlers.get(run_id))
        if engine is not None:
            drop_waiting(engine.downloader, refusal)

    def _close_lapsed(self) -> None:
        """Crawls whose lease on their source ran out: no download of theirs starts any
        more (crawlers.crawling.leases), and they are closed ``stopped``."""
        for run_id in set(LEASES.lapsed_runs()) - self.lapsed:
            self.lapsed.add(run_id)  # closed once; its downloads are refused until its end
            logger.warning("run=%d stopped: the lease on its source ran out", run_id)
            why = "stopped: the lease on its source ran out; another process may crawl it"
            self._end(run_id, LAPSED_REASON, "stopped", why, LeaseLapsed(REFUSAL))

    def _close(self, run_id: int, reason: str, status: str, why: str) -> None:
        """The crawl's spider closed for ``reason``; one whose spider is not open yet is
        given up, its run closed ``status``."""
        crawler, task = self.crawlers.get(run_id), self.active.get(run_id)
        engine = engine_of(crawler)
        if engine is not None and engine.spider is not None:
            closing = asyncio.get_running_loop().create_task(
                engine.close_spider_async(reason=reason)
            )
            self.closing.add(closing)
            closing.add_done_callback(self.closing.discard)
        elif task is not None:
            send_verdict(run_id, status, why, {})
            task.cancel()

    def _crawl(self, job: dict[str, Any]) -> None:
        run_id, database, refresh = int(job["run"]), job["database"], bool(job["refresh"])
        source = CrawlSource.from_dict(job["source"])
        known = {url: tuple(v) for url, v in job.get("validators", {}).items()}
        try:
            crawler = self.process.create_crawler("site")  # by name: spiders sit above us
            _add_source_settings(crawler.settings, source, database, run_id, refresh)
            task = self.process.crawl(
                crawler,
                source=source,
                stored_of=None if refresh else stored_checker(database),
                validators=known,
                walk_all=bool(job.get("walk_all")),
            )
        except Exception as exc:  # a source whose settings Scrapy refuses fails alone
            send_verdict(run_id, "failed", f"crawl could not start: {exc!r}", {})
            send_finished(run_id)
            return
        if job.get("lease_until") is not None:  # before the loop runs its first download
            LEASES.hold(run_id, float(job["lease_until"]))
        if refresh or not known:
            # nothing known of its pages (a first crawl, or one whose last run did not finish):
            # its articles will want extracting, so the workers' fork server starts now
            _start_workers_early(crawler.settings.getint("EVENTWATCH_EXTRACT_WORKERS"))
        self.active[run_id], self.crawlers[run_id] = task, crawler
        if (limit := crawler.settings.getfloat("CLOSESPIDER_TIMEOUT")) > 0:
            from twisted.internet import reactor

            self.time_limits[run_id] = cast(Any, reactor).callLater(
                limit, self._at_limit, run_id, "stopped at its time limit"
            )
        task.add_done_callback(partial(self._finished, run_id))

    def _finished(self, run_id: int, task: asyncio.Task[None]) -> None:
        self.active.pop(run_id, None)
        self.crawlers.pop(run_id, None)
        LEASES.drop(run_id)
        IN_FLIGHT.drop(run_id)
        if (timer := self.time_limits.pop(run_id, None)) is not None and timer.active():
            timer.cancel()
        self.lapsed.discard(run_id)
        error = None if task.cancelled() else task.exception()
        if error is not None:  # no-op when the spider closed and reported its own verdict
            send_verdict(run_id, "failed", f"crawl ended with {error!r}", {})
        send_finished(run_id)
        self._stop_when_idle()

    def _stop_when_idle(self) -> None:
        if self.draining and not self.active:
            from twisted.internet import reactor

            for loop in (self.beat, self.lease_check):
                if loop.running:
                    loop.stop()
            cast(Any, reactor).stop()  # the module stands for the installed reactor


def engine_of(crawler: Crawler | None) -> Any:
    """The crawler's engine; None before its crawl task has taken its first step, until
    which Scrapy's ``Crawler.engine`` raises rather than give None."""
    try:
        return crawler.engine if crawler is not None else None
    except RuntimeError:
        return None


def _process_settings(log_level: str, extract_workers: int) -> Settings:
    settings = get_project_settings()
    settings.setmodule("crawlers.crawling.settings", priority="project")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("EVENTWATCH_EXTRACT_WORKERS", extract_workers, priority="cmdline")
    return settings


def run() -> NoReturn:
    """The crawl process from start to end, as :mod:`crawlers.launcher.child` starts it
    (``python -c``).

    Not ``python -m``: multiprocessing then imports the main module again in every extraction
    worker, as it prepares a child to find functions defined there, and each worker would
    load Scrapy and SQLAlchemy for nothing before its first page.
    """
    # What the imports left is kept for the process's life: frozen, later collections
    # (a first crawl allocates for seconds) do not walk it.
    gc.freeze()
    gc.enable()
    code = main()
    # Everything is committed and closed. Tearing the interpreter down would take longer than
    # a re-crawl's whole crawl (Twisted, Scrapy and SQLAlchemy objects freed one by one).
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
