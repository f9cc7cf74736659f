"""What a reload (SIGHUP) of the daemon applies, and what it says it cannot."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.channels.alert import Alert
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.health import Transition, health_alert
from monitor.health_notices import HealthNotices
from monitor.observe import HealthCollector, ObservabilityServer
from monitor.single_daemon import DaemonRunning, only_daemon
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CrawlRun
from storage.runs import open_run
from tests.receivers import WebhookReceiver, free_port


def write(path: Path, database: Path, **daemon: Any) -> Path:
    config = {
        "database": f"sqlite:///{database}",
        "sources": [{"name": "news", "start_urls": ["http://127.0.0.1:9/"]}],
        "daemon": {"listen": None, **daemon},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_a_reload_applies_thresholds_and_names_the_settings_read_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db", crawl_processes=1, health_failures=3)
    daemon = Daemon(path, load_config(path)[1])
    try:
        write(path, tmp_path / "ew.db", crawl_processes=2, health_failures=5, health_min_quiet="3d",
              listen="127.0.0.1:18911")  # fmt: skip
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()
        assert "config reloaded: 1 sources" in caplog.text
        assert daemon.health.failure_threshold == 5
        assert daemon.health.min_quiet.days == 3
        assert (
            "daemon.listen, daemon.crawl_processes changed: they take effect when the daemon "
            "restarts" in caplog.text
        )
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()  # still not in effect: said again
        assert "daemon.listen, daemon.crawl_processes changed" in caplog.text
        write(path, tmp_path / "ew.db", crawl_processes=1, health_failures=5)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()  # back to what it runs with: nothing to say
        assert "config reloaded" in caplog.text
        assert "take effect when the daemon restarts" not in caplog.text
    finally:
        daemon.ctx.db.dispose()


def test_a_reload_adding_a_channel_whose_secret_is_unset_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A daemon's environment is read at its start: a channel added by a reload with its
    variable unset would fail every send until a restart, unseen."""
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db")
    daemon = Daemon(path, load_config(path)[1])
    try:
        config = yaml.safe_load(path.read_text())
        config["channels"] = {"soc": {"type": "webhook", "url": "http://127.0.0.1:9/hook",
                                      "secret_env": "EW_RELOAD_SECRET"}}  # fmt: skip
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        monkeypatch.delenv("EW_RELOAD_SECRET", raising=False)
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()
        assert "reload rejected, keeping the running config" in caplog.text
        assert "environment variable EW_RELOAD_SECRET is not set" in caplog.text
        assert daemon.ctx.config.channels == {}
    finally:
        daemon.ctx.db.dispose()


def test_a_reload_to_another_database_takes_its_one_daemon_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The lock stayed on the database the daemon started with: a second daemon could then
    start on the new one, and both crawled every source."""
    path = write(tmp_path / "ew.yaml", tmp_path / "first.db")
    daemon = Daemon(path, load_config(path)[1])
    daemon.database_lock.enter_context(only_daemon(f"sqlite:///{tmp_path / 'first.db'}"))
    second = f"sqlite:///{tmp_path / 'second.db'}"
    try:
        write(path, tmp_path / "second.db")
        with only_daemon(second), caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()  # another daemon runs there
        assert "reload rejected" in caplog.text and "already running on this database" in (
            caplog.text
        )
        assert daemon.ctx.config.database.endswith("first.db")
        daemon.reload()
        assert daemon.ctx.config.database == second
        with pytest.raises(DaemonRunning), only_daemon(second):
            pass
        with only_daemon(f"sqlite:///{tmp_path / 'first.db'}"):
            pass  # let go
        (tmp_path / "sub").mkdir()
        write(path, tmp_path / "sub" / ".." / "second.db")  # the same file, written another way
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            caplog.clear()
            daemon.reload()  # not refused by its own lock
        assert "reload rejected" not in caplog.text and "config reloaded" in caplog.text
    finally:
        daemon.database_lock.close()
        daemon.ctx.db.dispose()


def test_a_cron_firing_missed_while_the_daemon_was_down_is_crawled_as_it_starts(
    tmp_path: Path,
) -> None:
    """A restart across a firing skipped it: a daily source waited a whole day. The daemon
    now crawls at once a cron source whose last crawl began before its latest firing."""
    path = tmp_path / "ew.yaml"
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    daily = {"cron": "0 0 * * *"}  # at midnight: the last firing is at most a day ago
    path.write_text(yaml.safe_dump({
        "database": url,
        "sources": [{"name": name, "start_urls": ["http://127.0.0.1:9/"], "schedule": daily}
                    for name in ("missed", "served")],
        "daemon": {"listen": None},
    }), encoding="utf-8")  # fmt: skip
    upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for name, started in (("missed", midnight - timedelta(hours=1)), ("served", midnight)):
        run_id = open_run(db, name)
        with db.session() as session:
            session.get_one(CrawlRun, run_id).started_at = started
    db.dispose()
    daemon = Daemon(path, load_config(path)[1])
    daemon.scheduler.start(paused=True)
    try:
        daemon.schedule_sources(daemon.ctx.config)
        missed = daemon.scheduler.get_job("crawl:missed").next_run_time
        served = daemon.scheduler.get_job("crawl:served").next_run_time
        assert missed <= datetime.now(UTC) and served == midnight + timedelta(days=1)
    finally:
        daemon.scheduler.shutdown(wait=False)
        daemon.ctx.db.dispose()


@pytest.mark.parametrize("uri", ["file:{path}?uri=true", "file://{path}?mode=rwc&uri=true"])
def test_a_database_named_by_a_file_uri_takes_the_one_daemon_lock(tmp_path: Path, uri: str) -> None:
    """A ``file:`` URI was read as no file at all: a daemon started with one took no lock,
    and a second daemon on the same file, named either way, crawled every source again."""
    path = tmp_path / "ew.db"
    plain, as_uri = f"sqlite:///{path}", "sqlite:///" + uri.format(path=path)
    for first, second in ((plain, as_uri), (as_uri, plain)):
        with only_daemon(first), pytest.raises(DaemonRunning), only_daemon(second):
            pass


def test_a_reload_names_the_web_settings_read_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The session cookies are signed and flagged as the UI started; a reload that changes
    how said nothing, and the old secret went on signing them."""
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db")
    daemon = Daemon(path, load_config(path)[1])
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["web"] = {"session_secret_env": "EW_SESSION", "secure_cookies": True}
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()
        assert (
            "web.session_secret_env, web.secure_cookies changed: they take effect when the "
            "daemon restarts" in caplog.text
        )
    finally:
        daemon.ctx.db.dispose()


def _healthy(daemon: Daemon) -> dict[str, float]:
    (family,) = HealthCollector(daemon).collect()
    return {sample.labels["source"]: sample.value for sample in family.samples}


def test_source_health_in_metrics_is_what_the_daemon_judges_now(tmp_path: Path) -> None:
    """The gauge was set only when health changed: after a restart a source known to be
    down had no value at all, healthy sources none, and a source that recovered from
    failures while still stale read 1."""
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["sources"] += [{"name": name, "start_urls": ["http://127.0.0.1:9/"]}
                          for name in ("down", "quiet")]  # fmt: skip
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    daemon = Daemon(path, load_config(path)[1])
    try:
        daemon.schedule_sources(daemon.ctx.config)
        now = datetime.now(UTC)
        daemon.health.resume({"down": 5}, now)  # as read back at a restart
        assert _healthy(daemon) == {"news": 1.0, "down": 0.0, "quiet": 1.0}
        for _ in range(3):  # "quiet" fails three times, then goes quiet for 8 days
            daemon.health.record("quiet", False, 0, now)
        daemon.health.record("quiet", True, 0, now + timedelta(days=8))
        assert daemon.health.sources["quiet"].stale
        assert _healthy(daemon)["quiet"] == 0.0  # recovered from failures, still stale
    finally:
        daemon.ctx.db.dispose()


def test_a_health_notice_a_channel_refused_is_sent_again(tmp_path: Path) -> None:
    """A change is reported once: a notice the health channel refused (a receiver down for
    a moment) was lost, and nobody heard that the source went down."""
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db")
    with WebhookReceiver() as pager:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["channels"] = {"pager": {"type": "webhook", "url": pager.url}}
        config["daemon"]["health_notify"] = ["pager"]
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        pager.respond_with([500, 503])  # then 200
        daemon = Daemon(path, load_config(path)[1])
        daemon.notices = HealthNotices(daemon.send_health, first_wait=0.1)
        try:
            change = Transition("news", "down", "3 failed crawls in a row")
            daemon.notices.put(health_alert(change, datetime.now(UTC)), "news")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(pager.log()) < 3:
                time.sleep(0.05)
            assert [status for _, _, status in pager.log()] == [500, 503, 200]
            bodies = [json.loads(body)["event"]["title"] for _, body in pager.received]
            assert len(set(bodies)) == 1 and "news" in bodies[0]
        finally:
            daemon.notices.close(5)
            daemon.ctx.db.dispose()


def test_a_notice_sent_again_never_comes_after_a_newer_one_about_its_source() -> None:
    """A "down" the receiver refused was sent again after the "recovered" that followed it
    had got through: the receiver's last word was that the source was down."""
    heard: list[str] = []
    tried = threading.Event()

    def send(alert: Alert, channels: Sequence[str] | None) -> list[str]:
        if not tried.is_set():  # the receiver is away for the first notice only
            tried.set()
            return ["pager"]
        heard.append(alert.title)
        return []

    notices = HealthNotices(send, first_wait=0.5)
    now = datetime.now(UTC)
    notices.put(health_alert(Transition("news", "down", "3 failed crawls"), now), "news")
    assert tried.wait(10)
    notices.put(health_alert(Transition("news", "recovered", "ok"), now), "news")
    time.sleep(1.5)  # past the refused notice's next try
    notices.close(5)
    assert heard == ["source news is recovered"]


def _served_daemon(path: Path) -> tuple[Daemon, ObservabilityServer]:
    """A daemon as its config has it, with its web UI served (not its crawls)."""
    daemon = Daemon(path, load_config(path)[1])
    listen = daemon.ctx.config.daemon.listen
    assert listen is not None
    daemon.server = ObservabilityServer(listen, daemon)
    daemon.server.start()
    return daemon, daemon.server


def _status(port: int, host: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/events", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_reload_lets_the_ui_answer_on_its_new_public_name(tmp_path: Path) -> None:
    """The names the UI answers on, on loopback, were fixed as it started: a public_url
    added by a reload was still refused (400)."""
    port = free_port()
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db", listen=f"127.0.0.1:{port}")
    daemon, server = _served_daemon(path)
    try:
        name = "analysts.localhost"
        assert _status(port, f"{name}:{port}") == 400
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["web"] = {"public_url": f"http://{name}:{port}/"}
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        daemon.reload()
        assert _status(port, f"{name}:{port}") == 200
        assert _status(port, f"127.0.0.1:{port}") == 200
    finally:
        server.stop()
        daemon.ctx.db.dispose()


def test_a_reload_that_names_a_new_session_secret_applies_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secret takes effect at a restart, yet its variable was read at the reload: unset,
    the whole reload was rejected, a new source with it."""
    monkeypatch.delenv("EW_NEXT_SESSION_SECRET", raising=False)
    port = free_port()
    path = write(tmp_path / "ew.yaml", tmp_path / "ew.db", listen=f"127.0.0.1:{port}")
    daemon, server = _served_daemon(path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["web"] = {"session_secret_env": "EW_NEXT_SESSION_SECRET"}
        config["sources"].append({"name": "more", "start_urls": ["http://127.0.0.1:9/more/"]})
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.reload()
        assert [s.name for s in daemon.ctx.config.sources] == ["news", "more"]
        assert "web.session_secret_env changed: they take effect when" in caplog.text
    finally:
        server.stop()
        daemon.ctx.db.dispose()
