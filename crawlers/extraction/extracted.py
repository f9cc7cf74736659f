"""What extraction finds on an article page.

Its own module, apart from :mod:`crawlers.extraction.extract`: the crawl process receives
these from its extraction workers and should not have to import trafilatura to read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Extracted:
    url: str  # canonical, normalised: the key that finds the page again
    title: str
    text: str  # paragraphs separated by newlines
    published_at: datetime | None  # aware, UTC
    date_source: str | None  # which signal gave the date (crawlers.extraction.dates); None: no date
    authors: tuple[str, ...]
    language: str | None
    languages: tuple[str, ...]
    display_url: str = ""  # the page's own link: its valid same-site canonical, else as fetched
    published_offset_minutes: int | None = None  # the UTC offset the page gave, if any
    published_day: date | None = None  # the calendar day the page states
    warnings: tuple[str, ...] = ()  # fields that could not be read, and why
    date_places: tuple[str, ...] = ()  # where the page stated its confirmed date
