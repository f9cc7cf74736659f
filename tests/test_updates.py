"""Updates, opt-in per rule (issue 29): when an alerted event gains reports from new sources,
a short update names them, at most one per event per ``update_every``; reports that arrive
while one waits are named in it. Sent to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from monitor import flow
from monitor.config import Config
from storage.articles import NewArticle, store_article
from storage.migrate import upgrade
from storage.models import Update
from tests.receivers import SmtpSink, WebhookReceiver

TITLE = "Delegates meet in Dushanbe on border security"
TEXT = "Delegates from twelve countries met in Dushanbe on Monday to discuss border security."


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def context(db_url: str, hook: WebhookReceiver, **rule: Any) -> flow.Context:
    upgrade(db_url)
    return flow.Context(Config.model_validate({
        "database": db_url,
        "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["soc"], **rule}],
        "channels": {"soc": {"type": "webhook", "url": hook.url}},
    }))  # fmt: skip


def report(ctx: flow.Context, source: str) -> int:
    """The same story from another source: it joins the event of the first report."""
    url = f"https://{source}.example/story"
    _, article_id = store_article(ctx.db, NewArticle(
        source=source, url=url, canonical_url=url, title=TITLE, text=TEXT,
    ))  # fmt: skip
    flow.match_new_articles(ctx)
    return article_id


def sent(hook: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in hook.received]


def test_an_alerted_event_with_a_new_source_gets_an_update_naming_it(
    db_url: str, hook: WebhookReceiver
) -> None:
    ctx = context(db_url, hook, on_update=True)
    report(ctx, "pam")
    assert flow.deliver_pending(ctx).sent == 1
    report(ctx, "wire")
    assert flow.deliver_pending(ctx).sent == 1
    alert, news = sent(hook)
    assert alert["kind"] == "alert" and alert["new_sources"] == []
    assert news["kind"] == "update" and news["new_sources"] == ["wire"]
    assert news["event"]["id"] == alert["event"]["id"] and news["id"] != alert["id"]
    assert [a["source"] for a in news["event"]["articles"]] == ["pam", "wire"]
    report(ctx, "wire")  # nothing new: a source already named
    assert flow.deliver_pending(ctx).sent == 0


def test_an_update_is_not_lost_when_the_database_fails_during_the_matching_pass(
    db_url: str, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The article was marked matched in one transaction and its update queued in the next:
    the database failing between the two lost the update, as the article was never matched
    again."""
    ctx = context(db_url, hook, on_update=True)
    report(ctx, "pam")
    assert flow.deliver_pending(ctx).sent == 1
    real, calls = flow.queue_updates, []

    def database_away_once(*args: Any, **kwargs: Any) -> int:
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("UPDATE matches", {}, sqlite3.OperationalError("locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(flow, "queue_updates", database_away_once)
    with pytest.raises(OperationalError):
        report(ctx, "wire")
    flow.match_new_articles(ctx)  # the next pass
    assert flow.deliver_pending(ctx).sent == 1
    assert [message["kind"] for message in sent(hook)] == ["alert", "update"]


def test_at_most_one_update_per_interval_and_it_names_every_source_since(
    db_url: str, hook: WebhookReceiver
) -> None:
    ctx = context(db_url, hook, on_update=True, update_every="6h")
    report(ctx, "pam")
    report(ctx, "wire")
    assert flow.deliver_pending(ctx).sent == 2  # the alert, then the first update
    report(ctx, "agency")
    report(ctx, "daily")
    assert flow.deliver_pending(ctx).sent == 0  # waits for its interval
    with ctx.db.session() as session:
        first, waiting = session.scalars(select(Update).order_by(Update.id)).all()
        assert waiting.sources == ["agency", "daily"]
        assert waiting.next_attempt_at - first.next_attempt_at == timedelta(hours=6)
        session.execute(update(Update).values(next_attempt_at=first.next_attempt_at))
    assert flow.deliver_pending(ctx).sent == 1
    assert sent(hook)[-1]["new_sources"] == ["agency", "daily"]


def test_a_rule_without_on_update_sends_no_update(db_url: str, hook: WebhookReceiver) -> None:
    ctx = context(db_url, hook)
    report(ctx, "pam")
    report(ctx, "wire")
    assert flow.deliver_pending(ctx).sent == 1
    assert [doc["kind"] for doc in sent(hook)] == ["alert"]


def test_an_update_by_mail_says_so_and_names_the_new_sources(db_url: str) -> None:
    upgrade(db_url)
    with SmtpSink() as smtp:
        mail = {"type": "email", "to": ["soc@example.org"], "from": "ew@example.org",
                "host": "127.0.0.1", "port": smtp.port}  # fmt: skip
        ctx = flow.Context(Config.model_validate({
            "database": db_url, "channels": {"mail": mail},
            "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["mail"],
                       "on_update": True}],
        }))  # fmt: skip
        report(ctx, "pam")
        flow.deliver_pending(ctx)
        report(ctx, "wire")
        flow.deliver_pending(ctx)
        alert, news = smtp.messages
    assert alert["Subject"].strip() == f"[eventwatch] dushanbe: {TITLE}"
    assert news["Subject"].strip() == f"[eventwatch update] dushanbe: {TITLE}"
    assert "New sources: wire" in news.get_body(("plain",)).get_content()  # type: ignore[union-attr]
