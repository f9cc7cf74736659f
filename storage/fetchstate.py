"""Validators of listing pages, feeds and sitemaps, for conditional GET on the next crawl."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from storage.db import Database
from storage.models import ETAG_LENGTH, LAST_MODIFIED_LENGTH, URL_LENGTH, FetchState, utcnow

_ALL_VALIDATORS = select(
    FetchState.url, FetchState.etag, FetchState.last_modified, FetchState.content_hash
)


class Validators(NamedTuple):
    """A tuple, so that it travels to the crawl process as it is (crawlers.launcher.report)."""

    etag: str | None
    last_modified: str | None
    content_hash: str | None


def fetch_states(db: Database) -> dict[str, Validators]:
    """Every URL's validators. Listing pages, feeds and sitemaps only: a few per source."""
    with db.engine.connect() as connection:
        rows = connection.execute(_ALL_VALIDATORS)
        return {url: Validators(*rest) for url, *rest in rows}


def storable_validators(states: dict[str, Validators]) -> dict[str, Validators]:
    """What of ``states`` its columns hold: a header longer than any real one or holding a
    NUL (a broken or hostile server's) is dropped, and so is a URL too long to store; the page
    is then fetched in full next time. PostgreSQL would refuse the whole write, SQLite keep
    it."""
    return {
        url: Validators(
            _header(v.etag, ETAG_LENGTH),
            _header(v.last_modified, LAST_MODIFIED_LENGTH),
            v.content_hash,
        )
        for url, v in states.items()
        if len(url) <= URL_LENGTH
    }


def _header(value: str | None, length: int) -> str | None:
    return value if value is not None and len(value) <= length and "\x00" not in value else None


def save_validators(db: Database, states: dict[str, Validators]) -> None:
    with db.session() as session:
        for url, v in storable_validators(states).items():
            state = session.get(FetchState, url) or FetchState(url=url)
            state.etag, state.last_modified, state.content_hash = (
                v.etag,
                v.last_modified,
                v.content_hash,
            )
            state.fetched_at = utcnow()
            session.add(state)
