"""What a channel delivers: one alert about one event, independent of the transport."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class AlertArticle:
    """One article backing the event; all text in it comes from crawled pages (untrusted)."""

    source: str
    url: str
    title: str
    published_at: datetime | None  # at the offset the page gave (UTC when it gave none)
    published_day: date | None = None  # the calendar day the page states
    language: str | None = None  # as extraction detected it

    @property
    def day(self) -> date | None:
        if self.published_day is not None or self.published_at is None:
            return self.published_day
        return self.published_at.date()


@dataclass(frozen=True, slots=True)
class AlertDate:
    """A day or range of days the event's reports mention, with the words they used."""

    text: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class Alert:
    """A single delivery; ``delivery_id`` is stable across retries so receivers can dedupe."""

    delivery_id: str
    rule: str
    event_id: int
    title: str
    terms: tuple[str, ...]
    snippets: tuple[str, ...]
    articles: tuple[AlertArticle, ...]
    created_at: datetime
    test: bool = False
    places: tuple[str, ...] = ()  # where, who and when, as the event's reports name them
    organisations: tuple[str, ...] = ()
    dates: tuple[AlertDate, ...] = ()
    words: tuple[str, ...] = ()  # the words found for `terms`, as the reports wrote them
    link: str | None = None  # the event's page in the web UI, when its address is configured
    new_sources: tuple[str, ...] = ()  # an update: the sources the event gained since
    owed_to: tuple[str, ...] | None = None  # only these recipients: the others have it

    @property
    def is_update(self) -> bool:
        return bool(self.new_sources)

    def __post_init__(self) -> None:
        # Callers often hand over lists; store tuples so the alert stays immutable and hashable.
        fields = ("terms", "snippets", "articles", "places", "organisations", "dates", "words",
                  "new_sources")  # fmt: skip
        for field in fields:
            value: Sequence[object] = getattr(self, field)
            if not isinstance(value, tuple):
                object.__setattr__(self, field, tuple(value))


class DeliveryError(Exception):
    """A failed delivery; ``permanent`` means retrying cannot help, ``retry_after`` is seconds.
    ``owed_to``: the message reached the channel's other recipients, and only these are owed
    it (an e-mail relay refused them for now)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        owed_to: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.owed_to = owed_to
