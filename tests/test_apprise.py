"""Chat and push channels through Apprise (issue 29), sent to real receivers on 127.0.0.1:
Apprise's own json:// and ntfy:// schemes pointed at a local HTTP server, no internet.
Failures go through the outbox like e-mail and webhooks, and the URL's secrets stay out of
every log line, error and message."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import flow
from monitor.channels import AppriseChannel, AppriseChannelConfig, build_channel
from monitor.channels.alert import DeliveryError
from monitor.config import Config
from storage.articles import NewArticle, store_article
from storage.migrate import upgrade
from storage.models import Delivery
from tests.receivers import WebhookReceiver
from tests.test_channels import make_alert
from tests.test_cli_errors import config_file, run

PASSWORD = "pa55-word-in-url"


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def json_url(hook: WebhookReceiver) -> str:
    return f"json://analyst:{PASSWORD}@127.0.0.1:{hook.port}/hook"


def context(db_url: str, monkeypatch: pytest.MonkeyPatch, url: str) -> flow.Context:
    monkeypatch.setenv("EW_CHAT_URL", url)
    upgrade(db_url)
    config = Config.model_validate({
        "database": db_url,
        "web": {"public_url": "https://ew.example.org"},
        "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["chat"]}],
        "channels": {"chat": {"type": "apprise", "url_env": "EW_CHAT_URL"}},
        "delivery": {"backoff_initial": "1s"},
    })  # fmt: skip
    ctx = flow.Context(config)
    url_ = "https://pam.example/1"
    store_article(ctx.db, NewArticle(
        source="pam", url=url_, canonical_url=url_, title="Talks in Dushanbe",
        text="Delegates met in Dushanbe on Monday.", language="en",
    ))  # fmt: skip
    flow.match_new_articles(ctx)
    return ctx


def test_an_alert_reaches_a_json_receiver_through_apprise(
    db_url: str, monkeypatch: pytest.MonkeyPatch, hook: WebhookReceiver
) -> None:
    ctx = context(db_url, monkeypatch, json_url(hook))
    assert flow.deliver_pending(ctx).sent == 1
    [(headers, body)] = hook.received
    doc = json.loads(body)
    assert doc["title"].startswith("[eventwatch] dushanbe: Talks in Dushanbe")
    assert "Words found: Dushanbe" in doc["message"]
    assert "https://ew.example.org/events/" in doc["message"]
    assert "pam (en): https://pam.example/1" in doc["message"]
    credentials = base64.b64decode(headers["Authorization"].split()[1]).decode()
    assert credentials == f"analyst:{PASSWORD}"  # the URL's secret reached the service only


def test_a_page_title_cannot_put_a_link_or_markup_in_the_chat_title(
    db_url: str, monkeypatch: pytest.MonkeyPatch, hook: WebhookReceiver
) -> None:
    """Apprise renders the title as Markdown where it joins it to the body: Telegram or
    Mattermost showed a title's ``[text](url)`` as a link an analyst could click. Escaped, it
    showed backslashes on ntfy or Pushover, which show it as it is."""
    ctx = context(db_url, monkeypatch, json_url(hook))
    url_ = "https://pam.example/9"
    store_article(ctx.db, NewArticle(
        source="pam", url=url_, canonical_url=url_,
        title="Dushanbe [Verify](http://evil.example/login) **URGENT** <b>x</b>",
        text="Delegates met in Dushanbe on Tuesday about the border.", language="en",
    ))  # fmt: skip
    flow.match_new_articles(ctx)
    assert flow.deliver_pending(ctx).sent == 2
    titles = [json.loads(body)["title"] for _, body in hook.received]
    hostile = next(title for title in titles if "Verify" in title)
    assert (
        hostile
        == "[eventwatch] dushanbe: Dushanbe (Verify)(http://evil.example/login) URGENT ‹b›x‹/b›"
    )
    assert "\\" not in hostile  # a service that shows the title as it is shows no escapes


def test_an_alert_reaches_an_ntfy_server_through_apprise(
    db_url: str, monkeypatch: pytest.MonkeyPatch, hook: WebhookReceiver
) -> None:
    ctx = context(db_url, monkeypatch, f"ntfy://127.0.0.1:{hook.port}/eventwatch-alerts")
    assert flow.deliver_pending(ctx).sent == 1
    [(_, body)] = hook.received
    assert b"Dushanbe" in body and b"eventwatch-alerts" in body


def test_a_refused_message_is_retried_through_the_outbox_and_no_log_holds_the_secret(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    hook: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ctx = context(db_url, monkeypatch, json_url(hook))
    hook.respond_with([500])
    counts = flow.deliver_pending(ctx)
    assert (counts.sent, counts.retrying) == (0, 1)
    with ctx.db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.status == "pending" and delivery.attempts == 1
        error = delivery.last_error or ""
    assert error == "apprise JSON (URL from EW_CHAT_URL): the service did not accept the message"
    assert PASSWORD not in caplog.text and PASSWORD not in error
    with ctx.db.session() as session:  # due again now, as the back-off has passed
        session.execute(Delivery.__table__.update().values(next_attempt_at=Delivery.created_at))
    assert flow.deliver_pending(ctx).sent == 1
    assert len(hook.received) == 1


def test_an_unset_variable_or_an_unknown_scheme_is_a_clear_error(hook: WebhookReceiver) -> None:
    config = AppriseChannelConfig(type="apprise", url_env="EW_NOWHERE")
    channel = build_channel("chat", config, env={})
    assert isinstance(channel, AppriseChannel)
    with pytest.raises(DeliveryError, match="environment variable EW_NOWHERE is not set"):
        channel.send(make_alert())
    channel = build_channel("chat", config, env={"EW_NOWHERE": f"nosuch://{PASSWORD}@x"})
    with pytest.raises(DeliveryError) as caught:
        channel.send(make_alert())
    assert caught.value.permanent and PASSWORD not in str(caught.value)
    assert "the URL in EW_NOWHERE is not one Apprise knows" in str(caught.value)


def test_a_digest_reaches_a_json_receiver_through_apprise(
    db_url: str, monkeypatch: pytest.MonkeyPatch, hook: WebhookReceiver
) -> None:
    monkeypatch.setenv("EW_CHAT_URL", json_url(hook))
    upgrade(db_url)
    config = Config.model_validate({
        "database": db_url,
        "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["chat"]}],
        "channels": {"chat": {"type": "apprise", "url_env": "EW_CHAT_URL",
                              "digest": {"every": "1h"}}},
    })  # fmt: skip
    ctx = flow.Context(config)
    page = "https://pam.example/2"
    talks = NewArticle(
        source="pam",
        url=page,
        canonical_url=page,
        title="Talks",
        text="In Dushanbe.",
        language="ru",
    )
    store_article(ctx.db, talks)
    flow.match_new_articles(ctx)
    assert flow.deliver_pending(ctx, datetime.now(UTC) + timedelta(hours=1)).sent == 1
    [(_, body)] = hook.received
    doc = json.loads(body)
    assert doc["title"].startswith("[eventwatch] digest: 1 event to ")
    assert "Rule dushanbe (1):" in doc["message"] and "languages: ru" in doc["message"]


def test_check_names_an_unset_apprise_variable_and_never_a_set_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, channels={"chat": {"type": "apprise", "url_env": "EW_CHAT"}})
    monkeypatch.delenv("EW_CHAT", raising=False)
    code, _, err = run(capsys, "--config", str(path), "check")
    assert code == 1
    assert "channels.chat: field url_env: environment variable EW_CHAT is not set" in err
    monkeypatch.setenv("EW_CHAT", f"json://u:{PASSWORD}@127.0.0.1:9/")
    code, out, err = run(capsys, "--config", str(path), "check")
    assert code == 0 and PASSWORD not in out + err
