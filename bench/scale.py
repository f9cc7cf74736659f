"""The scale curve: one `eventwatch run` over many small loopback sites at a compressed
cadence, and what it keeps of its schedule.

For N sites crawled every C seconds: crawls done over crawls due, the p95 gap between one
source's crawl starts and p95 lag behind the schedule, the cores the daemon's whole process
tree used, the daemon's and its crawl processes' RSS, and how long a new article took from
its publication on a site to its row in the database (p95).
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import yaml
from sqlalchemy import select

from bench.setup import EVENTWATCH, ROOT
from storage.db import Database
from storage.models import Article, CrawlRun, Source
from tests.fleet import Fleet, fleet_sources, serve_fleet

WARM_UP_CYCLES = 1  # the first cycle starts every source at once; it is not what is measured


@dataclass(frozen=True, slots=True)
class ScaleResult:
    sources: int
    every: float
    seconds: float
    due: int
    done: int
    gap_p95: float
    lag_p95: float
    cores: float
    daemon_rss_mb: float
    crawl_rss_mb: float
    published: int
    stored: int
    store_p95: float
    overlaps: int

    @property
    def done_share(self) -> float:
        return self.done / self.due if self.due else 0.0


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20)[18]


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children, living ones only."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()  # with the children it has reaped (recycled ones)
            total += times.user + times.system + times.children_user + times.children_system
        return total
    except psutil.Error:
        return 0.0


def _rss(pid: int) -> tuple[float, float]:
    """(daemon's RSS, the largest crawl process's RSS), in MB."""
    root = psutil.Process(pid)
    crawls = [
        p.memory_info().rss for p in root.children() if "crawlers.crawl" in " ".join(p.cmdline())
    ]
    return root.memory_info().rss / 2**20, max(crawls, default=0) / 2**20


def run_scale(
    folder: Path, sources: int, every: float, seconds: float, publish_every: float = 2.0
) -> ScaleResult:
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / f"scale-{sources}.db"
    database.unlink(missing_ok=True)
    with serve_fleet(sources) as fleet:
        config = folder / f"scale-{sources}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{database}",
                    "sources": fleet_sources(fleet, f"{every:g}s"),
                    "daemon": {"listen": None},
                },
                sort_keys=False,
            )
        )
        return _measure(folder, database, config, fleet, every, seconds, publish_every)


def _measure(
    folder: Path,
    database: Path,
    config: Path,
    fleet: Fleet,
    every: float,
    seconds: float,
    publish_every: float,
) -> ScaleResult:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*EVENTWATCH, "--config", str(config), "db", "upgrade"], env=env, check=True,
                   capture_output=True, cwd=ROOT)  # fmt: skip
    log = (folder / f"scale-{len(fleet.sites)}.log").open("w")
    daemon = subprocess.Popen([*EVENTWATCH, "--config", str(config), "run"], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    warm = WARM_UP_CYCLES * every + min(every, 300.0)  # first crawls are staggered over a cycle
    rng = random.Random(3)
    try:
        time.sleep(warm)
        window_start = datetime.now(UTC)
        cpu_start, wall_start = _tree_cpu(daemon.pid), time.monotonic()
        rss = (0.0, 0.0)
        next_publish = time.monotonic()
        published: dict[str, float] = {}
        while time.monotonic() - wall_start < seconds:
            if time.monotonic() >= next_publish:
                url = fleet.publish(rng.randrange(len(fleet.sites)))
                published[url] = time.time()
                next_publish += publish_every
            rss = max(rss, _rss(daemon.pid))
            time.sleep(0.5)
        cpu = _tree_cpu(daemon.pid) - cpu_start
        wall = time.monotonic() - wall_start
        time.sleep(2 * every)  # what was published last has two cycles to be stored
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
    return _result(database, len(fleet.sites), every, wall, window_start, cpu, rss, published)


def _result(
    database: Path,
    sources: int,
    every: float,
    wall: float,
    window_start: datetime,
    cpu: float,
    rss: tuple[float, float],
    published: dict[str, float],
) -> ScaleResult:
    db = Database(f"sqlite:///{database}")
    try:
        with db.session() as session:
            runs = session.execute(
                select(Source.name, CrawlRun.started_at, CrawlRun.finished_at, CrawlRun.due_at)
                .join(Source)
                .order_by(CrawlRun.started_at)
            ).all()
            stored = dict(
                session.execute(
                    select(Article.url, Article.first_seen).where(Article.url.in_(published))
                ).all()
            )
    finally:
        db.dispose()
    window_end = window_start.timestamp() + wall
    starts: dict[str, list[float]] = {}
    lags, overlaps, done = [], 0, 0
    last_end: dict[str, float] = {}
    for name, started, finished, due in runs:
        start = started.timestamp()
        starts.setdefault(name, []).append(start)
        if name in last_end and start < last_end[name]:
            overlaps += 1
        last_end[name] = finished.timestamp() if finished else float("inf")
        if window_start.timestamp() <= start < window_end:
            done += 1
            if due is not None:
                lags.append(start - due.timestamp())
    gaps = [
        later - earlier
        for times in starts.values()
        for earlier, later in itertools.pairwise(times)
        if window_start.timestamp() <= later < window_end
    ]
    waits = [stored[url].timestamp() - at for url, at in published.items() if url in stored]
    return ScaleResult(
        sources=sources,
        every=every,
        seconds=wall,
        due=int(sources * wall / every),
        done=done,
        gap_p95=_p95(gaps),
        lag_p95=_p95(lags),
        cores=cpu / wall,
        daemon_rss_mb=rss[0],
        crawl_rss_mb=rss[1],
        published=len(published),
        stored=len(waits),
        store_p95=_p95(waits),
        overlaps=overlaps,
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--every", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=240)
    args = parser.parse_args()
    print(run_scale(Path("/tmp/eventwatch-scale"), args.sources, args.every, args.seconds))
