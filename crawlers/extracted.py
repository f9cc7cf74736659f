"""What extraction finds on an article page.

Its own module, apart from :mod:`crawlers.extract`: the crawl process receives these from its
extraction workers and should not have to import trafilatura to read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Extracted:
    url: str  # canonical, normalised: the key that finds the page again
    title: str
    text: str  # paragraphs separated by newlines
    published_at: datetime | None  # aware, UTC
    date_source: str | None  # meta, jsonld, time, url, byline; None when no date was found
    authors: tuple[str, ...]
    language: str | None
    languages: tuple[str, ...]
    display_url: str = ""  # the page's own link: its valid same-site canonical, else as fetched
