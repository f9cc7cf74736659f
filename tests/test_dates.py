"""The article's date: the page's own day, what the crawl knows (feed items, sitemap entries,
the URL) and where each site's template states it, learned over its stored pages."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml.html import HtmlElement
from sqlalchemy import select
from trafilatura.utils import load_html

from crawlers.crawling.sitedates import MIN_PAGES, SiteDateBook
from crawlers.extraction.date_parsing import DateHint, parse_date
from crawlers.extraction.dates import page_date
from storage.db import Database
from storage.models import Article
from tests.conftest import FIXTURES
from tests.sitehost import serve
from tests.test_crawl import run_cli, source_yaml, write_config

BODY = "".join(
    f"<p>{line}</p>"
    for line in (
        "Delegations from forty countries gathered in the capital for a two-day conference "
        "on countering terrorism, hosted by the national parliament and its committees.",
        "Opening the session, the deputy minister said that border cooperation and the "
        "exchange of information between security services remained the best tools.",
        "The organisers expect the conference to close with a declaration on regional "
        "cooperation, which will be presented to the assembly next year.",
    )
)
STAMP = "2024-03-12T23:30:00+05:00"


def page(
    *, meta: bool = True, stamp: str = "Tuesday the 12th of March 2024", extra: str = ""
) -> str:
    """An article whose template states its day in ``span.stamp``; ``extra`` follows the body."""
    head = f'<meta property="article:published_time" content="{STAMP}">' if meta else ""
    return (
        f'<html><head><meta charset="utf-8"><title>Conference opens</title>{head}</head><body>'
        '<div class="top">Home</div><article><h1>Conference opens</h1>'
        f'<div class="kicker">By Staff <span class="stamp">{stamp}</span></div>'
        f"{BODY}{extra}</article></body></html>"
    )


WORDS = [
    "budget",
    "harvest",
    "railway",
    "museum",
    "festival",
    "election",
    "bridge",
    "school",
    "hospital",
    "river",
    "vaccine",
    "airport",
    "library",
    "stadium",
    "orchestra",
    "factory",
]
# An earlier day the text names, which htmldate takes when the page's own stamp is missing.
EARLIER = "<p>The first round of talks was held on 05.01.2024 in the same hall.</p>"


def tree(html: str) -> HtmlElement:
    parsed = load_html(html)
    assert parsed is not None
    return parsed


def test_a_stamp_names_the_day_at_its_own_offset_and_where_the_page_states_it() -> None:
    verdict = page_date(tree(page()))
    assert verdict.found is not None
    assert verdict.found.day == date(2024, 3, 12)  # 18:30 UTC the same day
    assert verdict.found.utc == datetime(2024, 3, 12, 18, 30, tzinfo=UTC)
    assert verdict.found.offset_minutes == 300
    assert verdict.found.source == "meta"
    assert "span.stamp" in verdict.places  # confirmed: htmldate and the stamp agree


def test_the_day_a_page_states_after_midnight_east_of_utc_is_its_own() -> None:
    late = page().replace(STAMP, "2024-03-13T01:00:00+05:00").replace("12th", "13th")
    verdict = page_date(tree(late))
    assert verdict.found is not None
    assert verdict.found.day == date(2024, 3, 13)
    assert verdict.found.utc.date() == date(2024, 3, 12)


def test_a_site_s_learned_place_gives_the_day_htmldate_would_miss() -> None:
    html = page(meta=False, extra=EARLIER)
    without = page_date(tree(html))
    assert without.found is not None
    assert without.found.day == date(2024, 1, 5)  # htmldate alone: the earlier day named
    assert without.places == ()  # nothing confirmed it: nothing is learned from it
    learned = page_date(tree(html), site_places=("span.stamp",))
    assert learned.found is not None
    assert learned.found.day == date(2024, 3, 12)
    assert learned.found.source == "site"


def test_a_place_is_the_site_s_only_once_seen_on_enough_pages() -> None:
    book = SiteDateBook(lambda _source: [["span.stamp", "div.kicker"]] * (MIN_PAGES - 1))
    assert book.places("herald") == ()
    book.learn("herald", ("span.stamp",))
    assert book.places("herald") == ("span.stamp",)
    assert book.places("other") == ()


def test_a_feed_item_s_date_dates_a_page_without_one_at_the_feed_s_offset() -> None:
    hint = DateHint(datetime(2024, 3, 13, 1, 0, tzinfo=timezone(timedelta(hours=5))), "feed")
    verdict = page_date(tree(page(meta=False, stamp="")), hint=hint)
    assert verdict.found is not None
    assert verdict.found.source == "feed"
    assert verdict.found.day == date(2024, 3, 13)
    assert verdict.found.offset_minutes == 300


def test_a_feed_item_confirming_htmldate_s_day_lends_it_its_time() -> None:
    hint = DateHint(datetime(2024, 3, 12, 9, 15), "lastmod")
    verdict = page_date(tree(page(meta=False)), hint=hint)
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 3, 12), "lastmod")
    assert verdict.found.offset_minutes is None  # the entry gave none
    assert "span.stamp" in verdict.places


def test_a_dated_url_dates_a_page_without_one() -> None:
    verdict = page_date(tree(page(meta=False, stamp="")), "http://x.test/2024/03/12/talks/")
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 3, 12), "url")


def test_a_feed_item_and_the_url_naming_one_day_settle_it_over_htmldate_s_reading() -> None:
    hint = DateHint(datetime(2024, 3, 12, 9, 15), "feed")
    html = page(meta=False, extra=EARLIER)  # htmldate alone reads the earlier day
    verdict = page_date(tree(html), "http://x.test/2024/03/12/talks/", hint)
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 3, 12), "feed")
    assert "span.stamp" in verdict.places  # settled: the template's place is learned


def test_without_other_signals_the_text_s_first_full_date_after_the_heading_is_taken() -> None:
    text = "<p>Talks were held on 5 January 2024.</p><p>They resumed on 12 März 2024.</p>"
    html = page(meta=False, stamp="", extra=text).replace(
        '<div class="top">Home</div>', '<div class="site">Issue of 1 January 2024</div>'
    )
    verdict = page_date(tree(html))
    assert verdict.found is not None
    assert (verdict.found.day, verdict.found.source) == (date(2024, 1, 5), "text")


def test_a_future_date_is_never_given() -> None:
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    verdict = page_date(tree(page(stamp="").replace(STAMP, soon)))
    assert verdict.found is None or verdict.found.day <= date.today() + timedelta(days=1)


@pytest.mark.parametrize(
    "above",
    [
        "<div class='site'>Thursday, December 26, 2024</div>",
        "<div class='site'><time datetime='2024-12-26'>Thursday, December 26, 2024</time></div>",
    ],
)
def test_today_above_the_article_is_not_its_date(above: str) -> None:
    now = datetime(2024, 12, 26, 12, tzinfo=UTC)
    html = page(meta=False, stamp="").replace('<div class="top">Home</div>', above)
    verdict = page_date(tree(html), now=now)
    assert verdict.found is None
    if "<time" in above:  # htmldate saw it: the warning says why it was not taken
        assert verdict.warning is not None
        assert "today's" in verdict.warning


@pytest.mark.parametrize("partial", ["2024", "March 2024", "© 2024 Herald", "Hits: 1873"])
def test_a_year_or_a_month_alone_is_no_date(partial: str) -> None:
    assert parse_date(partial) is None


@pytest.mark.parametrize(
    "written", ["9999-12-31T23:59:59-05:00", "2150-01-01", "1985-06-01T10:00:00+02:00"]
)
def test_a_year_outside_1990_to_2099_is_no_date(written: str) -> None:
    assert parse_date(written) is None


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("2024-03-12T10:00:00+01:00", 60),  # ISO 8601, read by the standard library
        ("Tue, 12 Mar 2024 10:00:00 +0100", 60),  # RFC 2822, as feeds write it
        ("Tue, 12 Mar 2024 10:00:00 +0000", 0),
        ("Tue, 12 Mar 2024 10:00:00 GMT", 0),
        ("Tue, 12 Mar 2024 10:00:00 -0000", 0),  # read as UTC, as dateutil always has
        ("12 March 2024, 10:00 CET", 60),  # anything else: dateutil
    ],
)
def test_each_way_of_writing_a_stamp_gives_its_day_time_and_offset(
    written: str, offset: int
) -> None:
    parsed = parse_date(written)
    assert parsed is not None
    assert (parsed.date(), parsed.hour) == (date(2024, 3, 12), 10)
    given = parsed.utcoffset()
    assert given is not None and int(given.total_seconds() // 60) == offset


@pytest.mark.parametrize(
    "written",
    ["Tue, 12 Mar 2024 10:00:00 +0000", "12 Mar 2024 10:00 GMT", "Tue, 12 Mar 2024 10:00:00 UT"],
)
def test_a_feed_stamp_in_utc_is_read_by_the_standard_library(written: str) -> None:
    """Most feeds write their dates in UTC this way: dateutil, many times slower, is not
    needed for them (its reading would carry its own zone object, not the standard one)."""
    parsed = parse_date(written)
    assert parsed is not None and parsed.tzinfo is UTC
    assert (parsed.date(), parsed.hour) == (date(2024, 3, 12), 10)


def test_a_url_naming_a_day_no_calendar_has_costs_the_page_no_date() -> None:
    html = page(stamp="").replace(
        "</head>", '<link rel="canonical" href="https://news.test/2024/02/30/story"></head>'
    )
    for url in ("http://x.test/2024/02/30/talks/", "https://news.test/story", ""):
        verdict = page_date(tree(html), url)
        assert verdict.found is not None
        assert verdict.found.day == date(2024, 3, 12)  # the page's own stamp


def test_a_stamp_moved_to_its_next_day_is_never_in_the_future() -> None:
    head = '<meta property="article:published_time" content="2024-03-13T23:00:00Z">'
    html = page(meta=False, stamp="").replace("</head>", f"{head}</head>")
    verdict = page_date(tree(html), now=datetime(2024, 3, 12, 10, tzinfo=UTC))
    assert verdict.found is None or verdict.found.day <= date(2024, 3, 13)


def test_a_crawl_learns_where_a_site_states_its_dates_and_uses_it_on_later_pages(
    tmp_path: Path,
) -> None:
    root = tmp_path / "herald"
    (root / "news").mkdir(parents=True)
    for n in range(MIN_PAGES):
        own = f"<p>Report {n}: {' '.join(WORDS[n::MIN_PAGES])}.</p>"
        html = page(extra=own).replace("Conference opens", f"Conference opens, day {n}")
        (root / "news" / f"story-{n}.html").write_text(html, encoding="utf-8")
    _index(root, range(MIN_PAGES))
    with serve(root) as site:
        config = write_config(tmp_path, [source_yaml("herald", site.base_url)])
        first = run_cli(config, "crawl", "herald", "--no-alerts")
        assert "new articles 3" in first.stdout, first.stdout + first.stderr
        later = page(meta=False, extra=EARLIER).replace("Conference opens", "Talks resume")
        (root / "news" / "story-9.html").write_text(later, encoding="utf-8")
        _index(root, [*range(MIN_PAGES), 9])
        second = run_cli(config, "crawl", "herald", "--no-alerts")
        assert "new articles 1" in second.stdout, second.stdout + second.stderr
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        articles = {a.url.rsplit("/", 1)[-1]: a for a in session.scalars(select(Article))}
    db.dispose()
    assert "span.stamp" in articles["story-0.html"].date_places
    assert articles["story-9.html"].published_day == date(2024, 3, 12)
    assert articles["story-9.html"].date_source == "site"


def _index(root: Path, numbers: Iterable[int]) -> None:
    links = "".join(
        f'<li><a href="/news/story-{n}.html">Conference opens, report number {n}</a></li>'
        for n in numbers
    )
    (root / "index.html").write_text(
        f"<html><body><h1>News</h1><ul>{links}</ul></body></html>", encoding="utf-8"
    )


def test_a_crawl_dates_a_page_by_the_feed_item_that_led_to_it(tmp_path: Path) -> None:
    root = tmp_path / "wire"
    (root / "news").mkdir(parents=True)
    (root / "news" / "talks.html").write_text(page(meta=False, stamp=""), encoding="utf-8")
    (root / "index.html").write_text("<html><body><h1>Wire</h1></body></html>", encoding="utf-8")
    (root / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<item><title>Talks</title><link>{{BASE}}/news/talks.html</link>"
        "<pubDate>Wed, 13 Mar 2024 01:00:00 +0500</pubDate></item></channel></rss>",
        encoding="utf-8",
    )
    with serve(root) as site:
        source = source_yaml("wire", site.base_url, feeds=[site.base_url + "/feed.xml"])
        result = run_cli(write_config(tmp_path, [source]), "crawl", "wire", "--no-alerts")
    assert "new articles 1" in result.stdout, result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        (article,) = session.scalars(select(Article)).all()
    db.dispose()
    assert (article.date_source, article.published_day) == ("feed", date(2024, 3, 13))
    assert article.published_offset_minutes == 300
    assert article.published_at == datetime(2024, 3, 12, 20, 0, tzinfo=UTC)


def test_a_crawl_dates_a_page_by_its_news_sitemap_entry_before_its_lastmod(
    tmp_path: Path,
) -> None:
    root = tmp_path / "gazette"
    (root / "news").mkdir(parents=True)
    (root / "news" / "talks.html").write_text(page(meta=False, stamp=""), encoding="utf-8")
    (root / "index.html").write_text("<html><body><h1>Gazette</h1></body></html>", "utf-8")
    # a Google News sitemap: the page's publication day, and a later lastmod
    shutil.copy(FIXTURES / "sitemaps" / "news-sitemap.xml", root / "sitemap.xml")
    with serve(root) as site:
        source = source_yaml("gazette", site.base_url, sitemaps=[site.base_url + "/sitemap.xml"])
        result = run_cli(write_config(tmp_path, [source]), "crawl", "gazette", "--no-alerts")
    assert "new articles 1" in result.stdout, result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        (article,) = session.scalars(select(Article)).all()
    db.dispose()
    assert (article.date_source, article.published_day) == ("sitemap", date(2024, 3, 12))
    assert article.published_offset_minutes == -240
