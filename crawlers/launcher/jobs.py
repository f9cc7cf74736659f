"""A crawl the pool is asked for (:class:`CrawlJob`) and the pool's settings."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from crawlers.launcher.leaseclock import lease_clock
from crawlers.launcher.sources import CrawlSource
from storage.db import Database
from storage.runs import RunSummary

BEAT_TIMEOUT_SECONDS = 60.0  # a process whose loop said nothing for this long is hung


@dataclass(frozen=True, slots=True)
class PoolSettings:
    processes: int = 1
    crawls_per_process: int = 50
    max_crawls_per_process: int = 500  # then the process is recycled
    memory_mb: int = 1024  # a process over this is killed, its crawls run again
    extract_workers: int = 0  # per process; 0 extracts in the crawl process itself
    log_level: str = "WARNING"
    beat_timeout: float = BEAT_TIMEOUT_SECONDS
    progress: bool = False  # the crawls tell how they go (crawlers.crawling.progress)


@dataclass(eq=False)
class CrawlJob:
    """One crawl of one source, from the moment it is asked for until its run is closed."""

    source: CrawlSource
    refresh: bool = False
    due_at: datetime | None = None
    done: Future[RunSummary] = field(default_factory=Future)
    tries: int = 0
    run_id: int = 0
    started: float = 0.0  # time.monotonic() when handed to its process
    deadline: float = 0.0
    over_time: bool = False
    # lease_clock() when its starter's lease on the source runs out, moved on by each
    # renewal (CrawlPool.lease); None: no lease bounds it
    lease_until: float | None = None
    db: Database | None = None  # its run's, once opened: a reload may move the pool on

    def lapsed(self) -> bool:
        """Whether its starter's lease on the source has run out (it must not start)."""
        return self.lease_until is not None and lease_clock() >= self.lease_until
