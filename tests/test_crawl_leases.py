"""A crawl never outlives its starter's lease on the source: past the lease's end (not renewed,
or its whole process stopped meanwhile) it starts no download and closes ``stopped``, while a
renewed lease lets it run to its end; a renewal that finds the lease taken gives it up."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawlers.launcher.jobs import PoolSettings
from crawlers.launcher.leaseclock import lease_clock
from crawlers.launcher.runner import CrawlPool
from crawlers.launcher.sources import CrawlSource
from monitor.source_leases import LOST, SourceLeases
from storage.db import Database
from storage.migrate import upgrade
from storage.schedule import claim_source, lease_of_another, release_source
from tests import newsroom
from tests.newsroom_pool import newsroom_pool
from tests.sitehost import SiteServer, holding_server

SETTLE = 0.3  # for a request sent just before an instant to reach the server's log
FAR = 600.0  # a lease that runs out only when the test says so


def _source(site: SiteServer) -> CrawlSource:
    return CrawlSource(name="newsroom", start_urls=(site.base_url + "/",), download_delay=0.5)


def _sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - lease_clock()))


def _asked(site: SiteServer, requests: int) -> None:
    """Until the site has been asked ``requests`` times: the crawl is under way."""
    deadline = time.monotonic() + 120
    while len(site.paths()) < requests:
        assert time.monotonic() < deadline, f"the crawl asked {len(site.paths())} pages"
        time.sleep(0.05)


def test_a_crawl_whose_lease_is_not_renewed_stops_at_its_end(tmp_path: Path) -> None:
    with newsroom_pool(tmp_path) as (pool, site, _):
        job = pool.submit(_source(site), lease_until=lease_clock() + FAR)
        _asked(site, 3)
        lease_end = lease_clock() + 1.0
        pool.lease("newsroom", lease_end)  # renewed no more
        _sleep_until(lease_end + SETTLE)
        asked = len(site.paths())
        run = job.done.result(timeout=120)
        time.sleep(1.5)  # a crawl left going on asks a page every half second
        assert len(site.paths()) == asked
    assert run.status == "stopped"
    assert "lease on its source ran out" in (run.error or "")
    assert 2 <= run.pages < len(newsroom.ARTICLES)


def test_a_download_under_way_when_the_lease_runs_out_is_given_up(tmp_path: Path) -> None:
    """A crawl closed for its lease had waited for each download under way, up to
    DOWNLOAD_TIMEOUT on a site that never answers, its run open all that time."""
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    db = Database(url)
    pool = CrawlPool(db, PoolSettings(extract_workers=0))
    with holding_server() as site:
        try:
            source = CrawlSource(name="hung", start_urls=(site.base_url + "/",),
                                 extra_settings={"DOWNLOAD_TIMEOUT": 600})  # fmt: skip
            job = pool.submit(source, lease_until=lease_clock() + FAR)
            deadline = time.monotonic() + 120
            while site.asked < 1:
                assert time.monotonic() < deadline, "the crawl asked nothing"
                time.sleep(0.05)
            pool.lease("hung", lease_clock() + 0.5)  # renewed no more
            run = job.done.result(timeout=120)
            assert run.status == "stopped"
            assert (run.error or "").startswith("stopped: the lease on its source ran out")
            assert site.all_given_up()  # its connection closed, not left open
        finally:
            pool.close(10)
            db.dispose()
    assert run.pages == 0  # not failed, nor fetched


def test_a_crawl_process_stopped_past_the_lease_fetches_nothing_once_it_goes_on(
    tmp_path: Path,
) -> None:
    """A worker stopped whole (Ctrl-Z, SIGSTOP, swapped out) while another took its source:
    its crawl had gone on fetching the moment it woke, beside the other one's. Stopped mid-
    crawl, with requests waiting out their delay in the downloader."""
    with newsroom_pool(tmp_path) as (pool, site, started):
        job = pool.submit(_source(site), lease_until=lease_clock() + FAR)
        _asked(site, 5)
        lease_end = lease_clock() + 1.0
        pool.lease("newsroom", lease_end)  # the last renewal before the stop
        time.sleep(SETTLE)  # for the crawl process to read it
        process = started[0]
        os.kill(process.pid, signal.SIGSTOP)
        try:
            _sleep_until(lease_end + SETTLE)
            asked = len(site.paths())
        finally:
            os.kill(process.pid, signal.SIGCONT)
        run = job.done.result(timeout=120)
        time.sleep(1.5)
        assert len(site.paths()) == asked
    assert run.status == "stopped"
    assert "lease on its source ran out" in (run.error or "")


def test_a_renewed_lease_lets_the_crawl_run_to_its_end(tmp_path: Path) -> None:
    with newsroom_pool(tmp_path) as (pool, site, _):
        source = dataclasses.replace(_source(site), download_delay=0.1)  # many renewals still
        job = pool.submit(source, lease_until=lease_clock() + 2.0)
        renewing = threading.Event()

        def renew() -> None:
            while not renewing.wait(0.5):
                pool.lease("newsroom", lease_clock() + 2.0)

        thread = threading.Thread(target=renew, daemon=True)
        thread.start()
        try:
            run = job.done.result(timeout=120)
        finally:
            renewing.set()
            thread.join()
    assert run.status == "ok", run.error
    assert run.new_articles == len(newsroom.ARTICLES)


def test_a_crawl_that_waited_past_its_lease_is_not_started(tmp_path: Path) -> None:
    with newsroom_pool(tmp_path) as (pool, site, _):
        run = pool.submit(_source(site), lease_until=lease_clock() - 1).done.result(120)
        assert site.paths() == []
    assert run.status == "stopped"
    assert "lease on its source ran out" in (run.error or "")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'leases.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def test_a_renewal_moves_each_lease_on_and_gives_up_one_another_took(db: Database) -> None:
    heard: list[tuple[str, float]] = []
    length = timedelta(seconds=30)
    mine = SourceLeases(
        db,
        "me",
        length=length,
        renew_every=timedelta(seconds=10),
        on_lease=lambda *a: heard.append(a),
    )
    now = datetime.now(UTC)
    first = mine.claim("kept", now)
    assert first is not None and mine.claim("taken", now) is not None
    assert first <= lease_clock() + length.total_seconds()
    # as if this holder had stalled past its lease and another had taken the source since
    release_source(db, "taken", "me", None)
    assert claim_source(db, "taken", "other", now, length)
    before = lease_clock()
    assert mine.renew()
    assert dict(heard)["taken"] == LOST
    assert dict(heard)["kept"] >= before + length.total_seconds() - mine.margin
    assert mine.sources() == {"kept"}
    assert lease_of_another(db, "taken", "me") is not None  # the other's lease is left alone


def test_a_renewal_the_database_refuses_leaves_the_leases_to_run_out(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    upgrade(url)
    db = Database(url)
    heard: list[tuple[str, float]] = []
    mine = SourceLeases(
        db, "me", length=timedelta(seconds=30), renew_every=timedelta(seconds=10),
        on_lease=lambda *a: heard.append(a),
    )  # fmt: skip
    until = mine.claim("site", datetime.now(UTC))
    db.dispose()
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # no database there any more
    try:
        assert not mine.renew()  # tried again within a second, not a heartbeat
    finally:
        db.dispose()
    assert heard == []
    assert mine.until("site") == until


def test_a_crawl_whose_downloads_were_refused_is_stopped_however_it_closes() -> None:
    """Refused downloads can empty a crawl's queue before it is closed for its lease: it
    then closed ``finished``, and was ``ok``, its listing's validators kept, and the articles
    it never asked for were lost to the next crawl's 304."""
    from scrapy import Request
    from twisted.python.failure import Failure

    from crawlers.crawling.leases import REFUSAL, LeaseLapsed
    from spiders.site import SiteSpider

    site = "http://127.0.0.1:9"
    spider = SiteSpider(CrawlSource(name="s", start_urls=(f"{site}/",)))
    story = f"{site}/news/2024/12/01/a-story"
    spider.ledger.followed(story, f"{site}/")
    refused = Failure(LeaseLapsed(REFUSAL))
    refused.request = Request(story, meta={"kind": "article"})  # type: ignore[attr-defined]
    spider.on_error(refused)
    assert spider.verdict("finished")[0] == "stopped"
    assert f"{site}/" in spider.ledger.unsettled  # its validators are not kept
    assert spider.failures == []  # the page did not fail
