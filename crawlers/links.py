"""Which links of a listing page are articles, which lead to the next listing page, and
which are on the source's own site. Pure functions over parsel selectors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from parsel import Selector

from crawlers.urls import clean_url, on_site

DATE_PATH = re.compile(r"/(19|20)\d\d[/-](0?[1-9]|1[0-2])([/-]\d{1,2})?/")
ID_SLUG = re.compile(r"/\d{2,}[-_][^/]*\w[^/]*/?$|/[^/]*\w[-_]\d{3,}(\.html?)?/?$")
NUMERIC_LEAF = re.compile(
    r"/(news|article|articles|node|post|posts|story|press|item|view)/\d{2,}/?$"
)
SLUG_LEAF = re.compile(r"/[^/?#]*[^\W\d_][^/?#]*(-[^/?#]+){3,}/?$")
HTML_LEAF = re.compile(r"/[^/]+/[^/]+\.(html?|php|aspx?)$")
NOT_ARTICLE = re.compile(
    r"/(tag|tags|category|categories|author|authors|page|search|login|logout|register|"
    r"feed|rss|wp-admin|wp-content|wp-json|wp-login|cart|account|contact|about|privacy|"
    r"cookie|cookies|terms|sitemap|archive|archives|gallery|video|videos|photo|photos|"
    r"print|share|subscribe|comments?)(/|$|\?|\.)",
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


@dataclass(frozen=True, slots=True)
class ListingLinks:
    articles: tuple[str, ...]
    next_pages: tuple[str, ...]
    sections: tuple[str, ...] = ()  # news sections a home page leads to


def looks_like_article(url: str) -> bool:
    """A sensible guess when the source gives no ``follow`` patterns."""
    parts = urlsplit(url)
    path = parts.path
    if FILE_LEAF.search(path) or NOT_ARTICLE.search(path) or path in ("", "/"):
        return False
    if PAGINATION_URL.search(url):
        return False
    return bool(
        DATE_PATH.search(path + "/")
        or ID_SLUG.search(path)
        or NUMERIC_LEAF.search(path)
        or SLUG_LEAF.search(path)
        or HTML_LEAF.search(path)
        or ID_QUERY.search(url)
    )


def plausible_content_page(url: str) -> bool:
    """Looser than ``looks_like_article``, for URLs a feed or sitemap lists as content."""
    path = urlsplit(url).path
    if path in ("", "/") or FILE_LEAF.search(path) or NOT_ARTICLE.search(path):
        return False
    return not PAGINATION_URL.search(url)


def is_article(url: str, follow: Sequence[re.Pattern[str]]) -> bool:
    if follow:
        return any(pattern.search(url) for pattern in follow)
    return looks_like_article(url)


def _anchors(selector: Selector, base_url: str) -> Iterator[tuple[str, str, str]]:
    for anchor in selector.css("a[href]"):
        href = (anchor.attrib.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        text = " ".join(anchor.css("::text").getall()).strip()
        rel = (anchor.attrib.get("rel") or "").lower()
        yield clean_url(urljoin(base_url, href)), text, rel


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


def listing_links(
    html: Selector, page_url: str, domains: Sequence[str], follow: Sequence[re.Pattern[str]]
) -> ListingLinks:
    """Split a listing page's on-site links into articles and further listing pages."""
    articles: dict[str, None] = {}
    pages: dict[str, None] = {}
    sections: dict[str, None] = {}
    for link in html.css("link[rel~=next]::attr(href)").getall():
        pages[clean_url(urljoin(page_url, link))] = None
    for url, text, rel in _anchors(html, page_url):
        if not on_site(url, domains) or url == clean_url(page_url):
            continue
        if _is_next(url, text, rel, page_url):
            pages[url] = None
        elif is_article(url, follow):
            articles[url] = None
        elif SECTION_LEAF.search(unquote(urlsplit(url).path)) and not urlsplit(url).query:
            sections[url] = None
    return ListingLinks(
        tuple(articles), tuple(u for u in pages if u not in articles), tuple(sections)
    )


def feed_links(html: Selector, page_url: str) -> list[str]:
    """RSS/Atom feeds a page announces with ``<link rel=alternate>``."""
    found = html.xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' alternate ')]"
        "[contains(@type, 'rss') or contains(@type, 'atom')]/@href"
    ).getall()
    return [clean_url(urljoin(page_url, href.strip())) for href in found if href.strip()]


def robots_sitemaps(text: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.lower().startswith("sitemap:") and line.split(":", 1)[1].strip()
    ]


def compile_follow(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
