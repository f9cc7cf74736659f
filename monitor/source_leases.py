"""The leases a worker or an ``eventwatch crawl`` holds on the sources it crawls.

A lease is taken in the database for ``stalled_after`` (:mod:`storage.schedule`) and renewed
every ``heartbeat_every`` while its holder lives; once it has run out, another worker may
crawl the source. So the crawl itself must not outlive it: each renewal is passed on to the
crawl pool as an instant on this machine's lease clock (:func:`lease_clock`, which runs on while
a process is stopped or the machine sleeps; :meth:`CrawlPool.lease`), and the crawl process
fetches nothing past it (:mod:`crawlers.crawling.leases`). That instant is a margin short of
the database's, taken from the clock before the lease was written: a holder stopped (Ctrl-Z,
SIGSTOP), asleep or cut off from the database stops its crawl before anyone else can take the
source, and a renewal that finds the lease taken stops it at once. A renewal that fails is
tried again every second, so that a database away for a moment stops no crawl. The lease is
written and judged in the database's time (:mod:`storage.dbclock`), so machines whose clocks
disagree still agree on when it runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from crawlers.launcher.leaseclock import lease_clock
from storage.db import Database
from storage.schedule import claim_source, release_source, renew_leases

logger = logging.getLogger(__name__)

LOST = 0.0  # a lease end long past: the crawl stops at once
RETRY_SECONDS = 1.0  # a renewal that failed is tried again this soon


class SourceLeases:
    """Claims, renews and releases ``owner``'s leases; ``on_lease(source, until)`` hears of
    each lease's end on the lease clock (a renewal, or :data:`LOST`)."""

    def __init__(
        self,
        db: Database,
        owner: str,
        *,
        length: timedelta,
        renew_every: timedelta,
        on_lease: Callable[[str, float], None] | None = None,
    ) -> None:
        self.db = db
        self.owner = owner
        self.length = length
        self.renew_every = renew_every
        # Room for the time between reading the clock and the database writing the lease,
        # and for a worker's clock a little ahead of this one's.
        self.margin = min(renew_every.total_seconds() / 2, 5.0)
        self.on_lease = on_lease
        self.held: dict[str, int] = {}  # source: its claim's number
        self.ends: dict[str, float] = {}  # source: its lease's end, on the lease clock
        self.claims = 0
        self.lock = threading.Lock()  # guards held: claims and releases run on other threads
        self.stopped = threading.Event()
        self.failing = False  # the last renewal could not reach the database
        self.thread = threading.Thread(target=self._renewing, name="leases", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()

    def claim(
        self, source: str, due_at: datetime, next_due: datetime | None = None
    ) -> float | None:
        """The lease on ``source`` for its due time, as :func:`claim_source` takes it: when
        it runs out on the lease clock, or None when it could not be taken."""
        clock = lease_clock()
        if not claim_source(self.db, source, self.owner, due_at, self.length, next_due):
            return None
        with self.lock:
            self.claims += 1
            self.held[source] = self.claims
            self.ends[source] = self._until(clock)
            return self.ends[source]

    def until(self, source: str) -> float | None:
        """When the lease on ``source`` runs out on the lease clock; None if not held."""
        with self.lock:
            return self.ends.get(source) if source in self.held else None

    def follow(self, on_lease: Callable[[str, float], None]) -> None:
        """From now on ``on_lease`` hears of each renewal and loss (a pool made after the
        claims)."""
        self.on_lease = on_lease

    def release(self, source: str, done_due_at: datetime | None) -> None:
        with self.lock:
            self.held.pop(source, None)
            self.ends.pop(source, None)
        release_source(self.db, source, self.owner, done_due_at)

    def sources(self) -> set[str]:
        with self.lock:
            return set(self.held)

    def _until(self, clock: float) -> float:
        return clock + self.length.total_seconds() - self.margin

    def _renewing(self) -> None:
        """On a thread of its own: a busy event loop must not let the leases of live crawls
        run out, or another worker would crawl the same source."""
        every = self.renew_every.total_seconds()
        wait = every
        while not self.stopped.wait(wait):
            wait = every if self.renew() else min(every, RETRY_SECONDS)

    def renew(self) -> bool:
        """Every lease held, renewed; one another holder took meanwhile is given up. False
        when the database could not be asked."""
        with self.lock:
            held = dict(self.held)
        if not held:
            return True
        clock = lease_clock()
        try:
            kept = renew_leases(self.db, self.owner, set(held), self.length)
        except Exception as exc:  # the database away: the crawls stop as their leases end
            say = logger.warning if not self.failing else logger.debug  # once a second
            say("leases not renewed (tried again every second): %s", exc)
            self.failing = True
            return False
        if self.failing:
            logger.info("leases renewed again")
            self.failing = False
        with self.lock:  # not one released meanwhile, nor claimed again since
            lost = {s for s in set(held) - kept if self.held.get(s) == held[s]}
            for source in lost:
                del self.held[source]
            until = self._until(clock)
            for source in kept & set(self.held):
                # this renewal's, even over a later claim's: its write may have come after
                self.ends[source] = until
        for source in sorted(lost):
            logger.warning("source %s: its lease was taken by another worker; crawl stopped",
                           source)  # fmt: skip
        on_lease = self.on_lease
        if on_lease is not None:
            for source in kept:
                on_lease(source, until)
            for source in lost:
                on_lease(source, LOST)
        return True
