"""The crawl process's parts share one database handle, closed once at the end."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from crawlers.crawling.database import close_databases, crawl_database


def test_every_part_gets_the_same_handle_until_the_process_closes_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crawl.db'}"
    first = crawl_database(url)
    assert crawl_database(url) is first
    assert crawl_database(f"sqlite:///{tmp_path / 'other.db'}") is not first
    with first.session() as session:
        session.execute(text("SELECT 1"))
    assert first.engine.pool.checkedin() == 1  # its connection, kept for the next part
    close_databases()
    assert first.engine.pool.checkedin() == 0
    assert crawl_database(url) is not first  # a new process's handle, should one be asked for
    close_databases()
