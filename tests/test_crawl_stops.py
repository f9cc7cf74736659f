"""A crawl told to stop gives up what it waits for (a download under way, a server's
Retry-After) and closes itself with its own verdict and counts, as its cause says."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawlers.launcher.jobs import PoolSettings
from crawlers.launcher.runner import CrawlPool
from crawlers.launcher.sources import CrawlSource
from storage.db import Database
from storage.migrate import upgrade

STORY = (
    "<html><head><title>{0}</title></head><body><article><h1>{0}</h1>{1}</article></body></html>"
)
TEXT = "<p>The assembly met in Dushanbe to agree on shared counter-terrorism work.</p>" * 8
LINKS = "".join(f'<a href="/2024/01/0{n}/story-{n}.html">story {n}</a>' for n in (1, 2, 3))


@contextmanager
def scripted_site(
    answers: dict[str, tuple[int, dict[str, str], str] | None],
) -> Iterator[tuple[str, list[str]]]:
    """A site answering each path as given (status, headers, body); a path given None is
    held unanswered until the site closes; any other path is a 404. Yields its base URL and
    the paths asked so far."""
    closing = threading.Event()
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            answer = answers.get(self.path, (404, {}, "not here"))
            if answer is None:
                closing.wait(120)
                return
            status, headers, body = answer
            data = body.encode()
            self.send_response(status)
            for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        closing.set()
        server.shutdown()
        server.server_close()


@contextmanager
def crawl_pool(tmp_path: Path) -> Iterator[CrawlPool]:
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    db = Database(url)
    pool = CrawlPool(db, PoolSettings(extract_workers=0))
    try:
        yield pool
    finally:
        pool.close(10)
        db.dispose()


def test_a_stop_gives_up_the_wait_a_retry_after_asked_for(tmp_path: Path) -> None:
    """The wait before a retry (a 503 with Retry-After) went on after a stop; a
    pool stopping within it killed the crawl process, and the run lost its own verdict."""
    busy = {"/": (503, {"Retry-After": "29"}, "busy")}
    with scripted_site(busy) as (site, asked), crawl_pool(tmp_path) as pool:
        job = pool.submit(CrawlSource(name="busy", start_urls=(site + "/",)))
        deadline = time.monotonic() + 120
        while "/" not in asked:
            assert time.monotonic() < deadline, "the crawl never asked for its page"
            time.sleep(0.05)
        time.sleep(1.0)  # the 503 read: the crawl waits out its Retry-After
        pool.close(5, stop_crawls=True)  # one still waiting then is killed: no verdict of its own
        run = job.done.result(timeout=60)
    assert run.status == "stopped"
    assert (run.error or "").startswith("its process was asked to stop"), run.error


def test_a_crawl_closing_for_its_page_count_keeps_its_verdict_when_its_time_runs_out(
    tmp_path: Path,
) -> None:
    """Its page count reached, the crawl waits for two downloads under way; its time limit
    then gives them up. It was closed for its page count, not asked to stop: ``ok``,
    stopped early, as before downloads were given up."""
    answers: dict[str, tuple[int, dict[str, str], str] | None] = {
        "/": (200, {}, f"<html><body>{LINKS}</body></html>"),
        "/2024/01/01/story-1.html": (200, {}, STORY.format("Story one", TEXT)),
        "/2024/01/02/story-2.html": None,
        "/2024/01/03/story-3.html": None,
    }
    with scripted_site(answers) as (site, _), crawl_pool(tmp_path) as pool:
        source = CrawlSource(
            name="counted", start_urls=(site + "/",), time_limit=5.0, download_delay=0.0,
            per_host_concurrency=4, extra_settings={"CLOSESPIDER_PAGECOUNT": 3},
        )  # fmt: skip
        run = pool.submit(source).done.result(timeout=120)
    assert run.status == "ok", run.error
    assert (run.error or "").startswith("stopped early: closespider_pagecount")


def test_a_crawler_whose_crawl_has_not_begun_has_no_engine_yet() -> None:
    """A stop that reached the crawl process just as it took a job met that job's crawler
    before its first step, where Scrapy's ``Crawler.engine`` raises: the stop broke off and
    the new crawl went on until the master killed the process, losing its verdict."""
    from scrapy import Spider
    from scrapy.crawler import Crawler

    from crawlers.crawling.crawl import engine_of

    class Quiet(Spider):
        name = "quiet"

    assert engine_of(Crawler(Quiet)) is None
    assert engine_of(None) is None
