"""Which event a new article reports: the story it shares text or title with, or a new one.

Within EVENT_WINDOW of the article's date (published, else first seen), in this order:
identical words; a near-duplicate text (storage.similarity: candidates by LSH band key, then
exact shingle Jaccard); the same normalised title. What articles name (places, organisations,
dates mentioned) is merged into their event, so an event carries what all its reports say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from storage.models import Article, ArticleBand, Event, UTCDateTime
from storage.similarity import NEAR_DUPLICATE, jaccard, shingles

logger = logging.getLogger(__name__)

EVENT_WINDOW = timedelta(days=7)
MIN_TITLE_KEY_CHARS = 24
MAX_CANDIDATES = 8  # most band keys shared first; the best near-duplicate is among them
_GROUPING_LOCK = 0x6576_656E_7473  # PostgreSQL advisory lock key ("events")
# record_bands's statement in the driver's own parameter style, for the drivers the tests run
# (SQLite's); any other goes through SQLAlchemy's insert.
_INSERT_BANDS = {"qmark": "INSERT INTO article_bands (band, article_id) VALUES (?, ?)"}


@dataclass(frozen=True, slots=True)
class StoryKeys:
    """What an article is compared by: its words' hash, title key, shingles and band keys."""

    digest: str
    title_key: str
    shingles: frozenset[int]
    bands: tuple[int, ...]
    when: datetime  # published, else now


# The lookups run for every article stored. Built once, with bound parameters: building a
# statement and its cache key costs more than running its cached compiled form.
_STORY_TIME = func.coalesce(Article.published_at, Article.first_seen)
_IN_WINDOW = _STORY_TIME.between(
    bindparam("earliest", type_=UTCDateTime()), bindparam("latest", type_=UTCDateTime())
)
_SAME_TEXT = (
    select(Article.event_id).where(Article.content_hash == bindparam("digest"), _IN_WINDOW).limit(1)
)
_BAND_CANDIDATES = (
    select(ArticleBand.article_id)
    .join(Article, Article.id == ArticleBand.article_id)
    .where(ArticleBand.band.in_(bindparam("bands", expanding=True)), _IN_WINDOW)
    .group_by(ArticleBand.article_id)
    .order_by(func.count(ArticleBand.band).desc(), ArticleBand.article_id.desc())
    .limit(MAX_CANDIDATES)
)
_CANDIDATE = select(Article.text, Article.event_id).where(Article.id == bindparam("article_id"))
_SAME_TITLE = (
    select(Article.event_id)
    .where(Article.title_key == bindparam("title_key"), _IN_WINDOW)
    .order_by(Article.id.desc())
    .limit(1)
)


def _window(keys: StoryKeys) -> dict[str, datetime]:
    return {"earliest": keys.when - EVENT_WINDOW, "latest": keys.when + EVENT_WINDOW}


def hold_grouping_lock(session: Session) -> None:
    """Serialise event assignment until commit, so two crawls storing one story at the same
    moment cannot both start an event for it (and alert twice). Taking it again in the same
    transaction (the next article of a batch) is harmless on both databases."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GROUPING_LOCK})
    elif dialect == "sqlite":  # any write takes SQLite's one write lock; reads then see all
        session.execute(text("UPDATE sources SET name = name WHERE 1 = 0"))


def find_event(session: Session, keys: StoryKeys) -> Event | None:
    """The event this article reports, or None for a story not seen in the window."""
    for finder in (_same_text, _near_duplicate, _same_title):
        event_id = finder(session, keys)
        if event_id is not None:
            logger.debug("joins event %d by %s", event_id, finder.__name__.lstrip("_"))
            return session.get(Event, event_id)
    return None


def _same_text(session: Session, keys: StoryKeys) -> int | None:
    return session.scalar(_SAME_TEXT, {"digest": keys.digest, **_window(keys)})


def _near_duplicate(session: Session, keys: StoryKeys) -> int | None:
    if not keys.bands:
        return None
    candidates = session.scalars(_BAND_CANDIDATES, {"bands": keys.bands, **_window(keys)}).all()
    best: tuple[float, int] | None = None
    for article_id in candidates:
        text, event_id = session.execute(_CANDIDATE, {"article_id": article_id}).one()
        score = jaccard(keys.shingles, shingles(text))
        if score >= NEAR_DUPLICATE and (best is None or score > best[0]):
            best = (score, event_id)
    return best[1] if best else None


def _same_title(session: Session, keys: StoryKeys) -> int | None:
    if len(keys.title_key) < MIN_TITLE_KEY_CHARS:
        return None
    return session.scalar(_SAME_TITLE, {"title_key": keys.title_key, **_window(keys)})


def record_bands(session: Session, article_id: int, keys: StoryKeys) -> None:
    """Forty rows per article, handed to the driver as they are: SQLAlchemy's processing of
    each row's parameters took longer than the insert itself (and forty ORM objects, or the
    ORM's bulk insert, longer still)."""
    if not keys.bands:
        return
    connection = session.connection()
    rows = [(band, article_id) for band in keys.bands]
    statement = _INSERT_BANDS.get(connection.dialect.paramstyle)
    if statement is None:
        connection.execute(insert(ArticleBand), [{"band": b, "article_id": a} for b, a in rows])
    else:
        connection.exec_driver_sql(statement, rows)


def merge_into_event(
    event: Event, places: list[Any], organisations: list[Any], dates_mentioned: list[Any]
) -> None:
    """Add what an article names to its event; new lists, so the change is saved."""
    event.places = _union(event.places, places)
    event.organisations = _union(event.organisations, organisations)
    merged = {(d["start"], d["end"]): d for d in [*dates_mentioned, *event.dates_mentioned]}
    event.dates_mentioned = sorted(merged.values(), key=lambda d: (d["start"], d["end"]))


def _union(first: Iterable[Any], second: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys([*(first or ()), *(second or ())]))
