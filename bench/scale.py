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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import yaml
from sqlalchemy import select

from bench.figures import Figure
from bench.setup import EVENTWATCH, ROOT
from storage.db import Database
from storage.models import Article, CrawlRun, Source
from tests.fleet import Fleet, fleet_sources, serve_fleet


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


def tree_cpu(pid: int) -> float:
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
    """(daemon's RSS, the largest crawl process's RSS), in MB; a crawl process that ends
    while it is read (the pool recycles them) counts for nothing."""
    root = psutil.Process(pid)
    crawls = [_crawl_rss(child) for child in root.children()]
    return root.memory_info().rss / 2**20, max(crawls, default=0) / 2**20


def _crawl_rss(process: psutil.Process) -> int:
    try:
        is_crawl = "crawlers.crawling.crawl" in " ".join(process.cmdline())
        return process.memory_info().rss if is_crawl else 0
    except psutil.Error:  # gone, or a zombie not yet reaped
        return 0


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
    warm = min(every, 300.0) + 10.0  # the first crawls are staggered over a cycle
    rng = random.Random(3)
    try:
        time.sleep(warm)
        window_start = datetime.now(UTC)
        cpu_start, wall_start = tree_cpu(daemon.pid), time.monotonic()
        rss = (0.0, 0.0)
        next_publish = time.monotonic()
        published: dict[str, float] = {}
        publish_until = wall_start + seconds - 2 * every  # each has two cadences to be stored
        while time.monotonic() - wall_start < seconds:
            if next_publish <= time.monotonic() < publish_until:
                url = fleet.publish(rng.randrange(len(fleet.sites)))
                published[url] = time.time()
                next_publish += publish_every
            rss = max(rss, _rss(daemon.pid))
            time.sleep(0.5)
        cpu = tree_cpu(daemon.pid) - cpu_start
        wall = time.monotonic() - wall_start
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


CURVE = (300, 1000, 3000)  # sources, each every EVERY: the rate of 30 x as many every 30 min
EVERY = 60.0
TARGET_SOURCES = 300
DONE_TARGET, GAP_TARGET, CORES_TARGET = 0.95, 75.0, 0.5


def scale_figures(folder: Path, quick: bool, raw: dict[str, object]) -> list[Figure]:
    """The curve (quick: one small run, a smoke test of the harness)."""
    plan = [(100, 15.0, 60.0)] if quick else [(n, EVERY, 180.0) for n in CURVE]
    figures = []
    for sources, every, seconds in plan:
        result = run_scale(folder, sources, every, seconds)
        raw[f"scale_{sources}"] = asdict(result)
        figures.append(_figure(result, judged=not quick and sources == TARGET_SOURCES))
    return figures


def _figure(r: ScaleResult, judged: bool) -> Figure:
    value = (
        f"{r.done}/{r.due} done ({r.done_share:.0%}), gap p95 {r.gap_p95:.0f} s, "
        f"lag p95 {r.lag_p95:.1f} s, {r.cores:.2f} cores, RSS {r.daemon_rss_mb:.0f}+"
        f"{r.crawl_rss_mb:.0f} MB, stored {r.stored}/{r.published} p95 {r.store_p95:.0f} s"
    )
    passed = None
    reference = "informs: the curve"
    if judged:
        passed = (
            r.done_share >= DONE_TARGET and r.gap_p95 <= GAP_TARGET and r.cores <= CORES_TARGET
            and r.stored == r.published and r.store_p95 <= 2 * r.every
        )  # fmt: skip
        reference = (f">= {DONE_TARGET:.0%} done, gap p95 <= {GAP_TARGET:.0f} s, <= "
                     f"{CORES_TARGET} cores, stored within 2 cadences")  # fmt: skip
    return Figure(f"scale: {r.sources} sources every {r.every:.0f} s", value, reference, passed)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--every", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=240)
    args = parser.parse_args()
    print(run_scale(Path("/tmp/eventwatch-scale"), args.sources, args.every, args.seconds))
