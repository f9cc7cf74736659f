"""From a page's HTML to the article: clean text, title, date, authors, languages, canonical URL.

trafilatura finds the main text; what it leaves in (shortcodes, image names, "Comments are
Closed", link lists) is removed by :mod:`crawlers.cleaning`; the date is the article's own
(:mod:`crawlers.dates`), never trafilatura's guess from the whole page, which can be the
site's "today" header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import trafilatura
from lxml import html as lxml_html
from lxml.etree import ParserError
from lxml.html import HtmlElement

from crawlers.cleaning import clean_lines, page_context
from crawlers.dates import publication_date
from crawlers.languages import detect_languages
from crawlers.urls import host_of, is_http_url, normalize_url, registered_domain

MIN_CHARS = 200


@dataclass(frozen=True, slots=True)
class Extracted:
    url: str  # canonical, normalised
    title: str
    text: str  # paragraphs separated by newlines
    published_at: datetime | None  # aware, UTC
    date_source: str | None  # meta, jsonld, time, url, byline; None when no date was found
    authors: tuple[str, ...]
    language: str | None
    languages: tuple[str, ...]


def extract(html: str, url: str, *, min_chars: int = MIN_CHARS) -> Extracted | None:
    """The article on the page, or None when the page holds none (too little main text)."""
    tree = _parse(html)
    link_texts, image_names = page_context(tree)
    published_at, date_source = publication_date(tree, url)
    page = _without_layout_tables(tree, html)
    document = _document(page, url, favor_recall=False)
    if len(_text_of(document)) < min_chars:
        document = _document(page, url, favor_recall=True) or document
    lines = _text_of(document).splitlines()
    title = " ".join(str(getattr(document, "title", None) or "").split())
    paragraphs = clean_lines(
        lines, title=title, link_texts=link_texts - {title.casefold()}, image_names=image_names
    )
    text = "\n".join(paragraphs)
    if len(text) < min_chars:
        return None
    languages = tuple(detect_languages(paragraphs))
    return Extracted(
        url=_canonical(url, getattr(document, "url", None)),
        title=title,
        text=text,
        published_at=published_at,
        date_source=date_source,
        authors=_authors(getattr(document, "author", None)),
        language=languages[0] if languages else None,
        languages=languages,
    )


def _without_layout_tables(tree: HtmlElement | None, html: str) -> str:
    """The page with layout tables turned into plain blocks.

    Old sites lay out the whole page as a table; trafilatura then keeps header and sidebar
    cells as rows of a data table. A table whose cells hold paragraphs or headings is layout.
    """
    if tree is None:
        return html
    layout = [t for t in tree.iter("table") if t.xpath(".//td//*[self::p or self::h1 or self::h2]")]
    if not layout:
        return html
    for table in layout:
        for element in [table, *table.iter("tbody", "thead", "tfoot", "tr", "td", "th")]:
            element.tag = "div"
    return lxml_html.tostring(tree, encoding="unicode")


def _document(html: str, url: str, *, favor_recall: bool) -> Any:
    """trafilatura's document; the recall setting is the fallback for pages where the
    precise setting finds too little."""
    return trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_recall=favor_recall,
        favor_precision=not favor_recall,
        deduplicate=False,
    )


def _text_of(document: Any) -> str:
    return str(getattr(document, "text", None) or "")


def _parse(html: str) -> HtmlElement | None:
    try:
        return lxml_html.document_fromstring(html)
    except (ParserError, ValueError):
        return None


def _canonical(url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is on the same site, else the URL fetched:
    a page must not claim another site's address."""
    if declared and is_http_url(declared):
        same_site = registered_domain(host_of(declared)) == registered_domain(host_of(url))
        if same_site:
            return normalize_url(declared)
    return normalize_url(url)


def _authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(name.strip() for name in value.split(";") if name.strip())
