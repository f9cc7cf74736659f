"""Failed pages on the database: one row per page, tried again after a growing wait, cleared
when the page is had again, at most a bounded number per source; and a page whose extraction
worker died is recorded at the extract stage and shown by `eventwatch runs`."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from sqlalchemy import select

from crawlers.crawling.items import PageItem
from crawlers.crawling.linkplan import LinkBook
from crawlers.crawling.pipelines import ExtractPipeline
from crawlers.crawling.runledger import RunLedger
from crawlers.launcher.pagerecord import record_pages
from crawlers.workers import server as workers
from storage import pagefailures
from storage.db import Database
from storage.models import NotArticlePage
from storage.pagefailures import (
    DATABASE_FAULT,
    FAILED,
    NO_ARTICLE,
    FailedPage,
    backoff,
    held_back,
    page_failures,
    record_run_pages,
)
from storage.runs import open_run
from tests.test_crawl import run_cli, write_config
from tests.test_workers import PAGE

URL = "https://pam.example/news/1"


def test_a_page_failing_again_waits_longer_and_is_cleared_when_had(db: Database) -> None:
    first, second = open_run(db, "pam"), open_run(db, "pam")
    record_run_pages(db, first, "pam", [FailedPage(URL, "fetch", 503, "HTTP 503")], (), None)
    record_run_pages(db, second, "pam", [FailedPage(URL, "extract", None, "broken")], (), None)
    (row,) = page_failures(db, source="pam")
    assert (row.run_id, row.stage, row.attempts) == (second, "extract", 2)
    assert row.next_attempt_at - row.last_failed_at == backoff(2) == 2 * backoff(1)
    assert row.first_failed_at < row.last_failed_at
    record_run_pages(db, second, "pam", [], (), None, not_articles=[URL + "g"])
    with db.session() as session:
        assert held_back(session, "pam", [URL, URL + "0", URL + "g"]) == {
            URL: FAILED,
            URL + "g": NO_ARTICLE,
        }
        assert held_back(session, "other", [URL]) == {}
    record_run_pages(db, open_run(db, "pam"), "pam", [], {URL}, {"seen": 1})
    assert page_failures(db, source="pam") == []
    assert backoff(40) == timedelta(days=7)


def test_a_page_the_database_could_not_take_waits_for_no_back_off(db: Database) -> None:
    """The database away or locked is no fault of the page: an hour's back-off had kept a
    new article (and its alert) out that long after the database came back."""
    run = open_run(db, "pam")
    ours = FailedPage(URL, "store", None, f"{DATABASE_FAULT}database is locked")
    refused = FailedPage(URL + "2", "store", None, "could not be stored: ValueError()")
    record_run_pages(db, run, "pam", [ours, refused], (), None)
    with db.session() as session:
        assert held_back(session, "pam", [URL, URL + "2"]) == {URL + "2": FAILED}
    assert {row.url for row in page_failures(db, source="pam")} == {URL, URL + "2"}  # shown


def test_failures_kept_per_source_are_bounded_newest_first(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagefailures, "MAX_PER_SOURCE", 3)
    for number in range(5):
        page = FailedPage(f"{URL}{number}", "fetch", 404, "HTTP 404")
        record_run_pages(db, open_run(db, "pam"), "pam", [page], (), None)
    record_run_pages(
        db, open_run(db, "other"), "other", [FailedPage(URL, "fetch", 404, "")], (), None
    )
    assert [f.url for f in page_failures(db, source="pam")] == [f"{URL}{n}" for n in (4, 3, 2)]
    assert len(page_failures(db, source="other")) == 1


def test_pages_without_an_article_kept_per_source_are_bounded_newest_first(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagefailures, "MAX_PER_SOURCE", 3)
    for number in range(5):
        record_run_pages(db, open_run(db, "pam"), "pam", [], (), None, [f"{URL}{number}"])
    record_run_pages(db, open_run(db, "pam"), "pam", [], {f"{URL}4"}, None)  # adds none
    with db.session() as session:
        kept = session.scalars(select(NotArticlePage.url).order_by(NotArticlePage.tried_at))
        assert list(kept) == [f"{URL}{n}" for n in (2, 3, 4)]


def test_a_page_whose_extraction_worker_died_is_shown_failed_at_extract(tmp_path: Path) -> None:
    config = write_config(tmp_path, [{"name": "pam", "start_urls": ["https://pam.example/"]}])
    run_cli(config, "db", "upgrade")
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    ledger = RunLedger("pam", LinkBook(10))
    settings = Settings({"EVENTWATCH_EXTRACT_WORKERS": 1})
    crawler = SimpleNamespace(stats=None, settings=settings, spider=SimpleNamespace(ledger=ledger))
    pipeline = ExtractPipeline(crawler)  # type: ignore[arg-type]
    try:
        asyncio.run(_kill_worker_then_extract(pipeline))
    finally:
        workers.shutdown()
    (fault,) = ledger.failures.values()
    assert (fault.url, fault.stage) == (URL, "extract")
    record_pages(db, open_run(db, "pam"), "pam", ledger.report())
    db.dispose()
    shown = run_cli(config, "runs", "--failed").stdout
    assert f"failed extract: {URL} — extraction failed: WorkerDied" in shown


async def _kill_worker_then_extract(pipeline: ExtractPipeline) -> None:
    assert await workers.extract_page(PAGE, "http://127.0.0.1/a", 1) is not None
    assert workers._pool is not None
    for pid in workers._pool.pids():  # the OOM killer, or a crash in a C parser
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(DropItem):
        await pipeline.process_item(PageItem("pam", URL, PAGE))


def test_the_runs_error_names_pages_that_failed_after_their_fetch() -> None:
    from crawlers.launcher.sources import CrawlSource
    from spiders.site import SiteSpider

    spider = SiteSpider(CrawlSource("pam", start_urls=("https://pam.example/",)))
    spider.reached = 1
    spider.ledger.failed(URL, "extract", "extraction failed: ValueError('offset')")
    assert spider.verdict("finished") == (
        "ok",
        f"{URL}: extraction failed: ValueError('offset')",
    )


def test_a_page_asked_for_again_is_asked_for_as_what_its_url_reads() -> None:
    """A failed page whose URL reads as "try" (not an article by its URL alone) was asked for
    again as a sure article: the trial's stricter length, and its "no article here" record,
    no longer applied, and an archive page could be stored as an article."""
    from crawlers.crawling.links import TRY, article_decision
    from crawlers.launcher.sources import CrawlSource
    from spiders.site import SiteSpider

    site = "http://127.0.0.1:9"
    source = CrawlSource(name="s", start_urls=(f"{site}/",), sitemaps=(f"{site}/sitemap.xml",))
    spider = SiteSpider(source)
    tried, story = f"{site}/archive/2024/12/", f"{site}/news/2024/12/01/a-story"
    assert article_decision(tried, spider.follow).action == TRY
    spider.due_again_of = lambda: [tried, story]

    async def asked() -> dict[str, bool]:
        return {r.url: r.meta.get("trial") async for r in spider.start() if r.url in (tried, story)}

    assert asyncio.run(asked()) == {tried: True, story: False}
