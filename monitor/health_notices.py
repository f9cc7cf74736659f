"""Health notices sent on a thread of their own.

A crawl's end is handled on the crawl pool's thread, which also starts the next crawls and
watches the running ones' limits: a health channel that is slow or down must not hold it for
a timeout per notice while a whole network outage takes sources down together.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from monitor.channels.alert import Alert

logger = logging.getLogger(__name__)


class HealthNotices:
    """Sends each notice given to :meth:`put`, in order, best effort, on one thread."""

    def __init__(self, send: Callable[[Alert], None]) -> None:
        self._send = send
        self._queue: queue.SimpleQueue[Alert | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, alert: Alert) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="eventwatch-health-notices", daemon=True
                )
                self._thread.start()
        self._queue.put(alert)

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            try:
                self._send(alert)
            except Exception:  # a notice is best effort: the log has the change already
                logger.exception("health notice could not be sent")

    def close(self, timeout: float) -> None:
        """Send what is queued, for at most ``timeout`` seconds."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
