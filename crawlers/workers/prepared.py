"""Everything about a page that needs only the page: the work an extraction worker does.

The crawl process keeps what needs the crawl's state: the source's recurring lines
(:mod:`crawlers.crawling.sitelines`) and storing. When stripping those lines changes the text, the
parts that depend on it are computed again, in a worker too (:func:`enriched`); on most pages it
changes nothing. trafilatura is imported with the first page prepared, not with this module: a crawl
process whose workers extract only reads what they send back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from crawlers.enrichment.entities import Entities, find_names
from crawlers.enrichment.story_signals import story_signals
from crawlers.extraction.date_parsing import DateHint
from crawlers.extraction.extracted import Extracted
from crawlers.extraction.failsoft import soft
from crawlers.extraction.mentioned_dates import MentionedDate, mentioned_dates
from storage.similarity import TextKeys, text_keys


@dataclass(frozen=True, slots=True)
class PreparedPage:
    found: Extracted
    named: Entities  # of found.title and found.text
    keys: TextKeys  # likewise


def prepare_page(
    html: str, url: str, hint: DateHint | None = None, site_places: tuple[str, ...] = ()
) -> PreparedPage | None:
    """The article on the page with its entities and comparison keys; None if no article.
    ``hint`` and ``site_places``: what the crawl knows of its date
    (:mod:`crawlers.extraction.dates`)."""
    from crawlers.extraction.extract import extract

    found = extract(html, url, hint=hint, site_places=site_places)
    if found is None:
        return None
    warnings = list(found.warnings)
    named, keys = enrich(found.title, found.text, found.published_at, warnings, found.language)
    return PreparedPage(replace(found, warnings=tuple(warnings)), named, keys)


def enrich(
    title: str,
    text: str,
    published_at: datetime | None,
    warnings: list[str],
    language: str | None = None,
) -> tuple[Entities, TextKeys]:
    """Names, mentioned dates and near-duplicate keys of an article, each failing soft."""
    no_names: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    places, organisations = soft("names", warnings, lambda: find_names(title, text), no_names)
    mentioned = lambda: tuple(mentioned_dates(text, published_at))  # noqa: E731
    no_dates: tuple[MentionedDate, ...] = ()
    dates = soft("mentioned dates", warnings, mentioned, no_dates)
    keys = soft("near-duplicate keys", warnings, lambda: text_keys(title, text), None)
    said = lambda: story_signals(title, text, places, organisations, dates, language)  # noqa: E731
    nothing_said: tuple[str, ...] = ()
    found = soft("story signals", warnings, said, nothing_said)
    return Entities(places, organisations, dates, found), keys or plain_keys(title, text)


def enriched(
    title: str,
    text: str,
    published_at: datetime | None,
    warnings: list[str],
    language: str | None = None,
) -> tuple[Entities, TextKeys, list[str]]:
    """:func:`enrich` for another process: the warnings come back with the result."""
    warnings = list(warnings)
    named, keys = enrich(title, text, published_at, warnings, language)
    return named, keys, warnings


def plain_keys(title: str, text: str) -> TextKeys:
    """Keys without shingles, when the words could not be folded: the article is found
    again by its exact text and never grouped as a near-duplicate."""
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    return TextKeys(digest, title.casefold()[:512], frozenset(), ())
