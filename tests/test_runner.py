"""The runner: every crawl run it opens is closed, whatever becomes of the crawl process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from crawlers.child import CRAWL_COMMAND
from crawlers.runner import crawl_sources
from crawlers.sources import CrawlSource
from monitor.cli import main
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base
from storage.runs import latest_runs


def test_a_crawl_process_that_cannot_start_closes_every_run_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    sources = [CrawlSource(name=n, start_urls=(f"http://127.0.0.1:9/{n}",)) for n in "ab"]
    db = Database(url)
    try:
        runs = crawl_sources(sources, db)
        assert [(r.source, r.status) for r in runs] == [("a", "failed"), ("b", "failed")]
        assert all("could not start" in (r.error or "") for r in runs)
        assert all(run.finished_at is not None for run in latest_runs(db))
    finally:
        db.dispose()


def test_a_crawl_stopped_by_a_usage_error_leaves_no_crawl_process(tmp_path: Path) -> None:
    """`eventwatch crawl` starts its crawl process before reading the config; when the config
    or the arguments are bad, that process is stopped before it was given anything to do."""
    config = tmp_path / "eventwatch.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'e.db'}\nsources: []\n")
    assert main(["--config", str(config), "crawl", "nosuchsource"]) == 2
    assert main(["--config", str(tmp_path / "missing.yaml"), "crawl", "--all"]) == 2
    crawls = [p for p in psutil.Process().children(recursive=True) if CRAWL_COMMAND in p.cmdline()]
    assert crawls == []
    assert not (tmp_path / "e.db").exists()


def test_a_crawl_process_given_no_job_does_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRAWL_COMMAND], input="", capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_crawls_on_one_database_leave_one_set_of_cached_statements(tmp_path: Path) -> None:
    """The daemon crawls every few minutes for months through one Database. A runner that
    opened an engine of its own per crawl left that engine's dialect and statements in
    SQLAlchemy's per-mapper caches each time: memory that grew for hundreds of crawls."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    db = Database(url)
    try:
        before = _cached_dialects()
        for _ in range(2):
            [run] = crawl_sources([CrawlSource("dead", start_urls=("http://127.0.0.1:9/",))], db)
            assert run.status == "failed"
        assert _cached_dialects() - before == {db.engine.dialect}
    finally:
        db.dispose()


def _cached_dialects() -> set[object]:
    """The dialects (one per engine) in the caches the ORM compiles its writes into."""
    return {key[0] for mapper in Base.registry.mappers for key in mapper._compiled_cache}
