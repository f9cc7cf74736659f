"""Each source's date places (:mod:`crawlers.extraction.date_places`), counted over its
stored pages.

A place counts as the site's once it stated the confirmed day on ``MIN_PAGES`` pages of the
source, and at most ``MAX_TRUSTED`` places are kept, the most seen first. The counts start
from the source's stored articles (their ``date_places``) and grow with every page of the
current crawl: the learning is in the database, visible, and undone by deleting articles.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from crawlers.crawling.database import stored_reader

if TYPE_CHECKING:
    from storage.db import Database

logger = logging.getLogger(__name__)

MIN_PAGES = 3
MAX_TRUSTED = 3

PlacesLoader = Callable[[str], Iterable[Sequence[str]]]


class SiteDateBook:
    """Date places per source, loaded from its stored articles on first use."""

    def __init__(self, load: PlacesLoader | None = None) -> None:
        self.load = load
        self.counts: dict[str, Counter[str]] = {}

    def _counts(self, source: str) -> Counter[str]:
        if source not in self.counts:
            counts: Counter[str] = Counter()
            for places in self.load(source) if self.load else ():
                counts.update(set(places))
            logger.info("source=%s date places: %s", source, dict(counts.most_common(3)))
            self.counts[source] = counts
        return self.counts[source]

    def places(self, source: str) -> tuple[str, ...]:
        """The source's trusted places, the most seen first."""
        common = self._counts(source).most_common(MAX_TRUSTED)
        return tuple(place for place, seen in common if seen >= MIN_PAGES)

    def learn(self, source: str, places: Sequence[str]) -> None:
        self._counts(source).update(set(places))


def stored_places(database: str | None) -> PlacesLoader | None:
    """A loader of a source's stored date places from the crawl's database, if it has one."""

    def read(db: Database, source: str) -> list[list[str]]:
        from storage.sitetext import source_date_places  # at the first article, not before

        return source_date_places(db, source)

    return stored_reader(database, read, "stored date places")
