"""The runner: every crawl run it opens is closed, whatever becomes of the crawl process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from crawlers import child as crawl_child
from crawlers.child import CRAWL_COMMAND
from crawlers.runner import crawl_sources
from crawlers.sources import CrawlSource
from monitor.cli import main
from storage.db import Database
from storage.fetchstate import Validators, fetch_states, save_validators
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


# Stands in for the crawl process: keeps the job it was given, reports on its first run
# (after a line of its own on stdout), starts a report on the second and crashes.
FAKE_CRAWL = """
import json, pathlib, sys
job = json.loads(sys.stdin.read())
pathlib.Path({job_file!r}).write_text(json.dumps(job))
first, second = (run_id for run_id, _source in job["runs"][:2])
def report(run_id, **fields):
    print("eventwatch-report " + json.dumps(dict(run=run_id, **fields)), flush=True)
print("a line that is not a report")
report(first, validators={{"http://127.0.0.1:8001/news": ["e2", None, "h2"]}})
report(first, status="ok", error=None, counts=dict(pages=3, new_articles=1, duplicates=0, errors=0))
print('eventwatch-report {{"run": ' + str(second), end="", flush=True)
sys.exit(3)
"""


def test_runs_are_recorded_from_what_the_crawl_process_reported_before_it_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run is given the validators of its own site only; a run reported on keeps its
    counts, verdict and new validators, and the run the crash cut short is closed failed."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    job_file = tmp_path / "job.json"
    monkeypatch.setattr(crawl_child, "CRAWL_COMMAND", FAKE_CRAWL.format(job_file=str(job_file)))
    sources = [
        CrawlSource(name=f"s{port}", start_urls=(f"http://127.0.0.1:{port}/news",))
        for port in (8001, 8002, 8003)
    ]
    db = Database(url)
    try:
        save_validators(
            db,
            {
                "http://127.0.0.1:8001/news": Validators("e1", None, "h1"),
                "http://127.0.0.1:8002/news": Validators(None, "Mon, 30 Nov 2026", "h"),
            },
        )
        runs = crawl_sources(sources, db)
        given = json.loads(job_file.read_text())["validators"]
        assert [given[str(run.id)] for run in runs] == [
            {"http://127.0.0.1:8001/news": ["e1", None, "h1"]},
            {"http://127.0.0.1:8002/news": [None, "Mon, 30 Nov 2026", "h"]},
            {},
        ]
        first, second, third = runs
        assert (first.status, first.pages, first.new_articles, first.error) == ("ok", 3, 1, None)
        assert second.status == third.status == "failed"
        assert "crawl process exited 3" in (second.error or "")
        assert fetch_states(db)["http://127.0.0.1:8001/news"] == Validators("e2", None, "h2")
    finally:
        db.dispose()


def test_a_refresh_gives_the_crawl_process_no_validators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    job_file = tmp_path / "job.json"
    monkeypatch.setattr(crawl_child, "CRAWL_COMMAND", FAKE_CRAWL.format(job_file=str(job_file)))
    sources = [CrawlSource(name=f"s{p}", start_urls=(f"http://127.0.0.1:{p}/",)) for p in (1, 2)]
    db = Database(url)
    try:
        save_validators(db, {"http://127.0.0.1:1/": Validators("e1", None, "h1")})
        crawl_sources(sources, db, refresh=True)
        assert list(json.loads(job_file.read_text())["validators"].values()) == [{}, {}]
    finally:
        db.dispose()
