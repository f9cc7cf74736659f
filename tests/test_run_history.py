"""The crawl-run history stays bounded (``daemon.keep_runs``): old runs go, and what each
source's health is read back from stays, so that pruning changes no verdict."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from monitor.config import DaemonConfig, load_config
from monitor.daemon import Daemon
from monitor.run_history import RunPruner
from storage.articles import ensure_source
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CrawlRun, PageFailure
from storage.runs import RHYTHM_RUNS, failures_in_row, prune_runs

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)


def _run(db: Database, source: str, days_ago: float, status: str = "ok", new: int = 0) -> int:
    with db.session() as session:
        run = CrawlRun(
            source_id=ensure_source(session, source).id, status=status, new_articles=new,
            started_at=NOW - timedelta(days=days_ago),
        )  # fmt: skip
        session.add(run)
        session.flush()
        return run.id


def _left(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(CrawlRun.id)))


def test_old_runs_go_but_what_health_reads_stays(db: Database) -> None:
    gone = {_run(db, "pam", 200), *(_run(db, "pam", 190, "failed") for _ in range(3))}
    found = [_run(db, "pam", 180 - n, new=2) for n in range(RHYTHM_RUNS + 2)]
    gone |= set(found[:2])  # beyond the newest RHYTHM_RUNS that found articles
    failed_page = _run(db, "pam", 170, "failed")
    with db.session() as session:
        source = ensure_source(session, "pam").id
        session.add(PageFailure(source_id=source, run_id=failed_page, url="u", stage="fetch",
                                reason="HTTP 500"))  # fmt: skip
    last_ok = _run(db, "pam", 150)
    failing_since = _run(db, "pam", 120, "failed")  # its failures in a row, old as they are
    recent = _run(db, "pam", 3, "failed")
    quiet = _run(db, "osce", 100)  # another source, its one run old
    never_ok = _run(db, "ipa", 300, "failed")
    assert prune_runs(db, CUTOFF) == len(gone)
    kept = {*found[2:], failed_page, last_ok, failing_since, recent, quiet, never_ok}
    assert _left(db) == kept


def test_pruning_leaves_a_sources_health_as_it_was(db: Database) -> None:
    for days_ago in (300, 200):
        _run(db, "pam", days_ago)
    for days_ago in (100, 95, 2):
        _run(db, "pam", days_ago, "failed")
    assert prune_runs(db, CUTOFF) == 1  # the good run before the last good one
    assert failures_in_row(db) == {"pam": 3}  # failed since day 100: counted all the same


def test_a_stop_ends_a_prune_between_two_batches(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.runs

    monkeypatch.setattr(storage.runs, "PRUNE_BATCH", 2)
    for _ in range(5):
        _run(db, "pam", 200, "failed")
    _run(db, "pam", 100)
    stop = threading.Event()
    stop.set()
    assert prune_runs(db, CUTOFF, stop) == 0
    assert len(_left(db)) == 6


def test_the_pruner_runs_once_a_day_and_never_with_keep_runs_null(db: Database) -> None:
    stop = threading.Event()
    pruner = RunPruner()
    _run(db, "pam", 300, "failed")
    _run(db, "pam", 1)
    assert pruner(db, None, stop) == 0
    assert pruner(db, timedelta(days=90), stop) == 1
    _run(db, "pam", 300, "failed")
    assert pruner(db, timedelta(days=90), stop) == 0  # not again the same day


@pytest.mark.parametrize("keep", ["2h", "0s"])
def test_keep_runs_of_less_than_a_day_is_refused(keep: str) -> None:
    with pytest.raises(ValueError, match="give at least 1d, or null to keep every run"):
        DaemonConfig.model_validate({"keep_runs": keep})


def test_the_daemons_runs_job_prunes_by_its_config(tmp_path: Path) -> None:
    database = tmp_path / "ew.db"
    config = {
        "database": f"sqlite:///{database}",
        "sources": [{"name": "pam", "start_urls": ["http://127.0.0.1:9/"]}],
        "daemon": {"listen": None, "keep_runs": "30d"},
    }
    path = tmp_path / "ew.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    upgrade(config["database"])
    daemon = Daemon(path, load_config(path)[1])
    try:
        now = datetime.now(UTC)
        with daemon.ctx.db.session() as session:
            source = ensure_source(session, "pam").id
            for days_ago in (40, 20):  # two good runs; the older past daemon.keep_runs
                session.add(CrawlRun(source_id=source, status="ok", finished_at=now,
                                     started_at=now - timedelta(days=days_ago)))  # fmt: skip
        daemon.runs_job()
        with daemon.ctx.db.session() as session:
            left = [run.started_at for run in session.scalars(select(CrawlRun))]
        assert [round((now - started) / timedelta(days=1)) for started in left] == [20]
    finally:
        daemon.ctx.db.dispose()
