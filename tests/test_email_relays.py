"""Relays that answer oddly, on a real SMTP server (aiosmtpd): a message the relay took is
never a failure to send again, a recipient refused is recorded on a delivery that counts as
sent, and a password SMTP cannot carry is a clear, permanent error that shows none of it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from sqlalchemy import select, update

import storage.db
from monitor import flow
from monitor.channels import DeliveryError
from monitor.config import Config
from storage.articles import NewArticle, store_article
from storage.migrate import upgrade
from storage.models import Delivery, Digest
from tests.receivers import free_port
from tests.test_channels import email_channel, make_alert

REFUSED = "gone@example.org"
FULL = "full@example.org"  # refused for now, the first FULL_FOR times
DENIED = "far@example.net"  # refused by the relay's policy: it relays to no other domain
ENDING = "late@example.org"  # answered 421 once: the relay ends the session there


class Relay:
    """Takes every message it is given, refuses mail for REFUSED, and for FULL the first
    ``full_for`` times, as a full mailbox or greylisting does; keeps what it took."""

    def __init__(self, full_for: int = 0) -> None:
        self.taken: list[tuple[str, list[str]]] = []
        self.full_for = full_for
        self.ended = False  # ENDING had its 421
        # As it takes the next message, another process holds this SQLite file's write
        # lock for lock_for seconds.
        self.lock_db: Path | None = None
        self.lock_for = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        if address == FULL and self.full_for > 0:
            self.full_for -= 1
            return "452 4.2.2 mailbox full, try again later"
        if address == DENIED:
            return "554 5.7.1 relay access denied"
        if address == ENDING and not self.ended:
            self.ended = True
            return "421 4.3.2 shutting down"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.taken.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.lock_db is not None:
            held = threading.Event()
            threading.Thread(target=self._hold, args=(self.lock_db, held), daemon=True).start()
            held.wait()
            self.lock_db = None
        return "250 2.0.0 queued"

    def _hold(self, database: Path, held: threading.Event) -> None:
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(self.lock_for)
        holder.execute("COMMIT")
        holder.close()


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
    handler = Relay(full_for=1)
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
    with _mailing(db_url, port, ["desk@example.org", REFUSED]) as ctx:
        assert flow.deliver_pending(ctx).sent == 1
        assert handler.taken == [("ew@example.org", ["desk@example.org"])]
        with ctx.db.session() as session:
            delivery = session.scalars(select(Delivery)).one()
            assert delivery.status == "sent"
            assert delivery.last_error is not None
            assert f"sent, but recipients refused: {REFUSED}" in delivery.last_error
        assert flow.deliver_pending(ctx).sent == 0  # and it is not sent again


@contextmanager
def _mailing(db_url: str, port: int, to: list[str], **mail: Any) -> Iterator[flow.Context]:
    """A context whose one rule notifies the relay at ``port`` (with ``mail``'s further
    settings), with one article stored that the rule matches."""
    upgrade(db_url)
    mail.update({"type": "email", "to": to, "from": "ew@example.org", "host": "127.0.0.1",
                 "port": port, "timeout": 5})  # fmt: skip
    config = Config.model_validate(
        {
            "database": db_url,
            "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["mail"]}],
            "channels": {"mail": mail},
        }
    )
    ctx = flow.Context(config)
    try:
        url = "https://pam.example/news/2"
        text = "Members met in Dushanbe on border security."
        article = NewArticle(source="pam", url=url, canonical_url=url,
                             title="Assembly meets in Dushanbe", text=text)  # fmt: skip
        store_article(ctx.db, article)
        flow.match_new_articles(ctx)
        yield ctx
    finally:
        ctx.db.dispose()


def _the_delivery(ctx: flow.Context) -> Delivery:
    with ctx.db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        session.expunge(delivery)
        return delivery


def _due_now(ctx: flow.Context) -> None:
    with ctx.db.session() as session:
        session.execute(update(Delivery).values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))


def test_a_recipient_refused_for_now_is_sent_it_later_and_the_others_once(
    relay: tuple[Relay, int], db_url: str
) -> None:
    """A 4xx for one recipient had counted as sent: that analyst never had the alert."""
    handler, port = relay
    with _mailing(db_url, port, ["desk@example.org", FULL, REFUSED]) as ctx:
        flow.deliver_pending(ctx)
        assert handler.taken == [("ew@example.org", ["desk@example.org"])]
        first = _the_delivery(ctx)
        assert (first.status, first.owed_to) == ("pending", [FULL])
        assert first.last_error is not None
        assert f"refused for now, to be retried: {FULL}" in first.last_error
        assert f"recipients refused: {REFUSED}" in first.last_error  # refused for good: named
        _due_now(ctx)
        assert flow.deliver_pending(ctx).sent == 1
        assert handler.taken[1:] == [("ew@example.org", [FULL])]  # FULL only, at last
        assert _the_delivery(ctx).status == "sent"
        _due_now(ctx)
        flow.deliver_pending(ctx)
        assert len(handler.taken) == 2  # and nobody has it twice


def test_a_partial_send_is_recorded_though_the_database_is_locked_a_while(
    relay: tuple[Relay, int], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its record was not retried as a message sent is: with the database locked as the
    relay took it, the addresses still owed were lost, and all had it again."""
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 300)
    handler, port = relay
    with _mailing(db_url, port, ["desk@example.org", FULL]) as ctx:
        handler.lock_db, handler.lock_for = tmp_path / "eventwatch.db", 1.5
        flow.deliver_pending(ctx)
        assert _the_delivery(ctx).owed_to == [FULL]


def test_a_recipient_still_owed_but_removed_from_the_config_is_not_sent_it(
    relay: tuple[Relay, int], db_url: str
) -> None:
    handler, port = relay
    with _mailing(db_url, port, ["desk@example.org", FULL]) as ctx:
        flow.deliver_pending(ctx)
        _due_now(ctx)
        ctx.channels["mail"] = email_channel(port, to=["desk@example.org"])
        assert flow.deliver_pending(ctx).sent == 1
        assert handler.taken == [("ew@example.org", ["desk@example.org"])]
        assert "no longer configured" in str(_the_delivery(ctx).last_error)


def test_a_digest_refused_for_now_to_one_recipient_is_sent_it_later(
    relay: tuple[Relay, int], db_url: str
) -> None:
    handler, port = relay
    with _mailing(db_url, port, ["desk@example.org", FULL], digest={"every": "1h"}) as ctx:
        later = datetime.now(UTC) + timedelta(hours=1)
        flow.deliver_pending(ctx, later)
        assert handler.taken == [("ew@example.org", ["desk@example.org"])]
        with ctx.db.session() as session:
            session.execute(update(Digest).values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))
        assert flow.deliver_pending(ctx, later).sent == 1
        assert handler.taken[1:] == [("ew@example.org", [FULL])]
        with ctx.db.session() as session:
            assert session.scalars(select(Digest.status)).one() == "sent"
            assert session.scalars(select(Delivery.status)).one() == "sent"


def test_an_address_still_owed_is_found_however_a_reload_wrote_it(
    relay: tuple[Relay, int],
) -> None:
    handler, port = relay
    channel = email_channel(port, to=["desk@example.org", "Full@Example.ORG"])
    assert channel.send(make_alert(owed_to=(FULL,))) is None
    assert handler.taken == [("eventwatch@example.org", ["Full@Example.ORG"])]


def test_an_address_still_owed_then_refused_for_good_ends_it_as_sent(
    relay: tuple[Relay, int],
) -> None:
    """Refused for good when tried alone, it had made the message a failure, retried for
    hours though the others had it."""
    handler, port = relay
    note = email_channel(port, to=["desk@example.org", REFUSED]).send(
        make_alert(owed_to=(REFUSED,))
    )
    assert note is not None
    assert f"sent, but recipients refused: {REFUSED}" in note
    assert handler.taken == []


def test_a_message_every_recipient_refuses_for_good_fails_at_once(
    relay: tuple[Relay, int],
) -> None:
    _, port = relay
    with pytest.raises(DeliveryError) as info:
        email_channel(port, to=[REFUSED]).send(make_alert())
    assert info.value.permanent


def test_a_relay_refusing_every_recipient_alike_is_tried_again(
    relay: tuple[Relay, int],
) -> None:
    """A 5xx for everyone alike (relaying denied) is the relay's, which may be mended: it
    had failed the alert for good at once, and the channel's other alerts with it."""
    _, port = relay
    with pytest.raises(DeliveryError) as fresh:
        email_channel(port, to=[DENIED]).send(make_alert())
    assert not fresh.value.permanent
    with pytest.raises(DeliveryError) as owed:
        email_channel(port, to=["desk@example.org", DENIED]).send(make_alert(owed_to=(DENIED,)))
    assert owed.value.owed_to is None  # owed as before, not given up as sent


def test_a_relay_ending_the_session_part_way_loses_no_recipient(
    relay: tuple[Relay, int], db_url: str
) -> None:
    """smtplib gives up at a 421 with the recipients refused so far: read as everyone
    refused, the others were never sent the alert."""
    handler, port = relay
    with _mailing(db_url, port, [REFUSED, ENDING, "desk@example.org"]) as ctx:
        flow.deliver_pending(ctx)  # REFUSED refused for good, then the 421: desk not asked
        assert handler.taken == []
        assert _the_delivery(ctx).owed_to is None  # everyone is still owed it
        _due_now(ctx)
        assert flow.deliver_pending(ctx).sent == 1
        assert handler.taken == [("ew@example.org", [ENDING, "desk@example.org"])]


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
