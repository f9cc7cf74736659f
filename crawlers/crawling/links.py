"""Which links of a listing page are articles, which lead to the next listing page, and
which are on the source's own site. Pure functions over parsel selectors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from parsel import Selector

from crawlers.urls import MAX_URL_LENGTH, clean_url, fits, link_url, on_site

TOO_LONG = f"longer than {MAX_URL_LENGTH} characters: no database stores it"
DATE_PATH = re.compile(r"/(19|20)\d\d[/-](0?[1-9]|1[0-2])([/-]\d{1,2})?/")
ID_SLUG = re.compile(r"/\d{2,}[-_][^/]*\w[^/]*/?$|/[^/]*\w[-_]\d{3,}(\.html?)?/?$")
NUMERIC_LEAF = re.compile(
    r"/(news|article|articles|node|post|posts|story|press|item|view)/\d{2,}/?$"
)
SLUG_LEAF = re.compile(r"/[^/?#]*[^\W\d_][^/?#]*(-[^/?#]+){3,}/?$")
HTML_LEAF = re.compile(r"/[^/]+/[^/]+\.(html?|php|aspx?)$")
# Path words of pages that are not articles. A word is followed by a slash, the end, a query
# or a file extension: ``/about.html`` is the about page, ``/archive.org.story.html`` is not
# the archive.
_NOT_ARTICLE_END = r"(/|$|\?|\.[a-z]{2,5}$)"
NOT_ARTICLE = re.compile(
    r"/(tag|tags|category|categories|author|authors|page|search|login|logout|register|"
    r"feed|rss|wp-admin|wp-content|wp-json|wp-login|cart|account|contact|about|privacy|"
    r"cookie|cookies|terms|sitemap|print|share|subscribe|comments?)" + _NOT_ARTICLE_END,
    re.IGNORECASE,
)
# Sections that are listings on some sites and hold articles on others (/archive/2024/05/slug,
# /video/a-long-slug): a link of an article's shape under them is tried for its content.
MAYBE_ARTICLE = re.compile(
    r"/(archive|archives|gallery|galleries|video|videos|photo|photos)" + _NOT_ARTICLE_END,
    re.IGNORECASE,
)
FILE_LEAF = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|pdf|docx?|xlsx?|pptx?|zip|rar|mp[34]|avi|mov|css|js|xml|ico)$",
    re.IGNORECASE,
)
PAGINATION_URL = re.compile(
    r"([?&](page|paged|start|offset|from|PAGEN_\d+)=\d+)|(/page[/-]?\d+/?$)", re.IGNORECASE
)
ID_QUERY = re.compile(r"[?&](id|newsid|news_id|nid|articleid|article_id|item|p)=\d+", re.IGNORECASE)
NEXT_TEXT = re.compile(
    r"^\s*(next|older|older posts|older entries|more news|load more|suivant|suivante|"
    r"weiter|siguiente|далее|следующая|вперед|вперёд|ещё|еще|التالي|السابق|›|»|>|→)"
    r"(\s*(page|›|»|>|→))?\s*$",
    re.IGNORECASE,
)


# Last path segments of a site's news sections, where a home page leads to listings.
SECTION_LEAF = re.compile(
    r"/(news|latest-news|press|press-releases?|press-room|media|newsroom|events|activities|"
    r"announcements|updates|actualites|actualités|nouvelles|novosti|новости|news-and-events|"
    r"akhbar|الأخبار|اخبار|haberler|yangiliklar)/?$",
    re.IGNORECASE,
)


# What a link is to a crawl, before anything is known of the pages stored: an article to
# fetch, a link to try for its content, a further listing page, a news section, or nothing.
ARTICLE, TRY, NEXT_PAGE, SECTION, SKIP = "article", "try", "next page", "section", "skip"

# The URL shapes of articles, by name: a link's shape is the rule that followed it.
ARTICLE_SHAPES: tuple[tuple[str, Callable[[str, str], object]], ...] = (
    ("date in path", lambda path, _url: DATE_PATH.search(path + "/")),
    ("number and slug", lambda path, _url: ID_SLUG.search(path)),
    ("numbered item", lambda path, _url: NUMERIC_LEAF.search(path)),
    ("long slug", lambda path, _url: SLUG_LEAF.search(path)),
    ("page file", lambda path, _url: HTML_LEAF.search(path)),
    ("id in query", lambda _path, url: ID_QUERY.search(url)),
)


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """What a link is (``action``, one of the five above) and the rule that says so."""

    url: str
    action: str
    rule: str


@dataclass(frozen=True, slots=True)
class ListingLinks:
    articles: tuple[str, ...]
    next_pages: tuple[str, ...]
    sections: tuple[str, ...] = ()  # news sections a home page leads to
    tried: tuple[str, ...] = ()  # of an article's shape, in a section that may hold articles


def article_shape(url: str) -> str | None:
    """The name of the article URL shape ``url`` has, if any."""
    path = urlsplit(url).path
    return next((name for name, test in ARTICLE_SHAPES if test(path, url)), None)


def url_veto(url: str) -> tuple[str, bool] | None:
    """The rule that says ``url`` is no article, and whether the page may prove it wrong
    (a section such as /archive/ or /video/ that holds articles on some sites)."""
    path = urlsplit(url).path
    if path in ("", "/"):
        return "home page", False
    if FILE_LEAF.search(path):
        return "a file, not a page", False
    if word := NOT_ARTICLE.search(path):
        return f"not an article: /{word.group(1).lower()}/", False
    if PAGINATION_URL.search(url):
        return "a listing's page number", False
    if word := MAYBE_ARTICLE.search(path):
        return f"not an article: /{word.group(1).lower()}/", True
    return None


def looks_like_article(url: str) -> bool:
    """A sensible guess when the source gives no ``follow`` patterns."""
    return url_veto(url) is None and article_shape(url) is not None


def plausible_content_page(url: str) -> bool:
    """Looser than ``looks_like_article``, for URLs a feed or sitemap lists as content."""
    veto = url_veto(url)
    return veto is None or veto[1]


def is_article(url: str, follow: Sequence[re.Pattern[str]]) -> bool:
    if follow:
        return any(pattern.search(url) for pattern in follow)
    return looks_like_article(url)


def article_decision(url: str, follow: Sequence[re.Pattern[str]]) -> LinkDecision:
    """What a crawl makes of an on-site link that is not a next page: ``follow`` patterns
    when the source gives them, else the URL's shape and the words of its path."""
    if follow:
        pattern = next((p for p in follow if p.search(url)), None)
        if pattern is not None:
            return LinkDecision(url, ARTICLE, f"follow pattern {pattern.pattern}")
        return _section_or_skip(url, "no follow pattern matches")
    veto, shape = url_veto(url), article_shape(url)
    if veto is None and shape is not None:
        return LinkDecision(url, ARTICLE, f"article shape: {shape}")
    if veto is not None and veto[1] and shape is not None:
        return LinkDecision(url, TRY, f"{veto[0]} by its URL, but of an article's shape")
    return _section_or_skip(url, veto[0] if veto else "no article shape")


def entry_decision(url: str, follow: Sequence[re.Pattern[str]], listed_in: str) -> LinkDecision:
    """A URL a feed or a sitemap lists: content unless it is plainly not (``follow`` still
    narrows them)."""
    if not fits(url):
        return LinkDecision(url, SKIP, TOO_LONG)
    if follow:
        decision = article_decision(url, follow)
        if decision.action == ARTICLE:
            return decision
        return LinkDecision(url, SKIP, "no follow pattern matches")
    if plausible_content_page(url):
        return LinkDecision(url, ARTICLE, f"listed in a {listed_in}")
    veto = url_veto(url)
    return LinkDecision(url, SKIP, veto[0] if veto else "not a content page")


def _section_or_skip(url: str, rule: str) -> LinkDecision:
    if SECTION_LEAF.search(unquote(urlsplit(url).path)) and not urlsplit(url).query:
        return LinkDecision(url, SECTION, "news section")
    return LinkDecision(url, SKIP, rule)


def _anchors(selector: Selector, base_url: str) -> Iterator[tuple[str, str, str]]:
    for anchor in selector.css("a[href]"):
        href = (anchor.attrib.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        url = link_url(base_url, href)
        if url is None:
            continue
        text = " ".join(anchor.css("::text").getall()).strip()
        rel = (anchor.attrib.get("rel") or "").lower()
        yield url, text, rel


def _is_next(url: str, text: str, rel: str, page_url: str) -> bool:
    if "next" in rel.split():
        return True
    if NEXT_TEXT.match(text):
        return True
    return text.isdigit() and 1 < int(text) < 1000 and _same_listing(url, page_url)


def _same_listing(url: str, page_url: str) -> bool:
    return bool(PAGINATION_URL.search(url)) or urlsplit(url).path.startswith(
        urlsplit(page_url).path.rstrip("/")
    )


def decide_link(
    url: str,
    text: str,
    rel: str,
    page_url: str,
    domains: Sequence[str],
    follow: Sequence[re.Pattern[str]],
) -> LinkDecision:
    """What a link of a listing page is, and by which rule: the crawl and
    ``eventwatch sources explain`` both ask this."""
    if not on_site(url, domains):
        return LinkDecision(url, SKIP, "off-site")
    if not fits(url):
        return LinkDecision(url, SKIP, TOO_LONG)
    if url == clean_url(page_url):
        return LinkDecision(url, SKIP, "the listing page itself")
    if _is_next(url, text, rel, page_url):
        return LinkDecision(url, NEXT_PAGE, "next page")
    return article_decision(url, follow)


def classify_links(
    html: Selector, page_url: str, domains: Sequence[str], follow: Sequence[re.Pattern[str]]
) -> list[LinkDecision]:
    """Each distinct link of a listing page, once, with what it is; a link that is both a
    next page and an article is an article."""
    found: dict[str, LinkDecision] = {}
    for link in html.css("link[rel~=next]::attr(href)").getall():
        if (url := link_url(page_url, link)) is not None:
            found[url] = LinkDecision(url, NEXT_PAGE, "next page (link rel=next)")
    for url, text, rel in _anchors(html, page_url):
        decision = decide_link(url, text, rel, page_url, domains, follow)
        if url not in found or decision.action == ARTICLE:
            found[url] = decision
    return list(found.values())


def listing_links(
    html: Selector, page_url: str, domains: Sequence[str], follow: Sequence[re.Pattern[str]]
) -> ListingLinks:
    """Split a listing page's on-site links into articles and further listing pages."""
    decisions = classify_links(html, page_url, domains, follow)

    def urls(action: str) -> tuple[str, ...]:
        return tuple(d.url for d in decisions if d.action == action)

    return ListingLinks(urls(ARTICLE), urls(NEXT_PAGE), urls(SECTION), urls(TRY))


def feed_links(html: Selector, page_url: str) -> list[str]:
    """RSS/Atom feeds a page announces with ``<link rel=alternate>``."""
    found = html.xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' alternate ')]"
        "[contains(@type, 'rss') or contains(@type, 'atom')]/@href"
    ).getall()
    urls = (link_url(page_url, href.strip()) for href in found if href.strip())
    return [url for url in urls if url is not None]


def robots_sitemaps(text: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.lower().startswith("sitemap:") and line.split(":", 1)[1].strip()
    ]


def compile_follow(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
