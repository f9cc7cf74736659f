"""A crawl pool over the 40-article newsroom site (tests/newsroom.py), for tests that watch
one real crawl process as it crawls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crawlers.launcher.jobs import PoolSettings
from crawlers.launcher.process import Popen
from crawlers.launcher.runner import CrawlPool
from storage.db import Database
from storage.migrate import upgrade
from tests import newsroom
from tests.sitehost import SiteServer, serve


@contextmanager
def newsroom_pool(
    tmp_path: Path, delay: float = 0.3
) -> Iterator[tuple[CrawlPool, SiteServer, list[Popen]]]:
    """A pool extracting in its crawl process, over the site answering each page after
    ``delay`` (a crawl of it lasts many seconds); also the crawl processes it started."""
    root = tmp_path / "newsroom"
    newsroom.build(root)
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    db = Database(url)
    started: list[Popen] = []
    pool = CrawlPool(db, PoolSettings(extract_workers=0), on_start=started.append)
    with serve(root, delay=delay) as site:
        try:
            yield pool, site, started
        finally:
            pool.close(10)
            db.dispose()
