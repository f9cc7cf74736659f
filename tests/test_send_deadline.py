"""One send as a whole is bounded: an endpoint that answers a byte at a time, or not at
all, cannot hold dispatch, which sends one message at a time, for ever."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from monitor.channels.alert import Alert, DeliveryError
from monitor.channels.email import EmailChannel, EmailChannelConfig
from monitor.channels.webhook import WebhookChannel, WebhookChannelConfig
from tests.receivers import SlowPeer

GUARD_SECONDS = 60  # far beyond any deadline here: only a send that never ends reaches it


def _alert() -> Alert:
    return Alert(
        delivery_id="d-1",
        rule="dushanbe",
        event_id=1,
        title="Assembly meets in Dushanbe",
        articles=(),
        terms=("dushanbe",),
        snippets=(),
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


def _outcome(send: Callable[[], object]) -> BaseException | None:
    """What the send raised (None if nothing), once it ended; fails if it has not ended."""
    caught: list[BaseException | None] = []

    def run() -> None:
        try:
            send()
        except BaseException as exc:  # handed to the test
            caught.append(exc)
        else:
            caught.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_SECONDS)
    assert not thread.is_alive(), "the send never ended"
    return caught[0]


def test_a_webhook_whose_headers_come_a_byte_at_a_time_is_cut_at_its_deadline() -> None:
    with SlowPeer(head=b"HTTP/1.1 200 OK\r\nX-Slow: ", drip=b"a", every=0.05) as peer:
        config = WebhookChannelConfig(type="webhook", url=peer.url, timeout=0.5)
        failure = _outcome(lambda: WebhookChannel("hook", config, {}).send(_alert()))
    assert isinstance(failure, DeliveryError)  # headers cut short: the 200 is not an answer
    assert not failure.permanent
    assert str(failure) == f"webhook http://127.0.0.1:{peer.port}: no whole answer within 1.5 s"


def test_a_webhook_that_said_200_and_streams_for_ever_has_the_alert() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with SlowPeer(head=head, drip=b"1\r\na\r\n", every=0.05) as peer:
        config = WebhookChannelConfig(type="webhook", url=peer.url, timeout=0.5)
        failure = _outcome(lambda: WebhookChannel("hook", config, {}).send(_alert()))
    assert failure is None  # sending it again would double it


def test_a_relay_that_greets_a_byte_at_a_time_is_cut_at_its_deadline() -> None:
    with SlowPeer(head=b"220-relay.example ESMTP\r\n220-", drip=b"-", every=0.05) as peer:
        config = EmailChannelConfig.model_validate(
            {"type": "email", "to": ["desk@example.org"], "from": "ew@example.org",
             "host": "127.0.0.1", "port": peer.port, "timeout": 0.5}
        )  # fmt: skip
        failure = _outcome(lambda: EmailChannel("mail", config, {}).send(_alert()))
    assert isinstance(failure, DeliveryError)
    assert str(failure).endswith(": the relay took more than 1.5 s in all")
