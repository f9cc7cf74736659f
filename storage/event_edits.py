"""Why each report joined its event, and an analyst's corrections: splitting a report out of
its event and merging two events.

Both corrections are kept (table ``event_edits``) and neither loses nor doubles an alert:
- a report split out starts an event of its own and is matched again, so the alert its
  wrong grouping silenced is sent now, once (the unique key of matches sees to it);
- on a merge, the other event's reports, matches, deliveries and updates move to the kept
  event, except a match for a rule the kept event has matched already: the other event's
  match stays where it was, and of the two events' alerts on each channel one stands. If
  either was sent (or put in a digest), the unsent rest are marked ``merged``; else the kept
  event's goes, and the other's is ``merged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.db import Database
from storage.dbclock import database_now
from storage.events import ARTICLE_LINK
from storage.grouping import hold_grouping_lock, merged_names
from storage.models import (
    Article,
    Delivery,
    Digest,
    Event,
    EventEdit,
    EventState,
    Match,
    Source,
    Update,
    utcnow,
)


class EventEditError(ValueError):
    """An edit that cannot be made, said in one line (an unknown id, nothing to split)."""


@dataclass(frozen=True, slots=True)
class JoinReason:
    """One report of an event and why it is there: ``by`` is "first report", "same text",
    "near duplicate", "same title", "shared signals", "split" or "merge"; ``shared`` lists
    the signals it shares with ``article`` ({"kind", "value", "weight"}), for "shared
    signals"; ``score`` their total weight (or the Jaccard of a near duplicate)."""

    article_id: int
    source: str
    url: str
    title: str
    language: str | None
    by: str
    article: int | None = None  # the report it was found to match
    score: float | None = None
    shared: tuple[dict[str, Any], ...] = ()
    detail: dict[str, Any] | None = None  # the whole stored reason, for JSON output


def join_reasons(db: Database, event_id: int) -> list[JoinReason]:
    """Each report of the event, first stored first, with why it joined the event."""
    return join_reasons_by_event(db, [event_id]).get(event_id, [])


def join_reasons_by_event(db: Database, event_ids: list[int]) -> dict[int, list[JoinReason]]:
    """:func:`join_reasons` of many events in one query, by event id."""
    found: dict[int, list[JoinReason]] = {}
    with db.session() as session:
        rows = session.execute(
            select(Article.event_id, Article.id, Source.name, ARTICLE_LINK.label("link"),
                   Article.title, Article.language, Article.joined)
            .join(Source, Source.id == Article.source_id)
            .where(Article.event_id.in_(event_ids))
            .order_by(Article.id)
        ).all()  # fmt: skip
    for r in rows:
        reason = _reason(r.id, r.name, r.link, r.title, r.language, r.joined)
        found.setdefault(r.event_id, []).append(reason)
    return found


def _reason(
    article_id: int, source: str, url: str, title: str, language: str | None, joined: Any
) -> JoinReason:
    joined = joined or {"by": "stored before reasons were kept"}
    return JoinReason(
        article_id, source, url, title, language, str(joined.get("by")),
        joined.get("article"), joined.get("score"), tuple(joined.get("shared") or ()), joined,
    )  # fmt: skip


def split_article(db: Database, article_id: int) -> int:
    """Move the article out of its event into a new event of its own; the new event's id."""
    with db.session() as session:
        hold_grouping_lock(session)
        article = session.get(Article, article_id)
        if article is None:
            raise EventEditError(f"no article {article_id}")
        old = article.event_id
        others = session.scalars(
            select(Article).where(Article.event_id == old, Article.id != article_id)
        ).all()
        if not others:
            raise EventEditError(f"article {article_id} is the only report of event {old}")
        event = Event(title=article.title, **merged_names(None, _names(article)))
        session.add(event)
        session.flush()
        article.event_id, article.matched_at = event.id, None  # matched again, as its event
        article.joined = {"by": "split", "from_event": old, "before": article.joined}
        _rename(session, old, others)
        session.add(EventEdit(kind="split", article_id=article_id, from_event_id=old,
                              to_event_id=event.id))  # fmt: skip
        return event.id


# Events emptied by a merge: they keep their id (old alerts link to it) and the alerts that
# stayed with them, and are left out of every list.
MERGED_AWAY = select(EventEdit.from_event_id).where(EventEdit.kind == "merge")


def merged_into(session: Session, event_id: int) -> int | None:
    """The event that ``event_id``'s reports were merged into, at the end of any chain of
    merges; None if it was never merged away."""
    seen: list[int] = []
    while (kept := _merged_into(session, event_id)) is not None and kept not in seen:
        seen.append(event_id := kept)
    return seen[-1] if seen else None


def _merged_into(session: Session, event_id: int) -> int | None:
    return session.scalar(
        select(EventEdit.to_event_id)
        .where(EventEdit.kind == "merge", EventEdit.from_event_id == event_id)
        .order_by(EventEdit.id.desc())
        .limit(1)
    )


def merge_events(db: Database, kept_id: int, other_id: int) -> int:
    """Move every report of ``other_id`` into ``kept_id``; how many moved."""
    if kept_id == other_id:
        raise EventEditError("an event cannot be merged with itself")
    with db.session() as session:
        hold_grouping_lock(session)
        kept, other = session.get(Event, kept_id), session.get(Event, other_id)
        for event_id, event in ((kept_id, kept), (other_id, other)):
            if event is None:
                raise EventEditError(f"no event {event_id}")
            if (into := merged_into(session, event_id)) is not None:
                raise EventEditError(f"event {event_id} was merged into event {into}")
        if (sending := _being_sent(session, (kept_id, other_id))) is not None:
            raise EventEditError(
                f"event {sending}'s alert is being sent right now: merge again in a minute"
            )
        moved = session.scalars(select(Article).where(Article.event_id == other_id)).all()
        for article in moved:
            article.event_id = kept_id
            article.joined = {"by": "merge", "from_event": other_id, "before": article.joined}
        _move_alerts(session, kept_id, other_id)
        _merge_triage(session, kept_id, other_id)
        reports = session.scalars(select(Article).where(Article.event_id == kept_id)).all()
        _rename(session, kept_id, reports)
        session.add(EventEdit(kind="merge", from_event_id=other_id, to_event_id=kept_id))
        return len(moved)


def _merge_triage(session: Session, kept_id: int, other_id: int) -> None:
    """The kept event's triage after a merge: starred if either was, since an analyst's star
    must not vanish with the event merged away; read and dismissed only if both were, since
    the other's reports are news to whoever had read or dismissed only one."""
    mine, theirs = session.get(EventState, kept_id), session.get(EventState, other_id)
    if mine is None and theirs is None:
        return
    if mine is None:
        mine = EventState(event_id=kept_id, read=False, starred=False, dismissed=False)
        session.add(mine)
    mine.starred = mine.starred or bool(theirs and theirs.starred)
    mine.read = mine.read and bool(theirs and theirs.read)
    mine.dismissed = mine.dismissed and bool(theirs and theirs.dismissed)
    mine.updated_at = utcnow()


UNSENT = ("pending", "held", "failed")
# How far an alert has gone: of two for one story on a channel, the further one stands.
_PROGRESS = {"merged": -1, "failed": 0, "pending": 1, "held": 1, "digested": 2, "sent": 3}


def _being_sent(session: Session, event_ids: tuple[int, ...]) -> int | None:
    """An event of these whose alert a sender holds now: folding it meanwhile could let the
    send go through and its rival too."""
    return session.scalar(
        select(Delivery.event_id)
        .where(Delivery.event_id.in_(event_ids), Delivery.status == "pending")
        .where(Delivery.lease_until > database_now(session))
        .limit(1)
    )


def _move_alerts(session: Session, kept_id: int, other_id: int) -> None:
    """The other event's matches, alerts and updates, to the kept event. Where both matched a
    rule, the other's match stays where it was and one alert per channel stands
    (:func:`_fold`), and the other's updates not sent yet are marked ``merged``."""
    note = f"event merged into {kept_id}"
    matched = set(session.scalars(select(Match.rule).where(Match.event_id == kept_id)))
    for match in session.scalars(select(Match).where(Match.event_id == other_id)).all():
        if match.rule not in matched:
            match.event_id = kept_id
    mine, theirs = _alerts(session, kept_id), _alerts(session, other_id)
    digests = {
        row.digest_id
        for alerts in (mine, theirs)
        for rows in alerts.values()
        for row in rows.values()
        if row.digest_id is not None
    }
    for rule, rows in theirs.items():  # by (rule, event): an earlier merge may have moved one
        _fold(session, kept_id, mine.get(rule, {}), rows, note)
    for row in session.scalars(select(Update).where(Update.event_id == other_id)).all():
        if row.rule not in matched:
            row.event_id = kept_id
        elif row.status in UNSENT:
            row.status, row.last_error = "merged", note
    _close_emptied_digests(session, digests)


def _alerts(session: Session, event_id: int) -> dict[str, dict[str, Delivery]]:
    """The event's alerts by rule, then channel: one each, as the unique key says."""
    found: dict[str, dict[str, Delivery]] = {}
    for row in session.scalars(select(Delivery).where(Delivery.event_id == event_id)):
        found.setdefault(row.rule, {})[row.channel] = row
    return found


def _fold(
    session: Session, kept_id: int, kept: dict[str, Delivery], other: dict[str, Delivery], note: str
) -> None:
    """One rule's alerts of both events, channel by channel: one stands, the one that has gone
    further (sent, in a digest, waiting, failed), the kept event's on a tie; the other is
    ``merged``. When the other event's stands, the kept event's row takes its state, so that
    what goes out names the kept event; one sent already makes the kept event's row ``sent``
    too (noted), so that no later merge takes the story for untold."""
    for channel, theirs in other.items():
        mine = kept.get(channel)
        if mine is None:  # the kept event's only alert on this channel
            theirs.event_id = kept_id
            continue
        if _progress(session, theirs) > _progress(session, mine):
            mine.status, mine.digest_id, mine.attempts = theirs.status, theirs.digest_id, 0
            mine.next_attempt_at, mine.delivered_at = theirs.next_attempt_at, theirs.delivered_at
            mine.last_error = (
                f"sent as event {theirs.event_id}'s alert {theirs.key}; {note}"
                if theirs.status == "sent"
                else note
            )
        _retire(theirs, note)


def _progress(session: Session, row: Delivery) -> int:
    """How far ``row`` has gone; one in a digest that failed for good has not gone at all."""
    if row.status == "digested" and row.digest_id is not None:
        digest = session.get(Digest, row.digest_id)
        if digest is not None and digest.status == "failed":
            return _PROGRESS["failed"]
    return _PROGRESS.get(row.status, _PROGRESS["failed"])


def _retire(row: Delivery, note: str) -> None:
    if row.status != "sent":
        row.status, row.digest_id, row.last_error = "merged", None, note


def _close_emptied_digests(session: Session, digests: set[int]) -> None:
    """Of ``digests``, one not sent yet whose alerts the merge took away has nothing to list."""
    if not digests:
        return
    session.flush()
    listed = select(Delivery.digest_id).where(Delivery.digest_id.in_(digests))
    session.execute(
        update(Digest)
        .where(Digest.id.in_(digests), Digest.status == "pending", Digest.id.not_in(listed))
        .values(status="empty", last_error="its alerts were merged into other events'")
        .execution_options(synchronize_session=False)
    )


def _names(article: Article) -> dict[str, list[Any]]:
    return {
        "places": list(article.places or ()),
        "organisations": list(article.organisations or ()),
        "dates_mentioned": list(article.dates_mentioned or ()),
    }


def _rename(session: Session, event_id: int, reports: Any) -> None:
    """The event's title (its first report's, as alerts show it), places, organisations and
    dates again from its reports now."""
    names: dict[str, list[Any]] | None = None
    ordered = sorted(reports, key=lambda article: article.id)
    for article in ordered:
        names = merged_names(names, _names(article))
    event = session.get(Event, event_id)
    if event is not None and names is not None:
        event.title = ordered[0].title
        event.places, event.organisations = names["places"], names["organisations"]
        event.dates_mentioned, event.updated_at = names["dates_mentioned"], utcnow()
