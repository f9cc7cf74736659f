"""The crawls that are due and not yet started, oldest due first.

The schedule only says a source is due; crawls start when the crawl pool has room, the
longest-waiting first, so under load every source is crawled late rather than some never.
A source is never crawled twice at once: one that falls due while it is being crawled is
remembered, with its first due time, and queued again when its crawl ends. Thread-safe.
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime


class DueQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[tuple[datetime, str]] = []
        self._waiting: dict[str, datetime] = {}  # queued, by first due time
        self._running: set[str] = set()
        self._again: dict[str, datetime] = {}  # fell due while running

    def add(self, name: str, due_at: datetime) -> None:
        """``name`` is due; a source already waiting keeps its earlier due time."""
        with self._lock:
            if name in self._running:
                self._again.setdefault(name, due_at)
            elif name not in self._waiting:
                self._push(name, due_at)

    def take(self, count: int) -> list[tuple[str, datetime]]:
        """Up to ``count`` waiting sources, oldest due first, now counted as running."""
        taken: list[tuple[str, datetime]] = []
        with self._lock:
            while self._heap and len(taken) < count:
                due_at, name = heapq.heappop(self._heap)
                if self._waiting.get(name) != due_at:
                    continue  # dropped meanwhile
                del self._waiting[name]
                self._running.add(name)
                taken.append((name, due_at))
        return taken

    def done(self, name: str) -> None:
        """Its crawl ended; if it fell due meanwhile, it waits again from that time."""
        with self._lock:
            self._running.discard(name)
            again = self._again.pop(name, None)
            if again is not None:
                self._push(name, again)

    def drop(self, name: str) -> None:
        """No longer scheduled (removed from the config)."""
        with self._lock:
            self._waiting.pop(name, None)
            self._again.pop(name, None)

    def oldest(self) -> datetime | None:
        with self._lock:
            return min(self._waiting.values(), default=None)

    def counts(self) -> tuple[int, int]:
        """(waiting, running)."""
        with self._lock:
            return len(self._waiting), len(self._running)

    def _push(self, name: str, due_at: datetime) -> None:
        self._waiting[name] = due_at
        heapq.heappush(self._heap, (due_at, name))
