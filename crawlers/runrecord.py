"""A crawl's ledger (:mod:`crawlers.runledger`) written straight to the database by the crawl
process, keyed by the run's id; and the pages that wait for their next try after a failure.

Written once the crawl's pipelines have stored every article
(:class:`crawlers.pipelines.StorePipeline`). A run always has something to record (its
navigation pages had again, its link counts), so the crawl process imports storage up front.
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
    links = ledger.links.counts()
    record_run_pages(db, run_id, ledger.source, failures, ledger.had, links, ledger.not_articles)


def held_back_checker(database: str, source: str) -> Callable[[Sequence[str]], dict[str, str]]:
    """Which of these URLs (normalised) of ``source`` are held back, and why: failed and
    waiting for their next try, or tried and found no article."""

    def held_back_of(urls: Sequence[str]) -> dict[str, str]:
        from storage.pagefailures import held_back

        with crawl_database(database).session() as session:
            return held_back(session, source, urls)

    return held_back_of
