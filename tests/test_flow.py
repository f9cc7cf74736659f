"""Matching and delivery through the database: one article or one alert that sets off a bug
costs only itself (the others behind it are still matched and delivered, and it is kept to be
tried again), and an alert carries what its event's reports name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from monitor import flow
from monitor.channels.alert import Alert
from monitor.config import Config
from monitor.rules import Hit
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Article, Delivery, Event
from tests.receivers import SlowPeer, WebhookReceiver

TITLES = [
    "Assembly meets in Dushanbe on border security",
    "Dushanbe hosts a counter-terrorism conference",
    "Customs officers gather in Dushanbe for training",
]
TEXTS = [
    "Members of the assembly met in Dushanbe to discuss border security and patrols.",
    "Experts from twelve countries gathered in Dushanbe to compare counter-terrorism laws.",
    "A week of training for customs officers opened in Dushanbe with a session on cargo.",
]
POISON = TITLES[1]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


@pytest.fixture
def ctx(db_url: str, receiver: WebhookReceiver) -> Iterator[flow.Context]:
    upgrade(db_url)
    config = Config.model_validate(
        {
            "database": db_url,
            "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["hook"]}],
            "channels": {"hook": {"type": "webhook", "url": receiver.url, "timeout": 5}},
        }
    )
    context = flow.Context(config)
    _store_reports(context.db)
    yield context
    context.db.dispose()


def _store_reports(db: Database) -> None:
    """One article for each of TITLES, from one source."""
    for number, (title, text) in enumerate(zip(TITLES, TEXTS, strict=True), start=1):
        url = f"https://pam.example/news/{number}"
        store_article(
            db, NewArticle(source="pam", url=url, canonical_url=url, title=title, text=text)
        )


class PoisonedRules:
    """The real rules, but matching the poisoned title raises, as a bug would."""

    def __init__(self, rules: Any) -> None:
        self.rules = rules

    def match(self, **article: Any) -> list[Hit]:
        if article["title"] == POISON:
            raise RecursionError("maximum recursion depth exceeded")
        return list(self.rules.match(**article))


class UnstorableHits:
    """The real rules, but the poisoned title's hits carry a term the database cannot take."""

    def __init__(self, rules: Any) -> None:
        self.rules = rules

    def match(self, **article: Any) -> list[Hit]:
        hits = list(self.rules.match(**article))
        if article["title"] == POISON:
            return [Hit(hit.rule, ({"not JSON"},), ()) for hit in hits]  # type: ignore[arg-type]
        return hits


class PoisonedChannel:
    """The real webhook channel, but the poisoned alert raises before it is sent."""

    def __init__(self, channel: Any) -> None:
        self.name = channel.name
        self.channel = channel

    def send(self, alert: Alert) -> None:
        if alert.title == POISON:
            raise KeyError("published_at")
        self.channel.send(alert)


def _matched(db: Database) -> dict[str, bool]:
    with db.session() as session:
        rows = session.execute(select(Article.title, Article.matched_at)).all()
    return {title: matched_at is not None for title, matched_at in rows}


def test_an_article_that_cannot_be_matched_holds_back_no_other(
    ctx: flow.Context, caplog: pytest.LogCaptureFixture
) -> None:
    real = ctx.rules
    ctx.rules = PoisonedRules(real)  # type: ignore[assignment]
    assert flow.match_new_articles(ctx) == 2
    assert _matched(ctx.db) == {TITLES[0]: True, POISON: False, TITLES[2]: True}
    assert "could not be matched" in caplog.text
    assert flow.match_new_articles(ctx) == 0  # tried again, still failing, nothing doubled
    ctx.rules = real  # the bug fixed (a new release, a reloaded rule): it is matched at last
    assert flow.match_new_articles(ctx) == 1
    assert all(_matched(ctx.db).values())


def test_an_article_whose_matches_cannot_be_stored_holds_back_no_other(
    ctx: flow.Context,
) -> None:
    """SQLAlchemy reports bad data in a statement as one of its own errors: that is still the
    article's failure, not the database's, and must not stop every pass at this article."""
    ctx.rules = UnstorableHits(ctx.rules)  # type: ignore[assignment]
    assert flow.match_new_articles(ctx) == 2
    assert _matched(ctx.db) == {TITLES[0]: True, POISON: False, TITLES[2]: True}


def test_an_alert_that_cannot_be_sent_backs_off_and_the_others_go(
    ctx: flow.Context, receiver: WebhookReceiver
) -> None:
    assert flow.match_new_articles(ctx) == 3
    ctx.channels["hook"] = PoisonedChannel(ctx.channels["hook"])  # type: ignore[assignment]
    counts = flow.deliver_pending(ctx)
    assert (counts.sent, counts.retrying, counts.failed) == (2, 1, 0)
    received = {json.loads(body)["event"]["title"] for _headers, body in receiver.received}
    assert received == {TITLES[0], TITLES[2]}
    with ctx.db.session() as session:
        pending = session.scalars(select(Delivery).where(Delivery.status == "pending")).all()
        assert len(pending) == 1
        assert pending[0].attempts == 1
        assert "KeyError" in (pending[0].last_error or "")


def test_an_alert_carries_what_the_events_reports_name(
    ctx: flow.Context, receiver: WebhookReceiver
) -> None:
    url = "https://osce.example/news/forum"
    store_article(
        ctx.db,
        NewArticle(
            source="osce",
            url=url,
            canonical_url=url,
            title="Counter-terrorism forum opens in Dushanbe",
            text="Delegates of the OSCE PA meet in Dushanbe from 12 to 14 March to discuss "
            "border security and the financing of terrorism across Central Asia.",
            places=("Dushanbe", "Tajikistan"),
            organisations=("OSCE PA",),
            dates_mentioned=(("12 to 14 March", date(2025, 3, 12), date(2025, 3, 14)),),
        ),
    )
    assert flow.match_new_articles(ctx) == 4
    assert flow.deliver_pending(ctx).sent == 4
    events = [json.loads(body)["event"] for _headers, body in receiver.received]
    [forum] = [e for e in events if e["title"].startswith("Counter-terrorism forum")]
    assert forum["places"] == ["Dushanbe", "Tajikistan"]
    assert forum["organisations"] == ["OSCE PA"]
    assert forum["dates_mentioned"] == [
        {"text": "12 to 14 March", "start": "2025-03-12", "end": "2025-03-14"}
    ]


def test_an_event_whose_dates_are_malformed_is_alerted_all_the_same(
    ctx: flow.Context, receiver: WebhookReceiver
) -> None:
    """Dates written by another version, or damaged by hand: shown where readable, and the
    alert goes out; dispatch never stops on them."""
    assert flow.match_new_articles(ctx) == 3
    good = {"text": "12 March", "start": "2025-03-12", "end": "2025-03-12"}
    with ctx.db.session() as session:
        for event in session.scalars(select(Event)):
            event.dates_mentioned = [{"text": "no days"}, "12 March", good, {"start": 20250312}]
    assert flow.deliver_pending(ctx).sent == 3
    for _headers, body in receiver.received:
        assert json.loads(body)["event"]["dates_mentioned"] == [good]


def test_a_reloaded_config_keeps_the_running_database_unless_it_names_another(
    ctx: flow.Context, tmp_path: Any
) -> None:
    same = flow.Context(ctx.config, ctx.db)
    assert same.db is ctx.db  # one engine for the daemon's whole life, however often reloaded
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    moved = flow.Context(ctx.config.model_copy(update={"database": other_url}), ctx.db)
    try:
        assert moved.db is not ctx.db and moved.db.url == other_url
    finally:
        moved.db.dispose()


def test_a_channel_that_hangs_is_tried_once_a_pass_and_holds_up_no_other(
    db_url: str, receiver: WebhookReceiver
) -> None:
    upgrade(db_url)
    with SlowPeer() as stuck:
        config = Config.model_validate(
            {
                "database": db_url,
                "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["stuck", "hook"]}],
                "channels": {
                    "stuck": {"type": "webhook", "url": stuck.url, "timeout": 0.2},
                    "hook": {"type": "webhook", "url": receiver.url, "timeout": 5},
                },
            }
        )
        context = flow.Context(config)
        _store_reports(context.db)
        assert flow.match_new_articles(context) == 6  # three events, two channels
        counts = flow.deliver_pending(context)
        assert stuck.connections == 1  # its first alert timed out; the other two were not tried
        with context.db.session() as session:
            rows = session.execute(select(Delivery.channel, Delivery.status, Delivery.attempts))
            by_channel = sorted(tuple(row) for row in rows)
        context.db.dispose()
    assert (counts.sent, counts.retrying, counts.failed) == (3, 1, 0)
    assert len(receiver.received) == 3
    assert by_channel == [
        ("hook", "sent", 1), ("hook", "sent", 1), ("hook", "sent", 1),
        ("stuck", "pending", 0), ("stuck", "pending", 0), ("stuck", "pending", 1),
    ]  # fmt: skip
