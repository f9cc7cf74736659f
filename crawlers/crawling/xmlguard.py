"""Feeds and sitemaps come from servers we do not trust: parse them without a DTD.

A document type declaration is the only way into entity expansion (the "billion laughs")
and external entities (a file or URL read by the parser), and no real feed or sitemap
needs one. It is cut out before any parser sees the bytes; the parsers are also set not
to resolve entities or reach the network, so either guard alone is enough.
"""

from __future__ import annotations

import io
import re
from typing import Any

# The declaration, with its internal subset if any, in the prolog before the root element.
DOCTYPE = re.compile(rb"<!DOCTYPE\b[^\[>]*(?:\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")


def without_doctype(body: bytes) -> bytes:
    """The document less its DOCTYPE; undefined entities left behind stay unexpanded."""
    found = DOCTYPE.search(body)
    root = ROOT_ELEMENT.search(body)
    if found is None or (root is not None and root.start() < found.start()):
        return body
    return body[: found.start()] + body[found.end() :]


def parse_feed(body: bytes) -> Any:
    """feedparser over bytes from the web. Passed as a stream: given bytes that look like a
    path (``/dev/zero``), feedparser would open and read that local file instead.

    feedparser is imported with the first feed: a re-crawl whose feeds are unchanged (304)
    never needs it, and a crawl process imports everything on its critical path."""
    import feedparser

    return feedparser.parse(
        io.BytesIO(without_doctype(body)), resolve_relative_uris=False, sanitize_html=False
    )


def news_publication_dates(body: bytes) -> dict[str, str]:
    """``news:publication_date`` of each ``<url>`` of a Google News sitemap, by its ``loc``.

    Scrapy's sitemap reader keeps only an entry's direct children, and this date is nested
    in ``<news:news>``; a sitemap without one is not parsed again.
    """
    if b"publication_date" not in body:
        return {}
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(without_doctype(body), parser=parser)
    except etree.XMLSyntaxError:  # the dates are a bonus: the sitemap is read all the same
        return {}
    if root is None:
        return {}
    found: dict[str, str] = {}
    for url in root.iterfind("{*}url"):
        loc, day = url.findtext("{*}loc"), url.findtext(".//{*}publication_date")
        if loc and day:
            found[loc.strip()] = day.strip()
    return found
