"""Alerts that show what matched (issue 29): the words found (not the patterns), one snippet
per stretch of text, the event id and its web UI link, and each report's language, in every
channel, sent to real receivers on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from monitor import flow
from monitor.config import Config
from storage.articles import NewArticle, store_article
from storage.migrate import upgrade
from tests.receivers import SmtpSink, WebhookReceiver

TEXT = (
    "Die Polizei warnte am Montag vor Terrorismus in der Stadt. "
    + " ".join(f"Satz{i}" for i in range(40))
    + " Später sprach der Minister über Sicherheit."
)


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, SmtpSink]]:
    with WebhookReceiver() as hook, SmtpSink() as smtp:
        yield hook, smtp


def context(db_url: str, hook: WebhookReceiver, smtp: SmtpSink, **extra: Any) -> flow.Context:
    upgrade(db_url)
    config = Config.model_validate({
        "database": db_url,
        "rules": [{"name": "terror", "query": "terror* AND (polizei OR sicherheit)",
                   "notify": ["hook", "mail"]}],
        "channels": {
            "hook": {"type": "webhook", "url": hook.url, "timeout": 5},
            "mail": {"type": "email", "to": ["soc@example.org"], "from": "ew@example.org",
                     "host": "127.0.0.1", "port": smtp.port},
        },
        **extra,
    })  # fmt: skip
    return flow.Context(config)


def store(ctx: flow.Context, language: str = "de") -> int:
    url = "https://polizei.example/1"
    _, article_id = store_article(ctx.db, NewArticle(
        source="polizei", url=url, canonical_url=url, title="Warnung der Polizei", text=TEXT,
        language=language,
    ))  # fmt: skip
    return article_id


def test_the_webhook_names_words_found_event_link_and_languages(
    db_url: str, receivers: tuple[WebhookReceiver, SmtpSink]
) -> None:
    hook, smtp = receivers
    ctx = context(db_url, hook, smtp, web={"public_url": "https://ew.example.org/"})
    store(ctx)
    assert flow.match_new_articles(ctx) == 2
    assert flow.deliver_pending(ctx).sent == 2
    [(_, body)] = hook.received
    doc = json.loads(body)
    assert doc["words"] == ["Terrorismus", "Polizei", "Sicherheit"]
    assert doc["terms"] == ["terror*", "polizei", "sicherheit"]  # unchanged: an interface
    event_id = doc["event"]["id"]
    assert doc["event"]["link"] == f"https://ew.example.org/events/{event_id}"
    assert [a["language"] for a in doc["event"]["articles"]] == ["de"]
    # Polizei and Terrorismus share a sentence: one snippet; Sicherheit is far: its own.
    first, second = doc["snippets"]
    assert "Polizei warnte am Montag vor Terrorismus" in first and "Sicherheit" not in first
    assert "Sicherheit" in second and "Polizei" not in second


def test_the_mail_names_words_found_event_id_link_and_language(
    db_url: str, receivers: tuple[WebhookReceiver, SmtpSink]
) -> None:
    hook, smtp = receivers
    ctx = context(db_url, hook, smtp, web={"public_url": "https://ew.example.org"})
    store(ctx)
    flow.match_new_articles(ctx)
    flow.deliver_pending(ctx)
    [message] = smtp.messages
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    event_id = json.loads(hook.received[0][1])["event"]["id"]
    assert f"Event {event_id}: Warnung der Polizei" in text
    assert f"Link: https://ew.example.org/events/{event_id}" in text
    assert "Words found: Terrorismus, Polizei, Sicherheit" in text
    assert "language: de" in text
    assert text.count("Polizei warnte am Montag") == 1
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'href="https://ew.example.org/events/{event_id}"' in html
    assert "<b>Terrorismus</b>" in html


def test_without_a_public_url_alerts_carry_no_link(
    db_url: str, receivers: tuple[WebhookReceiver, SmtpSink]
) -> None:
    hook, smtp = receivers
    ctx = context(db_url, hook, smtp)
    store(ctx, language="fr")
    flow.match_new_articles(ctx)
    flow.deliver_pending(ctx)
    doc = json.loads(hook.received[0][1])
    assert doc["event"]["link"] is None
    text = smtp.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Link:" not in text and "language: fr" in text
