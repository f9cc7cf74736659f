"""Site-level boilerplate: lines that recur across a source's articles belong to the site.

trafilatura judges one page at a time, so a notice, a promo box or a "related" list that sits
inside the article's container on every page passes as text. Across pages it shows itself: the
same line in many different articles of one source. A line counts as the site's when it
appears in at least ``MIN_ARTICLES`` distinct articles of the source and is short enough to
be furniture (``MAX_CHARS``); a line of one article only is never stripped, however often that
article is seen. The counts start from the source's stored articles and grow with every page
of the current crawl, counted before stripping.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING

from crawlers.crawling.database import stored_reader

if TYPE_CHECKING:
    from storage.db import Database

logger = logging.getLogger(__name__)

MIN_ARTICLES = 3
MAX_CHARS = 300  # a longer recurring block is rarer, and wrongly stripping it costs a paragraph
MIN_LETTERS = 3  # "—" or "1." alone is no evidence of anything
_EDGE = re.compile(r"[\W_]+")  # a run of what is not a letter or a digit

TextLoader = Callable[[str], Iterable[tuple[Hashable, str]]]


def line_key(line: str) -> str:
    """The line as compared across pages: case, spacing and edge punctuation ignored.

    The trailing run is found at the start of the reversed line: a pattern anchored at the
    end is tried at every position of the line: two fifths of this module's time.
    """
    key = " ".join(line.split()).casefold()
    lead, trail = _EDGE.match(key), _EDGE.match(key[::-1])
    start = lead.end() if lead else 0
    stop = len(key) - trail.end() if trail else len(key)
    return key[start:stop] if start < stop else ""


def _candidate(key: str) -> bool:
    return len(key) <= MAX_CHARS and sum(map(str.isalpha, key)) >= MIN_LETTERS


class SiteLines:
    """The recurring lines of one source, learned from its articles' texts."""

    def __init__(self, min_articles: int = MIN_ARTICLES) -> None:
        self.min_articles = min_articles
        self.articles: set[Hashable] = set()
        self.texts: set[int] = set()
        self.counts: Counter[str] = Counter()  # only candidate keys are ever counted

    def learn(self, article: Hashable, text: str) -> None:
        """Count each line of an article once; an article seen again adds nothing, under the
        same key or with the same text (a print or mobile copy under another URL)."""
        self._learn(article, [line_key(line) for line in text.splitlines()])

    def _learn(self, article: Hashable, keys: list[str]) -> None:
        fingerprint = hash(" ".join(key for key in keys if key))  # line breaks aside
        if article in self.articles or fingerprint in self.texts:
            return
        self.articles.add(article)
        self.texts.add(fingerprint)
        self.counts.update({key for key in keys if _candidate(key)})

    def is_boilerplate(self, line: str) -> bool:
        return self._recurs(line_key(line))

    def _recurs(self, key: str) -> bool:
        return self.counts.get(key, 0) >= self.min_articles

    def drop_recurring(self, text: str) -> str:
        """The text without the site's recurring lines; every other line kept, in order."""
        lines = text.splitlines()
        return self._drop(lines, [line_key(line) for line in lines])

    def learn_and_drop(self, article: Hashable, text: str) -> str:
        """:meth:`learn`, then :meth:`drop_recurring`, each line's key computed once."""
        lines = text.splitlines()
        keys = [line_key(line) for line in lines]
        self._learn(article, keys)
        return self._drop(lines, keys)

    def _drop(self, lines: list[str], keys: list[str]) -> str:
        return "\n".join(
            line for line, key in zip(lines, keys, strict=True) if not self._recurs(key)
        )


class SiteLineBook:
    """Each source's recurring lines, loaded from its stored articles on first use."""

    def __init__(self, load: TextLoader | None = None) -> None:
        self.load = load
        self.sites: dict[str, SiteLines] = {}

    def site(self, source: str) -> SiteLines:
        if source not in self.sites:
            lines = SiteLines()
            for article, text in self.load(source) if self.load else ():
                lines.learn(article, text)
            logger.info("source=%s site lines from %d articles", source, len(lines.articles))
            self.sites[source] = lines
        return self.sites[source]

    def clean(self, source: str, article: Hashable, text: str) -> str:
        """Learn the page, then strip what recurs; the page itself counts as one article.

        ``article`` is the page's canonical URL, the key stored articles are loaded under,
        so a page fetched again (``--refresh``) is not counted twice.
        """
        return self.site(source).learn_and_drop(article, text)


def stored_texts(database: str | None) -> TextLoader | None:
    """A loader of a source's stored article texts from the crawl's database, if it has one."""

    def read(db: Database, source: str) -> list[tuple[str, str]]:
        # imported at the first article: a crawl process that finds none never loads them
        from storage.sitetext import source_article_texts

        return source_article_texts(db, source)

    return stored_reader(database, read, "stored texts")
