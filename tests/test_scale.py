"""One daemon keeps the schedule of 200 sites on loopback addresses, each due every 10 s:
after the first cycle every source is crawled at every due time, none skipped, and no source
is crawled twice at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from monitor.cli import main
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CrawlRun, Source
from tests.fleet import fleet_sources, serve_fleet

SOURCES = 200
EVERY = timedelta(seconds=10)
CYCLES = 4  # measured after the first


def _runs(db: Database) -> dict[str, list[tuple[datetime, datetime | None, datetime | None]]]:
    by_source: dict[str, list[tuple[datetime, datetime | None, datetime | None]]] = {}
    with db.session() as session:
        rows = session.execute(
            select(Source.name, CrawlRun.started_at, CrawlRun.finished_at, CrawlRun.due_at)
            .join(Source)
            .order_by(CrawlRun.started_at)
        )
        for name, started, finished, due in rows:
            by_source.setdefault(name, []).append((started, finished, due))
    return by_source


def _cycles_done(db: Database) -> int:
    runs = _runs(db)
    return min((len(r) for r in runs.values()), default=0) if len(runs) == SOURCES else 0


def test_a_daemon_crawls_200_sites_at_every_due_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'scale.db'}"
    upgrade(url)
    db = Database(url)
    with serve_fleet(SOURCES) as fleet:
        config = tmp_path / "eventwatch.yaml"
        # a short politeness delay: the test is of the schedule; make bench measures the
        # shipped defaults, and a slow CI machine must not turn crawl time into skipped cycles
        sources = fleet_sources(fleet, f"{EVERY.seconds}s", download_delay=0.1)
        config.write_text(yaml.safe_dump({"database": url, "sources": sources,
                                          "daemon": {"listen": None}}))  # fmt: skip
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "daemon.log").open("wb"),
            env=dict(os.environ),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while _cycles_done(db) < 1 + CYCLES and time.monotonic() < deadline:
                time.sleep(1)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(90)
    runs = _runs(db)
    db.dispose()
    assert daemon.returncode == 0
    assert len(runs) == SOURCES
    skipped, overlapping = [], []
    for name, crawls in runs.items():
        assert len(crawls) >= 1 + CYCLES, f"{name} crawled {len(crawls)} times"
        dues = [due for _, _, due in crawls[1 : 1 + CYCLES] if due is not None]
        # the schedule's due times one period apart: a cycle skipped would leave two
        if any(abs(later - earlier - EVERY) > EVERY / 2 for earlier, later in pairwise(dues)):
            skipped.append(name)
        for (_, finished, _), (started, _, _) in pairwise(crawls):
            if finished is None or started < finished:
                overlapping.append(name)
    assert skipped == []
    assert overlapping == []
    assert main(["--config", str(config), "status"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()[: 1 + SOURCES]
    assert header.split()[-2:] == ["lag", "health"]
    assert all(re.search(r" \d+s  (ok|down)", row) for row in rows), rows[:3]  # how late
