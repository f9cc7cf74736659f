"""Digests: one message listing the alerts held since the previous one, grouped by rule.

A channel or a rule says when (``digest: {every: 1d, at: "08:00", timezone: Europe/Paris}``
or ``{every: 1h}``); each channel renders the same `Digest` in its own form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
DAY = timedelta(days=1)


class DigestConfig(BaseModel):
    """When digests are due: every `every`, at the time of day `at` in `timezone` if given."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    every: str
    at: str | None = None
    timezone: str = "UTC"
    send_empty: bool = False

    @field_validator("every")
    @classmethod
    def _duration(cls, value: str) -> str:
        from monitor.config import parse_duration  # the config module imports this one

        if parse_duration(value) < timedelta(minutes=1):
            raise ValueError("a digest is sent at most every minute ('every' at least 1m)")
        return value

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not _CLOCK.fullmatch(value):
            raise ValueError(f"{value!r} is not a time of day like 08:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a region, "America"
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, UTC)") from None
        return value

    @model_validator(mode="after")
    def _whole_days_at_a_time(self) -> DigestConfig:
        if self.at is not None and self.period % DAY:
            raise ValueError("'at' needs 'every' in whole days (1d, 7d)")
        return self

    @property
    def period(self) -> timedelta:
        from monitor.config import parse_duration

        return parse_duration(self.every)

    def latest_slot(self, now: datetime) -> datetime:
        """The latest time at or before `now` a digest was due, in UTC."""
        if self.at is None:  # every hour on the hour, every 15 minutes on the quarter…
            seconds = self.period.total_seconds()
            return datetime.fromtimestamp(now.timestamp() // seconds * seconds, UTC)
        zone = ZoneInfo(self.timezone)
        hour, minute = map(int, self.at.split(":"))
        days = self.period.days
        day = now.astimezone(zone).date()
        while True:
            slot = datetime.combine(day, time(hour, minute), zone)
            if slot <= now and day.toordinal() % days == 0:
                return slot.astimezone(UTC)
            day -= timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DigestEvent:
    """One event in a digest: what an analyst needs to decide whether to open it."""

    event_id: int
    title: str
    sources: tuple[str, ...]
    languages: tuple[str, ...]
    places: tuple[str, ...]
    day: date | None
    words: tuple[str, ...]
    url: str | None  # its first report
    link: str | None  # its page in the web UI, when configured


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest; `digest_id` is stable across retries so receivers can deduplicate."""

    digest_id: str
    channel: str
    since: datetime | None
    until: datetime
    rules: tuple[tuple[str, tuple[DigestEvent, ...]], ...]  # (rule, its events), rule order
    owed_to: tuple[str, ...] | None = None  # only these recipients: the others have it

    @property
    def event_count(self) -> int:
        return sum(len(events) for _, events in self.rules)


def digest_title(digest: Digest) -> str:
    count = digest.event_count
    events = f"{count} event{'s' if count != 1 else ''}"
    return f"[eventwatch] digest: {events} to {digest.until:%Y-%m-%d %H:%M}Z"


def digest_text(digest: Digest) -> str:
    """Plain text, one block per rule, one line group per event; for mail and chat."""
    since = f"{digest.since:%Y-%m-%d %H:%M}Z" if digest.since else "the start"
    lines = [f"Events matched from {since} to {digest.until:%Y-%m-%d %H:%M}Z.", ""]
    if not digest.rules:
        lines.append("Nothing matched.")
    for rule, events in digest.rules:
        lines.append(f"Rule {rule} ({len(events)}):")
        for event in events:
            lines += _event_lines(event)
        lines.append("")
    lines.append(f"Digest: {digest.digest_id}")
    return "\n".join(lines) + "\n"


def _event_lines(event: DigestEvent) -> list[str]:
    day = event.day.isoformat() if event.day else "no date"
    lines = [
        f"  - #{event.event_id} {_one_line(event.title)}",
        f"    {day} · sources: {', '.join(event.sources)} · languages: "
        f"{', '.join(event.languages) or 'unknown'}",
    ]
    if event.places:
        lines.append(f"    places: {', '.join(event.places)}")
    if event.words:
        lines.append(f"    words found: {', '.join(event.words)}")
    lines.append(f"    {event.link or event.url or ''}".rstrip())
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())
