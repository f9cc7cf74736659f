"""A run's pages as its crawl process reported them (:meth:`RunLedger.report` of
:mod:`crawlers.crawling.runledger`), written with the run by the process that started it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from storage.db import Database
from storage.pagefailures import FailedPage, record_run_pages

logger = logging.getLogger(__name__)


def record_pages(db: Database, run_id: int, source: str, ledger: Mapping[str, Any]) -> None:
    """Write the run's failures, clear the pages had again, and keep the link counts."""
    try:
        failures = [
            FailedPage(str(url), str(stage), None if status is None else int(status), str(why))
            for url, stage, status, why in ledger.get("failures", [])
        ]
        had = [str(url) for url in ledger.get("had", [])]
        judged = [str(url) for url in ledger.get("not_articles", [])]
        links = dict(ledger.get("links") or {}) or None
    except (TypeError, ValueError):  # not the crawl process's own report: nothing to trust
        logger.error("source=%s run=%d: its pages were reported unreadably", source, run_id)
        return
    record_run_pages(db, run_id, source, failures, had, links, judged)
