"""Health notices sent on a thread of their own, and sent again while a channel fails.

A crawl's end is handled on the crawl pool's thread, which also starts the next crawls and
watches the running ones' limits: a health channel that is slow or down must not hold it for
a timeout per notice while a whole network outage takes sources down together. A change is
reported once, so a notice that a channel refused is tried again on that channel, after 30 s,
then twice as long each time, up to ``RETRIES`` tries: a receiver down for a moment still
hears that a source went down. A newer notice about the same source ends the tries of the
older ones: a "down" sent again after the "recovered" that followed it had left the receiver
with the wrong last word. The tries live in memory; a notice still failing when the daemon
stops is in the log only.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from monitor.channels.alert import Alert

logger = logging.getLogger(__name__)

FIRST_WAIT = 30.0  # seconds before a notice a channel refused is sent to it again
LONGEST_WAIT = 1800.0
RETRIES = 8  # tries in all on a channel, the first included

# (alert, the channels to send it to, None for all of them) -> the channels that failed
Send = Callable[[Alert, Sequence[str] | None], list[str]]


class HealthNotices:
    """Sends each notice given to :meth:`put`, in order, on one thread; again later to a
    channel that failed."""

    def __init__(self, send: Send, first_wait: float = FIRST_WAIT) -> None:
        self._send = send
        self._first_wait = first_wait
        # (the notice, what it is about) or None to stop
        self._queue: queue.SimpleQueue[tuple[Alert, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # (when, order, tries so far, the notice, what it is about, the channels that refused it)
        self._again: list[tuple[float, int, int, Alert, str, tuple[str, ...]]] = []
        self._order = itertools.count()

    def put(self, alert: Alert, about: str) -> None:
        """Send ``alert``, a notice about ``about`` (a source), which supersedes any earlier
        notice about it still to be sent again."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="eventwatch-health-notices", daemon=True
                )
                self._thread.start()
        self._queue.put((alert, about))

    def _run(self) -> None:
        while True:
            wait = max(0.0, self._again[0][0] - time.monotonic()) if self._again else None
            try:
                given = self._queue.get(timeout=wait)
            except queue.Empty:
                _, _, tries, alert, about, channels = heapq.heappop(self._again)
                self._try(alert, about, channels, tries)
                continue
            if given is None:
                return
            alert, about = given
            self._again = [entry for entry in self._again if entry[4] != about]
            heapq.heapify(self._again)
            self._try(alert, about, None, 0)

    def _try(self, alert: Alert, about: str, channels: tuple[str, ...] | None, tries: int) -> None:
        try:
            failed = self._send(alert, channels)
        except Exception:  # a fault of ours: the log has the change already
            logger.exception("health notice could not be sent")
            return
        tries += 1
        if failed and tries < RETRIES:
            wait = min(LONGEST_WAIT, self._first_wait * 2 ** (tries - 1))
            when = time.monotonic() + wait
            entry = (when, next(self._order), tries, alert, about, tuple(failed))
            heapq.heappush(self._again, entry)
        elif failed:
            logger.error("health notice %r given up on channels %s after %d tries",
                         alert.title, ", ".join(failed), tries)  # fmt: skip

    def close(self, timeout: float) -> None:
        """Send what is queued, for at most ``timeout`` seconds."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
