"""A page's title, declared URL and authors, from its meta tags and JSON-LD.

trafilatura's own metadata pass does this and much more (sitename, categories, tags, license,
a date, and an author search through the whole page, the costliest part of its extraction);
eventwatch finds the date itself (:mod:`crawlers.extraction.dates`), so it asks trafilatura
only for the parts it stores.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title

# <link rel="canonical">, the rel value compared as a case-insensitive token
CANONICAL_LINK = (
    "//link[@href][contains(concat(' ', normalize-space(translate(@rel, "
    "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')), ' '), ' canonical ')]/@href"
)


@dataclass(frozen=True, slots=True)
class PageMetadata:
    title: str = ""
    url: str | None = None  # as the page declares it (canonical link, og:url, JSON-LD), absolute
    author: str | None = None  # names separated by ";"


def page_metadata(tree: HtmlElement | None, url: str) -> PageMetadata:
    """Meta tags first, JSON-LD over them, then the ``<title>``/heading for a missing title."""
    if tree is None:
        return PageMetadata()
    found = examine_meta(tree)
    if found.author and " " not in found.author:  # a lone handle, not a name
        found.author = None
    with suppress(Exception):  # malformed JSON-LD is the page's problem, not the article's
        found = extract_meta_json(tree, found)
    return PageMetadata(
        title=found.title or extract_title(tree) or "",
        url=_declared_url(tree, url, found.url),
        author=found.author,
    )


def _declared_url(tree: HtmlElement, url: str, from_meta: str | None) -> str | None:
    """The page's own address as it declares it, relative forms resolved against ``url``:
    its canonical link first, else og:url or JSON-LD."""
    links = [str(href).strip() for href in tree.xpath(CANONICAL_LINK)]
    declared = next((href for href in links if href), None) or (from_meta or "").strip()
    if not declared:
        return None
    try:
        return urljoin(url, declared)
    except ValueError:  # not a URL at all (an unclosed IPv6 bracket)
        return None
