"""Several `eventwatch worker` processes share one PostgreSQL database's schedule: every
source is crawled on its cadence by one of them at a time, a worker killed with SIGKILL mid-
crawl has its crawls run by the others, and a new article is stored once and alerted once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from sqlalchemy import func, select, text

from crawlers.launcher.child import CRAWL_COMMAND
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Article, CrawlRun, ScheduleState, Source, SourceRequest
from storage.triage import request_crawl
from tests import postgres
from tests.fleet import Fleet, fleet_sources, serve_fleet
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.skipif(postgres.UNAVAILABLE is not None, reason=str(postgres.UNAVAILABLE))

SOURCES = 50
EVERY = 5  # seconds


def wait_for(condition: Callable[[], bool], seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres.running_server() as server:
        yield postgres.create_database(server, "workers")


def _config(path: Path, url: str, fleet: Fleet, hook: str) -> Path:
    config: dict[str, Any] = {
        "database": url,
        "sources": fleet_sources(fleet, f"{EVERY}s"),
        "rules": [{"name": "new-stories", "query": "story", "notify": ["hook"]}],
        "channels": {"hook": {"type": "webhook", "url": hook}},
        "daemon": {"listen": None, "crawl_processes": 1, "tick_every": "1s",
                   "match_every": "1s", "dispatch_every": "1s",
                   "heartbeat_every": "1s", "stalled_after": "10s"},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


def _worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), "worker"],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=dict(os.environ),
    )  # fmt: skip


def _runs(db: Database) -> list[tuple[str, datetime, datetime | None, datetime | None, str]]:
    with db.session() as session:
        return [
            (name, started, finished, due, status)
            for name, started, finished, due, status in session.execute(
                select(
                    Source.name,
                    CrawlRun.started_at,
                    CrawlRun.finished_at,
                    CrawlRun.due_at,
                    CrawlRun.status,
                )
                .join(Source)
                .order_by(CrawlRun.started_at)
            )
        ]


def _crawling(worker: subprocess.Popen[bytes]) -> bool:
    """Whether the worker's crawl process is serving a crawl right now (holds a socket)."""
    try:
        children = psutil.Process(worker.pid).children()
        crawls = [c for c in children if CRAWL_COMMAND in " ".join(c.cmdline())]
        return any(c.net_connections(kind="tcp4") for c in crawls)
    except psutil.Error:
        return False


def test_three_workers_crawl_each_due_source_once_and_survive_a_kill_9(
    pg_url: str, tmp_path: Path
) -> None:
    db = Database(pg_url)
    with serve_fleet(SOURCES) as fleet, WebhookReceiver() as hook:
        config = _config(tmp_path / "eventwatch.yaml", pg_url, fleet, hook.url)
        upgrade(pg_url)  # as `eventwatch db upgrade` would; each worker checks it too
        workers = [_worker(config, tmp_path / f"worker{i}.log") for i in range(3)]
        everyone = {f"site{i}" for i in range(SOURCES)}
        try:
            started = datetime.now(UTC)
            assert wait_for(lambda: _crawled_since(db, started) >= everyone), "every source crawled"
            assert wait_for(lambda: len(hook.received) >= SOURCES), "the first stories alerted"
            victim = workers[0]
            assert wait_for(lambda: _crawling(victim), 60), "the worker to kill is crawling"
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = datetime.now(UTC)
            url = fleet.publish(7)
            assert wait_for(lambda: _stored(db, url) == 1), "the new article stored"
            # every source is crawled again after the kill, by the two left
            assert wait_for(lambda: _crawled_since(db, killed) >= everyone), "all, after the kill"
            assert wait_for(lambda: _alerted(hook, url) == 1), "the new article alerted"
            time.sleep(3 * EVERY)  # time for a doubled crawl or alert to show
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(90)
        runs = _runs(db)
        assert _stored(db, url) == 1
        assert _alerted(hook, url) == 1
        assert _overlaps(runs) == []
        assert _doubled(runs) == []
        assert len([r for r in runs if r[1] > started]) > 2 * SOURCES
        assert [w.returncode for w in workers[1:]] == [0, 0]
    db.dispose()


def _crawled_since(db: Database, since: datetime) -> set[str]:
    return {name for name, started, _, _, status in _runs(db) if started > since and status == "ok"}


def _stored(db: Database, url: str) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(Article.id)).where(Article.url == url)) or 0)


def _alerted(hook: WebhookReceiver, url: str) -> int:
    import json

    return sum(
        url in [a.get("url") for a in json.loads(body).get("event", {}).get("articles", [])]
        for _, body in hook.received
    )


def _overlaps(runs: list[Any]) -> list[str]:
    """Sources crawled twice at once: a run that started before the previous one ended.
    A run its worker's death cut short never ended; the next one may start any time."""
    last_end: dict[str, datetime | None] = {}
    found = []
    for name, started, finished, _, _ in runs:
        end = last_end.get(name)
        if end is not None and started < end:
            found.append(name)
        last_end[name] = finished
    return found


def _doubled(runs: list[Any]) -> list[tuple[str, datetime]]:
    """Due times crawled to the end more than once."""
    seen: dict[tuple[str, datetime], int] = {}
    for name, _, _, due, status in runs:
        if due is not None and status == "ok":
            seen[(name, due)] = seen.get((name, due), 0) + 1
    return [key for key, count in seen.items() if count > 1]


def _slow_source(base_url: str, name: str = "slow") -> dict[str, Any]:
    return {"name": name, "start_urls": [f"{base_url}/"], "schedule": {"every": "1h"},
            "time_limit": "300s"}  # fmt: skip


def _worker_config(path: Path, url: str, sources: list[dict[str, Any]]) -> Path:
    daemon = {"listen": None, "crawl_processes": 1, "tick_every": "1s", "match_every": "1s",
              "dispatch_every": "1s", "heartbeat_every": "1s", "stalled_after": "10s"}  # fmt: skip
    path.write_text(yaml.safe_dump({"database": url, "sources": sources, "daemon": daemon}))
    return path


@contextmanager
def _own_server_worker(
    tmp_path: Path, sites: int, every: str
) -> Iterator[tuple[str, Database, subprocess.Popen[bytes]]]:
    """One worker on a PostgreSQL server of its own (the test stops or restarts it), crawling
    ``sites`` fleet sites; the server's URL, the database and the worker, once all are crawled."""
    with postgres.running_server() as server, serve_fleet(sites) as fleet:
        url = postgres.create_database(server, "own")
        db = Database(url)
        config = _worker_config(tmp_path / "ew.yaml", url, fleet_sources(fleet, every))
        upgrade(url)
        worker = _worker(config, tmp_path / "worker.log")
        try:
            started = datetime.now(UTC)
            assert wait_for(lambda: len(_crawled_since(db, started)) == sites)
            yield server, db, worker
        finally:  # each test stops its worker itself; this is for a test that failed first
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            db.dispose()


def test_a_worker_goes_on_when_postgresql_restarts(tmp_path: Path) -> None:
    """procrastinate stops its worker when its listener loses the database; the worker had
    then ended with exit code 0, and nothing was crawled on its machine again."""
    with _own_server_worker(tmp_path, 2, "3s") as (server, db, worker):
        postgres.restart(server)
        db.dispose()  # its connections were cut off
        restarted = datetime.now(UTC)
        log = tmp_path / "worker.log"
        assert wait_for(lambda: len(_crawled_since(db, restarted)) == 2, 90), log.read_text()[
            -3000:
        ]
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(90) == 0


def test_sigterm_stops_a_crawl_that_another_worker_then_runs_for_its_due_time(
    pg_url: str, tmp_path: Path
) -> None:
    """The crawl cut short is closed ``stopped`` (not ``ok``, which had counted its due time
    as served and lost it), and its job is queued again for another worker."""
    from tests.conftest import FIXTURES
    from tests.sitehost import serve

    db = Database(pg_url)
    with serve(FIXTURES / "sites" / "wpnews", delay=1.5) as site:
        config = _worker_config(tmp_path / "ew.yaml", pg_url, [_slow_source(site.base_url)])
        upgrade(pg_url)
        first = _worker(config, tmp_path / "first.log")
        second: subprocess.Popen[bytes] | None = None
        try:
            assert wait_for(lambda: _slow(db) and _slow(db)[0][4] == "running", 90)
            time.sleep(2)  # well into the crawl
            first.send_signal(signal.SIGTERM)
            assert first.wait(90) == 0
            [(_, _, _, due, status)] = _slow(db)
            assert status == "stopped"
            second = _worker(config, tmp_path / "second.log")
            assert wait_for(lambda: [r[4] for r in _slow(db)] == ["stopped", "ok"], 180), _slow(db)
            assert _slow(db)[1][3] == due  # the same due time, crawled to its end
        finally:
            _stop(first, second)
            db.dispose()


def _stop(*workers: subprocess.Popen[bytes] | None) -> None:
    for worker in workers:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(90)


def _slow(
    db: Database, name: str = "slow"
) -> list[tuple[str, datetime, datetime | None, datetime | None, str]]:
    return [run for run in _runs(db) if run[0] == name]


def _waiting_crawls(db: Database, name: str) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'crawl' "
                    "AND status = 'todo' AND args->>'name' = :name"
                ),
                {"name": name},
            )
            or 0
        )


def test_sigterm_during_a_download_that_outlasts_the_grace_still_queues_the_crawl_again(
    pg_url: str, tmp_path: Path
) -> None:
    """A download in flight may take Scrapy's 30 s, as long as the engine's grace had been:
    the job was aborted before it could queue its crawl again, and the run closed failed."""
    from tests.conftest import FIXTURES
    from tests.sitehost import serve

    db = Database(pg_url)
    with serve(FIXTURES / "sites" / "wpnews", delay=60) as site:
        config = _worker_config(tmp_path / "ew.yaml", pg_url, [_slow_source(site.base_url, "hung")])
        upgrade(pg_url)
        worker = _worker(config, tmp_path / "worker.log")
        try:
            assert wait_for(lambda: bool(_slow(db, "hung")), 90)
            time.sleep(1)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(90) == 0
            assert [run[4] for run in _slow(db, "hung")] == ["stopped"]
            assert _waiting_crawls(db, "hung") == 1
        finally:
            if worker.poll() is None:
                worker.kill()
            db.dispose()


def test_a_crawl_the_closing_pool_never_began_is_queued_again(pg_url: str, tmp_path: Path) -> None:
    """A worker stopping closes its pool first, which cancels the crawls it has not begun
    (their process still starting). Their jobs had ended with nothing queued again, so the
    source waited for its next due time; one asked of the closed pool had waited for ever."""
    from monitor.config import load_config
    from monitor.worker import Worker

    sources = [_slow_source("http://127.0.0.1:9", "unbegun")]
    path = _worker_config(tmp_path / "ew.yaml", pg_url, sources)
    upgrade(pg_url)
    worker = Worker(load_config(str(path))[1], "WARNING")
    db = Database(pg_url)
    try:
        worker.pool.close(5)  # as the worker's stop does before the engine's jobs end

        async def crawl_job() -> str:
            async with worker.app.open_async():
                due_at = datetime.now(UTC).isoformat()
                return await asyncio.wait_for(worker.crawl("unbegun", due_at), 60)

        assert asyncio.run(crawl_job()) == "stopped"
        assert _waiting_crawls(db, "unbegun") == 1
        with db.session() as session:
            state = session.get(ScheduleState, "unbegun")
            assert state is not None and state.crawling_by is None  # its lease let go
    finally:
        worker.ctx.db.dispose()
        db.dispose()


def test_sigterm_while_postgresql_is_away_ends_the_worker_cleanly(tmp_path: Path) -> None:
    """The engine's goodbye to the database that is away had ended it with a traceback and
    exit code 1, and a write the pool retried until the database came back held it for ever."""
    with _own_server_worker(tmp_path, 1, "2s") as (server, db, worker):
        db.dispose()
        postgres.stop(server)
        time.sleep(3)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(90) == 0, (tmp_path / "worker.log").read_text()[-2000:]


def test_a_full_crawl_pool_takes_no_more_crawls_and_the_schedule_goes_on(
    pg_url: str, tmp_path: Path
) -> None:
    """One engine worker took crawls and the schedule's jobs alike, with the pool's capacity
    plus four slots: six sources that hang filled all of them, so ticks, matching and
    dispatch waited, and five crawls sat leased in a worker that could run one at a time."""
    from tests.sitehost import silent_server

    db = Database(pg_url)
    with silent_server() as hung, WebhookReceiver() as hook:
        sources = [{"name": f"hung{i}", "start_urls": [f"{hung}/{i}/"], "time_limit": "60s",
                    "schedule": {"every": "1h"}} for i in range(6)]  # fmt: skip
        path = tmp_path / "eventwatch.yaml"
        config = yaml.safe_load(_config(path, pg_url, Fleet(0), hook.url).read_text())
        config["sources"] = sources
        config["daemon"] |= {"crawls_per_process": 1, "max_parallel_crawls": 1}
        path.write_text(yaml.safe_dump(config))
        upgrade(pg_url)
        worker = _worker(path, tmp_path / "worker.log")

        def jobs(status: str, queue: str) -> int:
            with db.session() as session:
                return int(session.scalar(text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status = :s AND queue_name = :q"
                ), {"s": status, "q": queue}) or 0)  # fmt: skip

        try:
            assert wait_for(lambda: jobs("doing", "crawls") >= 1), "a crawl started"
            assert wait_for(lambda: jobs("todo", "crawls") >= 1), "the others wait in the queue"
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                assert jobs("doing", "crawls") == 1, "no crawl taken that cannot start"
                time.sleep(0.2)
            request_crawl(db, "hung5", "test")  # the schedule's ticks go on: read at once
            assert wait_for(lambda: _requests_left(db) == 0, 30), "a tick read the request"
        finally:
            worker.terminate()
            worker.wait(90)
    db.dispose()


def _requests_left(db: Database) -> int:
    with db.session() as session:
        asked = SourceRequest.crawl_requested_at.is_not(None)
        return int(session.scalar(select(func.count()).where(asked)) or 0)


def test_a_worker_stopped_past_its_lease_fetches_nothing_once_another_took_its_source(
    pg_url: str, tmp_path: Path
) -> None:
    """A worker stopped whole (SIGSTOP, Ctrl-Z, a machine swapped out) past its lease on a
    source, which another worker took meanwhile: its crawl had gone on fetching the moment it
    woke, beside the other's. Each worker names itself in its User-Agent, so the site can
    tell their requests apart."""
    from tests import newsroom
    from tests.sitehost import serve

    root = tmp_path / "newsroom"
    newsroom.build(root)
    db = Database(pg_url)
    with serve(root, delay=1.0) as site:
        configs = {}
        for who in ("first", "second"):
            source = _slow_source(site.base_url, "stalled")
            source["scrapy_settings"] = {"USER_AGENT": f"eventwatch-{who}"}
            configs[who] = _worker_config(tmp_path / f"{who}.yaml", pg_url, [source])
        upgrade(pg_url)
        first = _worker(configs["first"], tmp_path / "first.log")
        second: subprocess.Popen[bytes] | None = None

        def asked_by(who: str, since: int = 0) -> int:
            agents = [headers.get("User-Agent", "") for _, headers in site.requests[since:]]
            return sum(agent == f"eventwatch-{who}" for agent in agents)

        try:
            assert wait_for(lambda: asked_by("first") >= 3, 90), "the first worker is crawling"
            frozen = [psutil.Process(first.pid), *psutil.Process(first.pid).children(True)]
            for process in frozen:
                process.suspend()
            try:
                second = _worker(configs["second"], tmp_path / "second.log")
                assert wait_for(lambda: asked_by("second") >= 3, 120), "the second took it"
                woke = len(site.requests)
            finally:
                for process in frozen:
                    process.resume()
            time.sleep(3)  # a crawl left going on asks a page every second
            assert asked_by("first", woke) == 0
            assert wait_for(lambda: _slow(db, "stalled")[0][4] != "running", 60)
            [(_, _, _, _, status), *_] = _slow(db, "stalled")
            assert status == "stopped"
            assert wait_for(lambda: "ok" in [run[4] for run in _slow(db, "stalled")], 120)
            assert first.poll() is None and second.poll() is None
        finally:
            _stop(first, second)
            db.dispose()
        runs = _slow(db, "stalled")
        assert [r[4] for r in runs].count("ok") == 1, runs
        for log in ("first.log", "second.log"):  # the job's end, recorded twice: one line
            said = (tmp_path / log).read_text()
            assert "Traceback" not in said, said[-3000:]
