"""Two `eventwatch worker` processes against one, on one PostgreSQL: source-crawls a second
when there are more due crawls than they can do (every source due every few seconds).

On a 2-core machine the second worker shares the cores with the first and with PostgreSQL,
so this tells the cost of the shared schedule more than a gain; the limit on paper (the job
engine's rate, the writes per crawl) is in bench/README.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bench.figures import Figure
from bench.scale import tree_cpu
from bench.setup import EVENTWATCH, ROOT
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CrawlRun
from tests import postgres
from tests.fleet import fleet_sources, serve_fleet

SOURCES = 300
EVERY = "5s"  # far more due crawls than two cores can do: the rate is the workers' own
WARM_SECONDS = 20.0


def _finished_since(db: Database, since: datetime) -> int:
    with db.session() as session:
        query = select(func.count(CrawlRun.id)).where(
            CrawlRun.started_at >= since, CrawlRun.finished_at.is_not(None)
        )
        return int(session.scalar(query) or 0)


def _rate(url: str, config: Path, workers: int, seconds: float) -> tuple[float, float]:
    """(source-crawls a second, cores used by the workers) with ``workers`` workers."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = [
        subprocess.Popen(
            [*EVENTWATCH, "--config", str(config), "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    db = Database(url)
    try:
        time.sleep(WARM_SECONDS)
        since = datetime.now(UTC)
        cpu = sum(tree_cpu(p.pid) for p in started)
        wall = time.monotonic()
        time.sleep(seconds)
        cores = (sum(tree_cpu(p.pid) for p in started) - cpu) / (time.monotonic() - wall)
        done = _finished_since(db, since)
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        db.dispose()
    return done / seconds, cores


def worker_figures(folder: Path, quick: bool, raw: dict[str, object]) -> list[Figure]:
    if quick or postgres.UNAVAILABLE is not None:
        return []  # a minute a worker count; PostgreSQL may be missing
    folder.mkdir(parents=True, exist_ok=True)
    figures = []
    with postgres.running_server() as server, serve_fleet(SOURCES) as fleet:
        for workers in (1, 2):
            url = postgres.create_database(server, f"workers{workers}")
            upgrade(url)
            config = folder / f"workers{workers}.yaml"
            config.write_text(yaml.safe_dump({
                "database": url, "sources": fleet_sources(fleet, EVERY),
                "daemon": {"listen": None, "tick_every": "1s"},
            }))  # fmt: skip
            rate, cores = _rate(url, config, workers, 60.0)
            raw[f"workers_{workers}"] = {"crawls_per_second": rate, "cores": cores}
            figures.append(Figure(
                f"workers: {workers} on PostgreSQL, {SOURCES} sources every {EVERY}",
                f"{rate:.1f} source-crawls/s, {cores:.2f} cores (workers)",
                "informs: saturated; PostgreSQL on the same 2 cores",
            ))  # fmt: skip
    return figures
