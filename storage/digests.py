"""Digests in the database: each held delivery is listed in exactly one digest.

A digest is opened once per (channel, scope, slot): the unique key makes a second one for the
same slot impossible, whichever worker or restart tries. Opening it and marking the held
deliveries it lists happen in one transaction, so a delivery is in one digest or none.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.events import ARTICLE_LINK, page_day
from storage.leases import Lease, due_rows, owed, sent_values, take_lease, write_if_held
from storage.models import Article, Delivery, Digest, Event, Match, Source, utcnow


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One alert a digest lists: its rule and what its event's reports say."""

    rule: str
    event_id: int
    title: str
    sources: tuple[str, ...]
    languages: tuple[str, ...]
    places: tuple[str, ...]
    day: date | None
    words: tuple[str, ...]
    url: str | None


@dataclass(frozen=True, slots=True)
class DigestTask:
    id: int
    key: str
    channel: str
    attempts: int
    since: datetime | None
    until: datetime
    entries: tuple[DigestEntry, ...]
    lease: Lease  # this sender's, until the outcome is recorded
    owed_to: tuple[str, ...] | None = None  # the recipients still owed it; None: all


def open_digest(
    db: Database,
    channel: str,
    slot: datetime,
    *,
    rule: str | None = None,
    excluded: Collection[str] = (),
    send_empty: bool = False,
) -> bool:
    """Open the digest due at `slot` on `channel` (of `rule` only, if given; else of every
    rule but `excluded`) listing the held deliveries made up to `slot`, unless it is open
    already. One with nothing to list is recorded as "empty", never sent, unless
    `send_empty`. True if this call opened it."""
    scope = rule or ""
    try:
        with db.session() as session:
            mine = (Digest.channel == channel, Digest.scope == scope)
            if session.scalar(select(Digest.id).where(*mine, Digest.slot_at == slot)):
                return False
            since = session.scalar(
                select(func.max(Digest.slot_at)).where(*mine, Digest.slot_at < slot)
            )
            ids = _held(session, channel, slot, rule, excluded)
            digest = Digest(
                key=str(uuid.uuid4()), channel=channel, scope=scope, slot_at=slot,
                since_at=since, status="pending" if ids or send_empty else "empty",
            )  # fmt: skip
            session.add(digest)
            session.flush()  # a second opener of the same slot fails here, on the unique key
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.status == "held")
                .values(digest_id=digest.id, status="digested")
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        return False
    return True


def _held(
    session: Session, channel: str, slot: datetime, rule: str | None, excluded: Collection[str]
) -> Sequence[int]:
    """The held deliveries on `channel` made up to `slot`: of `rule`, or of every rule but
    `excluded`."""
    held = select(Delivery.id).where(
        Delivery.channel == channel, Delivery.status == "held", Delivery.created_at <= slot
    )
    if rule:
        return session.scalars(held.where(Delivery.rule == rule)).all()
    return session.scalars(held.where(Delivery.rule.not_in(list(excluded)))).all()


def held_alerts(db: Database) -> set[tuple[str, str]]:
    """(channel, rule) of every delivery held for a digest."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.rule).where(Delivery.status == "held").distinct()
        ).all()
        return {(channel, rule) for channel, rule in rows}


def release_held(db: Database, channel: str, rule: str) -> int:
    """Queue for sending alone the deliveries of `rule` on `channel` held for a digest that
    no longer collects them (a digest, a channel or a rule's channel removed from the
    config): no alert is left waiting for ever."""
    with db.session() as session:
        released = session.execute(
            update(Delivery)
            .where(Delivery.channel == channel, Delivery.rule == rule)
            .where(Delivery.status == "held")
            .values(status="pending", next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(released.rowcount)  # type: ignore[attr-defined]


def mark_digest_sent(
    db: Database, lease: Lease, note: str | None = None, *, partly_before: bool = False
) -> bool:
    """The digest and the deliveries it lists are sent, in one transaction (``note`` and
    ``partly_before``: :func:`storage.leases.sent_values`); False (nothing written) if the
    lease had passed to another sender."""
    sent = sent_values(note, partly_before=partly_before)
    now = sent["delivered_at"]
    with db.session() as session:
        if not write_if_held(session, lease, **sent):
            return False
        session.execute(
            update(Delivery)
            .where(Delivery.digest_id == lease.row_id)
            .values(status="sent", delivered_at=now)
            .execution_options(synchronize_session=False)
        )
        return True


def claim_due_digests(
    db: Database, lease: timedelta, limit: int = 20, skip: Collection[str] = ()
) -> Iterator[DigestTask]:
    """Due digests, each leased only as it is handed over, as `claim_due` does deliveries,
    and likewise none of a channel in `skip`."""
    for digest_id, channel in due_rows(db, Digest, limit, skip):
        if channel in skip:
            continue
        taken = take_lease(db, Digest, digest_id, lease)
        if taken is not None:
            yield digest_task(db, taken)


def digest_task(db: Database, lease: Lease) -> DigestTask:
    digest_id = lease.row_id
    with db.session() as session:
        digest = session.get_one(Digest, digest_id)
        rows = session.execute(
            select(Delivery.rule, Event.id, Event.title, Event.places, Match.words)
            .join(Event, Event.id == Delivery.event_id)
            .join(Match, Match.id == Delivery.match_id)
            .where(Delivery.digest_id == digest_id)
            .order_by(Delivery.rule, Event.id)
        ).all()
        reports = _reports(session, {row[1] for row in rows})
        entries = tuple(
            _entry(rule, event_id, title, places, words, reports.get(event_id, _NO_REPORTS))
            for rule, event_id, title, places, words in rows
        )
        return DigestTask(
            digest.id, digest.key, digest.channel, digest.attempts, digest.since_at,
            digest.slot_at, entries, lease, owed(digest.owed_to),
        )  # fmt: skip


Reports = tuple[tuple[str, ...], tuple[str, ...], date | None, str | None]
_NO_REPORTS: Reports = ((), (), None, None)


def _entry(
    rule: str, event_id: int, title: str, places: Any, words: Any, reports: Reports
) -> DigestEntry:
    sources, languages, day, url = reports
    return DigestEntry(
        rule, event_id, title, sources, languages, tuple(places or ()), day,
        tuple(words or ()), url,
    )  # fmt: skip


def _reports(session: Session, event_ids: set[int]) -> dict[int, Reports]:
    """Per event: its sources, languages, first report's day and link, in one query for all."""
    rows = session.execute(
        select(
            Article.event_id,
            Source.name,
            Article.language,
            Article.published_day,
            Article.published_at,
            ARTICLE_LINK,
        )
        .join(Source, Source.id == Article.source_id)
        .where(Article.event_id.in_(event_ids))
        .order_by(Article.id)
    ).all()
    found: dict[int, tuple[dict[str, None], dict[str, None], date | None, str | None]] = {}
    for event_id, source, language, day, at, url in rows:
        if event_id not in found:
            found[event_id] = ({}, {}, page_day(day, at), url)
        found[event_id][0][source] = None
        if language:
            found[event_id][1][language] = None
    return {
        event_id: (tuple(sources), tuple(languages), day, url)
        for event_id, (sources, languages, day, url) in found.items()
    }


def digest_statuses(db: Database, channel: str) -> Sequence[tuple[str, str, datetime]]:
    """(key, status, slot) of the channel's digests, oldest slot first."""
    with db.session() as session:
        return session.execute(
            select(Digest.key, Digest.status, Digest.slot_at)
            .where(Digest.channel == channel)
            .order_by(Digest.slot_at)
        ).all()  # type: ignore[return-value]
