"""The store at scale: synthetic articles in SQLite, then the queries the product runs on it."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.figures import Figure
from monitor.rules import RuleSet, RuleSpec
from storage.articles import stored_urls
from storage.db import Database
from storage.events import list_events
from storage.migrate import upgrade

KNOWN_URL_TARGET_MS = 1.0
EVENTS_PAGE_TARGET_MS = 100.0
BATCH = 20_000
SOURCES = 20
START = datetime(2020, 1, 1, tzinfo=UTC)
WORDS = (
    "parliament",
    "assembly",
    "delegation",
    "session",
    "resolution",
    "security",
    "border",
    "terrorism",
    "summit",
    "cooperation",
    "committee",
    "minister",
    "declaration",
    "election",
    "observers",
    "report",
    "regional",
    "dialogue",
)


def _url(number: int) -> str:
    return f"https://site{number % SOURCES}.example.org/news/{number}-story-{number * 7919 % 10007}"


def _stamp(moment: datetime) -> str:
    """A UTC time as SQLAlchemy's SQLite DateTime stores it (naive, microseconds)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


_EVENT_SQL = "INSERT INTO events (id, title, first_seen, updated_at) VALUES (?, ?, ?, ?)"
_ARTICLE_SQL = (
    "INSERT INTO articles (id, source_id, event_id, url, canonical_url, title, title_key, text,"
    " published_at, content_hash, first_seen, last_seen, authors, languages, language,"
    " matched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '[\"en\"]', 'en', ?)"
)
_URL_SQL = "INSERT INTO article_urls (url, article_id, source_id) VALUES (?, ?, ?)"


def _batches(count: int) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
    """(events, articles, urls) rows, BATCH articles at a time; two in three start an event."""
    pick = random.Random(6)
    texts = [" ".join(pick.choices(WORDS, k=60)) for _ in range(1000)]
    for first in range(1, count + 1, BATCH):
        events, articles, urls = [], [], []
        for number in range(first, min(count + 1, first + BATCH)):
            seen = _stamp(START + timedelta(minutes=3 * number))
            event_id = number - number // 3
            if number % 3 != 0:
                events.append((event_id, f"Story {number}", seen, seen))
            url, source = _url(number), number % SOURCES + 1
            articles.append((number, source, event_id, url, url, f"Story {number}",
                             f"story {number}", texts[number % 1000], seen, f"{number:064x}",
                             seen, seen, seen))  # fmt: skip
            urls.append((url, number, source))
        yield events, articles, urls


def fill(db: Database, count: int) -> float:
    """Bulk inserts straight through the driver: the figures are about reading, and a
    million ORM inserts would take longer than the whole benchmark."""
    started = time.perf_counter()
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO sources (id, name, created_at) VALUES (?, ?, ?)",
            [(n + 1, f"site{n}", _stamp(START)) for n in range(SOURCES)],
        )
        for events, articles, urls in _batches(count):
            connection.exec_driver_sql(_EVENT_SQL, events)
            connection.exec_driver_sql(_ARTICLE_SQL, articles)
            connection.exec_driver_sql(_URL_SQL, urls)
    return time.perf_counter() - started


def _median_ms(action: Callable[[], object], times: int) -> float:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000


def storage_figures(database: Path, count: int, raw: dict[str, object]) -> list[Figure]:
    url = f"sqlite:///{database}"
    upgrade(url)
    db = Database(url)
    try:
        filled = fill(db, count)
        since = START + timedelta(minutes=3 * count // 2)  # half the articles are newer
        probes = [_url(random.Random(n).randrange(1, count)) for n in range(200)]
        with db.session() as session:
            # one URL per query, as a crawl asks when a page links one new article
            ask = [[url] for url in probes]
            known = _median_ms(lambda: [stored_urls(session, urls) for urls in ask], 5) / len(ask)
        page = _median_ms(lambda: list(list_events(db, since=since, limit=50)), 3)
        ruleset = RuleSet.compile([RuleSpec("backtest", "security AND (border OR terrorism)")])
        backtest = _median_ms(
            lambda: [ruleset.match(title=e.title, text=e.text) for e in
                     list_events(db, since=since, limit=1000)], 1,
        )  # fmt: skip
    finally:
        db.dispose()
    raw.update(storage_articles=count, storage_fill_seconds=filled, known_url_ms=known,
               events_page_ms=page, backtest_ms=backtest)  # fmt: skip
    return [
        Figure(f"storage: fill {count:,} articles", f"{filled:.0f} s"),
        Figure(
            "storage: new-URL check",
            f"{known:.3f} ms",
            f"<= {KNOWN_URL_TARGET_MS:g} ms",
            known <= KNOWN_URL_TARGET_MS,
        ),
        Figure(
            "storage: events list --since, first page",
            f"{page:.0f} ms",
            f"<= {EVENTS_PAGE_TARGET_MS:g} ms",
            page <= EVENTS_PAGE_TARGET_MS,
        ),
        Figure(
            "storage: rule backtest (rules test --since)",
            f"{backtest:.0f} ms",
            "1,000 events, as the CLI's default",
        ),
    ]
