"""Extraction in worker processes, so a crawl uses every core and downloads never wait on it.

Scrapy runs in one thread; trafilatura is pure CPU. With ``EVENTWATCH_EXTRACT_WORKERS`` set
above zero, pages are extracted by a pool of that many processes, shared by every source the
crawl process runs, while the reactor goes on downloading. The pool starts on the first page
to extract; its fork server (below) starts when a job arrives that knows nothing of its
source's pages (a first crawl) or when the first article is asked for, so that its imports run
while the pages download, and a re-crawl that finds nothing new never starts it.
At zero, pages are extracted in the crawl process itself (``eventwatch crawl SOURCE``, and
tests that want one process).

Workers are forked from a fork server that has imported extraction once
(:mod:`crawlers.workers.preload`), not spawned to import it each: the server is a fresh
interpreter, so no lock held by one of the crawl process's threads is inherited, and each
worker starts without importing extraction again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING

from crawlers.workers.forkserver_internals import stop_fork_server
from crawlers.workers.pool import LoopPool, WorkerDied

if TYPE_CHECKING:
    from datetime import datetime

    from crawlers.enrichment.entities import Entities
    from crawlers.extraction.date_parsing import DateHint
    from crawlers.workers.prepared import PreparedPage
    from storage.similarity import TextKeys

logger = logging.getLogger(__name__)

PRELOAD = "crawlers.workers.preload"

_pool: LoopPool | None = None


# Too short for trafilatura's own extraction: it takes the comparison with jusText.
NEAR_EMPTY = "<html><body><p>warm up</p></body></html>"


def _warm_up() -> None:
    """Runs in each worker once: the first page should not pay for trafilatura's imports
    and first-use loading (already done where the fork server preloaded them).

    A worker lets go of the crawl process's stdout, which it holds from its start and never
    writes to: the crawl process's starter takes the end of that pipe for the end of the
    process, and a killed crawl process (its crawls, their runs) had waited for the page a
    worker of its was still on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    from crawlers.workers.prepared import prepare_page

    prepare_page(NEAR_EMPTY, "http://127.0.0.1/")


def _context() -> BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def start(size: int) -> None:
    """Start the fork server now, if workers of ``size`` will come from one: it imports
    extraction and warms up while the crawl goes on, and the first page finds it ready."""
    if size > 0 and _context().get_start_method() == "forkserver":
        forkserver.ensure_running()


def _pool_of(size: int) -> LoopPool:
    """The pool of ``size`` workers, fed by the running event loop (made anew for another)."""
    global _pool
    if _pool is None or _pool.size != size or _pool.loop is not asyncio.get_running_loop():
        if _pool is not None:
            shutdown()
        # never a plain fork: the crawl process has threads (the reactor's pool, SQLite's
        # busy waits), and a forked child could inherit a lock held by one of them.
        _pool = LoopPool(size, _context(), _warm_up)
    return _pool


async def extract_page(
    html: str,
    url: str,
    workers: int,
    hint: DateHint | None = None,
    site_places: tuple[str, ...] = (),
) -> PreparedPage | None:
    """The page's article, extracted and prepared in a worker (here, with ``workers`` at 0).

    A worker that dies (a crash in a C parser, the kernel's OOM killer) fails the pages it
    held, which are reported as failed, and is replaced (:mod:`crawlers.workers.pool`).
    """
    if workers <= 0:
        # imported on the first page, not at start: a crawl that finds nothing new never
        # needs trafilatura, and loading it is most of a short crawl's time
        from crawlers.workers.prepared import prepare_page

        return prepare_page(html, url, hint, site_places)
    from crawlers.workers.prepared import prepare_page  # does not import trafilatura itself

    pool = _pool_of(workers)
    try:
        prepared: PreparedPage | None = await pool.submit(
            prepare_page, html, url, hint, site_places
        )
    except WorkerDied:
        logger.warning("an extraction worker died on %s; starting another", url)
        raise
    return prepared


async def enrich_text(
    title: str,
    text: str,
    published_at: datetime | None,
    warnings: list[str],
    language: str | None,
    workers: int,
) -> tuple[Entities, TextKeys, list[str]]:
    """Names, mentioned dates and keys of a text changed after its extraction (recurring
    lines taken out), in a worker: the crawl process loads no gazetteer. Here when there
    are no workers, or the worker asked failed (died, or sent back an error)."""
    from crawlers.workers.prepared import enriched

    if workers > 0:
        try:
            result: tuple[Entities, TextKeys, list[str]] = await _pool_of(workers).submit(
                enriched, title, text, published_at, warnings, language
            )
            return result
        except Exception as exc:  # the text is enriched here rather than the article lost
            logger.warning("enriching a text in a worker failed (%r); enriching it here", exc)
    return enriched(title, text, published_at, warnings, language)


def shutdown() -> None:
    """Stop the workers (at the end of the crawl process, or after one died), then the fork
    server (:mod:`crawlers.workers.forkserver_internals`). A server that never forked a
    worker is killed first: it may still be importing, and the crawl (a re-crawl whose one
    new article did not download) need not wait for that."""
    global _pool
    never_forked = _pool is None
    if _pool is not None:
        _pool.shutdown()
    stop_fork_server(kill_first=never_forked)
    _pool = None
