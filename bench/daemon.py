"""`eventwatch run` over the mirror with short intervals: its memory over many crawl cycles,
and how soon an alert reaches a webhook after its article is stored."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bench.figures import Figure
from bench.mirror import MirrorServer, news_page
from bench.receiver import WebhookSink
from bench.rss import CrawlPeak, rss_mb
from bench.setup import EVENTWATCH, ROOT, write_config
from storage.db import Database
from storage.models import Article, CrawlRun

MARKER = "benchwire"  # every article published during the run names it; one rule asks for it
MEMORY_GROWTH_TARGET = 1.1
LATENCY_P95_TARGET = 2.0
PUBLISH_EVERY = 3.0  # seconds between new articles on the mirror
INTERVAL = "0.5s"  # match_every and dispatch_every (the shipped default is 10s)
TIME_CAP = 300.0  # the figure reports the cycles reached if crawls are slower than planned
WARM_CYCLES = 5
DRAIN_SECONDS = 30.0  # after the cycles, how long the last articles may take to be alerted


def _finished_runs(db: Database, since: datetime) -> int:
    with db.session() as session:
        query = select(func.count(CrawlRun.id)).where(
            CrawlRun.started_at >= since, CrawlRun.finished_at.is_not(None)
        )
        return int(session.scalar(query) or 0)


def _stored_at(db: Database, urls: set[str]) -> dict[str, datetime]:
    with db.session() as session:
        rows = session.execute(
            select(Article.canonical_url, Article.first_seen).where(Article.canonical_url.in_(urls))
        )
        return {url: seen for url, seen in rows}


def _one_per_event(db: Database) -> list[tuple[str, str]]:
    """(title, text) of the first article of each stored event, newest first: an article
    published from these joins a distinct event, so each earns its own alert."""
    firsts = select(func.min(Article.id)).group_by(Article.event_id)
    with db.session() as session:
        rows = session.execute(
            select(Article.title, Article.text)
            .where(Article.id.in_(firsts))
            .order_by(Article.id.desc())
        )
        return [(title, text) for title, text in rows]


def _latencies(db: Database, sink: WebhookSink, published: set[str]) -> list[float]:
    """Seconds from an article's first_seen to its alert's arrival, for published articles."""
    arrivals: dict[str, float] = {}
    for arrived, body in sink.alerts():
        for article in body.get("event", {}).get("articles", []):
            if article.get("url") in published:
                arrivals.setdefault(article["url"], arrived)
    stored = _stored_at(db, set(arrivals))
    return [arrivals[url] - stored[url].timestamp() for url in arrivals if url in stored]


def _alerted(sink: WebhookSink) -> set[str]:
    return {
        article.get("url")
        for _, body in sink.alerts()
        for article in body.get("event", {}).get("articles", [])
    }


def _drain(sink: WebhookSink, published: set[str]) -> None:
    """Wait until every published article has been alerted, or DRAIN_SECONDS."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while not published <= _alerted(sink) and time.monotonic() < deadline:
        time.sleep(0.2)


def _config(folder: Path, database: Path, mirror: MirrorServer, sink: WebhookSink) -> Path:
    return write_config(
        folder / "daemon.yaml",
        database,
        mirror.sites,
        every="1s",
        rules=[{"name": "bench-news", "query": MARKER, "notify": ["hook"]}],
        channels={"hook": {"type": "webhook", "url": sink.url}},
        daemon={"listen": None, "match_every": INTERVAL, "dispatch_every": INTERVAL},
    )


class Publisher:
    """Puts a new article on the mirror every few seconds, text taken from stored articles."""

    def __init__(self, mirror: MirrorServer, texts: list[tuple[str, str]]) -> None:
        self.mirror = mirror
        self.texts = texts
        self.urls: set[str] = set()
        self.due = time.monotonic()

    def tick(self) -> None:
        """Publish the next story, if due. Each story is published once: a second article
        with its text would join the first one's event and rightly earn no alert."""
        if time.monotonic() < self.due or len(self.urls) >= len(self.texts):
            return
        number = len(self.urls)
        title, text = self.texts[number]
        site = self.mirror.sites[number % len(self.mirror.sites)]
        paragraphs = [f"{MARKER} bulletin {number}: {title}.", *text.split("\n")[:30]]
        article = site.add(news_page(f"{title} ({MARKER} {number})", paragraphs), title)
        site.rebuild()
        self.urls.add(site.base_url + article.path)
        self.due = time.monotonic() + PUBLISH_EVERY


def daemon_figures(
    folder: Path, database: Path, mirror: MirrorServer, cycles: int, raw: dict[str, object]
) -> list[Figure]:
    db = Database(f"sqlite:///{database}")
    try:
        with WebhookSink() as sink:
            figures, published = _run_daemon(folder, database, db, mirror, sink, cycles, raw)
            waits = _latencies(db, sink, published)
    finally:
        db.dispose()
    p50 = statistics.median(waits) if waits else float("nan")
    p95 = statistics.quantiles(waits, n=20)[18] if len(waits) > 1 else p50
    raw.update(webhook_latencies=waits, published=len(published))
    return [
        *figures,
        Figure(
            "daemon: webhook latency after store",
            f"p50 {p50:.2f} s, p95 {p95:.2f} s",
            f"p95 <= {LATENCY_P95_TARGET:g} s; {len(waits)} of {len(published)} alerted; "
            f"match and dispatch every {INTERVAL}",
            bool(waits) and p95 <= LATENCY_P95_TARGET and len(waits) == len(published),
        ),
    ]


def _run_daemon(
    folder: Path,
    database: Path,
    db: Database,
    mirror: MirrorServer,
    sink: WebhookSink,
    cycles: int,
    raw: dict[str, object],
) -> tuple[list[Figure], set[str]]:
    publisher = Publisher(mirror, _one_per_event(db))
    config = _config(folder, database, mirror, sink)
    since = datetime.now(UTC)
    log = (folder / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [*EVENTWATCH, "--config", str(config), "run"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    started = time.monotonic()
    try:
        with CrawlPeak(daemon.pid) as peak:
            while _finished_runs(db, since) < 1 and time.monotonic() - started < TIME_CAP:
                time.sleep(0.2)
            first_rss = rss_mb(daemon.pid)
            samples: list[tuple[int, float]] = []  # (cycles done, RSS): does it level off?
            while (done := _finished_runs(db, since)) < cycles:
                if time.monotonic() - started > TIME_CAP or daemon.poll() is not None:
                    break
                if not samples or samples[-1][0] != done:
                    samples.append((done, rss_mb(daemon.pid)))
                publisher.tick()
                time.sleep(0.2)
            _drain(sink, publisher.urls)
            last_rss = rss_mb(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:  # a finding, not a crash: show why it hung
            daemon.kill()
            daemon.wait()
            tail = (folder / "daemon.log").read_text(errors="replace")[-4000:]
            print(f"daemon did not stop within 60 s of SIGTERM; log tail:\n{tail}", flush=True)
            raw["daemon_stop_timeout_log"] = tail
        log.close()
    seconds = time.monotonic() - started
    raw.update(daemon_cycles=done, daemon_seconds=seconds, daemon_rss_start_mb=first_rss,
               daemon_rss_end_mb=last_rss, daemon_crawl_peak_rss_mb=peak.peak_mb,
               daemon_rss_by_cycle=samples)  # fmt: skip
    growth = last_rss / first_rss
    warm = next((rss for done_then, rss in samples if done_then >= WARM_CYCLES), first_rss)
    return [
        Figure("daemon: crawl cycles", f"{done} in {seconds:.0f} s", f"{cycles} planned"),
        Figure(
            "daemon: RSS start -> end",
            f"{first_rss:.0f} -> {last_rss:.0f} MB ({growth:.2f}x)",
            f"end <= {MEMORY_GROWTH_TARGET:g} x start",
            growth <= MEMORY_GROWTH_TARGET,
        ),
        Figure(
            f"daemon: RSS after {WARM_CYCLES} cycles -> end",
            f"{warm:.0f} -> {last_rss:.0f} MB ({last_rss / warm:.2f}x)",
            "informs: growth once caches are warm",
        ),
        Figure("daemon: peak RSS of a crawl subprocess", f"{peak.peak_mb:.0f} MB"),
    ], publisher.urls
