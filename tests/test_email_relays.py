"""Relays that answer oddly, on a real SMTP server (aiosmtpd): a message the relay took is
never a failure to send again, a recipient refused is recorded on a delivery that counts as
sent, and a password SMTP cannot carry is a clear, permanent error that shows none of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from sqlalchemy import select

from monitor import flow
from monitor.channels import DeliveryError
from monitor.config import Config
from storage.articles import NewArticle, store_article
from storage.migrate import upgrade
from storage.models import Delivery
from tests.receivers import free_port
from tests.test_channels import email_channel, make_alert

REFUSED = "gone@example.org"


class Relay:
    """Takes every message it is given, refuses mail for REFUSED, keeps what it took."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, list[str]]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.taken.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 queued"


class RudeGoodbye(SMTP):
    """Answers QUIT with 421, as a relay shutting down does, after taking the message."""

    async def smtp_QUIT(self, arg: str) -> None:
        await self.push("421 4.3.2 shutting down")
        self.transport.close()  # type: ignore[union-attr]


class _Controller(Controller):
    def __init__(self, handler: Any, server: type[SMTP] = SMTP, **options: Any) -> None:
        self.server_class = server
        super().__init__(handler, hostname="127.0.0.1", port=free_port(), **options)

    def factory(self) -> SMTP:
        return self.server_class(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    controller = _Controller(handler, RudeGoodbye)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def test_a_message_the_relay_took_is_sent_whatever_its_goodbye(relay: tuple[Relay, int]) -> None:
    """A 421 to QUIT had been a failure: the alert was sent again at each retry."""
    handler, port = relay
    assert email_channel(port).send(make_alert()) is None
    assert handler.taken == [("eventwatch@example.org", ["analyst@example.org"])]


def test_a_recipient_refused_is_recorded_on_a_delivery_that_counts_as_sent(
    relay: tuple[Relay, int], db_url: str
) -> None:
    handler, port = relay
    upgrade(db_url)
    mail = {"type": "email", "to": ["desk@example.org", REFUSED], "from": "ew@example.org",
            "host": "127.0.0.1", "port": port, "timeout": 5}  # fmt: skip
    config = Config.model_validate(
        {
            "database": db_url,
            "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["mail"]}],
            "channels": {"mail": mail},
        }
    )
    ctx = flow.Context(config)
    try:
        url = "https://pam.example/news/1"
        text = "Members met in Dushanbe on border security."
        article = NewArticle(source="pam", url=url, canonical_url=url,
                             title="Assembly meets in Dushanbe", text=text)  # fmt: skip
        store_article(ctx.db, article)
        flow.match_new_articles(ctx)
        assert flow.deliver_pending(ctx).sent == 1
        assert handler.taken == [("ew@example.org", ["desk@example.org"])]
        with ctx.db.session() as session:
            delivery = session.scalars(select(Delivery)).one()
            assert delivery.status == "sent"
            assert delivery.last_error is not None
            assert f"sent, but recipients refused: {REFUSED}" in delivery.last_error
        assert flow.deliver_pending(ctx).sent == 0  # and it is not sent again
    finally:
        ctx.db.dispose()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_a_password_smtp_cannot_carry_is_a_permanent_error_that_shows_none_of_it() -> None:
    def accept(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=isinstance(data, LoginPassword))

    controller = _Controller(Relay(), authenticator=accept, auth_require_tls=False)
    controller.start()
    try:
        channel = email_channel(controller.port, {"PW": "pässwörd"}, username="bot",
                                password_env="PW")  # fmt: skip
        with pytest.raises(DeliveryError) as info:
            channel.send(make_alert())
    finally:
        controller.stop()
    assert info.value.permanent  # the same password fails the same way every time
    assert "PW" in info.value.message and "not ASCII" in info.value.message
    for leak in ("ä", "ö", "\\xe4", "position"):
        assert leak not in info.value.message
