"""Validators of listing pages, feeds and sitemaps, for conditional GET on the next crawl."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database
from storage.models import FetchState, utcnow


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None
    last_modified: str | None
    content_hash: str | None


def load_validators(db: Database, url: str) -> Validators | None:
    with db.session() as session:
        state = session.get(FetchState, url)
        if state is None:
            return None
        return Validators(state.etag, state.last_modified, state.content_hash)


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
