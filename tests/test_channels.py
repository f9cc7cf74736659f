"""Channels against real local servers: what actually goes over the wire."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from monitor.channels import (
    Alert,
    AlertArticle,
    ChannelConfig,
    DeliveryError,
    EmailChannel,
    EmailChannelConfig,
    WebhookChannel,
    WebhookChannelConfig,
    build_channel,
)
from monitor.channels.alert import AlertDate
from monitor.channels.email import text_body
from monitor.channels.webhook import SCHEMA, sign, verify
from tests.receivers import SmtpSink, WebhookReceiver, free_port, self_signed_cert
from tests.sitehost import silent_server

SECRET = "s3cr3t-value-do-not-leak"
XSS = "<script>alert(1)</script>"


def make_alert(title: str = "Budget vote postponed", **overrides: object) -> Alert:
    fields: dict[str, object] = {
        "delivery_id": "dlv-42-abc",
        "rule": "budget",
        "event_id": 42,
        "title": title,
        "terms": ["budget", "vote"],
        "snippets": ["the budget vote was postponed <b>again</b>"],
        "articles": [
            AlertArticle(
                "assembly",
                "https://example.org/news/1?a=1&b=2",
                "Vote postponed",
                datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            ),
            AlertArticle("wire", "https://example.net/story/2", "Budget delayed", None),
        ],
        "created_at": datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return Alert(**fields)  # type: ignore[arg-type]


def email_channel(port: int, env: dict[str, str] | None = None, **extra: object) -> EmailChannel:
    config = EmailChannelConfig.model_validate(
        {
            "type": "email",
            "to": ["analyst@example.org"],
            "from": "eventwatch@example.org",
            "host": "127.0.0.1",
            "port": port,
            "timeout": 5,
            **extra,
        }
    )
    return EmailChannel("mail", config, env or {})


def webhook_channel(url: str, env: dict[str, str] | None = None, **extra: object) -> WebhookChannel:
    config = WebhookChannelConfig.model_validate(
        {"type": "webhook", "url": url, "timeout": 5, **extra}
    )
    return WebhookChannel("hook", config, env or {})


def parts(msg: object) -> tuple[str, str]:
    plain = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    rich = msg.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    assert plain is not None
    assert rich is not None
    return plain.get_content(), rich.get_content()


# --- email -----------------------------------------------------------------------------


def test_email_delivers_one_message_with_text_and_escaped_html() -> None:
    alert = make_alert(f"Budget {XSS} vote")
    with SmtpSink() as sink:
        email_channel(sink.port).send(alert)
        messages = sink.messages
    assert len(messages) == 1
    msg = messages[0]
    assert "budget" in msg["Subject"]
    assert "Budget" in msg["Subject"]
    assert msg["Subject"].startswith("[eventwatch] budget: ")
    assert msg["To"] == "analyst@example.org"
    assert msg["From"] == "eventwatch@example.org"
    assert msg["Date"] is not None
    assert "dlv-42-abc" in msg["Message-ID"]
    assert msg["X-Eventwatch-Delivery"] == "dlv-42-abc"
    text, rich = parts(msg)
    for article in alert.articles:
        assert article.url in text
        assert article.title in text
    assert "budget" in text
    assert "vote" in text
    assert "the budget vote was postponed" in text
    assert "2025-03-01T09:30:00+00:00" in text
    assert XSS not in rich
    assert "<b>again</b>" not in rich
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rich
    assert 'href="https://example.org/news/1?a=1&amp;b=2"' in rich


NAMED: dict[str, object] = {
    "places": ["Dushanbe", "Tajikistan"],
    "organisations": ["OSCE PA"],
    "dates": [
        AlertDate("12-14 March", date(2025, 3, 12), date(2025, 3, 14)),
        AlertDate(f"on {XSS} 20 March", date(2025, 3, 20), date(2025, 3, 20)),
    ],
}


def test_alerts_say_where_who_and_when_the_reports_name() -> None:
    alert = make_alert(**NAMED)
    with SmtpSink() as sink, WebhookReceiver() as receiver:
        email_channel(sink.port).send(alert)
        webhook_channel(receiver.url).send(alert)
        [msg] = sink.messages
        [(_headers, body)] = receiver.received
    text, rich = parts(msg)
    assert "Places: Dushanbe, Tajikistan" in text
    assert "Organisations: OSCE PA" in text
    assert "Dates mentioned: 12-14 March (2025-03-12 to 2025-03-14); on " in text
    assert "20 March (2025-03-20)" in text
    assert "<p>Places: Dushanbe, Tajikistan</p>" in rich
    assert XSS not in rich
    event = json.loads(body)["event"]
    assert event["places"] == ["Dushanbe", "Tajikistan"]
    assert event["organisations"] == ["OSCE PA"]
    assert event["dates_mentioned"][0] == {
        "text": "12-14 March",
        "start": "2025-03-12",
        "end": "2025-03-14",
    }


def test_a_long_list_of_names_is_cut_and_says_how_many_more() -> None:
    places = [f"Place {n}" for n in range(15)]
    text = text_body(make_alert(places=places))
    assert "Place 11, and 3 more" in text
    assert "Place 12" not in text


def test_an_alert_without_names_has_no_empty_lines_for_them() -> None:
    text = text_body(make_alert())
    assert "Places" not in text
    assert "Organisations" not in text
    assert "Dates mentioned" not in text


def test_email_subject_cannot_inject_headers() -> None:
    alert = make_alert("Breaking\r\nBcc: evil@example.org\r\n\r\nbody")
    with SmtpSink() as sink:
        email_channel(sink.port).send(alert)
        messages = sink.messages
        envelopes = sink.envelopes
    assert len(messages) == 1
    msg = messages[0]
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"]
    assert "\r" not in msg["Subject"]
    assert "Bcc: evil@example.org" in msg["Subject"]
    assert envelopes[0][1] == ["analyst@example.org"]


def test_email_subject_is_truncated_and_marks_tests() -> None:
    with SmtpSink() as sink:
        email_channel(sink.port).send(make_alert("x" * 1000, test=True))
        msg = sink.messages[0]
    assert msg["Subject"].startswith("[eventwatch test] budget: ")
    assert len(msg["Subject"]) <= 200


def test_email_to_closed_port_raises_delivery_error() -> None:
    port = free_port()
    with pytest.raises(DeliveryError) as info:
        email_channel(port).send(make_alert())
    assert f"127.0.0.1:{port}" in info.value.message
    assert not info.value.permanent


def test_email_missing_password_env_names_variable() -> None:
    config = EmailChannelConfig.model_validate(
        {
            "type": "email",
            "to": ["a@example.org"],
            "from": "b@example.org",
            "host": "127.0.0.1",
            "port": free_port(),
            "username": "bot",
            "password_env": "EVENTWATCH_SMTP_PASSWORD",
        }
    )
    with pytest.raises(DeliveryError) as info:
        EmailChannel("mail", config, {}).send(make_alert())
    assert "EVENTWATCH_SMTP_PASSWORD" in info.value.message
    assert not info.value.permanent


def login_config(port: int) -> EmailChannelConfig:
    """A channel that logs in as ``bot`` with the password in ``PW``."""
    return EmailChannelConfig.model_validate(
        {
            "type": "email",
            "to": ["a@example.org"],
            "from": "b@example.org",
            "host": "127.0.0.1",
            "port": port,
            "username": "bot",
            "password_env": "PW",
        }
    )


def test_email_login_failure_never_leaks_password() -> None:
    # The sink offers no AUTH, so login fails after connecting: the error must not echo it.
    with SmtpSink() as sink:
        config = login_config(sink.port)
        with pytest.raises(DeliveryError) as info:
            EmailChannel("mail", config, {"PW": SECRET}).send(make_alert())
        assert sink.messages == []
    assert SECRET not in info.value.message
    assert SECRET not in str(info.value)
    assert not info.value.permanent


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("password", ["Hunter2Secret!", "tall  Hunter2Secret!"])
def test_a_relay_that_quotes_the_login_back_gets_no_password_into_the_error(
    password: str,
) -> None:
    """A chatty relay can only echo what it was sent: the password, base64 as AUTH carries it,
    and spaced as it was typed (the error's one line squeezed spaces before the blanking)."""
    with SmtpSink(echo_auth=True) as sink:
        config = login_config(sink.port)
        with pytest.raises(DeliveryError) as info:
            EmailChannel("mail", config, {"PW": password}).send(make_alert())
    message = info.value.message
    assert "535" in message and "refused for bot|***" in message  # the reply is still shown
    for secret in (
        password,
        " ".join(password.split()),
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0bot\0{password}".encode()).decode(),
    ):
        assert secret not in message


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "ssl"])
def test_email_over_tls_with_login(tmp_path: Path, implicit_tls: bool) -> None:
    cert, key = self_signed_cert(str(tmp_path))
    mode = {"ssl": True} if implicit_tls else {"starttls": True}
    login = {"username": "bot", "password_env": "PW", "ca_file": cert, **mode}
    with SmtpSink(cert=(cert, key), implicit_tls=implicit_tls, login=("bot", SECRET)) as sink:
        email_channel(sink.port, {"PW": SECRET}, **login).send(make_alert())
        assert sink.logins == ["bot"]
        assert len(sink.messages) == 1
        with pytest.raises(DeliveryError) as wrong:
            email_channel(sink.port, {"PW": "guess"}, **login).send(make_alert())
        assert len(sink.messages) == 1
        with pytest.raises(DeliveryError) as untrusted:  # the relay's certificate is checked
            email_channel(sink.port, {"PW": SECRET}, **{**login, "ca_file": None}).send(
                make_alert()
            )
        assert len(sink.messages) == 1
    assert "guess" not in str(wrong.value) and SECRET not in str(untrusted.value)
    assert "certificate" in str(untrusted.value).lower()


# --- webhook ---------------------------------------------------------------------------


def test_webhook_posts_signed_json() -> None:
    alert = make_alert()
    with WebhookReceiver() as receiver:
        channel = webhook_channel(
            receiver.url,
            {"HOOK_SECRET": SECRET},
            secret_env="HOOK_SECRET",
            headers={"X-Team": "desk"},
        )
        channel.send(alert)
        received = receiver.received
    assert len(received) == 1
    headers, body = received[0]
    doc = json.loads(body)
    assert doc["schema"] == SCHEMA
    assert doc["id"] == "dlv-42-abc"
    assert doc["rule"] == "budget"
    assert doc["event"]["id"] == 42
    assert doc["event"]["title"] == "Budget vote postponed"
    assert doc["event"]["articles"][0]["url"] == "https://example.org/news/1?a=1&b=2"
    assert doc["event"]["articles"][0]["published_at"] == "2025-03-01T09:30:00+00:00"
    assert doc["event"]["articles"][1]["published_at"] is None
    assert doc["terms"] == ["budget", "vote"]
    assert doc["snippets"] == ["the budget vote was postponed <b>again</b>"]
    assert doc["created_at"] == "2025-03-01T10:00:00+00:00"
    assert doc["test"] is False
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "eventwatch"
    assert headers["X-Eventwatch-Delivery"] == "dlv-42-abc"
    assert headers["X-Team"] == "desk"
    ts = headers["X-Eventwatch-Timestamp"]
    assert abs(int(ts) - time.time()) < 60
    sig = headers["X-Eventwatch-Signature"]
    assert sig.startswith("sha256=")
    key = SECRET.encode()
    assert verify(key, ts, body, sig)
    assert not verify(key, ts, body + b" ", sig)
    assert not verify(key, ts, body.replace(b"budget", b"BUDGET"), sig)
    assert not verify(b"wrong-secret", ts, body, sig)
    assert not verify(key, ts, body, sig, now=int(ts) + 301)
    assert verify(key, ts, body, sig, now=int(ts) + 299)
    assert not verify(key, "not-a-number", body, sign(key, "not-a-number", body))


def test_webhook_without_secret_sends_no_signature() -> None:
    with WebhookReceiver() as receiver:
        webhook_channel(receiver.url).send(make_alert(test=True))
        headers, body = receiver.received[0]
    assert "X-Eventwatch-Signature" not in headers
    assert json.loads(body)["test"] is True


def test_sign_matches_documented_construction() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"123.{}", hashlib.sha256).hexdigest()
    assert sign(b"k", "123", b"{}") == "sha256=" + expected


@pytest.mark.parametrize("status", [500, 404, 302, 301, 307, 400])
def test_webhook_non_2xx_is_a_failure(status: int) -> None:
    with WebhookReceiver() as receiver:
        receiver.respond_with([status])
        with pytest.raises(DeliveryError) as info:
            webhook_channel(receiver.url).send(make_alert())
        log = receiver.log()
        assert receiver.received == []
    assert f"webhook answered {status}" in info.value.message
    assert info.value.retry_after is None
    # a redirect must not be followed to its Location
    assert [entry[2] for entry in log] == [status]


def test_webhook_503_retry_after_is_reported() -> None:
    with WebhookReceiver() as receiver:
        receiver.respond_with([(503, {"Retry-After": "7"}), (429, {"Retry-After": "3"})])
        channel = webhook_channel(receiver.url)
        with pytest.raises(DeliveryError) as first:
            channel.send(make_alert())
        with pytest.raises(DeliveryError) as second:
            channel.send(make_alert())
        channel.send(make_alert())
        assert len(receiver.received) == 1
    assert first.value.retry_after == 7
    assert "503" in first.value.message
    assert second.value.retry_after == 3


def test_webhook_connection_refused_raises_delivery_error() -> None:
    port = free_port()
    with pytest.raises(DeliveryError) as info:
        webhook_channel(f"http://127.0.0.1:{port}/hook").send(make_alert())
    assert f"127.0.0.1:{port}" in info.value.message


def test_webhook_receiver_that_never_answers_is_a_retryable_timeout() -> None:
    with silent_server() as hung, pytest.raises(DeliveryError) as info:
        webhook_channel(hung + "/hook", timeout=1).send(make_alert())
    assert "timed out" in info.value.message
    assert not info.value.permanent


def test_webhook_missing_secret_env_names_variable() -> None:
    with WebhookReceiver() as receiver:
        channel = webhook_channel(receiver.url, {}, secret_env="HOOK_SECRET_MISSING")
        with pytest.raises(DeliveryError) as info:
            channel.send(make_alert())
        assert receiver.log() == []
    assert "HOOK_SECRET_MISSING" in info.value.message


def test_webhook_errors_never_contain_secret() -> None:
    env = {"HOOK_SECRET": SECRET}
    errors: list[DeliveryError] = []
    with WebhookReceiver() as receiver:
        receiver.respond_with([500, (503, {"Retry-After": "1"}), 302])
        channel = webhook_channel(receiver.url, env, secret_env="HOOK_SECRET")
        for _ in range(3):
            with pytest.raises(DeliveryError) as info:
                channel.send(make_alert())
            errors.append(info.value)
    closed = webhook_channel(f"http://127.0.0.1:{free_port()}/", env, secret_env="HOOK_SECRET")
    with pytest.raises(DeliveryError) as info:
        closed.send(make_alert())
    errors.append(info.value)
    assert len(errors) == 4
    for error in errors:
        assert SECRET not in error.message
        assert SECRET not in str(error)
        assert SECRET not in repr(error)


def test_webhook_error_does_not_reveal_url_path_token() -> None:
    with WebhookReceiver(path="/hook/tok-123456") as receiver:
        receiver.respond_with([500])
        with pytest.raises(DeliveryError) as info:
            webhook_channel(receiver.url).send(make_alert())
    assert "tok-123456" not in info.value.message


def test_on_request_runs_after_response() -> None:
    seen: list[int] = []
    with WebhookReceiver() as receiver:
        receiver.on_request = lambda: seen.append(len(receiver.log()))
        webhook_channel(receiver.url).send(make_alert())
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
    assert seen == [1]


# --- config ----------------------------------------------------------------------------


def test_email_config_accepts_from_alias_and_rejects_unknown_keys() -> None:
    base = {"type": "email", "to": ["a@example.org"], "from": "b@example.org"}
    config = EmailChannelConfig.model_validate(base)
    assert config.sender == "b@example.org"
    assert config.port == 25
    assert config.host == "localhost"
    with pytest.raises(ValidationError):
        EmailChannelConfig.model_validate({**base, "password": "hunter2"})
    with pytest.raises(ValidationError):
        EmailChannelConfig.model_validate({**base, "starttls": True, "ssl": True})
    with pytest.raises(ValidationError):
        EmailChannelConfig.model_validate({**base, "to": []})
    with pytest.raises(ValidationError):
        EmailChannelConfig.model_validate({**base, "port": 70000})
    with pytest.raises(ValidationError):
        EmailChannelConfig.model_validate({**base, "to": ["a@example.org\r\nBcc: x@y.z"]})


def test_webhook_config_validation() -> None:
    ok = WebhookChannelConfig.model_validate({"type": "webhook", "url": "https://h.example/x"})
    assert ok.timeout == 10
    assert ok.headers == {}
    with pytest.raises(ValidationError):
        WebhookChannelConfig.model_validate({"type": "webhook", "url": "ftp://h.example/x"})
    with pytest.raises(ValidationError):
        WebhookChannelConfig.model_validate(
            {"type": "webhook", "url": "https://h.example/x", "secret": "x"}
        )
    with pytest.raises(ValidationError):
        WebhookChannelConfig.model_validate(
            {"type": "webhook", "url": "https://h.example/x", "headers": {"X-A": "a\r\nB: c"}}
        )


def test_channel_config_discriminates_and_build_channel() -> None:
    adapter: TypeAdapter[EmailChannelConfig | WebhookChannelConfig] = TypeAdapter(ChannelConfig)
    mail = adapter.validate_python({"type": "email", "to": ["a@x.org"], "from": "b@x.org"})
    hook = adapter.validate_python({"type": "webhook", "url": "http://127.0.0.1/h"})
    assert isinstance(mail, EmailChannelConfig)
    assert isinstance(hook, WebhookChannelConfig)
    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "sms", "to": "123"})
    assert isinstance(build_channel("m", mail, {}), EmailChannel)
    built = build_channel("h", hook)
    assert isinstance(built, WebhookChannel)
    assert built.name == "h"


def test_alert_accepts_lists() -> None:
    alert = make_alert()
    assert alert.terms == ("budget", "vote")
    assert isinstance(alert.articles, tuple)
    hash(alert)
