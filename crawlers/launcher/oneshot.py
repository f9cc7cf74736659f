"""Crawls asked for now (``eventwatch crawl``): one crawl process for all of them, then gone."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from crawlers.launcher.child import CrawlChild
from crawlers.launcher.jobs import PoolSettings
from crawlers.launcher.process import Popen
from crawlers.launcher.runner import KILL_GRACE_SECONDS, CrawlPool
from crawlers.launcher.sources import CrawlSource
from storage.db import Database
from storage.runs import RunSummary


def crawl_sources(
    sources: Sequence[CrawlSource],
    db: Database,
    *,
    extract_workers: int | None = None,
    refresh: bool = False,
    log_level: str = "WARNING",
    child: CrawlChild | None = None,
    on_start: Callable[[Popen], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
    lease_until: Mapping[str, float | None] | None = None,
    on_pool: Callable[[CrawlPool], None] | None = None,
) -> list[RunSummary]:
    """Crawl ``sources`` now, side by side in one crawl process (``child``, if one was
    started early), pages extracted by ``extract_workers`` processes (default: one per
    CPU); one closed run per source, whatever happens. ``on_progress``: see
    :class:`CrawlPool`'s ``on_line``; ``on_stopping``: called when interrupted, before the
    crawls are waited for; ``lease_until``: by source name, when the caller's lease on it
    runs out (see :meth:`CrawlPool.submit`); ``on_pool``: given the pool before the crawls
    start, to pass the leases' renewals on."""
    if not sources:
        if child is not None:
            child.abandon()
        return []
    workers = extract_workers if extract_workers is not None else os.cpu_count() or 1
    settings = PoolSettings(
        processes=1,
        crawls_per_process=len(sources),
        extract_workers=workers,
        log_level=log_level,
        progress=on_progress is not None,
    )
    pool = CrawlPool(db, settings, child=child, on_start=on_start, on_line=on_progress)
    leases = lease_until or {}
    try:
        if on_pool is not None:
            on_pool(pool)
        jobs = [
            pool.submit(source, refresh=refresh, lease_until=leases.get(source.name))
            for source in sources
        ]
        runs = [job.done.result() for job in jobs]
    except BaseException:  # Ctrl-C or a signal: the crawls are asked to stop, runs closed
        try:
            if on_stopping is not None:
                on_stopping()
            pool.close(KILL_GRACE_SECONDS, stop_crawls=True)
        except KeyboardInterrupt:  # asked again: no waiting on a slow site's last answer
            pool.close_now()
        raise
    pool.close(KILL_GRACE_SECONDS, stop_crawls=False)
    return runs


def crawl_source(
    source: CrawlSource,
    db: Database,
    *,
    refresh: bool = False,
    log_level: str = "WARNING",
    on_start: Callable[[Popen], None] | None = None,
) -> RunSummary:
    """Crawl one source now, extracting in its crawl process."""
    runs = crawl_sources(
        [source], db, extract_workers=0, refresh=refresh, log_level=log_level, on_start=on_start
    )
    return runs[0]
