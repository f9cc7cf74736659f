"""A pool of worker processes driven by the crawl's event loop: no threads.

``concurrent.futures.ProcessPoolExecutor`` runs two threads in the parent, one to pickle and
write tasks and one to read results; beside the reactor's busy thread, they cost the crawl
process CPU on every page. Here the event loop writes each worker's tasks to a pipe of
its own, without blocking, and reads its results when they are ready. Each worker is given
the next tasks while it runs the current one (AHEAD), and its task pipe is widened so that
whole pages wait there, not half of one until the loop comes round again; its results pipe
too, so that a worker whose loop is busy storing writes its answer and goes on.

A worker that dies (a crash in a C parser, the kernel's OOM killer) fails the tasks it held,
with :class:`WorkerDied`, and is replaced; the others go on. Workers that keep dying without
answering anything (one that cannot start, say) are not replaced without end: past
MAX_DEATHS_IN_ROW, every task fails at once, as a broken executor would fail them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

logger = logging.getLogger(__name__)

# Tasks a worker holds: the one it runs and three more, so that a worker still has pages to
# extract while the event loop is busy elsewhere (bench/README.md, history).
AHEAD = 4
MAX_DEATHS_IN_ROW = 8  # workers dead in a row, none answering between: the pool gives up
PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process's pipe
# Tasks go down the task pipe framed by the pool itself, written without blocking by the loop;
# results come back through the pipe's Connection.
HEADER = struct.Struct("!I")


class WorkerDied(Exception):
    """The worker running a task exited before answering."""


def _serve(tasks: Connection, results: Connection, initializer: Callable[[], None]) -> None:
    """A worker's life: run each task it is sent, until its task pipe closes."""
    initializer()
    while True:
        try:
            function, args = pickle.loads(_read_task(tasks.fileno()))  # noqa: S301 (our parent)
        except EOFError:
            return
        try:
            answer = pickle.dumps((True, function(*args)), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the task's error goes back to whoever asked
            answer = _error(exc)
        results.send_bytes(answer)


def _framed(message: bytes) -> bytes:
    """A task as the parent writes it on the task pipe: its length, then itself."""
    return HEADER.pack(len(message)) + message


def _read_task(fd: int) -> bytes:
    """The next task from the task pipe (the worker's end, blocking)."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes:
    read = bytearray()
    while len(read) < size:
        chunk = os.read(fd, size - len(read))
        if not chunk:
            raise EOFError
        read += chunk
    return bytes(read)


def _error(exc: Exception) -> bytes:
    try:
        return pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle still says what it was
        return pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _widen(fd: int) -> None:
    if sys.platform == "linux":
        import fcntl

        with contextlib.suppress(OSError):  # a lower system limit: the loop writes the rest
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class _Worker:
    def __init__(
        self, pool: LoopPool, context: BaseContext, initializer: Callable[[], None]
    ) -> None:
        tasks_end, self._tasks = context.Pipe(duplex=False)
        self._results, results_end = context.Pipe(duplex=False)
        self.process = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(tasks_end, results_end, initializer), daemon=True
        )
        self.process.start()
        tasks_end.close()
        results_end.close()
        self._pool = pool
        self._fd = self._tasks.fileno()
        os.set_blocking(self._fd, False)
        _widen(self._fd)
        _widen(self._results.fileno())  # answers wait there while the loop is busy, not the worker
        self._unsent = bytearray()
        self._writing = False
        self.held: deque[asyncio.Future[Any]] = deque()
        self.alive = True
        pool.loop.add_reader(self._results.fileno(), self._read)

    def give(self, message: bytes, future: asyncio.Future[Any]) -> None:
        self.held.append(future)
        self._unsent += _framed(message)
        self._write()

    def _write(self) -> None:
        try:
            while self._unsent:
                written = os.write(self._fd, self._unsent)
                del self._unsent[:written]
        except BlockingIOError:
            pass
        except OSError:  # the worker is gone; its results pipe says so next
            self._unsent.clear()
        if self._unsent and not self._writing:
            self._pool.loop.add_writer(self._fd, self._write)
            self._writing = True
        elif not self._unsent and self._writing:
            self._pool.loop.remove_writer(self._fd)
            self._writing = False

    def _read(self) -> None:
        try:
            answer = self._results.recv_bytes()
        except (EOFError, OSError):
            self._died()
            return
        future = self.held.popleft()
        self._pool.deaths_in_row = 0
        try:
            ok, value = pickle.loads(answer)  # noqa: S301 (our own worker)
        except Exception as exc:  # an answer that does not unpickle fails its task alone
            ok, value = False, RuntimeError(f"unreadable answer from a worker: {exc!r}")
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        self._pool._dispatch()

    def _died(self) -> None:
        self.close()
        self.process.join(0)  # reaped if it is gone already; never waited for here
        how = f" with code {self.process.exitcode}" if self.process.exitcode is not None else ""
        while self.held:
            future = self.held.popleft()
            if not future.done():
                future.set_exception(WorkerDied(f"the extraction worker exited{how}"))
        self._pool._replace(self)

    def close(self) -> None:
        """Stop feeding it; it exits when it reads the end of its task pipe."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(Exception):  # the loop may be closed at the crawl's end
            self._pool.loop.remove_reader(self._results.fileno())
        with contextlib.suppress(Exception):  # before the close: the number may be reused
            self._pool.loop.remove_writer(self._fd)
        self._tasks.close()
        self._results.close()


class LoopPool:
    """``size`` worker processes, each started with ``initializer``, fed by the running loop."""

    def __init__(self, size: int, context: BaseContext, initializer: Callable[[], None]) -> None:
        self.size = size
        self.loop = asyncio.get_running_loop()
        self._context = context
        self._initializer = initializer
        # (function, args, future), pickled only when a worker is given it: the pages waiting
        # are held once, as the caller's objects, not twice
        self._pending: deque[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]]
        self._pending = deque()
        self.closed = False
        self.deaths_in_row = 0
        self._dead: list[_Worker] = []
        self.workers = [_Worker(self, context, initializer) for _ in range(size)]

    def submit(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.loop.create_future()
        self._pending.append((function, args, future))
        self._dispatch()
        return future

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process.pid is not None]

    def _dispatch(self) -> None:
        if not self.workers:  # none could be started, or they kept dying: fail, never hang
            self._fail_pending(WorkerDied("no extraction worker is running"))
        while self._pending:
            worker = min(self.workers, key=lambda w: len(w.held))
            if len(worker.held) >= AHEAD:
                return
            function, args, future = self._pending.popleft()
            if future.done():  # cancelled while it waited
                continue
            try:
                message = pickle.dumps((function, args), pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # a task that cannot be sent fails alone
                future.set_exception(exc)
                continue
            worker.give(message, future)

    def _replace(self, dead: _Worker) -> None:
        self.workers = [w for w in self.workers if w is not dead]
        self._dead.append(dead)  # joined at shutdown
        self.deaths_in_row += 1
        if not self.closed and self.deaths_in_row <= MAX_DEATHS_IN_ROW:
            try:
                self.workers.append(_Worker(self, self._context, self._initializer))
            except OSError as exc:  # no process to be had (out of memory): the others go on
                logger.warning("no extraction worker could be started: %s", exc)
        self._dispatch()

    def _fail_pending(self, error: Exception) -> None:
        while self._pending:
            _, _, future = self._pending.popleft()
            if not future.done():
                future.set_exception(error)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Close every worker's pipes and wait for it to exit (killed after ``timeout``)."""
        self.closed = True
        for worker in self.workers:
            worker.close()
        for worker in [*self.workers, *self._dead]:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        for _, _, future in self._pending:
            future.cancel()
        self._pending.clear()
