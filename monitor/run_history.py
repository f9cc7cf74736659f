"""Keeping the crawl-run history bounded: a year of 1,000 sources crawled every 30 minutes is
17 million runs, which nobody reads past the last few months. The daemon's and the workers'
runs job delete the old ones once a day (``daemon.keep_runs``)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from monitor.config import format_duration
from storage.db import Database
from storage.runs import prune_runs

PRUNE_EVERY = timedelta(days=1)
logger = logging.getLogger(__name__)


class RunPruner:
    """Prunes at most once a PRUNE_EVERY, the first time at the first call; a prune that
    fails (the database locked) is tried again at the next call."""

    def __init__(self) -> None:
        self.done_at: float | None = None

    def __call__(self, db: Database, keep: timedelta | None, stop: threading.Event) -> int:
        if keep is None:
            return 0
        now = time.monotonic()
        if self.done_at is not None and now - self.done_at < PRUNE_EVERY.total_seconds():
            return 0
        pruned = prune_runs(db, datetime.now(UTC) - keep, stop)
        if not stop.is_set():  # a prune cut short by a stop goes on at the next start
            self.done_at = now
        if pruned:
            logger.info("deleted %d crawl runs older than %s (daemon.keep_runs)", pruned,
                        format_duration(keep))  # fmt: skip
        return pruned
