"""The shared schedule's per-source lease: one worker crawls a source at a time, a due time
is crawled to its end once, and a dead worker's lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import Database
from storage.migrate import upgrade
from storage.runs import RunCounts, finish_run, open_run
from storage.schedule import claim_source, lease_of_another, release_source, renew_leases

DUE = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


MINUTE = timedelta(minutes=1)  # a lease that runs for another minute from its claim
RUN_OUT = timedelta(seconds=-1)  # a lease already run out as it is written


def _db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(url)
    return Database(url)


def test_a_source_held_by_one_worker_is_not_taken_by_another(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert claim_source(db, "pam", "a", DUE, MINUTE)
    assert not claim_source(db, "pam", "b", DUE, MINUTE)
    assert claim_source(db, "other", "b", DUE, MINUTE)  # another source is free
    db.dispose()


def test_a_due_time_crawled_to_its_end_is_not_crawled_again(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert claim_source(db, "pam", "a", DUE, MINUTE)
    release_source(db, "pam", "a", DUE)
    assert not claim_source(db, "pam", "b", DUE, MINUTE)  # a job queued again after the end
    assert claim_source(db, "pam", "b", DUE + timedelta(seconds=60), MINUTE)  # the next one
    db.dispose()


def test_a_crawl_that_failed_may_be_tried_again(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert claim_source(db, "pam", "a", DUE, MINUTE)
    release_source(db, "pam", "a", None)
    assert claim_source(db, "pam", "b", DUE, MINUTE)
    db.dispose()


def test_a_lease_renewed_holds_and_one_left_to_run_out_is_taken(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert claim_source(db, "pam", "a", DUE, RUN_OUT)
    assert claim_source(db, "doc", "a", DUE, RUN_OUT)
    renew_leases(db, "a", {"pam"}, MINUTE)  # the worker lives and still crawls pam
    assert not claim_source(db, "pam", "b", DUE, MINUTE)
    assert claim_source(db, "doc", "b", DUE, MINUTE)  # a dead worker's lease ran out
    db.dispose()


def test_a_due_time_whose_run_closed_ok_is_not_crawled_again(tmp_path: Path) -> None:
    """The worker that ran it died after its run was closed, before it released the lease:
    the job queued again once the lease ran out finds the run."""
    db = _db(tmp_path)
    run_id = open_run(db, "pam", due_at=DUE)
    finish_run(db, run_id, "ok", None, RunCounts(pages=3))
    assert not claim_source(db, "pam", "b", DUE, MINUTE)
    assert claim_source(db, "pam", "b", DUE + timedelta(seconds=60), MINUTE)
    db.dispose()


def test_a_crawl_that_finds_another_workers_lease_learns_when_it_runs_out(
    tmp_path: Path,
) -> None:
    """A worker killed just after renewing its lease holds the source until the lease ends:
    the crawl queued again for it must wait for that, not for the next due time."""
    db = _db(tmp_path)
    assert lease_of_another(db, "pam", "b") is None  # never leased
    before = datetime.now(UTC)
    assert claim_source(db, "pam", "a", DUE, MINUTE)
    assert not claim_source(db, "pam", "b", DUE, MINUTE)
    until = lease_of_another(db, "pam", "b")
    assert until is not None and before + MINUTE <= until <= datetime.now(UTC) + MINUTE
    assert lease_of_another(db, "pam", "a") is None  # its own
    release_source(db, "pam", "a", None)
    assert lease_of_another(db, "pam", "b") is None
    assert claim_source(db, "pam", "b", DUE, RUN_OUT)
    assert lease_of_another(db, "pam", "c") is None  # run out
    db.dispose()
