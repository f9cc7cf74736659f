"""Alerts at scale: a digest of many events rendered, and a backlog of deliveries dispatched
through a webhook receiver on 127.0.0.1 (issue 29)."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.figures import Figure
from bench.receiver import WebhookSink
from monitor import flow
from monitor.config import Config
from monitor.digesting import as_digest
from storage.articles import NewArticle, store_articles
from storage.digests import digest_task, open_digest
from storage.leases import Lease
from storage.migrate import upgrade
from storage.models import Delivery, Digest, Match

DIGEST_TARGET_S = 1.0
WORDS = ("border", "security", "summit", "delegates", "Dushanbe", "talks", "treaty", "vote")
RULES = 5


def _config(database: Path, channels: dict[str, dict[str, object]]) -> Config:
    url = f"sqlite:///{database}"
    upgrade(url)
    return Config.model_validate({
        "database": url, "channels": channels,
        "web": {"public_url": "https://eventwatch.example"},
    })  # fmt: skip


def _events(ctx: flow.Context, count: int) -> list[int]:
    """`count` stored events, one report each, in several languages and sources."""
    items = [
        NewArticle(
            source=f"source{n % 7}",
            url=f"https://news.example/{n}",
            canonical_url=f"https://news.example/{n}",
            title=f"Report {n} on border security",
            text=_text(n),
            language=("en", "ru", "fr", "ar")[n % 4],
            places=("Dushanbe", "Tajikistan"),
        )
        for n in range(count)
    ]
    stored = store_articles(ctx.db, items)
    with ctx.db.session() as session:
        from storage.models import Article

        return sorted({session.get_one(Article, article_id).event_id for _, article_id in stored})


def _text(number: int) -> str:
    """A text of its own: stories that share most words would be grouped into one event."""
    pick = random.Random(number)
    return " ".join(pick.choice(WORDS) + str(pick.randrange(10_000)) for _ in range(40))


def _queue(ctx: flow.Context, events: list[int], channels: list[str], status: str) -> None:
    """A match per event and a delivery per channel, as matching would write them."""
    with ctx.db.session() as session:
        for number, event_id in enumerate(events):
            match = Match(rule=f"rule{number % RULES}", event_id=event_id, article_id=1,
                          terms=["security"], snippets=["…border security…"],
                          words=["security"])  # fmt: skip
            session.add(match)
            session.flush()
            session.add_all(
                Delivery(
                    key=str(uuid.uuid4()),
                    match_id=match.id,
                    rule=match.rule,
                    event_id=event_id,
                    channel=channel,
                    status=status,
                )
                for channel in channels
            )


def digest_figures(folder: Path, count: int, raw: dict[str, object]) -> list[Figure]:
    """Open a digest of `count` held alerts, load it and render it as text, JSON and mail."""
    from monitor.channels.email import EmailChannel, EmailChannelConfig
    from monitor.channels.webhook import digest_body

    mail: dict[str, object] = {"type": "email", "to": ["soc@example.org"], "from": "e@x.org"}
    ctx = flow.Context(_config(folder / "digest.db", {"mail": mail}))
    _queue(ctx, _events(ctx, count), ["mail"], "held")
    channel = EmailChannel("mail", EmailChannelConfig.model_validate(mail), {})
    open_digest(ctx.db, "mail", datetime.now(UTC) + timedelta(seconds=1))
    started = time.perf_counter()
    leased = Lease(Digest, 1, datetime.now(UTC))  # rendered only: no lease is taken
    digest = as_digest(
        digest_task(ctx.db, leased), lambda event_id: f"https://e.example/{event_id}"
    )
    message = channel.build_digest(digest)
    payload = digest_body(digest)
    seconds = time.perf_counter() - started
    ctx.db.dispose()
    raw.update(digest_events=digest.event_count, digest_seconds=seconds,
               digest_mail_bytes=len(bytes(message)), digest_json_bytes=len(payload))  # fmt: skip
    return [
        Figure(
            f"digest of {count:,} events: load + render",
            f"{seconds:.2f} s",
            f"<= {DIGEST_TARGET_S:g} s",
            seconds <= DIGEST_TARGET_S,
        ),
    ]


def dispatch_figures(folder: Path, count: int, raw: dict[str, object]) -> list[Figure]:
    """Send `count` pending deliveries (10 channels per event) to a local webhook receiver."""
    with WebhookSink() as sink:
        channels = {f"hook{i}": {"type": "webhook", "url": sink.url, "timeout": 10}
                    for i in range(10)}  # fmt: skip
        ctx = flow.Context(_config(folder / "dispatch.db", channels))
        _queue(ctx, _events(ctx, count // len(channels)), list(channels), "pending")
        started = time.time()
        sent = flow.deliver_pending(ctx).sent
        seconds = time.time() - started
        arrivals = sorted(arrived for arrived, _ in sink.alerts())
        ctx.db.dispose()
    # Dispatch sends one at a time: the gap between two arrivals is one delivery's whole
    # cycle (lease, load, render, POST, record).
    gaps = [(b - a) * 1000 for a, b in zip([started, *arrivals], arrivals, strict=False)]
    p95 = statistics.quantiles(gaps, n=20)[-1] if len(gaps) >= 20 else max(gaps, default=0.0)
    raw.update(dispatch_deliveries=sent, dispatch_seconds=seconds, dispatch_p95_ms=p95)
    return [
        Figure(f"dispatch {sent:,} deliveries to a local webhook", f"{sent / seconds:.0f} /s"),
        Figure("dispatch: one delivery's cycle, p95", f"{p95:.1f} ms"),
    ]
