"""Source health: a source is reported once when it goes down and once when it recovers.

Pure state, no I/O: the daemon feeds it each crawl's outcome and acts on what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from monitor.channels.alert import Alert
from storage.runs import SourceRhythm


@dataclass(slots=True)
class SourceHealth:
    failures_in_row: int = 0
    last_new_article: datetime | None = None
    gaps: list[float] = field(default_factory=list)
    down: bool = False
    stale: bool = False

    @property
    def state(self) -> str:
        """The one verdict `status`, the web UI and `/metrics` all show."""
        return "down" if self.down else "stale" if self.stale else "ok"


@dataclass(frozen=True, slots=True)
class Transition:
    source: str
    state: str  # "down", "stale", "recovered"
    detail: str


class HealthTracker:
    def __init__(
        self, failure_threshold: int = 3, min_quiet: timedelta = timedelta(days=2)
    ) -> None:
        self.failure_threshold = failure_threshold
        self.min_quiet = min_quiet
        self.sources: dict[str, SourceHealth] = {}

    def resume(
        self,
        failures: dict[str, int],
        now: datetime,
        rhythms: Mapping[str, SourceRhythm] | None = None,
    ) -> None:
        """Start from the database's record: a restart neither reports a known outage or
        silence again nor forgets how often a source publishes.

        A source counts as already reported stale only if its last crawl before the restart
        saw the silence; time the daemon was down is judged by the next crawl, like any other.
        """
        for source, rhythm in (rhythms or {}).items():
            times = rhythm.new_articles_at
            if not times:
                continue
            health = self.sources.setdefault(source, SourceHealth())
            health.last_new_article = times[-1]
            health.gaps = [(b - a).total_seconds() for a, b in pairwise(times)][-20:]
            health.stale = rhythm.last_crawl - times[-1] > self._usual_quiet(health)
        for source, count in failures.items():
            health = self.sources.setdefault(source, SourceHealth(last_new_article=now))
            health.failures_in_row = count
            health.down = count >= self.failure_threshold

    def _usual_quiet(self, health: SourceHealth) -> timedelta:
        """Three times the median gap between new articles, and never less than min_quiet;
        a week until three gaps are known (a source's rhythm is not guessed from fewer)."""
        if len(health.gaps) < 3:
            return max(self.min_quiet, timedelta(days=7))
        median = sorted(health.gaps)[len(health.gaps) // 2]
        return max(self.min_quiet, timedelta(seconds=3 * median))

    def record(
        self, source: str, ok: bool, new_articles: int, now: datetime, error: str | None = None
    ) -> list[Transition]:
        health = self.sources.setdefault(source, SourceHealth(last_new_article=now))
        changes: list[Transition] = []
        if ok:
            if health.down:
                changes.append(Transition(source, "recovered", "crawls succeed again"))
            health.failures_in_row, health.down = 0, False
        else:
            health.failures_in_row += 1
            if health.failures_in_row >= self.failure_threshold and not health.down:
                health.down = True
                detail = (
                    f"{health.failures_in_row} failed crawls in a row: {error or 'unknown error'}"
                )
                changes.append(Transition(source, "down", detail))
        changes += self._staleness(source, health, new_articles, now)
        return changes

    def _staleness(
        self, source: str, health: SourceHealth, new_articles: int, now: datetime
    ) -> list[Transition]:
        if new_articles > 0:
            if health.last_new_article is not None:
                health.gaps = [*health.gaps, (now - health.last_new_article).total_seconds()][-20:]
            health.last_new_article = now
            if health.stale:
                health.stale = False
                return [Transition(source, "recovered", "new articles again")]
            return []
        quiet = now - (health.last_new_article or now)
        if not health.stale and quiet > self._usual_quiet(health):
            health.stale = True
            return [Transition(source, "stale", f"no new article for {quiet}")]
        return []


def health_alert(change: Transition, now: datetime) -> Alert:
    """A health notice in the alert shape, so every channel can carry it unchanged."""
    return Alert(
        delivery_id=f"health-{change.source}-{change.state}-{now:%Y%m%dT%H%M%S}",
        rule="source-health",
        event_id=0,
        title=f"source {change.source} is {change.state}",
        terms=(change.state,),
        snippets=(change.detail,),
        articles=(),
        created_at=now,
    )
