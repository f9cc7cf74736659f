"""Pages that failed in a crawl, one row per source and URL, kept until the page is had again.

A page that keeps failing waits longer and longer before its next try (:func:`backoff`), so
that a dead link is not fetched on every crawl. At most ``MAX_PER_SOURCE`` rows are kept per
source, the newest. Pages tried although the URL guess said no article, and found to hold none,
are kept apart (``not_article_pages``, not failures) and are not tried again for
``NOT_ARTICLE_WAIT``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.articles import ensure_source
from storage.db import Database
from storage.models import URL_LENGTH, CrawlRun, NotArticlePage, PageFailure, Source, utcnow

MAX_PER_SOURCE = 500
FIRST_WAIT = timedelta(hours=1)
LONGEST_WAIT = timedelta(days=7)
NOT_ARTICLE_WAIT = timedelta(days=30)
CHUNK = 500  # URLs per IN (...) list
MAX_HTTP_STATUS = 999
FAILED, NO_ARTICLE = "failed", "no article"  # why a page is held back (held_back)
# A page that failed this often is likely gone for good (a dead link): held back as
# FAILED_OFTEN, it no longer keeps its listing from a 304 (crawlers.crawling.runledger)
FAILED_OFTEN = "failed often"
OFTEN = 3
RETRIED_PER_CRAWL = 20  # of those, due again, asked for by a crawl itself (due_again)
# The reason of a page whose article the database could not take (locked, away, full): no
# fault of the page, so it waits for no back-off and the next crawl fetches it again
DATABASE_FAULT = "database: "


@dataclass(frozen=True, slots=True)
class FailedPage:
    url: str  # normalised, as stored articles' URLs are
    stage: str  # fetch, read, extract or store
    http_status: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class FailureView:
    source: str
    run_id: int
    url: str
    stage: str
    http_status: int | None
    reason: str
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
    next_attempt_at: datetime


def backoff(attempts: int) -> timedelta:
    """How long a page that failed ``attempts`` times in a row waits for its next try."""
    doublings = min(max(0, attempts - 1), 20)  # past the longest wait long before 2**20
    return min(LONGEST_WAIT, FIRST_WAIT * 2**doublings)


def record_run_pages(
    db: Database,
    run_id: int,
    source: str,
    failures: Sequence[FailedPage],
    had: Collection[str],
    links: dict[str, Any] | None,
    not_articles: Collection[str] = (),
) -> None:
    """In one transaction: the run's failed pages, the pages it had again cleared, the pages
    it tried and found no article in, the oldest rows past the bound dropped, and the run's
    link counts."""
    now = utcnow()
    # two URLs cut to fit may become one: one row each, the last failure's
    fitted = (
        replace(failure, url=_fitted(failure.url), http_status=_status(failure.http_status))
        for failure in failures
    )
    failures = list({failure.url: failure for failure in fitted}.values())
    had, not_articles = {_fitted(url) for url in had}, {_fitted(url) for url in not_articles}
    with db.session() as session:
        source_id = ensure_source(session, source).id
        _clear(session, source_id, list(had))
        _upsert(session, source_id, run_id, failures, now)
        _judged(session, source_id, list(not_articles), now)
        # Only rows added can take a source past the bound, and most runs add none: the two
        # trims, each a sort of the source's rows, ran on every crawl.
        if failures:
            _trim(session, PageFailure, source_id, PageFailure.last_failed_at)
        if not_articles:
            _trim(session, NotArticlePage, source_id, NotArticlePage.tried_at)
        if links:
            session.get_one(CrawlRun, run_id).links = links


def _fitted(url: str) -> str:
    """The URL cut to what the column holds (PostgreSQL refuses more). The crawl follows no
    such link, but a redirect or robots.txt can name one: its record is then for the reader,
    and never holds the page back, which is asked for by its whole URL."""
    return url if len(url) <= URL_LENGTH else url[: URL_LENGTH - 1] + "…"


def _status(code: int | None) -> int | None:
    """An HTTP status as a status line can give it, or None: the client reads any number
    there, and one past the column's range would cost the run all its page records."""
    return code if code is not None and 0 <= code <= MAX_HTTP_STATUS else None


def _clear(session: Session, source_id: int, urls: list[str]) -> None:
    for start in range(0, len(urls), CHUNK):
        chunk = urls[start : start + CHUNK]
        session.execute(
            delete(PageFailure).where(
                PageFailure.source_id == source_id, PageFailure.url.in_(chunk)
            )
        )


def _rows_by_url(
    session: Session, model: Any, source_id: int, urls: Sequence[str]
) -> dict[str, Any]:
    """The source's rows of ``model`` (a table keyed by source and URL) for these URLs."""
    return {
        row.url: row
        for start in range(0, len(urls), CHUNK)
        for row in session.scalars(
            select(model).where(
                model.source_id == source_id, model.url.in_(urls[start : start + CHUNK])
            )
        )
    }


def _upsert(
    session: Session, source_id: int, run_id: int, failures: Sequence[FailedPage], now: datetime
) -> None:
    known = _rows_by_url(session, PageFailure, source_id, [f.url for f in failures])
    for failure in failures:
        row = known.get(failure.url)
        if row is None:
            row = PageFailure(source_id=source_id, url=failure.url, first_failed_at=now, attempts=0)
            session.add(row)
        row.run_id, row.stage, row.http_status = run_id, failure.stage, failure.http_status
        row.reason, row.last_failed_at = failure.reason, now
        row.attempts += 1
        ours = failure.stage == "store" and failure.reason.startswith(DATABASE_FAULT)
        row.next_attempt_at = now if ours else now + backoff(row.attempts)


def _judged(session: Session, source_id: int, urls: list[str], now: datetime) -> None:
    known = _rows_by_url(session, NotArticlePage, source_id, urls)
    for url in urls:
        row = known.get(url) or NotArticlePage(source_id=source_id, url=url)
        row.tried_at, row.retry_at = now, now + NOT_ARTICLE_WAIT
        session.add(row)


def _trim(session: Session, model: Any, source_id: int, newest: Any) -> None:
    """Keep the newest ``MAX_PER_SOURCE`` rows of ``model`` for the source."""
    session.flush()
    keep = (
        select(model.id)
        .where(model.source_id == source_id)
        .order_by(newest.desc(), model.id.desc())
        .limit(MAX_PER_SOURCE)
    )
    session.execute(
        delete(model).where(model.source_id == source_id, model.id.not_in(keep.scalar_subquery()))
    )


def held_back(session: Session, source: str, urls: Sequence[str]) -> dict[str, str]:
    """Which of ``urls`` of ``source`` are not to be fetched yet, and why: ``FAILED`` (waiting
    for their next try), ``FAILED_OFTEN`` (the same, after OFTEN tries or more) or
    ``NO_ARTICLE`` (tried, and found to hold none)."""
    now = utcnow()
    found: dict[str, str] = {}
    for start in range(0, len(urls), CHUNK):
        chunk = urls[start : start + CHUNK]
        not_articles = (
            select(NotArticlePage.url)
            .join(Source, Source.id == NotArticlePage.source_id)
            .where(Source.name == source, NotArticlePage.retry_at > now)
            .where(NotArticlePage.url.in_(chunk))
        )
        found.update((url, NO_ARTICLE) for url in session.scalars(not_articles))
        failed = (
            select(PageFailure.url, PageFailure.attempts)
            .join(Source, Source.id == PageFailure.source_id)
            .where(Source.name == source, PageFailure.next_attempt_at > now)
            .where(PageFailure.url.in_(chunk))
        )
        for url, attempts in session.execute(failed):
            found[url] = FAILED_OFTEN if attempts >= OFTEN else FAILED
    return found


def due_again(session: Session, source: str, limit: int = RETRIED_PER_CRAWL) -> list[str]:
    """Pages of ``source`` that failed ``OFTEN`` times or more and whose next try is due,
    the longest due first: a crawl asks for them itself, as the listing that linked them
    may answer 304 for ever and never show the link again."""
    query = (
        select(PageFailure.url)
        .join(Source, Source.id == PageFailure.source_id)
        .where(Source.name == source, PageFailure.attempts >= OFTEN)
        .where(PageFailure.next_attempt_at <= utcnow())
        .order_by(PageFailure.next_attempt_at, PageFailure.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def page_failures(
    db: Database,
    *,
    source: str | None = None,
    run_ids: Collection[int] | None = None,
    urls: Collection[str] | None = None,
    limit: int = 1000,
) -> list[FailureView]:
    """Failing pages, newest first; of one source, of some runs, or of some URLs."""
    query = select(PageFailure, Source.name).join(Source, Source.id == PageFailure.source_id)
    if source is not None:
        query = query.where(Source.name == source)
    if run_ids is not None:
        query = query.where(PageFailure.run_id.in_(list(run_ids)))
    if urls is not None:
        query = query.where(PageFailure.url.in_(list(urls)))
    query = query.order_by(PageFailure.last_failed_at.desc(), PageFailure.id.desc()).limit(limit)
    with db.session() as session:
        return [_view(row, name) for row, name in session.execute(query)]


def _view(row: PageFailure, source: str) -> FailureView:
    return FailureView(
        source=source,
        run_id=row.run_id,
        url=row.url,
        stage=row.stage,
        http_status=row.http_status,
        reason=row.reason,
        first_failed_at=row.first_failed_at,
        last_failed_at=row.last_failed_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
    )


def failing_counts(db: Database) -> dict[tuple[str, str], int]:
    """Pages failing now, by (source, stage)."""
    with db.session() as session:
        rows = session.execute(
            select(Source.name, PageFailure.stage, func.count(PageFailure.id))
            .join(Source, Source.id == PageFailure.source_id)
            .group_by(Source.name, PageFailure.stage)
        ).all()
    return {(name, stage): int(count) for name, stage, count in rows}
