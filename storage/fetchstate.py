"""Validators of listing pages, feeds and sitemaps, for conditional GET on the next crawl."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from storage.db import Database
from storage.models import FetchState, utcnow

# Asked before every listing page, feed and sitemap request: a Core statement on a pooled
# connection, built once, not an ORM session and lookup per request.
_VALIDATORS = select(FetchState.etag, FetchState.last_modified, FetchState.content_hash).where(
    FetchState.url == bindparam("url")
)


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None
    last_modified: str | None
    content_hash: str | None


def load_validators(db: Database, url: str) -> Validators | None:
    with db.engine.connect() as connection:
        row = connection.execute(_VALIDATORS, {"url": url}).first()
    return None if row is None else Validators(*row)


def save_validators(db: Database, states: dict[str, Validators]) -> None:
    with db.session() as session:
        for url, v in states.items():
            state = session.get(FetchState, url) or FetchState(url=url)
            state.etag, state.last_modified, state.content_hash = (
                v.etag,
                v.last_modified,
                v.content_hash,
            )
            state.fetched_at = utcnow()
            session.add(state)
