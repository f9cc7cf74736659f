"""What flows through the pipelines: a fetched page, then the article made of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from crawlers.extraction.date_parsing import DateHint


@dataclass(slots=True)
class PageItem:
    """An article candidate as fetched; the extract pipeline turns it into an article."""

    source: str
    url: str
    html: str = field(repr=False)  # Scrapy logs a dropped item's repr: never a whole page
    redirects: tuple[str, ...] = ()  # the URLs that redirected here, first one as linked
    date_hint: DateHint | None = None  # of the feed item or sitemap entry that led here
    trial: bool = False  # linked where the URL guess said no article: kept if it is one
