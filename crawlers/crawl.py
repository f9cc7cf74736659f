"""The crawl entry point: one source, one process (``python -m crawlers.crawl``).

Scrapy's reactor cannot restart within a process, and a process per crawl frees its memory
and isolates its crashes; ``crawlers.runner`` starts this and waits for it.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawlers.sources import CrawlSource
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
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    source = CrawlSource.from_json(sys.stdin.read())
    db = Database(args.database)
    settings = crawl_settings(source, args.database, args.run_id, args.refresh)
    settings.set("LOG_LEVEL", args.log_level, priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    is_known = None if args.refresh else known_checker(db)
    process.crawl("site", source=source, is_known=is_known)  # by name: spiders sit above us
    process.start()
    run = get_run(db, args.run_id)
    if run.finished_at is None:  # the spider never closed normally
        close_run(db, args.run_id, "failed", "crawl ended without closing the spider")
        return 1
    return 0 if run.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
