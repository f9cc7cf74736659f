"""Storing a crawl's articles in batches: counted as the old one-by-one way, nothing lost."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.logformatter import LogFormatter
from scrapy.settings import Settings

from crawlers.crawling.database import close_databases
from crawlers.crawling.items import PageItem
from crawlers.crawling.pipelines import ExtractPipeline, StorePipeline
from crawlers.workers import server as workers
from storage import articles
from storage.articles import NewArticle, store_articles
from storage.db import Database
from storage.events import count_articles
from storage.migrate import upgrade
from tests.conftest import extraction_processes
from tests.test_storage import TEXT, article


class Stats:
    """Scrapy's stats interface, the two calls the pipeline makes."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] += count

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


@pytest.fixture(autouse=True)
def _crawl_databases_closed() -> Iterator[None]:
    """The store pipeline opens the crawl process's handle (crawlers.crawling.database) when it
    first stores; a test closes it as the process would."""
    yield
    close_databases()


def numbered(number: int) -> NewArticle:
    url = f"https://pam.example/news/{number}"
    text = f"Bulletin {number}: {TEXT} Item {number} of the series, number {number * 7}."
    return article(url=url, canonical_url=url, title=f"Bulletin number {number}", text=text)


def test_a_batch_stores_what_one_by_one_would(db: Database) -> None:
    again = article(url="https://pam.example/print/1", canonical_url="https://pam.example/print/1")
    outcomes = [outcome for outcome, _ in store_articles(db, [article(), again, numbered(2)])]
    assert outcomes == ["new", "duplicate", "new"]  # the same text twice in one batch
    assert [o for o, _ in store_articles(db, [numbered(2), numbered(3)])] == ["duplicate", "new"]
    assert count_articles(db) == 3


def test_a_batch_that_meets_an_article_stored_meanwhile_stores_it_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another crawl stored the batch's first article just after this one looked it up: the
    insert fails on the unique URL, and the batch is rolled back and stored one by one."""
    [(_, first_id)] = store_articles(db, [numbered(1)])
    lookups = Counter[str]()

    def missed_once(real: Any, missed: Any) -> Any:
        def lookup(*args: Any) -> Any:
            lookups[real.__name__] += 1
            return missed if lookups[real.__name__] == 1 else real(*args)

        return lookup

    monkeypatch.setattr(articles, "_known_urls", missed_once(articles._known_urls, {}))
    monkeypatch.setattr(articles, "_existing", missed_once(articles._existing, None))
    stored = store_articles(db, [numbered(1), numbered(2)])
    assert lookups["_existing"] > 2  # the batch, then one by one
    assert stored[0] == ("duplicate", first_id)
    assert stored[1][0] == "new"
    assert count_articles(db) == 2


def pipeline_on(tmp_path: Path, *, migrated: bool = True) -> tuple[StorePipeline, Stats, str]:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    if migrated:
        upgrade(url)
    stats = Stats()
    pipeline = StorePipeline(SimpleNamespace(stats=stats), url)  # type: ignore[arg-type]
    return pipeline, stats, url


async def written(pipeline: StorePipeline) -> None:
    """Until the batches handed to the store thread are written and counted."""
    while pipeline.writing:
        await asyncio.wait(set(pipeline.writing))


def test_the_pipeline_stores_full_batches_then_the_rest_at_close(tmp_path: Path) -> None:
    pipeline, stats, url = pipeline_on(tmp_path)
    db = Database(url)

    async def crawl() -> None:
        for number in range(StorePipeline.BATCH_SIZE + 5):
            pipeline.process_item(numbered(number))
        await written(pipeline)
        assert count_articles(db) == StorePipeline.BATCH_SIZE  # one full batch so far
        await pipeline.close_spider()
        assert count_articles(db) == StorePipeline.BATCH_SIZE + 5

    try:
        asyncio.run(crawl())
    finally:
        db.dispose()
    assert stats.values["eventwatch/new"] == StorePipeline.BATCH_SIZE + 5


def test_a_batch_waiting_on_the_database_does_not_hold_the_crawl(tmp_path: Path) -> None:
    """Another writer holds SQLite's lock: the batch waits on the store thread while the
    event loop goes on (downloading, feeding the extraction workers); once the lock is let go
    the batch is written, and closing the spider waits for it."""
    pipeline, stats, _ = pipeline_on(tmp_path)
    other = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock, until rolled back

    async def crawl() -> list[int]:
        for number in range(StorePipeline.BATCH_SIZE):
            pipeline.process_item(numbered(number))
        seen_meanwhile = []
        for _ in range(3):  # the loop runs, and the batch cannot have been written
            await asyncio.sleep(0)
            seen_meanwhile.append(len(pipeline.writing))
        other.execute("ROLLBACK")
        await pipeline.close_spider()
        return seen_meanwhile

    try:
        assert asyncio.run(crawl()) == [1, 1, 1]
    finally:
        other.close()
    assert stats.values["eventwatch/new"] == StorePipeline.BATCH_SIZE
    assert not pipeline.writing


def test_a_batch_that_cannot_be_stored_is_counted_and_the_crawl_goes_on(tmp_path: Path) -> None:
    pipeline, stats, url = pipeline_on(tmp_path, migrated=False)  # every write fails

    async def crawl() -> None:
        pipeline.process_item(numbered(1))
        pipeline._store()
        await written(pipeline)
        assert stats.values["eventwatch/store_error"] == 1
        upgrade(url)
        pipeline.process_item(numbered(2))
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert stats.values["eventwatch/new"] == 1


def test_an_article_that_cannot_be_stored_costs_only_itself(tmp_path: Path) -> None:
    pipeline, stats, _ = pipeline_on(tmp_path)
    poison = replace(numbered(2), published_at="yesterday")  # type: ignore[arg-type]

    async def crawl() -> None:
        for item in (numbered(1), poison, numbered(3)):
            pipeline.process_item(item)
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert (stats.values["eventwatch/new"], stats.values["eventwatch/store_error"]) == (2, 1)


def test_the_process_ends_only_after_the_store_thread_has_written(tmp_path: Path) -> None:
    """A batch handed to the store thread as the crawl ends is written before the
    process closes its handles (crawlers.crawling.crawl.main), never dropped with the thread."""
    pipeline, _, url = pipeline_on(tmp_path)
    other = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def hand_over() -> None:
        for number in range(StorePipeline.BATCH_SIZE):
            pipeline.process_item(numbered(number))

    asyncio.run(hand_over())  # the loop is gone; the batch waits on the lock, on the thread
    other.execute("ROLLBACK")
    other.close()
    close_databases()
    db = Database(url)
    try:
        assert count_articles(db) == StorePipeline.BATCH_SIZE
    finally:
        db.dispose()


def test_a_page_without_an_article_is_dropped_quietly_and_never_logged_whole(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    stats = Stats()
    settings = Settings({"EVENTWATCH_DATABASE": url, "EVENTWATCH_EXTRACT_WORKERS": 0})
    pipeline = ExtractPipeline(SimpleNamespace(stats=stats, settings=settings))  # type: ignore[arg-type]
    menu = "".join(f"<li><a href='/s/{n}'>Section {n}</a></li>" for n in range(50))
    page = PageItem(
        "pam", "https://pam.example/news/", f"<html><body><ul>{menu}</ul></body></html>"
    )
    with pytest.raises(DropItem) as dropped:
        asyncio.run(pipeline.process_item(page))
    spider = SimpleNamespace(crawler=SimpleNamespace(settings=Settings()))
    entry = LogFormatter().dropped(page, dropped.value, None, spider)  # type: ignore[arg-type]
    assert entry["level"] == logging.DEBUG
    logged = entry["msg"] % entry["args"]
    assert "https://pam.example/news/" in logged
    assert "Section 7" not in logged and "<li>" not in logged
    assert stats.values["eventwatch/not_article"] == 1


def test_the_first_article_asked_for_starts_the_extraction_workers_fork_server(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    settings = Settings({"EVENTWATCH_DATABASE": url, "EVENTWATCH_EXTRACT_WORKERS": 2})
    pipeline = ExtractPipeline(SimpleNamespace(stats=Stats(), settings=settings))  # type: ignore[arg-type]
    workers.shutdown()  # whatever an earlier test left running
    try:
        pipeline.request_scheduled(Request("https://pam.example/", meta={"kind": "listing"}))
        assert extraction_processes() == []  # a re-crawl that finds nothing new: none
        pipeline.request_scheduled(Request("https://pam.example/news/1", meta={"kind": "article"}))
        assert extraction_processes()  # importing extraction while the page downloads
    finally:
        workers.shutdown()
    assert extraction_processes() == []
