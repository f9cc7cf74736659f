"""One daemon per SQLite database: a second one would crawl every source twice and race the
first for its alerts. A lock file next to the database, held with ``flock`` for the daemon's
life, is let go by the kernel however the daemon ends (kill -9 included). PostgreSQL is
meant for many workers on one schedule, so it takes no such lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.db import sqlite_file


class DaemonRunning(Exception):
    """Another daemon holds the database, or its lock file cannot be had; one line, exit
    code 1."""


@contextmanager
def only_daemon(database: str) -> Iterator[None]:
    path = sqlite_file(database)
    if path is None:
        yield
        return
    lock = path.with_name(path.name + ".daemon.lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a+")
    except OSError as exc:
        raise DaemonRunning(f"cannot hold the daemon's lock file {lock}: {exc.strerror}") from None
    try:
        _take(handle.fileno(), lock)
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # the lock goes with it


def _take(fd: int, lock: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock.read_text(encoding="utf-8").strip() or "unknown"
        raise DaemonRunning(
            f"an eventwatch daemon is already running on this database (pid {holder}; "
            f"lock file {lock}); stop it first"
        ) from None
