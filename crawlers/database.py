"""The crawl process's one handle on the database, shared by every part of every crawler.

A crawl of several sources runs a crawler per source, and each crawler's store pipeline,
stored-URL check and site lines want the database. Each used to open its own
engine: a dozen engines, each with its own connection and its own cache of compiled
statements, for one process that uses one at a time. They are disposed once, when the crawl
process ends (:func:`crawlers.crawl.main`).

Opened on first use only, and SQLAlchemy with it: a crawl that finds nothing new never
needs the database (:mod:`crawlers.report`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Database

_open: dict[str, Database] = {}


def crawl_database(url: str) -> Database:
    """The process's handle on the database at ``url``, opened on first use."""
    if url not in _open:
        from storage.db import Database

        _open[url] = Database(url)
    return _open[url]


def close_databases() -> None:
    """Dispose of every handle opened here (their connections close)."""
    while _open:
        _, database = _open.popitem()
        database.dispose()
