"""Starts crawl subprocesses and waits for them, within a time limit.

Imported by the monitor: this module must not import Scrapy or Twisted.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from crawlers.sources import CrawlSource
from storage.db import Database
from storage.runs import RunSummary, close_run, get_run, open_run

logger = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 60.0  # Scrapy closes itself at the limit; this is the backstop
STDERR_TAIL_CHARS = 2000


def _command(database: str, run_id: int, refresh: bool, log_level: str) -> list[str]:
    command = [sys.executable, "-m", "crawlers.crawl", "--database", database]
    command += ["--run-id", str(run_id), "--log-level", log_level]
    return command + (["--refresh"] if refresh else [])


def crawl_source(
    source: CrawlSource,
    database: str,
    *,
    refresh: bool = False,
    log_level: str = "WARNING",
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> RunSummary:
    """Crawl one source in a subprocess; the run row tells what happened, even on a kill."""
    db = Database(database)
    try:
        run_id = open_run(db, source.name)
        child = subprocess.Popen(
            _command(database, run_id, refresh, log_level),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if on_start is not None:
            on_start(child)
        _wait(child, source, db, run_id)
        return get_run(db, run_id)
    finally:
        db.dispose()


def _wait(child: subprocess.Popen[str], source: CrawlSource, db: Database, run_id: int) -> None:
    try:
        _, stderr = child.communicate(
            source.to_json(), timeout=source.time_limit + _grace(source.time_limit)
        )
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        limit = f"{source.time_limit:.0f} s"
        close_run(db, run_id, "timeout", f"killed: still running past its {limit} time limit")
        logger.warning("source=%s run=%d killed at its time limit", source.name, run_id)
        return
    if child.returncode != 0:
        tail = (stderr or "").strip()[-STDERR_TAIL_CHARS:]
        close_run(db, run_id, "failed", f"crawl process exited {child.returncode}: {tail}")


def _grace(time_limit: float) -> float:
    """Time after the limit before a kill: up to a minute, less for short test limits."""
    return min(KILL_GRACE_SECONDS, max(10.0, time_limit))


def crawl_sources(
    sources: Sequence[CrawlSource],
    database: str,
    *,
    parallel: int | None = None,
    refresh: bool = False,
    log_level: str = "WARNING",
) -> list[RunSummary]:
    """Crawl several sources, at most ``parallel`` at once (default: CPU count)."""
    workers = max(1, min(parallel or os.cpu_count() or 1, len(sources) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(crawl_source, s, database, refresh=refresh, log_level=log_level)
            for s in sources
        ]
        return [f.result() for f in futures]
