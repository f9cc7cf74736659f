"""Values SQLite keeps and PostgreSQL refuses: a URL past 2,048 characters, as written or
as normalised, an ETag or a Last-Modified header longer than any real one, a NUL in a page's
text or a server's header, a lone surrogate, a status line's number past an integer column.
The crawl never follows nor keeps such a URL, headers that do not fit are dropped, text is
stored without NUL or lone surrogate, and a write the database refuses all the same costs the
run nothing but itself: the run is closed and its source crawled again.
``tests/test_postgres.py`` runs these again on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from crawlers.crawling.crawl import crawl_settings
from crawlers.crawling.links import TOO_LONG
from crawlers.launcher import child as crawl_child
from crawlers.launcher.oneshot import crawl_sources
from crawlers.launcher.sources import CrawlSource
from crawlers.urls import MAX_URL_LENGTH, fits, normalize_url
from storage.articles import NewArticle, store_articles
from storage.db import Database
from storage.fetchstate import Validators, fetch_states, save_validators
from storage.migrate import upgrade
from storage.models import URL_LENGTH, Article, CrawlRun, PageFailure
from storage.pagefailures import FailedPage, record_run_pages
from storage.runs import RunCounts, finish_run, get_run, open_run
from tests.jsonld import news_article
from tests.sitehost import serving
from tests.test_crawl import run_cli, source_yaml

LONG_ETAG = '"' + "e" * 600 + '"'
STORIES = ("/news/declared.html", "/news/moved.html", "/news/bare.html", "/news/nul.html")
# trafilatura reads the JSON escape as a NUL, which the title then held
NUL_HEADLINE = news_article("NUL \x00 story")
LONG_LAST_MODIFIED = "Mon, 30 Nov 2026 10:00:00 GMT; " + "x" * 200


def _story(title: str, head: str = "") -> bytes:
    words = "delegation ministers treaty security summit cooperation region agreement"
    body = "".join(f"<p>{title} {words} paragraph {n} of the report.</p>" for n in range(12))
    return (
        f"<html><head><title>{title}</title>{head}</head><body><article><h1>{title}</h1>"
        f"<time datetime='2026-11-30T09:00:00Z'>30 Nov 2026</time>{body}</article></body></html>"
    ).encode()


class LongSite:
    """A news site on 127.0.0.1 whose feed lists a story declaring a canonical URL too long
    to store, a story moved to such a URL, and a link to one; the feed itself answers with
    an ETag and a Last-Modified longer than the database holds."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        pad = MAX_URL_LENGTH + 12 - len(self.base)  # past our limit, within Scrapy's 2083
        self.too_long = f"/news/{'x' * (pad - len('/news/.html'))}.html"
        self.declared = f"{self.base}/news/{'y' * pad}.html"
        self.moved_to = f"/news/moved/{'z' * pad}.html"
        # 1,9xx characters as written, past 2,048 once normalised ("p1" becomes "p1=")
        self.bare_query = "/news/target.html?" + "&".join(f"p{n}" for n in range(400))
        items = "".join(
            f"<item><title>{path}</title><link>{self.base}{path}</link></item>"
            for path in (*STORIES, self.too_long)
        )
        self.feed = f"<rss version='2.0'><channel><title>News</title>{items}</channel></rss>"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requested.append(self.path)
                if self.path == "/feed.xml":
                    headers = {"ETag": LONG_ETAG, "Last-Modified": LONG_LAST_MODIFIED}
                    self._send(200, site.feed.encode(), "application/rss+xml", headers)
                elif self.path == "/news/declared.html":
                    head = f'<link rel="canonical" href="{site.declared}">'
                    self._send(200, _story("Declared story", head))
                elif self.path == "/news/moved.html":
                    self._send(301, b"", headers={"Location": site.base + site.moved_to})
                elif self.path in (site.moved_to, site.too_long):
                    self._send(200, _story("Moved story"))
                elif self.path == "/news/bare.html":
                    self._send(301, b"", headers={"Location": site.base + site.bare_query})
                elif self.path == site.bare_query:
                    self._send(200, _story("Query story"))
                elif self.path == "/news/nul.html":
                    self._send(200, _story("NUL story", NUL_HEADLINE))
                else:
                    self._send(404, b"not here")

            def _send(
                self,
                status: int,
                body: bytes,
                kind: str = "text/html; charset=utf-8",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def long_site() -> Iterator[LongSite]:
    site = LongSite()
    with serving(site.httpd):
        yield site


def test_the_crawl_follows_no_url_longer_than_the_database_stores() -> None:
    assert MAX_URL_LENGTH == URL_LENGTH
    source = CrawlSource(name="s", start_urls=("http://127.0.0.1/",))
    assert crawl_settings(source, "sqlite://", 1, False).getint("URLLENGTH_LIMIT") == URL_LENGTH


def test_a_crawl_keeps_its_articles_when_urls_and_headers_are_too_long_to_store(
    long_site: LongSite, tmp_path: Path, db_url: str
) -> None:
    """Each story is stored under a URL the database holds: the declared canonical URL is
    set aside, the stories moved keep the URL they were linked by, and a NUL leaves the
    title. The link too long is never followed, and says why; the feed's headers are
    dropped, so the next crawl reads it in full, and it finds nothing new and fetches no
    story again."""
    source = source_yaml("long", long_site.base, feeds=[long_site.base + "/feed.xml"])
    source["start_urls"] = []
    config = tmp_path / "eventwatch.yaml"
    config.write_text(yaml.safe_dump({"database": db_url, "sources": [source]}), encoding="utf-8")
    assert run_cli(config, "db", "upgrade").returncode == 0

    first = run_cli(config, "crawl", "long", "--no-alerts")
    assert first.returncode == 0, first.stderr
    assert "new articles 4" in first.stdout and "errors 0" in first.stdout, first.stdout
    db = Database(db_url)
    try:
        with db.session() as session:
            urls = set(session.scalars(select(Article.canonical_url)))
            titles = set(session.scalars(select(Article.title)))
            [links] = session.scalars(select(CrawlRun.links))
            assert not session.scalars(select(PageFailure)).all()
        assert urls == {long_site.base + path for path in STORIES}
        assert not any("\x00" in title for title in titles) and len(titles) == 4
        assert long_site.too_long not in long_site.requested
        assert links["rules"][f"skipped: {TOO_LONG}"] == 1
        assert fetch_states(db)[long_site.base + "/feed.xml"][:2] == (None, None)

        long_site.requested.clear()
        second = run_cli(config, "crawl", "long", "--no-alerts")
        assert second.returncode == 0, second.stderr
        assert "new articles 0" in second.stdout and "errors 0" in second.stdout, second.stdout
        assert long_site.requested.count("/feed.xml") == 1
        assert not set(STORIES) & set(long_site.requested)
    finally:
        db.dispose()


def test_validators_too_long_to_store_are_dropped_and_the_rest_kept(db: Database) -> None:
    page = "http://127.0.0.1/feed.xml"
    too_long = "http://127.0.0.1/" + "x" * URL_LENGTH
    save_validators(
        db,
        {
            page: Validators(LONG_ETAG, LONG_LAST_MODIFIED, "h1"),
            too_long: Validators('"e"', None, "h2"),
            "http://127.0.0.1/sitemap.xml": Validators('"v1\x00"', "Mon\x00", "h4"),
        },
    )
    assert fetch_states(db) == {
        page: Validators(None, None, "h1"),
        "http://127.0.0.1/sitemap.xml": Validators(None, None, "h4"),
    }
    save_validators(db, {page: Validators('"short"', "Mon, 30 Nov 2026 10:00:00 GMT", "h3")})
    assert fetch_states(db)[page] == Validators('"short"', "Mon, 30 Nov 2026 10:00:00 GMT", "h3")


def test_a_page_at_a_url_too_long_to_store_is_recorded_cut_and_cleared_when_had(
    db: Database,
) -> None:
    """Two such URLs that differ only past the cut make one record, the later failure's; a
    status line's number past any HTTP status is no status, and a NUL leaves the reason."""
    stem = "http://127.0.0.1/news/" + "x" * URL_LENGTH
    failures = [
        FailedPage(stem + "-first", "fetch", 500, "first"),
        FailedPage(stem + "-second", "fetch", 502, "second"),
        FailedPage("http://127.0.0.1/odd", "fetch", 9_999_999_999, "HTTP 9999999999: soon\x00"),
    ]
    run_id = open_run(db, "s")
    record_run_pages(db, run_id, "s", failures, had=(), links=None, not_articles=[stem + "-x"])
    with db.session() as session:
        cut, odd = session.scalars(select(PageFailure).order_by(PageFailure.url)).all()
        assert (len(cut.url), cut.url[-1], cut.reason) == (URL_LENGTH, "…", "second")
        assert (odd.http_status, odd.reason) == (None, "HTTP 9999999999: soon")
    record_run_pages(db, open_run(db, "s"), "s", [], had=[stem + "-first"], links=None)
    with db.session() as session:
        assert [row.url for row in session.scalars(select(PageFailure))] == [odd.url]


# A crawl process whose reports the database refuses: an HTTP status and a page count past
# any integer column (a bug of the crawl process, not of a page).
REFUSED_REPORTS = """
import json, os, select, sys
fd, lines = sys.stdin.fileno(), b""
while select.select([fd], [], [], 0.5)[0]:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    lines += chunk
first, second = [j["run"] for j in map(json.loads, lines.splitlines()[1:]) if j["op"] == "crawl"]
def report(run_id, **fields):
    print("eventwatch-report " + json.dumps(dict(run=run_id, **fields)), flush=True)
counts = dict(pages=3, new_articles=1, duplicates=0, errors=1)
report(first, ledger=dict(failures=[["http://127.0.0.1:8001/a", "fetch", 10**20, "boom"]]))
report(first, status="ok", error=None, counts=counts)
report(first, finished=True)
report(second, status="ok", error=None, counts=dict(counts, pages=10**20))
report(second, finished=True)
"""


@pytest.mark.timeout(120)  # before, the pool waited for these runs for ever
def test_a_run_whose_report_the_database_refuses_is_closed_and_its_source_freed(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(db_url)
    monkeypatch.setattr(crawl_child, "CRAWL_COMMAND", REFUSED_REPORTS)
    sources = [
        CrawlSource(name=f"s{port}", start_urls=(f"http://127.0.0.1:{port}/",))
        for port in (8001, 8002)
    ]
    db = Database(db_url)
    try:
        first, second = crawl_sources(sources, db)
        assert (first.status, first.pages, first.errors) == ("ok", 3, 1)
        assert second.status == "failed"
        assert "could not be recorded" in (second.error or "")
        assert all(run.finished_at is not None for run in (first, second))
    finally:
        db.dispose()


def test_text_is_stored_without_nul_or_lone_surrogates(db: Database) -> None:
    """A page's JSON-LD can give either (a JSON escape), a server's header a NUL: SQLite kept
    the NUL, PostgreSQL refused the article, and no database took the surrogate."""
    text = "Ministers met on border security. " * 20
    story = NewArticle(
        source="s",
        url="http://127.0.0.1/news/a.html",
        canonical_url="http://127.0.0.1/news/a.html",
        title="Summit \x00report \ud83d",
        text=text + "\x00 Half an emoji: \ud83d.",
    )
    [(outcome, article_id)] = store_articles(db, [story])
    run_id = open_run(db, "s")
    finish_run(db, run_id, "ok", "HTTP 503: Retry-After soon\x00", RunCounts(1, 1, 0, 1))
    with db.session() as session:
        stored = session.get_one(Article, article_id)
        assert (outcome, stored.title) == ("new", "Summit report \ufffd")
        assert stored.text == text + " Half an emoji: \ufffd."
    assert get_run(db, run_id).error == "HTTP 503: Retry-After soon"


def test_a_url_longer_only_once_normalised_does_not_fit(long_site: LongSite) -> None:
    url = long_site.base + long_site.bare_query
    assert len(url) <= MAX_URL_LENGTH < len(normalize_url(url))
    assert not fits(url) and fits(long_site.base + "/news/target.html?p0=1")
