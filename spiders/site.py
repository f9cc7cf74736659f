"""The one generic spider: feeds, sitemaps and listing pages of a source, navigation only.

It decides which URLs to fetch and in what order; what a page says is the pipelines' job.
Article URLs already stored are never requested again (``stored_of``), and a listing page
whose every article is known ends its pagination, so a re-crawl of an unchanged site
fetches only its listings, feeds and sitemaps.
"""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any

from parsel import Selector
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response, TextResponse
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.misc import load_object
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from crawlers.crawling.charsets import page_text
from crawlers.crawling.items import PageItem
from crawlers.crawling.leases import LAPSED_REASON, CrawlStopped, LeaseLapsed
from crawlers.crawling.linkplan import (
    ASKED_ALREADY,
    BACKING_OFF,
    LinkBook,
    LinkVerdict,
    ListingState,
    looked_up,
)
from crawlers.crawling.links import (
    ARTICLE,
    NEXT_PAGE,
    SECTION,
    TRY,
    article_decision,
    classify_links,
    compile_follow,
    entry_decision,
    feed_links,
    robots_sitemaps,
)
from crawlers.crawling.middlewares import OffSiteRequest
from crawlers.crawling.runledger import RunLedger
from crawlers.crawling.xmlguard import news_publication_dates, parse_feed, without_doctype
from crawlers.extraction.date_parsing import DateHint, date_hint
from crawlers.launcher.report import STOPPED_EARLY, Validators
from crawlers.launcher.sources import CrawlSource
from crawlers.urls import clean_url, link_url, normalize_url, on_site

logger = logging.getLogger(__name__)

ENTRY_KINDS = frozenset({"listing", "feed", "sitemap"})
MAX_SUBSITEMAPS = 20
MAX_RECORDED_FAILURES = 50
# What a failure says when its exception says nothing.
QUIET_ERRORS: dict[type[BaseException], str] = {
    DownloadCancelledError: "larger than the page-size limit (max_page_size_mb)",
    ResponseDataLossError: "the connection broke before the page was complete",
    DownloadTimeoutError: "no complete answer within DOWNLOAD_TIMEOUT",
}


class SiteSpider(Spider):
    name = "site"

    def __init__(
        self,
        source: CrawlSource,
        stored_of: Callable[[Sequence[str]], Collection[str]] | None = None,
        validators: Mapping[str, Validators] | None = None,
        walk_all: bool = False,
        **kwargs: Any,
    ) -> None:
        """``stored_of``: which of these URLs (normalised) are stored; none when not given.
        ``validators``: of listing pages, feeds and sitemaps fetched before, by URL, for
        conditional GET (:class:`crawlers.crawling.middlewares.ConditionalGetMiddleware`).
        ``walk_all``: the last crawl was cut short, so listing pages are walked to
        ``max_listing_pages`` though their articles are known."""
        super().__init__(name=self.name, **kwargs)
        self.source = source
        self.walk_all = walk_all
        self.stored_of = stored_of or (lambda _urls: ())
        self.validators = dict(validators or {})
        self.domains = source.domains()
        self.follow = compile_follow(source.follow)
        self.ledger = RunLedger(source.name, LinkBook(source.max_pages))
        self.reached = 0
        self.failures: list[str] = []
        self.stored: dict[str, bool] = {}  # article URL (normalised) -> stored before this crawl
        # which of these URLs (normalised) are held back, and why (failed before and waiting
        # for their next try, or tried and no article); given by the store pipeline
        # (crawlers.crawling.heldback), as spiders never import storage
        self.held_back_of: Callable[[Sequence[str]], Mapping[str, str]] = lambda _urls: {}
        self.held: dict[str, str] = {}
        # pages that failed often and are due for another try (given by the store pipeline,
        # like held_back_of): asked for at the start, as their listing may never show them
        self.due_again_of: Callable[[], Sequence[str]] = lambda: ()
        self.lease_lapsed = False  # a download was refused: the lease ran out
        self.stopped_midway = False  # a download was refused or given up: the crawl is closing
        self.sitemaps_followed = 0
        # sites whose robots.txt may name sitemaps, and those whose robots.txt Scrapy has read
        self.robots_roots = tuple(dict.fromkeys(_site_root(u) for u in source.start_urls))
        self.robots_read: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        return spider

    @property
    def budget_exhausted(self) -> bool:
        """Whether some article was left unfetched for want of page budget."""
        return self.ledger.links.budget_exhausted

    async def start(self) -> AsyncIterator[Request]:
        for url in self.source.feeds:
            yield self._request(url, "feed", self.parse_feed)
        for url in self.source.sitemaps:
            yield self._request(url, "sitemap", self.parse_sitemap)
        if not self.source.sitemaps and not self._robots_from_scrapy():
            for root in self.robots_roots:
                yield self._request(root + "/robots.txt", "robots", self.parse_robots)
        for url in self.source.start_urls:
            yield self._request(url, "listing", self.parse_listing, depth=1, start=True)
        for url in self.due_again_of():
            if not on_site(url, self.domains):  # the source's domains may have changed since
                continue
            action = article_decision(url, self.follow).action  # asked for as what it is
            if action in (ARTICLE, TRY):
                yield self._request(url, "article", self.parse_article, trial=action == TRY)
            elif action == SECTION:
                yield self._request(url, "listing", self.parse_listing, depth=1)

    def _robots_from_scrapy(self) -> bool:
        """Whether Scrapy fetches robots.txt to obey it, with the parser that also reads its
        ``Sitemap:`` lines (:meth:`robots_parsed`): the site then gets one request for it."""
        settings = self.crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            return False
        parser = load_object(settings["ROBOTSTXT_PARSER"])
        return isinstance(parser, type) and issubclass(parser, ProtegoRobotParser)

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        """Scrapy read a host's robots.txt: the sitemaps it names, for a site without
        configured sitemaps, are crawled as though the spider had fetched it itself."""
        root = _site_root(request.url)
        if self.source.sitemaps or root not in self.robots_roots or root in self.robots_read:
            return
        self.robots_read.add(root)
        for url in getattr(getattr(robotparser, "rp", None), "sitemaps", ()):
            if on_site(url, self.domains):
                self.crawler.engine.crawl(self._request(url, "sitemap", self.parse_sitemap))

    def _request(self, url: str, kind: str, callback: Callable[..., Any], **meta: Any) -> Request:
        meta = {"kind": kind, **meta}
        if kind in ENTRY_KINDS:
            meta["handle_httpstatus_list"] = [304]
        if kind == "robots":
            meta["handle_httpstatus_all"] = True
        return Request(url, callback=callback, errback=self.on_error, meta=meta, dont_filter=False)

    def _look_up(self, keys: Iterable[str]) -> None:
        """Ask the store once a crawl whether each article URL (normalised) is stored, and
        whether it is held back, all of a page's at once: feeds, sitemaps and
        listings name the same articles over and over, and a sitemap can list thousands."""
        asked = [key for key in dict.fromkeys(keys) if key not in self.stored]
        if asked:
            stored = set(self.stored_of(asked))
            self.stored.update((key, key in stored) for key in asked)
            if unstored := [key for key in asked if key not in stored]:
                self.held.update(self.held_back_of(unstored))

    def _state(self, urls: Iterable[str], **page: Any) -> ListingState:
        keys = [normalize_url(url) for url in urls]
        self._look_up(keys)
        stored = {key for key in keys if self.stored[key]}
        return ListingState(stored=stored, held=self.held, **page)

    def _article_request(self, verdict: LinkVerdict, hint: DateHint | None = None) -> Request:
        """``hint``: the date of the feed item or sitemap entry of the URL, passed on to its
        article (:mod:`crawlers.extraction.dates`); a link to try is kept only if it is an
        article."""
        trial = verdict.action == TRY
        return self._request(
            verdict.url, "article", self.parse_article, trial=trial, date_hint=hint
        )

    def _reached(self, response: Response) -> bool:
        """Count a navigation page that answered; False when there is nothing to read."""
        self.reached += 1
        self.ledger.succeeded(response.url)
        self.ledger.reached(response.url, response.meta.get("led_from"))
        return response.status != 304 and bool(response.body)

    def parse_listing(self, response: Response) -> Iterator[Request]:
        if not self._reached(response) or not isinstance(response, TextResponse):
            return
        selector = Selector(text=response.text, base_url=response.url)
        decisions = classify_links(selector, response.url, self.domains, self.follow)
        start = bool(response.meta.get("start"))
        if start and not self.source.feeds:
            for feed in feed_links(selector, response.url):
                if on_site(feed, self.domains):
                    yield self._request(feed, "feed", self.parse_feed, led_from=response.url)
        depth = int(response.meta.get("depth", 1))
        state = self._state(
            looked_up(decisions), depth=depth, max_depth=self.source.max_listing_pages, start=start,
            trust_stale=not self.walk_all,
        )  # fmt: skip
        for verdict in self.ledger.links.plan_listing(decisions, state):
            self._note_link(verdict, response.url)
            if not verdict.follow:
                continue
            if verdict.action in (ARTICLE, TRY):
                yield self._article_request(verdict)
            elif verdict.action == SECTION:
                yield self._request(
                    verdict.url, "listing", self.parse_listing, depth=1, led_from=response.url
                )
            elif verdict.action == NEXT_PAGE:
                yield self._request(
                    verdict.url, "listing", self.parse_listing, depth=depth + 1,
                    led_from=response.url,
                )  # fmt: skip

    def _note_link(self, verdict: LinkVerdict, page: str) -> None:
        """What the page's validator depends on (crawlers.crawling.runledger)."""
        if verdict.rule == BACKING_OFF:
            self.ledger.unsettle(page)
        elif verdict.action in (ARTICLE, TRY) and (verdict.follow or verdict.rule == ASKED_ALREADY):
            self.ledger.followed(verdict.url, page)

    def _entry_requests(
        self,
        urls: Iterable[str],
        listed_in: str,
        page: str,
        hints: Mapping[str, DateHint] | None = None,
    ) -> Iterator[Request]:
        """The articles a feed or sitemap (``page``) lists, on the site, as the link plan
        admits them; ``hints``: the dates the feed or sitemap gives them."""
        on_site_urls = (url for url in urls if on_site(url, self.domains))
        decisions = [entry_decision(url, self.follow, listed_in) for url in on_site_urls]
        state = self._state(d.url for d in decisions if d.action == ARTICLE)
        for verdict in self.ledger.links.plan_entries(decisions, state):
            self._note_link(verdict, page)
            if verdict.follow:
                yield self._article_request(verdict, (hints or {}).get(verdict.url))

    def parse_feed(self, response: Response) -> Iterator[Request]:
        if not self._reached(response):
            return
        parsed = parse_feed(response.body)
        read = ((link_url(response.url, e.get("link", "")), e) for e in parsed.entries)
        items = [(link, entry) for link, entry in read if link is not None]
        links = [link for link, _ in items]
        hints = {link: _feed_hint(entry) for link, entry in items}
        dated = {u: h for u, h in hints.items() if h}
        yield from self._entry_requests(links, "feed", response.url, dated)

    def parse_robots(self, response: Response) -> Iterator[Request]:
        if response.status != 200 or not isinstance(response, TextResponse):
            return
        for url in robots_sitemaps(response.text):
            if on_site(url, self.domains):
                yield self._request(url, "sitemap", self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        if not self._reached(response):
            return
        body = _sitemap_body(response, self.source.max_page_bytes)
        if body is None:
            self._fail(response.url, "not a sitemap, or over the page-size limit unzipped")
            return
        sitemap = Sitemap(without_doctype(body))
        entries = [e for e in sitemap if e.get("loc")]
        if sitemap.type == "sitemapindex":
            yield from self._subsitemaps(entries, response.url)
            return
        entries.sort(key=lambda e: e.get("lastmod", ""), reverse=True)
        entries = [e for e in entries if link_url(response.url, e["loc"]) is not None]
        urls = [clean_url(e["loc"]) for e in entries]
        hints = _sitemap_hints(urls, entries, news_publication_dates(body))
        dated = {u: h for u, h in hints.items() if h}
        yield from self._entry_requests(urls, "sitemap", response.url, dated)

    def _subsitemaps(self, entries: list[dict[str, Any]], index: str) -> Iterator[Request]:
        entries.sort(key=lambda e: e.get("lastmod", ""), reverse=True)
        for entry in entries:
            if self.sitemaps_followed >= MAX_SUBSITEMAPS:
                return
            if on_site(entry["loc"], self.domains):
                self.sitemaps_followed += 1
                yield self._request(entry["loc"], "sitemap", self.parse_sitemap, led_from=index)

    def parse_article(self, response: Response) -> Iterator[PageItem]:
        if not isinstance(response, TextResponse) or not response.body:
            self._fail(_as_linked(response), "not a text page")
            return
        redirects = tuple(response.meta.get("redirect_urls", ()))
        trial = bool(response.meta.get("trial"))
        hint = response.meta.get("date_hint")
        html = page_text(response)
        yield PageItem(self.source.name, response.url, html, redirects, hint, trial)

    def on_error(self, failure: Failure) -> None:
        """Every page that could not be had is a failure of the run, but robots.txt
        forbidding it (the site's wish) and off-site links (never meant to be fetched)."""
        request = failure.request  # type: ignore[attr-defined]
        linked = (request.meta.get("redirect_urls") or [request.url])[0]  # as the page linked it
        # a listing, feed or sitemap that failed: the page that led to it must be read again
        self.ledger.reached(linked, request.meta.get("led_from"))
        if failure.check(CrawlStopped):  # not fetched, nor failed: the crawl is closing
            self.lease_lapsed = self.lease_lapsed or bool(failure.check(LeaseLapsed))
            self.stopped_midway = True
            self.ledger.not_asked(linked)
            return
        if failure.check(HttpError):
            response = failure.value.response
            self._fail(linked, _http_error(response), response.status)
        elif failure.check(IgnoreRequest) and _expected_skip(request, failure.value):
            logger.info("source=%s skipped %s: %s", self.source.name, request.url, failure.value)
            self.ledger.links.skipped_after_all(request.url, _skip_rule(failure.value))
        elif failure.check(IgnoreRequest):
            self._fail(linked, f"not fetched: {failure.value}")
        else:
            text = failure.getErrorMessage().strip() or QUIET_ERRORS.get(failure.type, "")
            self._fail(linked, f"{failure.type.__name__}: {text or 'no detail'}")

    def request_dropped(self, request: Request) -> None:
        """A redirect back to a URL of its own chain is a loop; the duplicate filter drops
        it without an errback, so it is recorded here."""
        chain: list[str] = request.meta.get("redirect_urls") or []
        if request.url in chain:
            self._fail(chain[0], f"redirect loop through {len(chain)} URLs")

    def callback_failed(self, failure: Failure, response: Response, spider: Spider) -> None:
        """A page fetched that could not be read: an error of ours that its markup met, or
        the database not saying which of its links are stored. Recorded on the run as any
        failed page is; Scrapy's own line goes to the crawl's log, which the daemon shows
        only when a crawl process dies."""
        what = failure.getErrorMessage().strip() or "no detail"
        message = f"could not be read: {failure.type.__name__}: {what}"
        self.ledger.unsettle(response.url)  # a listing, feed or sitemap, as fetched
        self._fail(_as_linked(response), message, stage="read")

    def _fail(
        self, url: str, message: str, http_status: int | None = None, stage: str = "fetch"
    ) -> None:
        logger.warning("source=%s %s: %s", self.source.name, url, message)
        self.ledger.failed(url, stage, message, http_status)
        if len(self.failures) < MAX_RECORDED_FAILURES:
            self.failures.append(f"{url}: {message}")

    def verdict(self, reason: str) -> tuple[str, str | None]:
        """(status, error) of the crawl run: failed when no entry page answered at all."""
        if reason == "closespider_timeout":
            return "timeout", f"stopped at its time limit; {self.reached} entry pages answered"
        # its process asked to stop: not done, to be crawled again. Given-up downloads may have
        # emptied its queue before it was closed for the stop.
        stopped = self.stopped_midway and reason == "finished" and not self.lease_lapsed
        if reason == "shutdown" or stopped:
            return "stopped", f"its process was asked to stop; {self.reached} entry pages answered"
        # its lease ran out: another may be crawling it now. Refused downloads may have ended
        # the crawl before it was closed for it, as if it had run to its end.
        if reason == LAPSED_REASON or self.lease_lapsed:
            return "stopped", (
                f"stopped: the lease on its source ran out; {self.reached} entry pages answered"
            )
        if self.reached == 0:
            return "failed", "; ".join(self.failures[:5]) or f"nothing fetched ({reason})"
        if reason != "finished":
            return "ok", f"{STOPPED_EARLY}: {reason}"
        return "ok", "; ".join(self._first_failures()) or None

    def _first_failures(self, count: int = 5) -> list[str]:
        """The first pages that failed to be fetched, then those that failed after."""
        later = (
            f"{fault.url}: {fault.reason}"
            for fault in self.ledger.failures.values()
            if fault.stage != "fetch"
        )
        return [*self.failures[:count], *later][:count]


def _as_linked(response: Response) -> str:
    """The URL as the page that led to it linked it, before redirects: what failures are
    recorded by, as the next crawl meets it."""
    return str((response.meta.get("redirect_urls") or [response.url])[0])


def _expected_skip(request: Request, reason: BaseException) -> bool:
    """robots.txt said no, or a link off the site (a redirect off the site is a failure)."""
    if _robots_refusal(reason):
        return True
    return isinstance(reason, OffSiteRequest) and not request.meta.get("redirect_urls")


def _robots_refusal(reason: BaseException) -> bool:
    """Scrapy's robots.txt middleware raises a plain IgnoreRequest: only its text tells."""
    return str(reason).startswith("Forbidden by robots.txt")


def _skip_rule(reason: BaseException) -> str:
    return "robots.txt forbids it" if _robots_refusal(reason) else "off-site"


def _sitemap_hints(
    urls: list[str], entries: list[dict[str, Any]], published: Mapping[str, str]
) -> dict[str, DateHint | None]:
    """Each entry's news:publication_date, else its lastmod (a change, not a publication)."""
    return {
        url: date_hint((published.get(entry["loc"].strip()),), "sitemap")
        or date_hint((entry.get("lastmod"),), "lastmod")
        for url, entry in zip(urls, entries, strict=True)
    }


def _feed_hint(entry: Mapping[str, Any]) -> DateHint | None:
    """The feed item's publication date, else the date it was last updated."""
    return date_hint((entry.get("published"),), "feed") or date_hint(
        (entry.get("updated"),), "feed-updated"
    )


def _http_error(response: Response) -> str:
    wait = (response.headers.get(b"Retry-After") or b"").decode("latin-1").strip()
    return f"HTTP {response.status}" + (f" (Retry-After: {wait})" if wait else "")


def _site_root(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _sitemap_body(response: Response, max_size: int) -> bytes | None:
    body = response.body
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=max_size)
        except (OSError, ValueError):
            return None
    return body if b"<" in body[:1024] else None
