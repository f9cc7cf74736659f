"""What the pages and the API show, put together from storage: the same data both ways."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from monitor.config import Config
from monitor.health_record import recorded_health
from storage.db import Database
from storage.eventpages import EventFilter, EventRow, PageMark
from storage.ids import MAX_ROW_ID
from storage.outbox import DeliveryRow
from storage.runs import RunSummary, latest_runs
from storage.stats import article_counts
from storage.triage import rule_hits_by_day, source_requests

MAX_LIMIT = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadFilter(ValueError):
    """A filter that cannot be read (a date that is no date): one line for the page."""


def _day(params: Mapping[str, str], key: str) -> date | None:
    text = (params.get(key) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{key}: {text!r} is not a date like 2026-12-31") from None


def _instant(params: Mapping[str, str], key: str) -> datetime | None:
    day = _day(params, key)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


def _flag(params: Mapping[str, str], key: str) -> bool:
    # the words the API's parameters take as true (pydantic's): the two must agree
    return (params.get(key) or "").lower() in ("1", "true", "t", "on", "yes", "y")


def _number(params: Mapping[str, str], key: str, default: int, most: int) -> int:
    text = (params.get(key) or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):  # isdigit alone takes "²", which int() refuses
        raise BadFilter(f"{key}: {text!r} is not a whole number")
    # Python refuses to read more than 4,300 digits; any number that long is past `most`.
    return most if len(text.lstrip("0")) > len(str(most)) else min(int(text), most)


@dataclass(frozen=True, slots=True)
class EventQuery:
    filter: EventFilter
    text: str
    offset: int
    limit: int
    after: PageMark | None = None  # the page starts after this event (see page_mark)


def page_mark(mark: PageMark | None) -> str | None:
    """A page's end as the ``after`` parameter carries it: ``MICROSECONDS-ID``, the event's
    last activity in microseconds since 1970 (UTC), then its id."""
    if mark is None:
        return None
    at, event_id = mark
    return f"{(at - EPOCH) // timedelta(microseconds=1)}-{event_id}"


def _after(params: Mapping[str, str]) -> PageMark | None:
    text = (params.get("after") or "").strip()
    if not text:
        return None
    micros, _, event_id = text.partition("-")
    try:
        if not (
            micros.isascii() and micros.isdigit() and event_id.isascii() and event_id.isdigit()
        ):
            raise ValueError
        if len(event_id) > len(str(MAX_ROW_ID)) or int(event_id) > MAX_ROW_ID:
            raise ValueError  # past any row: PostgreSQL refused it (a server error)
        return EPOCH + timedelta(microseconds=int(micros)), int(event_id)
    except (ValueError, OverflowError):
        raise BadFilter(f"after: {text[:40]!r} is not where a page ended") from None


def event_query(params: Mapping[str, str]) -> EventQuery:
    """The filters of an events page, its API call or its feed, from the query string."""
    to = _instant(params, "first_seen_to")
    chosen = EventFilter(
        source=_text(params, "source"),
        language=_text(params, "language"),
        place=_text(params, "place"),
        organisation=_text(params, "org"),
        rule=_text(params, "rule"),
        first_seen_from=_instant(params, "first_seen_from"),
        first_seen_to=to.replace(hour=23, minute=59, second=59, microsecond=999999) if to else None,
        published_from=_day(params, "published_from"),
        published_to=_day(params, "published_to"),
        unread=_flag(params, "unread"),
        starred=_flag(params, "starred"),
        dismissed=_flag(params, "dismissed"),
    )
    return EventQuery(
        chosen, (_text(params, "q") or "").strip(),
        _number(params, "offset", 0, 10**9), max(1, _number(params, "limit", 50, MAX_LIMIT)),
        _after(params),
    )  # fmt: skip


def _text(params: Mapping[str, str], name: str) -> str | None:
    """A filter as typed, or None; without NUL, which PostgreSQL refuses in any text."""
    return params.get(name, "").replace("\x00", "") or None


def event_json(row: EventRow) -> dict[str, Any]:
    return {
        "id": row.event_id, "title": row.title, "url": row.url,
        "first_seen": row.first_seen.isoformat(), "updated_at": row.updated_at.isoformat(),
        "published_day": row.published_day.isoformat() if row.published_day else None,
        "sources": list(row.sources), "languages": list(row.languages),
        "places": list(row.places), "organisations": list(row.organisations),
        "rules": list(row.rules), "read": row.read, "starred": row.starred,
        "dismissed": row.dismissed,
    }  # fmt: skip


def delivery_json(row: DeliveryRow) -> dict[str, Any]:
    return {
        key: (value.isoformat() if isinstance(value, datetime) else value)
        for key, value in ((k, getattr(row, k)) for k in row.__slots__)  # type: ignore[attr-defined]
    }


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    schedule: str
    enabled: bool  # by the config
    held: bool  # disabled through the web UI
    crawl_requested: bool
    health: str  # ok, down, stale, never crawled
    last_run: RunSummary | None
    articles: int

    @property
    def lag(self) -> str:
        lag = self.last_run.lag_seconds if self.last_run else None
        return "-" if lag is None else f"{lag:.0f}s"


def _schedule(config: Config, name: str) -> str:
    schedule = config.source(name).schedule
    return f"every {schedule.every}" if schedule.every else f"cron {schedule.cron}"


def source_statuses(config: Config, db: Database) -> list[SourceStatus]:
    runs = {run.source: run for run in latest_runs(db)}
    tracker = recorded_health(db, config.daemon)
    requests, stored = source_requests(db), article_counts(db)
    statuses = []
    for source in config.sources:
        health = tracker.sources.get(source.name)
        state = health.state if health else "ok"
        request = requests.get(source.name)
        statuses.append(SourceStatus(
            source.name, _schedule(config, source.name), source.enabled,
            bool(request and request.disabled),
            bool(request and request.crawl_requested_at), state if source.name in runs
            else "never crawled", runs.get(source.name), stored.get(source.name, 0),
        ))  # fmt: skip
    return statuses


@dataclass(frozen=True, slots=True)
class RuleStats:
    name: str
    query: str
    notify: tuple[str, ...]
    hits_7: int
    hits_30: int


def rule_stats(config: Config, db: Database, today: date) -> tuple[list[RuleStats], Any]:
    """Each configured rule's hits over 7 and 30 days, and the day counts behind them."""
    by_day = rule_hits_by_day(db, 30)
    stats = []
    for rule in config.rules:
        days: Counter[date] = by_day.get(rule.name, Counter())
        recent = sum(n for d, n in days.items() if (today - d).days < 7)
        stats.append(RuleStats(
            rule.name, rule.query, tuple(rule.notify), recent, sum(days.values())
        ))  # fmt: skip
    return stats, by_day
