"""Updates: an alerted event gained reports from sources its alert did not name.

Each match remembers the sources its alert and updates have named (``told_sources``) and when
its last update goes out (``updated_at``). A new source queues one update per channel, due no
sooner than the rule's interval after the previous one; sources found while one waits are
added to it, so an event with a burst of new reports gets one update naming them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.grouping import hold_grouping_lock
from storage.models import Article, Match, Update, utcnow
from storage.outbox import event_sources

# rule -> (its channels, the least time between two updates of one event)
UpdatePolicies = Mapping[str, tuple[tuple[str, ...], timedelta]]


def queue_updates(
    db: Database, article_id: int, policies: UpdatePolicies, now: datetime | None = None
) -> int:
    """Queue an update for every alert of a rule in `policies` on the article's event that has
    not named all its sources yet; return how many were queued (not counting those extended).
    The event is read under the grouping lock: one read earlier may have been merged away."""
    if not policies:
        return 0
    when = now or utcnow()
    with db.session() as session:
        hold_grouping_lock(session)
        event_id = session.scalar(select(Article.event_id).where(Article.id == article_id))
        if event_id is None:
            return 0
        current = event_sources(session, event_id)
        # Locked (on PostgreSQL): two matchers at once (a worker's and `eventwatch crawl`'s)
        # read the same told_sources, and an update named its new source twice. In id order,
        # so that two of them never hold one row each while waiting for the other's.
        matches = session.scalars(
            select(Match)
            .where(Match.event_id == event_id, Match.rule.in_(list(policies)))
            .order_by(Match.id)
            .with_for_update()
        ).all()
        queued = 0
        for match in matches:
            new = [source for source in current if source not in (match.told_sources or [])]
            if new:
                queued += _update(session, match, new, *policies[match.rule], when)
        return queued


def _update(
    session: Session,
    match: Match,
    new: list[str],
    channels: tuple[str, ...],
    every: timedelta,
    now: datetime,
) -> int:
    match.told_sources = list(dict.fromkeys([*(match.told_sources or []), *new]))
    waiting = session.scalars(
        select(Update).where(
            Update.match_id == match.id, Update.status == "pending", Update.attempts == 0
        )
    ).all()
    for update in waiting:  # not sent yet: it names these too
        update.sources = list(dict.fromkeys([*update.sources, *new]))
    if waiting:
        return 0
    due = now if match.updated_at is None else max(now, match.updated_at + every)
    match.updated_at = due
    for channel in dict.fromkeys(channels):
        session.add(
            Update(
                key=str(uuid.uuid4()),
                match_id=match.id,
                rule=match.rule,
                event_id=match.event_id,
                channel=channel,
                sources=new,
                next_attempt_at=due,
            )
        )
    return len(dict.fromkeys(channels))
