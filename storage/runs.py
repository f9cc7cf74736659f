"""Crawl runs: one row per crawl, opened before the crawl starts so a killed crawl still shows."""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, literal_column, select
from sqlalchemy.orm import Session

from storage.articles import ensure_source
from storage.db import Database
from storage.models import CrawlRun, PageFailure, Source, utcnow

MAX_ERROR_CHARS = 4000
# Runs that say nothing against their source: under way, done, or stopped with their crawl
# process (the daemon or worker was asked to stop) and to be crawled again.
# "retried": a try cut short by its crawl process's end, crawled again at once; the job's
# last try is the one that counts (as the daemon's health does).
NOT_FAILED = ("ok", "running", "stopped", "retried")
SHOWN_AS_CLEAN = ("ok", "running", "stopped")  # by `runs --failed`


@dataclass(frozen=True, slots=True)
class RunCounts:
    pages: int = 0
    new_articles: int = 0
    duplicates: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    pages: int
    new_articles: int
    duplicates: int
    errors: int
    error: str | None
    due_at: datetime | None = None  # when its schedule wanted it; None for an on-demand crawl
    links: dict[str, Any] | None = None  # links seen, followed and skipped, by rule

    @property
    def lag_seconds(self) -> float | None:
        """How late it started against its schedule."""
        if self.due_at is None:
            return None
        return max(0.0, (self.started_at - self.due_at).total_seconds())


def open_run(db: Database, source: str, due_at: datetime | None = None) -> int:
    with db.session() as session:
        src = ensure_source(session, source)
        due = due_at.astimezone(UTC) if due_at is not None else None
        run = CrawlRun(source_id=src.id, started_at=utcnow(), status="running", due_at=due)
        session.add(run)
        session.flush()
        return run.id


def record_counts(db: Database, run_id: int, counts: RunCounts) -> None:
    with db.session() as session:
        run = session.get_one(CrawlRun, run_id)
        run.pages, run.new_articles = counts.pages, counts.new_articles
        run.duplicates, run.errors = counts.duplicates, counts.errors


def close_run(db: Database, run_id: int, status: str, error: str | None = None) -> None:
    """Finish a run; a run already closed keeps its first verdict."""
    with db.session() as session:
        _close(session.get_one(CrawlRun, run_id), status, error)


def finish_run(
    db: Database, run_id: int, status: str, error: str | None, counts: RunCounts
) -> None:
    """Record a run's counts and close it, in one transaction."""
    with db.session() as session:
        run = session.get_one(CrawlRun, run_id)
        run.pages, run.new_articles = counts.pages, counts.new_articles
        run.duplicates, run.errors = counts.duplicates, counts.errors
        _close(run, status, error)


def _close(run: CrawlRun, status: str, error: str | None) -> None:
    if run.finished_at is not None:
        return
    run.status = status
    run.finished_at = utcnow()
    if error:
        run.error = error[:MAX_ERROR_CHARS]


def close_abandoned_runs(db: Database, started_before: datetime) -> int:
    """Close, as ``abandoned``, the runs still open that started before ``started_before``.

    The process that opens a run closes it, whatever its crawl does; a run left open outlived
    that process (a daemon killed with SIGKILL, a power cut), and would show as running for
    ever. Returns how many were closed.
    """
    with db.session() as session:
        runs = session.scalars(
            select(CrawlRun).where(
                CrawlRun.finished_at.is_(None), CrawlRun.started_at < started_before
            )
        ).all()
        now = utcnow()
        for run in runs:
            run.status, run.finished_at = "abandoned", now
            run.error = "never closed: the process that ran this crawl ended first"
        return len(runs)


def get_run(db: Database, run_id: int) -> RunSummary:
    with db.session() as session:
        row = session.execute(
            select(CrawlRun, Source.name).join(Source).where(CrawlRun.id == run_id)
        ).one()
        return _summary(row[0], row[1])


def last_run(db: Database, source: str) -> RunSummary | None:
    """The source's newest run, by the (source, started) index."""
    with db.session() as session:
        row = session.execute(
            select(CrawlRun, Source.name)
            .join(Source)
            .where(Source.name == source)
            .order_by(CrawlRun.started_at.desc())
            .limit(1)
        ).first()
        return None if row is None else _summary(row[0], row[1])


def open_runs(db: Database, sources: Collection[str], started_after: datetime) -> dict[str, int]:
    """Of ``sources``, those with a run still open that started after ``started_after``
    (older ones are left by processes that died): the newest such run's id, by source."""
    with db.session() as session:
        rows = session.execute(
            select(Source.name, func.max(CrawlRun.id))
            .join(Source, Source.id == CrawlRun.source_id)
            .where(Source.name.in_(list(sources)), CrawlRun.status == "running")
            .where(CrawlRun.started_at > started_after)
            .group_by(Source.name)
        ).all()
        return {name: int(run_id) for name, run_id in rows}


def latest_runs(db: Database) -> list[RunSummary]:
    """The newest run of every source."""
    with db.session() as session:
        newest = select(func.max(CrawlRun.id)).group_by(CrawlRun.source_id).scalar_subquery()
        rows = session.execute(
            select(CrawlRun, Source.name).join(Source).where(CrawlRun.id.in_(newest))
        ).all()
        return [_summary(run, name) for run, name in rows]


def _summary(run: CrawlRun, source: str) -> RunSummary:
    return RunSummary(
        id=run.id,
        source=source,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        pages=run.pages,
        new_articles=run.new_articles,
        duplicates=run.duplicates,
        errors=run.errors,
        error=run.error,
        due_at=run.due_at,
        links=run.links,
    )


def list_runs(
    db: Database, source: str | None = None, *, failed: bool = False, limit: int = 20
) -> list[RunSummary]:
    """Runs newest first; of one source; with ``failed``, only those with a failure."""
    query = select(CrawlRun, Source.name).join(Source)
    if source is not None:
        query = query.where(Source.name == source)
    if failed:
        # a try cut short (retried) is shown: its process died, which is worth looking into,
        # though the source's health does not count it (the try after it does)
        query = query.where(
            (CrawlRun.errors > 0)
            | CrawlRun.status.not_in(SHOWN_AS_CLEAN)
            | CrawlRun.id.in_(select(PageFailure.run_id))
        )
    with db.session() as session:
        rows = session.execute(query.order_by(CrawlRun.id.desc()).limit(limit)).all()
        return [_summary(run, name) for run, name in rows]


# Written out, not bound: PostgreSQL plans a prepared statement for any value of a parameter,
# and only a literal lets it take the partial indexes of migration 0011.
_OK_RUN = CrawlRun.status == literal_column("'ok'")
_FOUND_ARTICLES = CrawlRun.new_articles > literal_column("0")


def _last_good_run(session: Session, source_id: int) -> int | None:
    """The id of the source's last run that ended ``ok`` (the index ix_crawl_runs_source_ok)."""
    return session.scalar(
        select(func.max(CrawlRun.id)).where(CrawlRun.source_id == source_id, _OK_RUN)
    )


def failures_in_row(db: Database) -> dict[str, int]:
    """Per source, finished runs that failed since its last good one: health across restarts.
    Source by source, from its last good run on (the indexes of 0011): one query over every
    run had read the whole history, seconds at a million runs."""
    failures: dict[str, int] = {}
    with db.session() as session:
        for source_id, name in session.execute(select(Source.id, Source.name)).all():
            ok_id = _last_good_run(session, source_id)
            failed = select(func.count(CrawlRun.id)).where(
                CrawlRun.source_id == source_id, CrawlRun.status.not_in(NOT_FAILED)
            )
            if ok_id is not None:
                ok_started = session.get_one(CrawlRun, ok_id).started_at
                failed = failed.where(CrawlRun.started_at >= ok_started, CrawlRun.id > ok_id)
            count = int(session.scalar(failed) or 0)
            if count:
                failures[name] = count
    return failures


@dataclass(frozen=True, slots=True)
class SourceRhythm:
    """When a source's recent crawls found new articles (oldest first), and when its last
    crawl finished: what its health is judged by, read back so a restart does not forget it."""

    new_articles_at: list[datetime]
    last_crawl: datetime


def source_rhythms(db: Database, per_source: int = 21) -> dict[str, SourceRhythm]:
    """Each crawled source's rhythm, from its newest runs (the (source, started) index)."""
    rhythms: dict[str, SourceRhythm] = {}
    with db.session() as session:
        for source_id, name in session.execute(select(Source.id, Source.name)).all():
            finished = (
                select(CrawlRun.finished_at)
                .where(CrawlRun.source_id == source_id, CrawlRun.finished_at.is_not(None))
                .order_by(CrawlRun.started_at.desc())
            )
            last_crawl = session.scalar(finished.limit(1))
            if last_crawl is None:
                continue
            found = session.scalars(finished.where(_FOUND_ARTICLES).limit(per_source)).all()
            times = sorted(when for when in found if when is not None)
            rhythms[name] = SourceRhythm(times, last_crawl)
    return rhythms


RHYTHM_RUNS = 21  # runs that found articles kept per source, as source_rhythms reads them
PRUNE_BATCH = 2000  # runs deleted per transaction, so that a crawl's writes never wait long


def prune_runs(db: Database, started_before: datetime, stop: threading.Event | None = None) -> int:
    """Delete the finished runs started before ``started_before``, but what a source's health
    is read back from: its last good run and every run after it (the failures in a row), its
    newest RHYTHM_RUNS that found articles, and the runs a failed page still names. A source
    that never had a good run keeps all. Source by source, along the indexes of a source's
    history, in transactions of PRUNE_BATCH runs; between two, a ``stop`` set ends it (the
    rest goes next time). Returns how many went."""
    pruned = 0
    with db.session() as session:
        sources = list(session.scalars(select(Source.id)))
    for source_id in sources:
        if stop is not None and stop.is_set():
            break
        with db.session() as session:
            last_ok = _last_good_run(session, source_id)
            if last_ok is None:
                continue
            found = (
                select(CrawlRun.id)
                .where(CrawlRun.source_id == source_id, _FOUND_ARTICLES)
                .order_by(CrawlRun.started_at.desc())
                .limit(RHYTHM_RUNS)
            )
            kept = list(session.scalars(found))
        while True:
            with db.session() as session:
                named = select(PageFailure.run_id).where(PageFailure.source_id == source_id)
                old = (
                    select(CrawlRun.id)
                    .where(CrawlRun.source_id == source_id)
                    .where(CrawlRun.started_at < started_before, CrawlRun.id < last_ok)
                    .where(CrawlRun.status != "running")
                    .where(CrawlRun.id.not_in(kept), CrawlRun.id.not_in(named))
                    .limit(PRUNE_BATCH)
                )
                ids = list(session.scalars(old))
                if ids:
                    session.execute(delete(CrawlRun).where(CrawlRun.id.in_(ids)))
            pruned += len(ids)
            if len(ids) < PRUNE_BATCH or (stop is not None and stop.is_set()):
                break
    return pruned
