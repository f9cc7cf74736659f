"""`eventwatch sources explain SOURCE [URL]`: what a crawl of the source does with each link
of its listing pages, or with one URL, and why.

The listing page is fetched live. Its links are judged by the crawl's own functions
(:func:`crawlers.crawling.links.classify_links`, :class:`crawlers.crawling.linkplan.LinkBook`)
against the articles stored and the pages held back (failed, or tried and no article), so the answer
is the crawl's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from urllib.parse import urljoin

from parsel import Selector
from protego import Protego

from crawlers.crawling.linkplan import LinkBook, LinkVerdict, ListingState, looked_up
from crawlers.crawling.links import (
    LinkDecision,
    classify_links,
    compile_follow,
    decide_link,
)
from crawlers.extraction.pagefile import fetch
from crawlers.launcher.sources import CrawlSource
from crawlers.urls import is_http_url, link_url, normalize_url
from monitor import opening
from monitor.config import load_config
from monitor.runlog import failure_line
from monitor.usage import UsageError, known_source
from storage.articles import stored_urls
from storage.db import Database
from storage.pagefailures import held_back, page_failures

ROBOTS_AGENT = "eventwatch"
ROBOTS_RULE = "robots.txt forbids it"


class ExplainError(Exception):
    """A page that could not be fetched to explain; one line for the user."""


def _robots_check(source: CrawlSource, page_url: str) -> Callable[[str], bool]:
    """Whether robots.txt lets the crawl fetch a URL; everything when it is not obeyed or
    cannot be read (Scrapy's robots.txt middleware then lets all through too)."""
    if not source.extra_settings.get("ROBOTSTXT_OBEY", True):
        return lambda _url: True
    try:
        robots = Protego.parse(fetch(urljoin(page_url, "/robots.txt")))
    except (OSError, ValueError):
        return lambda _url: True
    return lambda url: bool(robots.can_fetch(url, ROBOTS_AGENT))


def _plan(
    db: Database, source: CrawlSource, decisions: Sequence[LinkDecision], start: bool
) -> tuple[list[LinkVerdict], LinkBook]:
    keys = [normalize_url(url) for url in looked_up(decisions)]  # as the crawl does
    with db.session() as session:
        stored = stored_urls(session, keys)
        held = held_back(session, source.name, [k for k in keys if k not in stored])
    state = ListingState(stored, held, max_depth=source.max_listing_pages, start=start)
    book = LinkBook(source.max_pages)
    return book.plan_listing(decisions, state), book


def _with_robots(verdicts: list[LinkVerdict], allowed: Callable[[str], bool]) -> list[LinkVerdict]:
    return [
        v if not v.follow or allowed(v.url) else LinkVerdict(v.url, False, v.action, ROBOTS_RULE)
        for v in verdicts
    ]


def explain_listing(db: Database, source: CrawlSource, url: str) -> list[LinkVerdict]:
    """Each link of the listing page at ``url`` with what the crawl does with it."""
    try:
        html = fetch(url)
    except (OSError, ValueError) as exc:
        raise ExplainError(f"{url}: could not be fetched: {exc}") from None
    decisions = classify_links(
        Selector(text=html, base_url=url), url, source.domains(), compile_follow(source.follow)
    )
    verdicts, _ = _plan(db, source, decisions, url in source.start_urls)
    return _with_robots(verdicts, _robots_check(source, url))


def explain_url(db: Database, source: CrawlSource, url: str) -> tuple[LinkVerdict, list[str]]:
    """What the crawl does with ``url`` found on the source's first listing page, and what
    is known of it: stored, or failing."""
    page = source.start_urls[0] if source.start_urls else url
    follow = compile_follow(source.follow)
    decision = decide_link(url, "", "", page, source.domains(), follow)
    (verdict,), _ = _plan(db, source, [decision], start=True)
    if verdict.follow and not _robots_check(source, url)(url):
        verdict = LinkVerdict(url, False, verdict.action, ROBOTS_RULE)
    known = page_failures(db, source=source.name, urls=[normalize_url(url)], limit=1)
    return verdict, [failure_line(f) for f in known]


def _line(verdict: LinkVerdict) -> str:
    return f"  {verdict.outcome:<8} {verdict.action:<9} {verdict.url}  — {verdict.rule}"


def _summary(verdicts: Sequence[LinkVerdict]) -> str:
    followed = sum(v.follow for v in verdicts)
    return f"  {len(verdicts)} links: {followed} followed, {len(verdicts) - followed} skipped"


def explain_lines(db: Database, source: CrawlSource, args: argparse.Namespace) -> list[str]:
    """What `sources explain` prints (one JSON object per link with ``--json``)."""
    if args.url and (not is_http_url(args.url) or link_url(args.url, "") is None):
        raise UsageError(f"sources explain: {args.url!r} is not an http(s) URL that can be fetched")
    if args.url and not args.listing:
        verdict, known = explain_url(db, source, args.url)
        if args.json:
            return [json.dumps({**asdict(verdict), "failures": known}, ensure_ascii=False)]
        return [_line(verdict).strip(), *known]
    pages = [args.url] if args.url else list(source.start_urls)
    if not pages:
        raise ExplainError(f"{source.name} has no start_urls: give a listing page's URL")
    lines: list[str] = []
    for page in pages:
        verdicts = explain_listing(db, source, page)
        if args.json:
            lines += [json.dumps({"listing": page, **asdict(v)}) for v in verdicts]
        else:
            lines += [f"{page}:", *map(_line, verdicts), _summary(verdicts)]
    return lines


def sources_explain(args: argparse.Namespace) -> int:
    """`eventwatch sources explain`: read-only, it creates and migrates nothing."""
    config = load_config(args.config)[1]
    known_source(config, args.source, "sources explain")
    ctx = opening.for_reading(config)
    try:
        lines = explain_lines(ctx.db, ctx.config.source(args.source).crawl_source(), args)
    except ExplainError as exc:
        print(f"eventwatch: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
