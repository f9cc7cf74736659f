"""Every failure in view, every link accounted for: crawls of a real local site whose pages
fail at fetch, are tried again only after a back-off, and are cleared once they are mended;
links the URL guess turned away are tried for their content and kept when they are articles."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select, update

from crawlers.crawling.linkplan import LinkBook
from crawlers.crawling.runledger import RunLedger
from crawlers.urls import normalize_url
from monitor.observe import PageFailureCollector
from storage.db import Database
from storage.models import PageFailure, utcnow
from tests import newsroom
from tests.sitehost import SiteServer, serve
from tests.test_crawl import run_cli, source_yaml, stored, write_config


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "newsroom"
    newsroom.build(root)
    with serve(root) as server:
        server.answers[newsroom.BROKEN] = 500
        yield server


@pytest.fixture
def config(site: SiteServer, tmp_path: Path) -> Path:
    return write_config(tmp_path, [source_yaml("newsroom", site.base_url)])


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'eventwatch.db'}"


def runs_json(config: Path, *args: str) -> list[dict[str, Any]]:
    result = run_cli(config, "runs", "newsroom", "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def crawl(config: Path) -> list[str]:
    result = run_cli(config, "crawl", "newsroom", "--no-alerts")
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout.splitlines()


def test_pages_the_url_guess_turned_away_are_fetched_and_kept_when_articles(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    lines = crawl(config)
    assert lines[0].startswith("newsroom: ok: pages fetched ")
    assert ", new articles 40, duplicates 0, errors 2" in lines[0]
    articles = stored(db_url(tmp_path))
    for path in newsroom.ARTICLES:  # the two archive.org.… files, /archive/…, /video/… too
        assert normalize_url(site.base_url + path) in articles, path
    assert normalize_url(site.base_url + newsroom.GALLERY) not in articles  # tried, no article
    assert newsroom.PHOTOS not in site.paths()  # the page's tries were spent
    assert newsroom.TAG not in site.paths()
    (run,) = runs_json(config)
    links = run["links"]
    assert links["tried"] == 3 and links["kept"] == 2
    assert links["seen"] == len(newsroom.ARTICLES) + 6  # gallery, photos, tag, gone, broken, off
    assert links["rules"]["skipped: off-site"] == 1
    assert links["rules"]["skipped: not an article: /tag/"] == 1
    assert links["rules"]["followed: article shape: page file"] == 36 + 2 + 2  # gone, broken
    status = run_cli(config, "status", "newsroom").stdout
    assert "links: 46 seen, 43 followed, 3 skipped; 3 tried for their content, 2 kept" in status


def test_failed_pages_are_named_retried_after_a_back_off_and_cleared_once_mended(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    gone, broken = site.base_url + newsroom.GONE, site.base_url + newsroom.BROKEN
    lines = crawl(config)
    assert ", errors 2" in lines[0]
    named = "\n".join(lines[1:3])
    assert f"failed fetch: {gone} — HTTP 404" in named
    assert f"failed fetch: {broken} — HTTP 500" in named
    failed = runs_json(config, "--failed")[0]["failures"]
    assert {(f["url"], f["stage"], f["http_status"], f["attempts"]) for f in failed} == {
        (gone, "fetch", 404, 1),
        (broken, "fetch", 500, 1),
    }
    status = run_cli(config, "status", "newsroom").stdout
    assert "2 pages failed" in status and f"failed fetch: {gone} — HTTP 404" in status

    # the listing changes: it is read again, and the two failed pages wait for their next try
    late = "/news/story-late.html"
    newsroom.write_page(site.root, late, newsroom.article_html(late, 77))
    newsroom.write_page(site.root, "/", newsroom.home_html((late,)))
    site.clear()
    crawl(config)
    assert late in site.paths()
    assert newsroom.GONE not in site.paths() and newsroom.BROKEN not in site.paths()
    rules = runs_json(config)[0]["links"]["rules"]
    assert rules["skipped: failed before: tried again later (back-off)"] == 2
    assert newsroom.GALLERY not in site.paths()  # tried last time, and no article
    assert rules["skipped: tried before: no article there (tried again in a month)"] == 1

    # their time comes; one page is mended meanwhile
    _back_off_over(db_url(tmp_path))
    newsroom.mend(site.root)
    del site.answers[newsroom.BROKEN]
    later = "/news/story-later.html"
    newsroom.write_page(site.root, later, newsroom.article_html(later, 78))
    newsroom.write_page(site.root, "/", newsroom.home_html((late, later)))
    site.clear()
    lines = crawl(config)
    assert newsroom.GONE in site.paths() and newsroom.BROKEN in site.paths()
    assert normalize_url(broken) in stored(db_url(tmp_path))
    (left,) = runs_json(config, "--failed")[0]["failures"]
    assert (left["url"], left["attempts"]) == (gone, 2)
    assert f"failed fetch: {gone} — HTTP 404 (attempt 2" in "\n".join(lines)
    assert broken not in "\n".join(lines[1:])


def test_a_page_fetched_that_cannot_be_read_is_a_failure_in_view(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    """Here the database cannot say which of the home page's links are stored. Before, only
    the crawl's own log (which the daemon shows when a crawl process dies) said so, and the
    run looked clean: no error, no failed page, no article."""
    assert run_cli(config, "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "eventwatch.db") as connection:
        connection.execute("DROP TABLE article_urls")
    lines = crawl(config)
    home = normalize_url(site.base_url + "/")
    assert lines[0].startswith("newsroom: ok: ") and ", errors 1" in lines[0]
    assert f"failed read: {home} — could not be read: OperationalError" in "\n".join(lines)
    (failed,) = runs_json(config, "--failed")[0]["failures"]
    assert (failed["url"], failed["stage"], failed["attempts"]) == (home, "read", 1)


def test_a_failed_page_is_tried_again_though_its_listing_never_changes(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    """A listing that linked a page which failed, or waits for its next try, keeps no
    validator from that crawl: with one, the next crawls were answered 304, never met the
    link again, and the page (or an article the database could not take) was lost."""
    broken = normalize_url(site.base_url + newsroom.BROKEN)
    crawl(config)
    assert broken not in stored(db_url(tmp_path))
    site.clear()
    crawl(config)  # the back-off runs: the link is met and held back
    home = [headers for path, headers in site.requests if path == "/"]
    assert home and "If-None-Match" not in home[0]
    _back_off_over(db_url(tmp_path))
    newsroom.mend(site.root)
    del site.answers[newsroom.BROKEN]
    site.clear()
    crawl(config)  # the listing is as it was in the first crawl
    assert newsroom.BROKEN in site.paths()
    assert broken in stored(db_url(tmp_path))


def test_a_link_that_keeps_failing_gives_its_listing_back_its_304(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    """A dead link (404 for ever) held its listing from a 304 on every crawl: after three
    tries it no longer does (it is tried again when its listing changes)."""
    newsroom.mend(site.root)
    del site.answers[newsroom.BROKEN]
    for attempt in range(3):  # GONE fails three times
        if attempt:
            _back_off_over(db_url(tmp_path))
        crawl(config)
    crawl(config)  # GONE is held back as failing often: the home page keeps its validator
    rules = runs_json(config)[0]["links"]["rules"]
    assert rules["skipped: failed three times or more: tried again later (back-off)"] == 1
    site.clear()
    crawl(config)
    home = [headers for path, headers in site.requests if path == "/"]
    assert home and "If-None-Match" in home[0]
    assert newsroom.GONE not in site.paths()


def test_a_page_that_failed_often_is_asked_for_when_due_though_no_listing_shows_it(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    """After three failures a page gives its listing back its 304, and the back-off said it
    would be tried again later: it never was while the listing stayed the same, and an
    article that came back was lost for good. The crawl now asks for it when it is due."""
    newsroom.mend(site.root)
    del site.answers[newsroom.BROKEN]
    for attempt in range(4):  # GONE fails three times; then it waits, its listing a 304
        if attempt:
            _back_off_over(db_url(tmp_path))
        crawl(config)
    site.clear()
    crawl(config)
    assert newsroom.GONE not in site.paths(), "not due yet"
    newsroom.write_page(site.root, newsroom.GONE, newsroom.article_html(newsroom.GONE, 98))
    _back_off_over(db_url(tmp_path))
    site.clear()
    crawl(config)
    home = [headers for path, headers in site.requests if path == "/"]
    assert home and "If-None-Match" in home[0]  # the listing still answered 304
    assert newsroom.GONE in site.paths()
    assert normalize_url(site.base_url + newsroom.GONE) in stored(db_url(tmp_path))
    db = Database(db_url(tmp_path))
    with db.session() as session:  # had: its failure cleared
        assert session.scalars(select(PageFailure.url)).all() == []
    db.dispose()


def sitemap_site(root: Path, sitemaps: dict[str, list[str]]) -> None:
    """``/index.xml``, a sitemap index of ``sitemaps`` (name -> the article paths it lists),
    each article a page of its own. Scrapy reads sitemaps by their tags' local names, so
    they carry no namespace."""
    for number, paths in enumerate(sitemaps.values()):
        for path in paths:
            newsroom.write_page(root, path, newsroom.article_html(path, number))
    for name, paths in sitemaps.items():
        urls = "".join(f"<url><loc>{{{{BASE}}}}{path}</loc></url>" for path in paths)
        (root / name).write_text(f'<?xml version="1.0"?><urlset>{urls}</urlset>')
    listed = "".join(f"<sitemap><loc>{{{{BASE}}}}/{name}</loc></sitemap>" for name in sitemaps)
    (root / "index.xml").write_text(f'<?xml version="1.0"?><sitemapindex>{listed}</sitemapindex>')


def crawl_maps(tmp_path: Path, maps: SiteServer) -> None:
    source = source_yaml("maps", maps.base_url, sitemaps=[maps.base_url + "/index.xml"])
    config = write_config(tmp_path, [{**source, "start_urls": []}])
    assert run_cli(config, "crawl", "maps", "--no-alerts").returncode == 0


def test_a_failed_page_under_a_sitemap_index_is_met_again(tmp_path: Path) -> None:
    """The sitemap that linked the page keeps no validator, nor the index that led to it: a
    304 on the index had hidden the sitemap, and so the page, for ever."""
    root = tmp_path / "maps"
    good, broken = "/news/kept-story.html", "/news/broken-story.html"
    sitemap_site(root, {"sm1.xml": [good], "sm2.xml": [broken]})
    with serve(root) as maps:
        maps.answers[broken] = 500
        crawl_maps(tmp_path, maps)
        del maps.answers[broken]
        _back_off_over(db_url(tmp_path))
        maps.clear()
        crawl_maps(tmp_path, maps)
        assert "/sm2.xml" in maps.paths() and broken in maps.paths()
    assert normalize_url(maps.base_url + broken) in stored(db_url(tmp_path))


def test_a_sitemap_that_failed_under_its_index_is_fetched_again(tmp_path: Path) -> None:
    """The index that led to a sitemap which failed keeps no validator: its 304 had hidden
    the sitemap, once mended, for ever."""
    root = tmp_path / "maps"
    story = "/news/story.html"
    sitemap_site(root, {"sm.xml": [story]})
    with serve(root) as maps:
        maps.answers["/sm.xml"] = 500
        crawl_maps(tmp_path, maps)
        del maps.answers["/sm.xml"]
        maps.clear()
        crawl_maps(tmp_path, maps)
        assert "/sm.xml" in maps.paths() and story in maps.paths()
    assert normalize_url(maps.base_url + story) in stored(db_url(tmp_path))


def test_a_listing_whose_article_the_database_could_not_take_keeps_no_validator() -> None:
    """The store's failure reaches the pages that linked the article, as a fetch's does."""
    ledger = RunLedger("newsroom", LinkBook(budget=10))
    ledger.followed("http://127.0.0.1:9/news/a.html?utm_source=feed", "http://127.0.0.1:9/feed")
    ledger.followed("http://127.0.0.1:9/news/a.html", "http://127.0.0.1:9/")
    ledger.followed("http://127.0.0.1:9/news/b.html", "http://127.0.0.1:9/page/2")
    ledger.failed("http://127.0.0.1:9/news/a.html", "store", "database: database is locked")
    assert ledger.unsettled >= {"http://127.0.0.1:9/feed", "http://127.0.0.1:9/"}
    assert "http://127.0.0.1:9/page/2" not in ledger.unsettled


def _back_off_over(url: str) -> None:
    db = Database(url)
    with db.session() as session:
        session.execute(update(PageFailure).values(next_attempt_at=utcnow() - timedelta(1)))
    db.dispose()


def test_metrics_count_failing_pages_by_source_and_stage(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    crawl(config)
    db = Database(db_url(tmp_path))
    registry = CollectorRegistry()
    registry.register(PageFailureCollector(SimpleNamespace(ctx=SimpleNamespace(db=db))))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    db.dispose()
    assert 'eventwatch_failing_pages{source="newsroom",stage="fetch"} 2.0' in text


def test_explain_gives_the_crawls_own_verdict_on_each_link(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    assert run_cli(config, "db", "upgrade").returncode == 0  # explain creates no database
    before = run_cli(config, "sources", "explain", "newsroom", "--json")
    assert before.returncode == 0, before.stderr
    verdicts = [json.loads(line) for line in before.stdout.splitlines()]
    by_url = {v["url"]: v for v in verdicts}
    mirror = by_url[site.base_url + newsroom.ARCHIVE_ORG[0]]
    assert (mirror["follow"], mirror["rule"]) == (True, "article shape: page file")
    dated = by_url[site.base_url + newsroom.ARCHIVE_DATED]
    assert (dated["follow"], dated["action"]) == (True, "try")
    assert by_url["https://elsewhere.example/news/story-99.html"]["rule"] == "off-site"
    explained = Counter(
        f"{'followed' if v['follow'] else 'skipped'}: {v['rule']}" for v in verdicts
    )

    crawl(config)
    assert dict(explained) == runs_json(config)[0]["links"]["rules"]  # the crawl agrees

    text = run_cli(config, "sources", "explain", "newsroom").stdout
    story = site.base_url + newsroom.STORIES[0]
    assert f"skipped  article   {story}  — already stored" in text
    assert "46 links: 1 followed, 45 skipped" in text  # the photos page, not tried yet
    one = run_cli(config, "sources", "explain", "newsroom", site.base_url + newsroom.GONE)
    assert one.stdout.splitlines()[0].startswith("skipped  article")
    assert "failed before: tried again later (back-off)" in one.stdout
    assert "failed fetch: " in one.stdout and "HTTP 404" in one.stdout


def test_explain_of_an_unknown_source_or_a_dead_page_is_one_line(config: Path) -> None:
    unknown = run_cli(config, "sources", "explain", "nosuch")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "no database" in run_cli(config, "sources", "explain", "newsroom").stderr
    assert run_cli(config, "db", "upgrade").returncode == 0
    dead = run_cli(config, "sources", "explain", "newsroom", "http://127.0.0.1:9/", "--listing")
    assert dead.returncode == 1 and "could not be fetched" in dead.stderr
    assert "Traceback" not in dead.stderr


BAD_LINKS = ("http://127.0.0.1:99999/news/x.html", "http://[::1/2024/", "http://127.0.0.1:1:2/x")


def test_a_link_that_cannot_be_read_is_skipped_not_its_page(tmp_path: Path) -> None:
    """A link with a port past 65535 (or a broken IPv6 host) made the listing, feed or
    sitemap that held it "could not be read": its other links, articles, were lost."""
    root = tmp_path / "site"
    bad = "".join(f'<a href="{url}">bad</a>' for url in BAD_LINKS)
    newsroom.write_page(root, "/", (
        '<html><head><link rel="next" href="http://[::1/page/2">'
        '<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body>'
        f'{bad}<a href="/news/listed-story.html">Listed</a></body></html>'
    ))  # fmt: skip
    items = "".join(f"<item><title>x</title><link>{url}</link></item>" for url in BAD_LINKS)
    (root / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
        "<item><title>Fed</title><link>{{BASE}}/news/fed-story.html</link></item>"
        "</channel></rss>"
    )
    locs = "".join(f"<url><loc>{url}</loc></url>" for url in BAD_LINKS)
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset>{locs}<url><loc>{{{{BASE}}}}/news/mapped-story.html'
        "</loc></url></urlset>"
    )
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\nSitemap: {{BASE}}/sitemap.xml\n")
    stories = ["/news/listed-story.html", "/news/fed-story.html", "/news/mapped-story.html"]
    for seed, path in enumerate(stories):
        newsroom.write_page(root, path, newsroom.article_html(path, seed))
    with serve(root) as site:
        config = write_config(tmp_path, [source_yaml("newsroom", site.base_url)])
        lines = crawl(config)
        assert lines[0].startswith("newsroom: ok: ") and ", errors 0" in lines[0], lines
        had = stored(db_url(tmp_path))
        assert all(normalize_url(site.base_url + path) in had for path in stories)
        for url in BAD_LINKS:
            result = run_cli(config, "sources", "explain", "newsroom", url)
            assert result.returncode == 2 and "Traceback" not in result.stderr
            assert result.stderr.strip().endswith("is not an http(s) URL that can be fetched")
        listing = run_cli(config, "sources", "explain", "newsroom")
        assert listing.returncode == 0 and "listed-story" in listing.stdout


SECTION = "/press-releases/"


def test_a_failing_section_waits_for_its_next_try_as_an_article_does(
    site: SiteServer, config: Path, tmp_path: Path
) -> None:
    """A section link that failed (a 404 for months) was fetched on every crawl: an error on
    each run, a "next try" date that meant nothing, and a home page read in full each time.
    It now waits as a failed article does; after three failures its listing gets its 304
    back, and when its try is due the crawl asks for it as a listing."""
    newsroom.mend(site.root)
    del site.answers[newsroom.BROKEN]
    newsroom.write_page(site.root, "/", newsroom.home_html((SECTION,)))
    crawl(config)
    site.clear()
    crawl(config)
    assert SECTION not in site.paths(), "held back: its next try is not due"
    for _ in range(2):  # its second and third failures
        _back_off_over(db_url(tmp_path))
        crawl(config)
    crawl(config)  # failed often: it no longer keeps the home page from a 304
    site.clear()
    crawl(config)
    home = [headers for path, headers in site.requests if path == "/"]
    assert home and "If-None-Match" in home[0] and SECTION not in site.paths()
    story = "/press-releases/statement-on-the-summit.html"
    newsroom.write_page(site.root, SECTION, f'<html><body><a href="{story}">Statement</a>'
                        "</body></html>")  # fmt: skip
    newsroom.write_page(site.root, story, newsroom.article_html(story, 97))
    _back_off_over(db_url(tmp_path))
    crawl(config)
    assert normalize_url(site.base_url + story) in stored(db_url(tmp_path))


def test_explain_holds_back_a_failing_section_as_the_crawl_does(tmp_path: Path) -> None:
    """The crawl holds a failing section back until its next try; `sources explain` looked
    up articles only, and said the section would be followed."""
    from storage.migrate import upgrade
    from storage.pagefailures import FailedPage, record_run_pages
    from storage.runs import open_run

    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(
        "<html><body><a href='/press-releases/'>Press releases</a></body></html>",
        encoding="utf-8",
    )
    with serve(root) as live:
        path = write_config(tmp_path, [source_yaml("agency", live.base_url)])
        section = live.base_url + "/press-releases/"
        upgrade(db_url(tmp_path))
        db = Database(db_url(tmp_path))
        try:
            run = open_run(db, "agency")
            failed = FailedPage(normalize_url(section), "fetch", 404, "HTTP 404")
            record_run_pages(db, run, "agency", [failed], had=(), links=None)
        finally:
            db.dispose()
        said = run_cli(path, "sources", "explain", "agency", "--json")
    assert said.returncode == 0, said.stderr
    [verdict] = [json.loads(line) for line in said.stdout.splitlines()]
    assert (verdict["url"], verdict["action"], verdict["follow"]) == (section, "section", False)
    assert "back-off" in verdict["rule"]
