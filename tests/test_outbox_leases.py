"""Several dispatchers on one outbox send each alert once, however slow the receiver: a row is
leased only as its send begins, the lease is renewed while the send runs, and only the sender
that still holds the lease records the outcome. Also run on PostgreSQL (tests/test_postgres.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

import storage.db
from monitor import flow
from monitor.config import Config
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.leases import record_failure, record_sent, renew_lease, take_lease
from storage.migrate import upgrade
from storage.models import Delivery
from storage.outbox import requeue
from tests.receivers import WebhookReceiver


def dispatcher(db_url: str, hook: str, lease: str) -> flow.Context:
    """One dispatcher: its own engine on the shared database, as another daemon or worker has."""
    config = Config.model_validate(
        {
            "database": db_url,
            "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["hook"]}],
            "channels": {"hook": {"type": "webhook", "url": hook, "timeout": 10}},
            "delivery": {"lease": lease},
        }
    )
    return flow.Context(config)


def queue_alerts(ctx: flow.Context, count: int) -> None:
    for number in range(count):
        url = f"https://pam.example/news/{number}"
        title = f"Meeting {number} of the assembly in Dushanbe"
        text = f"Delegates met in Dushanbe for the {number}th round of talks on topic {number}."
        store_article(ctx.db, NewArticle(source="pam", url=url, canonical_url=url, title=title,
                                         text=text))  # fmt: skip
    flow.match_new_articles(ctx)


@pytest.fixture
def slow_hook() -> Iterator[WebhookReceiver]:
    """Answers each alert 1.5 s after it arrives: longer than the tests' 1 s lease."""
    with WebhookReceiver() as hook:
        hook.on_receive = lambda: time.sleep(1.5)
        yield hook


def test_two_dispatchers_send_each_alert_once_when_sends_outlast_the_lease(
    db_url: str, slow_hook: WebhookReceiver
) -> None:
    upgrade(db_url)
    first, second = dispatcher(db_url, slow_hook.url, "1s"), dispatcher(db_url, slow_hook.url, "1s")
    try:
        queue_alerts(first, 4)
        done: dict[str, flow.DispatchCounts] = {}
        running = threading.Thread(target=lambda: done.update(a=flow.deliver_pending(first)))
        running.start()
        time.sleep(1.2)  # the first dispatcher is inside its first send, past its first lease
        done["b"] = flow.deliver_pending(second)
        running.join()
        keys = Counter(headers["X-Eventwatch-Delivery"] for headers, _ in slow_hook.received)
        assert sorted(keys.values()) == [1, 1, 1, 1], keys
        assert done["a"].sent + done["b"].sent == 4
        with first.db.session() as session:
            assert set(session.scalars(select(Delivery.status))) == {"sent"}
    finally:
        first.db.dispose()
        second.db.dispose()


def test_a_dispatch_told_to_stop_sends_no_more_and_leaves_the_rest_pending(db_url: str) -> None:
    """A daemon or worker stopping met a dispatch with a backlog: it sent every alert left
    before it stopped, one send each, until a service manager's kill cut one short and that
    alert went out twice. The alert being sent is now the last; the rest wait, unleased."""
    upgrade(db_url)
    stop = threading.Event()
    with WebhookReceiver() as hook:
        hook.on_receive = stop.set  # the stop comes while the first alert is being sent
        ctx = dispatcher(db_url, hook.url, "1m")
        try:
            queue_alerts(ctx, 4)
            assert flow.deliver_pending(ctx, stop=stop).sent == 1
            with ctx.db.session() as session:
                rows = session.execute(select(Delivery.status, Delivery.lease_until)).all()
            assert sorted(status for status, _ in rows) == ["pending", "pending", "pending", "sent"]
            assert [lease for _, lease in rows] == [None] * 4
            hook.on_receive = None
            assert flow.deliver_pending(ctx).sent == 3  # the next start sends the rest
            assert len(hook.received) == 4
        finally:
            ctx.db.dispose()


def test_a_sender_that_lost_its_lease_cannot_renew_it_or_overwrite_the_outcome(
    db_url: str,
) -> None:
    upgrade(db_url)
    ctx = dispatcher(db_url, "http://127.0.0.1:9/hook", "1m")
    try:
        queue_alerts(ctx, 1)
        with ctx.db.session() as session:
            row_id = session.scalars(select(Delivery.id)).one()
        length = timedelta(seconds=30)
        stalled = take_lease(ctx.db, Delivery, row_id, -length)
        assert stalled is not None  # as if taken a minute ago: run out by now
        taken = take_lease(ctx.db, Delivery, row_id, length)
        assert taken is not None
        assert not renew_lease(ctx.db, stalled, length)
        assert record_sent(ctx.db, taken)
        assert record_failure(ctx.db, stalled, "timed out", None) is None
        with ctx.db.session() as session:
            row = session.get_one(Delivery, row_id)
            assert (row.status, row.last_error) == ("sent", None)
    finally:
        ctx.db.dispose()


def test_a_send_is_recorded_though_the_database_is_locked_as_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database failing right after a send (SQLite locked past its timeout, PostgreSQL
    restarting) ended the pass with the row unrecorded: once its lease ran out, the alert
    went out again."""
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 100)  # locked: fails at once
    path = tmp_path / "ew.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def lock_for_a_second() -> None:  # as the receiver takes the alert
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(1.0, holder.execute, ("ROLLBACK",)).start()

    with WebhookReceiver() as hook:
        ctx = dispatcher(url, hook.url, "2s")
        queue_alerts(ctx, 1)
        hook.on_receive = lock_for_a_second
        assert flow.deliver_pending(ctx).sent == 1
        hook.on_receive = None
        time.sleep(2.5)  # past the lease
        assert flow.deliver_pending(ctx).sent == 0
        assert len(hook.received) == 1
    holder.close()
    with ctx.db.session() as session:
        assert session.scalars(select(Delivery.status)).all() == ["sent"]


def test_only_failed_deliveries_are_queued_again(db_url: str) -> None:
    """A pending one may be on its way this instant, a held or digested one goes in a digest:
    queued again, each was sent twice."""
    upgrade(db_url)
    ctx = dispatcher(db_url, "http://127.0.0.1:9/hook", "1m")
    try:
        queue_alerts(ctx, 5)
        db: Database = ctx.db
        with db.session() as session:
            ids = list(session.scalars(select(Delivery.id).order_by(Delivery.id)))
            for row_id, status in zip(ids, ["pending", "held", "digested", "sent", "failed"],
                                      strict=True):  # fmt: skip
                session.execute(update(Delivery).where(Delivery.id == row_id).values(status=status))
        assert requeue(db, ids) == 1
        assert requeue(db, all_failed=True) == 0  # the failed one is pending now
        with db.session() as session:
            statuses = list(session.scalars(select(Delivery.status).order_by(Delivery.id)))
        assert statuses == ["pending", "held", "digested", "sent", "pending"]
    finally:
        ctx.db.dispose()
