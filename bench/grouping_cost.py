"""What grouping costs per stored article at scale: the storage benchmark's database
(bench.storing.fill), each article given anchor keys of cross-language signals as a crawl
stores them, then new articles stored at the end of its timeline, as a crawl stores them.

Usage: .venv/bin/python -m bench.grouping_cost [--articles N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from bench.figures import Figure, table
from bench.storing import START, WORDS, fill
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.grouping import StoryKeys, find_event
from storage.migrate import upgrade
from storage.signals import anchor_keys
from storage.similarity import text_keys

GROUPING_TARGET_MS = 5.0
MINUTES_APART = 3  # bench.storing's articles: one every three minutes
CITIES = [f"City{n}" for n in range(60)]
ORGS = [f"Org{n}" for n in range(40)]
PROBES = 200
BATCH = 50_000


def signals_of(number: int, pick: random.Random) -> list[str]:
    """Signals of the bench's article ``number``: a city, two organisations, its day (and
    the day before), three numbers, a name, drawn from vocabularies of realistic size."""
    day = (START + timedelta(minutes=MINUTES_APART * number)).date()
    city = pick.choice(CITIES)
    return [
        "where:Country", f"city:{city}", "country:Country",
        *(f"org:{org}" for org in pick.sample(ORGS, 2)),
        f"date:{day.isoformat()}", f"date:{(day - timedelta(days=1)).isoformat()}",
        *(f"number:{pick.randrange(10, 5000)}" for _ in range(3)),
        f"name:n{pick.randrange(20_000)}",
    ]  # fmt: skip


def _rows(count: int) -> Iterator[list[tuple[int, str, int]]]:
    pick = random.Random(30)
    rows: list[tuple[int, str, int]] = []
    for number in range(1, count + 1):
        day = (START + timedelta(minutes=MINUTES_APART * number)).date().isoformat()
        rows += [(key, day, number) for key in anchor_keys(signals_of(number, pick))]
        if len(rows) >= BATCH:
            yield rows
            rows = []
    yield rows


def fill_signals(db: Database, count: int) -> float:
    """Anchor keys for every article, and their signals on the last week's (the window a
    new article is compared in), straight through the driver as bench.storing fills."""
    started = time.perf_counter()
    pick = random.Random(31)
    recent = range(max(1, count - 7 * 24 * 20), count + 1)
    with db.engine.begin() as connection:
        for rows in _rows(count):
            connection.exec_driver_sql(
                "INSERT INTO article_signals (key, day, article_id) VALUES (?, ?, ?)", rows
            )
        connection.exec_driver_sql(
            "UPDATE articles SET signals = ? WHERE id = ?",
            [(json.dumps(signals_of(n, pick)), n) for n in recent],
        )
    return time.perf_counter() - started


def _probe(number: int, pick: random.Random) -> NewArticle:
    when = START + timedelta(minutes=MINUTES_APART * number)
    text = " ".join(pick.choices(WORDS, k=80))
    url = f"https://probe.example.org/{number}"
    return NewArticle(
        source="probe", url=url, canonical_url=url, title=f"Probe {number}", text=text,
        published_at=when, signals=tuple(signals_of(number, pick)),
    )  # fmt: skip


def _median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def _find_ms(db: Database, probes: list[NewArticle], with_signals: bool) -> float:
    """Median time of finding each probe's event (nothing stored)."""
    seconds = []
    with db.session() as session:
        for item in probes:
            given = text_keys(item.title, item.text)
            said = item.signals if with_signals else ()
            keys = StoryKeys(given.digest, given.title_key, given.shingles, given.bands,
                             item.published_at or START, said)  # fmt: skip
            started = time.perf_counter()
            find_event(session, keys)
            seconds.append(time.perf_counter() - started)
        session.rollback()
    return _median_ms(seconds)


def measure(db: Database, count: int) -> tuple[float, float, float]:
    """Medians (ms) of finding a new article's event, with and without its signals (text
    and title alone, as before), and of storing it whole."""
    pick = random.Random(32)
    probes = [_probe(count + n, pick) for n in range(1, PROBES + 1)]
    finding, text_only = _find_ms(db, probes, True), _find_ms(db, probes, False)
    storing = []
    for item in probes:
        started = time.perf_counter()
        store_article(db, item)
        storing.append(time.perf_counter() - started)
    return finding, text_only, _median_ms(storing)


def grouping_cost_figures(
    database: Path, count: int, raw: dict[str, object], *, filled_by_storage: bool = False
) -> list[Figure]:
    """``filled_by_storage``: the database is bench.storing's, already filled with ``count``
    articles (bench.run measures both on one database)."""
    url = f"sqlite:///{database}"
    upgrade(url)
    db = Database(url)
    try:
        filled = (0.0 if filled_by_storage else fill(db, count)) + fill_signals(db, count)
        finding, text_only, storing = measure(db, count)
    finally:
        db.dispose()
    raw.update(grouping_articles=count, grouping_fill_seconds=filled,
               grouping_find_event_ms=finding, grouping_find_event_text_only_ms=text_only,
               grouping_store_article_ms=storing)  # fmt: skip
    return [
        Figure(f"grouping: fill {count:,} articles with signals", f"{filled:.0f} s"),
        Figure(
            f"grouping: find a new article's event at {count:,}",
            f"{finding:.2f} ms",
            f"<= {GROUPING_TARGET_MS:g} ms (text and title alone: {text_only:.2f} ms)",
            finding <= GROUPING_TARGET_MS,
        ),
        Figure("grouping: store one new article, whole, committed", f"{storing:.2f} ms"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grouping_cost", description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    raw: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="eventwatch-grouping-") as work:
        figures = grouping_cost_figures(Path(work) / "grouping.db", args.articles, raw)
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
