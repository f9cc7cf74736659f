"""The crawl pool keeps its promises when a crawl process misbehaves: one that hangs or
outgrows its memory cap is killed and replaced, the crawls it held are run again, and only
the crawl that brought it down fails."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from crawlers.launcher import child as crawl_child
from crawlers.launcher.jobs import PoolSettings
from crawlers.launcher.runner import CrawlPool
from crawlers.launcher.sources import CrawlSource
from storage.db import Database
from storage.migrate import upgrade
from storage.runs import RunSummary, latest_runs

# Stands in for a crawl process: beats, and answers each job a second later, unless the job
# is for "hang" (the whole process stops, as a stuck event loop would; "hang-once" only the
# first time), "hog" (it takes
# 400 MB and keeps them) or "slow" (it answers after 8 s). Each job it is given is appended
# to a file, with its pid.
FAKE_CRAWL = """
import json, os, signal, sys, threading, time
log = open({log!r}, "a")
lock = threading.Lock()
hog = []
def say(**fields):
    with lock:
        print("eventwatch-report " + json.dumps(fields), flush=True)
def beat():
    while True:
        say(run=0)
        time.sleep(0.2)
def answer(job, seconds):
    time.sleep(seconds)
    say(run=job["run"], status="ok", error=None, counts={{"pages": 1}})
    say(run=job["run"], finished=True)
threading.Thread(target=beat, daemon=True).start()
sys.stdin.readline()
for line in sys.stdin:
    job = json.loads(line)
    if job.get("op") == "drain":
        time.sleep(1.5)
        break
    name = job["source"]["name"]
    log.write(json.dumps([os.getpid(), name]) + "\\n"); log.flush()
    if name == "hang" or (name == "hang-once" and not os.path.exists({log!r} + ".hung")):
        open({log!r} + ".hung", "w").close()
        os.kill(os.getpid(), signal.SIGSTOP)
    elif name == "hog":
        hog.append(bytearray(400 * 2**20))
        for i in range(0, len(hog[0]), 4096):
            hog[0][i] = 1
    else:
        threading.Thread(target=answer, args=(job, 8 if name == "slow" else 1)).start()
"""


def _crawl(
    db_url: str, names: list[str], settings: PoolSettings, urls: int = 1
) -> dict[str, RunSummary]:
    """``urls``: start URLs per source, which make its job's line that much longer."""
    db = Database(db_url)
    pool = CrawlPool(db, settings)
    start = tuple(f"http://127.0.0.1:9/section-{n}/" for n in range(urls))
    try:
        jobs = {name: pool.submit(CrawlSource(name, start_urls=start)) for name in names}
        return {name: job.done.result(timeout=120) for name, job in jobs.items()}
    finally:
        pool.close(10)
        db.dispose()


@pytest.fixture
def fake_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "jobs.jsonl"
    monkeypatch.setattr(crawl_child, "CRAWL_COMMAND", FAKE_CRAWL.format(log=str(log)))
    return log


def _given(log: Path) -> list[tuple[int, str]]:
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]


def test_a_hung_crawl_process_is_replaced_and_only_the_crawl_that_hung_it_fails(
    tmp_path: Path, fake_log: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    settings = PoolSettings(processes=1, crawls_per_process=3, beat_timeout=2)
    runs = _crawl(url, ["a", "hang", "b"], settings)
    assert (runs["a"].status, runs["b"].status) == ("ok", "ok")
    assert runs["hang"].status == "failed"
    assert "hung: no sign of life" in (runs["hang"].error or "")
    given = _given(fake_log)
    assert [name for _, name in given].count("hang") == 3  # two tries shared, the last alone
    last_pid = next(pid for pid, name in reversed(given) if name == "hang")
    assert [name for pid, name in given if pid == last_pid] == ["hang"]


def test_a_crawl_process_over_its_memory_cap_is_killed_and_its_other_crawls_run_again(
    tmp_path: Path, fake_log: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    settings = PoolSettings(processes=2, crawls_per_process=2, memory_mb=200)
    runs = _crawl(url, ["hog", "a", "b", "c"], settings)
    assert runs["hog"].status == "failed"
    assert "over its memory cap" in (runs["hog"].error or "")
    assert [runs[name].status for name in "abc"] == ["ok", "ok", "ok"]


def test_a_recycled_crawl_process_finishes_its_crawls_and_another_takes_the_next(
    tmp_path: Path, fake_log: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    settings = PoolSettings(processes=1, crawls_per_process=2, max_crawls_per_process=2)
    runs = _crawl(url, ["a", "b", "c", "d", "e"], settings)
    assert {run.status for run in runs.values()} == {"ok"}
    # by the order the crawls were asked for: the processes append to the log side by side
    pids = [pid for pid, _ in sorted(_given(fake_log), key=lambda given: given[1])]
    assert len(set(pids)) == 3  # two crawls each, then recycled
    assert pids == sorted(pids, key=pids.index)  # one process after another, never mixed


def test_a_database_that_keeps_the_pool_waiting_makes_no_live_process_look_hung(
    tmp_path: Path, fake_log: Path
) -> None:
    """The pool records each crawl's end; while the database holds it there, a process's
    heartbeats wait in its queue, and were taken for silence once it went on."""
    path = tmp_path / "p.db"
    upgrade(f"sqlite:///{path}")
    settings = PoolSettings(processes=1, crawls_per_process=2, beat_timeout=2)
    runs: dict[str, RunSummary] = {}
    crawling = threading.Thread(
        target=lambda: runs.update(_crawl(f"sqlite:///{path}", ["a", "slow"], settings))
    )
    crawling.start()
    while not fake_log.exists() or len(_given(fake_log)) < 2:
        time.sleep(0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # "a" ends a second in, and its run must wait
    time.sleep(3 * settings.beat_timeout)
    holder.execute("COMMIT")
    holder.close()
    crawling.join()
    assert (runs["a"].status, runs["slow"].status) == ("ok", "ok")
    assert [name for _, name in _given(fake_log)] == ["a", "slow"]  # none crawled again


@pytest.mark.timeout(180)  # before, the pool's thread waited on the hung process for good
def test_a_hung_process_whose_stdin_fills_up_holds_up_no_other_crawl(
    tmp_path: Path, fake_log: Path
) -> None:
    """The jobs handed to a process whose loop hung fill its stdin's pipe (64 KiB): writing
    the next one blocked the pool's one thread, so the heartbeat check never killed it and
    no crawl anywhere ended again."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    settings = PoolSettings(processes=1, crawls_per_process=100, beat_timeout=2)
    names = ["hang-once", *(f"site-{n}" for n in range(60))]
    runs = _crawl(url, names, settings, urls=40)  # a line of 2.5 KB a job
    assert {run.status for run in runs.values()} == {"ok"}
    given = _given(fake_log)
    hung = given[0][0]
    assert {pid for pid, _ in given} - {hung}  # taken again by another process


def test_a_crawl_running_when_the_pool_moves_to_another_database_is_recorded_where_it_began(
    tmp_path: Path, fake_log: Path
) -> None:
    """A reload may name another database. A crawl begun before it was closed in the new
    one, where its run is not: the job never resolved, and the daemon never crawled that
    source again."""
    old, new = (Database(f"sqlite:///{tmp_path / name}") for name in ("old.db", "new.db"))
    for db in (old, new):
        upgrade(db.url)
    pool = CrawlPool(old, PoolSettings(processes=1, crawls_per_process=2))
    start = ("http://127.0.0.1:9/",)
    try:
        slow = pool.submit(CrawlSource("slow", start_urls=start))
        while not fake_log.exists() or not _given(fake_log):
            time.sleep(0.05)
        pool.use_database(new)
        later = pool.submit(CrawlSource("a", start_urls=start))
        runs = slow.done.result(timeout=60), later.done.result(timeout=60)
        assert [run.status for run in runs] == ["ok", "ok"]
        assert [(run.source, run.status) for run in latest_runs(old)] == [("slow", "ok")]
        assert [(run.source, run.status) for run in latest_runs(new)] == [("a", "ok")]
    finally:
        pool.close(10)
        old.dispose()
        new.dispose()


def test_a_pool_closing_while_the_database_is_locked_tries_no_more_starts(
    tmp_path: Path,
    fake_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job waiting to start tried to open its run at every event the pool took, each time
    for the database's busy timeout (30 s): with another process holding the SQLite lock,
    a daemon's stop waited as long as the lock lasted."""
    import storage.db

    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 300)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    db = Database(url)
    pool = CrawlPool(db, PoolSettings(processes=1, crawls_per_process=2))
    holder = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
    try:
        start = ("http://127.0.0.1:9/",)
        assert (
            pool.submit(CrawlSource("a", start_urls=start)).done.result(timeout=60).status == "ok"
        )
        holder.execute("BEGIN EXCLUSIVE")  # the crawl process beats on: an event each time
        pool.submit(CrawlSource("b", start_urls=start))
        time.sleep(2)
        before = len(caplog.records)
        pool.close(5)
        after = [r for r in caplog.records[before:] if "_assign failed" in r.getMessage()]
        assert len(after) <= 1  # at most the one already waiting on the lock
    finally:
        holder.close()
        pool.close(5)
        db.dispose()
