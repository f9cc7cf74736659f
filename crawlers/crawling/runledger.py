"""What a crawl records on its run besides its counts: each page that failed (its URL, the
stage, the HTTP status and the reason), the pages that were had again, and the links it
followed and skipped, by rule.

Kept by the spider and the pipelines, with no storage import (spiders never import storage),
and sent to the starter with the run's report (:meth:`RunLedger.report`), which writes it
(:mod:`crawlers.launcher.pagerecord`): a re-crawl of an unchanged site loads no database layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawlers.crawling.linkplan import LinkBook
from crawlers.urls import normalize_url

MAX_FAILURES_PER_RUN = 200
MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class PageFault:
    url: str
    stage: str  # fetch, read, extract or store
    reason: str
    http_status: int | None = None


@dataclass
class RunLedger:
    source: str
    links: LinkBook
    failures: dict[str, PageFault] = field(default_factory=dict)  # by normalised URL
    had: set[str] = field(default_factory=set)  # normalised URLs fetched and handled well
    not_articles: set[str] = field(default_factory=set)  # tried, and no article there
    # The listings, feeds and sitemaps (as fetched) that linked each article followed, and
    # those whose validators must not be kept: they linked a page that failed or waits for
    # its next try, and only reading them again (not a 304) meets that link again.
    # Each navigation page's parent (a next page's previous page, a sitemap's index): a page
    # unsettled unsettles the pages that lead to it, or a 304 up the chain would hide it.
    linked_from: dict[str, set[str]] = field(default_factory=dict)  # by normalised URL
    parents: dict[str, str] = field(default_factory=dict)
    unsettled: set[str] = field(default_factory=set)

    def reached(self, page: str, parent: str | None) -> None:
        """The navigation page ``page`` answered, or failed; ``parent`` led to it."""
        if parent is not None and parent != page:
            self.parents.setdefault(page, parent)

    def followed(self, url: str, page: str) -> None:
        """``page`` linked the article ``url``, which this crawl asks for (or asked for)."""
        key = normalize_url(url)
        self.linked_from.setdefault(key, set()).add(page)
        if key in self.failures:  # it failed before this page was read
            self.unsettle(page)

    def unsettle(self, page: str) -> None:
        """``page`` and the pages that led to it keep no validator from this crawl."""
        while page not in self.unsettled:
            self.unsettled.add(page)
            parent = self.parents.get(page)
            if parent is None:
                return
            page = parent

    def not_asked(self, url: str) -> None:
        """The crawl stopped before it could ask for ``url``: no failure of the page's, but the
        pages that linked it keep no validator, so that the next crawl meets the link again."""
        self.unsettle(url)
        for page in self.linked_from.get(normalize_url(url), ()):
            self.unsettle(page)

    def failed(self, url: str, stage: str, reason: str, http_status: int | None = None) -> None:
        key = normalize_url(url)
        self.had.discard(key)
        self.unsettle(url)  # a listing, feed or sitemap that could not be read
        for page in self.linked_from.get(key, ()):
            self.unsettle(page)
        if key in self.failures or len(self.failures) < MAX_FAILURES_PER_RUN:
            self.failures[key] = PageFault(key, stage, reason[:MAX_REASON_CHARS], http_status)

    def succeeded(self, url: str) -> None:
        key = normalize_url(url)
        if key not in self.failures:
            self.had.add(key)

    def worth_recording(self) -> bool:
        return bool(self.failures or self.had or self.not_articles or self.links.verdicts)

    def report(self) -> dict[str, Any]:
        """The ledger as the run's report carries it (:func:`crawlers.launcher.report.send`)."""
        return {
            "failures": [[f.url, f.stage, f.http_status, f.reason] for f in self.failures.values()],
            "had": sorted(self.had),
            "not_articles": sorted(self.not_articles),
            "links": self.links.counts(),
        }
