"""The runner: every crawl run it opens is closed, whatever becomes of the crawl process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crawlers.runner import crawl_sources
from crawlers.sources import CrawlSource
from storage.db import Database
from storage.migrate import upgrade
from storage.runs import latest_runs


def test_a_crawl_process_that_cannot_start_closes_every_run_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    sources = [CrawlSource(name=n, start_urls=(f"http://127.0.0.1:9/{n}",)) for n in "ab"]
    runs = crawl_sources(sources, url)
    assert [(r.source, r.status) for r in runs] == [("a", "failed"), ("b", "failed")]
    assert all("could not start" in (r.error or "") for r in runs)
    db = Database(url)
    try:
        assert all(run.finished_at is not None for run in latest_runs(db))
    finally:
        db.dispose()
