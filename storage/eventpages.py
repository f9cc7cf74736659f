"""Events a page at a time, newest activity first, with the filters of the web UI, its API
and `events list`; and one event whole: its reports, matches, deliveries and triage state.

An event's activity is the arrival of its newest report (``events.updated_at``, indexed), so
a story that two more sites just reported comes back to the top.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Text, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from storage.db import Database
from storage.event_edits import MERGED_AWAY, merged_into
from storage.events import ARTICLE_LINK, page_day, page_instant
from storage.models import Article, Delivery, Event, EventEdit, EventState, Match, Source
from storage.outbox import DeliveryRow, delivery_row


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What narrows a list of events; every field left empty narrows nothing."""

    source: str | None = None
    language: str | None = None
    place: str | None = None
    organisation: str | None = None
    rule: str | None = None
    first_seen_from: datetime | None = None
    first_seen_to: datetime | None = None
    published_from: date | None = None
    published_to: date | None = None
    unread: bool = False
    starred: bool = False
    dismissed: bool = False  # show dismissed events (hidden otherwise)


@dataclass(frozen=True, slots=True)
class Report:
    """One article of an event, as the event page shows it."""

    article_id: int
    source: str
    url: str
    title: str
    language: str | None
    published_day: date | None
    published_at: datetime | None
    first_seen: datetime
    text: str = ""
    languages: tuple[str, ...] = ()  # of its paragraphs, as extraction told them


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event in a list: the page's day of its first report, its sources and languages."""

    event_id: int
    title: str
    url: str
    first_seen: datetime
    updated_at: datetime
    published_day: date | None
    sources: tuple[str, ...]
    languages: tuple[str, ...]
    places: tuple[str, ...]
    organisations: tuple[str, ...]
    rules: tuple[str, ...]
    read: bool = False
    starred: bool = False
    dismissed: bool = False


@dataclass(frozen=True, slots=True)
class MatchRow:
    rule: str
    article_id: int
    terms: tuple[str, ...]
    snippets: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventDetail:
    row: EventRow
    reports: tuple[Report, ...]
    dates_mentioned: tuple[dict[str, Any], ...]
    matches: tuple[MatchRow, ...]
    deliveries: tuple[DeliveryRow, ...] = field(default=())
    merged_into: int | None = None  # its reports were merged into that event


def _json_holds(column: Any, name: str) -> Any:
    """A JSON list column holds ``name``, whatever its case: its serialised text holds the
    serialised string (the same escaping both ways, on SQLite and PostgreSQL; LIKE ignored
    the case on SQLite only)."""
    needle = json.dumps(name).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, Text).ilike(f"%{needle}%", escape="\\")


def _state_is(flag: Any) -> Any:
    return exists().where(EventState.event_id == Event.id, flag.is_(True))


def _report_conditions(chosen: EventFilter) -> list[Any]:
    """What one of an event's reports must be: each condition is met by some report."""
    reported = select(Article.event_id)
    conditions = []
    if chosen.source:
        reported_by = reported.join(Source, Source.id == Article.source_id)
        conditions.append(reported_by.where(Source.name == chosen.source))
    if chosen.language:
        conditions.append(reported.where(Article.language == chosen.language))
    if chosen.published_from:
        conditions.append(reported.where(Article.published_day >= chosen.published_from))
    if chosen.published_to:
        conditions.append(reported.where(Article.published_day <= chosen.published_to))
    if chosen.rule:
        conditions.append(select(Match.event_id).where(Match.rule == chosen.rule))
    return [Event.id.in_(condition) for condition in conditions]


def _event_conditions(chosen: EventFilter) -> list[Any]:
    conditions: list[Any] = [Event.id.not_in(MERGED_AWAY)]
    if chosen.place:
        conditions.append(_json_holds(Event.places, chosen.place))
    if chosen.organisation:
        conditions.append(_json_holds(Event.organisations, chosen.organisation))
    if chosen.first_seen_from:
        conditions.append(Event.first_seen >= chosen.first_seen_from)
    if chosen.first_seen_to:
        conditions.append(Event.first_seen <= chosen.first_seen_to)
    if chosen.unread:
        conditions.append(~_state_is(EventState.read))
    if chosen.starred:
        conditions.append(_state_is(EventState.starred))
    if not chosen.dismissed:
        conditions.append(~_state_is(EventState.dismissed))
    return conditions


def _filtered(chosen: EventFilter) -> Select[Any]:
    return select(Event.id).where(*_report_conditions(chosen), *_event_conditions(chosen))


def count_events(db: Database, chosen: EventFilter) -> int:
    if chosen == EventFilter():  # the unfiltered page: three counts, not a check per event
        with db.session() as session:
            events = session.scalar(select(func.count(Event.id))) or 0
            dismissed = select(func.count(EventState.event_id)).where(
                EventState.dismissed.is_(True), EventState.event_id.not_in(MERGED_AWAY)
            )
            gone = select(func.count(func.distinct(EventEdit.from_event_id))).where(
                EventEdit.kind == "merge"
            )
            hidden = int(session.scalar(dismissed) or 0) + int(session.scalar(gone) or 0)
            return int(events) - hidden
    with db.session() as session:
        counted = select(func.count()).select_from(_filtered(chosen).subquery())
        return int(session.scalar(counted) or 0)


# An event's place in the list, (updated_at, id): where a page ended. The next page starts
# after it, so that events gaining reports meanwhile (which move to the top) neither show
# twice nor push others past the page, as counting an offset from the top did.
PageMark = tuple[datetime, int]


def event_ids(
    db: Database, chosen: EventFilter, limit: int, offset: int = 0, after: PageMark | None = None
) -> list[int]:
    """Ids of the filtered events, newest activity first; ``after``: only those listed after
    that mark."""
    query = _filtered(chosen)
    if after is not None:
        at, last = after
        query = query.where(
            or_(Event.updated_at < at, and_(Event.updated_at == at, Event.id < last))
        )
    query = query.order_by(Event.updated_at.desc(), Event.id.desc())
    with db.session() as session:
        return list(session.scalars(query.offset(offset).limit(limit)))


def event_mark(db: Database, event_id: int) -> PageMark | None:
    """Where ``event_id`` stands in the list; None if it is gone."""
    with db.session() as session:
        updated = session.scalar(select(Event.updated_at).where(Event.id == event_id))
        return None if updated is None else (updated, event_id)


def event_rows(db: Database, ids: Sequence[int]) -> list[EventRow]:
    """The events of ``ids`` in that order, each with its reports' sources and languages."""
    with db.session() as session:
        return _rows(session, list(ids))


def _rows(session: Session, ids: list[int]) -> list[EventRow]:
    events = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_(ids)))}
    reports = _reports(session, ids, with_text=False)
    rules: dict[int, list[str]] = {event_id: [] for event_id in ids}
    for event_id, rule in session.execute(
        select(Match.event_id, Match.rule).where(Match.event_id.in_(ids)).order_by(Match.id)
    ):
        rules[event_id].append(rule)
    states = {s.event_id: s for s in session.scalars(select(EventState).where(
        EventState.event_id.in_(ids)))}  # fmt: skip
    return [
        _row(events[i], reports.get(i, []), rules[i], states.get(i)) for i in ids if i in events
    ]


def _row(
    event: Event, reports: list[Report], rules: list[str], state: EventState | None
) -> EventRow:
    first = reports[0] if reports else None
    return EventRow(
        event_id=event.id,
        title=first.title if first else event.title,
        url=first.url if first else "",
        first_seen=event.first_seen,
        updated_at=event.updated_at,
        published_day=first.published_day if first else None,
        sources=tuple(dict.fromkeys(r.source for r in reports)),
        languages=tuple(dict.fromkeys(r.language for r in reports if r.language)),
        places=tuple(event.places or ()),
        organisations=tuple(event.organisations or ()),
        rules=tuple(dict.fromkeys(rules)),
        read=bool(state and state.read),
        starred=bool(state and state.starred),
        dismissed=bool(state and state.dismissed),
    )


def _reports(session: Session, ids: list[int], *, with_text: bool) -> dict[int, list[Report]]:
    """Each event's reports, first stored first."""
    columns = [
        Article.id, Article.event_id, Source.name, ARTICLE_LINK, Article.title,
        Article.language, Article.published_day, Article.published_at,
        Article.published_offset_minutes, Article.first_seen,
    ]  # fmt: skip
    if with_text:
        columns += [Article.text, Article.languages]
    rows = session.execute(
        select(*columns)
        .join(Source, Source.id == Article.source_id)
        .where(Article.event_id.in_(ids))
        .order_by(Article.id)
    )
    found: dict[int, list[Report]] = {}
    for article_id, event_id, name, url, title, language, day, at, offset, seen, *more in rows:
        text, languages = more if more else ("", ())
        found.setdefault(event_id, []).append(
            Report(
                article_id, name, url, title, language, page_day(day, at),
                page_instant(at, offset), seen, text, tuple(languages or ()),
            )
        )  # fmt: skip
    return found


def report_texts(db: Database, ids: Sequence[int]) -> dict[int, list[Report]]:
    """Each event's reports with their full text (for a query in the rule language)."""
    with db.session() as session:
        return _reports(session, list(ids), with_text=True)


def event_detail(db: Database, event_id: int) -> EventDetail | None:
    with db.session() as session:
        event = session.get(Event, event_id)
        if event is None:
            return None
        row = _rows(session, [event_id])[0]
        reports = _reports(session, [event_id], with_text=True).get(event_id, [])
        matches = session.scalars(
            select(Match).where(Match.event_id == event_id).order_by(Match.id)
        )
        deliveries = session.scalars(
            select(Delivery).where(Delivery.event_id == event_id).order_by(Delivery.id)
        )
        return EventDetail(
            row=row,
            reports=tuple(reports),
            dates_mentioned=tuple(event.dates_mentioned or ()),
            matches=tuple(
                MatchRow(
                    m.rule,
                    m.article_id,
                    tuple(m.terms or ()),
                    tuple(m.snippets or ()),
                    m.created_at,
                )
                for m in matches
            ),
            deliveries=tuple(delivery_row(d) for d in deliveries),
            merged_into=merged_into(session, event_id),
        )
