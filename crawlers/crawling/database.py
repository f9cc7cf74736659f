"""The crawl process's one handle on the database, shared by every part of every crawler,
and its one thread that writes articles.

A crawl of several sources runs a crawler per source, and each crawler's store pipeline,
stored-URL check and site lines want the database. Each used to open its own
engine: a dozen engines, each with its own connection and its own cache of compiled
statements, for one process that uses one at a time. They are disposed once, when the crawl
process ends (:func:`crawlers.crawling.crawl.main`).

Opened on first use only, and SQLAlchemy with it: a crawl that finds nothing new never
needs the database (:mod:`crawlers.launcher.report`).

Articles are written on a thread of their own (:func:`store_thread`), not on the event loop:
while a batch's ORM work and commit ran there, the loop would neither download nor hand pages
to the extraction workers, which sat idle. One thread for every
crawler of the process: SQLite takes one writer at a time, so more would only queue on its lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from storage.db import Database

T = TypeVar("T")
logger = logging.getLogger(__name__)

_open: dict[str, Database] = {}
_writer: ThreadPoolExecutor | None = None


def crawl_database(url: str) -> Database:
    """The process's handle on the database at ``url``, opened on first use."""
    if url not in _open:
        from storage.db import Database

        _open[url] = Database(url)
    return _open[url]


def stored_reader(
    database: str | None, read: Callable[[Database, str], list[T]], what: str
) -> Callable[[str], list[T]] | None:
    """A reader of what ``read`` finds stored for a source, if the crawl has a database.

    A database that cannot be read costs the stored evidence, never the crawl: what is
    learned from it is then learned from the current crawl's pages alone.
    """
    if not database:
        return None

    def load(source: str) -> list[T]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return read(crawl_database(database), source)
        except SQLAlchemyError as exc:
            logger.warning("source=%s %s unreadable: %r", source, what, exc)
            return []

    return load


def store_thread() -> ThreadPoolExecutor:
    """The process's thread for writing articles, started on first use; it runs one batch at
    a time, in the order given."""
    global _writer
    if _writer is None:
        _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventwatch-store")
    return _writer


def close_databases() -> None:
    """Wait for the writes already given to the store thread, then dispose of every handle
    opened here (their connections close)."""
    global _writer
    if _writer is not None:
        _writer.shutdown(wait=True)
        _writer = None
    while _open:
        _, database = _open.popitem()
        database.dispose()
