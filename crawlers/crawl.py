"""The crawl entry point: one process crawls one or more sources (:func:`run`).

Scrapy's reactor cannot restart within a process, and a process per crawl frees its memory
and isolates its crashes; ``crawlers.runner`` starts this and waits for it. The process
imports first and reads its job from stdin after, so it can be started before its caller
knows the job (:mod:`crawlers.child`). Sources crawled together share one reactor and one
pool of extraction workers (:mod:`crawlers.workers`), so an on-demand crawl of every source
starts Python and Scrapy once, not once per source.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

# Scrapy loads its HTTP handler when a crawl starts. Imported here instead, before the job
# is read, while the caller is still reading its config; and at module level, where the
# inspect.stack() calls it makes on import walk a few frames, not the reactor's deep stack.
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawlers.database import close_databases, crawl_database
from crawlers.sources import CrawlSource
from crawlers.workers import shutdown as shutdown_workers
from storage.articles import stored_urls
from storage.db import Database
from storage.runs import close_run, get_run


def crawl_settings(source: CrawlSource, database: str, run_id: int, refresh: bool) -> Settings:
    settings = get_project_settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.setdict(
        {
            "EVENTWATCH_DATABASE": database,
            "EVENTWATCH_RUN_ID": run_id,
            "EVENTWATCH_REFRESH": refresh,
            "CLOSESPIDER_TIMEOUT": source.time_limit,
            "CLOSESPIDER_PAGECOUNT": 2 * source.max_pages + 100,
            "DOWNLOAD_MAXSIZE": source.max_page_bytes,
            "DOWNLOAD_WARNSIZE": min(source.max_page_bytes, 4 * 1024 * 1024),
            "CONCURRENT_REQUESTS_PER_DOMAIN": source.per_host_concurrency,
            "DOWNLOAD_DELAY": source.download_delay,
            "AUTOTHROTTLE_START_DELAY": max(source.download_delay, 0.1),
            "MEMUSAGE_LIMIT_MB": source.memory_limit_mb,
            "MEMUSAGE_WARNING_MB": source.memory_limit_mb * 3 // 4,
            **source.extra_settings,
        },
        priority="cmdline",
    )
    return settings


def stored_checker(db: Database) -> Callable[[Sequence[str]], set[str]]:
    def stored_of(urls: Sequence[str]) -> set[str]:
        with db.session() as session:
            return stored_urls(session, urls)

    return stored_of


def main() -> int:
    """Crawl the job on stdin (:func:`crawlers.runner._job`); no job, nothing to do."""
    text = sys.stdin.read()
    if not text.strip():
        return 0  # abandoned by its starter before it had work
    job = json.loads(text)
    database: str = job["database"]
    refresh: bool = job["refresh"]
    runs = [(int(run_id), CrawlSource.from_dict(source)) for run_id, source in job["runs"]]
    db = crawl_database(database)
    process = AsyncCrawlerProcess(_process_settings(job["log_level"], job["extract_workers"]))
    stored_of = None if refresh else stored_checker(db)
    for run_id, source in runs:
        crawler = process.create_crawler("site")  # by name: spiders sit above us
        crawler.settings.update(crawl_settings(source, database, run_id, refresh))
        process.crawl(crawler, source=source, stored_of=stored_of)
    try:
        process.start()
    finally:
        shutdown_workers()
    try:
        return max(_outcome(db, run_id) for run_id, _ in runs)
    finally:
        close_databases()


def _process_settings(log_level: str, extract_workers: int) -> Settings:
    settings = get_project_settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("EVENTWATCH_EXTRACT_WORKERS", extract_workers, priority="cmdline")
    return settings


def _outcome(db: Database, run_id: int) -> int:
    run = get_run(db, run_id)
    if run.finished_at is None:  # the spider never closed normally
        close_run(db, run_id, "failed", "crawl ended without closing the spider")
        return 1
    return 0 if run.status == "ok" else 1


def run() -> NoReturn:
    """The crawl process from start to end, as :mod:`crawlers.child` starts it (``python -c``).

    Not ``python -m``: multiprocessing then imports the main module again in every extraction
    worker, as it prepares a child to find functions defined there, and each worker would
    load Scrapy and SQLAlchemy for nothing, a second or so before its first page.
    """
    code = main()
    # Everything is committed and closed. Tearing the interpreter down would take longer than
    # a re-crawl's whole crawl (Twisted, Scrapy and SQLAlchemy objects freed one by one).
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
