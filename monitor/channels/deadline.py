"""A bound on one send as a whole.

A socket's timeout bounds each wait for the peer, not the exchange: an endpoint that answers a
byte at a time, or streams a body that never ends, keeps each wait short and the send going
for ever, and dispatch sends one message at a time. A Deadline shuts the send's sockets when
its time is up, which ends any wait on them at once with an error.

One watchdog thread serves every deadline of the process: a thread of its own for each send
cost more than a send to a nearby receiver.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from contextvars import ContextVar
from types import TracebackType

SEND_TIMEOUTS = 3  # one send may last this many of its channel's timeouts in all
MAX_TIMEOUT = 600.0  # seconds: a channel's timeout at most (a send is cut at three times it)

_current: ContextVar[Deadline | None] = ContextVar("eventwatch_send_deadline", default=None)


class Deadline:
    """Shuts every socket it was given once ``seconds`` have passed since it was entered.
    While it is entered, :func:`watch_current` hands it the sockets connected meanwhile."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._token: object = None

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` when time is up (at once if it is up already)."""
        if sock is None:
            return
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> Deadline:
        self._token = _current.set(self)
        _WATCHDOG.add(time.monotonic() + self.seconds, self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self.done = True
            self._sockets.clear()
        _current.reset(self._token)  # type: ignore[arg-type]


def watch_current(sock: socket.socket | None) -> None:
    """Hand ``sock`` to the deadline entered in this context, if any."""
    deadline = _current.get()
    if deadline is not None:
        deadline.watch(sock)


def _shut(sock: socket.socket) -> None:
    """Shut both ways at the level of the file descriptor, under any TLS layer: a thread
    blocked reading it wakes with an end of file or an error."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Expires deadlines at their time, on one thread started when first needed. A deadline
    that ended first is dropped when its time comes."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, at: float, deadline: Deadline) -> None:
        with self._wake:
            # Woken only when this is the first one due: sends of one length come in the
            # order they end, and a wake-up for each cost a tenth of a local webhook send.
            first = not self._due or at < self._due[0][0]
            heapq.heappush(self._due, (at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="eventwatch-send-deadlines", daemon=True
                )
                self._thread.start()
            elif first:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _at, _order, deadline = heapq.heappop(self._due)
            deadline.expire()


_WATCHDOG = _Watchdog()
