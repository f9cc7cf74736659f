"""Which event a new article reports: the story it shares text or title with, or a new one.

Within EVENT_WINDOW of the article's date (published, else first seen), in this order:
identical words; a near-duplicate text (storage.similarity: candidates by LSH band key, then
exact shingle Jaccard); the same normalised title; then, in any language, the signals it
shares with a report published within days (storage.signals: candidates by anchor key, then
weighed). A near-duplicate or the same title does not join a report whose signals veto it
(another city or country, no day in common): a press office's recurring title or footer.
What articles name (places, organisations, dates mentioned) is merged into their event, so
an event carries what all its reports say. Why an article joined its event is returned with
the event, to be kept on the article.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from storage import signals
from storage.models import Article, ArticleBand, ArticleSignal, Base, Event, UTCDateTime
from storage.similarity import NEAR_DUPLICATE, jaccard, shingles

logger = logging.getLogger(__name__)

EVENT_WINDOW = timedelta(days=7)
MIN_TITLE_KEY_CHARS = 24
MAX_CANDIDATES = 8  # most band keys shared first; the best near-duplicate is among them
_GROUPING_LOCK = 0x6576_656E_7473  # PostgreSQL advisory lock key ("events")
# record_bands's statement in the driver's own parameter style, for the drivers the tests run
# (SQLite's); any other goes through SQLAlchemy's insert.
_INSERT_BANDS = {"qmark": "INSERT INTO article_bands (band, article_id) VALUES (?, ?)"}
_INSERT_SIGNALS = {"qmark": "INSERT INTO article_signals (key, day, article_id) VALUES (?, ?, ?)"}
Reason = dict[str, Any]  # why an article joined its event: {"by": ..., "article": id, ...}


@dataclass(frozen=True, slots=True)
class StoryKeys:
    """What an article is compared by: its words' hash, title key, shingles and band keys."""

    digest: str
    title_key: str
    shingles: frozenset[int]
    bands: tuple[int, ...]
    when: datetime  # published, else now
    signals: tuple[
        str, ...
    ] = ()  # what it says in any language (crawlers.enrichment.story_signals)

    @property
    def day(self) -> date:
        return self.when.date()


# The lookups run for every article stored. Built once, with bound parameters: building a
# statement and its cache key costs more than running its cached compiled form. They run on
# the session's connection, as Core statements, which skip the ORM's bookkeeping.
_STORY_TIME = func.coalesce(Article.published_at, Article.first_seen)
_IN_WINDOW = _STORY_TIME.between(
    bindparam("earliest", type_=UTCDateTime()), bindparam("latest", type_=UTCDateTime())
)
_SAME_TEXT = (
    select(Article.event_id, Article.id)
    .where(Article.content_hash == bindparam("digest"), _IN_WINDOW)
    .limit(1)
)
_BAND_CANDIDATES = (
    select(ArticleBand.article_id)
    .join(Article, Article.id == ArticleBand.article_id)
    .where(ArticleBand.band.in_(bindparam("bands", expanding=True)), _IN_WINDOW)
    .group_by(ArticleBand.article_id)
    .order_by(func.count(ArticleBand.band).desc(), ArticleBand.article_id.desc())
    .limit(MAX_CANDIDATES)
)
_CANDIDATES = select(Article.id, Article.text, Article.event_id, Article.signals).where(
    Article.id.in_(bindparam("article_ids", expanding=True))
)
_SAME_TITLE = (
    select(Article.event_id, Article.id, Article.signals)
    .where(Article.title_key == bindparam("title_key"), _IN_WINDOW)
    .order_by(Article.id.desc())
    .limit(1)
)
_SIGNAL_CANDIDATES = (
    select(ArticleSignal.article_id)
    .where(
        ArticleSignal.key.in_(bindparam("keys", expanding=True)),
        ArticleSignal.day.between(bindparam("first_day"), bindparam("last_day")),
    )
    .group_by(ArticleSignal.article_id)
    .order_by(func.count(ArticleSignal.key).desc(), ArticleSignal.article_id.desc())
    .limit(signals.MAX_SIGNAL_CANDIDATES)
)
_SIGNALS = select(Article.id, Article.event_id, Article.signals).where(
    Article.id.in_(bindparam("article_ids", expanding=True))
)
_EVENTS = Base.metadata.tables[Event.__tablename__]
_INSERT_EVENT = insert(_EVENTS)
_EVENT_NAMES = select(Event.places, Event.organisations, Event.dates_mentioned).where(
    Event.id == bindparam("event_id")
)
# SET takes its values by column name; the row is named by a parameter no column has.
_UPDATE_EVENT = update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id"))
_LOCK_HELD = "eventwatch.grouping_lock"  # in Session.info: the transaction that holds it


def _window(keys: StoryKeys) -> dict[str, datetime]:
    return {"earliest": keys.when - EVENT_WINDOW, "latest": keys.when + EVENT_WINDOW}


def hold_grouping_lock(session: Session) -> None:
    """Serialise event assignment until commit, so two crawls storing one story at the same
    moment cannot both start an event for it (and alert twice). Taken once per transaction:
    the next article of a batch already holds it."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_LOCK_HELD) is transaction:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GROUPING_LOCK})
    elif dialect == "sqlite":  # any write takes SQLite's one write lock; reads then see all
        session.execute(text("UPDATE sources SET name = name WHERE 1 = 0"))
    session.info[_LOCK_HELD] = transaction


def find_event(session: Session, keys: StoryKeys) -> tuple[int, Reason] | None:
    """The id of the event this article reports and why, or None for a story not seen in
    the window."""
    connection = session.connection()
    for finder in (_same_text, _near_duplicate, _same_title, _shared_signals):
        found = finder(connection, keys)
        if found is not None:
            logger.debug("joins event %d by %s", found[0], found[1]["by"])
            return found
    return None


def _same_text(connection: Connection, keys: StoryKeys) -> tuple[int, Reason] | None:
    row = connection.execute(_SAME_TEXT, {"digest": keys.digest, **_window(keys)}).first()
    return (row.event_id, {"by": "same text", "article": row.id}) if row else None


def _near_duplicate(connection: Connection, keys: StoryKeys) -> tuple[int, Reason] | None:
    if not keys.bands:
        return None
    window = _window(keys)
    candidates = connection.execute(_BAND_CANDIDATES, {"bands": keys.bands, **window}).scalars()
    order = candidates.all()  # most shared band keys first: on a tie, the first one wins
    if not order:
        return None
    found = {row.id: row for row in connection.execute(_CANDIDATES, {"article_ids": order})}
    best: tuple[float, int, int] | None = None
    for article_id in order:
        _, text, event_id, said = found[article_id]
        score = jaccard(keys.shingles, shingles(text))
        if score < NEAR_DUPLICATE or (best is not None and score <= best[0]):
            continue
        if signals.veto(keys.signals, said or ()) is None:  # a shared footer, a template
            best = (score, event_id, article_id)
    if best is None:
        return None
    score, event_id, article_id = best
    return event_id, {"by": "near duplicate", "article": article_id, "score": round(score, 3)}


def _same_title(connection: Connection, keys: StoryKeys) -> tuple[int, Reason] | None:
    if len(keys.title_key) < MIN_TITLE_KEY_CHARS:
        return None
    row = connection.execute(_SAME_TITLE, {"title_key": keys.title_key, **_window(keys)}).first()
    if row is None or signals.veto(keys.signals, row.signals or ()) is not None:
        return None  # a recurring title ("Statement by the Chairperson"), another story
    return row.event_id, {"by": "same title", "article": row.id}


def _shared_signals(connection: Connection, keys: StoryKeys) -> tuple[int, Reason] | None:
    """The event of the report that shares the most weight of signals with this one, if
    they are one event (storage.signals) and no other report of that event vetoes it."""
    anchors = signals.anchor_keys(keys.signals)
    if not anchors:
        return None
    days = {"first_day": keys.day - signals.PUBLICATION_WINDOW,
            "last_day": keys.day + signals.PUBLICATION_WINDOW}  # fmt: skip
    order = connection.execute(_SIGNAL_CANDIDATES, {"keys": anchors, **days}).scalars().all()
    if not order:
        return None
    rows = connection.execute(_SIGNALS, {"article_ids": order}).all()
    verdicts = [(signals.compare(keys.signals, row.signals or ()), row) for row in rows]
    vetoed = {row.event_id for verdict, row in verdicts if verdict.veto}
    best = max(
        ((v, row) for v, row in verdicts if v.same_event and row.event_id not in vetoed),
        key=lambda pair: (pair[0].score, pair[1].id),
        default=None,
    )
    if best is None:
        return None
    verdict, row = best
    shared = [{"kind": s.kind, "value": s.value, "weight": s.weight} for s in verdict.shared]
    reason = {"by": "shared signals", "article": row.id, "score": verdict.score, "shared": shared}
    return row.event_id, reason


def join_event(
    session: Session, event_id: int | None, title: str, names: dict[str, list[Any]], now: datetime
) -> int:
    """Add the article's names (places, organisations, dates mentioned) to its event, or start
    the event with them when ``event_id`` is None; the event's id."""
    connection = session.connection()
    if event_id is None:
        row = {"title": title, "first_seen": now, "updated_at": now}
        inserted = connection.execute(_INSERT_EVENT, {**row, **merged_names(None, names)})
        (new_id,) = inserted.inserted_primary_key or (None,)
        if new_id is None:  # every backend reports an autoincrement key (cursor.lastrowid)
            raise RuntimeError("the database gave no id for the event just inserted")
        return int(new_id)
    held = connection.execute(_EVENT_NAMES, {"event_id": event_id}).one()._asdict()
    merged = merged_names(held, names)
    connection.execute(_UPDATE_EVENT, {"event_id": event_id, "updated_at": now, **merged})
    return event_id


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


def record_signals(session: Session, article_id: int, keys: StoryKeys) -> None:
    """The article's anchor keys on its story's day, as record_bands stores band keys."""
    anchors = signals.anchor_keys(keys.signals)
    if not anchors:
        return
    connection = session.connection()
    rows = [(key, keys.day, article_id) for key in anchors]
    statement = _INSERT_SIGNALS.get(connection.dialect.paramstyle)
    if statement is None:
        table = Base.metadata.tables[ArticleSignal.__tablename__]
        named = [{"key": k, "day": d, "article_id": a} for k, d, a in rows]
        connection.execute(insert(table), named)
    else:
        connection.exec_driver_sql(statement, [(k, d.isoformat(), a) for k, d, a in rows])


def merged_names(
    held: dict[str, list[Any]] | None, names: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """An event's places, organisations and dates mentioned (``held``, None for a new event)
    with an article's ``names`` added: places and organisations in order of first mention,
    dates sorted by their span, where the event's wording of a span stays."""
    held = held or {}
    dates = [*names["dates_mentioned"], *(held.get("dates_mentioned") or ())]
    by_span = {(d["start"], d["end"]): d for d in dates}
    return {
        "places": _union(held.get("places"), names["places"]),
        "organisations": _union(held.get("organisations"), names["organisations"]),
        "dates_mentioned": sorted(by_span.values(), key=lambda d: (d["start"], d["end"])),
    }


def _union(first: Iterable[Any] | None, second: Iterable[Any] | None) -> list[Any]:
    return list(dict.fromkeys([*(first or ()), *(second or ())]))
