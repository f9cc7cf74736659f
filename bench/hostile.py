"""One crawl of the hostile site (tests/hostile.py) with production settings: wall time and
peak memory. The acceptance bar of issue 7: under two minutes, under 1.5 GB, good articles
stored, nothing forbidden fetched.

Usage: .venv/bin/python bench/hostile.py [--download-timeout S] [--time-limit 15m] [--keep]

Everything is the shipped default (DOWNLOAD_TIMEOUT 30 s, two requests per host, 0.5 s
delay, AutoThrottle, two retries, 10 MB pages, 1 GB memory cap, 15 min time limit); the
options only let you try others. The peak RSS of the crawl subprocess (which the CLI
starts) is sampled every 50 ms and also read from the kernel's high-water mark of the
largest descendant (``ru_maxrss``), which no sampling can miss. Exit status 1 if a bar is
missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile import FEEDS, GOOD_ARTICLES, SITEMAPS, HostileSite, serve_hostile

MB = 1024 * 1024


def write_config(folder: Path, site: HostileSite, args: argparse.Namespace) -> Path:
    base = site.base_url
    source = {
        "name": "hostile",
        "start_urls": [base + "/"],
        "feeds": [base + path for path in FEEDS],
        "sitemaps": [base + path for path in SITEMAPS],
        "time_limit": args.time_limit,
        "scrapy_settings": {},
    }
    if args.download_timeout is not None:
        source["scrapy_settings"]["DOWNLOAD_TIMEOUT"] = args.download_timeout
    if args.keep:  # the crawl's own log, for a look at where the time went
        source["scrapy_settings"]["LOG_FILE"] = str(folder / "crawl.log")
    config = {"database": f"sqlite:///{folder / 'bench.db'}", "sources": [source]}
    path = folder / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_and_watch(command: list[str], env: dict[str, str]) -> tuple[str, float, int, int]:
    """Run the CLI; return its output, the wall time, the peak RSS of the crawl subprocess
    (``python -m crawlers.crawling.crawl``) and the peak of the whole tree's summed RSS."""
    started = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    crawl_peak = tree_peak = 0
    watched = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            sizes = {p.pid: p.memory_info().rss for p in tree}
            crawls = [p.pid for p in tree if "crawlers.crawling.crawl" in " ".join(p.cmdline())]
        except psutil.Error:
            continue
        tree_peak = max(tree_peak, sum(sizes.values()))
        crawl_peak = max([crawl_peak, *(sizes[pid] for pid in crawls)])
        time.sleep(0.05)
    output = child.stdout.read().decode() if child.stdout else ""
    return output, time.monotonic() - started, crawl_peak, tree_peak


def stored_titles(folder: Path) -> set[str]:
    with sqlite3.connect(folder / "bench.db") as connection:
        return {row[0] for row in connection.execute("SELECT title FROM articles")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--download-timeout", type=float, default=None)
    parser.add_argument("--time-limit", default="15m")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="eventwatch-hostile-"))
    with serve_hostile(folder) as site:
        config = write_config(folder, site, args)
        env = {**os.environ, "http_proxy": site.canary.base_url, "no_proxy": "127.0.0.1"}
        command = [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl"]
        output, seconds, peak, tree = run_and_watch([*command, "hostile", "--no-alerts"], env)
        forbidden = list(site.canary.requests)
    kernel_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    titles = stored_titles(folder)
    missing = [a.path for a in GOOD_ARTICLES if not any(t.startswith(a.title) for t in titles)]
    print(output.strip().splitlines()[0] if output.strip() else "(no output)")
    print(f"wall time        {seconds:6.1f} s")
    print(f"peak RSS crawl   {peak / MB:6.0f} MB (crawl subprocess, sampled every 50 ms)")
    print(f"peak RSS kernel  {kernel_peak / MB:6.0f} MB (largest descendant, ru_maxrss)")
    print(f"peak RSS all     {tree / MB:6.0f} MB (CLI and crawl together, sampled)")
    print(f"good articles    {len(GOOD_ARTICLES) - len(missing)}/{len(GOOD_ARTICLES)} stored")
    print(f"forbidden fetches {len(forbidden)}")
    if args.keep:
        print(f"kept             {folder}")
    else:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()
    ok = seconds < 120 and kernel_peak < 1.5 * 1024 * MB and not missing and not forbidden
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
