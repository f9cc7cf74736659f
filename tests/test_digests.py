"""Digests (issue 29): one message listing the events matched since the previous one, grouped
by rule; each event in exactly one digest per channel across restarts and ``kill -9``; a
digest resent after a crash keeps its id; an empty one is sent only if asked. Real receivers
on 127.0.0.1; the clock handed to dispatch is moved, never slept on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from monitor import flow
from monitor.channels.digest import DigestConfig
from monitor.config import load_config
from storage.articles import NewArticle, store_article
from storage.digests import open_digest
from storage.migrate import upgrade
from storage.models import Delivery, Digest
from tests.receivers import SmtpSink, WebhookReceiver

DAILY = {"every": "1d", "at": "08:00", "timezone": "Europe/Paris"}


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def write_config(tmp_path: Path, channels: dict[str, Any], **rule: Any) -> Path:
    rules = [
        {"name": "dushanbe", "query": "Dushanbe", "notify": list(channels), **rule},
        {"name": "almaty", "query": "Almaty", "notify": list(channels)},
    ]
    data = {
        "database": f"sqlite:///{tmp_path / 'ew.db'}",
        "web": {"public_url": "https://ew.example.org"},
        "rules": rules,
        "channels": channels,
        "delivery": {"lease": "1s"},
    }
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    upgrade(data["database"])
    return path


def context(path: Path) -> flow.Context:
    """A fresh start: the config read and the database opened again, as after a restart."""
    return flow.Context(load_config(path)[1])


def report(ctx: flow.Context, number: int, city: str, source: str = "pam") -> None:
    url = f"https://{source}.example/{number}"
    store_article(ctx.db, NewArticle(
        source=source, url=url, canonical_url=url, title=f"Story {number} from {city}",
        text=f"Delegates met in {city} for talk number {number}.", language="en",
    ))  # fmt: skip
    flow.match_new_articles(ctx)


def digests(hook: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in hook.received]


def event_titles(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {group["rule"]: [e["title"] for e in group["events"]] for group in doc["rules"]}


def test_a_daily_digest_spanning_a_restart_holds_each_event_once(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    path = write_config(tmp_path, {"soc": {"type": "webhook", "url": hook.url, "digest": DAILY}})
    ctx = context(path)
    report(ctx, 1, "Dushanbe")
    report(ctx, 2, "Almaty")
    assert flow.deliver_pending(ctx).sent == 0  # held: today's 08:00 digest predates them
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert flow.deliver_pending(ctx, tomorrow).sent == 1
    report(ctx, 3, "Dushanbe")
    ctx.db.dispose()

    ctx = context(path)  # restarted
    assert flow.deliver_pending(ctx, tomorrow).sent == 0  # that digest was sent
    assert flow.deliver_pending(ctx, tomorrow + timedelta(days=1)).sent == 1
    first, second = digests(hook)
    assert event_titles(first) == {
        "almaty": ["Story 2 from Almaty"], "dushanbe": ["Story 1 from Dushanbe"]
    }  # fmt: skip
    assert event_titles(second) == {"dushanbe": ["Story 3 from Dushanbe"]}
    assert second["since"] == first["until"]
    event = first["rules"][1]["events"][0]
    assert event["sources"] == ["pam"] and event["languages"] == ["en"]
    assert event["link"] == f"https://ew.example.org/events/{event['id']}"
    assert event["words"] == ["Dushanbe"] and event["places"] == []
    with ctx.db.session() as session:
        assert {d.status for d in session.scalars(select(Delivery))} == {"sent"}


def test_killed_between_sending_a_digest_and_recording_it_resends_the_same_id(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    path = write_config(tmp_path, {"soc": {"type": "webhook", "url": hook.url, "digest": DAILY}})
    ctx = context(path)
    report(ctx, 1, "Dushanbe")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    script = (
        "import sys; from datetime import datetime; from monitor import flow; "
        "from monitor.config import load_config; "
        "flow.deliver_pending(flow.Context(load_config(sys.argv[1])[1]), "
        "datetime.fromisoformat(sys.argv[2]))"
    )
    sender = subprocess.Popen(
        [sys.executable, "-c", script, str(path), tomorrow.isoformat()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # killed once its request is in, before the answer reaches it
    hook.on_receive = lambda: os.kill(sender.pid, signal.SIGKILL)
    assert sender.wait(timeout=120) == -signal.SIGKILL
    hook.on_receive = None
    with ctx.db.session() as session:
        assert [d.status for d in session.scalars(select(Digest))] == ["pending"]
    time.sleep(1.5)  # the dead sender's lease runs out
    assert flow.deliver_pending(ctx, tomorrow).sent == 1
    ids = [headers["X-Eventwatch-Delivery"] for headers, _, _ in hook.log()]
    assert len(ids) == 2 and ids[0] == ids[1]
    first, again = digests(hook)  # the same digest, whole, for the receiver to deduplicate
    assert first == again and first["id"] == ids[0]
    with ctx.db.session() as session:
        assert [d.status for d in session.scalars(select(Digest))] == ["sent"]


def test_an_empty_digest_is_not_sent_unless_asked(tmp_path: Path, hook: WebhookReceiver) -> None:
    quiet = {"type": "webhook", "url": hook.url, "digest": {"every": "1h"}}
    eager = {"type": "webhook", "url": hook.url + "/eager",
             "digest": {"every": "1h", "send_empty": True}}  # fmt: skip
    ctx = context(write_config(tmp_path, {"quiet": quiet, "eager": eager}))
    assert flow.deliver_pending(ctx).sent == 1
    [doc] = digests(hook)
    assert doc["rules"] == [] and doc["schema"] == "eventwatch.digest/1"
    with ctx.db.session() as session:
        states = {d.channel: d.status for d in session.scalars(select(Digest))}
    assert states == {"quiet": "empty", "eager": "sent"}


def test_a_rules_own_digest_holds_its_alerts_and_the_others_go_at_once(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    channels = {"soc": {"type": "webhook", "url": hook.url}}
    ctx = context(write_config(tmp_path, channels, digest={"every": "1h"}))
    report(ctx, 1, "Dushanbe")
    report(ctx, 2, "Almaty")
    assert flow.deliver_pending(ctx).sent == 1  # almaty's alert, alone
    assert digests(hook)[0]["schema"] == "eventwatch.alert/1"
    assert flow.deliver_pending(ctx, datetime.now(UTC) + timedelta(hours=1)).sent == 1
    digest = digests(hook)[1]
    assert digest["schema"] == "eventwatch.digest/1"
    assert event_titles(digest) == {"dushanbe": ["Story 1 from Dushanbe"]}


def test_a_digest_by_mail_lists_events_by_rule(tmp_path: Path) -> None:
    with SmtpSink() as smtp:
        mail = {"type": "email", "to": ["soc@example.org"], "from": "ew@example.org",
                "host": "127.0.0.1", "port": smtp.port, "digest": DAILY}  # fmt: skip
        ctx = context(write_config(tmp_path, {"mail": mail}))
        report(ctx, 1, "Dushanbe")
        report(ctx, 2, "Dushanbe", source="wire")
        assert flow.deliver_pending(ctx, datetime.now(UTC) + timedelta(days=1)).sent == 1
        [message] = smtp.messages
    assert message["Subject"].startswith("[eventwatch] digest: 2 events to ")
    text = message.get_content()
    assert "Rule dushanbe (2):" in text
    assert "sources: pam · languages: en" in text and "sources: wire" in text
    assert "words found: Dushanbe" in text and "https://ew.example.org/events/" in text


def test_removing_a_digest_sends_the_held_alerts_alone(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    path = write_config(tmp_path, {"soc": {"type": "webhook", "url": hook.url, "digest": DAILY}})
    ctx = context(path)
    report(ctx, 1, "Dushanbe")
    ctx.db.dispose()
    write_config(tmp_path, {"soc": {"type": "webhook", "url": hook.url}})
    assert flow.deliver_pending(context(path)).sent == 1
    assert digests(hook)[0]["schema"] == "eventwatch.alert/1"


def _held_statuses(ctx: flow.Context) -> dict[str, tuple[str, str | None]]:
    with ctx.db.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.rule == "dushanbe"))
        return {d.channel: (d.status, d.last_error) for d in rows}


def _held_on_two_channels(
    tmp_path: Path, hook: WebhookReceiver
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A Dushanbe alert held by its rule's own digest on two channels: the config's path and
    its channels."""
    channels = {"soc": {"type": "webhook", "url": hook.url},
                "desk": {"type": "webhook", "url": hook.url}}  # fmt: skip
    path = write_config(tmp_path, channels, digest={"every": "1h"})
    ctx = context(path)
    report(ctx, 1, "Dushanbe")
    ctx.db.dispose()
    return path, channels


def test_a_rule_that_stops_notifying_a_channel_sends_its_held_alerts_there_alone(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    """A rule's own digest for two channels, the rule edited to notify one: no digest
    collected the other's held alerts any more, and they stayed held for good, unseen."""
    path, channels = _held_on_two_channels(tmp_path, hook)
    write_config(tmp_path, channels, digest={"every": "1h"}, notify=["soc"])
    ctx = context(path)
    assert flow.deliver_pending(ctx).sent == 1
    assert [doc["schema"] for doc in digests(hook)] == ["eventwatch.alert/1"]
    assert _held_statuses(ctx) == {"soc": ("held", None), "desk": ("sent", None)}


def test_a_channel_removed_fails_the_alerts_held_for_it_where_they_are_seen(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    """Held for a digest on a channel since removed, they had stayed held: counted nowhere,
    and ``alerts retry`` takes no held alert."""
    path, channels = _held_on_two_channels(tmp_path, hook)
    write_config(tmp_path, {"soc": channels["soc"]}, digest={"every": "1h"})
    ctx = context(path)
    flow.deliver_pending(ctx)
    statuses = _held_statuses(ctx)
    assert statuses["soc"] == ("held", None)
    status, error = statuses["desk"]
    assert status in ("pending", "failed") and "channel 'desk' is not configured" in str(error)


@pytest.mark.parametrize(
    ("settings", "now", "slot"),
    [
        (DAILY, "2026-12-06T07:30:00+00:00", "2026-12-06T07:00:00+00:00"),  # 08:00 in Paris
        (DAILY, "2026-12-06T06:59:00+00:00", "2026-12-05T07:00:00+00:00"),
        (DAILY, "2026-07-06T06:30:00+00:00", "2026-07-06T06:00:00+00:00"),  # summer time
        ({"every": "1h"}, "2026-12-06T16:59:59+00:00", "2026-12-06T16:00:00+00:00"),
        ({"every": "15m"}, "2026-12-06T16:31:00+00:00", "2026-12-06T16:30:00+00:00"),
    ],
)
def test_the_slot_a_digest_is_due_at(settings: dict[str, Any], now: str, slot: str) -> None:
    when = DigestConfig.model_validate(settings)
    assert when.latest_slot(datetime.fromisoformat(now)) == datetime.fromisoformat(slot)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"every": "1d", "at": "8h"}, "not a time of day like 08:00"),
        ({"every": "1d", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"every": "2h", "at": "08:00"}, "'at' needs 'every' in whole days"),
        ({"every": "10s"}, "at most every minute"),
        ({"every": "1d", "sendempty": True}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_digest_setting_is_a_config_error(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DigestConfig.model_validate(settings)


def test_a_digest_is_opened_once_per_slot_whoever_asks(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    path = write_config(tmp_path, {"soc": {"type": "webhook", "url": hook.url, "digest": DAILY}})
    first, second = context(path), context(path)  # two workers on one database
    report(first, 1, "Dushanbe")
    slot = datetime.now(UTC) + timedelta(minutes=1)
    assert open_digest(first.db, "soc", slot) is True
    assert open_digest(second.db, "soc", slot) is False
    with first.db.session() as session:
        [digest] = session.scalars(select(Digest)).all()
        listed = session.scalars(select(Delivery.digest_id)).all()
    assert listed == [digest.id]


def test_a_digest_failed_for_good_is_shown_and_sent_again_by_retry(
    tmp_path: Path, hook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its deliveries stay ``digested``: `status` said nothing, and `alerts retry --failed`
    queued nothing, so the digest was never sent."""
    from monitor.cli import main

    eager = {"type": "webhook", "url": hook.url, "digest": {"every": "1h", "send_empty": True}}
    path = write_config(tmp_path, {"eager": eager})
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["delivery"]["max_attempts"] = 1
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    ctx = context(path)
    hook.respond_with([500])
    assert flow.deliver_pending(ctx).failed == 1
    assert main(["--config", str(path), "status"]) == 0
    assert "failed for good: 1 digests, 0 updates" in capsys.readouterr().out
    assert main(["--config", str(path), "alerts", "retry", "--failed"]) == 0
    assert "1 digests and 0 updates queued again" in capsys.readouterr().out
    assert flow.deliver_pending(ctx).sent == 1
    assert [doc["schema"] for doc in digests(hook)] == ["eventwatch.digest/1"]
    ctx.db.dispose()
