"""The crawl entry point: one process crawls one or more sources (:func:`run`).

Scrapy's reactor cannot restart within a process, and a process per crawl frees its memory
and isolates its crashes; ``crawlers.runner`` starts this and waits for it. The process
imports first and reads its job from stdin after, so it can be started before its caller
knows the job (:mod:`crawlers.child`). Sources crawled together share one reactor and one
pool of extraction workers (:mod:`crawlers.workers`), so an on-demand crawl of every source
starts Python and Scrapy once, not once per source. It reports each run's verdict, counts
and validators on stdout (:mod:`crawlers.report`) and opens the database only to check and
store articles: a re-crawl of unchanged sites does not load SQLAlchemy.
"""

from __future__ import annotations

import gc
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
from crawlers.report import Validators
from crawlers.sources import CrawlSource
from crawlers.workers import shutdown as shutdown_workers


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
        "CLOSESPIDER_PAGECOUNT": 2 * source.max_pages + 100,
        "DOWNLOAD_MAXSIZE": source.max_page_bytes,
        "DOWNLOAD_WARNSIZE": min(source.max_page_bytes, 4 * 1024 * 1024),
        "CONCURRENT_REQUESTS_PER_DOMAIN": source.per_host_concurrency,
        "DOWNLOAD_DELAY": source.download_delay,
        "AUTOTHROTTLE_START_DELAY": max(source.download_delay, 0.1),
        "MEMUSAGE_LIMIT_MB": source.memory_limit_mb,
        "MEMUSAGE_WARNING_MB": source.memory_limit_mb * 3 // 4,
        **source.extra_settings,
    }
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
    """Crawl the job on stdin (:func:`crawlers.runner._job`); no job, nothing to do."""
    text = sys.stdin.read()
    if not text.strip():
        return 0  # abandoned by its starter before it had work
    job = json.loads(text)
    database: str = job["database"]
    refresh: bool = job["refresh"]
    runs = [(int(run_id), CrawlSource.from_dict(source)) for run_id, source in job["runs"]]
    validators: dict[str, dict[str, Validators]] = job.get("validators", {})
    settings = _process_settings(job["log_level"], job["extract_workers"])
    settings.set("EVENTWATCH_PROGRESS", bool(job.get("progress")), priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    stored_of = None if refresh else stored_checker(database)
    for run_id, source in runs:
        crawler = process.create_crawler("site")  # by name: spiders sit above us
        _add_source_settings(crawler.settings, source, database, run_id, refresh)
        known = {url: tuple(v) for url, v in validators.get(str(run_id), {}).items()}
        process.crawl(crawler, source=source, stored_of=stored_of, validators=known)
    try:
        process.start()
    finally:
        shutdown_workers()
        close_databases()
    return 0


def _process_settings(log_level: str, extract_workers: int) -> Settings:
    settings = get_project_settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("EVENTWATCH_EXTRACT_WORKERS", extract_workers, priority="cmdline")
    return settings


def run() -> NoReturn:
    """The crawl process from start to end, as :mod:`crawlers.child` starts it (``python -c``).

    Not ``python -m``: multiprocessing then imports the main module again in every extraction
    worker, as it prepares a child to find functions defined there, and each worker would
    load Scrapy and SQLAlchemy for nothing, a second or so before its first page.
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
