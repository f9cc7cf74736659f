"""Which links a listing page yields: articles, next pages, and nothing off-site."""

from __future__ import annotations

import pytest
from parsel import Selector

from crawlers.crawling.linkplan import TRIES_PER_CRAWL, TRIES_PER_LISTING, LinkBook, ListingState
from crawlers.crawling.links import (
    ARTICLE,
    TRY,
    article_decision,
    classify_links,
    compile_follow,
    feed_links,
    listing_links,
    looks_like_article,
    robots_sitemaps,
)
from crawlers.urls import clean_url, normalize_url, on_site


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example.org/2024/12/26/defence-minister-visits/", True),
        ("https://x.example.org/index.php/news/123-pam-meets-in-rome", True),
        ("https://x.example.org/en/news/assembly-adopts-resolution-on-terrorism.html", True),
        ("https://x.example.org/news/4567", True),
        ("https://x.example.org/welcome.asp?m=news&id=1234", True),
        ("https://x.example.org/page/2/", False),
        ("https://x.example.org/category/news/", False),
        ("https://x.example.org/tag/terrorism/", False),
        ("https://x.example.org/about/", False),
        ("https://x.example.org/", False),
        ("https://x.example.org/files/report-on-terrorism-2024.pdf", False),
        ("https://x.example.org/news?page=3", False),
        ("https://x.example.org/news/archive.org.dushanbe-talks.html", True),
        ("https://x.example.org/about.html", False),
        ("https://x.example.org/archive/2024/05/talks-open", False),  # tried instead
    ],
)
def test_article_url_heuristic(url: str, expected: bool) -> None:
    assert looks_like_article(url) is expected


def test_listing_links_split_articles_pages_and_offsite() -> None:
    html = """<html><head><link rel="next" href="/news/page-2"></head><body>
      <a href="/2024/05/01/assembly-meets-on-counter-terrorism/">A</a>
      <a href="/2024/05/01/assembly-meets-on-counter-terrorism/#comments">A again</a>
      <a href="https://other.example/2024/05/01/something-else-entirely/">offsite</a>
      <a href="http://169.254.169.254/latest/meta-data/">metadata</a>
      <a href="file:///etc/passwd">file</a><a href="javascript:alert(1)">js</a>
      <a href="ftp://x.example.org/2024/05/01/file-on-ftp-server/">ftp</a>
      <a href="/news?start=10">Older posts</a><a href="/news/page-3">3</a>
      <a href="/contact/">Contact</a></body></html>"""
    links = listing_links(Selector(text=html), "https://x.example.org/news", ["x.example.org"], ())
    assert links.articles == (
        "https://x.example.org/2024/05/01/assembly-meets-on-counter-terrorism/",
    )
    assert set(links.next_pages) == {
        "https://x.example.org/news/page-2",
        "https://x.example.org/news?start=10",
        "https://x.example.org/news/page-3",
    }


def test_follow_patterns_replace_the_heuristic() -> None:
    html = '<a href="/show?item=7">x</a><a href="/2024/05/01/a-b-c-d/">y</a>'
    follow = compile_follow([r"/show\?item=\d+$"])
    links = listing_links(Selector(text=html), "https://x.example.org/", ["x.example.org"], follow)
    assert links.articles == ("https://x.example.org/show?item=7",)


def test_subdomains_are_on_site_other_hosts_are_not() -> None:
    assert on_site("https://news.x.example.org/a", ["x.example.org"])
    assert not on_site("https://evilx.example.org/a", ["x.example.org"])
    assert not on_site("ftp://x.example.org/a", ["x.example.org"])


def test_feed_and_sitemap_discovery() -> None:
    html = (
        '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        '<link rel="stylesheet" href="/s.css">'
    )
    assert feed_links(Selector(text=html), "https://x.example.org/") == [
        "https://x.example.org/feed.xml"
    ]
    robots = "User-agent: *\nDisallow: /private/\nSitemap: https://x.example.org/sitemap.xml\n"
    assert robots_sitemaps(robots) == ["https://x.example.org/sitemap.xml"]


def test_url_normalisation() -> None:
    assert (
        normalize_url("HTTP://Example.COM:80/a/b/?utm_source=x&b=2&a=1&fbclid=z#frag")
        == "http://example.com/a/b?a=1&b=2"
    )
    assert normalize_url("https://x.example.org:443/news/") == "https://x.example.org/news"
    assert clean_url("https://x.example.org/a/?utm_medium=rss#top") == "https://x.example.org/a/"


@pytest.mark.parametrize(
    ("path", "action", "rule"),
    [
        ("/archive/2024/05/talks-open", TRY, "not an article: /archive/ by its URL"),
        ("/video/ministers-meet-at-the-border", TRY, "not an article: /video/ by its URL"),
        ("/archive/", "skip", "not an article: /archive/"),
        ("/tag/security-and-defence-matters/", "skip", "not an article: /tag/"),
        ("/news/archive.org.a.html", ARTICLE, "article shape: page file"),
        ("/2024/05/01/talks/", ARTICLE, "article shape: date in path"),
        ("/news/", "section", "news section"),
        ("/en/", "skip", "no article shape"),
    ],
)
def test_each_link_is_given_an_action_and_the_rule_behind_it(
    path: str, action: str, rule: str
) -> None:
    decision = article_decision("https://x.example.org" + path, ())
    assert decision.action == action
    assert decision.rule.startswith(rule)


def test_links_to_try_are_few_per_page_and_per_crawl_and_the_budget_holds() -> None:
    pages = [
        "".join(f'<a href="/video/{page}-clip-of-the-day-{n}">v</a>' for n in range(5))
        for page in range(3)
    ]
    book = LinkBook(budget=100)
    followed = []
    for html in pages:
        decisions = classify_links(
            Selector(text=html), "https://x.example.org/", ["x.example.org"], ()
        )
        followed += [v for v in book.plan_listing(decisions, ListingState()) if v.follow]
    assert len(followed) == TRIES_PER_CRAWL < 3 * TRIES_PER_LISTING
    assert (
        book.counts()["rules"]["skipped: not tried: the tries of this crawl or page are spent"] == 9
    )

    small = LinkBook(budget=1)
    html = (
        '<a href="/2024/05/01/a-b/">a</a><a href="/2024/05/02/c-d/">b</a>'
        '<a href="/news/page/2">2</a>'
    )
    decisions = classify_links(
        Selector(text=html), "https://x.example.org/news", ["x.example.org"], ()
    )
    stored = {normalize_url("https://x.example.org/2024/05/01/a-b/")}
    verdicts = small.plan_listing(decisions, ListingState(stored=stored, max_depth=3))
    assert [(v.follow, v.rule) for v in verdicts] == [
        (False, "already stored"),
        (True, "article shape: date in path"),
        (True, "next page"),
    ]
    again = small.plan_listing(classify_links(Selector(text='<a href="/2024/05/03/e/">e</a>'),
        "https://x.example.org/news", ["x.example.org"], ()), ListingState())  # fmt: skip
    assert again[0].rule == "over the page budget (max_pages)" and small.budget_exhausted


def test_a_listing_page_of_known_articles_ends_the_walk_unless_the_last_one_was_cut() -> None:
    html = '<a href="/2024/05/01/a-b/">a</a><a href="/news/page/2">2</a>'
    decisions = classify_links(
        Selector(text=html), "https://x.example.org/news", ["x.example.org"], ()
    )
    stored = {normalize_url("https://x.example.org/2024/05/01/a-b/")}
    for trust_stale, follows in ((True, False), (False, True)):
        state = ListingState(stored=stored, max_depth=3, trust_stale=trust_stale)
        *_, next_page = LinkBook(budget=10).plan_listing(decisions, state)
        assert next_page.follow is follows, next_page.rule
