"""A page's title, declared URL and authors, from its meta tags and JSON-LD.

trafilatura's own metadata pass does this and much more (sitename, categories, tags, license,
a date, and an author search through the whole page that takes half of its extraction time);
eventwatch finds the date itself (:mod:`crawlers.dates`), so it asks trafilatura only for the
parts it stores.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title, extract_url


@dataclass(frozen=True, slots=True)
class PageMetadata:
    title: str = ""
    url: str | None = None  # as the page declares it (canonical link, og:url, JSON-LD)
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
        url=found.url or extract_url(tree, url),
        author=found.author,
    )
