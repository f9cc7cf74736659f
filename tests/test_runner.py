"""The runner: every crawl run it opens is closed, whatever becomes of the crawl process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from crawlers.launcher import child as crawl_child
from crawlers.launcher.child import CRAWL_COMMAND
from crawlers.launcher.oneshot import crawl_sources
from crawlers.launcher.sources import CrawlSource
from monitor.cli import main
from storage.db import Database
from storage.fetchstate import Validators, fetch_states, save_validators
from storage.migrate import upgrade
from storage.models import Base, CrawlRun
from storage.runs import RunSummary, failures_in_row, get_run, latest_runs


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


@pytest.mark.timeout(120)  # such a crawl had held its slot, and `eventwatch crawl`, for ever
def test_a_source_the_config_would_refuse_fails_alone(tmp_path: Path) -> None:
    """The config refuses a YAML date among scrapy_settings and a port out of range; a
    source built otherwise with one fails alone, and the crawl process takes the other."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    dead = ("http://127.0.0.1:9/",)
    sources = [
        CrawlSource(name="dated", start_urls=dead, extra_settings={"DAY": date(2026, 1, 1)}),
        CrawlSource(name="port", start_urls=("http://127.0.0.1:99999/",)),
        CrawlSource(name="plain", start_urls=dead),
    ]
    db = Database(url)
    try:
        dated, port, plain = crawl_sources(sources, db)
        assert (dated.status, port.status, plain.status) == ("failed", "failed", "failed")
        assert "could not start: TypeError: Object of type date" in (dated.error or "")
        assert "could not start: ValueError: Port out of range" in (port.error or "")
        assert "Connection refused" in (plain.error or "")  # crawled, and the site is down
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


# Stands in for the crawl process: keeps the jobs it is given (those sent within half a
# second), reports on the first (after a line of its own on stdout), starts a report on the
# second and crashes.
FAKE_CRAWL = """
import json, os, select, sys
fd = sys.stdin.fileno()
lines = b""
while select.select([fd], [], [], 0.5)[0]:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    lines += chunk
jobs = [j for j in map(json.loads, lines.splitlines()[1:]) if j.get("op") == "crawl"]
with open({job_file!r}, "a") as out:
    out.writelines(json.dumps(job) + "\\n" for job in jobs)
first, second = (job["run"] for job in (jobs + jobs)[:2])
def report(run_id, **fields):
    print("eventwatch-report " + json.dumps(dict(run=run_id, **fields)), flush=True)
print("a line that is not a report")
report(first, validators={{"http://127.0.0.1:8001/news": ["e2", None, "h2"]}})
report(first, status="ok", error=None, counts=dict(pages=3, new_articles=1, duplicates=0, errors=0))
report(first, finished=True)
print('eventwatch-report {{"run": ' + str(second), end="", flush=True)
sys.exit(3)
"""


def _all_runs(db: Database) -> list[RunSummary]:
    with db.session() as session:
        ids = session.scalars(select(CrawlRun.id).order_by(CrawlRun.id)).all()
    return [get_run(db, run_id) for run_id in ids]


def _jobs(job_file: Path) -> dict[int, dict[str, object]]:
    return {job["run"]: job for job in map(json.loads, job_file.read_text().splitlines())}


def test_runs_are_recorded_from_what_the_crawl_process_reported_before_it_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run is given the validators of its own site only; a run reported on keeps its
    counts, verdict and new validators; the runs the crash cut short are closed failed and
    crawled again, in a new process, the last time in one of its own; the tries cut short are
    closed `retried`, no failure of their source."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    job_file = tmp_path / "jobs.jsonl"
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
        first, second, third = crawl_sources(sources, db)
        jobs = _jobs(job_file)
        assert [jobs[run.id]["validators"] for run in (first, second, third)] == [
            {"http://127.0.0.1:8001/news": ["e1", None, "h1"]},
            {"http://127.0.0.1:8002/news": [None, "Mon, 30 Nov 2026", "h"]},
            {},
        ]
        assert (first.status, first.pages, first.new_articles, first.error) == ("ok", 3, 1, None)
        assert second.status == "ok"  # cut short, crawled again, reported on the second time
        assert third.status == "ok"  # cut short twice, then crawled alone
        assert len(jobs) == 6  # three, the two cut short, then the last alone
        cut_short = [run for run in _all_runs(db) if run.status == "retried"]
        assert [run.source for run in cut_short] == ["s8002", "s8003", "s8003"]
        assert failures_in_row(db) == {}  # each source's last try went well
        assert all("crawl process exited 3" in (run.error or "") for run in cut_short)
        assert fetch_states(db)["http://127.0.0.1:8001/news"] == Validators("e2", None, "h2")
    finally:
        db.dispose()


def test_a_refresh_gives_the_crawl_process_no_validators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    job_file = tmp_path / "jobs.jsonl"
    monkeypatch.setattr(crawl_child, "CRAWL_COMMAND", FAKE_CRAWL.format(job_file=str(job_file)))
    sources = [CrawlSource(name=f"s{p}", start_urls=(f"http://127.0.0.1:{p}/",)) for p in (1, 2)]
    db = Database(url)
    try:
        save_validators(db, {"http://127.0.0.1:1/": Validators("e1", None, "h1")})
        crawl_sources(sources, db, refresh=True)
        assert {str(job["validators"]) for job in _jobs(job_file).values()} == {"{}"}
    finally:
        db.dispose()
