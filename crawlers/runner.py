"""Starts crawl subprocesses and waits for them, within a time limit; records their runs.

The runs are opened here before a crawl starts and closed here after it, from what the
crawl process reported (:mod:`crawlers.report`) or, when it reported nothing, from how it
ended, so that a killed or crashed crawl still shows. Imported by the monitor: this module
must not import Scrapy or Twisted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
from collections.abc import Callable, Sequence

from crawlers import report
from crawlers.child import CrawlChild
from crawlers.sources import CrawlSource
from crawlers.streams import communicate_live
from crawlers.urls import on_site
from storage.db import Database
from storage.fetchstate import Validators, fetch_states, save_validators
from storage.runs import RunCounts, RunSummary, close_run, get_run, open_run, record_counts

logger = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 60.0  # Scrapy closes itself at the limit; this is the backstop
STDERR_TAIL_CHARS = 2000
RUN_COUNTS = [field.name for field in dataclasses.fields(RunCounts)]


def _job(
    database: str,
    sources: Sequence[CrawlSource],
    run_ids: Sequence[int],
    known: dict[str, Validators],
    refresh: bool,
    log_level: str,
    extract_workers: int,
    progress: bool = False,
) -> str:
    """What the crawl process reads from stdin (:func:`crawlers.crawl.main`): each run with
    the ``known`` validators of its own site's listing pages, feeds and sitemaps."""
    runs = [[run_id, source.to_dict()] for run_id, source in zip(run_ids, sources, strict=True)]
    validators = {
        str(run_id): _on_site_of(source, known)
        for run_id, source in zip(run_ids, sources, strict=True)
    }
    options = {
        "refresh": refresh,
        "log_level": log_level,
        "extract_workers": extract_workers,
        "progress": progress,  # crawlers.progress
    }
    return json.dumps({"database": database, "runs": runs, "validators": validators, **options})


def _on_site_of(source: CrawlSource, known: dict[str, Validators]) -> dict[str, Validators]:
    domains = source.domains()
    return {url: v for url, v in known.items() if on_site(url, domains)}


def crawl_source(
    source: CrawlSource,
    db: Database,
    *,
    refresh: bool = False,
    log_level: str = "WARNING",
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> RunSummary:
    """Crawl one source in a subprocess of its own, extracting there (the daemon's way: its
    crawls run side by side, one per source); the run row tells what happened, even on a kill."""
    return crawl_together([source], db, refresh=refresh, log_level=log_level, on_start=on_start)[0]


def crawl_sources(
    sources: Sequence[CrawlSource],
    db: Database,
    *,
    extract_workers: int | None = None,
    refresh: bool = False,
    log_level: str = "WARNING",
    child: CrawlChild | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> list[RunSummary]:
    """Crawl several sources in one subprocess, pages extracted by ``extract_workers``
    processes (default: one per CPU): Python and Scrapy start once, and every core extracts
    whichever source has pages waiting. ``child``: a crawl process started earlier.
    ``on_progress``: given each line the crawl prints as it comes, progress
    (:func:`crawlers.report.read_progress`) and log lines, but not reports."""
    workers = extract_workers if extract_workers is not None else os.cpu_count() or 1
    return crawl_together(
        sources,
        db,
        refresh=refresh,
        log_level=log_level,
        extract_workers=workers,
        child=child,
        on_progress=on_progress,
    )


def crawl_together(
    sources: Sequence[CrawlSource],
    db: Database,
    *,
    refresh: bool = False,
    log_level: str = "WARNING",
    extract_workers: int = 0,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    child: CrawlChild | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> list[RunSummary]:
    """Crawl ``sources`` in one subprocess; one run row per source, closed whatever happens.

    ``db`` is the caller's, kept open: the daemon crawls every few minutes for months, and
    each new engine would leave its own entries in SQLAlchemy's per-mapper statement caches.
    """
    if not sources:
        return []
    process = (child or CrawlChild()).take()  # imports while the runs are opened
    try:
        run_ids = [open_run(db, source.name) for source in sources]
        if isinstance(process, OSError):
            for run_id in run_ids:
                close_run(db, run_id, "failed", f"crawl process could not start: {process}")
            return [get_run(db, run_id) for run_id in run_ids]
        if on_start is not None:
            on_start(process)
        known = {} if refresh else fetch_states(db)
        progress = on_progress is not None
        job = _job(db.url, sources, run_ids, known, refresh, log_level, extract_workers, progress)
        _wait(process, job, sources, db, run_ids, on_progress)
        return [get_run(db, run_id) for run_id in run_ids]
    finally:
        if not isinstance(process, OSError) and process.poll() is None:
            process.kill()  # never got its job: the runs could not be opened
            process.communicate()


def _wait(
    child: subprocess.Popen[str],
    job: str,
    sources: Sequence[CrawlSource],
    db: Database,
    run_ids: list[int],
    on_progress: Callable[[str], None] | None = None,
) -> None:
    """Wait until the longest time limit (plus a grace) has passed, then record what the
    crawl reported; runs it did not report on are closed as ``timeout`` after a kill, as
    ``failed`` after a crash or an end without closing their spider."""
    limit = max(source.time_limit for source in sources)
    killed = False
    if on_progress is not None:
        stdout, stderr, killed = communicate_live(child, job, limit + _grace(limit), on_progress)
    else:
        try:
            stdout, stderr = child.communicate(job, timeout=limit + _grace(limit))
        except subprocess.TimeoutExpired:
            child.kill()
            killed = True
            stdout, stderr = child.communicate()  # what was read before the kill is in it too
    closed = _record(db, run_ids, report.read(stdout))
    tail = (stderr or "").strip()[-STDERR_TAIL_CHARS:]
    for source, run_id in zip(sources, run_ids, strict=True):
        if run_id in closed:  # a run the crawl reported on keeps its own verdict
            continue
        if killed:
            reason = f"killed: still running past its {source.time_limit:.0f} s time limit"
            close_run(db, run_id, "timeout", reason)
            logger.warning("source=%s run=%d killed at its time limit", source.name, run_id)
        elif child.returncode != 0:
            close_run(db, run_id, "failed", f"crawl process exited {child.returncode}: {tail}")
        else:
            close_run(db, run_id, "failed", "crawl ended without closing the spider")


def _record(db: Database, run_ids: list[int], reports: dict[int, report.RunReport]) -> set[int]:
    """Record each run's reported validators, counts and verdict; the runs closed."""
    closed = set()
    for run_id in run_ids:
        reported = reports.get(run_id)
        if reported is None:
            continue
        if reported.validators:
            save_validators(db, {url: Validators(*v) for url, v in reported.validators.items()})
        if reported.status is not None:
            counts = {name: reported.counts.get(name, 0) for name in RUN_COUNTS}
            record_counts(db, run_id, RunCounts(**counts))
            close_run(db, run_id, reported.status, reported.error)
            closed.add(run_id)
    return closed


def _grace(time_limit: float) -> float:
    """Time after the limit before a kill: up to a minute, less for short test limits."""
    return min(KILL_GRACE_SECONDS, max(10.0, time_limit))
