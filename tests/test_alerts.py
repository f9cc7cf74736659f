"""End to end: crawl → match → e-mail and webhook, against a real SMTP server and a real
webhook receiver on 127.0.0.1. An alert is never fired by boilerplate, never lost, never
doubled."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from monitor.channels.webhook import verify
from storage.db import Database
from storage.models import Delivery
from tests.conftest import FIXTURES
from tests.receivers import SmtpSink, WebhookReceiver
from tests.sitehost import SiteServer, serve
from tests.test_crawl import expected_for, source_yaml

SECRET = "s3cr3t-webhook-key"
RULE = "Dushanbe AND (terrorism OR terrorisme OR терроризм)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dushanbe_title() -> str:
    articles = expected_for("wpnews")["articles"]
    hits = [a["title"] for a in articles if "Dushanbe" in " ".join(a["paragraphs"])]
    assert len(hits) == 1, "the wpnews fixture has exactly one Dushanbe article"
    return hits[0]


@pytest.fixture
def wpnews(tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / "wpnews"
    shutil.copytree(FIXTURES / "sites" / "wpnews", root)
    with serve(root) as site:
        yield site


def write_config(
    tmp_path: Path, site: SiteServer, smtp_port: int, hook_url: str,
    notify: tuple[str, ...] = ("analysts", "soc"),
) -> Path:  # fmt: skip
    config: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path / 'eventwatch.db'}",
        "sources": [source_yaml("wpnews", site.base_url, max_listing_pages=5)],
        "rules": [{"name": "dushanbe-ct", "query": RULE, "notify": list(notify)}],
        "channels": {
            "analysts": {"type": "email", "to": ["desk@example.org"], "from": "ew@example.org",
                         "host": "127.0.0.1", "port": smtp_port, "timeout": 5},
            "soc": {"type": "webhook", "url": hook_url, "secret_env": "SOC_SECRET", "timeout": 5},
        },
        "delivery": {"max_attempts": 20, "backoff_initial": "1s", "backoff_max": "1s",
                     "lease": "2s"},
    }  # fmt: skip
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
        capture_output=True, text=True, timeout=240, env={**os.environ, "SOC_SECRET": SECRET},
    )  # fmt: skip


def deliveries(tmp_path: Path) -> list[Delivery]:
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        rows = list(session.scalars(select(Delivery)))
    db.dispose()
    return rows


def ok_posts(hook: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(body) for headers, body, status in hook.log() if status == 200]


def test_body_match_alerts_once_sidebar_never(wpnews: SiteServer, tmp_path: Path) -> None:
    with SmtpSink() as smtp, WebhookReceiver() as hook:
        config = write_config(tmp_path, wpnews, smtp.port, hook.url)
        result = cli(config, "crawl", "wpnews")
        assert result.returncode == 0, result.stderr
        assert len(smtp.messages) == 1
        assert len(hook.received) == 1
        headers, body = hook.received[0]
        assert verify(SECRET.encode(), headers["X-Eventwatch-Timestamp"], body,
                      headers["X-Eventwatch-Signature"])  # fmt: skip
        payload = json.loads(body)
        assert payload["event"]["title"] == dushanbe_title()
        assert "Dushanbe" in payload["terms"]
        assert dushanbe_title() in smtp.messages[0]["Subject"]

        again = cli(config, "crawl", "wpnews")
        assert again.returncode == 0, again.stderr
        assert len(smtp.messages) == 1
        assert len(hook.received) == 1
    assert SECRET not in result.stdout + result.stderr + again.stdout + again.stderr


def test_outage_then_recovery_delivers_each_alert_once(wpnews: SiteServer, tmp_path: Path) -> None:
    smtp_port = free_port()  # nothing listens yet: the SMTP relay is down
    with WebhookReceiver() as hook:
        hook.respond_with([500, 500])
        config = write_config(tmp_path, wpnews, smtp_port, hook.url)
        assert cli(config, "crawl", "wpnews").returncode == 0
        assert sorted(d.status for d in deliveries(tmp_path)) == ["pending", "pending"]
        listing = cli(config, "alerts", "list", "--status", "pending", "--json")
        assert len(listing.stdout.splitlines()) == 2
        with SmtpSink(port=smtp_port) as smtp:
            for _ in range(30):
                cli(config, "alerts", "send")
                if all(d.status == "sent" for d in deliveries(tmp_path)):
                    break
                time.sleep(1)
            assert sorted(d.status for d in deliveries(tmp_path)) == ["sent", "sent"]
            assert len(smtp.messages) == 1
        assert len(ok_posts(hook)) == 1
        assert cli(config, "alerts", "send").returncode == 0
        assert len(ok_posts(hook)) == 1


def test_failed_delivery_is_kept_shown_and_retried(wpnews: SiteServer, tmp_path: Path) -> None:
    with WebhookReceiver() as hook, SmtpSink() as smtp:
        hook.respond_with([404] * 5)
        config = write_config(tmp_path, wpnews, smtp.port, hook.url)
        text = config.read_text().replace("max_attempts: 20", "max_attempts: 1")
        config.write_text(text)
        assert cli(config, "crawl", "wpnews").returncode == 0
        failed = cli(config, "alerts", "list", "--status", "failed", "--json")
        rows = [json.loads(line) for line in failed.stdout.splitlines()]
        assert [r["channel"] for r in rows] == ["soc"]
        assert "404" in rows[0]["last_error"]
        hook.respond_with([])
        assert cli(config, "alerts", "retry", "--failed").returncode == 0
        assert cli(config, "alerts", "send").returncode == 0
        assert len(ok_posts(hook)) == 1
        assert len(smtp.messages) == 1


def test_killed_between_send_and_commit_is_resent_with_the_same_id(
    wpnews: SiteServer, tmp_path: Path
) -> None:
    with WebhookReceiver() as hook, SmtpSink() as smtp:
        config = write_config(tmp_path, wpnews, smtp.port, hook.url, notify=("soc",))
        assert cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
        assert cli(config, "rules", "test", "dushanbe-ct").returncode == 0
        sender = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "alerts", "send"],
            env={**os.environ, "SOC_SECRET": SECRET},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # killed once its request is in, before the answer reaches it: a crash between the
        # send and the commit that marks it sent (deterministic, unlike racing the commit)
        hook.on_receive = lambda: os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=120)
        hook.on_receive = None
        assert [d.status for d in deliveries(tmp_path)] == ["pending"]
        time.sleep(2.5)  # the dead sender's lease runs out
        assert cli(config, "alerts", "send").returncode == 0
        ids = [headers["X-Eventwatch-Delivery"] for headers, _ in hook.received]
        assert len(ids) == 2
        assert ids[0] == ids[1]
        assert [d.status for d in deliveries(tmp_path)] == ["sent"]
