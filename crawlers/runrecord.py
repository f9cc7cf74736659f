"""A crawl's ledger (:mod:`crawlers.runledger`) written straight to the database by the crawl
process, keyed by the run's id; and the pages that wait for their next try after a failure.

Written once the crawl's pipelines have stored every article
(:class:`crawlers.pipelines.StorePipeline`). Storage is imported only then, and only when there
is something to record: a re-crawl of an unchanged site does not load SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crawlers.database import crawl_database
from crawlers.runledger import RunLedger

if TYPE_CHECKING:
    from storage.db import Database


def record_ledger(db: Database, run_id: int, ledger: RunLedger) -> None:
    """Write the run's failures, clear the pages had again, and keep the link counts."""
    from storage.pagefailures import FailedPage, record_run_pages

    failures = [
        FailedPage(fault.url, fault.stage, fault.http_status, fault.reason)
        for fault in ledger.failures.values()
    ]
    record_run_pages(db, run_id, ledger.source, failures, ledger.had, ledger.links.counts())


def waiting_checker(database: str, source: str) -> Callable[[Sequence[str]], set[str]]:
    """Which of these URLs (normalised) of ``source`` failed and wait for their next try."""

    def waiting_of(urls: Sequence[str]) -> set[str]:
        from storage.pagefailures import waiting_urls

        with crawl_database(database).session() as session:
            return waiting_urls(session, source, urls)

    return waiting_of
