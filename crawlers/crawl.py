"""The crawl entry point: one process crawls one or more sources (``python -m crawlers.crawl``).

Scrapy's reactor cannot restart within a process, and a process per crawl frees its memory
and isolates its crashes; ``crawlers.runner`` starts this and waits for it. Sources crawled
together share one reactor and one pool of extraction workers (:mod:`crawlers.workers`), so
an on-demand crawl of every source starts Python and Scrapy once, not once per source.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawlers.sources import CrawlSource
from crawlers.workers import shutdown as shutdown_workers
from storage.articles import is_known_url
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


def known_checker(db: Database) -> object:
    def is_known(url: str) -> bool:
        with db.session() as session:
            return is_known_url(session, url)

    return is_known


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.crawl")
    parser.add_argument("--database", required=True)
    parser.add_argument(
        "--run-id", type=int, action="append", required=True, help="one per source, in order"
    )
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--extract-workers", type=int, default=0)
    args = parser.parse_args(argv)
    sources = [CrawlSource.from_json(line) for line in sys.stdin.read().splitlines() if line]
    if len(sources) != len(args.run_id):
        parser.error(f"{len(sources)} sources on stdin but {len(args.run_id)} --run-id")
    db = Database(args.database)
    process = AsyncCrawlerProcess(_process_settings(args))
    is_known = None if args.refresh else known_checker(db)
    for source, run_id in zip(sources, args.run_id, strict=True):
        crawler = process.create_crawler("site")  # by name: spiders sit above us
        own = crawl_settings(source, args.database, run_id, args.refresh)
        crawler.settings.update(own)
        process.crawl(crawler, source=source, is_known=is_known)
    try:
        process.start()
    finally:
        shutdown_workers()
    return max(_outcome(db, run_id) for run_id in args.run_id)


def _process_settings(args: argparse.Namespace) -> Settings:
    settings = get_project_settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("LOG_LEVEL", args.log_level, priority="cmdline")
    settings.set("EVENTWATCH_EXTRACT_WORKERS", args.extract_workers, priority="cmdline")
    return settings


def _outcome(db: Database, run_id: int) -> int:
    run = get_run(db, run_id)
    if run.finished_at is None:  # the spider never closed normally
        close_run(db, run_id, "failed", "crawl ended without closing the spider")
        return 1
    return 0 if run.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
