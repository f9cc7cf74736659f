"""Digests at dispatch: open those due, then send them like any other delivery.

Which alerts wait for a digest is decided at matching (monitor.config.held_channels); here,
each digest due by now is opened once for its slot (storage.digests) and sent through its
channel. A digest is never lost and never doubled: its row is the outbox entry, leased while
sent and resent under the same id if its sender died before recording it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from monitor.channels.digest import Digest, DigestConfig, DigestEvent
from monitor.config import Config
from storage.db import Database
from storage.digests import (
    DigestTask,
    held_alerts,
    mark_digest_sent,
    open_digest,
    release_held,
)

logger = logging.getLogger(__name__)

# (channel, rule or None for the channel's own, when) of every digest the config asks for
Plan = tuple[str, str | None, DigestConfig]


def digest_plans(config: Config) -> Iterator[Plan]:
    for name, channel in config.channels.items():
        if channel.digest is not None:
            yield name, None, channel.digest
    for rule in config.rules:
        if rule.digest is not None:
            for name in rule.notify:
                yield name, rule.name, rule.digest


def open_due_digests(config: Config, db: Database, now: datetime) -> int:
    """Open every digest due by `now` not yet opened; return how many were. Alerts held for
    a digest the config no longer has are sent alone (or fail, their channel gone)."""
    own = [rule.name for rule in config.rules if rule.digest is not None]
    for held_on, held_by in held_alerts(db):
        if not collected(config, held_on, held_by):
            count = release_held(db, held_on, held_by)
            logger.info("%d alerts of rule %s on channel %s held for a digest the config no "
                        "longer has: sent alone", count, held_by, held_on)  # fmt: skip
    opened = 0
    for channel, rule, when in digest_plans(config):
        slot = when.latest_slot(now)
        opened += open_digest(
            db, channel, slot, rule=rule, excluded=own, send_empty=when.send_empty
        )
    return opened


def collected(config: Config, channel: str, rule: str) -> bool:
    """Whether a digest of the config collects `rule`'s alerts held on `channel`: the rule's
    own digest, if it still notifies the channel; else the channel's digest."""
    settings = config.channels.get(channel)
    if settings is None:
        return False
    with_digest = {r.name: r for r in config.rules if r.digest is not None}
    if rule in with_digest:  # the channel's own digest leaves such a rule's alerts out
        return channel in with_digest[rule].notify
    return settings.digest is not None


def as_digest(task: DigestTask, link: Callable[[int], str | None]) -> Digest:
    """The message of a digest task: its events grouped by rule, in rule then event order."""
    groups: dict[str, list[DigestEvent]] = {}
    for entry in task.entries:
        groups.setdefault(entry.rule, []).append(
            DigestEvent(
                entry.event_id,
                entry.title,
                entry.sources,
                entry.languages,
                entry.places,
                entry.day,
                entry.words,
                entry.url,
                link(entry.event_id),
            )
        )
    rules = tuple((rule, tuple(events)) for rule, events in groups.items())
    return Digest(task.key, task.channel, task.since, task.until, rules, task.owed_to)


def digest_sent(db: Database, task: DigestTask, note: str | None = None) -> bool:
    """Record it sent; False if its lease had passed to another sender meanwhile."""
    if not mark_digest_sent(db, task.lease, note, partly_before=task.owed_to is not None):
        return False
    logger.info("digest=%s channel=%s events=%d sent", task.key, task.channel, len(task.entries))
    return True
