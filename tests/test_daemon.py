"""The daemon as a real process against fixture sites: new pages alerted exactly once,
SIGHUP adds a source, SIGTERM stops it, kill -9 and restart lose and double nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Article, CrawlRun, Delivery, Source, utcnow
from storage.runs import open_run
from tests.conftest import FIXTURES
from tests.receivers import SlowPeer, WebhookReceiver
from tests.sitehost import SiteServer, serve, silent_server
from tests.test_alerts import SECRET, free_port
from tests.test_crawl import source_yaml
from tests.test_outbox_leases import dispatcher, queue_alerts

NEW_PAGE = """<html><head><title>Ministers meet in Dushanbe</title>
<meta property="article:published_time" content="2024-12-27T09:00:00+00:00"></head><body>
<nav>Main Menu</nav><article><h1>Ministers meet in Dushanbe on terrorism threats</h1>
<p>Interior ministers of five Central Asian states met in Dushanbe on Friday to agree a joint
plan against terrorism financing and the recruitment of young people online.</p>
<p>The plan sets up a shared register of suspicious transfers and a hotline between the
national financial intelligence units, which will meet again in the spring.</p>
<p>Delegates also discussed training for border guards along the mountain passes that
connect the region with its southern neighbours.</p></article></body></html>"""


def wait_for(condition: Callable[[], bool], seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return condition()


class Daemon:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(self.config), "run"],
            env={**os.environ, "SOC_SECRET": SECRET},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 90) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Store:
    def __init__(self, url: str) -> None:
        self.db = Database(url)

    def scalar(self, query: Any) -> Any:
        with self.db.session() as session:
            return session.scalar(query)

    def runs(self, source: str) -> int:
        return int(
            self.scalar(select(func.count(CrawlRun.id)).join(Source).where(Source.name == source))
            or 0
        )

    def articles(self) -> int:
        return int(self.scalar(select(func.count(Article.id))) or 0)

    def left_open(self, source: str, days_ago: int) -> int:
        """A run of `source` opened `days_ago` and never closed; its id."""
        run_id = open_run(self.db, source)
        with self.db.session() as session:
            session.get_one(CrawlRun, run_id).started_at = utcnow() - timedelta(days=days_ago)
        return run_id

    def status(self, run_id: int) -> str:
        return str(self.scalar(select(CrawlRun.status).where(CrawlRun.id == run_id)))


def config_for(
    tmp_path: Path,
    sources: list[dict[str, Any]],
    hook: str,
    listen: str,
    health: str = "",
    every: str = "1s",
) -> Path:
    config: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path / 'eventwatch.db'}",
        "sources": sources,
        "rules": [{"name": "dushanbe-ct", "query": "Dushanbe AND terror*", "notify": ["soc"]}],
        "channels": {"soc": {"type": "webhook", "url": hook, "secret_env": "SOC_SECRET"}},
        "delivery": {"backoff_initial": "1s", "backoff_max": "2s", "lease": "3s"},
        "daemon": {"listen": listen, "match_every": every, "dispatch_every": every,
                   "max_parallel_crawls": 2},
    }  # fmt: skip
    if health:
        config["channels"]["health"] = {"type": "webhook", "url": health}
        config["daemon"]["health_notify"] = ["health"]
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def fast(name: str, site: SiteServer) -> dict[str, Any]:
    return source_yaml(name, site.base_url, schedule={"every": "2s"}, max_listing_pages=5)


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[tuple[SiteServer, SiteServer]]:
    for name in ("wpnews", "parliament"):
        shutil.copytree(FIXTURES / "sites" / name, tmp_path / name)
    with serve(tmp_path / "wpnews") as news, serve(tmp_path / "parliament") as parliament:
        yield news, parliament


def add_article(site: SiteServer) -> None:
    page = site.root / "2024" / "12" / "27" / "ministers-meet-in-dushanbe-on-terrorism"
    page.mkdir(parents=True)
    (page / "index.html").write_text(NEW_PAGE, encoding="utf-8")
    home = site.root / "index.html"
    link = '<a href="/2024/12/27/ministers-meet-in-dushanbe-on-terrorism/">Ministers meet</a>'
    home.write_text(
        home.read_text(encoding="utf-8").replace("<body>", "<body>" + link, 1), encoding="utf-8"
    )


def titles(hook: WebhookReceiver) -> list[str]:
    return [json.loads(body)["event"]["title"] for _, body in hook.received]


def troubled() -> Iterator[list[dict[str, Any]]]:
    """A source that never answers (holding a crawl slot to its time limit) and a dead one."""
    with silent_server() as hung:
        yield [
            source_yaml("hung", hung, schedule={"every": "2s"}, time_limit="3s"),
            source_yaml("dead", "http://127.0.0.1:9", schedule={"every": "2s"}),
        ]


def health_notices(hook: WebhookReceiver, source: str) -> list[str]:
    titles = [json.loads(body)["event"]["title"] for _, body in hook.received]
    return [t for t in titles if t.startswith(f"source {source} ")]


def test_daemon_cycles_reload_and_stop(
    sites: tuple[SiteServer, SiteServer], tmp_path: Path
) -> None:
    news, parliament = sites
    port = free_port()
    with WebhookReceiver() as hook, WebhookReceiver() as notices, contextmanager(troubled)() as bad:
        first = [fast("wpnews", news), *bad]
        # Match and dispatch only hourly: alerts must still leave as soon as a crawl stores.
        config = config_for(tmp_path, first, hook.url, f"127.0.0.1:{port}", notices.url, "1h")
        store = Store(f"sqlite:///{tmp_path / 'eventwatch.db'}")
        daemon = Daemon(config)
        daemon.start()
        try:
            assert wait_for(lambda: len(hook.received) == 1), "first alert"
            baseline = store.articles()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                health = json.loads(response.read())
            assert health["scheduler"] is True and health["database"] is True
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                metrics = response.read()
            assert b"eventwatch_crawls_total" in metrics
            assert b"eventwatch_schedule_lag_seconds_count" in metrics  # how late crawls start
            assert b"eventwatch_crawls_waiting" in metrics

            add_article(news)
            assert wait_for(lambda: store.articles() == baseline + 1), "new page stored"
            assert wait_for(lambda: len(hook.received) == 2), "new page alerted"
            runs = store.runs("wpnews")
            assert wait_for(lambda: store.runs("wpnews") >= runs + 2)
            assert len(hook.received) == 2
            assert len(set(titles(hook))) == 2

            sources = [*first, fast("parliament", parliament)]
            config_for(tmp_path, sources, hook.url, f"127.0.0.1:{port}", notices.url, "1h")
            daemon.signal(signal.SIGHUP)
            assert wait_for(lambda: store.runs("parliament") >= 1), "SIGHUP added a source"

            config.write_text("sources: [{name: BAD}]\n", encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            runs = store.runs("parliament")
            assert wait_for(lambda: store.runs("parliament") >= runs + 1), "old config kept"

            # a database out of reach: an error from SQLAlchemy, not the config, had ended it
            unreachable = config_for(tmp_path, sources, hook.url, f"127.0.0.1:{port}",
                                     notices.url, "1h").read_text(encoding="utf-8")  # fmt: skip
            database = f"sqlite:///{tmp_path / 'eventwatch.db'}"
            config.write_text(
                unreachable.replace(database, "postgresql+psycopg://ew@127.0.0.1:9/ew"),
                encoding="utf-8",
            )
            daemon.signal(signal.SIGHUP)
            runs = store.runs("parliament")
            assert wait_for(lambda: store.runs("parliament") >= runs + 2), "running config kept"
            assert daemon.process is not None and daemon.process.poll() is None

            assert wait_for(lambda: store.runs("dead") >= 6)
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            daemon.stop()
        assert health_notices(notices, "dead") == ["source dead is down"]
        assert health_notices(notices, "wpnews") == []
        assert daemon.process is not None and daemon.process.stderr is not None
        log = daemon.process.stderr.read()
        assert "reload rejected" in log and "OperationalError" in log
        assert SECRET not in log


def test_kill_9_then_restart_loses_and_doubles_nothing(
    sites: tuple[SiteServer, SiteServer], tmp_path: Path
) -> None:
    news, _ = sites
    with WebhookReceiver() as hook:
        hook.respond_with([500] * 1000)  # the receiver is down: alerts stay pending
        config = config_for(tmp_path, [fast("wpnews", news)], hook.url, f"127.0.0.1:{free_port()}")
        store = Store(f"sqlite:///{tmp_path / 'eventwatch.db'}")
        daemon = Daemon(config)
        daemon.start()
        try:
            assert wait_for(lambda: len(hook.log()) >= 1), "delivery attempted"
            stored = store.articles()
            daemon.signal(signal.SIGKILL)
            daemon.wait()
            left_open = store.left_open("wpnews", days_ago=2)  # as a killed daemon leaves one
            hook.respond_with([])
            daemon.start()
            assert wait_for(lambda: len([s for _, _, s in hook.log() if s == 200]) == 1)
            runs = store.runs("wpnews")
            assert wait_for(lambda: store.runs("wpnews") >= runs + 2)
            assert store.articles() == stored
            assert len([s for _, _, s in hook.log() if s == 200]) == 1
            assert store.status(left_open) == "abandoned"  # not "running" for ever
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            daemon.stop()


def test_a_health_channel_that_hangs_holds_up_no_crawl(
    sites: tuple[SiteServer, SiteServer], tmp_path: Path
) -> None:
    """Health notices are sent on a thread of their own: sent on the crawl pool's, each one
    stopped every crawl for its channel's timeout (here ten minutes)."""
    news, _ = sites
    with WebhookReceiver() as hook, SlowPeer() as pager:
        dead = source_yaml("dead", "http://127.0.0.1:9", schedule={"every": "1s"})
        listen = f"127.0.0.1:{free_port()}"
        config = config_for(tmp_path, [fast("wpnews", news), dead], hook.url, listen, pager.url)
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        settings["channels"]["health"]["timeout"] = 600
        settings["daemon"]["health_failures"] = 1
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        store = Store(f"sqlite:///{tmp_path / 'eventwatch.db'}")
        daemon = Daemon(config)
        daemon.start()
        try:
            assert wait_for(lambda: pager.connections >= 1), "the source down was told"
            runs = store.runs("wpnews")
            assert wait_for(lambda: store.runs("wpnews") >= runs + 3), "crawls went on"
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            daemon.stop()


def test_a_stop_sends_no_more_of_a_dispatch_backlog(tmp_path: Path) -> None:
    """SIGTERM met a dispatch with a backlog: the daemon sent every alert left, a second
    each here, before it stopped. The alert being sent is the last; the rest wait for the
    next start, pending."""
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    with WebhookReceiver() as hook:
        sending = threading.Event()
        hook.on_receive = lambda: (sending.set(), time.sleep(1))
        queued = dispatcher(url, hook.url, "1m")
        queue_alerts(queued, 12)
        queued.db.dispose()
        path = tmp_path / "eventwatch.yaml"
        path.write_text(yaml.safe_dump({
            "database": url,
            "sources": [source_yaml("pam", "http://127.0.0.1:9", enabled=False)],
            "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["hook"]}],
            "channels": {"hook": {"type": "webhook", "url": hook.url, "timeout": 10}},
            "daemon": {"listen": None, "dispatch_every": "1s"},
        }))  # fmt: skip
        daemon = Daemon(path)
        daemon.start()
        try:
            assert sending.wait(90)
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            daemon.stop()
        keys = Counter(headers["X-Eventwatch-Delivery"] for headers, _ in hook.received)
        assert set(keys.values()) == {1}, keys  # some sent, none twice
        assert len(keys) < 12, "the whole backlog was sent after the stop"
        store = Store(url)
        try:
            sent = store.scalar(select(func.count()).where(Delivery.status == "sent"))
            pending = store.scalar(select(func.count()).where(Delivery.status == "pending"))
            assert (sent, pending) == (len(keys), 12 - len(keys))
        finally:
            store.db.dispose()


def _quiet_daemon(tmp_path: Path, port: int) -> tuple[Path, str]:
    """A daemon's config with nothing to crawl or send, serving /healthz on ``port``."""
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump({
        "database": url,
        "sources": [source_yaml("pam", "http://127.0.0.1:9", enabled=False)],
        "daemon": {"listen": f"127.0.0.1:{port}"},
    }))  # fmt: skip
    return path, url


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def test_a_database_file_deleted_under_the_daemon_is_seen(tmp_path: Path) -> None:
    """The daemon wrote on to the file it had open: /healthz said the database was fine,
    and everything stored since was lost at the next start, its alerts sent again."""
    port = free_port()
    path, _ = _quiet_daemon(tmp_path, port)
    daemon = Daemon(path)
    daemon.start()
    try:
        assert wait_for(lambda: _health(port)[0] == 200)
        for name in ("eventwatch.db", "eventwatch.db-wal", "eventwatch.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        assert wait_for(lambda: _health(port)[0] == 503)
        _, body = _health(port)
        assert body["database"] is False
        assert "eventwatch.db is gone (deleted or moved while in use)" in body["database_problem"]
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        daemon.stop()
    assert daemon.process is not None and daemon.process.stderr is not None
    assert "ERROR monitor.daemon: the database file" in daemon.process.stderr.read()


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``signum`` (/proc's SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (signum - 1) & 1)


def test_a_sighup_while_the_daemon_starts_is_a_reload_not_its_end(tmp_path: Path) -> None:
    """Its handlers came only once it had read its config and migrated the database: a
    SIGHUP meanwhile ended it without a word (exit code 129). The new database's file is
    held locked here, so that the start waits to create it while the SIGHUP comes."""
    port = free_port()
    path, _ = _quiet_daemon(tmp_path, port)
    holder = sqlite3.connect(tmp_path / "eventwatch.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    daemon = Daemon(path)
    daemon.start()
    try:
        assert daemon.process is not None
        pid = daemon.process.pid
        assert wait_for(lambda: _catches(pid, signal.SIGHUP), 30)
        daemon.signal(signal.SIGHUP)
        holder.execute("ROLLBACK")
        assert wait_for(lambda: _health(port)[0] == 200)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    finally:
        holder.close()
        daemon.stop()
    assert daemon.process.stderr is not None
    assert "config reloaded" in daemon.process.stderr.read()


def test_ctrl_c_in_a_terminal_stops_the_daemon_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's foreground group, the crawl process
    too. It died of it mid-import: a KeyboardInterrupt traceback in a warning, its crawl
    started again in a new process, and that one killed. The daemon alone decides how its
    crawls stop."""
    with silent_server() as silent:
        hung = source_yaml("hung", silent, schedule={"every": "2s"}, time_limit="60s")
        listen = f"127.0.0.1:{free_port()}"
        config = config_for(tmp_path, [hung], "http://127.0.0.1:9/", listen)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # its own group, as a terminal's foreground job is
            env={**os.environ, "SOC_SECRET": SECRET},
        )  # fmt: skip
        try:
            assert daemon.stderr is not None
            said: list[str] = []
            for line in daemon.stderr:
                said.append(line)
                if "crawl process" in line and "started" in line:
                    break
            os.killpg(daemon.pid, signal.SIGINT)  # the crawl process is still starting up
            _, rest = daemon.communicate(timeout=90)
            said += rest.splitlines()
            assert daemon.returncode == 0
            log = "\n".join(said)
            assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
            assert sum("crawl process" in line and "started" in line for line in said) == 1, log
            store = Store(f"sqlite:///{tmp_path / 'eventwatch.db'}")
            assert store.runs("hung") <= 1, "the crawl was not started again"
            left_open = (
                select(func.count(CrawlRun.id))
                .join(Source)
                .where(Source.name == "hung", CrawlRun.finished_at.is_(None))
            )
            assert store.scalar(left_open) == 0, "a run was left open"
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
