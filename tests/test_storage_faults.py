"""The database under stress: locked by another writer, or out of space. A write waits or
fails whole; the daemon logs one line and tries again; nothing is lost or half written."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

import storage.db
from monitor import observe
from monitor.config import Config
from monitor.daemon import Daemon
from storage.articles import store_article
from storage.db import Database
from storage.events import count_articles
from storage.migrate import upgrade
from storage.models import Delivery
from storage.stats import reachable
from tests.test_storage import article


def sqlite_path(db: Database) -> str:
    return db.url.removeprefix("sqlite:///")


def test_a_writer_waits_out_another_writers_lock(db: Database) -> None:
    other = sqlite3.connect(sqlite_path(db), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock, as a busy crawl would
    released = threading.Event()

    def release() -> None:
        released.set()
        other.execute("COMMIT")

    timer = threading.Timer(2.0, release)
    timer.start()
    try:
        assert store_article(db, article())[0] == "new"
        assert released.is_set(), "the write went through while the other writer held the lock"
    finally:
        timer.join()
        other.close()
    assert count_articles(db) == 1


def full_disk(db: Database) -> Database:
    """The same file, opened so that it cannot grow by a single page and with its free space
    used up: every write that needs room fails with SQLITE_FULL, as on a full disk."""
    filler = sqlite3.connect(sqlite_path(db), isolation_level=None)
    filler.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    pages = filler.execute("PRAGMA page_count").fetchone()[0]
    filler.execute(f"PRAGMA max_page_count={pages}")
    for size in (4000, 500, 50, 1):
        with pytest.raises(sqlite3.OperationalError, match="full"):  # noqa: PT012
            while True:
                filler.execute("INSERT INTO filler VALUES (randomblob(?))", (size,))
    filler.close()
    full = Database(db.url)

    def cap(connection: Any, _record: Any) -> None:
        connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(full.engine, "connect", cap)
    return full


def test_disk_full_fails_the_write_whole_and_a_retry_succeeds(db: Database) -> None:
    store_article(db, article())
    big = article(url="https://pam.example/news/2", canonical_url="https://pam.example/news/2",
                  title="Budget debate", text="Budget lines and figures. " * 20_000)  # fmt: skip
    full = full_disk(db)
    with pytest.raises(OperationalError, match="full"):
        store_article(full, big)
    full.dispose()
    with sqlite3.connect(sqlite_path(db)) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count_articles(db) == 1
    assert store_article(db, big)[0] == "new"  # space again: the next cycle stores it
    assert count_articles(db) == 2


def test_daemon_job_logs_a_failed_write_and_queues_the_alert_next_cycle(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store_article(db, article())
    config = Config.model_validate({
        "database": db.url,
        "rules": [{"name": "dushanbe", "query": "Dushanbe", "notify": ["soc"]}],
        "channels": {"soc": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
    })  # fmt: skip
    daemon = Daemon(tmp_path / "eventwatch.yaml", config)
    healthy = daemon.ctx.db
    # The file cannot be written this cycle (a full disk gives SQLITE_FULL, this SQLITE_READONLY).
    daemon.ctx.db = Database(f"sqlite:///file:{sqlite_path(db)}?mode=ro&uri=true")
    with caplog.at_level(logging.ERROR, logger="monitor.daemon"):
        daemon.match_job()  # must not raise: the scheduler would otherwise log a traceback
    assert any("match failed, will retry next cycle" in r.message for r in caplog.records)
    assert any("readonly" in r.message for r in caplog.records)
    daemon.ctx.db.dispose()
    with db.session() as session:
        assert list(session.scalars(select(Delivery))) == []
    daemon.ctx.db = healthy
    daemon.match_job()
    with db.session() as session:
        assert [d.status for d in session.scalars(select(Delivery))] == ["pending"]
    healthy.dispose()


def test_a_database_file_moved_or_replaced_under_its_handle_is_told(db: Database) -> None:
    """A handle goes on writing to the file it has open, wherever that went: what it stores
    is then lost to every later start, which opens the file at the path."""
    path = Path(sqlite_path(db))
    store_article(db, article())
    assert db.file_problem() is None and reachable(db)
    path.rename(path.with_name("moved.db"))
    assert "is gone (deleted or moved while in use)" in str(db.file_problem())
    assert not reachable(db)
    sqlite3.connect(path).close()  # a new file at the path, as a restore from backup makes
    assert "was replaced while in use" in str(db.file_problem())


def test_writes_refused_for_a_while_are_told_though_reads_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the SQLite file's lock (or a read-only file) refused every
    write while reads went on: /healthz, which reads, said the database was fine while
    nothing was stored."""
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 100)
    url = f"sqlite:///{tmp_path / 'ew.db'}"
    upgrade(url)
    db = Database(url)
    holder = sqlite3.connect(tmp_path / "ew.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError):
            store_article(db, article())
        assert reachable(db)  # reads go on
        assert db.write_trouble(3600) is None  # not refused for that long yet
        monkeypatch.setattr(observe, "WRITES_REFUSED_SECONDS", 0.0)
        told = observe.database_problem(db)
        assert told is not None and "refused every write" in told and "locked" in told
        holder.execute("ROLLBACK")
        store_article(db, article())
        assert observe.database_problem(db) is None
    finally:
        holder.close()
        db.dispose()
