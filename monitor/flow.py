"""The whole product at a glance: crawl → match → deliver.

Three plain functions shared by the daemon and the CLI. The database is the hand-off between
them: a crawl stores articles, matching picks up articles not yet matched, delivery picks up
deliveries not yet delivered; each hand-off is a row with a status, so a crash at any point
loses nothing and repeats nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from crawlers.enrichment.entities import GAZETTEER, gazetteer, names_for_matching
from monitor.backoff import next_attempt
from monitor.channels import Channel, build_channel
from monitor.channels.alert import Alert, AlertArticle, AlertDate, DeliveryError
from monitor.config import Config, held_channels
from monitor.digesting import as_digest, digest_sent, open_due_digests
from monitor.rules import RuleSet
from storage.db import DATABASE_FAILURES, Database
from storage.digests import DigestTask, claim_due_digests
from storage.leases import Lease, kept, record_failure, record_sent, renew_lease
from storage.models import Delivery, Update
from storage.models import Digest as DigestRow
from storage.outbox import (
    DeliveryTask,
    MatchRecord,
    UnmatchedArticle,
    claim_due,
    record_matches,
    unmatched_articles,
)
from storage.updates import UpdatePolicies, queue_updates

T = TypeVar("T")
logger = logging.getLogger(__name__)

RECORD_FOR_SECONDS = 30.0  # how long a message sent is tried to be recorded (_recorded)


@dataclass
class Context:
    """The parsed config with what is built from it once: database, rules, channels."""

    config: Config
    running: InitVar[Database | None] = None  # the database in use, kept if the URL is the same
    db: Database = field(init=False)
    rules: RuleSet = field(init=False)
    channels: dict[str, Channel] = field(init=False)
    notify: dict[str, tuple[str, ...]] = field(init=False)
    held: dict[str, tuple[str, ...]] = field(init=False)  # rule -> its channels that digest
    updates: UpdatePolicies = field(init=False)  # the rules with on_update
    unmatchable: dict[int, int] = field(default_factory=dict)  # article id -> failed attempts

    def __post_init__(self, running: Database | None) -> None:
        self.rules = RuleSet.compile(rule.spec() for rule in self.config.rules)
        self.channels = {n: build_channel(n, c) for n, c in self.config.channels.items()}
        self.notify = {rule.name: tuple(rule.notify) for rule in self.config.rules}
        self.held = {rule.name: held_channels(self.config, rule.name) for rule in self.config.rules}
        self.updates = {
            rule.name: (tuple(rule.notify), rule.update_every)
            for rule in self.config.rules
            if rule.on_update
        }
        # last: a config rejected above opens nothing. A reload keeps the running engine, as
        # each new one would leave its statements in SQLAlchemy's per-mapper caches.
        if running is not None and running.url == self.config.database:
            self.db = running
        else:
            self.db = Database(self.config.database)


@dataclass(frozen=True, slots=True)
class DispatchCounts:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def match_new_articles(ctx: Context) -> int:
    """Match every article not yet matched; return how many deliveries were queued.

    An article that cannot be matched (a bug its text sets off) is logged and left unmatched,
    to be tried again next time, and the articles behind it are matched all the same. A
    failure of the database itself (locked, full, unreachable) is not the article's: it ends
    the pass, and the next pass starts over.
    """
    queued = 0
    after = 0
    while batch := unmatched_articles(ctx.db, after=after):
        for article in batch:
            after = article.id
            try:
                queued += _match(ctx, article)
            except DATABASE_FAILURES:
                raise
            except Exception as exc:
                _match_failed(ctx, article.id, exc)
    return queued


def _match(ctx: Context, article: UnmatchedArticle) -> int:
    own = ctx.config.own_gazetteer
    places, organisations = _names(article, own)
    hits = ctx.rules.match(
        title=article.title,
        text=article.text,
        source=article.source,
        places=names_for_matching("places", places, own),
        organisations=names_for_matching("organisations", organisations, own),
    )
    records = [
        MatchRecord(
            hit.rule,
            hit.terms,
            hit.snippets,
            ctx.notify.get(hit.rule, ()),
            hit.words,
            ctx.held.get(hit.rule, ()),
        )
        for hit in hits
    ]
    # The article may be a report from a new source of an event alerted before. Its update
    # is queued first: marking the article matched is the pass's last write, so a failure
    # between the two leaves it unmatched, to be matched again (queuing again adds nothing).
    queued = queue_updates(ctx.db, article.id, ctx.updates)
    queued += record_matches(ctx.db, article.id, records)
    ctx.unmatchable.pop(article.id, None)
    return queued


def _names(article: UnmatchedArticle, own: Path | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names the article carries: crawls tag with the shipped gazetteer, so the names only
    the user's own gazetteer knows are looked for here."""
    if own is None:
        return article.places, article.organisations
    places, organisations = gazetteer(GAZETTEER, own).find(f"{article.title}\n{article.text}")
    return (
        tuple(dict.fromkeys(article.places + places)),
        tuple(dict.fromkeys(article.organisations + organisations)),
    )


def _match_failed(ctx: Context, article_id: int, exc: Exception) -> None:
    """Logged as an error the first time, then quietly: it is tried again every pass."""
    first = article_id not in ctx.unmatchable
    ctx.unmatchable[article_id] = ctx.unmatchable.get(article_id, 0) + 1
    logger.log(
        logging.ERROR if first else logging.DEBUG,
        "article=%d could not be matched (%d attempts), will retry: %s: %s",
        article_id, ctx.unmatchable[article_id], type(exc).__name__, exc,
        exc_info=first,
    )  # fmt: skip


def deliver_pending(
    ctx: Context, now: datetime | None = None, stop: threading.Event | None = None
) -> DispatchCounts:
    """Open the digests due by `now` (default: now), then send every due delivery and digest
    once; failures wait for their back-off, then fail for good. A channel that fails for a
    reason that may pass (a timeout, a refused connection, a 5xx) is tried once a pass: its
    other messages wait for the next pass untried, so one endpoint that hangs does not hold
    up every other channel's alerts for a timeout each. Once `stop` is set (the daemon or
    worker stopping), the message being sent is the last: a backlog had held the stop for a
    send each, until a service manager's kill cut one short and it went out twice."""
    counts: Counter[str] = Counter()
    lease = ctx.config.delivery.lease
    down: set[str] = set()  # channels not to try again in this pass
    going = stop or threading.Event()
    open_due_digests(ctx.config, ctx.db, now or datetime.now(UTC))
    for model in (Delivery, Update):
        while outcomes := [
            _deliver(ctx, t, down)
            for t in _until_set(going, claim_due(ctx.db, lease, model=model, skip=down))
        ]:
            counts.update(outcomes)
    while outcomes := [
        _deliver_digest(ctx, digest, down)
        for digest in _until_set(going, claim_due_digests(ctx.db, lease, skip=down))
    ]:
        counts.update(outcomes)
    return DispatchCounts(counts["sent"], counts["pending"], counts["failed"])


def _until_set(stop: threading.Event, claims: Iterator[T]) -> Iterator[T]:
    """``claims`` until ``stop`` is set: each is claimed (leased) only as it is asked for, so
    none is left leased and unsent."""
    while not stop.is_set():
        claim = next(claims, None)
        if claim is None:
            return
        yield claim


def _deliver(ctx: Context, task: DeliveryTask, down: set[str]) -> str:
    channel = ctx.channels.get(task.channel)
    try:
        if channel is None:
            raise DeliveryError(f"channel {task.channel!r} is not configured")
        with kept(ctx.db, task.lease, ctx.config.delivery.lease):
            note = channel.send(_alert(task, ctx.config.web.public_url))
    except DeliveryError as exc:
        return _retry_later(ctx, task, exc, down)
    except Exception as exc:  # a bug this one alert sets off: it backs off, the rest go on
        logger.error("delivery=%s could not be sent", task.key, exc_info=True)
        return _retry_later(ctx, task, DeliveryError(f"{type(exc).__name__}: {exc}"))
    partly = task.owed_to is not None
    sent = lambda: record_sent(ctx.db, task.lease, note, partly_before=partly)  # noqa: E731
    if not _recorded(ctx, task.lease, sent):
        return _lost(task.key)
    logger.info(
        "delivery=%s rule=%s event=%d channel=%s sent",
        task.key,
        task.rule,
        task.event_id,
        task.channel,
    )
    return "sent"


def _deliver_digest(ctx: Context, task: DigestTask, down: set[str]) -> str:
    channel = ctx.channels.get(task.channel)
    public_url = ctx.config.web.public_url
    try:
        if channel is None:
            raise DeliveryError(f"channel {task.channel!r} is not configured")
        with kept(ctx.db, task.lease, ctx.config.delivery.lease):
            note = channel.send_digest(
                as_digest(task, lambda event_id: event_link(public_url, event_id))
            )
    except DeliveryError as exc:
        return _retry_later(ctx, task, exc, down)
    except Exception as exc:  # a bug this digest sets off: it backs off, the rest go on
        logger.error("digest=%s could not be sent", task.key, exc_info=True)
        return _retry_later(ctx, task, DeliveryError(f"{type(exc).__name__}: {exc}"))
    sent = _recorded(ctx, task.lease, lambda: digest_sent(ctx.db, task, note))
    return "sent" if sent else _lost(task.key)


def _recorded(ctx: Context, lease: Lease, write: Callable[[], bool]) -> bool:
    """``write``, which records a message sent, done though the database fails for a while
    (locked, restarting): unrecorded, the message would go out again once its lease ran out.
    The row stays this sender's meanwhile; past RECORD_FOR (or its lease, if shorter) the
    failure stands, so that a daemon asked to stop is not held up longer."""
    try:
        return write()
    except DATABASE_FAILURES as exc:
        logger.warning("%s %d sent, not yet recorded: %s", lease.model.__tablename__,
                       lease.row_id, exc)  # fmt: skip
    length = ctx.config.delivery.lease
    deadline = time.monotonic() + min(length.total_seconds(), RECORD_FOR_SECONDS)
    wait = 0.25
    while True:
        time.sleep(wait)
        try:  # renewed here, not on a thread of its own: a renewal between the write's
            if not renew_lease(ctx.db, lease, length):  # reading and its update would
                return False  # another sender has it  # make the write miss the row
            return write()
        except DATABASE_FAILURES:
            if time.monotonic() >= deadline:
                raise
        wait = min(wait * 2, 5.0)


def _lost(key: str) -> str:
    """Sent, but the row had changed meanwhile: another sender took it (this one stalled past
    its lease and could not renew it), or `events merge` folded it into another event's. The
    row's new state stands."""
    logger.warning("%s was sent, but meanwhile its row was taken by another sender or merged", key)
    return "pending"


def _retry_at(ctx: Context, attempts: int, exc: DeliveryError) -> datetime | None:
    """When to try again after `attempts`; None: give up (a permanent failure, or the last)."""
    if exc.permanent:
        return None
    policy = ctx.config.delivery
    return next_attempt(
        datetime.now(UTC),
        attempts,
        max_attempts=policy.max_attempts,
        initial=policy.backoff_initial,
        ceiling=policy.backoff_max,
        retry_after=exc.retry_after,
    )


def _retry_later(
    ctx: Context,
    task: DeliveryTask | DigestTask,
    exc: DeliveryError,
    down: set[str] | None = None,
) -> str:
    """Record a failed send, due again after a back-off or failed for good, and say so. A
    failure that may pass puts the channel in `down`, when given."""
    retry_at = _retry_at(ctx, task.attempts, exc)

    def write() -> bool:
        return record_failure(ctx.db, task.lease, str(exc), retry_at, exc.owed_to) is not None

    # A message that reached some recipients came through a channel that works, and is
    # recorded as a message sent is: unrecorded, it would go to all of them again.
    works = exc.owed_to is not None
    written = _recorded(ctx, task.lease, write) if works else write()
    status = ("failed" if retry_at is None else "pending") if written else None
    if down is not None and not exc.permanent and not works and task.channel not in down:
        down.add(task.channel)
        logger.info("channel=%s failed; its other due messages wait for the next dispatch",
                    task.channel)  # fmt: skip
    if status is None:  # another sender has the row now, or it was merged: that stands
        logger.warning("%s failed: %s; meanwhile its row was taken by another sender or merged",
                       task.key, exc)  # fmt: skip
        return "pending"
    kind = "digest" if task.lease.model is DigestRow else "delivery"
    logger.warning(
        "%s=%s channel=%s attempt=%d failed: %s; %s",
        kind, task.key, task.channel, task.attempts, exc,
        f"retry at {retry_at:%Y-%m-%d %H:%M:%S}Z" if retry_at else "giving up",
    )  # fmt: skip
    return status


def event_link(public_url: str | None, event_id: int) -> str | None:
    """The event's page in the web UI, if the address it is reached at is configured."""
    return f"{public_url.rstrip('/')}/events/{event_id}" if public_url else None


def _alert(task: DeliveryTask, public_url: str | None) -> Alert:
    return Alert(
        delivery_id=task.key,
        rule=task.rule,
        event_id=task.event_id,
        title=task.event_title,
        terms=task.terms,
        snippets=task.snippets,
        articles=tuple(
            AlertArticle(a.source, a.url, a.title, a.published_at, a.published_day, a.language)
            for a in task.articles
        ),
        created_at=task.created_at,
        places=task.places,
        organisations=task.organisations,
        dates=tuple(AlertDate(*mentioned) for mentioned in task.dates_mentioned),
        words=task.words,
        link=event_link(public_url, task.event_id),
        new_sources=task.new_sources,
        owed_to=task.owed_to,
    )
