"""The benchmark's working folder: config files over the mirror, and running the CLI on them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.mirror import Site

ROOT = Path(__file__).resolve().parent.parent
EVENTWATCH = [sys.executable, "-m", "monitor.cli"]


def source_entry(site: Site, *, every: str = "30m") -> dict[str, Any]:
    """A source over one mirror site. Politeness delays are off: on a local mirror they would
    measure the delay, not the crawler; everything else is the shipped default."""
    return {
        "name": site.name,
        "start_urls": [site.base_url + "/"],
        "schedule": {"every": every},
        "max_pages": 5000,
        "per_host_concurrency": 8,
        "download_delay": 0,
        "time_limit": "10m",
        "scrapy_settings": {"AUTOTHROTTLE_ENABLED": False},
    }


def write_config(
    path: Path, database: Path, sites: list[Site], every: str = "30m", **extra: Any
) -> Path:
    config = {
        "database": f"sqlite:///{database}",
        "sources": [source_entry(site, every=every) for site in sites],
        **extra,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def eventwatch(config: Path, *args: str, timeout: float = 900) -> tuple[float, str]:
    """Run the CLI to completion; (wall seconds, stdout). A failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(
        [*EVENTWATCH, "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"eventwatch {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return seconds, done.stdout
